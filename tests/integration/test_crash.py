"""Never a lost job: kill -9 in the middle of everything, restart, and account for every job."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable

from mfpd.services import REGISTRY
from tests.conftest import Mfpd

# 240 pages per minute: a 40-page job prints for 10 s, long enough to be killed in the middle.
SLOW_CONFIG = """
[engine]
speed_ppm = 240
speed_ppm_color = 240
"""

CHUNK = b"%!PS-Adobe-3.0 large job padding " * 32768  # ~1 MiB, no UEL inside


def _send(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass


def _stream_until_killed(port: int, sent: list[int], started: threading.Event) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for _ in range(2000):  # bounded: at most ~2 GB
                sock.sendall(CHUNK)
                sent[0] += len(CHUNK)
                if sent[0] >= 32 * len(CHUNK):
                    started.set()
    except OSError:
        pass  # the daemon died under us: that is the point
    finally:
        started.set()


def test_kill_9_loses_no_accepted_job(mfpd_factory: Callable[..., Mfpd]) -> None:
    mfpd = mfpd_factory(SLOW_CONFIG)
    port = mfpd.port("raw")
    _send(port, b"finished before the crash\n")
    mfpd.wait_jobs_done(1)
    _send(port, b"forty pages\n" * 60 * 40)
    _send(port, b"queued behind it\n")
    mfpd.wait_for(lambda jobs: len(jobs) == 3 and jobs[1]["state"] == "processing")
    time.sleep(1.5)  # let the engine checkpoint some progress

    sent = [0]
    started = threading.Event()
    sender = threading.Thread(target=_stream_until_killed, args=(port, sent, started))
    sender.start()
    assert started.wait(60)
    before = mfpd.jobs()
    mfpd.kill9()
    sender.join(30)
    assert before[1]["state"] == "processing" and before[1]["impressions_completed"] > 0

    mfpd.start()
    jobs = mfpd.jobs()
    assert [j["id"] for j in jobs] == [1, 2, 3, 4]
    first, printing, _queued, partial = jobs
    assert first["state"] == "completed"
    assert printing["state"] in ("pending", "processing", "completed")
    assert partial["state"] == "aborted"
    assert "job-data-insufficient" in partial["state_reasons"]
    assert 0 < partial["bytes"] <= sent[0]
    assert "received" in partial["state_message"]

    jobs = mfpd.wait_jobs_done(4, timeout=60)
    assert [j["state"] for j in jobs[:3]] == ["completed"] * 3
    assert jobs[1]["impressions_completed"] == 40
    counters = mfpd.status()["counters"]
    # Pages printed between the last checkpoint and the kill may print twice, never less.
    assert counters["impressions"] >= 1 + 40 + 1


def test_sigterm_stops_cleanly(mfpd: Mfpd) -> None:
    ports = mfpd.state_dir / "ports.json"
    rows = json.loads(ports.read_text())
    listening = {r["service"] for r in rows if r["state"] == "listening"}
    # Every service of this release that can listen at a port offset does (mDNS is on 5353
    # only, so its row says unavailable there).
    expected = set(REGISTRY) - {"mdns"}
    assert listening == expected, rows
    with socket.create_connection(("127.0.0.1", mfpd.port("raw")), timeout=10) as sock:
        sock.sendall(b"a job that never ends" * 1000)
        time.sleep(0.3)
        assert mfpd.stop(signal.SIGTERM) == 0
    assert not ports.exists()
    assert not (mfpd.state_dir / "control.sock").exists()
    job = mfpd.jobs()[0]
    assert job["state"] == "aborted" and "shut down" in job["state_message"]
    # ... and it is still listed, the same, after a restart.
    mfpd.start()
    assert mfpd.jobs()[0]["state_message"] == job["state_message"]
