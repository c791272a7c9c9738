"""A 2 GB job streams to disk in bounded memory (the foundation issue's 64 MB budget)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from tests.conftest import Mfpd

MiB = 1024 * 1024
JOB_MIB = 2048
RSS_BUDGET_MIB = 64


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing")


def test_two_gigabyte_job_in_bounded_memory(mfpd: Mfpd) -> None:
    free = shutil.disk_usage(mfpd.state_dir).free
    assert free > 3 * JOB_MIB * MiB, "not enough disk for the 2 GB job"
    assert mfpd.proc is not None
    pid = mfpd.proc.pid
    before = _status_kib(pid, "VmRSS")
    chunk = bytes(range(256)) * 4096  # 1 MiB of binary print data, no UEL
    try:
        with socket.create_connection(("127.0.0.1", mfpd.port("raw")), timeout=60) as sock:
            for _ in range(JOB_MIB):
                sock.sendall(chunk)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass
        job = mfpd.wait_jobs_done(1, timeout=120)[0]
        peak = _status_kib(pid, "VmHWM")
        assert job["bytes"] == JOB_MIB * MiB and job["state"] == "completed"
        growth_mib = (peak - before) / 1024
        assert growth_mib < RSS_BUDGET_MIB, f"RSS grew by {growth_mib:.1f} MiB"
    finally:
        # pytest keeps old tmp dirs: do not leave 2 GB behind.
        shutil.rmtree(mfpd.state_dir / "spool", ignore_errors=True)
