"""The documents ipptool's conformance files name, made at test time (no binaries committed).

Debian ships the .test files without their documents, and ipptool 2.4.2 aborts a whole file
when any FILE it names is missing, even in a test it would skip. So every PWG raster sample
`pwg-raster-samples-<res>dpi/<type>/<doc>-<type>-<res>dpi.pwg` is rendered by Ghostscript from
a PDF made here, into a cache directory reused across runs on the same machine.
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import Mfpd
from tests.documents import make_pdf, postscript_bytes

TEST_FILES = Path("/usr/share/cups/ipptool")
SAMPLE = re.compile(r"pwg-raster-samples-(\d+)dpi/([a-z0-9-]+)/(\S+?)-\2-\1dpi\.pwg")
# CUPS raster colour spaces (cups/raster.h): K 3, CMYK 6, sGray 18, sRGB 19.
RASTER_TYPES = {
    "black-1": (3, 1),
    "sgray-8": (18, 8),
    "srgb-8": (19, 8),
    "srgb-16": (19, 16),
    "cmyk-8": (6, 8),
}
POINTS = {"a4": (595, 842), "letter": (612, 792), "4x6": (288, 432)}


def _gs(*args: str) -> None:
    subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", *args], check=True,
                   capture_output=True, timeout=120)  # fmt: skip


def base_documents(directory: Path) -> None:
    """document-*, onepage-*, color.jpg, gray.jpg: what the .test files print."""
    for size in ("a4", "letter"):
        make_pdf(directory / f"document-{size}.pdf", pages=2)
        make_pdf(directory / f"onepage-{size}.pdf", pages=1)
        (directory / f"document-{size}.ps").write_bytes(postscript_bytes(2))
    for device, name in (("jpeg", "color.jpg"), ("jpeggray", "gray.jpg")):
        if not (directory / name).exists():
            _gs(f"-sDEVICE={device}", "-r20", "-dFirstPage=1", "-dLastPage=1",
                "-o", str(directory / name), str(directory / "document-a4.ps"))  # fmt: skip


def _source_pdf(directory: Path, document: str) -> Path:
    """The PDF a sample is rendered from: the document itself, or a JPEG on 4x6 media."""
    if document.endswith(".jpg-4x6"):
        pdf = directory / f"{document}.pdf"
        if not pdf.exists():
            viewjpeg = next(Path("/usr/share/ghostscript").glob("*/lib/viewjpeg.ps"))
            width, height = POINTS["4x6"]
            # -dNOSAFER: viewjpeg.ps opens the JPEG by name; the input is ours.
            jpeg = directory / document.removesuffix("-4x6")
            _gs("-dNOSAFER", "-sDEVICE=pdfwrite", f"-dDEVICEWIDTHPOINTS={width}",
                f"-dDEVICEHEIGHTPOINTS={height}", "-dFIXEDMEDIA", "-o", str(pdf),
                str(viewjpeg), "-c", f"({jpeg}) viewJPEG")  # fmt: skip
        return pdf
    return directory / f"{document}.pdf"


def pwg_samples(test_file: Path, directory: Path) -> int:
    """Render every PWG raster sample `test_file` names; returns how many were made."""
    wanted = sorted(set(SAMPLE.findall(test_file.read_text())))
    todo = []
    for res, kind, document in wanted:
        out = directory / f"pwg-raster-samples-{res}dpi" / kind / f"{document}-{kind}-{res}dpi.pwg"
        if out.exists():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        space, bits = RASTER_TYPES[kind]
        size = "4x6" if document.endswith("-4x6") else document.rsplit("-", 1)[-1]
        width, height = POINTS[size]
        source = _source_pdf(directory, document)
        todo.append(
            ("-sDEVICE=pwgraster", f"-r{res}", f"-dcupsColorSpace={space}",
             f"-dcupsBitsPerColor={bits}", f"-dDEVICEWIDTHPOINTS={width}",
             f"-dDEVICEHEIGHTPOINTS={height}", "-dFIXEDMEDIA", "-o", str(out), str(source))
        )  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda args: _gs(*args), todo))
    return len(todo)


# Debian 2.4.2's get-printer-attributes-suite.test names its last case
# "requested-attributes='media-col-database'" but sends 'all', then expects nothing but the
# database: no printer can pass both. The copy run here sends what the case's name says.
FIXES = {
    "get-printer-attributes-suite.test": (
        "NAME \"Get-Printer-Attributes (requested-attributes='media-col-database')\"",
        "ATTR keyword requested-attributes 'all'",
        "ATTR keyword requested-attributes 'media-col-database'",
    ),
}


def prepare(directory: Path, *tests: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    base_documents(directory)
    for name in tests:
        text = (TEST_FILES / name).read_text()
        if name in FIXES:
            anchor, wrong, right = FIXES[name]
            at = text.find(anchor)
            assert at >= 0 and wrong in text[at:], f"{name} changed upstream: review FIXES"
            text = text[:at] + text[at:].replace(wrong, right, 1)
        (directory / name).write_text(text)
        pwg_samples(directory / name, directory)


def ipptool(
    mfpd: Mfpd,
    directory: Path,
    *args: str,
    scheme: str = "ipp",
    service: str = "ipp",
    timeout: float = 600,
) -> tuple[int, str]:
    """`ipptool [OPTIONS] URI FILE` against the daemon, in the directory of the cached test
    files (`args` ends with the test file); the exit status and everything it printed."""
    uri = f"{scheme}://127.0.0.1:{mfpd.port(service)}/ipp/print"
    result = subprocess.run(
        ["ipptool", *args[:-1], uri, args[-1]],
        cwd=directory, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr
