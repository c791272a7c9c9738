"""Scanning speed: pages per minute over eSCL and to FTP, and the daemon's peak memory.

Starts a real `mfpd serve` (bench/common.py) and, for each case, fills the document feeder
with test-chart sheets (`mfpd fault feeder-empty --clear`, 10 sheets a call), then:

- eSCL: POST /eSCL/ScanJobs with the case's ScanSettings and GET NextDocument until 404, as
  sane-airscan does (keep-alive, one request at a time; a 503 is retried after 10 ms);
  pages per minute from the POST to the last image received.
- FTP: a walk-up scan of a template whose destination is a pyftpdlib server on loopback
  (`mfpd scan TEMPLATE`), timed from the command to the job's completed state, which the
  daemon reaches after the file is stored.

References in the same run: the WorkCentre 7755's rated scan speed (70 images per minute,
its data sheet) and the loopback limit: the same bytes the eSCL case moved, sent through a
plain socket pair on 127.0.0.1, so the figure shows how much of the time is the scanner's
pixels and how much the transport. Memory: the daemon's VmHWM (peak RSS) before the first
scan and after each case, and per page of the largest case.

`--pipeline` measures the imaging pipeline alone instead, in this process and one thread
(as the runner calls it, in a worker thread): for each case a page is made (`scan_side`: the
test chart, or a loaded PDF rendered by Ghostscript) and written (`write_image`, or one
`DocumentWriter` for the run). Its reference is the encoding floor: Pillow saving the same
finished image with the same options, so the figures say what the pipeline adds to the codec.

Usage: .venv/bin/python bench/scan_bench.py [--sheets 20] [--runs 2]
       .venv/bin/python bench/scan_bench.py --pipeline [--pages 20]
       .venv/bin/python bench/scan_bench.py --runner [--sheets 20] [--runs 2]

`--runner` drives the scan job runner (device/scan_jobs.py) in this process as eSCL does,
without HTTP: a feeder job of test-chart sheets, each image taken as soon as it is ready and
released (ScanJobs.retrieved), images per minute from create() to the last image; and this
process's peak RSS above its RSS before the first job, per page.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Daemon, free_port, rss_kib

sys.path.insert(0, str(ROOT / "src"))

from PIL import Image

from mfpd.device.scan_settings import (
    JPEG,
    PDF,
    PNG,
    TIFF,
    ColorMode,
    InputSource,
    ScanSettings,
)
from mfpd.device.scanner import CHART, Original
from mfpd.documents.scan_formats import encode_image
from mfpd.documents.scan_pipeline import ChartLabel, DocumentWriter, scan_side, write_image

RATED_IPM = 70  # WorkCentre 7755 data sheet: scan speed, images per minute
A4 = (2480, 3508)  # 1/300 inch

CASES = [
    ("300 dpi A4 colour JPEG", 300, "RGB24", "image/jpeg"),
    ("600 dpi A4 grayscale PDF", 600, "Grayscale8", "application/pdf"),
]


def settings_xml(resolution: int, mode: str, fmt: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scan:ScanSettings xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03"
 xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm">
<pwg:Version>2.63</pwg:Version>
<pwg:ScanRegions><pwg:ScanRegion>
<pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</pwg:ContentRegionUnits>
<pwg:XOffset>0</pwg:XOffset><pwg:YOffset>0</pwg:YOffset>
<pwg:Width>{A4[0]}</pwg:Width><pwg:Height>{A4[1]}</pwg:Height>
</pwg:ScanRegion></pwg:ScanRegions>
<pwg:InputSource>Feeder</pwg:InputSource>
<scan:ColorMode>{mode}</scan:ColorMode>
<scan:XResolution>{resolution}</scan:XResolution><scan:YResolution>{resolution}</scan:YResolution>
<pwg:DocumentFormat>{fmt}</pwg:DocumentFormat>
</scan:ScanSettings>""".encode()


def mfpd(state: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "mfpd", *args, "--state-dir", str(state)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"mfpd {' '.join(args)}: {out.stderr or out.stdout}")
    return out.stdout


def fill_feeder(state: Path, sheets: int) -> None:
    mfpd(state, "fault", "feeder-empty")
    for _ in range(0, sheets, 10):
        mfpd(state, "fault", "feeder-empty", "--clear")


