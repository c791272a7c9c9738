"""Unit tests of the eSCL codec (codecs/escl.py): ScanSettings as sane-airscan and the
sane-backends escl backend send them, every refusal naming its element, hostile XML (DTDs,
entity bombs, deep nesting, random bytes) refused as ScanSettingsError, and the documents the
device sends read back with the standard library's parser (not our writer)."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpd.codecs import escl
from mfpd.device.scan_settings import (
    FEEDER_CAPACITY,
    FORMATS,
    PLATEN_MAX,
    RESOLUTIONS,
    ColorMode,
    InputSource,
    Intent,
    Region,
    ScanSettingsError,
)

NS = {"scan": escl.SCAN_NS, "pwg": escl.PWG_NS}
UUID = "9e4bb510-1c37-4067-b11f-624fdef110b8"


def settings_xml(body: str, *, root: str = "scan:ScanSettings") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<{root} xmlns:scan="{escl.SCAN_NS}" xmlns:pwg="{escl.PWG_NS}">'
        f"<pwg:Version>2.0</pwg:Version>{body}</{root}>"
    ).encode()


def region(width: int = 2480, height: int = 3508, x: int = 0, y: int = 0, units: str = "") -> str:
    units = units or escl.THREE_HUNDREDTHS
    return (
        "<pwg:ScanRegions><pwg:ScanRegion>"
        f"<pwg:ContentRegionUnits>{units}</pwg:ContentRegionUnits>"
        f"<pwg:XOffset>{x}</pwg:XOffset><pwg:YOffset>{y}</pwg:YOffset>"
        f"<pwg:Width>{width}</pwg:Width><pwg:Height>{height}</pwg:Height>"
        "</pwg:ScanRegion></pwg:ScanRegions>"
    )


# What sane-airscan 0.99.27 sends (airscan-escl.c escl_scan_query), for the ADF duplex.
AIRSCAN = settings_xml(
    region(2550, 3300)
    + "<pwg:InputSource>Feeder</pwg:InputSource><scan:ColorMode>Grayscale8</scan:ColorMode>"
    "<pwg:DocumentFormat>image/png</pwg:DocumentFormat>"
    "<scan:DocumentFormatExt>image/png</scan:DocumentFormatExt>"
    "<scan:XResolution>600</scan:XResolution><scan:YResolution>600</scan:YResolution>"
    "<scan:Duplex>true</scan:Duplex>"
)
# The sane-backends escl backend: scan:InputSource, only scan:DocumentFormatExt, an Intent.
ESCL_BACKEND = settings_xml(
    "<scan:Intent>Photo</scan:Intent>"
    + region(1000, 1500, 30, 60)
    + "<scan:DocumentFormatExt>application/pdf</scan:DocumentFormatExt>"
    "<scan:XResolution>75</scan:XResolution><scan:YResolution>75</scan:YResolution>"
    "<scan:ColorMode>BlackAndWhite1</scan:ColorMode><scan:InputSource>Platen</scan:InputSource>"
    "<scan:Brightness>20</scan:Brightness><scan:Contrast>-5</scan:Contrast>"
    "<scan:CompressionFactor>10</scan:CompressionFactor>"
    "<scan:BlankPageDetectionAndRemoval>true</scan:BlankPageDetectionAndRemoval>"
)


def test_what_sane_airscan_sends() -> None:
    s = escl.parse_scan_settings(AIRSCAN)
    assert s.source is InputSource.FEEDER and s.duplex
    assert s.color_mode is ColorMode.GRAYSCALE
    assert s.resolution == 600 and s.format == "image/png"
    assert s.region == Region(0, 0, 2550, 3300)
    assert s.pixel_size() == (5100, 6600)


def test_what_the_escl_backend_sends() -> None:
    s = escl.parse_scan_settings(ESCL_BACKEND)
    assert s.source is InputSource.PLATEN and not s.duplex
    assert s.intent is Intent.PHOTO and s.color_mode is ColorMode.BLACK_AND_WHITE
    assert s.format == "application/pdf" and s.resolution == 75
    assert s.region == Region(30, 60, 1000, 1500)
    assert (s.brightness, s.contrast, s.quality) == (20, -5, 90)
    assert s.blank_page_suppression


def test_defaults_where_the_document_says_nothing() -> None:
    s = escl.parse_scan_settings(settings_xml(""))
    assert s.source is InputSource.PLATEN and s.resolution == 300
    assert s.color_mode is ColorMode.RGB


def test_the_ext_format_wins_and_parameters_are_ignored() -> None:
    s = escl.parse_scan_settings(
        settings_xml(
            "<pwg:DocumentFormat>application/octet-stream</pwg:DocumentFormat>"
            "<scan:DocumentFormatExt>image/JPEG; q=1</scan:DocumentFormatExt>"
        )
    )
    assert s.format == "image/jpeg"


def test_unknown_elements_are_ignored() -> None:
    s = escl.parse_scan_settings(
        settings_xml("<scan:ColorSpace>sRGB</scan:ColorSpace><x:Thing xmlns:x='urn:x'/>")
    )
    assert s.resolution == 300


@pytest.mark.parametrize(
    ("body", "element"),
    [
        ("<scan:XResolution>123</scan:XResolution>", "XResolution"),
        ("<scan:XResolution>300</scan:XResolution><scan:YResolution>600</scan:YResolution>",
         "YResolution"),
        ("<scan:XResolution>3e2</scan:XResolution>", "XResolution"),
        ("<scan:XResolution>" + "9" * 400 + "</scan:XResolution>", "XResolution"),
        ("<scan:ColorMode>RGB48</scan:ColorMode>", "ColorMode"),
        ("<pwg:InputSource>Camera</pwg:InputSource>", "InputSource"),
        ("<pwg:DocumentFormat>image/gif</pwg:DocumentFormat>", "DocumentFormat"),
        ("<scan:DocumentFormatExt>text/plain</scan:DocumentFormatExt>", "DocumentFormatExt"),
        ("<scan:Duplex>true</scan:Duplex>", "Duplex"),  # on the platen
        ("<scan:Duplex>maybe</scan:Duplex>", "Duplex"),
        ("<scan:Intent>Poster</scan:Intent>", "Intent"),
        ("<scan:Brightness>500</scan:Brightness>", "Brightness"),
        ("<scan:Contrast>-101</scan:Contrast>", "Contrast"),
        ("<scan:CompressionFactor>101</scan:CompressionFactor>", "CompressionFactor"),
        (region(units="escl:Millimeters"), "ContentRegionUnits"),
        (region(width=0), "ScanRegion"),
        (region(x=-1), "ScanRegion"),
        (region(width=PLATEN_MAX[0] + 1), "ScanRegion"),
        (region(x=PLATEN_MAX[0], width=1), "ScanRegion"),
        (region(height=PLATEN_MAX[1], y=PLATEN_MAX[1]), "ScanRegion"),
        (region(width=2, height=2), "ScanRegion"),
        (region() + region(), "ScanRegions"),
        ("<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>10</pwg:Width></pwg:ScanRegion>"
         "</pwg:ScanRegions>", "Height"),
        ("<pwg:InputSource>Feeder</pwg:InputSource>" + region(100, 100), "ScanRegion"),
    ],
)  # fmt: skip
def test_refusals_name_the_element(body: str, element: str) -> None:
    with pytest.raises(ScanSettingsError) as info:
        escl.parse_scan_settings(settings_xml(body))
    assert info.value.element == element


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        b"<scan:ScanSettings>",  # unbound prefix
        settings_xml("", root="scan:ScannerStatus"),
        # XXE: an external entity (the file would be read by a careless parser).
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<ScanSettings>&x;</ScanSettings>",
        # Billion laughs.
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
        )
        + b"]><ScanSettings>&j;</ScanSettings>",
        # A DTD alone is refused: eSCL documents have none.
        b'<?xml version="1.0"?><!DOCTYPE ScanSettings><ScanSettings/>',
        # 1000-deep nesting.
        b"<ScanSettings>" + b"<a>" * 1000 + b"</a>" * 1000 + b"</ScanSettings>",
        b"<ScanSettings>" + b"<a>" * 100000,
    ],
)
def test_hostile_documents_are_refused(data: bytes) -> None:
    with pytest.raises(ScanSettingsError) as info:
        escl.parse_scan_settings(data)
    assert info.value.element == "ScanSettings"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_escape_as_another_error(data: bytes) -> None:
    with contextlib.suppress(ScanSettingsError):
        escl.parse_scan_settings(data)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(RESOLUTIONS),
    st.sampled_from(list(ColorMode)),
    st.sampled_from(FORMATS),
    st.integers(0, 3000),
    st.integers(0, 3000),
    st.integers(16, 4000),
    st.integers(16, 6000),
)
def test_any_offered_combination_parses_or_names_the_region(
    dpi: int, mode: ColorMode, mime: str, x: int, y: int, w: int, h: int
) -> None:
    body = (
        region(w, h, x, y)
        + f"<scan:ColorMode>{mode.value}</scan:ColorMode>"
        + f"<scan:XResolution>{dpi}</scan:XResolution><scan:YResolution>{dpi}</scan:YResolution>"
        + f"<pwg:DocumentFormat>{mime}</pwg:DocumentFormat>"
    )
    try:
        s = escl.parse_scan_settings(settings_xml(body))
    except ScanSettingsError as exc:
        assert exc.element == "ScanRegion"
        assert x + w > PLATEN_MAX[0] or y + h > PLATEN_MAX[1]
    else:
        assert (s.resolution, s.color_mode, s.format) == (dpi, mode, mime)


# -- documents the device sends -------------------------------------------------------------

IDENTITY = escl.Identity(
    make_and_model="Xerox WorkCentre 7755",
    serial_number="XRX0001 <&>",
    uuid=UUID,
    admin_uri="http://127.0.0.1:8080/",
    icon_uri="http://127.0.0.1:8080/icon.png",
)


def test_capabilities_read_back() -> None:
    root = ET.fromstring(escl.capabilities(IDENTITY))
    assert root.tag == f"{{{escl.SCAN_NS}}}ScannerCapabilities"
    assert root.findtext("pwg:Version", namespaces=NS) == "2.63"
    assert root.findtext("pwg:MakeAndModel", namespaces=NS) == "Xerox WorkCentre 7755"
    assert root.findtext("pwg:SerialNumber", namespaces=NS) == "XRX0001 <&>"
    assert root.findtext("scan:UUID", namespaces=NS) == UUID
    assert root.findtext("scan:AdminURI", namespaces=NS) == IDENTITY.admin_uri
    assert root.findtext("scan:IconURI", namespaces=NS) == IDENTITY.icon_uri
    sources = {
        "platen": root.find("scan:Platen/scan:PlatenInputCaps", NS),
        "simplex": root.find("scan:Adf/scan:AdfSimplexInputCaps", NS),
        "duplex": root.find("scan:Adf/scan:AdfDuplexInputCaps", NS),
    }
    for caps in sources.values():
        assert caps is not None
        profile = caps.find("scan:SettingProfiles/scan:SettingProfile", NS)
        assert profile is not None
        modes = [e.text for e in profile.iterfind("scan:ColorModes/scan:ColorMode", NS)]
        assert modes == [m.value for m in ColorMode]
        formats = [e.text for e in profile.iterfind("scan:DocumentFormats/pwg:DocumentFormat", NS)]
        exts = [e.text for e in profile.iterfind("scan:DocumentFormats/scan:DocumentFormatExt", NS)]
        assert formats == exts == list(FORMATS)
        dpis = [
            int(e.text or 0)
            for e in profile.iterfind(
                "scan:SupportedResolutions/scan:DiscreteResolutions/"
                "scan:DiscreteResolution/scan:XResolution", NS,
            )
        ]  # fmt: skip
        assert dpis == list(RESOLUTIONS)
        intents = [e.text for e in caps.iterfind("scan:SupportedIntents/scan:Intent", NS)]
        assert intents == [i.value for i in Intent]
        assert caps.findtext("scan:MaxOpticalXResolution", namespaces=NS) == "600"
        assert caps.findtext("scan:MaxScanRegions", namespaces=NS) == "1"
    platen = sources["platen"]
    assert platen is not None
    assert platen.findtext("scan:MaxWidth", namespaces=NS) == str(PLATEN_MAX[0])
    assert platen.findtext("scan:MaxHeight", namespaces=NS) == str(PLATEN_MAX[1])
    assert root.findtext("scan:Adf/scan:FeederCapacity", namespaces=NS) == str(FEEDER_CAPACITY)
    options = [e.text for e in root.iterfind("scan:Adf/scan:AdfOptions/scan:AdfOption", NS)]
    assert "Duplex" in options
    for support in ("BrightnessSupport", "ContrastSupport", "CompressionFactorSupport"):
        element = root.find(f"scan:{support}", NS)
        assert element is not None and element.findtext("scan:Step", namespaces=NS) == "1"
    assert root.findtext("scan:BlankPageDetectionAndRemoval", namespaces=NS) == "true"


def test_status_read_back() -> None:
    jobs = [
        escl.JobInfo(f"/eSCL/ScanJobs/{UUID}", UUID, 7, 3, 1, "Processing", ("JobScanning",)),
        escl.JobInfo("/eSCL/ScanJobs/x", "x", 70, 0, 0, "Aborted", ()),
    ]
    root = ET.fromstring(escl.status("Processing", "ScannerAdfJam", jobs))
    assert root.tag == f"{{{escl.SCAN_NS}}}ScannerStatus"
    assert root.findtext("pwg:State", namespaces=NS) == "Processing"
    assert root.findtext("scan:AdfState", namespaces=NS) == "ScannerAdfJam"
    infos = root.findall("scan:Jobs/scan:JobInfo", NS)
    assert len(infos) == 2
    first = infos[0]
    assert first.findtext("pwg:JobUri", namespaces=NS) == f"/eSCL/ScanJobs/{UUID}"
    assert first.findtext("pwg:JobUuid", namespaces=NS) == UUID
    assert first.findtext("scan:Age", namespaces=NS) == "7"
    assert first.findtext("pwg:ImagesCompleted", namespaces=NS) == "3"
    assert first.findtext("pwg:ImagesToTransfer", namespaces=NS) == "1"
    assert first.findtext("pwg:JobState", namespaces=NS) == "Processing"
    reasons = [e.text for e in first.iterfind("pwg:JobStateReasons/pwg:JobStateReason", NS)]
    assert reasons == ["JobScanning"]
    assert infos[1].findtext("pwg:JobState", namespaces=NS) == "Aborted"


def test_status_with_no_jobs() -> None:
    root = ET.fromstring(escl.status("Idle", "ScannerAdfEmpty", []))
    assert root.find("scan:Jobs", NS) is not None
    assert root.findall("scan:Jobs/scan:JobInfo", NS) == []


def test_image_info_read_back() -> None:
    info = escl.ImageInfo("/eSCL/ScanJobs/x", "x", 2550, 3300, escl.bytes_per_line(2550, "RGB24"))
    root = ET.fromstring(escl.image_info(info))
    assert root.findtext("scan:ActualWidth", namespaces=NS) == "2550"
    assert root.findtext("scan:ActualHeight", namespaces=NS) == "3300"
    assert root.findtext("scan:ActualBytesPerLine", namespaces=NS) == str(2550 * 3)
    assert escl.bytes_per_line(9, "BlackAndWhite1") == 2
    assert escl.bytes_per_line(9, "Grayscale8") == 9


@pytest.mark.parametrize(
    ("state", "expected"),
    [("pending", "Pending"), ("processing", "Processing"), ("completed", "Completed"),
     ("canceled", "Canceled"), ("aborted", "Aborted"), ("held", "Pending")],
)  # fmt: skip
def test_job_states(state: str, expected: str) -> None:
    assert escl.job_state(state) == expected


def test_job_state_reasons_in_pwg_spelling() -> None:
    assert escl.job_state_reason("job-canceled-by-user") == "JobCanceledByUser"
    assert escl.job_state_reason("job-completed-successfully") == "JobCompletedSuccessfully"
    assert escl.job_state_reason("aborted-by-system") == "AbortedBySystem"
    assert escl.job_state_reason("ScannerAdfJam") == "ScannerAdfJam"
