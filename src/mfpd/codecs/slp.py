"""SLPv2 (RFC 2608) messages as values: the header, the requests a service agent answers
(SrvRqst, AttrRqst, SrvTypeRqst), the ones it refuses (SrvReg, SrvDeReg) and its replies
(SrvRply, AttrRply, SrvTypeRply, SAAdvert, SrvAck), with the attribute list syntax of
section 5 and the LDAPv3 search filter of section 8.1 (RFC 2254 string form).

Sans-I/O: `parse` takes a datagram and returns a `Request` or raises `SlpError` (carrying
the error code to answer with when the header was readable); the `encode_*` functions build
replies and cut them at an MTU, setting OVERFLOW (section 7) when something was left out.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

VERSION = 2
HEADER = struct.Struct("!BB3sH3sHH")  # version, function, length, flags, ext, XID, lang len
HEADER_SIZE = HEADER.size  # 14, before the language tag

# RFC 2608 8: flags.
OVERFLOW = 0x8000
FRESH = 0x4000
REQUEST_MCAST = 0x2000


class Function(enum.IntEnum):
    """RFC 2608 8: message types."""

    SRV_RQST = 1
    SRV_RPLY = 2
    SRV_REG = 3
    SRV_DEREG = 4
    SRV_ACK = 5
    ATTR_RQST = 6
    ATTR_RPLY = 7
    DA_ADVERT = 8
    SRV_TYPE_RQST = 9
    SRV_TYPE_RPLY = 10
    SA_ADVERT = 11


class ErrorCode(enum.IntEnum):
    """RFC 2608 7: error codes."""

    OK = 0
    LANGUAGE_NOT_SUPPORTED = 1
    PARSE_ERROR = 2
    INVALID_REGISTRATION = 3
    SCOPE_NOT_SUPPORTED = 4
    AUTHENTICATION_UNKNOWN = 5
    AUTHENTICATION_ABSENT = 6
    AUTHENTICATION_FAILED = 7
    VER_NOT_SUPPORTED = 9
    INTERNAL_ERROR = 10
    DA_BUSY_NOW = 11
    OPTION_NOT_UNDERSTOOD = 12
    INVALID_UPDATE = 13
    MSG_NOT_SUPPORTED = 14
    REFRESH_REJECTED = 15


# The reply each request's error goes back in (RFC 2608 7: "the reply message type that
# corresponds to the request, with the error code set"); SrvReg/SrvDeReg: SrvAck.
REPLY_TO = {
    Function.SRV_RQST: Function.SRV_RPLY,
    Function.ATTR_RQST: Function.ATTR_RPLY,
    Function.SRV_TYPE_RQST: Function.SRV_TYPE_RPLY,
    Function.SRV_REG: Function.SRV_ACK,
    Function.SRV_DEREG: Function.SRV_ACK,
}


@dataclass(frozen=True)
class Header:
    function: int
    flags: int
    xid: int
    lang: str
    length: int

    @property
    def multicast(self) -> bool:
        return bool(self.flags & REQUEST_MCAST)


class SlpError(ValueError):
    """A datagram that cannot be answered normally. `header` is None when not even the
    header could be read (then only silence is possible); `code` is the error to answer."""

    def __init__(self, why: str, header: Header | None, code: ErrorCode) -> None:
        super().__init__(why)
        self.header = header
        self.code = code


@dataclass(frozen=True)
class SrvRqst:
    header: Header
    responders: tuple[str, ...]  # the previous-responder list (section 8.1)
    service_type: str
    scopes: tuple[str, ...]
    predicate: str
    spi: str


@dataclass(frozen=True)
class AttrRqst:
    header: Header
    responders: tuple[str, ...]
    url: str  # a URL or a service type (section 10.3)
    scopes: tuple[str, ...]
    tags: tuple[str, ...]
    spi: str


@dataclass(frozen=True)
class SrvTypeRqst:
    header: Header
    responders: tuple[str, ...]
    naming_authority: str | None  # None: all (0xFFFF, section 10.1); "": IANA
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Refused:
    """A message a service agent takes no part in (SrvReg, SrvDeReg, replies, adverts)."""

    header: Header


Request = SrvRqst | AttrRqst | SrvTypeRqst | Refused


# -- reading ---------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, offset: int, header: Header) -> None:
        self.data = data
        self.offset = offset
        self.header = header

    def fail(self, why: str) -> SlpError:
        return SlpError(why, self.header, ErrorCode.PARSE_ERROR)

    def u16(self) -> int:
        if self.offset + 2 > len(self.data):
            raise self.fail("message ends inside a length")
        (value,) = struct.unpack_from("!H", self.data, self.offset)
        self.offset += 2
        return int(value)

    def string(self, what: str) -> str:
        size = self.u16()
        end = self.offset + size
        if end > len(self.data):
            raise self.fail(f"{what} runs past the message")
        raw = self.data[self.offset : end]
        self.offset = end
        try:
            return raw.decode("utf-8")  # RFC 2608 4: strings are UTF-8
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8") from None


def _list(text: str) -> tuple[str, ...]:
    """A comma-delimited list (RFC 2608 2.1), items with their white space trimmed."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_header(data: bytes) -> tuple[Header, int]:
    if len(data) < HEADER_SIZE:
        raise SlpError("shorter than an SLP header", None, ErrorCode.PARSE_ERROR)
    version, function, length3, flags, _ext, xid, lang_len = HEADER.unpack_from(data)
    length = int.from_bytes(length3, "big")
    lang_end = HEADER_SIZE + lang_len
    if version != VERSION:
        # An SLPv1 header has another layout: there is nothing to answer it with.
        raise SlpError(f"SLP version {version}", None, ErrorCode.VER_NOT_SUPPORTED)
    lang = data[HEADER_SIZE:lang_end].decode("ascii", "replace")
    header = Header(function, flags, xid, lang, length)
    if lang_end > len(data) or length < lang_end:
        raise SlpError("the language tag runs past the message", None, ErrorCode.PARSE_ERROR)
    if length > len(data):
        raise SlpError(f"length {length} beyond the {len(data)} bytes received", header,
                       ErrorCode.PARSE_ERROR)  # fmt: skip
    if not lang_len:
        raise SlpError("no language tag", header, ErrorCode.PARSE_ERROR)
    return header, lang_end


