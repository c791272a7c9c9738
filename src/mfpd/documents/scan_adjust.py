"""What the scanner does to the pixels after it has read them: brightness and contrast, the
colour mode, and the blank-page test.

The order is the device's: the region and resolution are already applied when an image gets
here (the chart is drawn and originals are rendered that way); then brightness/contrast, then
the colour mode. All of it goes through Pillow's lookup tables and converters, which run in C:
a 600 dpi A4 page (35 million pixels) takes tens of milliseconds per step.
"""

from __future__ import annotations

from typing import Final

from PIL import Image, ImageChops

from mfpd.device.scan_settings import ADJUST_MAX, ColorMode, Intent, ScanSettings

# The level at which BlackAndWhite1 without dithering turns a pixel black (below it).
THRESHOLD: Final = 128
# A pixel counts as ink when it is this much darker than the page's paper level, so the faint
# grey a scanner sees in white paper (or a brightness setting moves it to) is not ink.
INK_MARGIN: Final = 32
# A page whose ink covers less than this share of it is blank (blank-page suppression).
BLANK_COVERAGE: Final = 0.005
# Images marked so are never blank, whatever their pixels (the test chart: a region that
# shows only its white middle is still a scan of the chart).
NEVER_BLANK: Final = "mfpd.never-blank"


def work_mode(color_mode: ColorMode) -> str:
    """The mode originals are rendered in before the colour mode is applied: grey for both
    grey modes, so nothing renders colour only to throw it away."""
    return "RGB" if color_mode is ColorMode.RGB else "L"


def _lut(brightness: int, contrast: int) -> list[int]:
    # Contrast scales around mid-grey by a factor from 0 (-100: flat grey) through 1 (0) to
    # 4 (+100); brightness then moves every level by up to half the range either way.
    factor = ((contrast + ADJUST_MAX) / ADJUST_MAX) ** 2
    offset = brightness * 128 / ADJUST_MAX
    return [min(255, max(0, round((v - 128) * factor + 128 + offset))) for v in range(256)]


def adjust(image: Image.Image, settings: ScanSettings) -> Image.Image:
    """Brightness and contrast (eSCL Brightness/Contrast, -100..100, 0 = as scanned)."""
    if settings.brightness == 0 and settings.contrast == 0:
        return image
    lut = _lut(settings.brightness, settings.contrast)
    return image.point(lut * len(image.getbands()))


def to_color_mode(image: Image.Image, settings: ScanSettings) -> Image.Image:
    """The image in the requested colour mode; BlackAndWhite1 by threshold, or dithered
    (Floyd-Steinberg) for the Photo intent, where a threshold would lose every grey."""
    mode = settings.color_mode
    if mode is ColorMode.RGB:
        return image if image.mode == "RGB" else image.convert("RGB")
    grey = image if image.mode == "L" else image.convert("L")
    if mode is ColorMode.GRAYSCALE:
        return grey
    if settings.intent is Intent.PHOTO:
        return grey.convert("1", dither=Image.Dither.FLOYDSTEINBERG)
    return grey.point([0 if v < THRESHOLD else 255 for v in range(256)], "1")


def finish(image: Image.Image, settings: ScanSettings) -> Image.Image:
    """The adjustments and the colour mode, in the device's order."""
    return to_color_mode(adjust(image, settings), settings)


def ink_coverage(image: Image.Image) -> float:
    """The share of the image darker than its paper by more than INK_MARGIN. In colour, a
    pixel's darkest channel counts, so yellow on white is ink although its luma is light."""
    if image.mode == "RGB":
        red, green, blue = image.split()
        grey = ImageChops.darker(ImageChops.darker(red, green), blue)
    else:
        grey = image.convert("L") if image.mode != "L" else image
    histogram = grey.histogram()
    total = sum(histogram)
    if not total:
        return 0.0
    # The paper is the commonest level in the lighter half; a page that is mostly dark has
    # no paper to speak of and is all ink.
    if sum(histogram[:128]) * 2 > total:
        return 1.0
    paper = max(range(128, 256), key=histogram.__getitem__)
    ink = sum(histogram[: max(0, paper - INK_MARGIN)])
    return ink / total


def is_blank(image: Image.Image) -> bool:
    """Whether blank-page suppression drops this image: ink covers under half a percent."""
    if image.info.get(NEVER_BLANK):
        return False
    return ink_coverage(image) < BLANK_COVERAGE
