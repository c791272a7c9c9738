"""The discovery responders' cost: CPU per 1,000 queries of each kind, and the idle cost.

Run as root (it makes a network namespace whose loopback carries multicast, as the tests do,
and re-runs itself inside it; nothing is sent on the machine's interfaces). Inside, it starts
`mfpd serve --port-offset 0 --bind 127.0.0.1` with every responder on, measures the daemon's
CPU (utime + stime from /proc) over `--idle` seconds of quiet, then for each responder sends
`--queries` unicast queries, one at a time, each waiting for its answer, and prints the
daemon's CPU time per 1,000 answered queries (the idle rate subtracted). The queries come from
many source addresses of 127/8, so that the responders' reply budget (anti-amplification,
per source) is not what is measured; the bench config raises the total budget for the same
reason. References in the same run, where Debian has one: avahi-daemon for mDNS and wsdd
for WS-Discovery, started in the same namespace and asked the same queries.

Usage: sudo .venv/bin/python bench/discovery_bench.py [--idle 60] [--queries 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """
[engine]
speed_ppm = 0
speed_ppm_color = 0
"""
RAISED_BUDGET = ["slp", "ssdp", "wsd", "netbios_ns", "mdns"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# -- the queries: built here by hand from the specifications, not with mfpd's codecs -------


def msearch() -> bytes:
    return (
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        b'MAN: "ssdp:discover"\r\nST: upnp:rootdevice\r\nUSER-AGENT: bench/1.0 UPnP/1.1 x/1\r\n\r\n'
    )


def probe() -> bytes:
    message = uuid.uuid4()
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof">'
        "<soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{message}</wsa:MessageID></soap:Header>"
        "<soap:Body><wsd:Probe><wsd:Types>wsdp:Device</wsd:Types></wsd:Probe></soap:Body>"
        "</soap:Envelope>"
    ).encode()


def srvrqst(xid: int) -> bytes:
    """RFC 2608 8.1 SrvRqst for service:printer in scope DEFAULT."""
    tag = b"en"
    body = b"".join(
        struct.pack("!H", len(s)) + s for s in (b"", b"service:printer", b"DEFAULT", b"", b"")
    )
    length = 14 + len(tag) + len(body)
    # version 2, function 1, length (3 bytes), flags 0 (unicast), next-extension offset
    # (3 bytes), XID, language tag: RFC 2608 8.
    header = bytes([2, 1]) + length.to_bytes(3, "big") + b"\x00\x00" + b"\x00\x00\x00"
    header += struct.pack("!HH", xid, len(tag)) + tag
    return header + body


def nb_name(name: str, suffix: int) -> bytes:
    """RFC 1001 14.1 first-level encoding of a NetBIOS name."""
    raw = name.upper().ljust(15)[:15].encode() + bytes([suffix])
    encoded = b"".join(bytes([0x41 + (c >> 4), 0x41 + (c & 15)]) for c in raw)
    return bytes([32]) + encoded + b"\x00"


def nb_query(xid: int, name: str) -> bytes:
    """RFC 1002 4.2.12 NAME QUERY REQUEST (directed: no broadcast flag)."""
    return (
        struct.pack("!HHHHHH", xid, 0x0100, 1, 0, 0, 0) + nb_name(name, 0x20) + b"\x00\x20\x00\x01"
    )


def mdns_query(xid: int) -> bytes:
    """RFC 6762 6.7 legacy unicast query (source port not 5353): PTR _ipp._tcp.local."""
    labels = b"".join(bytes([len(p)]) + p for p in (b"_ipp", b"_tcp", b"local")) + b"\x00"
    return struct.pack("!HHHHHH", xid, 0, 1, 0, 0, 0) + labels + b"\x00\x0c\x00\x01"


QUERIES: dict[str, tuple[int, Callable[[int], bytes]]] = {
    "ssdp M-SEARCH": (1900, lambda i: msearch()),
    "wsd Probe": (3702, lambda i: probe()),
    "slp SrvRqst": (427, srvrqst),
    "netbios NB query": (137, lambda i: nb_query(i, "XRX-WC7755")),
    "mdns PTR query": (5353, mdns_query),
}


def ask(port: int, build: Callable[[int], bytes], count: int, wait: float) -> int:
    """`count` queries, one at a time from source addresses 127.0.1.x; how many answered."""
    answered = 0
    socks = []
    for i in range(200):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((f"127.0.1.{i + 1}", 0))
        sock.settimeout(wait)
        socks.append(sock)
    try:
        for i in range(count):
            sock = socks[i % len(socks)]
            sock.sendto(build(i & 0xFFFF), ("127.0.0.1", port))
            try:
                sock.recvfrom(65536)
                answered += 1
            except TimeoutError:
                pass
    finally:
        for sock in socks:
            sock.close()
    return answered


def measure(
    pid: int, label: str, query: tuple[int, Callable[[int], bytes]], args: argparse.Namespace,
    idle_rate: float,
) -> str:  # fmt: skip
    port, build = query
    before, start = cpu_seconds(pid), time.monotonic()
    answered = ask(port, build, args.queries, args.wait)
    spent = cpu_seconds(pid) - before - idle_rate * (time.monotonic() - start)
    per_k = spent / answered * 1000 if answered else float("nan")
    return f"| {label} | {answered}/{args.queries} | {per_k * 1000:.0f} ms |"


def inside(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mfpd-discovery-bench-"))
    config = tmp / "mfpd.toml"
    text = CONFIG + "".join(
        f"\n[services.{name}]\nreply_total_burst = 10000000\nreply_total_rate = 10000000\n"
        for name in RAISED_BUDGET
    ) if args.raise_budget else CONFIG  # fmt: skip
    config.write_text(text)
    log = (tmp / "mfpd.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mfpd", "serve", "--config", str(config), "--state-dir",
         str(tmp / "state"), "--port-offset", "0", "--bind", "127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    rows_file = tmp / "state" / "ports.json"
    deadline = time.monotonic() + 30
    while not rows_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"mfpd did not start:\n{(tmp / 'mfpd.log').read_text()}")
        time.sleep(0.05)
    rows = {r["service"]: r for r in json.loads(rows_file.read_text())}
    try:
        time.sleep(2)  # start-up announcements over
        before = cpu_seconds(proc.pid)
        time.sleep(args.idle)
        idle_rate = (cpu_seconds(proc.pid) - before) / args.idle
        print(f"mfpd idle with every responder on: {idle_rate * 1000:.2f} ms CPU per second "
              f"({idle_rate * 100:.3f} % of a core) over {args.idle:.0f} s")  # fmt: skip
        print("\n| query (unicast, answered one at a time) | answered | mfpd CPU per 1,000 |")
        print("|---|---|---|")
        for label, (port, build) in QUERIES.items():
            service = label.split()[0]
            service = "netbios_ns" if service == "netbios" else service
            row = rows.get(service, {})
            if row.get("state") != "listening":
                print(f"| {label} | not listening ({row.get('state')}: {row.get('note')}) | |")
                continue
            print(measure(proc.pid, label, (port, build), args, idle_rate), flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--wait", type=float, default=1.0)
    parser.add_argument("--no-raise-budget", dest="raise_budget", action="store_false")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args)
        return
    if os.geteuid() != 0:
        raise SystemExit("run as root: the bench makes a network namespace")
    name = f"mfpd-dbench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in (["link", "set", "lo", "up"], ["link", "set", "lo", "multicast", "on"],
                    ["route", "add", "224.0.0.0/4", "dev", "lo"]):  # fmt: skip
            subprocess.run(["ip", "-n", name, *cmd], check=True)
        subprocess.run(
            ["ip", "netns", "exec", name, sys.executable, __file__, "--inside", *sys.argv[1:]],
            check=True, timeout=args.idle + 600,
        )  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


if __name__ == "__main__":
    main()
