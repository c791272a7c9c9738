"""eSCL (Mopria/Apple eSCL 2.x, "AirScan") documents: bytes <-> values, no I/O.

- `parse_scan_settings`: a client's ScanSettings document into `ScanSettings`, or
  ScanSettingsError naming the element at fault (answered 400 by the service).
- `capabilities`, `status`, `image_info`: the ScannerCapabilities, ScannerStatus and
  ScanImageInfo documents.

Namespaces: `scan` is HP's eSCL schema of 2011/05/03, `pwg` the PWG semantic model schema
of 2010/12. Clients are not consistent about which prefix an element carries (sane-airscan
sends pwg:DocumentFormat and scan:DocumentFormatExt, others scan:InputSource), so the parser
matches elements by their local name and ignores elements it does not know, as the eSCL
specification asks of a device.

The parser refuses any DTD (defusedxml, forbid_dtd): eSCL documents have none, and without
one there is no entity to expand (billion laughs) or fetch (XXE). Nesting deeper than a
ScanSettings document can be is refused too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError, TreeBuilder
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

from mfpd.device.scan_settings import (
    ADJUST_MAX,
    ADJUST_MIN,
    ADJUST_NORMAL,
    ADJUST_STEP,
    FEEDER_CAPACITY,
    FEEDER_MAX,
    FEEDER_MIN,
    FORMATS,
    PLATEN_MAX,
    RESOLUTIONS,
    ColorMode,
    InputSource,
    Intent,
    Region,
    ScanSettings,
    ScanSettingsError,
)

SCAN_NS = "http://schemas.hp.com/imaging/escl/2011/05/03"
PWG_NS = "http://www.pwg.org/schemas/2010/12/sm"
# The eSCL version the device speaks (pwg:Version); clients refuse 1.x.
VERSION = "2.63"
XML_TYPE = "text/xml"
# ScanSettings is a flat document: the root, ScanRegions, ScanRegion, its fields. Deeper is
# an attack or garbage, refused before it is walked.
MAX_DEPTH = 8
# Numbers in a ScanSettings are small; a thousand-digit "integer" is refused unconverted.
MAX_NUMBER_CHARS = 9
# eSCL ContentRegionUnits: the only unit eSCL defines.
THREE_HUNDREDTHS = "escl:ThreeHundredthsOfInches"
# The smallest region the platen scans (1/300 inch): a client asking for less gets 400.
PLATEN_MIN = (16, 16)
# eSCL CompressionFactorSupport: 0 (best quality) .. 100 (smallest file).
COMPRESSION_MIN, COMPRESSION_MAX, COMPRESSION_NORMAL = 0, 100, 25

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}
_INPUT_SOURCES = {
    "platen": InputSource.PLATEN,
    "feeder": InputSource.FEEDER,
    "adf": InputSource.FEEDER,
}


# -- ScanSettings ------------------------------------------------------------------------


def _local(tag: object) -> str:
    name = tag if isinstance(tag, str) else ""
    return name.rpartition("}")[2]


class _TooDeep(ValueError):
    pass


class _DepthLimitedBuilder(TreeBuilder):
    """Stops the parse at the first element deeper than MAX_DEPTH, before the tree grows."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooDeep(f"nested deeper than {MAX_DEPTH} elements")
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return super().end(tag)


def _text(element: Element) -> str:
    return (element.text or "").strip()


def _integer(element: Element) -> int:
    text = _text(element)
    name = _local(element.tag)
    if not text or len(text) > MAX_NUMBER_CHARS or not text.lstrip("-").isdigit():
        raise ScanSettingsError(name, f"not an integer: {text[:40]!r}")
    return int(text)


def _boolean(element: Element) -> bool:
    text = _text(element).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ScanSettingsError(_local(element.tag), f"not a boolean: {text[:40]!r}")


def _mime(element: Element) -> str:
    # A MIME type may carry parameters ("application/pdf; ..."): the type decides.
    return _text(element).partition(";")[0].strip().lower()


def _region(element: Element) -> Region:
    values: dict[str, int] = {}
    for child in element:
        name = _local(child.tag)
        if name == "ContentRegionUnits":
            if _text(child) != THREE_HUNDREDTHS:
                raise ScanSettingsError(
                    name, f"{_text(child)[:60]!r}: only {THREE_HUNDREDTHS} is supported"
                )
        elif name in ("XOffset", "YOffset", "Width", "Height"):
            values[name] = _integer(child)
    for name in ("Width", "Height"):
        if name not in values:
            raise ScanSettingsError(name, "the scan region has no " + name)
    return Region(
        x=values.get("XOffset", 0),
        y=values.get("YOffset", 0),
        width=values["Width"],
        height=values["Height"],
    )


