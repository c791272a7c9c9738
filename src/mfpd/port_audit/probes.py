"""The scanner's probes as bytes: each request built by hand from its specification, each
answer read into the few fields that identify the device. No sockets here (scanner.py sends
them), so that every reader can be fed arbitrary bytes: a device's answer is untrusted input
and a reader that cannot make sense of it answers None.
"""

from __future__ import annotations

import re
import struct
import uuid

# --- PJL (HP PJL Technical Reference, INFO ID) -------------------------------------------
UEL = b"\x1b%-12345X"
# Bracketed by UELs and holding only a query: a printer prints nothing for it.
PJL_INFO_ID = UEL + b"@PJL INFO ID\r\n" + UEL


def pjl_id(answer: bytes) -> str | None:
    """The device's model from an INFO ID answer (`@PJL INFO ID` CRLF `"model"` CRLF FF)."""
    _, found, rest = answer.partition(b"@PJL INFO ID")
    if not found:
        return None
    lines = [line.strip() for line in rest.replace(b"\x0c", b"").splitlines() if line.strip()]
    return printable(lines[0]).strip('"') if lines else ""


# --- LPD (RFC 1179) --------------------------------------------------------------------
def lpd_queue_state(queue: str) -> bytes:
    """RFC 1179 5.4: 04 Queue SP List LF, "send queue state (long)" for every job."""
    return b"\x04" + queue.encode("ascii", "replace") + b"\n"


def lpd_answer(answer: bytes) -> str | None:
    """The first line of a queue state answer: printable text, where LPD has no framing."""
    text = printable(answer).strip()
    if not text or (not text.isprintable() and "\n" not in text):
        return None
    return text.splitlines()[0][:120]


# --- TLS (RFC 8446 6, RFC 5246 7.2) ------------------------------------------------------
def tls_alert(answer: bytes) -> bool:
    """An alert record (content type 21) of TLS 1.0 to 1.3: a TLS listener refusing what
    it read as a ClientHello."""
    return len(answer) >= 7 and answer[0] == 0x15 and answer[1] == 0x03 and answer[2] <= 0x04


# --- HTTP (RFC 9110, 9112) ---------------------------------------------------------------
def http_get(host: str, path: str = "/") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mfpd-audit\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode()


