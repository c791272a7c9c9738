"""Every print format the engine counts, made by Ghostscript, printed with real clients."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import Mfpd, need

PAGES = 3
# (Ghostscript device, the MIME type mfpd must detect)
FORMATS = [
    ("pdfwrite", "application/pdf"),
    ("ps2write", "application/postscript"),
    ("ljet4", "application/vnd.hp-pcl"),
    ("pxlmono", "application/vnd.hp-pclxl"),
    ("pwgraster", "image/pwg-raster"),
    ("urf", "image/urf"),
    ("tiffg4", "image/tiff"),
]


def render(tmp_path: Path, device: str, pages: int = PAGES) -> Path:
    need("gs")
    out = tmp_path / f"doc.{device}"
    program = " ".join(
        f"/Helvetica findfont 30 scalefont setfont 72 700 moveto (Page {n}) show showpage"
        for n in range(1, pages + 1)
    )
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-r72", f"-sDEVICE={device}",
         "-sPAPERSIZE=a4", "-o", str(out), "-c", program],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return out


@pytest.mark.parametrize(("device", "mime"), FORMATS)
def test_raw_job_pages_per_format(mfpd: Mfpd, tmp_path: Path, device: str, mime: str) -> None:
    need("/usr/lib/cups/backend/socket")
    document = render(tmp_path, device)
    result = subprocess.run(
        ["/usr/lib/cups/backend/socket", "1", "alice", device, "1", "", str(document)],
        env={"DEVICE_URI": f"socket://127.0.0.1:{mfpd.port('raw')}/?waiteof=false"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = mfpd.wait_jobs_done(1)[0]
    assert (job["format"], job["pages"], job["state"]) == (mime, PAGES, "completed")
    assert mfpd.status()["counters"]["impressions"] == PAGES


def test_lpd_jobs_of_every_format(mfpd: Mfpd, tmp_path: Path) -> None:
    need("rlpr")
    port = str(mfpd.port("lpd"))
    for device, _ in FORMATS:
        document = render(tmp_path, device, pages=2)
        rlpr = ["rlpr", "-N", "-H127.0.0.1", f"--port={port}", "-Plp", "-Ubob", f"-J{device}"]
        subprocess.run([*rlpr, str(document)], check=True, capture_output=True, timeout=30)
    jobs = mfpd.wait_jobs_done(len(FORMATS))
    assert [(j["name"], j["format"], j["pages"]) for j in jobs] == [
        (device, mime, 2) for device, mime in FORMATS
    ]
