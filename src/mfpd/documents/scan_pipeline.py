"""The scanner's pixels (first cut, replaced by the imaging branch): a plain chart, images
and files through Pillow. The API is the one the scan runner and eSCL call."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from mfpd.device.scan_settings import PDF, TIFF, UNITS_PER_INCH, ColorMode, ScanSettings
from mfpd.device.scanner import Original
from mfpd.documents.pages import count_pages


class OriginalError(ValueError):
    pass


@dataclass(frozen=True)
class ChartLabel:
    device: str
    serial: str
    job_id: int
    image: int
    side: str
    when: float


_PIL_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", TIFF: "TIFF", PDF: "PDF"}


def scan_side(original: Original, settings: ScanSettings, label: ChartLabel) -> Image.Image:
    width, height = settings.pixel_size()
    image = Image.new("RGB", (width, height), "white")
    if original.chart:
        draw = ImageDraw.Draw(image)
        scale = settings.resolution / UNITS_PER_INCH
        for x, y in ((300, 300), (2100, 3000)):
            left = (x - settings.region.x) * scale
            top = (y - settings.region.y) * scale
            draw.rectangle((left, top, left + 150 * scale - 1, top + 150 * scale - 1), "black")
        draw.text((10, 10), f"{label.device} job {label.job_id} image {label.image}", "black")
    return image.convert(settings.color_mode.pil_mode)


def is_blank(image: Image.Image) -> bool:
    extrema = image.convert("L").getextrema()
    low = extrema[0] if isinstance(extrema, tuple) else extrema
    return bool(isinstance(low, int | float) and low > 240)


def _save(image: Image.Image, settings: ScanSettings, out: io.BufferedWriter) -> None:
    fmt = _PIL_FORMAT[settings.format]
    if fmt == "JPEG" and settings.color_mode is ColorMode.BLACK_AND_WHITE:
        image = image.convert("L")
    image.save(
        out, fmt, dpi=(settings.resolution, settings.resolution), resolution=settings.resolution
    )


def write_image(image: Image.Image, settings: ScanSettings, path: Path) -> int:
    with path.open("wb") as out:
        _save(image, settings, out)
    return path.stat().st_size


class DocumentWriter:
    def __init__(self, path: Path, settings: ScanSettings) -> None:
        self.path = path
        self.settings = settings
        self._pages: list[Image.Image] = []

    def add(self, image: Image.Image) -> None:
        self._pages.append(image)

    def close(self) -> int:
        first, *rest = self._pages
        fmt = _PIL_FORMAT[self.settings.format]
        first.save(
            self.path, fmt, save_all=True, append_images=rest,
            resolution=self.settings.resolution,
        )  # fmt: skip
        return self.path.stat().st_size


def thumbnail_png(image: Image.Image, longest: int = 160) -> bytes:
    small = image.copy()
    small.thumbnail((longest, longest))
    out = io.BytesIO()
    small.save(out, "PNG")
    return out.getvalue()


def original_pages(path: Path) -> int:
    pages = count_pages(path).pages
    if pages < 1:
        raise OriginalError(f"{path.name}: no page to scan")
    return pages
