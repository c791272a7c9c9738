"""1,000 small raw and LPD jobs back to back: jobs per second and accept latency.

Accept latency is client-side: from connect until the server has taken the job (raw: the
server closes after the job is committed; LPD: the last ACK). References in the same run:
raw against `socat ... fork` into /dev/null (a C sink forking per connection), LPD against a
minimal responder that ACKs every step without storing anything (the floor for the protocol's
round trips on this machine).
Usage: python bench/small_jobs.py [--jobs 1000]
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable

from common import Daemon, free_port, percentile

DOCUMENT = b"Hello from the small-jobs benchmark.\n" * 28  # ~1 KiB of text


def raw_job(port: int) -> float:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(DOCUMENT)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
    return time.perf_counter() - start


def _expect_ack(sock: socket.socket) -> None:
    if sock.recv(1) != b"\0":
        raise RuntimeError("LPD NAK")


def lpd_job(port: int, n: int) -> float:
    name = f"{n % 1000:03d}bench"
    control = f"Hbench\nPalice\nJsmall {n}\nldfA{name}\nUdfA{name}\nNsmall.txt\n".encode()
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"\x02lp\n")
        _expect_ack(sock)
        sock.sendall(f"\x02{len(control)} cfA{name}\n".encode())
        _expect_ack(sock)
        sock.sendall(control + b"\0")
        _expect_ack(sock)
        sock.sendall(f"\x03{len(DOCUMENT)} dfA{name}\n".encode())
        _expect_ack(sock)
        sock.sendall(DOCUMENT + b"\0")
        _expect_ack(sock)
    return time.perf_counter() - start


class _AckAll(socketserver.BaseRequestHandler):
    """Reference LPD peer: ACKs the command, each subcommand line and each file."""

    def handle(self) -> None:
        sock = self.request
        buf = b""

        def line() -> bytes:
            nonlocal buf
            while b"\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return b""
                buf += chunk
            head, _, buf = buf.partition(b"\n")
            return head

        if not line():
            return
        sock.sendall(b"\0")
        while sub := line():
            count = int(sub[1:].split(b" ")[0])
            sock.sendall(b"\0")
            while len(buf) < count + 1:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            buf = buf[count + 1 :]
            sock.sendall(b"\0")


def run(job: Callable[[int], float], jobs: int) -> tuple[float, list[float]]:
    latencies = []
    start = time.perf_counter()
    for n in range(jobs):
        latencies.append(job(n))
    return jobs / (time.perf_counter() - start), latencies


def report(label: str, rate: float, lat: list[float]) -> None:
    print(
        f"{label:<28} {rate:8.0f} jobs/s   p50 {1000 * percentile(lat, 50):6.2f} ms"
        f"   p99 {1000 * percentile(lat, 99):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()

    port = free_port()
    sink = subprocess.Popen(
        ["socat", "-u", f"TCP-LISTEN:{port},reuseaddr,fork,bind=127.0.0.1", "OPEN:/dev/null"]
    )
    time.sleep(0.3)
    try:
        report("socat fork sink (raw ref)", *run(lambda n: raw_job(port), args.jobs))
    finally:
        sink.kill()
        sink.wait()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _AckAll)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ref_port = server.server_address[1]
    try:
        report("ACK-all LPD peer (lpd ref)", *run(lambda n: lpd_job(ref_port, n), args.jobs))
    finally:
        server.shutdown()
        server.server_close()

    daemon = Daemon()
    try:
        raw, lpd = daemon.ports["raw"], daemon.ports["lpd"]
        report("mfpd raw 9100", *run(lambda n: raw_job(raw), args.jobs))
        report("mfpd lpd 515", *run(lambda n: lpd_job(lpd, n), args.jobs))
        deadline = time.monotonic() + 120
        while True:
            jobs = daemon.jobs()
            if len(jobs) >= 2 * args.jobs and all(j["state"] == "completed" for j in jobs):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(jobs)} jobs listed / not all completed")
            time.sleep(0.5)
        print(f"all {len(jobs)} jobs listed and completed")
    finally:
        daemon.close()


if __name__ == "__main__":
    main()
