"""Format sniffing: magic numbers, PJL headers, text detection."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfpd.documents.sniff import DocumentFormat, parse_pjl_header, sniff_format
from tests.conftest import requires

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


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", PDF),
        (b"%!PS-Adobe-3.0\n%%Pages: 1\n", PS),
        (b"%!\nshowpage\n", PS),
        (b"\x04%!PS-Adobe-3.0\n", PS),  # Windows drivers' leading ^D
        (b"\xef\xbb\xbf%!PS-Adobe-3.0\n", PS),
        (b"\xc5\xd0\xd3\xc6" + bytes(26), PS),  # DOS EPS binary header
        (b"\x1bE\x1b&l0O text", PCL),
        (b"\x1b*r1A\x1b*b3W\x00\x00\x00", PCL),
        (b") HP-PCL XL;2;0;Comment\n\xd1", PCLXL),
        (b"( HP-PCL XL;2;0;\n", PCLXL),
        (b"RaS2PwgRaster\x00" + bytes(100), PWG),
        (b"UNIRAST\x00\x00\x00\x00\x01" + bytes(32), URF),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG),
        (b"II*\x00\x08\x00\x00\x00", TIFF),
        (b"MM\x00*\x00\x00\x00\x08", TIFF),
        (b"II+\x00\x08\x00\x00\x00" + bytes(8), TIFF),  # BigTIFF
        (b"Hello, world.\r\nSecond line\x0cThird page\n", TEXT),
        ("Grüße aus Köln\n".encode(), TEXT),
        ("Grüße aus Köln\n".encode("latin-1"), TEXT),
        ("日本語".encode()[:-1], TEXT),  # a multi-byte sequence cut by the head
        (b"\x00\x01\x02\x03binary", BINARY),
        (b"", BINARY),
        (bytes(range(0x80, 0x100)), BINARY),  # high bytes only: not UTF-8, not text
        (b"\x1b@\x1bE epson", BINARY),  # ESC/P, not PCL
        (b"RaS3" + bytes(64), BINARY),  # CUPS raster v3 is not PWG raster
    ],
)
def test_magic(head: bytes, expected: str) -> None:
    assert sniff_format(head) == expected


def test_pdf_header_after_junk_within_1024_bytes() -> None:
    assert sniff_format(b"\x00" * 500 + b"%PDF-1.4\n") == PDF
    assert sniff_format(b"\x00" * 2000 + b"%PDF-1.4\n") == BINARY


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (b"PCL", PCL),
        (b"pcl", PCL),
        (b"PCLXL", PCLXL),
        (b"POSTSCRIPT", PS),
        (b"PDF", PDF),
        (b"URF", URF),
    ],
)
def test_pjl_enter_language_decides(language: bytes, expected: str) -> None:
    head = UEL + b'@PJL JOB NAME="x"\r\n@PJL ENTER LANGUAGE=' + language + b"\r\n" + bytes(16)
    assert sniff_format(head) == expected


def test_pjl_enter_language_with_spaces() -> None:
    head = UEL + b"@PJL SET RESOLUTION=600\n@PJL ENTER LANGUAGE = PCLXL\n) HP-PCL XL;1;1\n"
    assert sniff_format(head) == PCLXL


def test_pjl_header_without_enter_language_sniffs_what_follows() -> None:
    assert sniff_format(UEL + b"@PJL JOB\r\n@PJL SET COPIES=2\r\n%PDF-1.5\n") == PDF
    assert sniff_format(UEL + b"@PJL\r\n%!PS-Adobe-3.0\n") == PS
    assert sniff_format(UEL + b"\x1bE\x1b&l1X") == PCL
    assert sniff_format(b"@PJL SET COPIES=2\n" + b"RaS2" + bytes(100)) == PWG


def test_pjl_unknown_language_sniffs_what_follows() -> None:
    assert sniff_format(UEL + b"@PJL ENTER LANGUAGE=ESCPR\n%!PS\n") == PS


def test_parse_pjl_header_positions() -> None:
    head = UEL + b"@PJL ENTER LANGUAGE=PDF\n%PDF-1.4"
    header = parse_pjl_header(head)
    assert header.language is DocumentFormat.PDF
    assert head[header.end :].startswith(b"%PDF-")
    assert parse_pjl_header(b"%PDF-1.4").end == 0


def test_returns_plain_strings() -> None:
    assert type(sniff_format(b"%PDF-1.4")) is str


@given(st.binary(max_size=4096))
def test_any_bytes_give_a_known_type(head: bytes) -> None:
    assert sniff_format(head) in {f.value for f in DocumentFormat}


@given(
    st.sampled_from(
        [
            (b"%PDF-1.", PDF),
            (b"%!PS", PS),
            (b"RaS2", PWG),
            (b"UNIRAST\x00", URF),
            (b"\xff\xd8\xff", JPEG),
            (b"\x89PNG\r\n\x1a\n", PNG),
            (b"MM\x00*", TIFF),
            (b") HP-PCL XL", PCLXL),
        ]
    ),
    st.binary(max_size=512),
    st.booleans(),
)
def test_magic_wins_over_the_rest(magic: tuple[bytes, str], rest: bytes, wrap: bool) -> None:
    prefix, expected = magic
    head = prefix + rest
    if wrap:
        head = UEL + b"@PJL JOB\r\n" + head
    assert sniff_format(head) == expected


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=2000))
def test_printable_text_is_text(text: str) -> None:
    data = text.encode()
    # A head cut mid-character is still text.
    for head in (data, data[: max(1, len(data) - 1)]):
        if head.strip(b" \t\r\n") and not head.startswith((b"%!", b"%PDF-", b"@PJL")):
            assert sniff_format(head) in (TEXT, PDF, PS), head


GS = shutil.which("gs")


@requires(GS is not None, "ghostscript (gs) is not installed")
@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ("pdfwrite", PDF),
        ("ps2write", PS),
        ("pwgraster", PWG),
        ("urf", URF),
        ("ljet4", PCL),
        ("pxlmono", PCLXL),
        ("jpeg", JPEG),
        ("png16m", PNG),
        ("tiffg4", TIFF),
    ],
)
def test_ghostscript_output(tmp_path: Path, device: str, expected: str) -> None:
    source = tmp_path / "in.ps"
    source.write_text(
        "%!PS\n/Helvetica findfont 20 scalefont setfont 72 700 moveto (A) show showpage\n"
    )
    out = tmp_path / "out"
    subprocess.run(
        [str(GS), "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-r36", f"-sDEVICE={device}",
         f"-sOutputFile={out}", str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    assert sniff_format(out.read_bytes()[: 64 * 1024]) == expected
