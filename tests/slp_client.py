"""A small SLPv2 user agent for the tests (Debian bookworm has no slptool), written from
RFC 2608 with struct alone so that it shares nothing with mfpd.codecs.slp.

Run as a script inside a network namespace (the daemon's), it prints one JSON object per
reply: `python -m tests.slp_client srvrqst 127.0.0.1 service:printer [--multicast]`.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time
from typing import Any

SLP_PORT = 427
GROUP = "239.255.255.253"
MCAST = 0x2000
OVERFLOW = 0x8000


def string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def message(function: int, body: bytes, xid: int = 0x1234, flags: int = 0, lang: bytes = b"en",
            version: int = 2) -> bytes:  # fmt: skip
    length = 14 + len(lang) + len(body)
    return (
        struct.pack("!BB", version, function) + length.to_bytes(3, "big")
        + struct.pack("!H", flags) + b"\0\0\0" + struct.pack("!HH", xid, len(lang))
        + lang + body
    )  # fmt: skip


def srvrqst(service_type: str, scope: str = "DEFAULT", predicate: str = "", prlist: str = "",
            **kw: Any) -> bytes:  # fmt: skip
    body = string(prlist) + string(service_type) + string(scope) + string(predicate) + string("")
    return message(1, body, **kw)


def attrrqst(url: str, tags: str = "", scope: str = "DEFAULT", **kw: Any) -> bytes:
    body = string("") + string(url) + string(scope) + string(tags) + string("")
    return message(6, body, **kw)


def srvtyperqst(scope: str = "DEFAULT", **kw: Any) -> bytes:
    body = string("") + struct.pack("!H", 0xFFFF) + string(scope)
    return message(9, body, **kw)


def srvreg(url: str, service_type: str, attributes: str, **kw: Any) -> bytes:
    entry = struct.pack("!BH", 0, 65535) + string(url) + b"\0"
    body = entry + string(service_type) + string("DEFAULT") + string(attributes) + b"\0"
    return message(3, body, **kw)


def decode(data: bytes) -> dict[str, Any]:
    """A reply as a dict: header fields, and the body of the functions the tests read."""
    version, function = data[0], data[1]
    length = int.from_bytes(data[2:5], "big")
    (flags,) = struct.unpack_from("!H", data, 5)
    xid, lang_len = struct.unpack_from("!HH", data, 10)
    at = 14 + lang_len
    out: dict[str, Any] = {
        "version": version, "function": function, "length": length, "size": len(data),
        "flags": flags, "xid": xid, "lang": data[14:at].decode(),
    }  # fmt: skip

    def take_string() -> str:
        nonlocal at
        (size,) = struct.unpack_from("!H", data, at)
        text = data[at + 2 : at + 2 + size].decode()
        at += 2 + size
        return text

    if function in (2, 5, 7, 10):
        (out["error"],) = struct.unpack_from("!H", data, at)
        at += 2
    if function == 2 and out["error"] == 0:
        (count,) = struct.unpack_from("!H", data, at)
        at += 2
        urls = []
        for _ in range(count):
            _reserved, _lifetime = struct.unpack_from("!BH", data, at)
            at += 3
            urls.append(take_string())
            auths = data[at]
            at += 1
            assert auths == 0
        out["urls"] = urls
    elif function == 7 and out["error"] == 0:
        out["attributes"] = take_string()
    elif function == 10 and out["error"] == 0:
        out["types"] = take_string()
    elif function == 11:
        out["url"] = take_string()
        out["scopes"] = take_string()
        out["attributes"] = take_string()
    return out


def ask(request: bytes, address: str, multicast: bool = False, wait: float = 2.0,
        source: str = "") -> list[bytes]:  # fmt: skip
    """Send one request and collect replies until `wait` seconds of silence."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        if source:
            sock.bind((source, 0))
        if multicast:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
            sock.sendto(request, (GROUP, SLP_PORT))
        else:
            sock.sendto(request, (address, SLP_PORT))
        replies = []
        deadline = time.monotonic() + 10
        sock.settimeout(wait)
        while time.monotonic() < deadline:
            try:
                replies.append(sock.recv(65535))
            except TimeoutError:
                break
        return replies


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["srvrqst", "attrrqst", "srvtyperqst", "srvreg", "raw"])
    parser.add_argument("address")
    parser.add_argument("what", nargs="?", default="")
    parser.add_argument("--predicate", default="")
    parser.add_argument("--scope", default="DEFAULT")
    parser.add_argument("--tags", default="")
    parser.add_argument("--prlist", default="")
    parser.add_argument("--multicast", action="store_true")
    parser.add_argument("--flag-mcast", action="store_true")
    parser.add_argument("--wait", type=float, default=1.0)
    args = parser.parse_args()
    flags = MCAST if args.multicast or args.flag_mcast else 0
    if args.kind == "srvrqst":
        request = srvrqst(args.what, args.scope, args.predicate, args.prlist, flags=flags)
    elif args.kind == "attrrqst":
        request = attrrqst(args.what, args.tags, args.scope, flags=flags)
    elif args.kind == "srvtyperqst":
        request = srvtyperqst(args.scope, flags=flags)
    elif args.kind == "srvreg":
        request = srvreg(args.what, "service:evil", "(x=" + "A" * 1000 + ")", flags=flags)
    else:
        request = bytes.fromhex(args.what)
    print(json.dumps({"sent": len(request)}))
    for reply in ask(request, args.address, args.multicast, args.wait):
        print(json.dumps(decode(reply)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
