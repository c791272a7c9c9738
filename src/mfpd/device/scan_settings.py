"""What a scan asks for, and what the scanner can do: one vocabulary for eSCL, templates, the
web UI and the imaging pipeline.

Names follow eSCL (Mopria/Apple eSCL 2.x; the PWG 2010/12 and HP 2011/05/03 schemas): colour
modes BlackAndWhite1/Grayscale8/RGB24, input sources Platen/Feeder, intents, and regions in
three-hundredths of an inch (escl:ThreeHundredthsOfInches), so a template and an eSCL
ScanSettings document mean the same thing without translation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

# Regions are in 1/300 inch (eSCL ContentRegionUnits escl:ThreeHundredthsOfInches).
UNITS_PER_INCH = 300


class ColorMode(enum.StrEnum):
    BLACK_AND_WHITE = "BlackAndWhite1"  # 1 bit per pixel
    GRAYSCALE = "Grayscale8"  # 8 bits per pixel
    RGB = "RGB24"  # 3 x 8 bits per pixel

    @property
    def pil_mode(self) -> str:
        return {"BlackAndWhite1": "1", "Grayscale8": "L", "RGB24": "RGB"}[self.value]

    @property
    def bits(self) -> int:
        return {"BlackAndWhite1": 1, "Grayscale8": 8, "RGB24": 24}[self.value]


class InputSource(enum.StrEnum):
    PLATEN = "Platen"
    FEEDER = "Feeder"  # eSCL's name for the ADF


class Intent(enum.StrEnum):
    """eSCL scan:Intent; it picks defaults (resolution, mode, compression) where the request
    leaves them open."""

    DOCUMENT = "Document"
    TEXT = "TextAndGraphic"
    PHOTO = "Photo"
    PREVIEW = "Preview"


# The WorkCentre 7755's optical resolutions, as its ScannerCapabilities lists them.
RESOLUTIONS = (75, 100, 150, 200, 300, 400, 600)

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
TIFF = "image/tiff"
FORMATS = (PDF, JPEG, PNG, TIFF)
# Formats that hold many pages in one file (a walk-up scan files one document); JPEG and PNG
# give one file per page.
MULTI_PAGE_FORMATS = (PDF, TIFF)

# Brightness and contrast: eSCL BrightnessSupport/ContrastSupport (Min, Max, Normal, Step).
ADJUST_MIN, ADJUST_MAX, ADJUST_NORMAL, ADJUST_STEP = -100, 100, 0, 1

# Geometry in 1/300 inch. Platen: A3/tabloid glass, 297 x 432 mm (11.69 x 17 in). The duplex
# automatic document feeder takes 85 x 125 mm up to the same maximum, 50 sheets.
PLATEN_MAX = (3508, 5100)
FEEDER_MIN = (1004, 1476)
FEEDER_MAX = (3508, 5100)
FEEDER_CAPACITY = 50
# The region a request that names none scans: A4 (210 x 297 mm) from the top left corner.
A4 = (2480, 3508)
LETTER = (2550, 3300)


class ScanSettingsError(ValueError):
    """A setting the scanner cannot honour; `element` names it (eSCL's element name), so an
    eSCL 400 and a template error can say which."""

    def __init__(self, element: str, message: str) -> None:
        super().__init__(f"{element}: {message}")
        self.element = element
        self.message = message


@dataclass(frozen=True)
class Region:
    """A scan region from the top-left corner of the glass, in 1/300 inch."""

    x: int = 0
    y: int = 0
    width: int = A4[0]
    height: int = A4[1]


@dataclass(frozen=True)
class ScanSettings:
    source: InputSource = InputSource.PLATEN
    color_mode: ColorMode = ColorMode.RGB
    resolution: int = 300  # dpi, the same across and along
    region: Region = field(default_factory=Region)
    duplex: bool = False  # the feeder only
    intent: Intent = Intent.DOCUMENT
    format: str = PDF  # a MIME type from FORMATS
    pdfa: bool = False  # PDF/A-1b when the format is PDF (eSCL DocumentFormatExt)
    brightness: int = ADJUST_NORMAL
    contrast: int = ADJUST_NORMAL
    blank_page_suppression: bool = False
    # JPEG quality (1-100) where the format is lossy; the intent's default when None.
    quality: int | None = None

    def pixel_size(self) -> tuple[int, int]:
        """Width and height of one image in pixels at the resolution."""
        return (
            max(1, round(self.region.width * self.resolution / UNITS_PER_INCH)),
            max(1, round(self.region.height * self.resolution / UNITS_PER_INCH)),
        )

    def checked(self) -> ScanSettings:
        """These settings, or ScanSettingsError naming the first one the device cannot do."""
        if self.resolution not in RESOLUTIONS:
            raise ScanSettingsError(
                "XResolution",
                f"{self.resolution} dpi is not offered ({', '.join(map(str, RESOLUTIONS))})",
            )
        if self.format not in FORMATS:
            raise ScanSettingsError("DocumentFormat", f"{self.format} is not offered")
        if self.duplex and self.source is not InputSource.FEEDER:
            raise ScanSettingsError("Duplex", "only the document feeder scans both sides")
        for name, value in (("Brightness", self.brightness), ("Contrast", self.contrast)):
            if not ADJUST_MIN <= value <= ADJUST_MAX:
                raise ScanSettingsError(name, f"{value} is outside {ADJUST_MIN}..{ADJUST_MAX}")
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise ScanSettingsError("CompressionFactor", "quality is 1..100")
        r = self.region
        limit = PLATEN_MAX if self.source is InputSource.PLATEN else FEEDER_MAX
        if r.x < 0 or r.y < 0 or r.width <= 0 or r.height <= 0:
            raise ScanSettingsError("ScanRegion", "offsets must be >= 0 and sizes > 0")
        if r.x + r.width > limit[0] or r.y + r.height > limit[1]:
            raise ScanSettingsError(
                "ScanRegion",
                f"{r.width}x{r.height}+{r.x}+{r.y} lies outside the {self.source.value} "
                f"({limit[0]}x{limit[1]} in 1/300 inch)",
            )
        if self.source is InputSource.FEEDER and (
            r.width < FEEDER_MIN[0] or r.height < FEEDER_MIN[1]
        ):
            raise ScanSettingsError(
                "ScanRegion",
                f"the feeder takes originals from {FEEDER_MIN[0]}x{FEEDER_MIN[1]} (85 x 125 mm)",
            )
        return self

    def with_changes(self, **changes: object) -> ScanSettings:
        return replace(self, **changes)  # type: ignore[arg-type]
