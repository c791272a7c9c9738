"""Originals from files: PDF and PostScript through Ghostscript, PNG, JPEG and TIFF through
Pillow, each placed at the glass's top-left corner at its physical size and cut to the region;
and the files the scanner must refuse (decompression bombs, fake PDFs, damaged images)."""

from __future__ import annotations

import io
import shutil
import struct
import tempfile
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mfpd.device.scan_settings import ColorMode, Region, ScanSettings
from mfpd.device.scanner import Original
from mfpd.documents import scan_render
from mfpd.documents.scan_pipeline import (
    ChartLabel,
    OriginalError,
    is_blank,
    original_pages,
    scan_side,
)
from mfpd.documents.scan_render import MAX_PIXELS
from tests.conftest import requires
from tests.documents import pdf_from_objects

GS = shutil.which("gs")
needs_gs = requires(
    GS is not None, "ghostscript (gs) is not installed: apt-get install ghostscript"
)
LABEL = ChartLabel("d", "s", 1, 1, "front", time.time())


def _ink_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The bounding box of everything darker than mid-grey."""
    grey = image.convert("L")
    return grey.point([255 if v < 128 else 0 for v in range(256)]).getbbox()


def _square_pdf(path: Path, pages: int = 2) -> Path:
    """A4 pages, each with a black square 1/2 inch wide whose top-left corner lies 1 inch
    from the page's top-left corner (PDF's origin is bottom left: y = 842 - 72 - 36)."""
    drawing = b"0 g 72 734 36 36 re f"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (4 + i) for i in range(pages))
        + b"] /Count %d >>" % pages,
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(drawing), drawing),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>"] * pages
    path.write_bytes(pdf_from_objects(objects))
    return path


@needs_gs
@pytest.mark.parametrize("dpi", [75, 300, 600])
def test_pdf_page_lies_at_the_glass_corner(tmp_path: Path, dpi: int) -> None:
    pdf = _square_pdf(tmp_path / "square.pdf", pages=3)
    assert original_pages(pdf) == 3
    s = ScanSettings(resolution=dpi, color_mode=ColorMode.GRAYSCALE)
    image = scan_side(Original(str(pdf), 2), s, LABEL)
    assert image.size == s.pixel_size() and image.mode == "L"
    box = _ink_box(image)
    assert box is not None
    expected = (dpi, dpi, dpi * 3 // 2, dpi * 3 // 2)
    assert all(abs(a - b) <= 1 for a, b in zip(box, expected, strict=True)), (box, expected)


@needs_gs
def test_pdf_region_offset_moves_the_square(tmp_path: Path) -> None:
    pdf = _square_pdf(tmp_path / "square.pdf")
    s = ScanSettings(resolution=150, color_mode=ColorMode.RGB, region=Region(150, 225, 900, 900))
    image = scan_side(Original(str(pdf), 0), s, LABEL)
    assert image.size == (450, 450) and image.mode == "RGB"
    box = _ink_box(image)
    assert box is not None
    # 1 inch on the glass, minus the offset (0.5 in, 0.75 in), at 150 dpi.
    expected = (75, 37, 150, 112)
    assert all(abs(a - b) <= 1 for a, b in zip(box, expected, strict=True)), box
    # A region past the page's edge is white paper (the glass is bigger than A4).
    beyond = s.with_changes(region=Region(2600, 0, 600, 600))
    assert is_blank(scan_side(Original(str(pdf), 0), beyond, LABEL))


@needs_gs
def test_postscript_pages_are_counted_by_running_it(tmp_path: Path) -> None:
    ps = tmp_path / "doc.ps"
    # No DSC comments to trust: three pages made in a loop.
    ps.write_bytes(
        b"%!PS\n<< /PageSize [595 842] >> setpagedevice\n"
        b"1 1 3 { pop 72 734 36 36 rectfill showpage } for\n"
    )
    assert original_pages(ps) == 3
    s = ScanSettings(resolution=100, color_mode=ColorMode.BLACK_AND_WHITE)
    image = scan_side(Original(str(ps), 1), s, LABEL)
    assert image.mode == "1"
    box = _ink_box(image)
    assert box is not None and abs(box[0] - 100) <= 1 and abs(box[1] - 100) <= 1


def test_png_at_its_own_resolution(tmp_path: Path) -> None:
    # 150 dpi, a red square 1/2 inch wide at (1 in, 1 in).
    png = Image.new("RGB", (1275, 1650), "white")
    ImageDraw.Draw(png).rectangle((150, 150, 224, 224), fill=(255, 0, 0))
    png.save(tmp_path / "a.png", dpi=(150, 150))
    assert original_pages(tmp_path / "a.png") == 1
    for dpi in (75, 300, 600):
        s = ScanSettings(resolution=dpi, color_mode=ColorMode.RGB)
        image = scan_side(Original(str(tmp_path / "a.png"), 0), s, LABEL)
        assert image.size == s.pixel_size()
        box = _ink_box(image.getchannel("G").convert("RGB"))
        assert box is not None
        assert all(
            abs(a - b) <= 2
            for a, b in zip(box, (dpi, dpi, dpi * 3 // 2, dpi * 3 // 2), strict=True)
        )
        middle = image.getpixel((dpi * 5 // 4, dpi * 5 // 4))
        assert middle == (255, 0, 0)


def test_image_without_resolution_is_300_dpi(tmp_path: Path) -> None:
    jpeg = Image.new("L", (600, 600), 255)
    ImageDraw.Draw(jpeg).rectangle((300, 300, 449, 449), fill=0)
    jpeg.save(tmp_path / "a.jpg")  # no JFIF density
    s = ScanSettings(resolution=150, color_mode=ColorMode.GRAYSCALE)
    image = scan_side(Original(str(tmp_path / "a.jpg"), 0), s, LABEL)
    box = _ink_box(image)
    assert box is not None and abs(box[0] - 150) <= 1 and abs(box[2] - 225) <= 1
    # Past the image's 2 inches: white.
    assert image.getpixel((400, 400)) == 255


def test_multi_page_tiff_gives_its_frames(tmp_path: Path) -> None:
    frames = [Image.new("L", (300, 300), level) for level in (0, 128, 255)]
    frames[0].save(tmp_path / "m.tif", save_all=True, append_images=frames[1:], dpi=(300, 300))
    assert original_pages(tmp_path / "m.tif") == 3
    s = ScanSettings(resolution=75, color_mode=ColorMode.GRAYSCALE, region=Region(0, 0, 300, 300))
    levels = [
        scan_side(Original(str(tmp_path / "m.tif"), page), s, LABEL).getpixel((30, 30))
        for page in range(3)
    ]
    assert levels == [0, 128, 255]


def test_transparent_png_lies_on_white(tmp_path: Path) -> None:
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(tmp_path / "t.png")
    s = ScanSettings(resolution=75, color_mode=ColorMode.RGB, region=Region(0, 0, 300, 300))
    image = scan_side(Original(str(tmp_path / "t.png"), 0), s, LABEL)
    assert image.getextrema() == ((255, 255), (255, 255), (255, 255))


# --------------------------------------------------------------------------------------------
# Refused


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height grey pixels, with one tiny (short) IDAT: the
    decompression bomb's shape, without the bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [9000, 12000, 40000])
def test_decompression_bombs_are_refused(tmp_path: Path, side: int) -> None:
    # 81 MP is over our limit (the glass at 600 dpi, ~72 MP) and under Pillow's own warning;
    # 144 MP draws Pillow's warning; 1.6 GP its error. All three: too large, before decoding.
    assert side * side > MAX_PIXELS
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(side, side))
    with pytest.raises(OriginalError, match="too large"):
        original_pages(bomb)
    s = ScanSettings(resolution=75)
    with pytest.raises(OriginalError, match="too large"):
        scan_side(Original(str(bomb), 0), s, LABEL)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"%PDF-1.4\nthis is not a PDF at all\n%%EOF\n", "not a readable PDF"),
        (b"%PDF-1.7\n" + b"\0" * 5000, "not a readable PDF"),
        (b"hello, I am a text file\n", "is not a PDF, PostScript, PNG, JPEG or TIFF"),
        (b"", "empty"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 100, "JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "PNG"),
    ],
    ids=["fake-pdf", "zeros-pdf", "text", "empty", "truncated-jpeg", "broken-png"],
)
def test_files_that_are_not_what_they_claim(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "original.pdf"  # the name claims PDF; the bytes decide
    path.write_bytes(content)
    with pytest.raises(OriginalError, match=reason):
        original_pages(path)


@needs_gs
def test_postscript_that_fails_is_refused(tmp_path: Path) -> None:
    ps = tmp_path / "bad.ps"
    ps.write_bytes(b"%!PS\nthis_operator_does_not_exist\n")
    with pytest.raises(OriginalError, match="Ghostscript"):
        original_pages(ps)


def test_a_vanished_file_is_an_original_error(tmp_path: Path) -> None:
    with pytest.raises(OriginalError, match="cannot be read"):
        scan_side(Original(str(tmp_path / "gone.pdf"), 0), ScanSettings(resolution=75), LABEL)


@needs_gs
def test_a_page_past_the_end_is_an_original_error(tmp_path: Path) -> None:
    pdf = _square_pdf(tmp_path / "square.pdf", pages=1)
    with pytest.raises(OriginalError, match="page 3"):
        scan_side(Original(str(pdf), 2), ScanSettings(resolution=75), LABEL)
    png = tmp_path / "one.png"
    Image.new("L", (10, 10)).save(png)
    with pytest.raises(OriginalError, match="page 2"):
        scan_side(Original(str(png), 1), ScanSettings(resolution=75), LABEL)


@needs_gs
def test_a_poster_page_is_refused_not_rendered_whole(tmp_path: Path) -> None:
    if not shutil.which("prlimit"):
        pytest.skip("util-linux's prlimit is not installed")
    poster = tmp_path / "poster.ps"
    # 100 x 100 inches: 3.6 GB of grey pixels at 600 dpi; the cap stops Ghostscript at 72 MB.
    poster.write_bytes(
        b"%!PS\n<< /PageSize [7200 7200] >> setpagedevice\n"
        b"0 0 moveto 7200 7200 lineto stroke showpage\n"
    )
    assert original_pages(poster) == 1
    s = ScanSettings(resolution=600, color_mode=ColorMode.GRAYSCALE)
    with pytest.raises(OriginalError, match="too large to scan at 600 dpi"):
        scan_side(Original(str(poster), 0), s, LABEL)
    # At 75 dpi the same page fits, and the scan shows its top-left corner.
    small = s.with_changes(resolution=75)
    assert scan_side(Original(str(poster), 0), small, LABEL).size == small.pixel_size()


@needs_gs
def test_postscript_that_never_ends_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_render, "GS_TIMEOUT", 1.0)
    ps = tmp_path / "forever.ps"
    ps.write_bytes(b"%!PS\n{ } loop\n")
    with pytest.raises(OriginalError, match="took too long"):
        original_pages(ps)


def _valid_images() -> list[bytes]:
    out = []
    for fmt, mode in (("PNG", "RGB"), ("JPEG", "L"), ("TIFF", "1")):
        buffer = io.BytesIO()
        Image.new(mode, (40, 30), 0).save(buffer, fmt)
        out.append(buffer.getvalue())
    return out


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(_valid_images()),
    cuts=st.lists(st.tuples(st.integers(0, 2000), st.binary(max_size=8)), max_size=4),
    truncate=st.integers(8, 2000),
)
def test_damaged_images_give_original_error_only(
    base: bytes, cuts: list[tuple[int, bytes]], truncate: int
) -> None:
    data = bytearray(base[:truncate])
    for at, junk in cuts:
        data[at : at + len(junk)] = junk
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz"
        path.write_bytes(bytes(data))
        try:
            pages = original_pages(path)
        except OriginalError:
            return
        assert pages >= 1
        s = ScanSettings(resolution=75, region=Region(0, 0, 300, 300))
        try:
            image = scan_side(Original(str(path), 0), s, LABEL)
        except OriginalError:
            return
        assert image.size == s.pixel_size()
