"""Page counting: real documents made by ghostscript, hand-built edge cases from the specs,
damaged and garbage input, and a 200 MB file counted with bounded memory."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.documents import pages as pages_module
from mfpd.documents.pages import PageCount, count_pages
from mfpd.documents.sniff import DocumentFormat
from tests.conftest import missing, need, requires

PDF = "application/pdf"
PS = "application/postscript"
PCL = "application/vnd.hp-pcl"
PCLXL = "application/vnd.hp-pclxl"
PWG = "image/pwg-raster"
URF = "image/urf"
JPEG = "image/jpeg"
PNG = "image/png"
TIFF = "image/tiff"
TEXT = "text/plain"
BINARY = "application/octet-stream"

UEL = b"\x1b%-12345X"
COUNTS = (1, 3, 7)
GS = shutil.which("gs")
needs_gs = requires(
    GS is not None, "ghostscript (gs) is not installed: apt-get install ghostscript"
)


def count_bytes(tmp_path: Path, data: bytes, mime: str | None = None, **kw: int) -> PageCount:
    path = tmp_path / "doc"
    path.write_bytes(data)
    return count_pages(path, mime, **kw)


# --------------------------------------------------------------------------------------------
# Documents made by ghostscript


def ps_source(pages: int, *, blank: int | None = None) -> str:
    """A PostScript program with one showpage per page (no DSC comments)."""
    body = ["%!PS", "/Helvetica findfont 24 scalefont setfont"]
    for number in range(1, pages + 1):
        if number != blank:
            body.append(f"72 700 moveto (Page {number}) show {50 + number} 100 200 150 rectfill")
        body.append("showpage")
    return "\n".join(body) + "\n"


@pytest.fixture(scope="session")
def ghostscript(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Render an n-page test document with a ghostscript device (cached per session)."""
    if GS is None:
        missing("ghostscript (gs) is not installed: apt-get install ghostscript")
    directory = tmp_path_factory.mktemp("gs")
    made: dict[tuple[str, int, tuple[str, ...]], Path] = {}

    def render(device: str, pages: int, *args: str) -> Path:
        key = (device, pages, args)
        if key not in made:
            source = directory / f"{pages}.ps"
            source.write_text(ps_source(pages))
            out = directory / f"{device}-{pages}-{len(made)}.out"
            subprocess.run(
                [str(GS), "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-r50",
                 f"-sDEVICE={device}", *args, f"-sOutputFile={out}", str(source)],
                check=True,
                capture_output=True,
                timeout=120,
            )  # fmt: skip
            made[key] = out
        return made[key]

    return render


GS_EXACT = [
    ("pdfwrite", (), PDF),
    ("pdfwrite", ("-dFastWebView=true",), PDF),  # linearized
    ("ps2write", (), PS),
    ("pwgraster", (), PWG),
    ("pwgraster", ("-dcupsColorSpace=19", "-dcupsBitsPerColor=8"), PWG),  # 24-bit sRGB
    ("pwgraster", ("-dcupsColorSpace=18", "-dcupsBitsPerColor=16"), PWG),  # 16-bit gray
    ("urf", (), URF),
    ("appleraster", ("-dcupsColorSpace=19", "-dcupsBitsPerColor=8"), URF),
    ("tiffg4", (), TIFF),
    ("tiff24nc", (), TIFF),
]


@needs_gs
@pytest.mark.parametrize("pages", COUNTS)
@pytest.mark.parametrize(("device", "args", "mime"), GS_EXACT)
def test_ghostscript_exact(
    ghostscript: Callable[..., Path], device: str, args: tuple[str, ...], mime: str, pages: int
) -> None:
    path = ghostscript(device, pages, *args)
    assert count_pages(path) == PageCount(mime, pages, True)
    assert count_pages(path, mime) == PageCount(mime, pages, True)


@needs_gs
@pytest.mark.parametrize("pages", COUNTS)
@pytest.mark.parametrize(
    ("device", "mime"),
    [
        ("ljet4", PCL),
        ("ljet4d", PCL),  # duplex
        ("laserjet", PCL),
        ("cljet5c", PCL),  # PCL 5c colour
        ("deskjet", PCL),  # rows as chained "ESC *b...w<data>...w<data>" commands
        ("cdj550", PCL),
        ("pcl3", PCL),
        ("pxlmono", PCLXL),
        ("pxlcolor", PCLXL),
        ("lj5gray", PCLXL),
    ],
)
def test_ghostscript_pcl_best_effort(
    ghostscript: Callable[..., Path], device: str, mime: str, pages: int
) -> None:
    assert count_pages(ghostscript(device, pages)) == PageCount(mime, pages, False)


@needs_gs
@pytest.mark.parametrize(("device", "mime"), [("jpeg", JPEG), ("png16m", PNG)])
def test_ghostscript_single_images(
    ghostscript: Callable[..., Path], device: str, mime: str
) -> None:
    assert count_pages(ghostscript(device, 1)) == PageCount(mime, 1, True)


