"""Internet Fax images: documents rendered to TIFF-F for sending, and received TIFFs checked
before anything else reads them.

Sending: TIFF Profile S of RFC 3949 (section 4): 1728 pixels wide, 204x98 or 204x196 dpi,
one bit, Modified Huffman (T.4 1-D, Compression 3), WhiteIsZero. Ghostscript's `tiffg3`
device writes exactly that; every document is fitted to the width (-dFitPage) of a fixed
A4 or Letter page. PDF and PostScript go to Ghostscript as they are; text is typeset as a
small PostScript program; images go through Pillow to a one-image-per-page PDF.

Receiving: the IFD chain is walked from the header alone (TIFF 6.0 section 2), each page's
size, depth and compression checked against the black-and-white profiles (S and F of
RFC 3949: one bit, MH, MR or MMR, at most 4864 pixels wide): a header that claims 100000 x
100000 pixels, a Deflate stream that would inflate to gigabytes (a zip bomb in a TIFF) or a
chain of a million pages is refused before one pixel is decoded.

Blocking (a subprocess, file reads): callers run these in a worker thread.
"""

from __future__ import annotations

import os
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from mfpd.documents.sniff import sniff_format

GHOSTSCRIPT = "gs"
# RFC 3949 4.2.2: Profile S is 1728 pixels on the line at 204 dpi (A4 and Letter alike).
FAX_WIDTH = 1728
X_DPI = 204
Y_DPI = {"fine": 196, "standard": 98}
# The page height in inches the document is fitted to.
PAGE_INCHES = {"a4": 297 / 25.4, "letter": 11.0}
# Profile F (RFC 3949 5) allows B4 and A3 widths and 400 dpi: 4864 pixels is the widest line.
MAX_WIDTH = 4864
# Lines of one page: an A3 page at 400 lines per inch is 6600; more is a bomb or a roll.
MAX_LENGTH = 20_000
# TIFF 6.0 Compression: 1 none, 2 MH (CCITT 1-D), 3 T.4 (MH or MR), 4 T.6 (MMR).
FAX_COMPRESSIONS = frozenset({1, 2, 3, 4})
# Pillow's limit for images to be faxed: a 600 dpi A3 colour scan fits, a bomb does not.
MAX_IMAGE_PIXELS = 80_000_000
# TIFF tags (TIFF 6.0 section 8).
IMAGE_WIDTH, IMAGE_LENGTH, BITS_PER_SAMPLE, COMPRESSION = 256, 257, 258, 259
MAX_IFD_ENTRIES = 1000
TEXT_LINES = 64  # lines per page of a text document
TEXT_POINTS = 10


class FaxError(Exception):
    """A document that cannot be faxed, or a received TIFF that is refused; says why."""


@dataclass(frozen=True)
class FaxImage:
    pages: int
    widths: tuple[int, ...]


# -- sending -------------------------------------------------------------------------------


