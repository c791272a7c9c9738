"""The plainest HTTP/1.1 requests (RFC 9112), recognised without a full HTTP stack, sans-I/O.

The IPP listener answers most requests of a polling client (Get-Printer-Attributes,
Get-Jobs, Validate-Job, a small Print-Job) on a fast path: a POST whose head and whole body
(Content-Length framing) are already in hand. `parse_simple` recognises exactly that shape and
nothing else; anything it is not sure of (chunked or compressed bodies, an expectation other
than 100-continue, Upgrade, folded or duplicated framing headers, HTTP/1.0, a head or body
still arriving) is NOT_SIMPLE, and the caller gives the bytes to the full HTTP
implementation, which answers every case the standard knows. So this parser only has to be
right about what it accepts.

`Expect: 100-continue` is taken when the body is already in hand: every CUPS client (ipptool,
driverless, the ipp backend) sends it on every request, head and body in one segment, and
RFC 9110 10.1.1 lets a server that "has already received some or all of the content" omit
the 100 (Continue) response. A body still arriving is NOT_SIMPLE, and the full
implementation sends the 100 a waiting client needs.
"""

from __future__ import annotations

import email.utils
import re
import time
from typing import Final, NamedTuple

MAX_HEAD: Final = 8192
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f]")  # in a field value: controls but HTAB
# Headers whose presence means a shape this parser leaves to the full implementation.
_NOT_SIMPLE_HEADERS: Final = frozenset(
    {b"transfer-encoding", b"upgrade", b"content-encoding", b"trailer"}
)
# RFC 9110 10.1.1: the one expectation defined; any other is answered 417 by the full stack.
_CONTINUE: Final = b"100-continue"


class SimpleRequest(NamedTuple):
    path: str
    content_type: str  # the media type, lower case, without parameters
    host: str
    body: bytes
    size: int  # octets of the request (head and body) in the buffer
    close: bool  # Connection: close


class _NotSimple:
    def __repr__(self) -> str:
        return "NOT_SIMPLE"


NOT_SIMPLE: Final = _NotSimple()


class _Head(NamedTuple):
    path: str
    content_type: str
    host: str
    length: int
    close: bool


# A client sends the same head again and again (the same path, host, type and length for
# the same request): heads already read are remembered, a bounded memo of a pure function.
_HEADS: dict[tuple[bytes, tuple[str, ...]], _Head | None] = {}
_HEADS_ENTRIES: Final = 256
_HEADS_LENGTH: Final = 1024


def parse_simple(
    buffer: bytes | bytearray, paths: tuple[str, ...], max_body: int
) -> SimpleRequest | _NotSimple:
    """The request at the start of `buffer` when it is a complete, plain POST to one of
    `paths` with a body of at most `max_body` octets; else NOT_SIMPLE."""
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD)
    if end < 0:
        return NOT_SIMPLE
    raw = bytes(buffer[:end])
    key = (raw, paths)
    if key in _HEADS:
        head = _HEADS[key]
    else:
        head = _head(raw, paths)
        if end <= _HEADS_LENGTH:
            if len(_HEADS) >= _HEADS_ENTRIES:
                _HEADS.clear()
            _HEADS[key] = head
    if head is None or head.length > max_body:
        return NOT_SIMPLE
    start = end + 4
    stop = start + head.length
    if len(buffer) < stop:
        return NOT_SIMPLE  # the body is still arriving
    return SimpleRequest(
        head.path, head.content_type, head.host, bytes(buffer[start:stop]), stop, head.close
    )


def _head(raw: bytes, paths: tuple[str, ...]) -> _Head | None:
    """The head of a simple request, or None."""
    lines = raw.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[0] != b"POST" or parts[2] != b"HTTP/1.1":
        return None
    path = parts[1].decode("latin-1")
    if path not in paths:
        return None
    length: int | None = None
    content_type = host = b""
    close = expect = False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            return None  # obs-fold, a space before the colon, junk
        key = name.lower()
        value = value.strip(b" \t")
        if key in _NOT_SIMPLE_HEADERS or _CONTROL.search(value):
            return None
        if key == b"content-length":
            if length is not None or not value.isdigit() or len(value) > 12:
                return None
            length = int(value)
        elif key == b"content-type":
            if content_type:
                return None
            content_type = value.split(b";", 1)[0].strip(b" \t").lower()
        elif key == b"host":
            if host:
                return None
            host = value
        elif key == b"expect":
            if expect or value.lower() != _CONTINUE:
                return None
            expect = True
        elif key == b"connection":
            tokens = {t.strip(b" \t").lower() for t in value.split(b",")}
            close = close or b"close" in tokens
    if length is None:
        return None
    return _Head(path, content_type.decode("latin-1"), host.decode("latin-1"), length, close)


class DateHeader:
    """RFC 9110 6.6.1: an origin server with a clock sends Date; formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def value(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = email.utils.formatdate(now, usegmt=True).encode()
        return self._value


class OkHeads:
    """The heads of one server's 200 answers of one media type with Content-Length
    framing: made once per length and second (the Date header) and kept for that second."""

    def __init__(self, content_type: str, server: str) -> None:
        self._content_type = content_type
        self._server = server
        self._clock = DateHeader()
        self._date = b""
        self._heads: dict[tuple[int, bool], bytes] = {}

    def head(self, length: int, close: bool) -> bytes:
        date = self._clock.value()
        if date is not self._date:  # a new second
            self._date = date
            self._heads.clear()
        key = (length, close)
        head = self._heads.get(key)
        if head is None:
            head = response_head(200, "OK", self._content_type, length, self._server, date, close)
            if len(self._heads) < 256:
                self._heads[key] = head
        return head


def response_head(
    status: int, reason: str, content_type: str, length: int, server: str, date: bytes, close: bool
) -> bytes:
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nServer: {server}\r\n".encode()
        + b"Date: "
        + date
        + (b"\r\nConnection: close\r\n\r\n" if close else b"\r\n\r\n")
    )
