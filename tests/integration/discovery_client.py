"""A small UDP/HTTP client for the discovery tests, run inside the test's network namespace
(`ip netns exec NS python discovery_client.py ...`): the namespace's loopback is only
reachable from a process inside it. Every command is bounded in count and time and prints
one JSON document.

  listen GROUP PORT SECONDS [--until TEXT [--times N]]
        datagrams sent to GROUP:PORT (joined on lo), until TEXT was seen N times
  flood HOST PORT COUNT PAYLOAD_HEX [--source ADDRESS] [--quiet SECONDS] [--vary]
        COUNT datagrams from one source (--vary: "#N#" in the payload becomes a counter),
        then every answer until QUIET seconds pass without one
  spray HOST PORT [--source ADDRESS] [--quiet SECONDS] [--expect]
        the datagrams of a JSON list of hex strings on stdin (--expect: an answer is due)
  http METHOD URL [--body-hex HEX] [--type CONTENT_TYPE] [--token TOKEN]
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time
import urllib.error
import urllib.request


def listen(group: str, port: int, seconds: float, until: str, times: int) -> dict[str, object]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((group, port))
    mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    print("ready", file=sys.stderr, flush=True)  # the test waits for this line
    received = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, peer = sock.recvfrom(65535)
        except TimeoutError:
            break
        text = data.decode("utf-8", "replace")
        received.append({"from": f"{peer[0]}:{peer[1]}", "text": text})
        if until and sum(until in d["text"] for d in received) >= times:
            break
    return {"datagrams": received}


def flood(
    host: str, port: int, payloads: list[bytes], source: str, quiet: float, first_wait: float
) -> dict[str, object]:
    """Answers are read while sending (a full receive buffer would drop them, and the count
    of bytes out would come out low); the flood is paced so that the daemon's receive buffer
    does not drop requests either (counted as bytes in, they would make it easy to pass)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rcvbufforce = getattr(socket, "SO_RCVBUFFORCE", 33)
    try:
        sock.setsockopt(socket.SOL_SOCKET, rcvbufforce, 16 * 1024 * 1024)
    except OSError:  # not root: the ordinary ceiling
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024 * 1024)
    sock.bind((source, 0))
    sent = received = replies = 0
    first = ""

    def take(data: bytes) -> None:
        nonlocal received, replies, first
        received += len(data)
        replies += 1
        first = first or data.decode("utf-8", "replace")

    sock.setblocking(False)
    for number, payload in enumerate(payloads):
        sent += sock.sendto(payload, (host, port))
        if number % 20 == 19:
            while True:
                try:
                    take(sock.recv(65535))
                except BlockingIOError:
                    break
            time.sleep(0.002)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # An answer that is expected may be slow to come on a loaded machine; once one came,
        # `quiet` seconds without another end the wait.
        sock.settimeout(first_wait if replies == 0 else quiet)
        try:
            take(sock.recv(65535))
        except TimeoutError:
            break
    return {"bytes_in": sent, "bytes_out": received, "replies": replies, "first": first}


def http(
    method: str, url: str, body: bytes | None, content_type: str, token: str
) -> dict[str, object]:
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, data = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, headers, data = exc.code, dict(exc.headers), exc.read()
    return {"status": status, "headers": headers, "body": data.decode("utf-8", "replace")}


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("listen")
    p.add_argument("group")
    p.add_argument("port", type=int)
    p.add_argument("seconds", type=float)
    p.add_argument("--until", default="")
    p.add_argument("--times", type=int, default=1)
    p = commands.add_parser("flood")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("payload_hex")
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--quiet", type=float, default=1.5)
    p.add_argument("--vary", action="store_true")
    p = commands.add_parser("spray")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--quiet", type=float, default=1.0)
    p.add_argument("--expect", action="store_true", help="an answer is due: wait up to 10 s")
    p = commands.add_parser("http")
    p.add_argument("method")
    p.add_argument("url")
    p.add_argument("--body-hex", default="")
    p.add_argument("--type", default="")
    p.add_argument("--token", default="")
    args = parser.parse_args()
    if args.command == "listen":
        result = listen(args.group, args.port, args.seconds, args.until, args.times)
    elif args.command == "flood":
        payload = bytes.fromhex(args.payload_hex)
        count = min(args.count, 20000)
        payloads = [
            payload.replace(b"#N#", str(n).encode()) if args.vary else payload for n in range(count)
        ]
        result = flood(args.host, args.port, payloads, args.source, args.quiet, args.quiet)
    elif args.command == "spray":
        payloads = [bytes.fromhex(h) for h in json.load(sys.stdin)][:20000]
        first_wait = 10.0 if args.expect else args.quiet
        result = flood(args.host, args.port, payloads, args.source, args.quiet, first_wait)
    else:
        body = bytes.fromhex(args.body_hex) if args.body_hex else None
        result = http(args.method, args.url, body, args.type, args.token)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