def _extensions(data: bytes, header: Header, first: int) -> None:
    """RFC 2608 9.1: an extension with an ID in 0x4000-0x7FFF must be understood; we
    understand none. The offsets must move forward (no loops)."""
    offset = first
    while offset:
        if offset < HEADER_SIZE or offset + 5 > header.length:
            raise SlpError("extension offset outside the message", header, ErrorCode.PARSE_ERROR)
        ext_id, following = struct.unpack_from("!H3s", data, offset)
        if 0x4000 <= ext_id <= 0x7FFF:
            raise SlpError(f"mandatory extension {ext_id:#06x}", header,
                           ErrorCode.OPTION_NOT_UNDERSTOOD)  # fmt: skip
        following_offset = int.from_bytes(following, "big")
        if following_offset and following_offset <= offset:
            raise SlpError("extension offsets go backwards", header, ErrorCode.PARSE_ERROR)
        offset = following_offset


def parse(data: bytes) -> Request:
    header, offset = parse_header(data)
    _extensions(data, header, int.from_bytes(data[7:10], "big"))
    body = _Reader(data[: header.length], offset, header)
    function = header.function
    if function == Function.SRV_RQST:
        responders = _list(body.string("previous-responder list"))
        service_type = body.string("service type")
        scopes = _list(body.string("scope list"))
        predicate = body.string("predicate")
        spi = body.string("SLP SPI")
        if not service_type:
            raise body.fail("no service type")
        return SrvRqst(header, responders, service_type, scopes, predicate, spi)
    if function == Function.ATTR_RQST:
        responders = _list(body.string("previous-responder list"))
        url = body.string("URL")
        scopes = _list(body.string("scope list"))
        tags = _list(body.string("tag list"))
        spi = body.string("SLP SPI")
        if not url:
            raise body.fail("no URL")
        return AttrRqst(header, responders, url, scopes, tags, spi)
    if function == Function.SRV_TYPE_RQST:
        responders = _list(body.string("previous-responder list"))
        size = body.u16()
        authority: str | None = None
        if size != 0xFFFF:
            body.offset -= 2
            authority = body.string("naming authority")
        scopes = _list(body.string("scope list"))
        return SrvTypeRqst(header, responders, authority, scopes)
    if function in Function.__members__.values():
        return Refused(header)
    raise SlpError(f"function {function}", header, ErrorCode.MSG_NOT_SUPPORTED)


# -- writing ---------------------------------------------------------------------------


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def _message(function: Function, xid: int, lang: str, body: bytes, flags: int = 0) -> bytes:
    tag = lang.encode("ascii", "replace")
    length = HEADER_SIZE + len(tag) + len(body)
    return (
        HEADER.pack(VERSION, function, length.to_bytes(3, "big"), flags, b"\0\0\0", xid,
                    len(tag)) + tag + body
    )  # fmt: skip


def _fitting(
    request: Header, fixed: int, items: Sequence[bytes], mtu: int, join: bytes = b""
) -> tuple[list[bytes], int]:
    """As many items as fit in mtu beside `fixed` bytes of body, and the OVERFLOW flag when
    some did not (RFC 2608 7)."""
    room = mtu - HEADER_SIZE - len(request.lang.encode("ascii", "replace")) - fixed
    taken: list[bytes] = []
    used = 0
    for item in items:
        extra = len(item) + (len(join) if taken else 0)
        if used + extra > room:
            return taken, OVERFLOW
        taken.append(item)
        used += extra
    return taken, 0