@needs_gs
@pytest.mark.parametrize("device", ["ljet4", "pxlmono", "pwgraster", "urf", "tiffg4", "pdfwrite"])
def test_ghostscript_blank_page_counts(tmp_path: Path, device: str) -> None:
    source = tmp_path / "blank.ps"
    source.write_text(ps_source(3, blank=2))
    out = tmp_path / "out"
    subprocess.run(
        [str(GS), "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-r50", f"-sDEVICE={device}",
         f"-sOutputFile={out}", str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    assert count_pages(out).pages == 3


@needs_gs
def test_ghostscript_encrypted_pdf(ghostscript: Callable[..., Path]) -> None:
    # Encryption covers strings and streams, not the page tree's numbers (ISO 32000-1 §7.6).
    args = ("-sOwnerPassword=owner", "-sUserPassword=user", "-dEncryptionR=3", "-dKeyLength=128")
    assert count_pages(ghostscript("pdfwrite", 7, *args)) == PageCount(PDF, 7, True)


@needs_gs
def test_ghostscript_pdf_agrees_with_pdfinfo(ghostscript: Callable[..., Path]) -> None:
    need("pdfinfo")  # poppler-utils
    pdfinfo = "pdfinfo"
    path = ghostscript("pdfwrite", 7, "-dFastWebView=true")
    info = subprocess.run([pdfinfo, str(path)], check=True, capture_output=True, text=True)
    match = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    assert match is not None
    assert count_pages(path).pages == int(match.group(1)) == 7


@needs_gs
@pytest.mark.parametrize("device", ["pdfwrite", "ps2write", "pxlmono", "ljet4"])
def test_ghostscript_pjl_wrapped(
    tmp_path: Path, ghostscript: Callable[..., Path], device: str
) -> None:
    language = {"pdfwrite": b"PDF", "ps2write": b"POSTSCRIPT", "ljet4": b"PCL", "pxlmono": b""}
    body = ghostscript(device, 3).read_bytes()
    if language[device]:  # pxlmono output already carries its own PJL header
        body = UEL + b"@PJL JOB\r\n@PJL ENTER LANGUAGE=" + language[device] + b"\r\n" + body
    data = body + UEL + b"@PJL EOJ\r\n" + UEL
    assert count_bytes(tmp_path, data).pages == 3


@needs_gs
@pytest.mark.parametrize("device", ["pdfwrite", "pwgraster", "urf", "tiffg4", "ps2write"])
def test_ghostscript_truncated_never_overcounts(
    tmp_path: Path, ghostscript: Callable[..., Path], device: str
) -> None:
    data = ghostscript(device, 7).read_bytes()
    for cut in range(1, len(data), max(1, len(data) // 97)):
        result = count_bytes(tmp_path, data[:cut])
        assert 0 <= result.pages <= 7, cut
        if device != "ps2write":  # the DSC header alone still tells the truth
            assert result.pages >= 1 or result.exact, cut


# --------------------------------------------------------------------------------------------
# PDF built by hand: classic xref, xref streams, object streams, hybrid, updates, damage


@dataclass(frozen=True)
class Obj:
    body: bytes  # the object; a dictionary if it has a stream
    stream: bytes | None = None


def serialize(num: int, obj: Obj) -> bytes:
    if obj.stream is None:
        return b"%d 0 obj\n%s\nendobj\n" % (num, obj.body)
    head = obj.body[:-2] + b" /Length %d >>" % len(obj.stream)
    return b"%d 0 obj\n%s\nstream\r\n%s\nendstream\nendobj\n" % (num, head, obj.stream)


def refs(nums: list[int]) -> bytes:
    return b" ".join(b"%d 0 R" % n for n in nums)


def page_tree(pages: int, *, per_node: int = 4) -> dict[int, Obj]:
    """Catalog 1, page tree root 2, intermediate nodes of `per_node` pages, pages + contents."""
    objs = {1: Obj(b"<< /Type /Catalog /Pages 2 0 R >>")}
    num = 3
    nodes = []
    for start in range(0, pages, per_node):
        node = num
        num += 1
        leaves = []
        for index in range(start, min(pages, start + per_node)):
            page, content = num, num + 1
            num += 2
            objs[page] = Obj(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>"
                % (node, content)
            )
            objs[content] = Obj(b"<< >>", b"BT /F1 24 Tf 72 700 Td (Page %d) Tj ET" % (index + 1))
            leaves.append(page)
        objs[node] = Obj(
            b"<< /Type /Pages /Parent 2 0 R /Kids [%s] /Count %d >>" % (refs(leaves), len(leaves))
        )
        nodes.append(node)
    objs[2] = Obj(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs(nodes), pages))
    return objs


def png_up(rows: list[bytes]) -> bytes:
    """PNG "Up" predictor encoding (ISO 32000-1 §7.4.4.4), as writers use for xref streams."""
    out = bytearray()
    previous = bytes(len(rows[0])) if rows else b""
    for row in rows:
        out.append(2)
        out += bytes((a - b) & 0xFF for a, b in zip(row, previous, strict=True))
        previous = row
    return bytes(out)


def runs(nums: list[int]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for num in nums:
        if result and result[-1][0] + result[-1][1] == num:
            result[-1] = (result[-1][0], result[-1][1] + 1)
        else:
            result.append((num, 1))
    return result


HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


class PdfWriter:
    """Writes PDF files section by section, each section listing the objects added since the
    previous one (so a second section is an incremental update, ISO 32000-1 §7.5.6)."""

    def __init__(self, data: bytes = HEADER) -> None:
        self.out = bytearray(data)
        found = list(re.finditer(rb"startxref\s+(\d+)", data))
        self.prev: int | None = int(found[-1].group(1)) if found else None
        sizes = [int(n) for n in re.findall(rb"/Size (\d+)", data)]
        self.size = max(sizes, default=1)
        self.pending: dict[int, tuple[int, int, int]] = {}

    def add(self, num: int, obj: Obj) -> None:
        self.pending[num] = (1, len(self.out), 0)
        self.out += serialize(num, obj)
        self.size = max(self.size, num + 1)

    def add_compressed(self, stream_num: int, objs: dict[int, Obj]) -> None:
        """An object stream (§7.5.7) holding `objs`."""
        header = bytearray()
        bodies = bytearray()
        for num, obj in objs.items():
            header += b"%d %d " % (num, len(bodies))
            bodies += obj.body + b"\n"
        data = zlib.compress(bytes(header + bodies))
        self.add(
            stream_num,
            Obj(
                b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode >>"
                % (len(objs), len(header)),
                data,
            ),
        )
        for index, num in enumerate(objs):
            self.pending[num] = (2, stream_num, index)
            self.size = max(self.size, num + 1)

    def _trailer(self, extra: bytes = b"") -> bytes:
        prev = b" /Prev %d" % self.prev if self.prev is not None else b""
        return b"/Size %d /Root 1 0 R%s%s" % (self.size, prev, extra)

    def _entries(self, kinds: tuple[int, ...]) -> dict[int, tuple[int, int, int]]:
        entries = {n: e for n, e in self.pending.items() if e[0] in kinds}
        if self.prev is None:
            entries[0] = (0, 0, 65535)
        return dict(sorted(entries.items()))

    def table(self, extra: bytes = b"", *, kinds: tuple[int, ...] = (1,)) -> None:
        at = len(self.out)
        entries = self._entries(kinds)
        self.out += b"xref\n"
        for first, count in runs(list(entries)):
            self.out += b"%d %d\n" % (first, count)
            for num in range(first, first + count):
                kind, offset, gen = entries[num]
                self.out += b"%010d %05d %s\r\n" % (offset, gen, b"n" if kind == 1 else b"f")
        self.out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (self._trailer(extra), at)
        self.prev = at
        self.pending.clear()

    def stream(self, num: int, *, predictor: bool = True, kinds: tuple[int, ...] = (1, 2)) -> int:
        """A cross-reference stream (§7.5.8) with W [1 4 2]; returns its offset."""
        at = len(self.out)
        self.size = max(self.size, num + 1)
        self.pending[num] = (1, at, 0)
        entries = self._entries(kinds)
        rows = [
            bytes([k]) + a.to_bytes(4, "big") + b.to_bytes(2, "big") for k, a, b in entries.values()
        ]
        index = b" ".join(b"%d %d" % run for run in runs(list(entries)))
        params = b" /DecodeParms << /Predictor 12 /Columns 7 >>" if predictor else b""
        data = png_up(rows) if predictor else b"".join(rows)
        body = b"<< /Type /XRef /W [1 4 2] /Index [%s] %s /Filter /FlateDecode%s >>" % (
            index,
            self._trailer(),
            params,
        )
        self.out += serialize(num, Obj(body, zlib.compress(data)))
        self.out += b"startxref\n%d\n%%%%EOF\n" % at
        self.prev = at
        self.pending.clear()
        return at

    def hybrid(self, num: int) -> None:
        """§7.5.8.4: a table for classic readers plus /XRefStm for the compressed objects."""
        compressed = {n: e for n, e in self.pending.items() if e[0] == 2}
        at = len(self.out)
        rows = [
            bytes([k]) + a.to_bytes(4, "big") + b.to_bytes(2, "big")
            for k, a, b in compressed.values()
        ]
        index = b" ".join(b"%d %d" % run for run in runs(sorted(compressed)))
        body = b"<< /Type /XRef /W [1 4 2] /Index [%s] /Size %d /Filter /FlateDecode >>" % (
            index,
            max(self.size, num + 1),
        )
        self.out += serialize(num, Obj(body, zlib.compress(b"".join(rows))))
        self.pending[num] = (1, at, 0)
        self.size = max(self.size, num + 1)
        # Classic readers see the compressed objects as free entries.
        self.table(b" /XRefStm %d" % at, kinds=(1, 2))

    def bytes(self) -> bytes:
        return bytes(self.out)


STYLES = ["table", "stream", "stream-raw", "objstm", "hybrid"]


def build_pdf(pages: int, style: str = "table", *, per_node: int = 4) -> bytes:
    objs = page_tree(pages, per_node=per_node)
    writer = PdfWriter()
    pack = style in ("objstm", "hybrid")
    for num in sorted(objs):
        if not (pack and objs[num].stream is None):
            writer.add(num, objs[num])
    stream_num = max(objs) + 1
    if pack:
        writer.add_compressed(stream_num, {n: o for n, o in objs.items() if o.stream is None})
    if style == "table":
        writer.table()
    elif style == "hybrid":
        writer.hybrid(stream_num + 1)
    else:
        writer.stream(stream_num + 1, predictor=style != "stream-raw")
    return writer.bytes()


def update_pages(data: bytes, style: str, *, keep: int, add: int) -> bytes:
    """An incremental update: the page tree keeps `keep` of the original pages (all in the
    first intermediate node 3) and gains `add` new ones."""
    writer = PdfWriter(data)
    original = [4 + 2 * i for i in range(keep)]  # page_tree(): node 3 holds pages 4, 6, 8, 10
    new_pages = []
    for index in range(add):
        page, content = 500 + 2 * index, 501 + 2 * index
        writer.add(content, Obj(b"<< >>", b"BT (New %d) Tj ET" % index))
        new_pages.append(page)
        writer.add(page, Obj(b"<< /Type /Page /Parent 2 0 R /Contents %d 0 R >>" % content))
    writer.add(
        3,
        Obj(
            b"<< /Type /Pages /Parent 2 0 R /Kids [%s] /Count %d >>" % (refs(original[:keep]), keep)
        ),
    )
    writer.add(
        2, Obj(b"<< /Type /Pages /Kids [3 0 R %s] /Count %d >>" % (refs(new_pages), keep + add))
    )
    if style == "table":
        writer.table()
    else:
        writer.stream(999)
    return writer.bytes()


@pytest.mark.parametrize("pages", (0, *COUNTS, 40))
@pytest.mark.parametrize("style", STYLES)
def test_pdf_cross_reference_styles(tmp_path: Path, style: str, pages: int) -> None:
    assert count_bytes(tmp_path, build_pdf(pages, style)) == PageCount(PDF, pages, True)


@pytest.mark.parametrize("style", ["table", "stream", "objstm"])
def test_pdf_incremental_update_adds_and_removes(tmp_path: Path, style: str) -> None:
    original = build_pdf(3, style)
    grown = update_pages(original, "table" if style == "table" else "stream", keep=3, add=4)
    assert count_bytes(tmp_path, grown) == PageCount(PDF, 7, True)
    shrunk = update_pages(grown, "table", keep=1, add=0)  # mixed: a table update on a stream
    assert count_bytes(tmp_path, shrunk) == PageCount(PDF, 1, True)


def linearized(pages: int) -> bytes:
    """The shape of a linearized file (ISO 32000-1 Annex F): a first-page xref section near
    the start whose trailer's /Prev points at the main section at the end, and a final
    startxref that points back at the first one."""
    objs = page_tree(pages)
    first_page_nums = [1, 2, 3, 4, 5]
    rest = [n for n in sorted(objs) if n not in first_page_nums]
    out = bytearray(HEADER)
    lin_num = max(objs) + 1
    out += serialize(lin_num, Obj(b"<< /Linearized 1 /N %d >>" % pages))
    first_xref_at = len(out)
    placeholder = (
        len(b"xref\n%d %d\n" % (1, 5))
        + 20 * 5
        + len(b"trailer\n<< /Size %d /Root 1 0 R /Prev %010d >>\n" % (lin_num + 1, 0))
    )
    out += b" " * placeholder
    offsets = {}
    for num in first_page_nums + rest:
        offsets[num] = len(out)
        out += serialize(num, objs[num])
    main_at = len(out)
    out += b"xref\n0 1\n0000000000 65535 f\r\n"
    for first, count in runs([*rest, lin_num]):
        out += b"%d %d\n" % (first, count)
        for num in range(first, first + count):
            offset = offsets[num] if num != lin_num else len(HEADER)
            out += b"%010d 00000 n\r\n" % offset
    out += b"trailer\n<< /Size %d >>\nstartxref\n0\n%%%%EOF\n" % (lin_num + 1)
    section = b"xref\n1 5\n" + b"".join(b"%010d 00000 n\r\n" % offsets[n] for n in first_page_nums)
    section += b"trailer\n<< /Size %d /Root 1 0 R /Prev %010d >>\n" % (lin_num + 1, main_at)
    assert len(section) == placeholder
    out[first_xref_at : first_xref_at + placeholder] = section
    out += b"startxref\n%d\n%%%%EOF\n" % first_xref_at
    return bytes(out)


@pytest.mark.parametrize("pages", COUNTS)
def test_pdf_linearized_layout(tmp_path: Path, pages: int) -> None:
    assert count_bytes(tmp_path, linearized(pages)) == PageCount(PDF, pages, True)


def test_pdf_indirect_count_and_comments(tmp_path: Path) -> None:
    objs = page_tree(3)
    objs[2] = Obj(b"<< /Type /Pages % the root\n /Kids [3 0 R] /Count 77 0 R >>")
    objs[77] = Obj(b"3")
    writer = PdfWriter()
    for num in sorted(objs):
        writer.add(num, objs[num])
    writer.table()
    assert count_bytes(tmp_path, writer.bytes()) == PageCount(PDF, 3, True)


def test_pdf_wrapped_in_pjl_with_relative_offsets(tmp_path: Path) -> None:
    data = UEL + b"@PJL JOB\r\n@PJL ENTER LANGUAGE=PDF\r\n" + build_pdf(7, "objstm") + UEL
    assert count_bytes(tmp_path, data) == PageCount(PDF, 7, True)
    assert count_bytes(tmp_path, data, PDF) == PageCount(PDF, 7, True)


@pytest.mark.parametrize("style", STYLES)
def test_pdf_broken_startxref_repairs_by_scanning(tmp_path: Path, style: str) -> None:
    data = build_pdf(7, style)
    broken = re.sub(rb"startxref\s+\d+", b"startxref\n12", data)
    assert count_bytes(tmp_path, broken) == PageCount(PDF, 7, False)


def test_pdf_repair_follows_the_latest_update(tmp_path: Path) -> None:
    data = update_pages(build_pdf(3), "table", keep=1, add=1)
    broken = data.replace(b"startxref", b"startxerf")
    assert count_bytes(tmp_path, broken) == PageCount(PDF, 2, False)


def test_pdf_without_catalog_counts_page_objects(tmp_path: Path) -> None:
    data = build_pdf(7, "objstm").replace(b"/Type /Catalog", b"/Type /Catalo_")
    data = data.replace(b"startxref", b"startxerf")
    assert count_bytes(tmp_path, data) == PageCount(PDF, 7, False)
    head_only = build_pdf(7)[:-400].replace(b"/Type /Catalog", b"/Type /Katalog")
    assert count_bytes(tmp_path, head_only) == PageCount(PDF, 7, False)


def test_pdf_garbage_is_one_page_estimate(tmp_path: Path) -> None:
    assert count_bytes(tmp_path, b"%PDF-1.4\ngarbage") == PageCount(PDF, 1, False)
    assert count_bytes(tmp_path, b"not a pdf at all", PDF) == PageCount(PDF, 1, False)


def test_pdf_implausible_count_is_not_trusted(tmp_path: Path) -> None:
    data = build_pdf(3).replace(b"/Count 3 >>", b"/Count 999999999999 >>")
    result = count_bytes(tmp_path, data)
    assert result == PageCount(PDF, 3, False)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    style=st.sampled_from(STYLES),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), max_size=6),
)
def test_pdf_mutations_never_raise(
    tmp_path: Path, style: str, edits: list[tuple[int, bytes]]
) -> None:
    data = bytearray(build_pdf(5, style))
    for where, replacement in edits:
        where = len(HEADER) + where % (len(data) - len(HEADER))
        data[where : where + len(replacement)] = replacement
    result = count_bytes(tmp_path, bytes(data))
    assert result.format == PDF
    assert result.pages >= 0


# --------------------------------------------------------------------------------------------
# PostScript DSC


def test_ps_pages_header(tmp_path: Path) -> None:
    data = b"%!PS-Adobe-3.0\n%%Pages: 4\n%%EndComments\n%%Page: 1 1\nshowpage\n%%EOF\n"
    assert count_bytes(tmp_path, data) == PageCount(PS, 4, True)


def test_ps_pages_atend_uses_trailer(tmp_path: Path) -> None:
    data = (
        b"%!PS-Adobe-3.0\r\n%%Pages: (atend)\r\n%%EndComments\r\n"
        + b"".join(b"%%%%Page: %d %d\r\nshowpage\r\n" % (i, i) for i in range(1, 6))
        + b"%%Trailer\r\n%%Pages: 5\r\n%%EOF\r\n"
    )
    assert count_bytes(tmp_path, data) == PageCount(PS, 5, True)


def test_ps_embedded_eps_comments_are_ignored(tmp_path: Path) -> None:
    eps = (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%Pages: 9\n%%EndComments\n"
        b"%%Page: 1 1\nshowpage\n%%Trailer\n%%Pages: 9\n"
    )
    data = (
        b"%!PS-Adobe-3.0\n%%Pages: (atend)\n%%EndComments\n%%Page: 1 1\n"
        + b"%%BeginDocument: fig.eps\n"
        + eps
        + b"%%EndDocument\nshowpage\n%%Page: 2 2\nshowpage\n%%Trailer\n%%Pages: 2\n%%EOF\n"
    )
    assert count_bytes(tmp_path, data) == PageCount(PS, 2, True)


def test_ps_page_comments_without_pages(tmp_path: Path) -> None:
    data = b"%!PS-Adobe-3.0\n" + b"%%Page: x 1\n%%PageBoundingBox: 0 0 1 1\nshowpage\n" * 3
    assert count_bytes(tmp_path, data) == PageCount(PS, 3, False)


def test_ps_showpage_fallback(tmp_path: Path) -> None:
    data = ps_source(6).encode() + b"/showpage {} def /xshowpage 1 def (showpage) pop\n"
    assert count_bytes(tmp_path, data) == PageCount(PS, 6, False)
    assert count_bytes(tmp_path, b"%!\n1 1 add pop\n") == PageCount(PS, 1, False)


def test_ps_pages_zero_is_exact(tmp_path: Path) -> None:
    assert count_bytes(tmp_path, b"%!PS-Adobe-3.0\n%%Pages: 0\n") == PageCount(PS, 0, True)


@needs_gs
@pytest.mark.parametrize("pages", COUNTS)
def test_ps_showpage_counts_match_ghostscript(tmp_path: Path, pages: int) -> None:
    source = tmp_path / "in.ps"
    source.write_text(ps_source(pages))
    result = subprocess.run(
        [
            str(GS),
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sDEVICE=bbox",
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stderr.count("%%BoundingBox") == pages
    assert count_pages(source) == PageCount(PS, pages, False)


# --------------------------------------------------------------------------------------------
# PCL 5 and PCL XL


def test_pcl_form_feeds_and_reset(tmp_path: Path) -> None:
    data = b"\x1bE\x1b&l0O" + b"Hello\r\n\x0cWorld\r\n\x0c" + b"\x1bE"
    assert count_bytes(tmp_path, data) == PageCount(PCL, 2, False)
    assert count_bytes(tmp_path, b"\x1bEone\x0ctwo\x0cthree") == PageCount(PCL, 3, False)


def test_pcl_binary_payloads_are_skipped(tmp_path: Path) -> None:
    row = b"\x0c" * 40 + b"\x1bE"  # form feeds and resets inside raster data are pixels
    data = b"\x1bE\x1b*r1A" + (b"\x1b*b%dW" % len(row) + row) * 5 + b"\x1b*rB\x0c\x1bE"
    font = b"\x1b)s12W" + b"\x0c" * 12
    assert count_bytes(tmp_path, data + font, PCL) == PageCount(PCL, 1, False)


def test_pcl_chained_data_commands(tmp_path: Path) -> None:
    rows = b"".join(b"%dw" % len(row) + row for row in (b"\x0c\x1bE", b"\x0c" * 7, b"\x1b&l0H"))
    page = b"\x1b*r1A\x1b*b2m" + rows + b"0W\x1b*rC\x0c"
    assert count_bytes(tmp_path, b"\x1bE" + page * 4 + b"\x1bE", PCL) == PageCount(PCL, 4, False)


def test_pcl_page_eject_commands(tmp_path: Path) -> None:
    data = b"\x1bEpage one\x1b&l0Hpage two\x1b&l26a0o0Hpage three\x1b&l0H\x1b&l0H\x1bE"
    assert count_bytes(tmp_path, data, PCL) == PageCount(PCL, 3, False)


def test_pcl_marked_page_without_form_feed_counts(tmp_path: Path) -> None:
    data = UEL + b"@PJL ENTER LANGUAGE=PCL\r\n\x1bE\x1b*c100a100b0P" + UEL + b"@PJL EOJ\r\n" + UEL
    assert count_bytes(tmp_path, data) == PageCount(PCL, 1, False)


def test_pcl_hpgl_section(tmp_path: Path) -> None:
    data = b"\x1bE\x1b%0BIN;SP1;PA10,10;PD100,100;LB\x0clabel\x03;\x1b%0A\x0c\x1bE"
    assert count_bytes(tmp_path, data) == PageCount(PCL, 1, False)


def test_pcl_nothing_printable_is_still_one_page(tmp_path: Path) -> None:
    assert count_bytes(tmp_path, b"\x1bE\x1b&l0O\x1bE") == PageCount(PCL, 1, False)


def pclxl(pages: int, binding: bytes = b")") -> bytes:
    """A PCL XL stream (Protocol Class 2.0) whose pages carry bytes that look like EndPage."""
    order = "<" if binding == b")" else ">"
    out = bytearray(UEL + b"@PJL ENTER LANGUAGE = PCLXL\r\n" + binding + b" HP-PCL XL;2;0;test\n")
    out += b"\xd1" + struct.pack(order + "HH", 600, 600) + b"\xf8\x89"  # UnitsPerMeasure
    out += b"\xc0\x00\xf8\x86\x41"  # Measure, BeginSession
    for _ in range(pages):
        out += b"\xc0\x01\xf8\x28\x43"  # Orientation, BeginPage
        payload = b"\x44" * 300
        out += b"\xfa" + struct.pack(order + "I", len(payload)) + payload  # embedded data
        out += b"\xfb\x05DDDDD"  # short embedded data
        out += b"\xc8\xc1" + struct.pack(order + "H", 4) + b"DDDD\xf8\x99"  # ubyte array
        out += b"\xc9\xc0\x02" + b"\x44\x44\x44\x44\xf8\x9a"  # uint16 array
        out += b"\xe1" + b"\x44" * 8 + b"\xf8\x42"  # uint16 box
        out += b"\x44"  # EndPage
    out += b"\x42" + UEL + b"@PJL EOJ\r\n" + UEL
    return bytes(out)


@pytest.mark.parametrize("binding", [b")", b"("])
@pytest.mark.parametrize("pages", COUNTS)
def test_pclxl_end_page_operators(tmp_path: Path, pages: int, binding: bytes) -> None:
    assert count_bytes(tmp_path, pclxl(pages, binding)) == PageCount(PCLXL, pages, False)


def test_pclxl_two_sessions_in_one_job(tmp_path: Path) -> None:
    data = pclxl(2) + pclxl(3)
    assert count_bytes(tmp_path, data) == PageCount(PCLXL, 5, False)


def test_pclxl_truncated_counts_begun_page(tmp_path: Path) -> None:
    data = pclxl(1)
    cut = data[: data.index(b"\xf8\x28\x43") + 3]
    assert count_bytes(tmp_path, cut) == PageCount(PCLXL, 1, False)


# --------------------------------------------------------------------------------------------
# Raster: PWG 5102.4 and Apple URF, encoded here from the spec


def pack_row(row: bytes, unit: int, *, white_tail: bool = False) -> bytes:
    """PackBits-style row coding: n<128 = pixel repeated n+1 times, n>128 = 257-n literal
    pixels, 128 = the rest of the row is white."""
    pixels = [row[i : i + unit] for i in range(0, len(row), unit)]
    out = bytearray()
    i = 0
    while i < len(pixels):
        if white_tail and i and all(p == pixels[-1] for p in pixels[i:]):
            out.append(128)
            break
        j = i + 1
        while j < len(pixels) and j - i < 128 and pixels[j] == pixels[i]:
            j += 1
        if j - i >= 2:
            out.append(j - i - 1)
            out += pixels[i]
            i = j
            continue
        j = i + 1
        while (
            j < len(pixels)
            and j - i < 128
            and not (j + 1 < len(pixels) and pixels[j] == pixels[j + 1])
        ):
            j += 1
        if j - i == 1:
            out.append(0)
        else:
            out.append(257 - (j - i))
        out += b"".join(pixels[i:j])
        i = j
    return bytes(out)


def pack_page(rows: list[bytes], unit: int, *, white_tail: bool = False) -> bytes:
    out = bytearray()
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and j - i < 256 and rows[j] == rows[i]:
            j += 1
        out.append(j - i - 1)  # line repeat count - 1
        out += pack_row(rows[i], unit, white_tail=white_tail)
        i = j
    return bytes(out)


def pwg_header(width: int, height: int, bits_per_pixel: int, bytes_per_line: int) -> bytes:
    """A PWG 5102.4 page header: 1796 bytes, big-endian fields at the spec's offsets."""
    header = bytearray(1796)
    header[0:10] = b"PwgRaster\x00"
    struct.pack_into(">II", header, 276, 300, 300)  # HWResolution
    bits_per_color = 16 if bits_per_pixel in (16, 48) else 8 if bits_per_pixel >= 8 else 1
    struct.pack_into(
        ">7I", header, 372, width, height, 0, bits_per_color, bits_per_pixel, bytes_per_line, 0
    )
    struct.pack_into(">I", header, 400, 19 if bits_per_pixel in (24, 48) else 18)  # sRGB / sGray
    struct.pack_into(">I", header, 420, 3 if bits_per_pixel in (24, 48) else 1)  # NumColors
    return bytes(header)


@dataclass(frozen=True)
class RasterPage:
    width: int
    height: int
    bits: int  # bits per pixel
    rows: list[bytes]

    @property
    def unit(self) -> int:
        return max(1, self.bits // 8)

    @property
    def line_bytes(self) -> int:
        return (self.width * self.bits + 7) // 8


def pwg(pages: list[RasterPage], *, white_tail: bool = False) -> bytes:
    out = bytearray(b"RaS2")
    for page in pages:
        out += pwg_header(page.width, page.height, page.bits, page.line_bytes)
        out += pack_page(page.rows, page.unit, white_tail=white_tail)
    return bytes(out)


def urf(pages: list[RasterPage], declared: int | None = None) -> bytes:
    count = len(pages) if declared is None else declared
    out = bytearray(b"UNIRAST\x00" + struct.pack(">I", count))
    for page in pages:
        out += bytes([page.bits, 1 if page.bits >= 24 else 0, 1, 4]) + bytes(8)
        out += struct.pack(">III", page.width, page.height, 300) + bytes(8)
        out += pack_page(page.rows, page.unit)
    return bytes(out)


@st.composite
def raster_pages(draw: st.DrawFn) -> RasterPage:
    bits = draw(st.sampled_from([1, 8, 16, 24, 32, 48]))
    width = draw(st.integers(1, 300))
    height = draw(st.integers(1, 300))
    line_bytes = (width * bits + 7) // 8
    palette = draw(
        st.lists(st.binary(min_size=line_bytes, max_size=line_bytes), min_size=1, max_size=3)
    )
    # Rows come from a small palette so that row repeats and pixel runs both occur.
    picks = draw(st.lists(st.integers(0, len(palette) - 1), min_size=height, max_size=height))
    return RasterPage(width, height, bits, [palette[p] for p in picks])


def sample_page(width: int = 200, height: int = 150, bits: int = 24) -> RasterPage:
    line = (width * bits + 7) // 8
    rows = []
    for y in range(height):
        if y % 50 < 20:
            rows.append(b"\xff" * line)  # white band: one repeat run
        else:
            rows.append(bytes((x * 7 + y) & 0xFF for x in range(line)))  # literal runs
    return RasterPage(width, height, bits, rows)


@pytest.mark.parametrize("pages", (0, *COUNTS))
def test_pwg_hand_made(tmp_path: Path, pages: int) -> None:
    pages_list = [sample_page(bits=b) for b in (24, 8, 1, 48, 24, 8, 16)][:pages]
    assert count_bytes(tmp_path, pwg(pages_list)) == PageCount(PWG, pages, True)
    assert count_bytes(tmp_path, pwg(pages_list, white_tail=True)).pages == pages


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(raster_pages(), max_size=4), st.booleans())
def test_pwg_round_trip(tmp_path: Path, pages: list[RasterPage], white_tail: bool) -> None:
    data = pwg(pages, white_tail=white_tail)
    assert count_bytes(tmp_path, data) == PageCount(PWG, len(pages), True)


def test_pwg_truncated_and_trailing_garbage(tmp_path: Path) -> None:
    data = pwg([sample_page(), sample_page()])
    assert count_bytes(tmp_path, data[:-10]) == PageCount(PWG, 2, False)
    assert count_bytes(tmp_path, data + b"junk") == PageCount(PWG, 2, False)
    assert count_bytes(tmp_path, data + bytes(1796)) == PageCount(PWG, 2, False)
    assert count_bytes(tmp_path, b"RaS2") == PageCount(PWG, 0, True)


@pytest.mark.parametrize("pages", COUNTS)
def test_urf_declared_count(tmp_path: Path, pages: int) -> None:
    data = urf([sample_page()] * pages)
    assert count_bytes(tmp_path, data) == PageCount(URF, pages, True)


@pytest.mark.parametrize("declared", [0, 1000, 2**32 - 1])
@pytest.mark.parametrize("pages", COUNTS)
def test_urf_walks_when_count_is_unknown_or_implausible(
    tmp_path: Path, pages: int, declared: int
) -> None:
    data = urf([sample_page(bits=b) for b in (24, 8, 32, 48, 64, 24, 8)][:pages], declared)
    assert count_bytes(tmp_path, data) == PageCount(URF, pages, True)


def test_urf_truncated_falls_back_to_the_declared_count(tmp_path: Path) -> None:
    data = urf([sample_page()] * 3)
    cut = data[: len(data) * 2 // 3]  # inside the second page
    assert count_bytes(tmp_path, cut) == PageCount(URF, 3, False)
    streamed = urf([sample_page()] * 3, declared=0)
    assert count_bytes(tmp_path, streamed[: len(data) * 2 // 3]) == PageCount(URF, 2, False)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(raster_pages(), max_size=4))
def test_urf_walk_round_trip(tmp_path: Path, pages: list[RasterPage]) -> None:
    data = urf(pages, declared=0)
    assert count_bytes(tmp_path, data) == PageCount(URF, len(pages), True)


# --------------------------------------------------------------------------------------------
# TIFF, JPEG, PNG


def tiff(ifds: int, *, endian: str = "<", big: bool = False, loop: bool = False) -> bytes:
    """A TIFF whose IFD chain has `ifds` one-entry directories (TIFF 6.0 §2; BigTIFF)."""
    mark = b"II" if endian == "<" else b"MM"
    if big:
        out = bytearray(mark + struct.pack(endian + "HHHQ", 43, 8, 0, 16))
        size, first = 8 + 20 + 8, 16
    else:
        out = bytearray(mark + struct.pack(endian + "HI", 42, 8))
        size, first = 2 + 12 + 4, 8
    for index in range(ifds):
        following = first + (index + 1) * size if index + 1 < ifds else (first if loop else 0)
        if big:
            out += struct.pack(endian + "QHHQQ", 1, 256, 3, 1, 100) + struct.pack(
                endian + "Q", following
            )
        else:
            out += struct.pack(endian + "HHHII", 1, 256, 3, 1, 100) + struct.pack(
                endian + "I", following
            )
    return bytes(out)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("pages", COUNTS)
def test_tiff_ifd_chain(tmp_path: Path, pages: int, endian: str, big: bool) -> None:
    assert count_bytes(tmp_path, tiff(pages, endian=endian, big=big)) == PageCount(
        TIFF, pages, True
    )


def test_tiff_loop_and_dangling_offset(tmp_path: Path) -> None:
    assert count_bytes(tmp_path, tiff(3, loop=True)) == PageCount(TIFF, 3, False)
    dangling = tiff(2)[:-4] + struct.pack("<I", 10**6)
    assert count_bytes(tmp_path, dangling) == PageCount(TIFF, 2, False)
    cut = tiff(3)[:-10]  # the third directory is cut off
    assert count_bytes(tmp_path, cut) == PageCount(TIFF, 2, False)


def test_single_images(tmp_path: Path) -> None:
    assert count_bytes(tmp_path, b"\xff\xd8\xff\xe0" + bytes(100)) == PageCount(JPEG, 1, True)
    assert count_bytes(tmp_path, b"\x89PNG\r\n\x1a\n" + bytes(100)) == PageCount(PNG, 1, True)


# --------------------------------------------------------------------------------------------
# Plain text


@pytest.mark.parametrize(
    ("text", "lines_per_page", "expected"),
    [
        (b"one line", 60, 1),
        (b"x\n" * 60, 60, 1),
        (b"x\n" * 61, 60, 2),
        (b"x\r\n" * 120, 60, 2),  # CRLF is one line end
        (b"x\n" * 25, 10, 3),
        (b"a\x0cb", 60, 2),
        (b"a\n\x0c", 60, 1),  # a final form feed does not add a page
        (b"a\n\x0c\n\n", 60, 1),  # nor do blank lines after it
        (b"a\x0c\x0cb", 60, 3),  # two form feeds in a row: a blank page between
        (b"x\n" * 70 + b"\x0c" + b"y\n" * 5, 60, 3),
        (b"\n\n", 60, 1),
        (b"\x0c", 60, 1),
    ],
)
def test_text(tmp_path: Path, text: bytes, lines_per_page: int, expected: int) -> None:
    result = count_bytes(tmp_path, text, TEXT, lines_per_page=lines_per_page)
    assert result == PageCount(TEXT, expected, True)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(1, 500), min_size=1, max_size=6), st.integers(1, 100))
def test_text_pages_property(tmp_path: Path, pages_lines: list[int], lines_per_page: int) -> None:
    # Pages separated by form feeds, each with `n` non-empty lines.
    text = b"\x0c".join(b"line\n" * n for n in pages_lines)
    expected = sum(-(-n // lines_per_page) for n in pages_lines)
    result = count_bytes(tmp_path, text, TEXT, lines_per_page=lines_per_page)
    assert result == PageCount(TEXT, expected, True)


def test_text_sniffed_and_big_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_module, "_CHUNK", 7)  # form feeds and newlines across chunks
    text = (b"word " * 3 + b"\r\n") * 130 + b"\x0c" + b"tail\n"
    assert count_bytes(tmp_path, text) == PageCount(TEXT, 4, True)


# --------------------------------------------------------------------------------------------
# Dispatch, empty files, garbage


def test_empty_file_is_zero_pages_for_every_type(tmp_path: Path) -> None:
    for mime in (None, *(f.value for f in DocumentFormat)):
        result = count_bytes(tmp_path, b"", mime)
        assert result.pages == 0 and result.exact, mime


def test_unknown_binary_is_one_page(tmp_path: Path) -> None:
    assert count_bytes(tmp_path, b"\x00\x01\x02garbage") == PageCount(BINARY, 1, False)


def test_mime_handling(tmp_path: Path) -> None:
    data = build_pdf(3)
    assert count_bytes(tmp_path, data, "application/octet-stream").format == PDF
    assert count_bytes(tmp_path, data, "Application/PDF; version=1.7") == PageCount(PDF, 3, True)
    assert count_bytes(tmp_path, data, "application/x-pdf").format == PDF
    # A type without a counter is sniffed: what counts is what the bytes are.
    assert count_bytes(tmp_path, b"x\n" * 61, "text/html") == PageCount(TEXT, 2, True)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        count_pages(tmp_path / "nope")


PREFIXES = [
    b"",
    b"%PDF-1.5\n",
    b"%!PS-Adobe-3.0\n%%Pages: ",
    b"RaS2",
    b"RaS2" + pwg_header(10, 5, 8, 10),
    b"UNIRAST\x00\x00\x00\x00\x00",
    b"II*\x00",
    b"MM\x00+\x00\x08\x00\x00",
    b") HP-PCL XL;2;0;\n",
    UEL + b"@PJL ENTER LANGUAGE=PCL\n\x1b*b",
    b"\xff\xd8\xff",
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("garbage")


@settings(max_examples=400, deadline=None)
@given(
    prefix=st.sampled_from(PREFIXES),
    data=st.binary(max_size=3000),
    mime=st.sampled_from([None, "application/octet-stream", *(f.value for f in DocumentFormat)]),
)
def test_garbage_never_raises(scratch: Path, prefix: bytes, data: bytes, mime: str | None) -> None:
    path = scratch / "garbage"
    path.write_bytes(prefix + data)
    result = count_pages(path, mime)
    assert result.pages >= 0
    assert result.pages >= 1 or result.exact


def test_scan_matches_whole_buffer_search(monkeypatch: pytest.MonkeyPatch) -> None:
    pattern = pages_module._PDF_SCAN
    document = build_pdf(9, "objstm") + update_pages(build_pdf(2), "table", keep=1, add=2)
    expected = [(m.start(), m.group()) for m in pattern.finditer(document)]
    for chunk in (300, 301, 997, 4096):
        monkeypatch.setattr(pages_module, "_CHUNK", chunk)
        found = [
            (at, m.group()) for at, m in pages_module._scan(io.BytesIO(document), 0, pattern, 256)
        ]
        assert found == expected, chunk


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(
            [b"%%Pages: 3\n", b"showpage ", b"%%Page: 1 1\n", b"x", b"\n", b"12 0 obj", b"/Type"]
        ),
        max_size=80,
    ),
    st.integers(70, 700),
    st.sampled_from([pages_module._PS_SCAN, pages_module._PDF_SCAN]),
)
def test_scan_property(
    monkeypatch: pytest.MonkeyPatch, parts: list[bytes], chunk: int, pattern: re.Pattern[bytes]
) -> None:
    document = b"".join(parts)
    expected = [(m.start(), m.group()) for m in pattern.finditer(document)]
    monkeypatch.setattr(pages_module, "_CHUNK", chunk)
    scanned = pages_module._scan(io.BytesIO(document), 0, pattern, 256, 40)
    found = []
    for at, match in scanned:
        # The context kept in front of each window lets callers look 40 bytes back.
        behind = match.string[max(0, match.start() - 40) : match.start()]
        assert document[max(0, at - 40) : at].endswith(behind)
        assert len(behind) == min(40, at)
        found.append((at, match.group()))
    assert found == expected


@pytest.mark.parametrize("chunk", [64, 97, 1000])
def test_counts_do_not_depend_on_chunk_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    broken = build_pdf(7, "objstm").replace(b"startxref", b"startxerf")
    atend = b"%!PS-Adobe-3.0\n%%Pages: (atend)\n" + b"%%Page: 1 1\nshowpage\n" * 9
    atend += b"%%Trailer\n%%Pages: 9\n"
    monkeypatch.setattr(pages_module, "_CHUNK", chunk)
    assert count_bytes(tmp_path, broken) == PageCount(PDF, 7, False)
    assert count_bytes(tmp_path, atend) == PageCount(PS, 9, True)
    assert count_bytes(tmp_path, pwg([sample_page(bits=8)] * 3)) == PageCount(PWG, 3, True)
    assert count_bytes(tmp_path, pclxl(3)) == PageCount(PCLXL, 3, False)
    rows = b"".join(b"%dw" % len(r) + r for r in (b"\x0c" * 90, b"\x1bE" * 50))
    pcl = b"\x1bE" + (b"\x1b*r1A\x1b*b2m" + rows + b"0W\x1b*rC\x0c") * 5 + b"\x1bE"
    assert count_bytes(tmp_path, pcl) == PageCount(PCL, 5, False)


# --------------------------------------------------------------------------------------------
# Big files: bounded memory


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@dataclass
class Usage:
    seconds: float
    peak_growth_mib: float


def run_measured(action: Callable[[], PageCount]) -> tuple[PageCount, Usage]:
    """Run `action`; return its result, time, and peak RSS growth (VmHWM after resetting it)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (proc(5))
    except OSError:
        missing("cannot reset the peak RSS through /proc/self/clear_refs")
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM")
    return result, Usage(seconds, (peak - before) / 1024)


BIG = 200 * 1024 * 1024


@pytest.fixture(scope="module")
def big_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200 MB PDF: 3 pages sharing one huge content stream, mostly a sparse hole."""
    path = tmp_path_factory.mktemp("big") / "big.pdf"
    offsets = {}
    with path.open("wb") as out:
        out.write(HEADER)
        offsets[6] = out.tell()
        out.write(b"6 0 obj\n<< /Length %d >>\nstream\n" % BIG)
        data_at = out.tell()
        for at in range(0, BIG, 4 * 1024 * 1024):  # some content between the holes
            out.seek(data_at + at)
            out.write(b"BT /F1 12 Tf 72 700 Td (Page 12 0 R) Tj ET\n" * 100)
        out.seek(data_at + BIG)
        out.write(b"\nendstream\nendobj\n")
        objs = {
            1: Obj(b"<< /Type /Catalog /Pages 2 0 R >>"),
            2: Obj(b"<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >>"),
            3: Obj(b"<< /Type /Page /Parent 2 0 R /Contents 6 0 R >>"),
            4: Obj(b"<< /Type /Page /Parent 2 0 R /Contents 6 0 R >>"),
            5: Obj(b"<< /Type /Page /Parent 2 0 R /Contents 6 0 R >>"),
        }
        for num, obj in objs.items():
            offsets[num] = out.tell()
            out.write(serialize(num, obj))
        xref_at = out.tell()
        out.write(b"xref\n0 7\n0000000000 65535 f\r\n")
        for num in range(1, 7):
            out.write(b"%010d 00000 n\r\n" % offsets[num])
        out.write(b"trailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at)
    return path


def test_big_pdf_through_xref(big_pdf: Path) -> None:
    result, usage = run_measured(lambda: count_pages(big_pdf))
    assert result == PageCount(PDF, 3, True)
    assert usage.seconds < 5
    assert usage.peak_growth_mib < 64


def test_big_pdf_repair_scan(big_pdf: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    shutil.copyfile(big_pdf, broken)
    with broken.open("r+b") as file:
        file.seek(-40, 2)
        tail = file.read()
        file.seek(-40, 2)
        file.write(tail.replace(b"startxref", b"startxerf"))
    result, usage = run_measured(lambda: count_pages(broken))
    assert result == PageCount(PDF, 3, False)
    assert usage.seconds < 60
    assert usage.peak_growth_mib < 64


def test_big_pwg_raster(tmp_path: Path) -> None:
    """~200 MB of PWG raster (8 letter pages at 300 dpi, 24-bit, incompressible rows)."""
    width, height = 2550, 3300
    line = width * 3
    row_count = 0
    path = tmp_path / "big.pwg"
    with path.open("wb") as out:
        out.write(b"RaS2")
        page = bytearray()
        for y in range(height):
            # Literal runs of 128 pixels: every row differs, so nothing collapses.
            row = bytearray([0])
            for start in range(0, width, 128):
                count = min(128, width - start)
                row.append(257 - count if count > 1 else 0)
                row += bytes(((start + y) & 0xFF,)) * (count * 3)
            page += row
            row_count += 1
        for _ in range(8):
            out.write(pwg_header(width, height, 24, line))
            out.write(page)
        del page
    assert path.stat().st_size > 190 * 1024 * 1024
    result, usage = run_measured(lambda: count_pages(path))
    assert result == PageCount(PWG, 8, True)
    assert usage.seconds < 60
    assert usage.peak_growth_mib < 64