def render(
    sources: list[Path],
    out: Path,
    *,
    resolution: str,
    paper: str,
    timeout: float,
    software: str = "",
) -> int:
    """Render `sources` into one TIFF-F at `out`; its page count. FaxError for a document
    of a kind the device cannot fax, or Ghostscript's failure. `software`: what the pages'
    Software tag says in place of Ghostscript's name and version (the device's model: a
    fax names the machine that sent it, not the renderer inside)."""
    work = out.parent
    inputs: list[Path] = []
    for number, source in enumerate(sources, 1):
        with source.open("rb") as file:
            head = file.read(64 * 1024)
        kind = sniff_format(head)
        if kind in ("application/pdf", "application/postscript"):
            inputs.append(source)
        elif kind == "text/plain" or (kind == "application/octet-stream" and _texty(head)):
            inputs.append(_text_to_postscript(source, work / f"{out.stem}-{number}.ps", paper))
        elif kind.startswith("image/"):
            inputs.append(_image_to_pdf(source, work / f"{out.stem}-{number}.pdf"))
        else:
            raise FaxError(f"{source.name}: {kind} cannot be sent as a fax")
    height = round(PAGE_INCHES[paper] * Y_DPI[resolution])
    command = [
        GHOSTSCRIPT, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOINTERPOLATE",
        "-sDEVICE=tiffg3", f"-r{X_DPI}x{Y_DPI[resolution]}", f"-g{FAX_WIDTH}x{height}",
        "-dFIXEDMEDIA", "-dFitPage", "-dPDFFitPage", f"-sOutputFile={out}",
        *[str(path) for path in inputs],
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise FaxError("Ghostscript (gs) is not installed: nothing can be faxed") from None
    except subprocess.TimeoutExpired:
        raise FaxError(f"rendering took longer than {timeout:.0f} s") from None
    finally:
        for path in inputs:
            if path.parent == work and path not in sources:
                path.unlink(missing_ok=True)
    if done.returncode != 0 or not out.exists():
        detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        raise FaxError("Ghostscript failed: " + (detail[-1] if detail else f"{done.returncode}"))
    if software:
        _set_software(out, software)
    return check(out, max_pages=100_000).pages


def _set_software(path: Path, text: str) -> None:
    """Each directory's Software tag (305, ASCII: TIFF 6.0 section 8) rewritten in its own
    place, cut or padded with NULs to its length, so nothing else in the file moves."""
    with path.open("r+b") as file:
        header = file.read(8)
        order = {b"II": "<", b"MM": ">"}.get(header[:2])
        if order is None or len(header) < 8:
            return
        (offset,) = struct.unpack_from(order + "I", header, 4)
        seen: set[int] = set()
        while offset and offset not in seen and len(seen) < 100_000:
            seen.add(offset)
            file.seek(offset)
            (count,) = struct.unpack(order + "H", file.read(2))
            raw = file.read(count * 12 + 4)
            if len(raw) < count * 12 + 4:
                return
            for index in range(count):
                tag, kind, number = struct.unpack_from(order + "HHI", raw, index * 12)
                if tag != 305 or kind != 2 or number < 2:
                    continue
                value = text.encode("ascii", "replace")[: number - 1].ljust(number, b"\0")
                if number <= 4:
                    file.seek(offset + 2 + index * 12 + 8)
                else:
                    file.seek(struct.unpack_from(order + "I", raw, index * 12 + 8)[0])
                file.write(value)
            (offset,) = struct.unpack_from(order + "I", raw, count * 12)


def _texty(head: bytes) -> bool:
    return bool(head) and b"\0" not in head


def _ps_string(text: str) -> str:
    """A PostScript string literal (PLRM 3.2.2): parentheses and backslashes escaped, and
    anything beyond printable ASCII as an octal escape of its Latin-1 code."""
    out = []
    for byte in text.encode("latin-1", "replace"):
        char = chr(byte)
        if char in "()\\":
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return "(" + "".join(out) + ")"


def _text_to_postscript(source: Path, target: Path, paper: str) -> Path:
    """Plain text typeset in Courier, TEXT_LINES a page, form feeds starting a new page."""
    width, height = (595, 842) if paper == "a4" else (612, 792)
    lead = TEXT_POINTS * 1.15
    top = height - 48
    program = [
        "%!PS-Adobe-3.0",
        f"<< /PageSize [{width} {height}] >> setpagedevice",
        # Courier re-encoded to ISO Latin-1 (PLRM 5.9.1), so accented letters print.
        "/Courier findfont dup length dict begin { 1 index /FID ne { def } { pop pop } "
        "ifelse } forall /Encoding ISOLatin1Encoding def currentdict end",
        f"/CourierL1 exch definefont pop /CourierL1 findfont {TEXT_POINTS} scalefont setfont",
    ]
    text = source.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
    pages: list[list[str]] = [[]]
    for line in text.split("\n"):
        for index, piece in enumerate(line.split("\f")):
            if index or len(pages[-1]) >= TEXT_LINES:
                pages.append([])
            pages[-1].append(piece.expandtabs(8)[:96])
    while len(pages) > 1 and not any(pages[-1]):
        pages.pop()
    for lines in pages:
        for row, line in enumerate(lines):
            if line:
                program.append(f"42 {top - row * lead:.1f} moveto {_ps_string(line)} show")
        program.append("showpage")
    target.write_text("\n".join(program) + "\n", encoding="ascii")
    return target


def _image_to_pdf(source: Path, target: Path) -> Path:
    """An image (each frame of a multi-page TIFF a page) as a PDF Ghostscript can fit."""
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
        with Image.open(source) as image:
            frames = []
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frame = image.convert("L")
                frames.append(frame)
            frames[0].save(target, "PDF", save_all=True, append_images=frames[1:], resolution=200)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FaxError(f"{source.name}: the image cannot be read: {exc}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return target


# -- receiving -----------------------------------------------------------------------------


def check(path: Path, *, max_pages: int) -> FaxImage:
    """The pages of a received TIFF, each checked for a black-and-white fax profile; FaxError
    saying what is wrong otherwise. Reads the header and directories only."""
    size = os.path.getsize(path)
    with path.open("rb") as file:

        def read(offset: int, count: int) -> bytes:
            if offset < 0 or offset + count > size:
                raise FaxError(f"a directory points past the end of the file (offset {offset})")
            file.seek(offset)
            return file.read(count)

        header = read(0, 8) if size >= 8 else b""
        order = {b"II": "<", b"MM": ">"}.get(header[:2])
        if order is None or struct.unpack_from(order + "H", header, 2)[0] != 42:
            raise FaxError(f"not a TIFF image ({_what(header)})")
        (offset,) = struct.unpack_from(order + "I", header, 4)
        seen: set[int] = set()
        widths: list[int] = []
        while offset:
            if offset in seen:
                raise FaxError("the page directories loop")
            if len(seen) >= max_pages:
                raise FaxError(f"more than {max_pages} pages")
            seen.add(offset)
            (count,) = struct.unpack(order + "H", read(offset, 2))
            if count > MAX_IFD_ENTRIES:
                raise FaxError(f"page {len(seen)}: {count} directory entries")
            raw = read(offset + 2, count * 12 + 4)
            tags = _short_tags(raw, count, order)
            widths.append(_check_page(len(seen), tags))
            (offset,) = struct.unpack_from(order + "I", raw, count * 12)
    if not widths:
        raise FaxError("the TIFF has no page")
    return FaxImage(len(widths), tuple(widths))


def _what(header: bytes) -> str:
    if not header:
        return "an empty file"
    if header.startswith((b"PK\3\4", b"PK\5\6")):
        return "a ZIP archive"  # APPNOTE 4.3.7: the local file header's signature
    if header.startswith(b"\x1f\x8b"):
        return "gzip data"  # RFC 1952 2.3.1
    if header.startswith(b"II+\0") or header.startswith(b"MM\0+"):
        return "a BigTIFF, which no fax profile uses"
    return sniff_format(header)


def _short_tags(raw: bytes, count: int, order: str) -> dict[int, int]:
    """The single-valued SHORT or LONG tags of one directory (TIFF 6.0 section 2: a value
    that fits in four bytes is stored in the entry itself)."""
    tags: dict[int, int] = {}
    for index in range(count):
        tag, kind, number = struct.unpack_from(order + "HHI", raw, index * 12)
        if number != 1:
            continue
        if kind == 3:
            tags[tag] = struct.unpack_from(order + "H", raw, index * 12 + 8)[0]
        elif kind == 4:
            tags[tag] = struct.unpack_from(order + "I", raw, index * 12 + 8)[0]
    return tags


def _check_page(number: int, tags: dict[int, int]) -> int:
    width, length = tags.get(IMAGE_WIDTH, 0), tags.get(IMAGE_LENGTH, 0)
    if not 0 < width <= MAX_WIDTH or not 0 < length <= MAX_LENGTH:
        raise FaxError(
            f"page {number}: {width} x {length} pixels is not a fax page (at most "
            f"{MAX_WIDTH} x {MAX_LENGTH})"
        )
    bits = tags.get(BITS_PER_SAMPLE, 1)
    if bits != 1:
        raise FaxError(f"page {number}: {bits} bits per sample (a black-and-white fax has 1)")
    compression = tags.get(COMPRESSION, 1)
    if compression not in FAX_COMPRESSIONS:
        raise FaxError(
            f"page {number}: compression {compression} is not a fax coding (MH, MR or MMR)"
        )
    return width