def parse_scan_settings(data: bytes) -> ScanSettings:
    """A ScanSettings document (eSCL 2.x, POST /eSCL/ScanJobs) as checked settings, or
    ScanSettingsError naming the element the device cannot honour."""
    try:
        parser = DefusedXMLParser(
            target=_DepthLimitedBuilder(),
            forbid_dtd=True, forbid_entities=True, forbid_external=True,
        )  # fmt: skip
        parser.feed(data)
        root: Element = parser.close()
    except _TooDeep as exc:
        raise ScanSettingsError("ScanSettings", str(exc)) from None
    except DefusedXmlException as exc:
        raise ScanSettingsError("ScanSettings", f"refused: {type(exc).__name__}") from None
    except (ParseError, ValueError) as exc:
        raise ScanSettingsError("ScanSettings", f"not well-formed XML: {exc}") from None
    if _local(root.tag) != "ScanSettings":
        raise ScanSettingsError("ScanSettings", f"the document is a {_local(root.tag)[:60]!r}")

    changes: dict[str, object] = {}
    regions: list[Region] = []
    x_res = y_res = None
    document_format = format_ext = None
    for child in root:
        name = _local(child.tag)
        if name == "ScanRegions":
            regions.extend(_region(r) for r in child if _local(r.tag) == "ScanRegion")
        elif name == "InputSource":
            source = _INPUT_SOURCES.get(_text(child).lower())
            if source is None:
                raise ScanSettingsError(name, f"{_text(child)[:40]!r} is not Platen or Feeder")
            changes["source"] = source
        elif name == "ColorMode":
            try:
                changes["color_mode"] = ColorMode(_text(child))
            except ValueError:
                modes = ", ".join(m.value for m in ColorMode)
                raise ScanSettingsError(
                    name, f"{_text(child)[:40]!r} is not one of {modes}"
                ) from None
        elif name == "XResolution":
            x_res = _integer(child)
        elif name == "YResolution":
            y_res = _integer(child)
        elif name == "DocumentFormat":
            document_format = _mime(child)
        elif name == "DocumentFormatExt":
            format_ext = _mime(child)
        elif name == "Duplex":
            changes["duplex"] = _boolean(child)
        elif name == "Intent":
            try:
                changes["intent"] = Intent(_text(child))
            except ValueError:
                raise ScanSettingsError(name, f"{_text(child)[:40]!r} is not offered") from None
        elif name in ("Brightness", "Contrast"):
            changes[name.lower()] = _integer(child)
        elif name == "CompressionFactor":
            factor = _integer(child)
            if not COMPRESSION_MIN <= factor <= COMPRESSION_MAX:
                raise ScanSettingsError(name, f"{factor} is outside 0..100")
            # Factor 0 is the best quality, 100 the smallest file: JPEG quality the other way.
            changes["quality"] = max(1, COMPRESSION_MAX - factor)
        elif name == "BlankPageDetectionAndRemoval":
            changes["blank_page_suppression"] = _boolean(child)
    if len(regions) > 1:
        raise ScanSettingsError("ScanRegions", "the scanner scans one region (MaxScanRegions 1)")
    if regions:
        changes["region"] = regions[0]
    if x_res is not None or y_res is not None:
        x = x_res if x_res is not None else y_res
        y = y_res if y_res is not None else x_res
        if x != y:
            raise ScanSettingsError("YResolution", f"{y} differs from XResolution {x}")
        changes["resolution"] = x
    # DocumentFormatExt is eSCL 2.1's more precise name and wins over pwg:DocumentFormat.
    chosen = format_ext or document_format
    if chosen:
        element = "DocumentFormatExt" if format_ext else "DocumentFormat"
        if chosen not in FORMATS:
            raise ScanSettingsError(element, f"{chosen[:60]!r} is not one of {', '.join(FORMATS)}")
        changes["format"] = chosen
    settings = ScanSettings().with_changes(**changes)
    settings.checked()
    region = settings.region
    minimum = PLATEN_MIN if settings.source is InputSource.PLATEN else FEEDER_MIN
    if settings.source is InputSource.PLATEN and (
        region.width < minimum[0] or region.height < minimum[1]
    ):
        raise ScanSettingsError("ScanRegion", f"the smallest region is {minimum[0]}x{minimum[1]}")
    return settings


# -- documents the device sends ------------------------------------------------------------


