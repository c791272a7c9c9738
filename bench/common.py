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


# Every port the daemon opens by default, and over which transport.
_PORTS = ((9100, "tcp"), (515, "tcp"), (631, "tcp"), (80, "tcp"), (443, "tcp"), (3003, "tcp"),
          (161, "udp"))  # fmt: skip


def free_offset(start: int = 0) -> int:
    """A --port-offset under which every port of the daemon is free right now."""
    for candidate in range(30000 + (os.getpid() + start) % 1000 * 20, 56000, 997):
        if all(_free(p + candidate, proto) for p, proto in _PORTS):
            return candidate
    raise RuntimeError("no free port offset")


def _free(port: int, proto: str = "tcp") -> bool:
    with socket.socket(type=socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM) as sock:
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
        log_path = Path(self.tmp.name) / "mfpd.log"
        self.log = open(log_path, "w")  # noqa: SIM115
        ports = self.state / "ports.json"
        # A port taken between free_offset() and the bind stops the daemon (exit 1 naming
        # it): another offset is tried.
        for attempt in range(3):
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mfpd", "serve", "--config", str(cfg),
                 "--state-dir", str(self.state), "--port-offset", str(free_offset(attempt))],
                stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
            )  # fmt: skip
            deadline = time.monotonic() + 30
            while not ports.exists() and self.proc.poll() is None:
                if time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError(f"mfpd did not start:\n{log_path.read_text()}")
                time.sleep(0.05)
            if ports.exists() or "could not be bound" not in log_path.read_text():
                break
        if not ports.exists():
            raise RuntimeError(f"mfpd did not start:\n{log_path.read_text()}")
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


def filter_rules(count: int) -> str:
    """`count` IP filter rules that a client on 127.0.0.1 passes through, every one of them
    tried before the default accept: what the gate costs a device with a long filter
    (issue 14 asks for the figures with 50 rules). Drops for 10.x.0.0/16 networks, mixed with
    protocol- and service-specific ones, as an administrator's list grows."""
    kinds = [
        ('protocol = "tcp"', 'destination = "raw"'),
        ('protocol = "udp"', 'destination = "snmp"'),
        ('protocol = "all"', ""),
        ('protocol = "tcp"', 'destination = "631"'),
    ]
    rules = []
    for i in range(count):
        protocol, destination = kinds[i % len(kinds)]
        rules.append(
            f'[[ip_filter.rules]]\n{protocol}\nsource = "10.{i % 256}.0.0/16"\n'
            f'{destination}\naction = "{"drop" if i % 2 else "reject"}"\n'
        )
    return "\n".join(rules)
