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

Usage: .venv/bin/python bench/scan_bench.py [--sheets 20] [--runs 2]
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Daemon, free_port, rss_kib

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sheets", type=int, default=20, help="sheets per job (10-50)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
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
