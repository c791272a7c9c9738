"""First-page previews: a PNG image of page 1 of a spooled print document, for the web UI.

The web UI's job page shows what a job prints. Spooled documents come from untrusted clients
and can be several GB, so every route here is bounded in memory and time:

- PDF and PostScript are rendered by a ghostscript subprocess: -dSAFER, output in a private
  temporary directory, a deadline, and killed as soon as page 1 is written (PostScript has no
  page index, so ghostscript would otherwise interpret the whole job).
- PWG raster and Apple raster (URF) are decoded here from a streaming read that stops after
  page 1 and box-filters band by band, so a few MB at most are resident.
- JPEG, PNG and TIFF go through Pillow, held to the format's own plugin and a pixel limit.
- Plain text is typeset with Pillow's default font, 60 lines to an A4-proportioned page, the
  way the page counter counts it.

Anything that cannot be previewed (PCL and PCL XL, which need an interpreter mfpd does not
ship; unknown formats; damaged or truncated files; ghostscript missing or too slow) raises
`PreviewError` saying why, and no other exception. Rendering blocks (a subprocess, or
CPU-bound decoding): callers in the event loop run it in a worker thread.
"""

from __future__ import annotations

import codecs
import io
import math
import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum, IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from PIL import Image, ImageDraw, ImageFont, features

from mfpd.documents.sniff import DocumentFormat, parse_pjl_header, sniff_format

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

_HEAD_SIZE: Final = 64 * 1024  # what the sniffer and the page counter look at
_CHUNK: Final = 1 << 20

# Pillow keeps a decoded image whole; this bounds one to about 256 MB (4 bytes a pixel).
_MAX_IMAGE_PIXELS: Final = 1 << 26

# Names clients send for the formats previewed here (the page counter accepts the same).
_ALIASES: Final[dict[str, str]] = {
    "application/x-pdf": DocumentFormat.PDF,
    "application/x-postscript": DocumentFormat.POSTSCRIPT,
    "image/jpg": DocumentFormat.JPEG,
    "image/pjpeg": DocumentFormat.JPEG,
    "image/x-tiff": DocumentFormat.TIFF,
}


@dataclass(frozen=True)
class Preview:
    """A PNG image of a document's first page, fitted into the requested square."""

    png: bytes
    width: int
    height: int


class PreviewError(Exception):
    """The document cannot be previewed; the message says why, for the job page."""


@dataclass(frozen=True)
class _Document:
    path: Path
    file: BinaryIO
    format: str  # the MIME type being rendered
    head: bytes  # the first _HEAD_SIZE bytes of the file
    start: int  # where the document proper starts, after any PJL job header


def render_first_page(
    path: Path, mime: str | None = None, *, max_size: int = 800, timeout: float = 20.0
) -> Preview:
    """A PNG of the first page of the document at `path`, at most `max_size` pixels a side.

    `mime` is the job's document-format; None or application/octet-stream (or a type with no
    renderer) means the format is sniffed from the content. The image keeps the page's aspect
    ratio and is not enlarged past its natural size. Rendering stops after about `timeout`
    seconds. Raises PreviewError, and nothing else whatever the content, when the document
    cannot be previewed.
    """
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    deadline = time.monotonic() + timeout
    try:
        with Path(path).open("rb") as file:
            head = file.read(_HEAD_SIZE)
            if not head:
                raise PreviewError("the document is empty")
            fmt = _choose_format(mime, head)
            renderer = _RENDERERS.get(fmt)
            if renderer is None:
                raise PreviewError(_no_renderer(fmt))
            doc = _Document(Path(path), file, fmt, head, parse_pjl_header(head).end)
            image = renderer(doc, max_size, deadline)
    except OSError as exc:
        raise PreviewError(f"the document cannot be read: {exc.strerror or exc}") from exc
    return _encode(image, max_size)


