"""Originals from files: what the scanner sees when the operator loaded a PDF, PostScript,
PNG, JPEG or TIFF file onto the glass or into the feeder.

A page lies at the glass's top-left corner at its physical size, on white: PDF and PostScript
pages as Ghostscript renders them at the scan resolution, images at their own resolution (their
dpi, or 300 when they name none), scaled. The scan then cuts the region out of that.

Files come from the operator, the web UI and the API, so they are held to what they claim
(the format is read from the bytes, not the name), to a pixel limit (a decompression bomb, or
a huge page, is refused before it is decoded), and Ghostscript runs with -dSAFER, a deadline
and a private output directory. Anything that cannot be rendered raises OriginalError saying
why; rendering blocks, so callers in the event loop run it in a worker thread.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from PIL import Image

from mfpd.device.scan_settings import PLATEN_MAX, RESOLUTIONS, UNITS_PER_INCH, ScanSettings
from mfpd.device.scanner import Original
from mfpd.documents.pages import count_pages
from mfpd.documents.sniff import DocumentFormat, sniff_format


class OriginalError(ValueError):
    """A file the scanner cannot take as an original; the message says why."""


_T = TypeVar("_T")


_HEAD: Final = 64 * 1024
# The most pixels one page may decode to: the whole glass at the top resolution (about 72
# million). A bigger image is a decompression bomb, or a page no scan can show whole anyway.
MAX_PIXELS: Final = (PLATEN_MAX[0] * max(RESOLUTIONS) // UNITS_PER_INCH) * (
    PLATEN_MAX[1] * max(RESOLUTIONS) // UNITS_PER_INCH
)
# An image's dpi outside this is not a resolution but a unit mix-up; such files scan at 300.
_DPI_RANGE: Final = (10.0, 10000.0)
DEFAULT_DPI: Final = 300.0
GS_TIMEOUT: Final = 120.0  # seconds for one page (or one page count) in Ghostscript
_MAX_FRAMES: Final = 10000

_RASTER: Final[dict[str, str]] = {
    DocumentFormat.PNG: "PNG",
    DocumentFormat.JPEG: "JPEG",
    DocumentFormat.TIFF: "TIFF",
}
_GS_FORMATS: Final = (DocumentFormat.PDF, DocumentFormat.POSTSCRIPT)
_KINDS: Final = "PDF, PostScript, PNG, JPEG or TIFF"


def _sniff(path: Path) -> str:
    try:
        with path.open("rb") as file:
            head = file.read(_HEAD)
    except OSError as exc:
        raise OriginalError(f"{path.name} cannot be read: {exc.strerror or exc}") from exc
    if not head:
        raise OriginalError(f"{path.name} is empty")
    fmt = sniff_format(head)
    if fmt not in _RASTER and fmt not in _GS_FORMATS:
        raise OriginalError(f"{path.name} is not a {_KINDS} file")
    return fmt


def _guarded(path: Path, work: Callable[[], _T]) -> _T:
    """`work`, with whatever else a damaged file makes Pillow raise (its errors are many and
    undocumented: OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError...)
    turned into OriginalError; MemoryError stays what it is."""
    try:
        return work()
    except (OriginalError, MemoryError):
        raise
    except Exception as exc:
        raise OriginalError(f"{path.name} cannot be scanned: {exc}") from exc


def original_pages(path: Path) -> int:
    """How many pages the file holds, having checked the scanner can render them: its format
    from its bytes, a PDF's structure, an image's pixel count and first frame."""
    path = Path(path)
    return _guarded(path, lambda: _original_pages(path))


def _original_pages(path: Path) -> int:
    fmt = _sniff(path)
    if fmt == DocumentFormat.PDF:
        counted = count_pages(path, fmt)
        if not counted.exact or counted.pages < 1:
            raise OriginalError(f"{path.name} is not a readable PDF (no page tree)")
        _ghostscript_pages(path, last=1)  # it renders, too
        return counted.pages
    if fmt == DocumentFormat.POSTSCRIPT:
        # PostScript is a program: only running it says how many pages it makes.
        return _ghostscript_pages(path)
    with _open_image(path, fmt) as image:
        frames = getattr(image, "n_frames", 1)
        if frames > _MAX_FRAMES:
            raise OriginalError(f"{path.name} has {frames} pages; the scanner takes fewer")
        for frame in range(frames):
            image.seek(frame)
            _check_size(path, image)
        image.seek(0)
        _decode(path, image)
        _flatten(image.crop((0, 0, 1, 1)), "RGB")  # a mode the scanner can convert
        return int(frames)


# --------------------------------------------------------------------------------------------
# Images through Pillow


def _open_image(path: Path, fmt: str) -> Image.Image:
    try:
        image = Image.open(path, formats=[_RASTER[fmt]])
    except Image.DecompressionBombError as exc:
        raise OriginalError(f"{path.name} is too large to scan: {exc}") from exc
    except Exception as exc:  # Pillow's errors on damaged input are many and undocumented
        raise OriginalError(f"{path.name} is not a readable {_RASTER[fmt]} image: {exc}") from exc
    _check_size(path, image)
    return image


def _check_size(path: Path, image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise OriginalError(
            f"{path.name} is too large to scan ({width}x{height} pixels; "
            f"at most {MAX_PIXELS} per page)"
        )


def _decode(path: Path, image: Image.Image) -> None:
    try:
        image.load()
    except Exception as exc:
        raise OriginalError(f"{path.name} cannot be decoded: {exc}") from exc


def _dpi(image: Image.Image) -> tuple[float, float]:
    dpi = image.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return DEFAULT_DPI, DEFAULT_DPI
    low, high = _DPI_RANGE
    if not (low <= x <= high and low <= y <= high):
        return DEFAULT_DPI, DEFAULT_DPI
    return x, y


# Exif (CIPA DC-008) Orientation, tag 0x0112: the transpose that shows a photo upright.
_ORIENTATION: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _flatten(image: Image.Image, mode: str) -> Image.Image:
    """The pixels as they would lie on white paper, in mode L or RGB."""
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        paper.alpha_composite(image.convert("RGBA"))
        image = paper
    elif image.mode.startswith("I"):  # 16- and 32-bit grey: the top 8 bits
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    return image if image.mode == mode else image.convert(mode)


def _render_image(
    path: Path, fmt: str, page: int, settings: ScanSettings, mode: str
) -> Image.Image:
    with _open_image(path, fmt) as image:
        try:
            image.seek(page)
        except EOFError as exc:
            raise OriginalError(f"{path.name} has no page {page + 1}") from exc
        _check_size(path, image)
        dpi_x, dpi_y = _dpi(image)
        orientation = image.getexif().get(0x0112) if fmt == DocumentFormat.JPEG else None
        # JPEG decodes at 1/2, 1/4 or 1/8 scale for free: a 1200 dpi photo scanned at 150
        # decodes an eighth of the pixels.
        scale = settings.resolution / min(dpi_x, dpi_y)
        if scale < 1:
            full = image.size
            image.draft(mode, (max(1, round(full[0] * scale)), max(1, round(full[1] * scale))))
            dpi_x *= image.size[0] / full[0]
            dpi_y *= image.size[1] / full[1]
        _decode(path, image)
        flat = _flatten(image, mode)
    if isinstance(orientation, int) and orientation in _ORIENTATION:
        flat = flat.transpose(_ORIENTATION[orientation])
        if orientation >= 5:
            dpi_x, dpi_y = dpi_y, dpi_x
    return place(flat, (dpi_x, dpi_y), settings)


def place(page: Image.Image, dpi: tuple[float, float], settings: ScanSettings) -> Image.Image:
    """`page` (at `dpi`) laid at the glass's top-left corner on white, and the scan's region
    cut out of it at the scan's resolution."""
    r, res = settings.region, settings.resolution
    size = settings.pixel_size()
    out = Image.new(page.mode, size, 255 if page.mode == "L" else (255, 255, 255))
    # What of the region the page covers, in glass units.
    page_w = page.width * UNITS_PER_INCH / dpi[0]
    page_h = page.height * UNITS_PER_INCH / dpi[1]
    x0, y0 = r.x, r.y
    x1, y1 = min(r.x + r.width, page_w), min(r.y + r.height, page_h)
    if x1 <= x0 or y1 <= y0:
        return out
    target = (
        round((x1 - r.x) * res / UNITS_PER_INCH),
        round((y1 - r.y) * res / UNITS_PER_INCH),
    )
    target = (min(target[0], size[0]), min(target[1], size[1]))
    if target[0] < 1 or target[1] < 1:
        return out
    box = (
        x0 * dpi[0] / UNITS_PER_INCH,
        y0 * dpi[1] / UNITS_PER_INCH,
        x1 * dpi[0] / UNITS_PER_INCH,
        y1 * dpi[1] / UNITS_PER_INCH,
    )
    whole = (round(box[0]), round(box[1]), round(box[2]), round(box[3]))
    if (
        all(abs(a - b) < 1e-6 for a, b in zip(box, whole, strict=True))
        and (
            whole[2] - whole[0],
            whole[3] - whole[1],
        )
        == target
    ):
        cut = page.crop(whole)  # the page is at the scan resolution already (the usual case)
    else:
        cut = page.resize(target, Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
    out.paste(cut, (0, 0))
    return out


# --------------------------------------------------------------------------------------------
# PDF and PostScript through Ghostscript

_BBOX: Final = re.compile(rb"^%%BoundingBox:", re.MULTILINE)


def _gs() -> str:
    gs = shutil.which("gs")
    if gs is None:
        raise OriginalError(
            "Ghostscript (gs) is not installed; PDF and PostScript cannot be scanned"
        )
    return gs


def _run_gs(
    args: list[str], path: Path, what: str, max_output: int = 0
) -> subprocess.CompletedProcess[bytes]:
    # A page's size is the document's to choose (a 100-inch poster is 3.6 GB of grey pixels
    # at 600 dpi): util-linux's prlimit caps what Ghostscript may write (RLIMIT_FSIZE; it
    # gets SIGXFSZ past it), set before it starts, where preexec_fn would not be thread-safe.
    limit = shutil.which("prlimit") if max_output else None
    command = [
        *([limit, f"--fsize={max_output}", "--"] if limit else []),
        _gs(),
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOPROMPT",
        "-sstdout=%stderr",  # a document's `print` output must not mix with ours
        *args,
        str(path.absolute()),  # absolute: never taken for an option or a %device%
    ]
    # GS_OPTIONS from the daemon's environment would be added to every run (-dNOSAFER, say).
    env = {name: value for name, value in os.environ.items() if name != "GS_OPTIONS"}
    try:
        return subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=GS_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise OriginalError(f"Ghostscript took too long to {what} {path.name}") from exc
    except OSError as exc:
        raise OriginalError(f"Ghostscript cannot be started: {exc}") from exc


def _gs_reason(result: subprocess.CompletedProcess[bytes]) -> str:
    lines = [line.strip() for line in result.stderr.decode("utf-8", "replace").splitlines()]
    errors = [line for line in lines if line.lstrip("* ").startswith(("Error", "Unrecoverable"))]
    return (errors or [line for line in lines if line] or [f"exit status {result.returncode}"])[0][
        :200
    ]


def _ghostscript_pages(path: Path, last: int | None = None) -> int:
    """Pages Ghostscript's bbox device reports (it draws no pixels: the cheapest full run)."""
    limit = [f"-dLastPage={last}"] if last else []
    result = _run_gs(["-sDEVICE=bbox", *limit], path, "read")
    pages = len(_BBOX.findall(result.stderr))
    if not pages:
        raise OriginalError(f"Ghostscript finds no page in {path.name}: {_gs_reason(result)}")
    return pages


def _render_gs(path: Path, page: int, settings: ScanSettings, mode: str) -> Image.Image:
    # Raw PPM/PGM rather than PNG: at 600 dpi A4 grey Ghostscript writes it in 0.32 s instead
    # of 0.58 s and Pillow reads it in 0.02 s instead of 0.21 s (zlib both ways), for 35 MB
    # of temporary file instead of 1 MB, gone when the page is read.
    device, channels = ("ppmraw", 3) if mode == "RGB" else ("pgmraw", 1)
    with tempfile.TemporaryDirectory(prefix="mfpd-scan-") as tmp:
        out = Path(tmp) / "page.pnm"
        result = _run_gs(
            [
                f"-dFirstPage={page + 1}",
                f"-dLastPage={page + 1}",
                f"-sDEVICE={device}",
                f"-r{settings.resolution}",
                "-dTextAlphaBits=4",
                "-dGraphicsAlphaBits=4",
                "-sOutputFile=" + str(out).replace("%", "%%"),
            ],
            path,
            "render",
            max_output=MAX_PIXELS * channels + 64,  # the PNM header's few bytes
        )
        if result.returncode == -signal.SIGXFSZ:
            raise OriginalError(
                f"page {page + 1} of {path.name} is too large to scan at {settings.resolution} "
                f"dpi (more than {MAX_PIXELS} pixels)"
            )
        if not out.exists() or not out.stat().st_size:
            raise OriginalError(
                f"Ghostscript rendered no page {page + 1} of {path.name}: {_gs_reason(result)}"
            )
        try:
            with Image.open(out, formats=["PPM"]) as image:
                _check_size(path, image)
                image.load()
                rendered = _flatten(image, mode)
        except OriginalError:
            raise
        except Exception as exc:
            raise OriginalError(f"Ghostscript's page of {path.name} cannot be read: {exc}") from exc
    return place(rendered, (settings.resolution, settings.resolution), settings)


def render_original(original: Original, settings: ScanSettings, mode: str) -> Image.Image:
    """One page of a loaded file as the scan's region shows it at its resolution, in mode L
    or RGB (before brightness, contrast and the colour mode)."""
    path = Path(original.path)
    return _guarded(path, lambda: _render_original(path, original.page, settings, mode))


def _render_original(path: Path, page: int, settings: ScanSettings, mode: str) -> Image.Image:
    fmt = _sniff(path)
    if fmt in _GS_FORMATS:
        return _render_gs(path, page, settings, mode)
    return _render_image(path, fmt, page, settings, mode)
