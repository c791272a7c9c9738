"""IPPS Get-Printer-Attributes on mfpd's 443: requests/s and the server's CPU per request.

Two shapes: `keepalive` (each client keeps one TLS connection and sends the ipp backend's
poll, bench/ipp_bench.py's BACKEND_POLL, again and again) and `handshake` (each request on a
new TLS connection: what the handshake costs the server). Clients are processes with
blocking sockets (ipp_bench.py's Connection over Python's TLS client, certificate not
checked); they share the machine's cores with the server, so compare runs made on the same
machine, one after the other, as the TLS-alert change in issue 12 was measured.
Usage: python bench/ipps_bench.py [--seconds 5] [--clients 4] [--runs 3]
                                  [--mode keepalive|handshake] [--event-loop auto|uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import ssl
import statistics
import time
from multiprocessing.synchronize import Barrier
from typing import Any

from common import BENCH_CONFIG, Daemon
from ipp_bench import TIMEOUT, Connection, _check, _server_cpu, ipp_request


class TlsConnection(Connection):
    """ipp_bench's keep-alive connection, over TLS."""

    def _connect(self) -> socket.socket:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return context.wrap_socket(sock)


def _worker(
    port: int, request: bytes, mode: str, seconds: float, barrier: Barrier, out: Any
) -> None:
    try:
        conn = TlsConnection(port)
        status, body = conn.post(request)  # warm up: the first answer is decoded whole
        assert _check(status, body, 1, True) == "ok", _check(status, body, 1, True)
        barrier.wait()
        deadline = time.monotonic() + seconds
        ok = errors = 0
        rid = 1
        while time.monotonic() < deadline:
            rid += 1
            if mode == "handshake":
                conn.reconnect()
            status, body = conn.post(request[:4] + rid.to_bytes(4, "big") + request[8:])
            if _check(status, body, rid, False) == "ok":
                ok += 1
            else:
                errors += 1
        conn.close()
        out.put((ok, errors))
    except Exception as exc:  # reported to the parent, which fails the run
        barrier.abort()
        out.put(exc)


def measure(daemon: Daemon, mode: str, clients: int, seconds: float) -> tuple[float, float]:
    """Requests/s of all clients together, and the server's CPU µs per request."""
    port = daemon.ports["https"]
    request = ipp_request("get-printer-attributes", f"ipps://localhost:{port}/ipp/print")
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(port, request, mode, seconds, barrier, out))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    barrier.wait()
    cpu0, t0 = _server_cpu(daemon.proc.pid), time.monotonic()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    cpu1, t1 = _server_cpu(daemon.proc.pid), time.monotonic()
    for proc in procs:
        proc.join(30)
    for result in results:
        if isinstance(result, Exception):
            raise result
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    if errors:
        raise RuntimeError(f"{errors} answers were not successful-ok")
    return ok / (t1 - t0), (cpu1 - cpu0) / ok * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mode", choices=("keepalive", "handshake"), default="keepalive")
    parser.add_argument("--event-loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    args = parser.parse_args()
    daemon = Daemon(BENCH_CONFIG + f'[daemon]\nevent_loop = "{args.event_loop}"\n')
    try:
        figures = [measure(daemon, args.mode, args.clients, args.seconds) for _ in range(args.runs)]
    finally:
        daemon.close()
    rate = statistics.median(f[0] for f in figures)
    cpu = statistics.median(f[1] for f in figures)
    runs = ", ".join(f"{f[0]:.0f}" for f in figures)
    print(
        f"IPPS Get-Printer-Attributes ({args.mode}, {args.clients} clients, "
        f"event loop {args.event_loop}): {rate:.0f} requests/s (runs: {runs}), "
        f"server CPU {cpu:.0f} µs/request"
    )


if __name__ == "__main__":
    main()