def escl_scan(port: int, body: bytes) -> tuple[int, int, float]:
    """One eSCL job through to its last image: (images, bytes, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request("POST", "/eSCL/ScanJobs", body, {"Content-Type": "text/xml"})
    answer = conn.getresponse()
    answer.read()
    if answer.status != 201:
        raise RuntimeError(f"POST ScanJobs: {answer.status}")
    job = urlsplit(answer.getheader("Location", "")).path
    images = size = 0
    for _ in range(100_000):
        conn.request("GET", f"{job}/NextDocument")
        answer = conn.getresponse()
        data = answer.read()
        if answer.status == 404:
            break
        if answer.status == 503:
            time.sleep(0.01)
            continue
        if answer.status != 200:
            raise RuntimeError(f"NextDocument: {answer.status}")
        images += 1
        size += len(data)
    elapsed = time.perf_counter() - start
    conn.close()
    return images, size, elapsed


def loopback_seconds(size: int) -> float:
    """Seconds to move `size` bytes through a TCP connection on 127.0.0.1."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    chunk = b"\0" * 65536

    def sink() -> None:
        conn, _ = server.accept()
        with conn:
            while conn.recv(1 << 20):
                pass

    thread = threading.Thread(target=sink)
    thread.start()
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as out:
        sent = 0
        while sent < size:
            out.sendall(chunk)
            sent += len(chunk)
    thread.join()
    server.close()
    return time.perf_counter() - start


def ftp_server(root: Path) -> tuple[int, object]:
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import ThreadedFTPServer

    # pyftpdlib logs every command at INFO: the figures would drown in it.
    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_user("bench", "bench-password", str(root), perm="elradfmw")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "banner": "ftp"})
    port = free_port()
    server = ThreadedFTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return port, server


def ftp_scan(state: Path, template: str, timeout: float = 600.0) -> tuple[int, float]:
    import json

    start = time.perf_counter()
    mfpd(state, "scan", template)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = json.loads(mfpd(state, "jobs", "--json"))
        scans = [j for j in jobs if j.get("kind") == "scan"]
        if scans and scans[-1]["state"] in ("completed", "aborted", "canceled"):
            if scans[-1]["state"] != "completed":
                raise RuntimeError(f"FTP scan ended {scans[-1]['state']}: {scans[-1]}")
            return int(scans[-1]["impressions_completed"]), time.perf_counter() - start
        time.sleep(0.05)
    raise RuntimeError("the FTP scan did not finish")


@dataclass(frozen=True)
class PipelineCase:
    name: str
    settings: ScanSettings
    document: bool = False  # one multi-page file for the run, else a file per page
    original: str = "chart"  # "chart" or "pdf"


RGB, GREY, BW = ColorMode.RGB, ColorMode.GRAYSCALE, ColorMode.BLACK_AND_WHITE


def _s(dpi: int, mode: ColorMode, fmt: str, pdfa: bool = False) -> ScanSettings:
    return ScanSettings(resolution=dpi, color_mode=mode, format=fmt, pdfa=pdfa)


