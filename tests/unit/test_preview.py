"""First-page previews: real documents made at test time (PDF, PostScript, JPEG, PNG, TIFF,
text, hand-encoded PWG and Apple raster, ghostscript's own raster output), damaged and garbage
input, and fuzzing that only PreviewError or a valid PNG ever comes out."""

from __future__ import annotations

import io
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
from PIL import Image, ImageChops, ImageStat

from mfpd.documents.preview import Preview, PreviewError, render_first_page
from tests.conftest import requires
from tests.documents import pdf_bytes, pdf_from_objects, postscript_bytes

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

# Damaged and fuzzed TIFFs make Pillow warn (corrupt EXIF, oversized tags) before it fails.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]

UEL = b"\x1b%-12345X"
A4 = (595, 842)  # points
GS = shutil.which("gs")
needs_gs = requires(
    GS is not None, "ghostscript (gs) is not installed: apt-get install ghostscript"
)


def render(
    tmp_path: Path,
    data: bytes,
    mime: str | None = None,
    *,
    max_size: int = 800,
    timeout: float = 20.0,
) -> Preview:
    path = tmp_path / "doc"
    path.write_bytes(data)
    return render_first_page(path, mime, max_size=max_size, timeout=timeout)


def decoded(preview: Preview) -> Image.Image:
    """The preview's PNG, checked to be one, as an L image."""
    assert preview.png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(preview.png), formats=["PNG"]) as image:
        image.load()
        assert image.size == (preview.width, preview.height)
        return image.convert("L")


def luma_at(image: Image.Image, x: float, y: float) -> int:
    """Grey level at a point given as fractions of the width and height (0,0 = top left)."""
    value = image.getpixel(
        (min(image.width - 1, int(x * image.width)), min(image.height - 1, int(y * image.height)))
    )
    assert isinstance(value, int)
    return value


def dark(value: int) -> bool:
    return value < 64


def light(value: int) -> bool:
    return value > 192


def region_extrema(image: Image.Image, box: tuple[float, float, float, float]) -> tuple[int, int]:
    """(min, max) grey level inside a box given as fractions (left, top, right, bottom)."""
    left, top, right, bottom = box
    crop = image.crop(
        (
            int(left * image.width),
            int(top * image.height),
            max(int(left * image.width) + 1, int(right * image.width)),
            max(int(top * image.height) + 1, int(bottom * image.height)),
        )
    )
    low, high = crop.getextrema()
    assert isinstance(low, int) and isinstance(high, int)
    return low, high


# --------------------------------------------------------------------------------------------
# Documents written here


def pdf_document(contents: list[bytes], size: tuple[int, int] = A4) -> bytes:
    """A PDF 1.4 whose pages draw the given content streams, with a correct xref table."""
    count = len(contents)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
    ]
    for index, content in enumerate(contents):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R >>"
            % (size[0], size[1], 4 + 2 * index)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    return pdf_from_objects(objects)


# Page 1: a black rectangle at x 100-300, y 500-650 (PDF user space, origin bottom left).
RECTANGLE = b"0 g 100 500 200 150 re f"
RECTANGLE_CENTRE = (200 / A4[0], 1 - 575 / A4[1])
BLANK_SPOT = (450 / A4[0], 1 - 200 / A4[1])
# Page 2 paints the spot page 1 leaves blank: a preview that shows it rendered the wrong page.
SECOND_PAGE = b"0 g 400 150 100 100 re f"


def jpeg_bytes(size: tuple[int, int] = (200, 100), **save: object) -> bytes:
    out = io.BytesIO()
    two_tone(size, "RGB").save(out, "JPEG", quality=95, **save)
    return out.getvalue()


