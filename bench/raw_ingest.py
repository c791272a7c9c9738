"""Raw 9100 ingest of a large job: MB/s and RSS growth, against the loopback limit.

The reference is the same bytes, from the same sender, into `socat -u TCP-LISTEN:P /dev/null`
measured in the same run. Usage: python bench/raw_ingest.py [--mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import threading
import time

from common import Daemon, free_port, rss_kib

CHUNK = bytes(range(256)) * 4096  # 1 MiB of print data with no UEL in it


def send(port: int, mib: int) -> float:
    """Send `mib` MiB, half-close, wait until the receiver closes; seconds taken."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.perf_counter()
        for _ in range(mib):
            sock.sendall(CHUNK)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
        return time.perf_counter() - start


def sink_rate(mib: int) -> float:
    port = free_port()
    # fork: the readiness probe gets its own child, the measured connection another.
    proc = subprocess.Popen(
        ["socat", "-u", f"TCP-LISTEN:{port},reuseaddr,fork,bind=127.0.0.1", "OPEN:/dev/null"]
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        return mib / send(port, mib)
    finally:
        proc.kill()
        proc.wait()


def mfpd_rate(mib: int) -> tuple[float, int]:
    daemon = Daemon()
    try:
        pid = daemon.proc.pid
        before = rss_kib(pid)
        peak = before
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_kib(pid))
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        seconds = send(daemon.ports["raw"], mib)
        done.set()
        watcher.join()
        peak = max(peak, rss_kib(pid, "VmHWM"))
        jobs = daemon.jobs()
        assert jobs and jobs[-1]["bytes"] == mib * len(CHUNK), jobs[-1:]
        return mib / seconds, (peak - before) // 1024
    finally:
        daemon.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("socat"):
        raise SystemExit("socat is needed for the reference sink (apt-get install socat)")
    sinks, ours, growth = [], [], []
    for _ in range(args.runs):
        sinks.append(sink_rate(args.mib))
        rate, rss = mfpd_rate(args.mib)
        ours.append(rate)
        growth.append(rss)
    sink, mine = statistics.median(sinks), statistics.median(ours)
    print(f"job size           {args.mib} MiB, {args.runs} runs (medians)")
    print(f"socat sink         {sink:8.0f} MiB/s   runs: {', '.join(f'{r:.0f}' for r in sinks)}")
    print(f"mfpd raw 9100      {mine:8.0f} MiB/s   runs: {', '.join(f'{r:.0f}' for r in ours)}")
    print(f"ratio              {100 * mine / sink:8.1f} %")
    print(f"RSS growth (peak)  {max(growth):8d} MiB   runs: {', '.join(map(str, growth))}")


if __name__ == "__main__":
    main()