class _Writer:
    """A tiny XML writer: eSCL documents are small and fixed in shape, and building them as
    text keeps the prefixes exactly as clients match them (`scan:`, `pwg:`)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            f'<{root} xmlns:scan="{SCAN_NS}" xmlns:pwg="{PWG_NS}">',
        ]

    def add(self, tag: str, value: object) -> None:
        if isinstance(value, bool):
            value = "true" if value else "false"
        self.parts.append(f"<{tag}>{escape(str(value))}</{tag}>")

    def open(self, tag: str) -> None:
        self.parts.append(f"<{tag}>")

    def close(self, tag: str) -> None:
        self.parts.append(f"</{tag}>")

    def finish(self) -> bytes:
        self.parts.append(f"</{self.root}>\n")
        return "".join(self.parts).encode()


@dataclass(frozen=True)
class Identity:
    """What ScannerCapabilities says of the device."""

    make_and_model: str
    serial_number: str
    uuid: str
    admin_uri: str
    icon_uri: str


_CONTENT_TYPES = ("Photo", "Text", "TextAndPhoto")


def _input_caps(w: _Writer, tag: str, minimum: tuple[int, int], maximum: tuple[int, int]) -> None:
    w.open(tag)
    w.add("scan:MinWidth", minimum[0])
    w.add("scan:MaxWidth", maximum[0])
    w.add("scan:MinHeight", minimum[1])
    w.add("scan:MaxHeight", maximum[1])
    w.add("scan:MaxScanRegions", 1)
    w.open("scan:SettingProfiles")
    w.open("scan:SettingProfile")
    w.open("scan:ColorModes")
    for mode in ColorMode:
        w.add("scan:ColorMode", mode.value)
    w.close("scan:ColorModes")
    w.open("scan:ContentTypes")
    for content in _CONTENT_TYPES:
        w.add("pwg:ContentType", content)
    w.close("scan:ContentTypes")
    w.open("scan:DocumentFormats")
    for mime in FORMATS:
        w.add("pwg:DocumentFormat", mime)
    for mime in FORMATS:
        w.add("scan:DocumentFormatExt", mime)
    w.close("scan:DocumentFormats")
    w.open("scan:SupportedResolutions")
    w.open("scan:DiscreteResolutions")
    for dpi in RESOLUTIONS:
        w.open("scan:DiscreteResolution")
        w.add("scan:XResolution", dpi)
        w.add("scan:YResolution", dpi)
        w.close("scan:DiscreteResolution")
    w.close("scan:DiscreteResolutions")
    w.close("scan:SupportedResolutions")
    w.open("scan:ColorSpaces")
    w.add("scan:ColorSpace", "sRGB")
    w.close("scan:ColorSpaces")
    w.close("scan:SettingProfile")
    w.close("scan:SettingProfiles")
    w.open("scan:SupportedIntents")
    for intent in Intent:
        w.add("scan:Intent", intent.value)
    w.close("scan:SupportedIntents")
    w.add("scan:MaxOpticalXResolution", max(RESOLUTIONS))
    w.add("scan:MaxOpticalYResolution", max(RESOLUTIONS))
    w.add("scan:RiskyLeftMargin", 0)
    w.add("scan:RiskyRightMargin", 0)
    w.add("scan:RiskyTopMargin", 0)
    w.add("scan:RiskyBottomMargin", 0)
    w.close(tag)


def _support(w: _Writer, tag: str, low: int, high: int, normal: int, step: int) -> None:
    w.open(tag)
    w.add("scan:Min", low)
    w.add("scan:Max", high)
    w.add("scan:Normal", normal)
    w.add("scan:Step", step)
    w.close(tag)


def capabilities(identity: Identity, *, feeder_capacity: int = FEEDER_CAPACITY) -> bytes:
    """GET /eSCL/ScannerCapabilities: the device and what its platen and duplex feeder do,
    from the one settings vocabulary (device/scan_settings.py)."""
    w = _Writer("scan:ScannerCapabilities")
    w.add("pwg:Version", VERSION)
    w.add("pwg:MakeAndModel", identity.make_and_model)
    w.add("pwg:SerialNumber", identity.serial_number)
    w.add("scan:UUID", identity.uuid)
    w.add("scan:AdminURI", identity.admin_uri)
    w.add("scan:IconURI", identity.icon_uri)
    w.open("scan:Platen")
    _input_caps(w, "scan:PlatenInputCaps", PLATEN_MIN, PLATEN_MAX)
    w.close("scan:Platen")
    w.open("scan:Adf")
    _input_caps(w, "scan:AdfSimplexInputCaps", FEEDER_MIN, FEEDER_MAX)
    _input_caps(w, "scan:AdfDuplexInputCaps", FEEDER_MIN, FEEDER_MAX)
    w.add("scan:FeederCapacity", feeder_capacity)
    w.open("scan:AdfOptions")
    w.add("scan:AdfOption", "DetectPaperLoaded")
    w.add("scan:AdfOption", "Duplex")
    w.close("scan:AdfOptions")
    w.close("scan:Adf")
    _support(w, "scan:BrightnessSupport", ADJUST_MIN, ADJUST_MAX, ADJUST_NORMAL, ADJUST_STEP)
    _support(w, "scan:ContrastSupport", ADJUST_MIN, ADJUST_MAX, ADJUST_NORMAL, ADJUST_STEP)
    _support(
        w, "scan:CompressionFactorSupport", COMPRESSION_MIN, COMPRESSION_MAX,
        COMPRESSION_NORMAL, 1,
    )  # fmt: skip
    w.add("scan:BlankPageDetection", True)
    w.add("scan:BlankPageDetectionAndRemoval", True)
    return w.finish()


@dataclass(frozen=True)
class JobInfo:
    """One job in ScannerStatus; `state` and `reasons` already in eSCL's (PWG) names."""

    uri: str  # the path of the job, /eSCL/ScanJobs/{uuid}
    uuid: str
    age: int  # seconds since the job was created
    images_completed: int
    images_to_transfer: int
    state: str  # Pending, Processing, Completed, Canceled, Aborted
    reasons: tuple[str, ...] = ()


