"""Scan files: every format opens back (Pillow, and poppler's pdfinfo/pdfimages, qpdf, libtiff's
tiffinfo where installed) at the scan's size, mode and resolution; PDF/A-1b's markers; and a
20-page document written with bounded memory."""

from __future__ import annotations

import io
import re
import subprocess
import time
import tracemalloc
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from mfpd.device.scan_settings import (
    JPEG,
    PDF,
    PNG,
    TIFF,
    ColorMode,
    Intent,
    Region,
    ScanSettings,
)
from mfpd.device.scanner import CHART
from mfpd.documents.scan_chart import COLOR_PATCHES, GRAY_RAMP, MARKS, pixel_box
from mfpd.documents.scan_formats import encode_image, quality
from mfpd.documents.scan_pdf import srgb_icc_v2
from mfpd.documents.scan_pipeline import (
    ChartLabel,
    DocumentWriter,
    scan_side,
    thumbnail_png,
    write_image,
)
from tests.conftest import has

LABEL = ChartLabel("Xerox WorkCentre 7755", "WC7755-000042", 3, 1, "front", time.time())
# A letter-width strip of the chart's top: small files, with the first mark in it.
STRIP = Region(0, 0, 2550, 600)


def _settings(fmt: str, mode: ColorMode, dpi: int = 150, **changes: object) -> ScanSettings:
    return ScanSettings(resolution=dpi, color_mode=mode, format=fmt, region=STRIP).with_changes(
        **changes
    )


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.mark.parametrize("mode", list(ColorMode))
@pytest.mark.parametrize("fmt", [JPEG, PNG, TIFF])
def test_image_files_open_back_with_size_mode_and_resolution(
    tmp_path: Path, fmt: str, mode: ColorMode
) -> None:
    s = _settings(fmt, mode, dpi=200)
    image = scan_side(CHART, s, LABEL)
    path = tmp_path / "scan"
    size = write_image(image, s, path)
    assert size == path.stat().st_size > 0
    with Image.open(path) as back:
        assert back.format == {JPEG: "JPEG", PNG: "PNG", TIFF: "TIFF"}[fmt]
        assert back.size == s.pixel_size()
        # JPEG has no 1-bit form: black and white is stored as grey.
        expected = "L" if (fmt == JPEG and mode is ColorMode.BLACK_AND_WHITE) else mode.pil_mode
        assert back.mode == expected
        dpi = back.info["dpi"]
        assert (round(dpi[0]), round(dpi[1])) == (200, 200)
        if fmt == TIFF:
            assert back.info["compression"] == (
                "group4" if mode is ColorMode.BLACK_AND_WHITE else "tiff_lzw"
            )
        # The mark survives the encoding where it should be.
        left, top, right, bottom = pixel_box(MARKS[0], s)
        middle = back.convert("L").getpixel(((left + right) // 2, (top + bottom) // 2))
        assert isinstance(middle, int) and middle < 32


def test_tiffinfo_reads_resolution_and_g4(tmp_path: Path) -> None:
    if not has("tiffinfo"):
        pytest.skip("libtiff-tools is not installed")
    s = _settings(TIFF, ColorMode.BLACK_AND_WHITE, dpi=300)
    write_image(scan_side(CHART, s, LABEL), s, tmp_path / "a.tif")
    info = _run("tiffinfo", str(tmp_path / "a.tif"))
    assert "CCITT Group 4" in info
    assert "Resolution: 300, 300 pixels/inch" in info
    assert f"Image Width: {s.pixel_size()[0]} Image Length: {s.pixel_size()[1]}" in info


def test_jpeg_quality_follows_the_intent_and_the_settings() -> None:
    image = scan_side(CHART, _settings(JPEG, ColorMode.GRAYSCALE), LABEL)
    sizes = {
        intent: len(encode_image(image, _settings(JPEG, ColorMode.GRAYSCALE, intent=intent)))
        for intent in Intent
    }
    assert quality(_settings(JPEG, ColorMode.RGB, intent=Intent.PHOTO)) == 90
    assert quality(_settings(JPEG, ColorMode.RGB, intent=Intent.DOCUMENT)) == 80
    assert quality(_settings(JPEG, ColorMode.RGB, intent=Intent.PREVIEW)) == 50
    assert quality(_settings(JPEG, ColorMode.RGB, quality=12)) == 12
    assert sizes[Intent.PHOTO] > sizes[Intent.DOCUMENT] > sizes[Intent.PREVIEW]


@pytest.mark.parametrize("mode", list(ColorMode))
def test_pdf_page_size_and_image_encoding(tmp_path: Path, mode: ColorMode) -> None:
    s = _settings(PDF, mode, dpi=300)
    path = tmp_path / "scan.pdf"
    write_image(scan_side(CHART, s, LABEL), s, path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3")
    encoding = "CCITTFaxDecode" if mode is ColorMode.BLACK_AND_WHITE else "DCTDecode"
    assert f"/Filter /{encoding}".encode() in data
    width, height = s.pixel_size()
    if has("pdfinfo", "pdfimages"):
        info = _run("pdfinfo", str(path))
        assert re.search(r"Pages:\s+1\n", info)
        assert re.search(rf"Page size:\s+{width * 72 / 300:g} x {height * 72 / 300:g} pts", info)
        images = _run("pdfimages", "-list", str(path)).splitlines()[2].split()
        # page num type width height color comp bpc enc interp object ID x-ppi y-ppi
        assert images[3:9] == [
            str(width),
            str(height),
            "rgb" if mode is ColorMode.RGB else "gray",
            "3" if mode is ColorMode.RGB else "1",
            "1" if mode is ColorMode.BLACK_AND_WHITE else "8",
            "ccitt" if mode is ColorMode.BLACK_AND_WHITE else "jpeg",
        ]
        assert images[12:14] == ["300", "300"]
    if has("qpdf"):
        assert "No syntax or stream encoding errors" in _run("qpdf", "--check", str(path))


def test_pdf_black_and_white_renders_the_right_way_round(tmp_path: Path) -> None:
    # Group 4 codes runs of "white" and "black"; getting BlackIs1 wrong inverts the page.
    if not has("gs"):
        pytest.skip("ghostscript is not installed")
    s = _settings(PDF, ColorMode.BLACK_AND_WHITE, dpi=150)
    write_image(scan_side(CHART, s, LABEL), s, tmp_path / "bw.pdf")
    _run(
        "gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pnggray", "-r150",
        f"-sOutputFile={tmp_path / 'bw.png'}", str(tmp_path / "bw.pdf"),
    )  # fmt: skip
    with Image.open(tmp_path / "bw.png") as page:
        left, top, right, bottom = pixel_box(MARKS[0], s)
        assert page.getpixel(((left + right) // 2, (top + bottom) // 2)) == 0
        assert page.getpixel((right + 10, bottom + 10)) == 255


def test_pdfa_markers(tmp_path: Path) -> None:
    s = _settings(PDF, ColorMode.RGB, pdfa=True)
    path = tmp_path / "a.pdf"
    write_image(scan_side(CHART, s, LABEL), s, path)
    data = path.read_bytes()
    assert b"<pdfaid:part>1</pdfaid:part>" in data
    assert b"<pdfaid:conformance>B</pdfaid:conformance>" in data
    assert b"/S /GTS_PDFA1" in data and b"/DestOutputProfile" in data
    assert b"/OutputIntents [" in data and b"/Metadata " in data
    assert re.search(rb"/ID \[<[0-9a-f]{32}> <[0-9a-f]{32}>\]", data)
    # The metadata stream is not filtered (ISO 19005-1 6.7.2).
    assert re.search(rb"/Type /Metadata /Subtype /XML /Length \d+ >>\nstream\n<\?xpacket", data)
    # The XMP dates are the information dictionary's.
    created = re.search(rb"/CreationDate \(D:(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)", data)
    assert created is not None
    y, mo, d, h, mi, sec = (g.decode() for g in created.groups())
    assert f"<xmp:CreateDate>{y}-{mo}-{d}T{h}:{mi}:{sec}+00:00".encode() in data
    # Without pdfa, none of it.
    plain = tmp_path / "plain.pdf"
    write_image(
        scan_side(CHART, s.with_changes(pdfa=False), LABEL), s.with_changes(pdfa=False), plain
    )
    assert b"pdfaid" not in plain.read_bytes()
    if has("qpdf"):
        assert "No syntax or stream encoding errors" in _run("qpdf", "--check", str(path))
    if has("pdfinfo"):
        assert "Metadata Stream: yes" in _run("pdfinfo", str(path))


def test_pdfa_icc_profile_is_version_2_srgb() -> None:
    icc = srgb_icc_v2()
    assert icc[8:12] == b"\x02\x10\x00\x00"  # PDF/A-1: ICC.1:1998-09 (version 2)
    assert icc[12:24] == b"mntrRGB XYZ " and icc[36:40] == b"acsp"
    assert int.from_bytes(icc[:4], "big") == len(icc)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    assert ImageCms.getProfileDescription(profile).strip() == "sRGB IEC61966-2.1"
    # LittleCMS's own sRGB and ours agree: a transform between them changes nothing.
    transform = ImageCms.buildTransform(profile, ImageCms.createProfile("sRGB"), "RGB", "RGB")
    probe = Image.new("RGB", (4, 1))
    colours = [(255, 0, 0), (128, 128, 128), (10, 200, 30), (250, 250, 5)]
    for x, colour in enumerate(colours):
        probe.putpixel((x, 0), colour)
    out = ImageCms.applyTransform(probe, transform)
    assert out is not None
    for x, colour in enumerate(colours):
        got = out.getpixel((x, 0))
        assert isinstance(got, tuple)
        assert all(abs(a - b) <= 2 for a, b in zip(got, colour, strict=True)), (colour, got)


@pytest.mark.parametrize("fmt", [PDF, TIFF])
def test_document_writer_many_pages(tmp_path: Path, fmt: str) -> None:
    s = _settings(fmt, ColorMode.GRAYSCALE, pdfa=fmt == PDF)
    path = tmp_path / "doc"
    with DocumentWriter(path, s) as writer:
        for n in range(1, 6):
            writer.add(scan_side(CHART, s, ChartLabel("d", "s", 1, n, "front", time.time())))
    assert writer.pages == 5
    if fmt == TIFF:
        with Image.open(path) as back:
            assert back.n_frames == 5
            for frame in range(5):
                back.seek(frame)
                assert back.size == s.pixel_size()
                assert tuple(round(v) for v in back.info["dpi"]) == (150, 150)
        if has("tiffinfo"):
            assert _run("tiffinfo", str(path)).count("TIFF Directory") == 5
    elif has("pdfinfo", "pdfimages", "qpdf"):
        assert re.search(r"Pages:\s+5\n", _run("pdfinfo", str(path)))
        assert len(_run("pdfimages", "-list", str(path)).splitlines()) == 2 + 5
        assert "No syntax or stream encoding errors" in _run("qpdf", "--check", str(path))


def test_document_writer_takes_only_pdf_and_tiff(tmp_path: Path) -> None:
    for fmt in (JPEG, PNG):
        with pytest.raises(ValueError, match="one page per file"):
            DocumentWriter(tmp_path / "x", _settings(fmt, ColorMode.RGB))


def _peak_while_writing(path: Path, s: ScanSettings, pages: int) -> int:
    # Python-level allocations: the encoded pages (JPEG bytes, TIFF strips) are Python
    # objects, so a writer that kept them would show here; one page image is made once.
    image = scan_side(CHART, s, LABEL)
    tracemalloc.start()
    try:
        with DocumentWriter(path, s) as writer:
            for _ in range(pages):
                writer.add(image)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", [PDF, TIFF])
def test_twenty_pages_cost_what_two_cost(tmp_path: Path, fmt: str) -> None:
    s = ScanSettings(resolution=300, color_mode=ColorMode.RGB, format=fmt)
    two = _peak_while_writing(tmp_path / "two", s, 2)
    twenty = _peak_while_writing(tmp_path / "twenty", s, 20)
    page = (tmp_path / "two").stat().st_size // 2
    assert (tmp_path / "twenty").stat().st_size > 9 * page
    # Ten times the pages, the same peak (give or take the offsets table).
    assert twenty < two + page // 2, (two, twenty, page)


def test_thumbnail_fits_and_is_png() -> None:
    for mode in ColorMode:
        image = scan_side(CHART, ScanSettings(resolution=75, color_mode=mode), LABEL)
        with Image.open(io.BytesIO(thumbnail_png(image))) as thumb:
            assert thumb.format == "PNG"
            assert max(thumb.size) == 160
            assert thumb.size[0] == round(160 * image.width / image.height)
        with Image.open(io.BytesIO(thumbnail_png(image, longest=64))) as small:
            assert max(small.size) == 64


def test_every_format_is_written_in_its_own_bytes(tmp_path: Path) -> None:
    image = scan_side(CHART, _settings(PDF, ColorMode.RGB, dpi=75), LABEL)
    magic = {PDF: b"%PDF-", JPEG: b"\xff\xd8\xff", PNG: b"\x89PNG", TIFF: b"II*\x00"}
    for fmt, head in magic.items():
        path = tmp_path / fmt.replace("/", "-")
        write_image(image, _settings(fmt, ColorMode.RGB, dpi=75), path)
        assert path.read_bytes().startswith(head)


def test_pdf_colours_come_back_from_a_pdf_reader(tmp_path: Path) -> None:
    # Poppler renders the page at the scan's resolution: the patches where the table puts
    # them, in their sRGB values within the JPEG's error.
    if not has("pdftoppm"):
        pytest.skip("poppler-utils is not installed")
    s = ScanSettings(resolution=150, color_mode=ColorMode.RGB, format=PDF, pdfa=True)
    write_image(scan_side(CHART, s, LABEL), s, tmp_path / "rgb.pdf")
    _run("pdftoppm", "-r", "150", "-png", str(tmp_path / "rgb.pdf"), str(tmp_path / "page"))
    with Image.open(tmp_path / "page-1.png") as page:
        rendered = page.convert("RGB")
    assert rendered.size == s.pixel_size()
    for patch in (*COLOR_PATCHES, *GRAY_RAMP):
        left, top, right, bottom = pixel_box(patch, s)
        got = rendered.getpixel(((left + right) // 2, (top + bottom) // 2))
        assert isinstance(got, tuple)
        assert all(abs(a - b) <= 4 for a, b in zip(got, patch.rgb, strict=True)), patch.name