def error_reply(request: Header, code: ErrorCode) -> bytes:
    """The reply for the request's function carrying only an error code (RFC 2608 7)."""
    known = request.function in Function.__members__.values()
    function = (
        REPLY_TO.get(Function(request.function), Function.SRV_ACK) if known else (Function.SRV_ACK)
    )
    body = struct.pack("!H", code)
    if function == Function.SRV_RPLY:
        body += struct.pack("!H", 0)  # no URL entries
    elif function == Function.ATTR_RPLY:
        body += _string("") + b"\0"  # empty attribute list, no authenticators
    elif function == Function.SRV_TYPE_RPLY:
        body += _string("")
    return _message(function, request.xid, request.lang, body)


@dataclass(frozen=True)
class UrlEntry:
    """RFC 2608 4.3: a URL with its lifetime in seconds (no authentication blocks)."""

    url: str
    lifetime: int

    def encode(self) -> bytes:
        return struct.pack("!BH", 0, min(self.lifetime, 0xFFFF)) + _string(self.url) + b"\0"


def encode_srv_rply(request: Header, entries: Sequence[UrlEntry], mtu: int) -> bytes:
    taken, flags = _fitting(request, 4, [entry.encode() for entry in entries], mtu)
    body = struct.pack("!HH", ErrorCode.OK, len(taken)) + b"".join(taken)
    return _message(Function.SRV_RPLY, request.xid, request.lang, body, flags)


def encode_attr_rply(request: Header, attributes: Sequence[str], mtu: int) -> bytes:
    """attributes: each already in section 5 form, `(name=value,...)` or a keyword."""
    taken, flags = _fitting(request, 5, [a.encode() for a in attributes], mtu, b",")
    listed = b",".join(taken)
    body = struct.pack("!HH", ErrorCode.OK, len(listed)) + listed + b"\0"
    return _message(Function.ATTR_RPLY, request.xid, request.lang, body, flags)


def encode_srv_type_rply(request: Header, types: Sequence[str], mtu: int) -> bytes:
    taken, flags = _fitting(request, 4, [t.encode() for t in types], mtu, b",")
    listed = b",".join(taken)
    body = struct.pack("!HH", ErrorCode.OK, len(listed)) + listed
    return _message(Function.SRV_TYPE_RPLY, request.xid, request.lang, body, flags)


def encode_sa_advert(request: Header, url: str, scopes: Sequence[str], attributes: str) -> bytes:
    """RFC 2608 8.6: no error code; URL, scope list, attribute list, no authenticators."""
    body = _string(url) + _string(",".join(scopes)) + _string(attributes) + b"\0"
    return _message(Function.SA_ADVERT, request.xid, request.lang, body)


# -- attribute lists (RFC 2608 5) --------------------------------------------------------

# Reserved in values: `(`, `)`, `,`, `\`, `!`, `<`, `=`, `>`, `~` and control characters;
# tags may also not hold `*`, `_`, CR, LF, HTAB (RFC 2608 5).
_VALUE_RESERVED = re.compile(r"[(),\\!<=>~\x00-\x1f\x7f]")
_TAG_RESERVED = re.compile(r"[(),\\!<=>~*_\x00-\x1f\x7f]")
Value = str | int | bool


def escape(text: str, tag: bool = False) -> str:
    pattern = _TAG_RESERVED if tag else _VALUE_RESERVED
    return pattern.sub(lambda m: f"\\{ord(m.group()):02X}", text)


def unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        return chr(int(match.group(1), 16))

    return re.sub(r"\\([0-9A-Fa-f]{2})", one, text)


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return escape(value)


def encode_attribute(name: str, values: Sequence[Value]) -> str:
    """`(name=v1,v2)`; a keyword attribute (no values) is its bare name."""
    if not values:
        return escape(name, tag=True)
    return f"({escape(name, tag=True)}={','.join(_value(v) for v in values)})"


def parse_attribute_list(text: str) -> dict[str, list[str]]:
    """The inverse of joining `encode_attribute` results with commas (for tests and clients):
    names folded to lower case, values unescaped."""
    found: dict[str, list[str]] = {}
    pieces, current, inside = [], "", False
    for char in text:
        if char == "," and not inside:
            pieces.append(current)
            current = ""
            continue
        inside = (inside or char == "(") and char != ")"
        current += char
    pieces.append(current)
    for piece in pieces:
        piece = piece.strip()
        if piece.startswith("(") and piece.endswith(")") and "=" in piece:
            name, _, values = piece[1:-1].partition("=")
            found[unescape(name).lower()] = [unescape(v) for v in values.split(",")]
        elif piece:
            found[unescape(piece).lower()] = []
    return found