def http_post(host: str, path: str, content_type: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mfpd-audit\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body


class HttpAnswer:
    """An HTTP/1.x response as far as the identification goes."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def server(self) -> str:
        return self.headers.get("server", "")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def title(self) -> str:
        found = re.search(rb"<title[^>]*>(.*?)</title>", self.body, re.I | re.S)
        return " ".join(printable(found[1]).split())[:120] if found else ""


def http_answer(answer: bytes) -> HttpAnswer | None:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = re.fullmatch(rb"HTTP/1\.[01] (\d{3})(?: .*)?", lines[0]) if lines else None
    if status is None:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[printable(name).strip().lower()] = printable(value).strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    return HttpAnswer(int(status[1]), headers, body)


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if not sep or size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


# --- IPP (RFC 8010 3, RFC 8011 4.2.5 Get-Printer-Attributes) -----------------------------
IPP_PATHS = ("/ipp/print", "/ipp", "/")


def ipp_get_printer_attributes(uri: str) -> bytes:
    def attribute(tag: int, name: str, value: str) -> bytes:
        n, v = name.encode(), value.encode()
        return struct.pack(">BH", tag, len(n)) + n + struct.pack(">H", len(v)) + v

    return (
        struct.pack(">BBHI", 1, 1, 0x000B, 1)  # IPP/1.1, Get-Printer-Attributes, request 1
        + b"\x01"  # operation-attributes-tag
        + attribute(0x47, "attributes-charset", "utf-8")
        + attribute(0x48, "attributes-natural-language", "en")
        + attribute(0x45, "printer-uri", uri)
        + attribute(0x44, "requested-attributes", "printer-make-and-model")
        + attribute(0x44, "", "printer-name")  # an additional value of the same attribute
        + b"\x03"  # end-of-attributes-tag
    )


def ipp_attributes(body: bytes) -> dict[str, str] | None:
    """The text values of an IPP response's attributes (first value of each); None when the
    body is not an IPP response."""
    if len(body) < 9 or body[0] not in (1, 2):
        return None
    values: dict[str, str] = {}
    at, name = 8, ""
    while at < len(body):
        tag = body[at]
        at += 1
        if tag == 0x03:
            return values
        if tag < 0x10:  # a delimiter: the next group begins
            continue
        if at + 2 > len(body):
            return None
        (name_len,) = struct.unpack_from(">H", body, at)
        at += 2
        if name_len:
            name = printable(body[at : at + name_len])
        at += name_len
        if at + 2 > len(body):
            return None
        (value_len,) = struct.unpack_from(">H", body, at)
        at += 2
        value = body[at : at + value_len]
        at += value_len
        if name_len and 0x41 <= tag <= 0x49 and name not in values:  # text and name types
            values[name] = printable(value)
    return None


# --- SNMP (RFC 3416, BER as in X.690) ----------------------------------------------------
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + value


def _oid(parts: tuple[int, ...]) -> bytes:
    out = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def snmp_get(community: str, request_id: int, oid: tuple[int, ...] = SYS_DESCR) -> bytes:
    """An SNMPv1 GetRequest-PDU (RFC 1157 4.1.2) for one object: the version every agent
    answers."""
    varbind = _tlv(0x30, _tlv(0x06, _oid(oid)) + b"\x05\x00")
    pdu = _tlv(0xA0, _tlv(0x02, request_id.to_bytes(4, "big")) + b"\x02\x01\x00\x02\x01\x00"
               + _tlv(0x30, varbind))  # fmt: skip
    return _tlv(0x30, b"\x02\x01\x00" + _tlv(0x04, community.encode()) + pdu)


def _read_tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, value, next offset) of the TLV at `at`; ValueError when it does not fit."""
    if at + 2 > len(data):
        raise ValueError("short")
    tag, first = data[at], data[at + 1]
    at += 2
    if first & 0x80:
        count = first & 0x7F
        if not 1 <= count <= 4 or at + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    else:
        length = first
    if at + length > len(data):
        raise ValueError("short value")
    return tag, data[at : at + length], at + length


def snmp_value(answer: bytes) -> str | None:
    """The first variable's value of a GetResponse-PDU, as text; None for anything else
    (including an error-status or a noSuchObject answer)."""
    try:
        tag, message, _ = _read_tlv(answer, 0)
        if tag != 0x30:
            return None
        _, _, at = _read_tlv(message, 0)  # version
        _, _, at = _read_tlv(message, at)  # community
        tag, pdu, _ = _read_tlv(message, at)
        if tag != 0xA2:
            return None
        _, _, at = _read_tlv(pdu, 0)  # request-id
        _, status, at = _read_tlv(pdu, at)
        _, _, at = _read_tlv(pdu, at)  # error-index
        if any(status):
            return None
        _, varbinds, _ = _read_tlv(pdu, at)
        _, varbind, _ = _read_tlv(varbinds, 0)
        _, _, at = _read_tlv(varbind, 0)  # the name
        tag, value, _ = _read_tlv(varbind, at)
    except ValueError:
        return None
    return printable(value) if tag == 0x04 else None


# --- SLP (RFC 2608 8.1 SrvRqst, 8.2 SrvRply) ---------------------------------------------
def _slp_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def slp_service_request(xid: int, service_type: str = "service:printer") -> bytes:
    body = (
        _slp_string("")  # previous responder list
        + _slp_string(service_type)
        + _slp_string("DEFAULT")  # scope list
        + _slp_string("")  # predicate
        + _slp_string("")  # SLP SPI
    )
    lang = _slp_string("en")
    length = 12 + len(lang) + len(body)
    # Version 2, function 1, length (24 bits), flags 0 (unicast), next extension 0, XID.
    header = struct.pack(">BB", 2, 1) + length.to_bytes(3, "big") + b"\x00\x00"
    return header + b"\x00\x00\x00" + struct.pack(">H", xid) + lang + body


def slp_urls(answer: bytes) -> list[str] | None:
    """The URLs of a SrvRply (function 2); None for anything else or an error code."""
    if len(answer) < 16 or answer[0] != 2 or answer[1] != 2:
        return None
    (lang_len,) = struct.unpack_from(">H", answer, 12)
    at = 14 + lang_len
    if at + 4 > len(answer):
        return None
    error, count = struct.unpack_from(">HH", answer, at)
    if error:
        return None
    at += 4
    urls = []
    for _ in range(count):
        if at + 5 > len(answer):
            return None
        (url_len,) = struct.unpack_from(">H", answer, at + 3)
        urls.append(printable(answer[at + 5 : at + 5 + url_len]))
        at += 5 + url_len
        if at >= len(answer):
            break
        auths = answer[at]
        at += 1
        for _ in range(auths):  # authentication blocks (RFC 2608 9.2): skip by their length
            if at + 4 > len(answer):
                return urls
            (block_len,) = struct.unpack_from(">H", answer, at + 2)
            at += max(block_len, 4)
    return urls


# --- SSDP (UPnP Device Architecture 2.0, 1.3.2 unicast M-SEARCH) --------------------------
def ssdp_msearch(host: str, port: int) -> bytes:
    return (
        f'M-SEARCH * HTTP/1.1\r\nHOST: {host}:{port}\r\nMAN: "ssdp:discover"\r\n'
        "ST: ssdp:all\r\nUSER-AGENT: Linux/1 UPnP/2.0 mfpd-audit/1\r\n\r\n"
    ).encode()


def ssdp_answer(answer: bytes) -> str | None:
    parsed = http_answer(answer)
    if parsed is None or parsed.status != 200:
        return None
    parts = [f"{k.upper()} {parsed.headers[k]}" for k in ("server", "st") if k in parsed.headers]
    return "; ".join(parts) or "M-SEARCH answered"


# --- NetBIOS name service (RFC 1002 4.2.17 NODE STATUS REQUEST, 4.2.18 response) -----------
def _netbios_name(name: bytes) -> bytes:
    """First-level encoding (RFC 1001 14.1): each half-octet as a letter from 'A'."""
    padded = name.ljust(16, b"\x00")
    encoded = bytes(c for b in padded for c in (0x41 + (b >> 4), 0x41 + (b & 0x0F)))
    return b"\x20" + encoded + b"\x00"


def nbns_node_status(transaction: int) -> bytes:
    header = struct.pack(">HHHHHH", transaction, 0x0000, 1, 0, 0, 0)
    return header + _netbios_name(b"*") + struct.pack(">HH", 0x0021, 0x0001)  # NBSTAT, IN


def nbns_names(answer: bytes) -> list[str] | None:
    """The names of a NODE STATUS RESPONSE: `NAME<suffix>`, group names marked."""
    if len(answer) < 12 or not answer[2] & 0x80:  # not a response
        return None
    try:
        at = _skip_dns_name(answer, 12)
    except ValueError:
        return None
    if at + 11 > len(answer):
        return None
    rr_type, _, _, _ = struct.unpack_from(">HHIH", answer, at)
    if rr_type != 0x0021:
        return None
    at += 10
    count = answer[at]
    at += 1
    names = []
    for _ in range(count):
        entry = answer[at : at + 18]
        if len(entry) < 18:
            break
        flags = struct.unpack_from(">H", entry, 16)[0]
        group = " (group)" if flags & 0x8000 else ""
        names.append(f"{printable(entry[:15]).strip()}<{entry[15]:02X}>{group}")
        at += 18
    return names


# --- mDNS (RFC 6762 6.7 legacy unicast, RFC 1035 4.1) -------------------------------------
def dns_query(query_id: int, name: str, rr_type: int = 12) -> bytes:
    """A standard query (PTR by default) sent to 5353 from another port: RFC 6762 6.7 has
    the responder answer it by unicast, to the query's source, with its ID."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00"
    return struct.pack(">HHHHHH", query_id, 0, 1, 0, 0, 0) + labels + struct.pack(">HH", rr_type, 1)


def _skip_dns_name(data: bytes, at: int) -> int:
    while True:
        if at >= len(data):
            raise ValueError("name runs off the message")
        length = data[at]
        if length & 0xC0 == 0xC0:
            return at + 2
        if length == 0:
            return at + 1
        at += 1 + length


def _dns_name(data: bytes, at: int) -> str:
    labels: list[str] = []
    for _ in range(64):  # a bound on compression pointers (loops in hostile messages)
        if at >= len(data):
            raise ValueError("name runs off the message")
        length = data[at]
        if length & 0xC0 == 0xC0:
            if at + 1 >= len(data):
                raise ValueError("short pointer")
            at = ((length & 0x3F) << 8) | data[at + 1]
            continue
        if length == 0:
            return ".".join(labels)
        labels.append(printable(data[at + 1 : at + 1 + length]))
        at += 1 + length
    raise ValueError("too many labels")


def dns_ptr_targets(answer: bytes, query_id: int) -> list[str] | None:
    """The PTR targets among a response's answers (instance names of a DNS-SD browse)."""
    if len(answer) < 12:
        return None
    ident, flags, questions, answers = struct.unpack_from(">HHHH", answer, 0)
    if ident != query_id or not flags & 0x8000:
        return None
    try:
        at = 12
        for _ in range(questions):
            at = _skip_dns_name(answer, at) + 4
        targets = []
        for _ in range(answers):
            at = _skip_dns_name(answer, at)
            rr_type, _, _, length = struct.unpack_from(">HHIH", answer, at)
            at += 10
            if rr_type == 12:
                targets.append(_dns_name(answer, at))
            at += length
    except (ValueError, struct.error):
        return None
    return targets


# --- WS-Discovery (WS-Discovery 2005/04, as Windows sends it: Probe over SOAP-over-UDP) ----
def wsd_probe(message_id: uuid.UUID) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
        "<soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>"
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{message_id}</wsa:MessageID></soap:Header>"
        "<soap:Body><wsd:Probe/></soap:Body></soap:Envelope>"
    ).encode()


def wsd_types(answer: bytes) -> str | None:
    if b"ProbeMatches" not in answer:
        return None
    found = re.search(rb"<(?:\w+:)?Types[^>]*>([^<]*)</", answer)
    return " ".join(printable(found[1]).split()) if found else "ProbeMatches"


def printable(raw: bytes) -> str:
    """Bytes from the network as one printable line: control characters dropped."""
    return "".join(c for c in raw.decode("utf-8", "replace") if c.isprintable() or c == "\n")