def two_tone(size: tuple[int, int], mode: str) -> Image.Image:
    """White, with the left half black."""
    if mode in ("I;16", "I"):  # 16-bit grey: white is 65535
        image = Image.new(mode, size, 65535)
        image.paste(0, (0, 0, size[0] // 2, size[1]))
        return image
    image = Image.new("RGB", size, (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, size[0] // 2, size[1]))
    return image.convert(mode)


def image_bytes(image: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


# ---- PWG 5102.4 and Apple raster, encoded here


def pack_row(row: bytes, unit: int, white: int | None = None) -> bytes:
    """One row in the PWG/URF compression: runs of equal pixels (0-127: n+1 copies), literal
    runs (129-255: 257-n pixels); with `white`, trailing white pixels become the fill code
    128, as Apple's writers do."""
    pixels = [row[i : i + unit] for i in range(0, len(row), unit)]
    end = len(pixels)
    if white is not None:
        while end and pixels[end - 1] == bytes([white]) * unit:
            end -= 1
    out = bytearray()
    i = 0
    while i < end:
        j = i + 1
        while j < end and j - i < 128 and pixels[j] == pixels[i]:
            j += 1
        if j - i > 1:
            out.append(j - i - 1)
            out += pixels[i]
            i = j
            continue
        while j < end and j - i < 128 and not (j + 1 < end and pixels[j] == pixels[j + 1]):
            j += 1
        out.append(0 if j - i == 1 else 257 - (j - i))
        out += b"".join(pixels[i:j])
        i = j
    if end < len(pixels):
        out.append(128)
    return bytes(out)


def pack_page(rows: list[bytes], unit: int, white: int | None = None) -> bytes:
    """Rows with the line repeat byte: equal consecutive rows (up to 256) are sent once."""
    out = bytearray()
    i = 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and j - i < 256 and rows[j] == rows[i]:
            j += 1
        out.append(j - i - 1)
        out += pack_row(rows[i], unit, white)
        i = j
    return bytes(out)


@dataclass(frozen=True)
class Space:
    """A raster colour space: its code, samples per pixel, and which sample value is ink."""

    name: str
    code: int
    colors: int
    subtractive: bool  # 0 is white (black, cmyk)


PWG_SPACES = {
    "sgray": Space("sgray", 18, 1, False),
    "srgb": Space("srgb", 19, 3, False),
    "adobe-rgb": Space("adobe-rgb", 20, 3, False),
    "black": Space("black", 3, 1, True),
    "cmyk": Space("cmyk", 6, 4, True),
    "w": Space("w", 0, 1, False),  # CUPS raster's device grey
    "rgb": Space("rgb", 1, 3, False),
}
URF_SPACES = {
    "sgray": Space("sgray", 0, 1, False),
    "srgb": Space("srgb", 1, 3, False),
    "adobe-rgb": Space("adobe-rgb", 3, 3, False),
    "w": Space("w", 4, 1, False),
    "rgb": Space("rgb", 5, 3, False),
    "cmyk": Space("cmyk", 6, 4, True),
}


def pixel(space: Space, bits: int, ink: bool) -> bytes:
    """One pixel, full black or paper white (for CMYK, black is K only)."""
    size = bits // 8
    full = b"\xff" * size
    none = b"\x00" * size
    if space.colors == 4:
        return none * 3 + (full if ink else none)
    sample = none if ink != space.subtractive else full
    return sample * space.colors


def raster_rows(
    space: Space, bits: int, width: int, height: int, ink: Callable[[int, int], bool]
) -> list[bytes]:
    """Rows of a page whose pixel (x, y) is black where `ink(x, y)`."""
    rows = []
    for y in range(height):
        if bits == 1:
            value = 0
            for x in range(width):
                value = value << 1 | (ink(x, y) == space.subtractive)
            value <<= -width % 8
            rows.append(value.to_bytes((width + 7) // 8, "big"))
        else:
            rows.append(b"".join(pixel(space, bits, ink(x, y)) for x in range(width)))
    return rows


def left_half(width: int) -> Callable[[int, int], bool]:
    return lambda x, y: x < width // 2


def pwg_header(
    space: Space,
    bits: int,
    width: int,
    height: int,
    *,
    dpi: tuple[int, int] = (300, 300),
    endian: str = ">",
    order: int = 0,
    bits_per_pixel: int | None = None,
) -> bytes:
    """A PWG 5102.4 page header: 1796 bytes, fields at the spec's offsets."""
    header = bytearray(1796)
    header[0:10] = b"PwgRaster\x00"
    bpp = bits * space.colors if bits_per_pixel is None else bits_per_pixel
    struct.pack_into(endian + "II", header, 276, *dpi)
    struct.pack_into(
        endian + "8I",
        header,
        372,
        width,
        height,
        0,
        bits,
        bpp,
        (width * bpp + 7) // 8,
        order,
        space.code,
    )
    struct.pack_into(endian + "I", header, 420, space.colors)
    return bytes(header)


def pwg_document(
    space: Space,
    bits: int,
    width: int,
    height: int,
    ink: Callable[[int, int], bool],
    *,
    more_pages: int = 0,
    white_tail: bool = False,
    dpi: tuple[int, int] = (300, 300),
) -> bytes:
    """PWG raster: page 1 inked where `ink`, then `more_pages` all-black pages."""
    unit = max(1, bits * space.colors // 8)
    white = (0 if space.subtractive else 0xFF) if white_tail else None
    out = bytearray(b"RaS2")
    pages = [ink] + [lambda x, y: True] * more_pages
    for page_ink in pages:
        out += pwg_header(space, bits, width, height, dpi=dpi)
        out += pack_page(raster_rows(space, bits, width, height, page_ink), unit, white)
    return bytes(out)


def urf_header(space: Space, bits_per_pixel: int, width: int, height: int, dpi: int = 300) -> bytes:
    return (
        bytes([bits_per_pixel, space.code, 1, 4])
        + bytes(8)
        + struct.pack(">III", width, height, dpi)
        + bytes(8)
    )


def urf_document(
    space: Space,
    bits: int,
    width: int,
    height: int,
    ink: Callable[[int, int], bool],
    *,
    more_pages: int = 0,
    white_tail: bool = False,
    declared: int | None = None,
) -> bytes:
    unit = max(1, bits * space.colors // 8)
    white = (0 if space.subtractive else 0xFF) if white_tail else None
    pages = [ink] + [lambda x, y: True] * more_pages
    count = len(pages) if declared is None else declared
    out = bytearray(b"UNIRAST\x00" + struct.pack(">I", count))
    for page_ink in pages:
        out += urf_header(space, bits * space.colors, width, height)
        out += pack_page(raster_rows(space, bits, width, height, page_ink), unit, white)
    return bytes(out)


def assert_left_half_black(preview: Preview, size: tuple[int, int]) -> None:
    image = decoded(preview)
    assert image.size == size
    assert dark(luma_at(image, 0.1, 0.5)), "the left half should be black"
    assert light(luma_at(image, 0.9, 0.5)), "the right half should be white"
    assert region_extrema(image, (0.0, 0.0, 0.45, 1.0))[1] < 64
    assert region_extrema(image, (0.55, 0.0, 1.0, 1.0))[0] > 192


# --------------------------------------------------------------------------------------------
# PWG raster

PWG_CASES = [
    ("sgray", 1),
    ("sgray", 8),
    ("sgray", 16),
    ("black", 1),
    ("black", 8),
    ("black", 16),
    ("srgb", 8),
    ("srgb", 16),
    ("adobe-rgb", 8),
    ("cmyk", 8),
    ("cmyk", 16),
    ("w", 8),
    ("rgb", 8),
]


@pytest.mark.parametrize(("space", "bits"), PWG_CASES)
@pytest.mark.parametrize("white_tail", [False, True])
def test_pwg_first_page_pixels(tmp_path: Path, space: str, bits: int, white_tail: bool) -> None:
    data = pwg_document(
        PWG_SPACES[space], bits, 100, 50, left_half(100), more_pages=1, white_tail=white_tail
    )
    preview = render(tmp_path, data, PWG)
    # Never enlarged: a 100x50 page previews at 100x50; page 2 (all black) is not shown.
    assert_left_half_black(preview, (100, 50))


@pytest.mark.parametrize(("mime", "max_size", "size"), [(PWG, 40, (40, 20)), (None, 64, (64, 32))])
def test_pwg_scaled_to_fit(
    tmp_path: Path, mime: str | None, max_size: int, size: tuple[int, int]
) -> None:
    data = pwg_document(PWG_SPACES["srgb"], 8, 100, 50, left_half(100))
    assert_left_half_black(render(tmp_path, data, mime, max_size=max_size), size)


def test_pwg_non_square_pixels_keep_the_page_shape(tmp_path: Path) -> None:
    # 100 x 50 pixels at 600 x 300 dpi is 1/6 x 1/6 inch: a square page.
    data = pwg_document(PWG_SPACES["sgray"], 8, 100, 50, left_half(100), dpi=(600, 300))
    assert_left_half_black(render(tmp_path, data, PWG), (50, 50))


def test_pwg_cups_byte_orders_and_uncompressed(tmp_path: Path) -> None:
    space = PWG_SPACES["sgray"]
    rows = raster_rows(space, 16, 100, 50, left_half(100))
    swapped = [
        b"".join(row[i + 1 : i + 2] + row[i : i + 1] for i in range(0, 200, 2)) for row in rows
    ]
    little = b"2SaR" + pwg_header(space, 16, 100, 50, endian="<") + pack_page(swapped, 2)
    assert_left_half_black(render(tmp_path, little, PWG), (100, 50))
    raw = b"RaS3" + pwg_header(space, 16, 100, 50) + b"".join(rows)
    assert_left_half_black(render(tmp_path, raw, PWG), (100, 50))


def test_pwg_after_a_pjl_header_is_sniffed(tmp_path: Path) -> None:
    pjl = UEL + b'@PJL JOB NAME="scan"\r\n@PJL ENTER LANGUAGE=PWG\r\n'
    data = pjl + pwg_document(PWG_SPACES["srgb"], 8, 100, 50, left_half(100)) + UEL
    for mime in (None, BINARY, PWG):
        assert_left_half_black(render(tmp_path, data, mime), (100, 50))


def pack_runs(runs: list[tuple[bytes, int]]) -> bytes:
    """A row given as (pixel, count) runs, each sent as repeat codes of up to 128 pixels."""
    out = bytearray()
    for value, count in runs:
        while count > 0:
            out.append(min(count, 128) - 1)
            out += value
            count -= 128
    return bytes(out)


def test_pwg_large_page_is_downsampled_in_bounded_time(tmp_path: Path) -> None:
    # A4 at 600 dpi, 24-bit: 100 MB of pixels decoded band by band. Left half black, and a
    # black diagonal from the top left to the bottom right, so rows must land where they
    # belong.
    width, height = 4960, 7016
    black, white = b"\x00" * 3, b"\xff" * 3
    data = bytearray(b"RaS2" + pwg_header(PWG_SPACES["srgb"], 8, width, height, dpi=(600, 600)))
    for y in range(height):
        edge = min(width - 16, max(width // 2, y * width // height - 8))
        runs = [(black, width // 2), (white, edge - width // 2), (black, 16)]
        runs.append((white, width - edge - 16))
        data += b"\x00" + pack_runs([run for run in runs if run[1]])
    started = time.monotonic()
    image = decoded(render(tmp_path, bytes(data), PWG))
    assert time.monotonic() - started < 15
    assert image.size == (566, 800)
    assert dark(luma_at(image, 0.25, 0.5))
    assert light(luma_at(image, 0.75, 0.25))
    assert luma_at(image, 0.75, 0.75) < 128  # on the diagonal


def test_pwg_never_reads_past_page_one(tmp_path: Path) -> None:
    """Page 1 followed by 4 GiB (sparse): only page 1 is read."""
    path = tmp_path / "huge.pwg"
    path.write_bytes(pwg_document(PWG_SPACES["sgray"], 8, 100, 50, left_half(100)))
    with path.open("r+b") as file:
        file.truncate(4 << 30)
    started = time.monotonic()
    assert_left_half_black(render_first_page(path, PWG), (100, 50))
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("cut", [1, 4, 100, 4 + 1796, 4 + 1796 + 1, -300, -1])
def test_pwg_truncated(tmp_path: Path, cut: int) -> None:
    good = pwg_document(PWG_SPACES["srgb"], 8, 100, 50, left_half(100))
    with pytest.raises(PreviewError):
        render(tmp_path, good[:cut], PWG)


SRGB = PWG_SPACES["srgb"]


@pytest.mark.parametrize(
    "header",
    [
        pwg_header(SRGB, 8, 100, 50, bits_per_pixel=32),
        pwg_header(SRGB, 8, 100, 50, order=2),  # planar
        pwg_header(Space("device1", 48, 1, True), 8, 100, 50),
        pwg_header(SRGB, 4, 100, 50),
        pwg_header(SRGB, 8, 0, 50),
        pwg_header(SRGB, 8, 100, 0),
        pwg_header(SRGB, 8, 1 << 20, 50),
    ],
    ids=["bits-per-pixel", "planar", "device1", "4-bit", "no-width", "no-height", "too-wide"],
)
def test_pwg_header_without_preview(tmp_path: Path, header: bytes) -> None:
    with pytest.raises(PreviewError):
        render(tmp_path, b"RaS2" + header + bytes(1000), PWG)


def test_pwg_declared_but_not_pwg(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="not PWG raster"):
        render(tmp_path, b"%PDF-1.4 pretending", PWG)


# --------------------------------------------------------------------------------------------
# Apple raster (URF)

URF_CASES = [
    ("sgray", 8),
    ("sgray", 16),
    ("w", 8),
    ("srgb", 8),
    ("srgb", 16),
    ("adobe-rgb", 8),
    ("rgb", 8),
    ("cmyk", 8),
    ("cmyk", 16),
]


@pytest.mark.parametrize(("space", "bits"), URF_CASES)
@pytest.mark.parametrize("white_tail", [False, True])
def test_urf_first_page_pixels(tmp_path: Path, space: str, bits: int, white_tail: bool) -> None:
    data = urf_document(
        URF_SPACES[space], bits, 100, 50, left_half(100), more_pages=2, white_tail=white_tail
    )
    assert_left_half_black(render(tmp_path, data, URF), (100, 50))
    assert_left_half_black(render(tmp_path, data, None, max_size=50), (50, 25))


@pytest.mark.parametrize("declared", [0, 1, 2**32 - 1])
def test_urf_page_count_is_not_trusted(tmp_path: Path, declared: int) -> None:
    data = urf_document(URF_SPACES["srgb"], 8, 100, 50, left_half(100), declared=declared)
    assert_left_half_black(render(tmp_path, data, URF), (100, 50))


def test_urf_one_bit_is_black(tmp_path: Path) -> None:
    # ghostscript and libcups write 1-bit black with colour space byte 0: 1 is ink.
    black = PWG_SPACES["black"]
    rows = raster_rows(black, 1, 100, 50, left_half(100))
    data = b"UNIRAST\x00" + struct.pack(">I", 1) + urf_header(URF_SPACES["sgray"], 1, 100, 50)
    assert_left_half_black(render(tmp_path, data + pack_page(rows, 1, white=0), URF), (100, 50))


def test_urf_damaged(tmp_path: Path) -> None:
    good = urf_document(URF_SPACES["srgb"], 8, 100, 50, left_half(100))
    for cut in (3, 8, 12, 20, 44, 45, len(good) // 2, len(good) - 1):
        with pytest.raises(PreviewError):
            render(tmp_path, good[:cut], URF)
    with pytest.raises(PreviewError, match="colour space"):
        render(tmp_path, good[:13] + b"\x02" + good[14:], URF)  # RGBW
    with pytest.raises(PreviewError):
        render(tmp_path, good[:12] + b"\x07" + good[13:], URF)  # 7 bits per pixel
    with pytest.raises(PreviewError, match="not Apple raster"):
        render(tmp_path, b"RaS2" + bytes(2000), URF)


def test_urf_never_reads_past_page_one(tmp_path: Path) -> None:
    path = tmp_path / "huge.urf"
    path.write_bytes(urf_document(URF_SPACES["sgray"], 8, 100, 50, left_half(100), declared=0))
    with path.open("r+b") as file:
        file.truncate(4 << 30)
    assert_left_half_black(render_first_page(path), (100, 50))


# --------------------------------------------------------------------------------------------
# JPEG, PNG, TIFF


def test_jpeg(tmp_path: Path) -> None:
    assert_left_half_black(render(tmp_path, jpeg_bytes(), JPEG), (200, 100))
    assert_left_half_black(render(tmp_path, jpeg_bytes(), None), (200, 100))
    assert_left_half_black(render(tmp_path, jpeg_bytes(), "image/jpg"), (200, 100))


def test_large_jpeg_is_scaled_to_fit(tmp_path: Path) -> None:
    data = jpeg_bytes((4000, 3000))
    assert_left_half_black(render(tmp_path, data, JPEG), (800, 600))
    assert_left_half_black(render(tmp_path, data, JPEG, max_size=100), (100, 75))


def test_jpeg_exif_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to view
    image = decoded(render(tmp_path, jpeg_bytes(exif=exif.tobytes()), JPEG))
    assert image.size == (100, 200)
    assert dark(luma_at(image, 0.5, 0.1))  # the left half is now on top
    assert light(luma_at(image, 0.5, 0.9))


def test_cmyk_jpeg(tmp_path: Path) -> None:
    data = image_bytes(two_tone((200, 100), "CMYK"), "JPEG", quality=95)
    assert_left_half_black(render(tmp_path, data, JPEG), (200, 100))


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_png_modes(tmp_path: Path, mode: str) -> None:
    data = image_bytes(two_tone((120, 60), mode), "PNG")
    assert_left_half_black(render(tmp_path, data, PNG), (120, 60))


def test_png_transparency_prints_on_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (120, 60), (0, 0, 0, 0))  # transparent black
    image.paste((0, 0, 0, 255), (0, 0, 60, 60))
    assert_left_half_black(render(tmp_path, image_bytes(image, "PNG"), PNG), (120, 60))
    palette = two_tone((120, 60), "P")
    white = palette.getpixel((119, 0))
    data = image_bytes(palette, "PNG", transparency=white)
    assert_left_half_black(render(tmp_path, data, PNG), (120, 60))


@pytest.mark.parametrize(
    ("mode", "compression"),
    [("1", "group4"), ("1", "raw"), ("L", "tiff_lzw"), ("RGB", "raw"), ("I", "raw")],
)
def test_tiff_first_page(tmp_path: Path, mode: str, compression: str) -> None:
    first = two_tone((160, 80), mode)
    second = Image.new(mode, (160, 80), 0)  # all black: must not be shown
    data = image_bytes(
        first, "TIFF", compression=compression, save_all=True, append_images=[second]
    )
    assert_left_half_black(render(tmp_path, data, TIFF), (160, 80))


def test_image_after_pjl_header(tmp_path: Path) -> None:
    data = UEL + b"@PJL ENTER LANGUAGE=JPEG\r\n" + jpeg_bytes()
    assert_left_half_black(render(tmp_path, data), (200, 100))
    data = (
        UEL
        + b"@PJL JOB\r\n@PJL SET RESOLUTION=300\r\n"
        + image_bytes(two_tone((120, 60), "L"), "PNG")
    )
    assert_left_half_black(render(tmp_path, data, PNG), (120, 60))


def test_mislabelled_image_still_previews(tmp_path: Path) -> None:
    data = image_bytes(two_tone((120, 60), "RGB"), "PNG")
    assert_left_half_black(render(tmp_path, data, JPEG), (120, 60))


def test_image_formats_beyond_the_three_are_refused(tmp_path: Path) -> None:
    # Pillow would hand EPS to ghostscript (outside our deadline) and read GIF or BMP: an
    # image/* document is only ever read as JPEG, PNG or TIFF.
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n0 0 10 10 rectfill\n"
    gif = image_bytes(two_tone((20, 10), "P"), "GIF")
    for data in (eps, gif, image_bytes(two_tone((20, 10), "RGB"), "BMP")):
        with pytest.raises(PreviewError):
            render(tmp_path, data, PNG)


def test_image_too_large_is_refused_before_decoding(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(bytes(1000))
    chunk += struct.pack(">I", len(idat)) + b"IDAT" + idat
    chunk += struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    data = b"\x89PNG\r\n\x1a\n" + chunk
    with pytest.raises(PreviewError, match="too large"):
        render(tmp_path, data, PNG)


@pytest.mark.parametrize("mime", [JPEG, PNG, TIFF])
def test_damaged_images(tmp_path: Path, mime: str) -> None:
    fmt = {JPEG: "JPEG", PNG: "PNG", TIFF: "TIFF"}[mime]
    good = image_bytes(two_tone((200, 100), "RGB"), fmt)
    for cut in (2, 10, 40, len(good) // 2):
        with pytest.raises(PreviewError):
            render(tmp_path, good[:cut], mime)
    with pytest.raises(PreviewError):
        render(tmp_path, b"not an image at all" * 10, mime)


# --------------------------------------------------------------------------------------------
# Plain text


def test_text_first_page(tmp_path: Path) -> None:
    text = b"Hello, world\r\nsecond line\n" + b"\x0c" + b"page two\n" * 60
    image = decoded(render(tmp_path, text, TEXT))
    assert image.size == (566, 800)  # A4-proportioned
    assert region_extrema(image, (0.0, 0.0, 0.5, 0.1))[0] < 128  # the two lines
    assert region_extrema(image, (0.0, 0.1, 1.0, 1.0)) == (255, 255)  # page two is not shown
    sniffed = decoded(render(tmp_path, text, None))
    assert ImageChops.difference(image, sniffed).getbbox() is None


def test_text_stops_at_sixty_lines(tmp_path: Path) -> None:
    sixty = decoded(render(tmp_path, b"XXXXXXXXXXXXXXXX\n" * 60, TEXT))
    more = decoded(render(tmp_path, b"XXXXXXXXXXXXXXXX\n" * 200, TEXT))
    assert ImageChops.difference(sixty, more).getbbox() is None
    assert region_extrema(sixty, (0.0, 0.9, 1.0, 0.96))[0] < 128  # line 60 is near the end
    assert region_extrema(sixty, (0.0, 0.96, 1.0, 1.0)) == (255, 255)


def test_text_encodings_and_controls(tmp_path: Path) -> None:
    for data in (
        "Grüße aus Köln\n".encode(),
        "Grüße aus Köln\n".encode("latin-1"),
        "\ufeffmit BOM\n".encode(),
        b"tab\there\x07\x1b bell and escape\rover\n",
        "日本語".encode()[:-1],
    ):
        image = decoded(render(tmp_path, data, TEXT, max_size=400))
        assert image.size == (283, 400)
        assert region_extrema(image, (0.0, 0.0, 1.0, 0.1))[0] < 128


def test_blank_text_is_a_white_page(tmp_path: Path) -> None:
    image = decoded(render(tmp_path, b"\n\n   \n", TEXT))
    assert image.getextrema() == (255, 255)


# --------------------------------------------------------------------------------------------
# PDF and PostScript through ghostscript


@needs_gs
def test_blank_pdf_pages(tmp_path: Path) -> None:
    preview = render(tmp_path, pdf_bytes(3), PDF)
    image = decoded(preview)
    assert image.size in ((565, 800), (566, 800))  # A4, fitted
    assert image.getextrema() == (255, 255)


@needs_gs
@pytest.mark.parametrize("mime", [PDF, None, BINARY, "application/x-pdf"])
def test_pdf_first_page_content(tmp_path: Path, mime: str | None) -> None:
    data = pdf_document([RECTANGLE, SECOND_PAGE])
    image = decoded(render(tmp_path, data, mime))
    assert image.height == 800
    assert dark(luma_at(image, *RECTANGLE_CENTRE))
    assert light(luma_at(image, *BLANK_SPOT))
    # The rectangle's edges, within a pixel or two of the 72-dpi geometry.
    assert region_extrema(image, (105 / 595, 1 - 645 / 842, 295 / 595, 1 - 505 / 842))[1] < 64
    assert region_extrema(image, (0, 0, 1, 1 - 660 / 842))[0] > 192
    assert region_extrema(image, (310 / 595, 0, 1, 1))[0] > 192


@needs_gs
def test_pdf_scaled_and_landscape(tmp_path: Path) -> None:
    data = pdf_document([b"0 g 0 0 421 298 re f"], size=(842, 595))  # left half, landscape
    image = decoded(render(tmp_path, data, PDF, max_size=300))
    assert image.width == 300
    assert abs(image.height - 212) <= 1
    assert dark(luma_at(image, 0.25, 0.5))
    assert light(luma_at(image, 0.75, 0.5))


@needs_gs
def test_poster_page_is_rendered_again_smaller(tmp_path: Path) -> None:
    data = pdf_document([b"0 g 0 0 7200 7200 re f"], size=(14400, 7200))  # 200 x 100 inches
    image = decoded(render(tmp_path, data, PDF, max_size=200))
    assert image.size == (200, 100)
    assert dark(luma_at(image, 0.25, 0.5))
    assert light(luma_at(image, 0.75, 0.5))


@needs_gs
def test_postscript(tmp_path: Path) -> None:
    image = decoded(render(tmp_path, postscript_bytes(3), PS))
    assert image.height == 800
    # "Page 1" in 24-point Helvetica at (72, 720).
    assert region_extrema(image, (72 / 595, 1 - 740 / 842, 160 / 595, 1 - 715 / 842))[0] < 64
    assert region_extrema(image, (0, 1 - 700 / 842, 1, 1))[0] > 192


@needs_gs
def test_postscript_first_page_only_and_not_run_to_the_end(tmp_path: Path) -> None:
    # Page 2 paints the blank spot, then the job never ends: the preview must come from
    # page 1 as soon as it is written, not from the timeout.
    program = (
        b"%!PS\n"
        + RECTANGLE.replace(b"0 g", b"0 setgray").replace(b" re f", b" rectfill")
        + b"\nshowpage\n"
        + SECOND_PAGE.replace(b"0 g", b"0 setgray").replace(b" re f", b" rectfill")
        + b"\nshowpage\n{ } loop\n"
    )
    started = time.monotonic()
    image = decoded(render(tmp_path, program, PS, timeout=20))
    assert time.monotonic() - started < 10
    assert dark(luma_at(image, *RECTANGLE_CENTRE))
    assert light(luma_at(image, *BLANK_SPOT))


@needs_gs
def test_ghostscript_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(PreviewError, match="too long"):
        render(tmp_path, b"%!PS\n{ } loop\n", PS, timeout=1.0)
    assert time.monotonic() - started < 5


@needs_gs
def test_pdf_and_postscript_after_pjl_header(tmp_path: Path) -> None:
    pjl = UEL + b"@PJL JOB\r\n@PJL ENTER LANGUAGE=PDF\r\n"
    image = decoded(render(tmp_path, pjl + pdf_document([RECTANGLE]) + UEL))
    assert dark(luma_at(image, *RECTANGLE_CENTRE))
    pjl = UEL + b"@PJL JOB\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n"
    image = decoded(render(tmp_path, pjl + postscript_bytes(1) + UEL))
    assert region_extrema(image, (72 / 595, 1 - 740 / 842, 160 / 595, 1 - 715 / 842))[0] < 64


@needs_gs
@pytest.mark.parametrize(
    "data",
    [
        b"garbage, not a PDF at all\n" * 20,
        b"%PDF-1.4\ngarbage after the header\n",
        pdf_document([RECTANGLE])[:200],  # truncated before any page
        b"%PDF-1.4\n" + bytes(range(256)) * 8,
    ],
)
def test_garbage_pdf(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(PreviewError, match="ghostscript"):
        render(tmp_path, data, PDF)


@needs_gs
def test_garbage_postscript(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="ghostscript"):
        render(tmp_path, b"%!PS\nthis is not a program (\n", PS)


@needs_gs
@pytest.mark.parametrize(
    ("device", "args", "mime"),
    [
        ("pwgraster", (), PWG),  # black_1, the device default
        ("pwgraster", ("-dcupsColorSpace=19", "-dcupsBitsPerColor=8"), PWG),  # srgb_8
        ("pwgraster", ("-dcupsColorSpace=18", "-dcupsBitsPerColor=16"), PWG),  # sgray_16
        ("pwgraster", ("-dcupsColorSpace=6", "-dcupsBitsPerColor=8"), PWG),  # cmyk_8
        ("urf", (), URF),
        ("appleraster", ("-dcupsColorSpace=19", "-dcupsBitsPerColor=8"), URF),
    ],
)
def test_ghostscript_raster_matches_the_pdf_preview(
    tmp_path: Path, device: str, args: tuple[str, ...], mime: str
) -> None:
    """ghostscript's own raster of a PDF decodes to the picture the PDF previews as."""
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf_document([RECTANGLE, SECOND_PAGE]))
    raster = tmp_path / "doc.raster"
    subprocess.run(
        [
            str(GS),
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            f"-sDEVICE={device}",
            *args,
            "-r100",
            f"-sOutputFile={raster}",
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    from_pdf = decoded(render_first_page(source, PDF, max_size=400))
    from_raster = decoded(render_first_page(raster, mime, max_size=400))
    assert abs(from_raster.width - from_pdf.width) <= 1
    assert abs(from_raster.height - from_pdf.height) <= 1
    from_raster = from_raster.resize(from_pdf.size)
    difference = ImageStat.Stat(ImageChops.difference(from_pdf, from_raster)).mean[0]
    assert difference < 6, f"mean difference {difference:.1f} of 255"
    assert dark(luma_at(from_raster, *RECTANGLE_CENTRE))
    assert light(luma_at(from_raster, *BLANK_SPOT))


def test_without_ghostscript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kw: None)
    for data, mime in ((pdf_document([RECTANGLE]), PDF), (postscript_bytes(1), None)):
        with pytest.raises(PreviewError, match="ghostscript is not installed"):
            render(tmp_path, data, mime)


# --------------------------------------------------------------------------------------------
# What has no preview


@pytest.mark.parametrize("mime", [None, PDF, PS, PWG, URF, JPEG, PNG, TIFF, TEXT, PCL, BINARY])
def test_empty_file(tmp_path: Path, mime: str | None) -> None:
    with pytest.raises(PreviewError, match="empty"):
        render(tmp_path, b"", mime)


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\x1bE\x1b&l0O\x1b(s0p12h10v0s0b3T Hello from PCL\x0c\x1bE", PCL),
        (b"\x1bE\x1b&l0O\x1b(s0p12h10v0s0b3T Hello from PCL\x0c\x1bE", None),
        (b"\x1bE\x1b&l0O\x1b(s0p12h10v0s0b3T Hello from PCL\x0c\x1bE", BINARY),
        (UEL + b"@PJL ENTER LANGUAGE=PCL\r\n\x1bE text", None),
        (b") HP-PCL XL;2;0;Comment\n\xd1\x58\x02\x58\x02", PCLXL),
        (b") HP-PCL XL;2;0;Comment\n\xd1\x58\x02\x58\x02", None),
        (b"\x00\x01\x02\x03 binary of no known format" * 10, None),
        (b"\x00\x01\x02\x03 binary of no known format" * 10, "application/vnd.unknown"),
        (pdf_document([RECTANGLE]), PCL),  # the declared format is the job's format
    ],
)
def test_no_preview(tmp_path: Path, data: bytes, mime: str | None) -> None:
    with pytest.raises(PreviewError) as error:
        render(tmp_path, data, mime)
    assert "preview" in str(error.value) or "not recognised" in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="cannot be read"):
        render_first_page(tmp_path / "gone", PDF)


def test_max_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render(tmp_path, b"text\n", TEXT, max_size=0)


# --------------------------------------------------------------------------------------------
# Fuzzing: only PreviewError, or a valid PNG that fits

FUZZ_MIMES = [PWG, URF, JPEG, PNG, TIFF, TEXT, PCL, BINARY, None]


def seed_documents() -> dict[str, bytes]:
    return {
        PWG: pwg_document(PWG_SPACES["srgb"], 8, 24, 12, left_half(24), more_pages=1),
        URF: urf_document(URF_SPACES["sgray"], 8, 24, 12, left_half(24), white_tail=True),
        JPEG: jpeg_bytes((24, 12)),
        PNG: image_bytes(two_tone((24, 12), "P"), "PNG"),
        TIFF: image_bytes(two_tone((24, 12), "1"), "TIFF", compression="group4"),
        TEXT: b"Hello\r\nworld\x0cpage two\n",
    }


SEEDS = seed_documents()


def check_fuzz_result(tmp_path: Path, data: bytes, mime: str | None) -> None:
    try:
        preview = render(tmp_path, data, mime, max_size=64, timeout=10)
    except PreviewError:
        return
    image = decoded(preview)
    assert 1 <= image.width <= 64 and 1 <= image.height <= 64


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=4096), st.sampled_from(FUZZ_MIMES))
def test_fuzz_arbitrary_bytes(tmp_path: Path, data: bytes, mime: str | None) -> None:
    check_fuzz_result(tmp_path, data, mime)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.integers(0, 1 << 16)),
    st.sampled_from([True, False]),
)
def test_fuzz_damaged_documents(
    tmp_path: Path,
    seed: str,
    flips: list[tuple[int, int]],
    cut: int | None,
    declared: bool,
) -> None:
    data = bytearray(SEEDS[seed])
    for where, value in flips:
        data[where % len(data)] = value
    check_fuzz_result(tmp_path, bytes(data[:cut]), seed if declared else None)