PIPELINE_CASES = [
    PipelineCase("300 dpi A4 RGB JPEG", _s(300, RGB, JPEG)),
    PipelineCase("600 dpi A4 grey PDF", _s(600, GREY, PDF), document=True),
    PipelineCase("600 dpi A4 grey JPEG", _s(600, GREY, JPEG)),
    PipelineCase("300 dpi A4 RGB PDF", _s(300, RGB, PDF), document=True),
    PipelineCase("300 dpi A4 RGB PDF/A", _s(300, RGB, PDF, pdfa=True), document=True),
    PipelineCase("300 dpi A4 B&W TIFF G4", _s(300, BW, TIFF), document=True),
    PipelineCase("600 dpi A4 B&W PDF G4", _s(600, BW, PDF), document=True),
    PipelineCase("300 dpi A4 grey TIFF LZW", _s(300, GREY, TIFF), document=True),
    PipelineCase("300 dpi A4 RGB PNG", _s(300, RGB, PNG)),
    PipelineCase("300 dpi A4 RGB JPEG from a PDF original", _s(300, RGB, JPEG), original="pdf"),
    PipelineCase("600 dpi A4 grey PDF from a PDF original", _s(600, GREY, PDF), True, "pdf"),
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
    print(f"imaging pipeline, one thread, {pages} pages per case; WC 7755 rated {RATED_IPM} ppm")
    print(
        f"{'case':44} {'first s':>8} {'s/page':>8} {'pages/s':>8} {'ppm':>7} "
        f"{'x rated':>8} {'codec s':>8} {'kB/page':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="mfpd-scan-bench-") as tmp:
        directory = Path(tmp)
        pdf = _pdf_original(directory)
        for case in PIPELINE_CASES:
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
                f"{ppm / RATED_IPM:7.1f}x {floor:8.3f} {size / pages / 1024:8.0f}"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of this process: {peak / 1024:.0f} MiB")


async def _runner_job(settings: ScanSettings, sheets: int) -> tuple[int, int, float]:
    from mfpd.config import Config
    from mfpd.device.machine import build_device
    from mfpd.device.scan_jobs import ScanJobs
    from mfpd.device.scanner import Sheet
    from mfpd.device.store import JobStore

    with tempfile.TemporaryDirectory(prefix="mfpd-scan-bench-") as tmp:
        config = Config()
        device = build_device(config)
        scans = ScanJobs(device, JobStore(Path(tmp)), Path(tmp), lambda: config)
        device.scanner.load_feeder([Sheet(CHART)] * sheets)
        start = time.perf_counter()
        scan = scans.create(settings, source="escl")
        images = size = 0
        while (image := await scan.next_image(60.0)) is not None:
            images += 1
            size += image.size
            scans.retrieved(scan, image)
        return images, size, time.perf_counter() - start


def runner(sheets: int, runs: int) -> None:
    import asyncio

    base = rss_kib(os.getpid(), "VmRSS")
    print(f"scan job runner in-process, {sheets} feeder sheets per job, RSS {base / 1024:.0f} MiB")
    for name, res, mode, fmt in CASES:
        s = ScanSettings(
            source=InputSource.FEEDER, resolution=res, color_mode=ColorMode(mode), format=fmt
        )
        for run in range(runs):
            images, size, seconds = asyncio.run(_runner_job(s, sheets))
            ipm = images / seconds * 60
            peak = rss_kib(os.getpid(), "VmHWM")
            print(
                f"runner {name}, run {run + 1}: {images} images, {size / 1e6:.1f} MB in "
                f"{seconds:.2f} s = {ipm:.0f} images/min ({ipm / RATED_IPM * 100:.0f} % of "
                f"rated); peak RSS {peak / 1024:.0f} MiB, {(peak - base) / 1024:.0f} MiB above "
                f"the start"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sheets", type=int, default=20, help="sheets per job (10-50)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--pipeline", action="store_true", help="the imaging pipeline alone")
    parser.add_argument("--pages", type=int, default=20, help="pages per --pipeline case")
    parser.add_argument("--runner", action="store_true", help="the scan job runner alone")
    args = parser.parse_args()
    if args.pipeline:
        pipeline(args.pages)
        return 0
    if args.runner:
        runner(max(1, min(50, args.sheets)), args.runs)
        return 0
    sheets = max(10, min(50, args.sheets // 10 * 10))
    ftp_root = Path(tempfile.mkdtemp(prefix="mfpd-bench-ftp-"))
    ftp_port, server = ftp_server(ftp_root)
    templates = "".join(
        f'[[scan.templates]]\nname = "ftp-{res}"\nsource = "Feeder"\nresolution = {res}\n'
        f'color_mode = "{mode}"\nformat = "{fmt}"\n'
        f'destinations = ["ftp://bench:bench-password@127.0.0.1:{ftp_port}/"]\n'
        for _name, res, mode, fmt in CASES
    )
    config = f"[engine]\nspeed_ppm = 0\n[scan]\nabandon_timeout = 600.0\n{templates}"
    daemon = Daemon(config)
    try:
        pid = daemon.proc.pid
        port = daemon.ports["http"]
        base = rss_kib(pid, "VmRSS")
        print(f"mfpd RSS at start {base / 1024:.0f} MiB; {sheets} sheets per job; "
              f"reference: WC 7755 rated {RATED_IPM} images/min")  # fmt: skip
        for name, res, mode, fmt in CASES:
            body = settings_xml(res, mode, fmt)
            for run in range(args.runs):
                fill_feeder(daemon.state, sheets)
                images, size, seconds = escl_scan(port, body)
                wire = loopback_seconds(size)
                ipm = images / seconds * 60
                print(
                    f"eSCL {name}, run {run + 1}: {images} images, {size / 1e6:.1f} MB in "
                    f"{seconds:.2f} s = {ipm:.0f} images/min ({ipm / RATED_IPM * 100:.0f} % "
                    f"of rated); the same bytes over loopback {wire * 1000:.0f} ms; "
                    f"peak RSS {rss_kib(pid, 'VmHWM') / 1024:.0f} MiB"
                )
            for run in range(args.runs):
                fill_feeder(daemon.state, sheets)
                images, seconds = ftp_scan(daemon.state, f"ftp-{res}")
                ipm = images / seconds * 60
                print(
                    f"FTP  {name}, run {run + 1}: {images} images in {seconds:.2f} s = "
                    f"{ipm:.0f} images/min ({ipm / RATED_IPM * 100:.0f} % of rated); "
                    f"peak RSS {rss_kib(pid, 'VmHWM') / 1024:.0f} MiB"
                )
        peak = rss_kib(pid, "VmHWM")
        above = (peak - base) / 1024
        print(f"peak RSS {peak / 1024:.0f} MiB, {above:.0f} MiB above the RSS at start")
    finally:
        daemon.close()
        server.close_all()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