_JOB_STATES = {
    "pending": "Pending",
    "held": "Pending",
    "processing": "Processing",
    "stopped": "Processing",
    "canceled": "Canceled",
    "aborted": "Aborted",
    "completed": "Completed",
}


def job_state(state: str) -> str:
    """A spool job state (device/jobs.py JobState value) as a PWG JobState."""
    return _JOB_STATES.get(state, "Processing")


def job_state_reason(keyword: str) -> str:
    """An IPP job-state-reasons keyword as the PWG semantic model spells it (PWG 5108.01:
    the same words in UpperCamelCase): job-canceled-by-user -> JobCanceledByUser."""
    if not keyword or ("-" not in keyword and keyword[:1].isupper()):
        return keyword
    return "".join(part[:1].upper() + part[1:] for part in keyword.split("-") if part)


def status(state: str, adf_state: str, jobs: Iterable[JobInfo]) -> bytes:
    """GET /eSCL/ScannerStatus: the scanner's state, its feeder's, and the jobs."""
    w = _Writer("scan:ScannerStatus")
    w.add("pwg:Version", VERSION)
    w.add("pwg:State", state)
    w.add("scan:AdfState", adf_state)
    w.open("scan:Jobs")
    for job in jobs:
        w.open("scan:JobInfo")
        w.add("pwg:JobUri", job.uri)
        w.add("pwg:JobUuid", job.uuid)
        w.add("scan:Age", job.age)
        w.add("pwg:ImagesCompleted", job.images_completed)
        w.add("pwg:ImagesToTransfer", job.images_to_transfer)
        w.add("pwg:JobState", job.state)
        w.open("pwg:JobStateReasons")
        for reason in job.reasons:
            w.add("pwg:JobStateReason", reason)
        w.close("pwg:JobStateReasons")
        w.close("scan:JobInfo")
    w.close("scan:Jobs")
    return w.finish()


@dataclass(frozen=True)
class ImageInfo:
    """ScanImageInfo: the last image the client retrieved."""

    job_uri: str
    job_uuid: str
    width: int
    height: int
    bytes_per_line: int


def image_info(info: ImageInfo) -> bytes:
    """GET /eSCL/ScanJobs/{uuid}/ScanImageInfo (eSCL 2.x): the actual size of the image
    the client just took (pixels), which may differ from what was asked."""
    w = _Writer("scan:ScanImageInfo")
    w.add("pwg:JobUri", info.job_uri)
    w.add("pwg:JobUuid", info.job_uuid)
    w.add("scan:ActualWidth", info.width)
    w.add("scan:ActualHeight", info.height)
    w.add("scan:ActualBytesPerLine", info.bytes_per_line)
    return w.finish()


def bytes_per_line(width: int, color_mode: str) -> int:
    bits = {"BlackAndWhite1": 1, "Grayscale8": 8, "RGB24": 24}.get(color_mode, 24)
    return (width * bits + 7) // 8