def wildcard_matches(parts: Sequence[str], text: str) -> bool:
    """Whether text is parts joined by runs of anything (a pattern split at its `*`s). The
    leftmost match of each piece in turn decides, in linear time: a regular expression of
    many `.*` would backtrack for ages on a crafted predicate."""
    if len(parts) == 1:
        return text == parts[0]
    first, *middle, last = parts
    if not text.startswith(first) or not text.endswith(last):
        return False
    at, end = len(first), len(text) - len(last)
    if end < at:
        return False
    for piece in middle:
        found = text.find(piece, at, end)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def tag_matches(tag: str, name: str) -> bool:
    """RFC 2608 10.4: a tag of the tag list, with `*` wildcards, against an attribute name
    (case-insensitive, section 6.4)."""
    return wildcard_matches(unescape(tag).lower().split("*"), name.lower())


# -- predicates (RFC 2608 8.1, RFC 2254 string form) -------------------------------------


class PredicateError(ValueError):
    """A predicate we cannot read: answered PARSE_ERROR (unicast) or silence (multicast)."""


def fold(text: str) -> str:
    """RFC 2608 6.4: string comparison ignores case and folds runs of white space."""
    return " ".join(text.split()).lower()


def _compare(op: str, wanted: str, values: Sequence[Value]) -> bool:
    for value in values:
        if isinstance(value, bool):
            if op in ("=", "~=") and wanted.strip().lower() == ("true" if value else "false"):
                return True
            continue
        if isinstance(value, int):
            try:
                number = int(wanted.strip())
            except ValueError:
                continue
            if (
                (op in ("=", "~=") and value == number)
                or (op == ">=" and value >= number)
                or (op == "<=" and value <= number)
            ):
                return True
            continue
        have, want = fold(value), fold(unescape(wanted))
        if (op == ">=" and have >= want) or (op == "<=" and have <= want):
            return True
        if op in ("=", "~="):
            if "*" in wanted:
                # Pieces keep their inner spaces: a piece's edge may touch the wildcard.
                parts = [unescape(p).lower() for p in wanted.split("*")]
                if wildcard_matches(parts, have):
                    return True
            elif have == want:
                return True
    return False


class _Filter:
    def __init__(self, text: str, attributes: Mapping[str, Sequence[Value]]) -> None:
        self.text = text
        self.pos = 0
        self.attributes = {name.lower(): values for name, values in attributes.items()}
        self.depth = 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip()
        if self.pos >= len(self.text) or self.text[self.pos] != char:
            raise PredicateError(f"{char!r} expected at {self.pos}")
        self.pos += 1

    def filter(self) -> bool:
        self.depth += 1
        if self.depth > 32:
            raise PredicateError("filter nested too deep")
        self.expect("(")
        self.skip()
        if self.pos >= len(self.text):
            raise PredicateError("filter ends early")
        char = self.text[self.pos]
        if char in "&|":
            self.pos += 1
            results = []
            self.skip()
            while self.pos < len(self.text) and self.text[self.pos] == "(":
                results.append(self.filter())
                self.skip()
            if not results:
                raise PredicateError("empty filter list")
            result = all(results) if char == "&" else any(results)
        elif char == "!":
            self.pos += 1
            result = not self.filter()
        else:
            result = self.item()
        self.expect(")")
        self.depth -= 1
        return result

    def item(self) -> bool:
        end = self.text.find(")", self.pos)
        if end < 0:
            raise PredicateError("item without ')'")
        item = self.text[self.pos : end]
        self.pos = end
        equals = item.find("=")
        if equals < 1:
            raise PredicateError(f"no operator in {item[:40]!r}")
        op = "="
        if item[equals - 1] in "~<>":
            op = item[equals - 1] + "="
        name = item[: equals - len(op) + 1].strip()
        wanted = item[equals + 1 :]
        if not name or any(c in name for c in "=<>~()*"):
            raise PredicateError(f"bad attribute name {name[:40]!r}")
        values = self.attributes.get(unescape(name).strip().lower())
        if values is None:
            return False
        if op == "=" and wanted.strip() == "*":
            return True  # presence
        return _compare(op, wanted, values)


def predicate_matches(predicate: str, attributes: Mapping[str, Sequence[Value]]) -> bool:
    """Whether attributes satisfy an LDAPv3 search filter: and, or, not, equality with `*`
    substrings, presence, >=, <= and ~= (taken as equality). An empty predicate matches all.
    Raises PredicateError for what it cannot read."""
    if not predicate.strip():
        return True
    parser = _Filter(predicate, attributes)
    result = parser.filter()
    parser.skip()
    if parser.pos != len(predicate):
        raise PredicateError("text after the filter")
    return result