def _choose_format(mime: str | None, head: bytes) -> str:
    # A declared format is the job's format, as the page counter takes it: a PDF sent as PCL
    # prints as PCL. Only a missing, generic or unknown type is decided by the content.
    if mime is not None:
        name = mime.split(";", 1)[0].strip().lower()
        name = _ALIASES.get(name, name)
        if name in _RENDERERS or name in (DocumentFormat.PCL, DocumentFormat.PCLXL):
            return name
    return sniff_format(head)


def _no_renderer(fmt: str) -> str:
    if fmt == DocumentFormat.OCTET_STREAM:
        return "the document format is not recognised"
    return f"{fmt} documents have no preview"


def _fit(width: float, height: float, max_size: int) -> tuple[int, int]:
    """The size that fits in `max_size` square with the same aspect ratio, never enlarged."""
    scale = min(1.0, max_size / width, max_size / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _encode(image: Image.Image, max_size: int) -> Preview:
    size = _fit(image.width, image.height, max_size)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG")
    return Preview(out.getvalue(), image.width, image.height)


# --------------------------------------------------------------------------------------------
# Images: JPEG, PNG, TIFF through Pillow


class _Window(io.RawIOBase):
    """The file from `start` on, as a file of its own: Pillow seeks to 0 before it reads, and
    a PJL job header may come before the image."""

    def __init__(self, file: BinaryIO, start: int) -> None:
        super().__init__()
        self._file = file
        self._start = start
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        self._file.seek(self._start + self._pos)
        data = self._file.read(len(view))
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            offset += os.fstat(self._file.fileno()).st_size - self._start
        if offset < 0:
            raise OSError("seek before the start of the image")
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos


_PILLOW_PLUGINS: Final[dict[str, str]] = {
    DocumentFormat.JPEG: "JPEG",
    DocumentFormat.PNG: "PNG",
    DocumentFormat.TIFF: "TIFF",
}


def _render_image(doc: _Document, max_size: int, deadline: float) -> Image.Image:
    source: BinaryIO = doc.file
    if doc.start:
        source = io.BufferedReader(_Window(doc.file, doc.start))
    # Clients mislabel images, so any of the three plugins may read the file, but no other:
    # Pillow's EPS plugin, for one, would run ghostscript outside our deadline.
    plugins = [_PILLOW_PLUGINS[doc.format], *_PILLOW_PLUGINS.values()]
    # Pillow raises a wide, undocumented set of exceptions on damaged input (OSError,
    # SyntaxError, ValueError, EOFError, struct.error, IndexError...): each one means the
    # image cannot be decoded.
    try:
        with Image.open(source, formats=list(dict.fromkeys(plugins))) as image:
            # JPEG decodes at 1/2, 1/4 or 1/8 scale for free: a 50 MP photo costs 1 MP.
            image.draft(image.mode, (max_size, max_size))
            if image.width * image.height > _MAX_IMAGE_PIXELS:
                raise PreviewError(f"the image is too large to preview ({image.size})")
            image.load()
            return _flatten(_upright(image))
    except PreviewError:
        raise
    except Exception as exc:
        raise PreviewError(f"the image cannot be decoded: {exc}") from exc


# Exif (CIPA DC-008) Orientation, tag 0x0112: the transpose that shows a photo upright, as
# the camera that took it meant.
_ORIENTATION: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright(image: Image.Image) -> Image.Image:
    orientation = image.getexif().get(0x0112)
    if isinstance(orientation, int) and orientation in _ORIENTATION:
        return image.transpose(_ORIENTATION[orientation])
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """The pixels as they would print on white paper, in mode L or RGB."""
    if image.mode in ("1", "L"):
        return image.convert("L")
    if image.mode.startswith("I"):  # 16- and 32-bit grey: keep the top 8 bits
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode == "F":
        return image.convert("L")
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        paper.alpha_composite(image.convert("RGBA"))
        return paper.convert("RGB")
    return image.convert("RGB")


# --------------------------------------------------------------------------------------------
# Plain text

_LINES_PER_PAGE: Final = 60  # as pages.count_pages counts text by default
_A4_MM: Final = (210, 297)
_MAX_COLUMNS: Final = 250  # past the right edge at any font size
_TAB: Final = 8
# Controls that move nothing on a page (C0 but tab and CR, DEL, C1): dropped before drawing.
_INVISIBLE: Final = dict.fromkeys([*range(0x09), *range(0x0A, 0x0D), *range(0x0E, 0x20)]) | (
    dict.fromkeys(range(0x7F, 0xA0))
)


def _render_text(doc: _Document, max_size: int, deadline: float) -> Image.Image:
    """The first page: the text before the first form feed, at most 60 lines of it. A CR
    without LF returns the carriage, so what follows it overprints the line."""
    page = doc.head[doc.start :].split(b"\x0c", 1)[0]
    lines = _decode_text(page).replace("\r\n", "\n").split("\n")[:_LINES_PER_PAGE]
    height = max_size
    width = max(1, round(max_size * _A4_MM[0] / _A4_MM[1]))
    margin = height / 20
    pitch = (height - 2 * margin) / _LINES_PER_PAGE
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = _default_font(pitch * 0.8)
    # FreeType is given text from the network here; any failure of it means no preview.
    try:
        for number, line in enumerate(lines):
            y = margin + number * pitch
            for part in line.split("\r"):
                text = part.expandtabs(_TAB).translate(_INVISIBLE)[:_MAX_COLUMNS]
                if text.strip():
                    draw.text((margin, y), text, fill=0, font=font)
    except Exception as exc:
        raise PreviewError(f"the text cannot be drawn: {exc}") from exc
    return image


def _decode_text(data: bytes) -> str:
    """UTF-8 (a BOM dropped, a sequence cut by the end of the head forgiven), else Latin-1:
    the sniffer calls 8-bit text without valid UTF-8 legacy text."""
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=False)
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _default_font(size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Without FreeType, Pillow only has its fixed-size bitmap font.
    if features.check_module("freetype2"):
        return ImageFont.load_default(max(1.0, size))
    return ImageFont.load_default()


# --------------------------------------------------------------------------------------------
# Raster: PWG 5102.4 and Apple URF


class _Ink(Enum):
    """How a raster colour space's samples map to paper: which value is white, which mode."""

    GRAY = "L"  # additive: 0 is black
    BLACK = "L;I"  # subtractive: 0 is white
    RGB = "RGB"
    CMYK = "CMYK"  # subtractive: all 0 is white


class _PwgColorSpace(IntEnum):
    """PWG 5102.4 page header "ColorSpace" values that have a preview (the numbers are CUPS's
    cups_cspace_t, whose header layout PWG raster shares; W and RGB occur in CUPS raster)."""

    W = 0  # device grey
    RGB = 1  # device RGB
    K = 3  # black
    CMYK = 6
    SGRAY = 18  # sgray
    SRGB = 19  # srgb
    ADOBE_RGB = 20  # adobe-rgb


_PWG_INKS: Final[dict[int, tuple[_Ink, int]]] = {
    _PwgColorSpace.W: (_Ink.GRAY, 1),
    _PwgColorSpace.RGB: (_Ink.RGB, 3),
    _PwgColorSpace.K: (_Ink.BLACK, 1),
    _PwgColorSpace.CMYK: (_Ink.CMYK, 4),
    _PwgColorSpace.SGRAY: (_Ink.GRAY, 1),
    _PwgColorSpace.SRGB: (_Ink.RGB, 3),
    _PwgColorSpace.ADOBE_RGB: (_Ink.RGB, 3),
}


class _UrfColorSpace(IntEnum):
    """Apple raster page header byte 1 (no public specification: the values libcups's
    raster-stream.c reads and writes; 2, RGBW, has no preview)."""

    SGRAY = 0
    SRGB = 1
    ADOBE_RGB = 3
    W = 4
    RGB = 5
    CMYK = 6


_URF_INKS: Final[dict[int, tuple[_Ink, int]]] = {
    _UrfColorSpace.SGRAY: (_Ink.GRAY, 1),
    _UrfColorSpace.SRGB: (_Ink.RGB, 3),
    _UrfColorSpace.ADOBE_RGB: (_Ink.RGB, 3),
    _UrfColorSpace.W: (_Ink.GRAY, 1),
    _UrfColorSpace.RGB: (_Ink.RGB, 3),
    _UrfColorSpace.CMYK: (_Ink.CMYK, 4),
}

# PWG 5102.4 "Page Header": 1796 bytes, big-endian. HWResolution (2 x uint32) at 276;
# at 372 cupsWidth, cupsHeight, cupsMediaType, cupsBitsPerColor, cupsBitsPerPixel,
# cupsBytesPerLine, cupsColorOrder, cupsColorSpace (uint32 each); cupsNumColors at 420.
_PWG_HEADER_SIZE: Final = 1796
_PWG_RESOLUTION_AT: Final = 276
_PWG_FIELDS_AT: Final = 372
# CUPS raster v2 (compressed) and v3 (not), in either byte order, share the layout.
_PWG_SYNCS: Final[dict[bytes, tuple[str, bool]]] = {
    b"RaS2": (">", True),
    b"2SaR": ("<", True),
    b"RaS3": (">", False),
    b"3SaR": ("<", False),
}

# Apple raster, as libcups reads and writes it: "UNIRAST\0", a uint32 page count, then per
# page a 32-byte header (bits per pixel, colour space, duplex, quality, 8 bytes, then uint32
# width, height and resolution, 8 bytes) and rows compressed as in PWG raster. Big-endian.
_URF_MAGIC: Final = b"UNIRAST\x00"
_URF_PAGE_HEADER_SIZE: Final = 32

_MAX_WIDTH: Final = 1 << 17  # pixels: 11 m at 300 dpi, past any roll printer
_BAND_BUDGET: Final = 8 << 20  # bytes of decoded rows held at once


@dataclass(frozen=True)
class _RasterPage:
    """A raster page's geometry and pixel format, as its page header gives them."""

    width: int
    height: int
    ink: _Ink
    colors: int  # samples per pixel
    bits: int  # bits per sample: 1, 8 or 16
    x_dpi: int
    y_dpi: int
    compressed: bool = True
    little_endian: bool = False  # 16-bit samples of a byte-swapped CUPS raster stream

    @property
    def line_bytes(self) -> int:
        return (self.width * self.colors * self.bits + 7) // 8

    @property
    def unit(self) -> int:
        """Bytes of one pixel, the unit of the compression's runs."""
        return max(1, self.colors * self.bits // 8)

    @property
    def white(self) -> int:
        """The byte value that is white in every sample, for the compression's fill code."""
        return 0 if self.ink in (_Ink.BLACK, _Ink.CMYK) else 0xFF


def _parse_pwg_header(header: bytes, *, little_endian: bool = False) -> _RasterPage:
    """A PWG (or CUPS v2/v3) page header; PreviewError if it is short, inconsistent or in a
    pixel format without a preview (banded or planar order, device-N colour, 2 or 4 bits)."""
    if len(header) < _PWG_HEADER_SIZE:
        raise PreviewError("the raster page header is truncated")
    order = "<" if little_endian else ">"
    x_dpi, y_dpi = struct.unpack_from(order + "2I", header, _PWG_RESOLUTION_AT)
    width, height, _media, bits, bits_per_pixel, line_bytes, color_order, space = (
        struct.unpack_from(order + "8I", header, _PWG_FIELDS_AT)
    )
    if space not in _PWG_INKS:
        raise PreviewError(f"PWG raster colour space {space} has no preview")
    if color_order != 0:
        raise PreviewError("banded and planar PWG raster have no preview")
    ink, colors = _PWG_INKS[space]
    page = _RasterPage(width, height, ink, colors, bits, x_dpi, y_dpi, little_endian=little_endian)
    _check_raster_page(page, bits_per_pixel, line_bytes)
    return page


def _parse_urf_header(header: bytes) -> _RasterPage:
    """An Apple raster page header; PreviewError as for `_parse_pwg_header`."""
    if len(header) < _URF_PAGE_HEADER_SIZE:
        raise PreviewError("the raster page header is truncated")
    bits_per_pixel, space = header[0], header[1]
    width, height, dpi = struct.unpack_from(">3I", header, 12)
    if bits_per_pixel == 1:
        # Not an Apple format: CUPS and ghostscript write 1-bit black (cupsColorSpace K) this
        # way, with the colour space byte 0 because URF has no code for K.
        ink, colors = _Ink.BLACK, 1
    elif space in _URF_INKS:
        ink, colors = _URF_INKS[space]
    else:
        raise PreviewError(f"Apple raster colour space {space} has no preview")
    bits = bits_per_pixel // colors
    page = _RasterPage(width, height, ink, colors, bits, dpi, dpi)
    _check_raster_page(page, bits_per_pixel, page.line_bytes)
    return page


def _check_raster_page(page: _RasterPage, bits_per_pixel: int, line_bytes: int) -> None:
    if not 0 < page.width <= _MAX_WIDTH or page.height <= 0:
        raise PreviewError(f"the raster page size {page.width}x{page.height} is out of range")
    if page.bits not in (1, 8, 16) or (page.bits == 1 and page.colors != 1):
        raise PreviewError(f"{page.bits}-bit raster samples have no preview")
    if bits_per_pixel != page.bits * page.colors or line_bytes != page.line_bytes:
        raise PreviewError("the raster page header is inconsistent")


class _Reader:
    """A forward reader over the file from an offset, holding about one chunk."""

    def __init__(self, file: BinaryIO, start: int) -> None:
        self.file = file
        self.buf = b""
        self.pos = 0
        self.eof = False
        file.seek(start)

    def fill(self, count: int) -> None:
        """Make `count` bytes available at `pos`, or as many as are left in the file."""
        while len(self.buf) - self.pos < count and not self.eof:
            data = self.file.read(max(_CHUNK, count))
            self.eof = not data
            self.buf = self.buf[self.pos :] + data
            self.pos = 0

    def take(self, count: int) -> bytes:
        self.fill(count)
        data = self.buf[self.pos : self.pos + count]
        if len(data) < count:
            raise _truncated()
        self.pos += count
        return data


def _truncated() -> PreviewError:
    return PreviewError("the raster data ends inside the first page")


def _unpack_line(reader: _Reader, line_bytes: int, unit: int, white: bytes) -> bytes:
    """One row of PWG 5102.4 compressed page data (URF copies it), after its repeat byte:
    0-127 repeats the next pixel n+1 times, 129-255 copies 257-n pixels, and 128 (used by
    URF writers) fills the rest of the row with white. A run that overshoots the row is cut
    to fit, as libcups does."""
    parts: list[bytes] = []
    append = parts.append
    filled = 0
    need = 1 + 128 * unit  # the most one run can take
    buf, pos = reader.buf, reader.pos
    safe = len(buf) - need  # up to here, a whole run is in `buf`: no bounds checks
    while filled < line_bytes:
        if pos > safe:
            if not reader.eof:
                reader.pos = pos
                reader.fill(need)
                buf, pos = reader.buf, reader.pos
                safe = len(buf) - need
            if pos >= len(buf):
                raise _truncated()
        code = buf[pos]
        if code < 128:
            count = code + 1
            if count * unit > line_bytes - filled:
                count = (line_bytes - filled) // unit
            append(buf[pos + 1 : pos + 1 + unit] * count)
            filled += count * unit
            pos += 1 + unit
        elif code > 128:
            size = (257 - code) * unit
            if size > line_bytes - filled:
                size = line_bytes - filled
            append(buf[pos + 1 : pos + 1 + size])
            filled += size
            pos += 1 + size
        else:
            append(white * (line_bytes - filled))
            filled = line_bytes
            pos += 1
    if pos > len(buf):  # the last run was cut short by the end of the file
        raise _truncated()
    reader.pos = pos
    return b"".join(parts)


class _Downsampler:
    """Turns full-size rows into a box-filtered image a little larger than the preview,
    holding at most `_BAND_BUDGET` bytes of rows: rows are gathered into bands whose height
    is a multiple of the vertical factor, and each band is reduced as soon as it is full.
    Pages so wide and tall that even one reduction group would not fit are sampled: only
    every `step`-th row is kept."""

    def __init__(self, page: _RasterPage, target: tuple[int, int]) -> None:
        self.page = page
        self.fx = max(1, page.width // target[0])
        factor_y = max(1, page.height // target[1])
        row_cost = page.line_bytes + page.width * 4  # the bytes, and Pillow's copy of them
        self.step = max(1, math.ceil(factor_y * row_cost / _BAND_BUDGET))
        self.fy = max(1, factor_y // self.step)
        groups = max(1, min(64, _BAND_BUDGET // (self.fy * row_cost)))
        self.band_rows = self.fy * groups
        kept = -(-page.height // self.step)
        size = (-(-page.width // self.fx), -(-kept // self.fy))
        self.image = Image.new("L" if page.colors == 1 else "RGB", size, 255)
        self.rows: list[bytes] = []
        self.y = 0  # next row of the page
        self.out_y = 0  # next row of self.image

    def add(self, row: bytes, repeat: int) -> None:
        """`row` is the next `repeat` rows of the page (fewer if the page ends first)."""
        repeat = min(repeat, self.page.height - self.y)
        step = self.step
        kept = (self.y + repeat + step - 1) // step - (self.y + step - 1) // step
        self.y += repeat
        while kept:
            take = min(kept, self.band_rows - len(self.rows))
            self.rows.extend([row] * take)
            kept -= take
            if len(self.rows) == self.band_rows:
                self._flush()

    def finish(self) -> Image.Image:
        if self.rows:
            self._flush()
        return self.image

    def _flush(self) -> None:
        page = self.page
        data = b"".join(self.rows)
        if page.bits == 16:
            # Keep the high byte of each sample: 8 bits a colour are plenty on a screen.
            data = data[1 if page.little_endian else 0 :: 2]
        size = (page.width, len(self.rows))
        if page.bits == 1:
            raw = "1;I" if page.ink is _Ink.BLACK else "1"
            band = Image.frombytes("1", size, data, "raw", raw).convert("L")
        else:
            mode = "L" if page.colors == 1 else page.ink.value
            band = Image.frombytes(mode, size, data, "raw", page.ink.value)
            if band.mode == "CMYK":
                band = band.convert("RGB")
        band = band.reduce((self.fx, self.fy))
        self.image.paste(band, (0, self.out_y))
        self.out_y += band.height
        self.rows = []


def _decode_raster(
    reader: _Reader, page: _RasterPage, max_size: int, deadline: float
) -> Image.Image:
    # Pixels need not be square (600x300 dpi): the preview shows the page's real shape.
    x_dpi, y_dpi = (page.x_dpi, page.y_dpi) if page.x_dpi and page.y_dpi else (1, 1)
    dpi = min(x_dpi, y_dpi)
    natural = (page.width * dpi / x_dpi, page.height * dpi / y_dpi)
    target = _fit(*natural, max_size)
    sampler = _Downsampler(page, target)
    line_bytes, unit, white = page.line_bytes, page.unit, bytes([page.white])
    while sampler.y < page.height:
        if time.monotonic() > deadline:
            raise PreviewError("decoding the raster took too long")
        if page.compressed:
            repeat = reader.take(1)[0] + 1
            sampler.add(_unpack_line(reader, line_bytes, unit, white), repeat)
        else:
            sampler.add(reader.take(line_bytes), 1)
    image = sampler.finish()
    return image.resize(target, Image.Resampling.LANCZOS) if image.size != target else image


def _render_pwg(doc: _Document, max_size: int, deadline: float) -> Image.Image:
    reader = _Reader(doc.file, doc.start)
    reader.fill(4 + _PWG_HEADER_SIZE)
    sync = reader.buf[:4]
    if sync not in _PWG_SYNCS:
        raise PreviewError("the document is not PWG raster (no RaS2 sync word)")
    byte_order, compressed = _PWG_SYNCS[sync]
    header = reader.buf[4 : 4 + _PWG_HEADER_SIZE]
    if not header:
        raise PreviewError("the PWG raster document has no pages")
    page = _parse_pwg_header(header, little_endian=byte_order == "<")
    reader.pos = 4 + _PWG_HEADER_SIZE
    page = replace(page, compressed=compressed)
    return _decode_raster(reader, page, max_size, deadline)


def _render_urf(doc: _Document, max_size: int, deadline: float) -> Image.Image:
    reader = _Reader(doc.file, doc.start)
    # The page count after the magic is 0 when the writer streams (ghostscript does), and
    # only page 1 matters here: it is not read.
    first_page = len(_URF_MAGIC) + 4
    reader.fill(first_page + _URF_PAGE_HEADER_SIZE)
    if not reader.buf.startswith(_URF_MAGIC):
        raise PreviewError("the document is not Apple raster (no UNIRAST header)")
    header = reader.buf[first_page : first_page + _URF_PAGE_HEADER_SIZE]
    if not header:
        raise PreviewError("the Apple raster document has no pages")
    page = _parse_urf_header(header)
    reader.pos = first_page + _URF_PAGE_HEADER_SIZE
    return _decode_raster(reader, page, max_size, deadline)


# --------------------------------------------------------------------------------------------
# PDF and PostScript through ghostscript

# The first render assumes A4 (its long side, in points) fits max_size exactly; pages much
# larger are rendered again at a resolution computed from the first render's size.
_A4_LONG_SIDE_PT: Final = 841.89
_GS_MIN_DPI: Final = 4.0  # ghostscript 10 fails (rangecheck in setscreen) below about 2
_GS_MAX_DPI: Final = 600.0
_GS_POLL: Final = 0.05  # seconds between looks at whether page 1 is written
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_IEND: Final = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # ISO/IEC 15948 §11.2.5, empty IEND chunk


def _render_ghostscript(doc: _Document, max_size: int, deadline: float) -> Image.Image:
    gs = shutil.which("gs")
    if gs is None:
        raise PreviewError("ghostscript is not installed")
    source = doc.path.absolute()  # never mistaken for an option or a %device% name
    dpi = _clamp_dpi(max_size * 72 / _A4_LONG_SIDE_PT)
    with tempfile.TemporaryDirectory(prefix="mfpd-preview-") as tmp:
        page = _run_ghostscript(gs, source, Path(tmp) / "first", dpi, deadline)
        width, height = _png_size(page)
        if max(width, height) > 2 * max_size and dpi > _GS_MIN_DPI:
            dpi = _clamp_dpi(dpi * max_size / max(width, height))
            page = _run_ghostscript(gs, source, Path(tmp) / "again", dpi, deadline)
            width, height = _png_size(page)
        if width * height > _MAX_IMAGE_PIXELS:
            raise PreviewError(f"the first page is too large to preview ({width}x{height})")
        try:
            with Image.open(page, formats=["PNG"]) as image:
                return image.convert("RGB")
        except Exception as exc:  # see _render_image
            raise PreviewError(f"ghostscript's page image cannot be read: {exc}") from exc


def _clamp_dpi(dpi: float) -> float:
    return min(_GS_MAX_DPI, max(_GS_MIN_DPI, dpi))


def _run_ghostscript(gs: str, source: Path, out_dir: Path, dpi: float, deadline: float) -> Path:
    """Render page 1 of `source` to a PNG in `out_dir` and return its path."""
    out_dir.mkdir()
    first = out_dir / "page-1.png"
    command = [
        gs,
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOPROMPT",
        "-dFirstPage=1",
        "-dLastPage=1",
        "-sDEVICE=png16m",
        f"-r{dpi:.3f}",
        "-dTextAlphaBits=4",
        "-dGraphicsAlphaBits=4",
        "-sstdout=%stderr",  # a document's `print` output must not mix with anything of ours
        # %d numbers the pages; a % in the temporary directory's name must not.
        "-sOutputFile=" + str(out_dir).replace("%", "%%") + "/page-%d.png",
        str(source),
    ]
    # GS_OPTIONS from the daemon's environment would be added to every run (-dNOSAFER, say).
    env = {name: value for name, value in os.environ.items() if name != "GS_OPTIONS"}
    log = out_dir / "gs.log"
    timed_out = False
    with log.open("wb") as errors:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=env,
            )
        except OSError as exc:
            raise PreviewError(f"ghostscript cannot be started: {exc}") from exc
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                try:
                    process.wait(timeout=min(_GS_POLL, left))
                    break
                except subprocess.TimeoutExpired:
                    pass
                # -dLastPage=1 stops output, not interpretation: a PostScript job runs on
                # through every later page unless stopped once page 1 is complete.
                if _png_complete(first):
                    break
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    if _png_complete(first):
        return first  # even if ghostscript failed on a later page
    if timed_out:
        raise PreviewError("ghostscript took too long to render the first page")
    raise _no_page(log)


def _no_page(log: Path) -> PreviewError:
    lines = [line.strip() for line in log.read_text("utf-8", "replace").splitlines()]
    errors = [line for line in lines if line.lstrip("* ").startswith(("Error", "Unrecoverable"))]
    reason = (errors or [line for line in lines if line] or ["no output"])[0]
    return PreviewError(f"ghostscript rendered no page: {reason[:200]}")


def _png_complete(path: Path) -> bool:
    """Whether `path` holds a whole PNG: its last chunk, IEND, is written last."""
    try:
        with path.open("rb") as file:
            if file.read(8) != _PNG_SIGNATURE:
                return False
            file.seek(-len(_PNG_IEND), os.SEEK_END)
            return file.read() == _PNG_IEND
    except OSError:
        return False


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk (ISO/IEC 15948 §11.2.2), without decoding: a
    poster page can be too large for Pillow to open at all."""
    with path.open("rb") as file:
        header = file.read(24)
    if len(header) < 24 or header[12:16] != b"IHDR":
        raise PreviewError("ghostscript wrote a damaged page image")
    width, height = struct.unpack_from(">II", header, 16)
    if not width or not height:
        raise PreviewError("ghostscript wrote an empty page image")
    return int(width), int(height)


# --------------------------------------------------------------------------------------------
# Dispatch

_RENDERERS: Final[dict[str, Callable[[_Document, int, float], Image.Image]]] = {
    DocumentFormat.PDF: _render_ghostscript,
    DocumentFormat.POSTSCRIPT: _render_ghostscript,
    DocumentFormat.PWG_RASTER: _render_pwg,
    DocumentFormat.URF: _render_urf,
    DocumentFormat.JPEG: _render_image,
    DocumentFormat.PNG: _render_image,
    DocumentFormat.TIFF: _render_image,
    DocumentFormat.TEXT: _render_text,
}
