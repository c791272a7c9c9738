"""UDP helpers the discovery tests run inside a network namespace (`python -m tests.udp_tools`),
each bounded in count and time, each printing one JSON line.

- `flood SOURCE TARGET PORT COUNT`: datagrams read as hex lines from stdin, sent in turn
  COUNT times from a socket bound to SOURCE (the "spoofed" victim: every reply comes back to
  it), counting the bytes sent and the bytes of the replies that reach SOURCE.
- `blast TARGET PORT`: each hex line of stdin sent once (fuzz), replies counted.
- `listen PORT SECONDS`: what arrives on 0.0.0.0:PORT (broadcasts) for SECONDS, as hex.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time


def _drain(sock: socket.socket, wait: float) -> tuple[int, int]:
    replies = size = 0
    while select.select([sock], [], [], wait)[0]:
        try:
            size += len(sock.recv(65535))
        except BlockingIOError:
            break
        replies += 1
    return replies, size


def flood(
    source: str, target: str, port: int, count: int, datagrams: list[bytes]
) -> dict[str, int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        sock.bind((source, 0))
        sock.setblocking(False)
        sent = received = replies = 0
        for index in range(count):
            data = datagrams[index % len(datagrams)]
            sock.sendto(data, (target, port))
            sent += len(data)
            if index % 20 == 19:
                # Paced, and read as we go: a request the daemon's socket drops would be
                # counted as in without having been answered, a reply lost here as not out.
                got, size = _drain(sock, 0.02)
                replies, received = replies + got, received + size
        got, size = _drain(sock, 2.0)
        return {"datagrams": count, "bytes_in": sent, "replies": replies + got,
                "bytes_out": received + size}  # fmt: skip


def udp_drops() -> int:
    """RcvbufErrors of this network namespace (/proc/net/snmp, Udp): datagrams dropped for
    a full receive buffer, the daemon's or ours."""
    with open("/proc/net/snmp") as table:
        rows = [line.split() for line in table if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def blast(target: str, port: int, datagrams: list[bytes]) -> dict[str, int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        sock.setblocking(False)
        replies = 0
        for index, data in enumerate(datagrams):
            sock.sendto(data, (target, port))
            if index % 50 == 49:
                replies += _drain(sock, 0.0)[0]
                time.sleep(0.01)
        replies += _drain(sock, 1.0)[0]
        return {"sent": len(datagrams), "replies": replies}


def listen(port: int, seconds: float) -> list[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("", port))
        print(json.dumps({"listening": port}), flush=True)
        seen = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([sock], [], [], left)[0]:
                seen.append(sock.recv(65535).hex())
        return seen


def main() -> int:
    command, *args = sys.argv[1:]
    if command == "listen":
        print(json.dumps({"datagrams": listen(int(args[0]), float(args[1]))}))
        return 0
    lines = [bytes.fromhex(line) for line in sys.stdin.read().split() if line]
    if command == "flood":
        source, target, port, count = args
        before = udp_drops()
        counts = flood(source, target, int(port), int(count), lines)
        print(json.dumps({**counts, "dropped": udp_drops() - before}))
    else:
        target, port = args
        print(json.dumps(blast(target, int(port), lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
