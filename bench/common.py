"""Shared helpers of the benchmarks: start a real `mfpd serve`, read its RSS, find ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BENCH_CONFIG = """
[engine]
speed_ppm = 0
speed_ppm_color = 0
[spool]
keep_completed = 5000
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_offset() -> int:
    """A --port-offset under which the raw, LPD, IPP and HTTPS ports are free right now."""
    for candidate in range(30000 + os.getpid() % 1000 * 20, 56000, 997):
        if all(_free(p + candidate) for p in (9100, 515, 631, 443)):
            return candidate
    raise RuntimeError("no free port offset")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


class Daemon:
    def __init__(self, config: str = BENCH_CONFIG) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="mfpd-bench-")
        self.state = Path(self.tmp.name) / "state"
        cfg = Path(self.tmp.name) / "mfpd.toml"
        cfg.write_text(config)
        offset = free_offset()
        self.log = open(Path(self.tmp.name) / "mfpd.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mfpd", "serve", "--config", str(cfg),
             "--state-dir", str(self.state), "--port-offset", str(offset)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        ports = self.state / "ports.json"
        deadline = time.monotonic() + 30
        while not ports.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mfpd did not start")
            time.sleep(0.05)
        rows = json.loads(ports.read_text())
        self.ports = {r["service"]: r["port"] for r in rows if r["state"] == "listening"}

    def jobs(self) -> list[dict[str, object]]:
        out = subprocess.run(
            [sys.executable, "-m", "mfpd", "jobs", "--json", "--state-dir", str(self.state)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        data: list[dict[str, object]] = json.loads(out.stdout)
        return data

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()
        self.tmp.cleanup()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
