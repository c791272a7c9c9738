"""The scanner's generated test chart: what lies on the glass when no file was loaded.

The chart is drawn in the glass's physical coordinates (1/300 inch from the top-left corner,
eSCL's ThreeHundredthsOfInches), so a scan of any region at any resolution shows the part of
the chart that lies there, and a client can check the geometry it got: a feature at `u`
units appears at pixel `round((u - region.x) * dpi / 300)`. The tables below (MARKS,
GRAY_RAMP, COLOR_PATCHES, LABEL_BOX) are the contract for tests here and for the SANE tests
of the eSCL server; `pixel_box()` turns one into the pixel rectangle of a given scan.

Drawing a 600 dpi A4 page costs far more than scanning it should, so the finished page (cut,
at the resolution, adjusted, in the colour mode) is cached per settings, and each image only
gets its own label (device, serial, time, job, image, side) pasted on a copy.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageDraw, ImageFont, features

from mfpd.device.scan_settings import PLATEN_MAX, UNITS_PER_INCH, ScanSettings

INCH: Final = UNITS_PER_INCH
MM: Final = UNITS_PER_INCH / 25.4

RGB = tuple[int, int, int]
WHITE: Final[RGB] = (255, 255, 255)
BLACK: Final[RGB] = (0, 0, 0)


@dataclass(frozen=True)
class Patch:
    """A filled rectangle of the chart, in 1/300 inch from the glass's top-left corner."""

    name: str
    x: int
    y: int
    width: int
    height: int
    rgb: RGB

    @property
    def gray(self) -> int:
        """The patch's value in a Grayscale8 scan (ITU-R 601-2 luma, as Pillow converts)."""
        return luma(self.rgb)


def luma(rgb: RGB) -> int:
    r, g, b = rgb
    return (r * 299 + g * 587 + b * 114 + 500) // 1000


# Registration marks: solid black squares of exactly half an inch at fixed places, far enough
# apart (6 x 9 inches) to measure scale in both directions, and not symmetric, so a rotated or
# mirrored image shows.
MARK_SIZE: Final = INCH // 2
MARKS: Final = (
    Patch("mark-1in-1in", 1 * INCH, 1 * INCH, MARK_SIZE, MARK_SIZE, BLACK),
    Patch("mark-7in-10in", 7 * INCH, 10 * INCH, MARK_SIZE, MARK_SIZE, BLACK),
)

