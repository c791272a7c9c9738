"""Scanning speed: pages per minute, against the WorkCentre 7755's rated 70 pages per minute.

`pipeline` measures the imaging pipeline alone, in this process and one thread (as the scan
job runner calls it, in a worker thread): for each case, a page is made (`scan_side`: the test
chart, or a loaded PDF rendered by Ghostscript) and written (`write_image`, or one
`DocumentWriter` for the whole run). The reference in the same run is the encoding floor:
Pillow saving the same finished image with the same options, so the figures say what the
pipeline adds on top of the codec.

Usage: python bench/scan_bench.py pipeline [--pages 20]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "src"))

from PIL import Image

from mfpd.device.scan_settings import (
    JPEG,
    PDF,
    PNG,
    TIFF,
    ColorMode,
    ScanSettings,
)
from mfpd.device.scanner import CHART, Original
from mfpd.documents.scan_formats import encode_image
from mfpd.documents.scan_pipeline import (
    ChartLabel,
    DocumentWriter,
    scan_side,
    write_image,
)

RATED_PPM = 70  # Xerox WorkCentre 7755, scanning (its data sheet)


@dataclass(frozen=True)
class Case:
    name: str
    settings: ScanSettings
    document: bool = False  # one multi-page file for the run, else a file per page
    original: str = "chart"  # "chart" or "pdf"


RGB, GREY, BW = ColorMode.RGB, ColorMode.GRAYSCALE, ColorMode.BLACK_AND_WHITE


def _s(dpi: int, mode: ColorMode, fmt: str, pdfa: bool = False) -> ScanSettings:
    return ScanSettings(resolution=dpi, color_mode=mode, format=fmt, pdfa=pdfa)


CASES = [
    Case("300 dpi A4 RGB JPEG", _s(300, RGB, JPEG)),
    Case("600 dpi A4 grey PDF", _s(600, GREY, PDF), document=True),
    Case("600 dpi A4 grey JPEG", _s(600, GREY, JPEG)),
    Case("300 dpi A4 RGB PDF", _s(300, RGB, PDF), document=True),
    Case("300 dpi A4 RGB PDF/A", _s(300, RGB, PDF, pdfa=True), document=True),
    Case("300 dpi A4 B&W TIFF G4", _s(300, BW, TIFF), document=True),
    Case("600 dpi A4 B&W PDF G4", _s(600, BW, PDF), document=True),
    Case("300 dpi A4 grey TIFF LZW", _s(300, GREY, TIFF), document=True),
    Case("300 dpi A4 RGB PNG", _s(300, RGB, PNG)),
    Case("300 dpi A4 RGB JPEG from a PDF original", _s(300, RGB, JPEG), original="pdf"),
    Case("600 dpi A4 grey PDF from a PDF original", _s(600, GREY, PDF), True, "pdf"),
]


def _pdf_original(directory: Path) -> Path:
    """A 1-page A4 PDF with text, lines and a photo-like gradient, made by Ghostscript."""
    ps = directory / "original.ps"
    ps.write_text(
        "%!PS\n<< /PageSize [595 842] >> setpagedevice\n"
        "/Helvetica findfont 11 scalefont setfont\n"
        "0 1 59 { /i exch def 72 770 i 11 mul sub moveto "
        "(The quick brown fox jumps over the lazy dog, line by line, 0123456789.) show } for\n"
        "0 1 99 { /i exch def i 100 div 0.5 1 i 100 div sub setrgbcolor "
        "300 i 2 mul add 80 2 200 rectfill } for showpage\n"
    )
    pdf = directory / "original.pdf"
    subprocess.run(
        ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite",
         f"-sOutputFile={pdf}", str(ps)],
        check=True,
    )  # fmt: skip
    return pdf


def _timed(pages: int, work: Callable[[int], None]) -> tuple[float, float]:
    """(first page's seconds, later pages' mean seconds)."""
    start = time.perf_counter()
    work(0)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for n in range(1, pages):
        work(n)
    rest = (time.perf_counter() - start) / max(1, pages - 1)
    return first, rest


def _floor(image: Image.Image, settings: ScanSettings, pages: int) -> float:
    """Seconds per page for Pillow alone to encode the finished image the same way."""
    start = time.perf_counter()
    for _ in range(max(3, pages // 4)):
        encode_image(image, settings)
    return (time.perf_counter() - start) / max(3, pages // 4)


def pipeline(pages: int) -> None:
    print(f"imaging pipeline, one thread, {pages} pages per case; WC 7755 rated {RATED_PPM} ppm")
    print(
        f"{'case':44} {'first s':>8} {'s/page':>8} {'pages/s':>8} {'ppm':>7} "
        f"{'x rated':>8} {'codec s':>8} {'kB/page':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="mfpd-scan-bench-") as tmp:
        directory = Path(tmp)
        pdf = _pdf_original(directory)
        for case in CASES:
            s = case.settings
            original = CHART if case.original == "chart" else Original(str(pdf), 0, name="pdf")
            out = directory / "out"
            writer = DocumentWriter(out, s) if case.document else None
            last: list[Image.Image] = []

            def work(n: int, s: ScanSettings = s, original: Original = original,
                     writer: DocumentWriter | None = writer, last: list[Image.Image] = last,
                     out: Path = out) -> None:  # fmt: skip
                label = ChartLabel("WorkCentre 7755", "BENCH", 1, n + 1, "front", time.time())
                image = scan_side(original, s, label)
                if writer is not None:
                    writer.add(image)
                else:
                    write_image(image, s, out.with_suffix(f".{n}"))
                last[:] = [image]

            first, rest = _timed(pages, work)
            size = (
                writer.close()
                if writer is not None
                else sum(p.stat().st_size for p in directory.glob("out.*"))
            )
            for p in directory.glob("out*"):
                p.unlink()
            floor = _floor(last[0], s, pages)
            ppm = 60 / rest
            print(
                f"{case.name:44} {first:8.3f} {rest:8.3f} {1 / rest:8.1f} {ppm:7.0f} "
                f"{ppm / RATED_PPM:7.1f}x {floor:8.3f} {size / pages / 1024:8.0f}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of this process: {peak / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pipeline", help="the imaging pipeline alone")
    p.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    if args.command == "pipeline":
        pipeline(args.pages)


if __name__ == "__main__":
    main()
