"""The scanner's imaging pipeline: the one entry point the scan job runner, eSCL, the web UI
and the outbound deliveries call for pixels and files.

    scan_side(original, settings, label)  -> one side of a sheet as a PIL image
    is_blank(image)                       -> blank-page suppression's verdict
    write_image(image, settings, path)    -> one image as one file (JPEG, PNG, TIFF, PDF)
    DocumentWriter(path, settings)        -> many images as one PDF or TIFF, streamed
    thumbnail_png(image)                  -> a small PNG for the job list
    original_pages(path)                  -> how many pages a loaded file has (OriginalError)

A side is produced in the device's order: the region cut and the resolution (the chart is
drawn so, files are rendered so), then brightness and contrast, then the colour mode. All of
it is CPU-bound or runs Ghostscript: callers in the event loop run it in a worker thread.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image

from mfpd.device.scan_settings import ScanSettings
from mfpd.device.scanner import Original
from mfpd.documents.scan_adjust import NEVER_BLANK, finish, is_blank, work_mode
from mfpd.documents.scan_chart import (
    COLOR_PATCHES,
    GRAY_RAMP,
    LABEL_BOX,
    MARKS,
    ChartLabel,
    PageCache,
    Patch,
    draw_chart,
    draw_label,
    pixel,
    pixel_box,
)
from mfpd.documents.scan_formats import DocumentWriter, write_image
from mfpd.documents.scan_render import OriginalError, original_pages, render_original

__all__ = [
    # The chart's geometry, for tests that check a scan (here and over eSCL with SANE).
    "COLOR_PATCHES",
    "GRAY_RAMP",
    "LABEL_BOX",
    "MARKS",
    "ChartLabel",
    "DocumentWriter",
    "OriginalError",
    "Patch",
    "is_blank",
    "original_pages",
    "pixel",
    "pixel_box",
    "scan_side",
    "thumbnail_png",
    "write_image",
]

# Finished chart pages: a 600 dpi A4 RGB page is about 140 MB in Pillow (a grey one 35 MB,
# 300 dpi RGB 35 MB), so this holds the largest alone, or the usual few together. A memo of a
# pure function, shared by every device in the process (the same settings draw the same
# pixels whichever device asks).
_CHART_PAGES: Final = PageCache(limit_bytes=160 * 1024 * 1024)


def _chart_key(settings: ScanSettings) -> tuple[object, ...]:
    return (
        settings.resolution,
        settings.region,
        settings.color_mode,
        settings.brightness,
        settings.contrast,
        settings.intent,
    )


def _chart(settings: ScanSettings, label: ChartLabel) -> Image.Image:
    mode = work_mode(settings.color_mode)
    image = _CHART_PAGES.get(
        _chart_key(settings), lambda: finish(draw_chart(settings, mode), settings)
    )
    drawn = draw_label(settings, mode, label)
    if drawn is not None:
        patch, where = drawn
        image.paste(finish(patch, settings), where)
    image.info[NEVER_BLANK] = True
    return image


def scan_side(original: Original, settings: ScanSettings, label: ChartLabel) -> Image.Image:
    """One side of a sheet as the scanner reads it with these settings: an image of
    settings.pixel_size() pixels in settings.color_mode's Pillow mode ("1", "L", "RGB").
    OriginalError if a loaded file cannot be rendered (gone, damaged, too large)."""
    if original.chart:
        return _chart(settings, label)
    mode = work_mode(settings.color_mode)
    if original.blank:
        paper = Image.new(mode, settings.pixel_size(), 255 if mode == "L" else (255, 255, 255))
        return finish(paper, settings)
    return finish(render_original(original, settings, mode), settings)


def thumbnail_png(image: Image.Image, longest: int = 160) -> bytes:
    """A PNG of the image fitted into `longest` pixels square, for job lists. Made by
    resizing, not from a copy of the whole page (35 MB at 600 dpi A4 grey)."""
    scale = longest / max(image.width, image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.mode == "1":
        # Pillow resizes 1-bit images by nearest neighbour only: pick 4x4 samples per
        # thumbnail pixel, then average them, so text shows as grey rather than noise.
        oversampled = (min(image.width, size[0] * 4), min(image.height, size[1] * 4))
        grey = image.resize(oversampled, Image.Resampling.NEAREST).convert("L")
        small = grey.resize(size, Image.Resampling.BOX)
    else:
        small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    small.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