# The grey ramp: 11 patches, 0 % to 100 % ink in steps of 10 %, half an inch square each;
# the level is 255 * (1 - ink) rounded half up (255, 230, 204, 179, ..., 26, 0).
GRAY_RAMP: Final = tuple(
    Patch(
        f"gray-{step * 10}",
        1 * INCH + step * INCH // 2,
        2 * INCH,
        INCH // 2,
        INCH // 2,
        ((255 * (10 - step) + 5) // 10,) * 3,
    )
    for step in range(11)
)

# Colour patches with exact sRGB values, 3/4 inch square each.
_COLORS: Final[tuple[tuple[str, RGB], ...]] = (
    ("red", (255, 0, 0)),
    ("green", (0, 255, 0)),
    ("blue", (0, 0, 255)),
    ("cyan", (0, 255, 255)),
    ("magenta", (255, 0, 255)),
    ("yellow", (255, 255, 0)),
    ("black", (0, 0, 0)),
)
COLOR_PATCHES: Final = tuple(
    Patch(name, 1 * INCH + i * 3 * INCH // 4, 3 * INCH, 3 * INCH // 4, 3 * INCH // 4, rgb)
    for i, (name, rgb) in enumerate(_COLORS)
)

# Where each image's own label goes (white, with black text); nothing else is drawn there.
LABEL_BOX: Final = Patch("label", 1 * INCH, 17 * INCH // 4, 6 * INCH, 6 * INCH // 5, WHITE)

# The rulers: bands along the top and left edges of the glass. Inch ticks (every 1/10 inch,
# numbered every inch) hang from the glass edge; millimetre ticks stand on the band's inner
# edge, numbered every centimetre.
RULER_BAND: Final = INCH * 4 // 5
# A circle and its cross: a quick look shows whether the scale is the same both ways.
CIRCLE_CENTER: Final = (4 * INCH, 15 * INCH // 2)
CIRCLE_RADIUS: Final = 3 * INCH // 2

TITLE: Final = "mfpd scanner test chart"


def pixel(units: float, origin: int, dpi: int) -> int:
    """The pixel at which a position `units` (1/300 inch) on the glass appears in a scan
    whose region starts at `origin` on the same axis."""
    return round((units - origin) * dpi / UNITS_PER_INCH)


def pixel_box(patch: Patch, settings: ScanSettings) -> tuple[int, int, int, int]:
    """The patch as (left, top, right, bottom) pixels of a scan with these settings; right
    and bottom are exclusive, and may lie outside the image when the region cuts the patch."""
    r, dpi = settings.region, settings.resolution
    return (
        pixel(patch.x, r.x, dpi),
        pixel(patch.y, r.y, dpi),
        pixel(patch.x + patch.width, r.x, dpi),
        pixel(patch.y + patch.height, r.y, dpi),
    )


@dataclass(frozen=True)
class ChartLabel:
    """What the label of one chart image says."""

    device: str
    serial: str
    job_id: int
    image: int  # 1-based
    side: str  # "front" or "back"
    when: float  # seconds since the epoch

    def lines(self) -> tuple[str, str, str]:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.when))
        return (
            f"{self.device}   S/N {self.serial}",
            stamp,
            f"Job {self.job_id}   Image {self.image}   Side {self.side}",
        )


# --------------------------------------------------------------------------------------------
# Drawing


# A FreeType face is not safe to use from two threads at once, and the runner draws labels
# in worker threads; the fonts are shared (cached), so drawing text takes this lock.
_FONT_LOCK: Final = threading.Lock()


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's embedded scalable font (FreeType); the fixed bitmap font where FreeType is
    # missing still draws something legible.
    if features.check("freetype2"):
        return ImageFont.load_default(max(6, size))
    return ImageFont.load_default()


class _Canvas:
    """Draws in glass units onto the pixels of one region at one resolution."""

    def __init__(self, image: Image.Image, origin: tuple[int, int], dpi: int) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.origin = origin
        self.dpi = dpi
        self._ink: Callable[[RGB], int | RGB] = (lambda rgb: rgb) if image.mode == "RGB" else luma

    def px(self, x: float, y: float) -> tuple[int, int]:
        return pixel(x, self.origin[0], self.dpi), pixel(y, self.origin[1], self.dpi)

    def visible(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        left, top = self.px(x0, y0)
        right, bottom = self.px(x1, y1)
        return right >= 0 and bottom >= 0 and left <= self.image.width and top <= self.image.height

    def rect(self, x: float, y: float, w: float, h: float, rgb: RGB) -> None:
        if not self.visible(x, y, x + w, y + h):
            return
        left, top = self.px(x, y)
        right, bottom = self.px(x + w, y + h)
        if right > left and bottom > top:
            self.draw.rectangle((left, top, right - 1, bottom - 1), fill=self._ink(rgb))

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float) -> None:
        """A black axis-aligned line from (x0, y0) to (x1, y1), `width` units thick (at least
        one pixel), the thickness to the right of or below it."""
        if not self.visible(min(x0, x1), min(y0, y1), max(x0, x1) + width, max(y0, y1) + width):
            return
        stroke = max(1, round(width * self.dpi / UNITS_PER_INCH))
        left, top = self.px(min(x0, x1), min(y0, y1))
        right, bottom = self.px(max(x0, x1), max(y0, y1))
        if x0 == x1:
            right = left + stroke
        else:
            bottom = top + stroke
        self.draw.rectangle((left, top, right - 1, bottom - 1), fill=self._ink(BLACK))

    def text(self, x: float, y: float, text: str, size: float, anchor: str = "la") -> None:
        px_size = round(size * self.dpi / UNITS_PER_INCH)
        # Skip text the region cannot show; the chart's strings are under 40 characters of
        # at most one size wide, whichever way the anchor puts them.
        if not self.visible(x - 40 * size, y - 2 * size, x + 40 * size, y + 2 * size):
            return
        with _FONT_LOCK:
            self.draw.text(
                self.px(x, y), text, fill=self._ink(BLACK), font=_font(px_size), anchor=anchor
            )

    def ellipse(self, cx: float, cy: float, radius: float, width: float) -> None:
        if not self.visible(cx - radius, cy - radius, cx + radius, cy + radius):
            return
        left, top = self.px(cx - radius, cy - radius)
        right, bottom = self.px(cx + radius, cy + radius)
        stroke = max(1, round(width * self.dpi / UNITS_PER_INCH))
        self.draw.ellipse(
            (left, top, right - 1, bottom - 1), outline=self._ink(BLACK), width=stroke
        )


_THIN: Final = 1.5  # a tick's thickness: 1/200 inch (1 pixel at 75-200 dpi, 3 at 600)
_NUMBER_SIZE: Final = 33  # 0.11 inch text


def _draw_rulers(canvas: _Canvas) -> None:
    glass_w, glass_h = PLATEN_MAX
    band = RULER_BAND
    # The corner where the bands cross belongs to the top ruler; the left one starts below.
    # Inch scales: ticks every 1/10 inch, longer at 1/2, longest (and numbered) at 1.
    for tenth in range(glass_h * 10 // INCH + 1):
        at = tenth * INCH / 10
        length = INCH * (0.3 if tenth % 10 == 0 else 0.2 if tenth % 5 == 0 else 0.12)
        number = str(tenth // 10) if tenth % 10 == 0 and tenth else ""
        if at <= glass_w:
            canvas.line(at, 0, at, length, _THIN)
            if number:
                canvas.text(at + 6, INCH * 0.31, number, _NUMBER_SIZE)
        if at >= band:
            canvas.line(0, at, length, at, _THIN)
            if number:
                canvas.text(INCH * 0.31, at + 6, number, _NUMBER_SIZE)
    # Millimetre scales on the inner side of each band: ticks every mm, longer at 5, longest
    # (and numbered in cm) at 10.
    for mm in range(round(glass_h / MM) + 1):
        at = mm * MM
        length = INCH * (0.22 if mm % 10 == 0 else 0.15 if mm % 5 == 0 else 0.08)
        number = str(mm // 10) if mm % 10 == 0 and mm else ""
        if at <= glass_w:
            canvas.line(at, band - length, at, band, _THIN)
            if number:
                canvas.text(at + 6, band - INCH * 0.22, number, _NUMBER_SIZE, "lb")
        if at >= band:
            canvas.line(band - length, at, band, at, _THIN)
            if number:
                canvas.text(band - INCH * 0.22, at + 6, number, _NUMBER_SIZE, "rt")
    canvas.line(0, band, glass_w, band, _THIN)
    canvas.line(band, band, band, glass_h, _THIN)
    canvas.text(20, INCH * 0.31, "in", _NUMBER_SIZE)
    canvas.text(20, band - INCH * 0.22, "cm", _NUMBER_SIZE, "lb")


def _draw_chart(canvas: _Canvas) -> None:
    _draw_rulers(canvas)
    for patch in (*MARKS, *GRAY_RAMP, *COLOR_PATCHES):
        canvas.rect(patch.x, patch.y, patch.width, patch.height, patch.rgb)
    # Outline the ramp so its white end shows where it is.
    first, last = GRAY_RAMP[0], GRAY_RAMP[-1]
    right = last.x + last.width
    canvas.line(first.x, first.y - 3, right, first.y - 3, 3)
    canvas.line(first.x, first.y + first.height, right, first.y + first.height, 3)
    canvas.line(first.x - 3, first.y - 3, first.x - 3, first.y + first.height + 3, 3)
    for patch in GRAY_RAMP:
        canvas.text(
            patch.x + patch.width / 2, patch.y + patch.height + 12, patch.name[5:], 30, "ma"
        )
    for patch in COLOR_PATCHES:
        canvas.text(patch.x + patch.width / 2, patch.y + patch.height + 12, patch.name, 30, "ma")
    canvas.text(1.75 * INCH, 1.25 * INCH, TITLE, 60, "lm")
    cx, cy = CIRCLE_CENTER
    canvas.ellipse(cx, cy, CIRCLE_RADIUS, 6)
    canvas.line(cx - CIRCLE_RADIUS, cy, cx + CIRCLE_RADIUS, cy, 3)
    canvas.line(cx, cy - CIRCLE_RADIUS, cx, cy + CIRCLE_RADIUS, 3)


def draw_chart(settings: ScanSettings, mode: str) -> Image.Image:
    """The chart as the region of `settings` shows it at its resolution, in mode L or RGB."""
    r = settings.region
    image = Image.new(mode, settings.pixel_size(), 255 if mode == "L" else WHITE)
    _draw_chart(_Canvas(image, (r.x, r.y), settings.resolution))
    return image


def draw_label(
    settings: ScanSettings, mode: str, label: ChartLabel
) -> tuple[Image.Image, tuple[int, int]] | None:
    """The label of one image, cut to what the region shows of it, and the pixel where it
    goes in the scan; None when the region does not show it."""
    left, top, right, bottom = pixel_box(LABEL_BOX, settings)
    width, height = settings.pixel_size()
    shown = (max(0, left), max(0, top), min(width, right), min(height, bottom))
    if shown[2] <= shown[0] or shown[3] <= shown[1]:
        return None
    patch = Image.new(mode, (right - left, bottom - top), 255 if mode == "L" else WHITE)
    canvas = _Canvas(patch, (0, 0), settings.resolution)
    for i, line in enumerate(label.lines()):
        canvas.text(30, 30 + i * 100, line, 66)
    cut = (shown[0] - left, shown[1] - top, shown[2] - left, shown[3] - top)
    return patch.crop(cut), (shown[0], shown[1])


# --------------------------------------------------------------------------------------------
# The cache of finished pages


class PageCache:
    """Finished chart pages by settings, least recently used first out, bounded in bytes.

    A pure memo (the same settings always give the same pixels), shared by the runner's
    worker threads; each caller gets its own copy to paste its label on."""

    def __init__(self, limit_bytes: int) -> None:
        self._limit = limit_bytes
        self._pages: OrderedDict[object, Image.Image] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object, make: Callable[[], Image.Image]) -> Image.Image:
        """A page of one's own (a copy of the cached one, or one too large to cache)."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                return page.copy()
        page = make()  # outside the lock: two threads may both draw it once, harmlessly
        if _bytes(page) > self._limit:
            return page
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while sum(_bytes(p) for p in self._pages.values()) > self._limit:
                self._pages.popitem(last=False)
        return page.copy()

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


def _bytes(image: Image.Image) -> int:
    bits = {"1": 8, "L": 8}.get(image.mode, 32)  # Pillow keeps a pixel in 1 or 4 bytes
    return image.width * image.height * bits // 8
