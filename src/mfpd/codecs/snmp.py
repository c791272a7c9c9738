"""SNMPv1 and SNMPv2c read requests and their responses in BER (X.690), sans-I/O.

The SNMP agent's fast path (services/snmp/fast_path.py) answers the commonest datagrams itself:
a Get, GetNext or GetBulk request of SNMPv1 (RFC 1157) or SNMPv2c (RFC 1901, RFC 3416) with
NULL values. `decode_request` is deliberately narrow: anything but that plain shape (another
version or PDU type, a value that is not NULL, an indefinite length, a constructed string,
an integer out of its range, a bad subidentifier, bytes after the message) is None, and the
agent hands the datagram to pysnmp's full decoder, which answers it or drops it as it always
did. So the fast path only ever accepts a subset of what the agent's pysnmp engine accepts
(pysnmp's types, but GetBulk's non-repeaters and max-repetitions may be negative, as RFC 3416
4.2.3 allows: services/snmp/bulk_pdu.py), with the same values.

The encoders write what pyasn1's BER encoder writes for the same values (definite lengths in
the shortest form; INTEGER in two's complement, minimal except that pyasn1 writes a negative
power of two one octet longer, -128 as ff 80), so a response is byte for byte the one pysnmp
would have sent (tests/unit/test_snmp_codec.py compares them).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

Oid = tuple[int, ...]


class Tag(enum.IntEnum):
    """The BER identifier octets of SNMP (X.690 8.1.2; RFC 2578 7.1, RFC 3416 3)."""

    INTEGER = 0x02
    OCTET_STRING = 0x04
    NULL = 0x05
    OBJECT_IDENTIFIER = 0x06
    SEQUENCE = 0x30
    IP_ADDRESS = 0x40  # [APPLICATION 0]
    COUNTER32 = 0x41  # [APPLICATION 1]
    GAUGE32 = 0x42  # [APPLICATION 2], also Unsigned32
    TIMETICKS = 0x43  # [APPLICATION 3]
    COUNTER64 = 0x46  # [APPLICATION 6]
    NO_SUCH_OBJECT = 0x80  # [0] IMPLICIT NULL (RFC 3416 3)
    NO_SUCH_INSTANCE = 0x81  # [1]
    END_OF_MIB_VIEW = 0x82  # [2]


class PduType(enum.IntEnum):
    """Context tags of the PDUs (RFC 1157 4.1, RFC 3416 3)."""

    GET = 0xA0
    GET_NEXT = 0xA1
    RESPONSE = 0xA2  # GetResponse-PDU in SNMPv1
    SET = 0xA3
    GET_BULK = 0xA5  # SNMPv2c only


VERSION_1 = 0  # SNMPv1 (RFC 1157)
VERSION_2C = 1  # SNMPv2c (RFC 1901)
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Continuation octets of one subidentifier beyond which the fast decoder declines (pyasn1
# refuses more than 20).
MAX_ARC_OCTETS = 10
_READ_PDUS = {VERSION_1: (0xA0, 0xA1), VERSION_2C: (0xA0, 0xA1, 0xA5)}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """A Get, GetNext or GetBulk request of SNMPv1 or SNMPv2c."""

    version: int  # VERSION_1 or VERSION_2C
    community: bytes
    pdu_type: int  # PduType.GET, GET_NEXT or GET_BULK
    request_id: int
    non_repeaters: int  # GetBulk, as sent (maybe negative); 0 otherwise
    max_repetitions: int  # GetBulk, as sent (maybe negative); 0 otherwise
    names: tuple[Oid, ...]


class _Decline(Exception):
    """Not the plain shape this decoder takes: the caller uses the full decoder."""


def _header(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """Identifier octet, start and end of the contents of the TLV at `at`, within `end`.
    Only single-octet identifiers and definite lengths (short form, or long form of at most
    three octets: net-snmp writes sequences with 82 xx xx however short they are)."""
    if at + 2 > end:
        raise _Decline
    tag = data[at]
    first = data[at + 1]
    if first < 0x80:
        start = at + 2
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 3 or at + 2 + count > end:
            raise _Decline  # indefinite, or more than 16 MiB
        start = at + 2 + count
        length = int.from_bytes(data[at + 2 : start], "big")
    stop = start + length
    if stop > end:
        raise _Decline
    return tag, start, stop


def _integer(data: bytes, at: int, end: int, low: int, high: int) -> tuple[int, int]:
    tag, start, stop = _header(data, at, end)
    if tag != Tag.INTEGER or stop == start:
        raise _Decline
    value = int.from_bytes(data[start:stop], "big", signed=True)
    if not low <= value <= high:
        raise _Decline
    return value, stop


def decode_oid(content: bytes) -> Oid:
    """The arcs of an OBJECT IDENTIFIER's contents (X.690 8.19), as pyasn1 decodes them; a
    subidentifier with a leading 0x80 octet, cut short or too long is refused (ValueError)."""
    arcs: list[int] = []
    value = 0
    octets = 0
    for octet in content:
        if octet < 0x80:
            arcs.append((value << 7) | octet)
            value = octets = 0
            continue
        if octets == 0 and octet == 0x80:
            raise ValueError("a subidentifier starts with 0x80")
        octets += 1
        if octets > MAX_ARC_OCTETS:
            raise ValueError("a subidentifier of more than 70 bits")
        value = (value << 7) | (octet & 0x7F)
    if octets or not arcs:
        raise ValueError("truncated or empty OBJECT IDENTIFIER")
    first = arcs[0]
    if first < 40:
        head = (0, first)
    elif first < 80:
        head = (1, first - 40)
    else:
        head = (2, first - 80)
    return (*head, *arcs[1:])


def decode_request(data: bytes) -> ReadRequest | None:
    """The request in `data`, or None when it is anything but a plain SNMPv1/v2c Get,
    GetNext or GetBulk request with NULL values (see the module's docstring)."""
    try:
        return _decode(data)
    except (_Decline, ValueError, IndexError):
        return None


def _decode(data: bytes) -> ReadRequest:
    end = len(data)
    tag, at, stop = _header(data, 0, end)
    if tag != Tag.SEQUENCE or stop != end:
        raise _Decline
    version, at = _integer(data, at, end, VERSION_1, VERSION_2C)
    tag, start, at = _header(data, at, end)
    if tag != Tag.OCTET_STRING:
        raise _Decline
    community = data[start:at]
    pdu_type, at, stop = _header(data, at, end)
    if pdu_type not in _READ_PDUS[version] or stop != end:
        raise _Decline
    request_id, at = _integer(data, at, end, INT32_MIN, INT32_MAX)
    if pdu_type == PduType.GET_BULK:
        # Negative values are taken as zero by the agent (RFC 3416 4.2.3), as the full
        # decoder's types for the agent do (services/snmp/bulk_pdu.py).
        non_repeaters, at = _integer(data, at, end, INT32_MIN, INT32_MAX)
        max_repetitions, at = _integer(data, at, end, INT32_MIN, INT32_MAX)
    else:
        non_repeaters, at = _integer(data, at, end, 0, 0)  # error-status
        max_repetitions, at = _integer(data, at, end, 0, 0)  # error-index
    tag, at, stop = _header(data, at, end)
    if tag != Tag.SEQUENCE or stop != end:
        raise _Decline
    names: list[Oid] = []
    while at < end:
        tag, at, bind_end = _header(data, at, end)
        if tag != Tag.SEQUENCE:
            raise _Decline
        tag, start, at = _header(data, at, bind_end)
        if tag != Tag.OBJECT_IDENTIFIER:
            raise _Decline
        names.append(decode_oid(data[start:at]))
        if data[at : at + 2] != b"\x05\x00" or at + 2 != bind_end:
            raise _Decline
        at = bind_end
    return ReadRequest(
        version, community, pdu_type, request_id, non_repeaters, max_repetitions, tuple(names)
    )


# -- encoding ------------------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def encode_tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    return bytes((tag,)) + encode_length(length) + content


def encode_integer(value: int, tag: int = Tag.INTEGER) -> bytes:
    """INTEGER, or an application type built on it (Counter32, Gauge32, TimeTicks,
    Counter64), in pyasn1's octets."""
    content = value.to_bytes(abs(value).bit_length() // 8 + 1, "big", signed=True)
    return bytes((tag, len(content))) + content


def encode_oid_content(oid: Oid) -> bytes:
    """Contents octets of an OBJECT IDENTIFIER (X.690 8.19). ValueError for what has no
    encoding: fewer than two arcs, a first arc above 2, a second above 39 under 0 or 1."""
    if len(oid) < 2:
        raise ValueError("an OBJECT IDENTIFIER has at least two arcs")
    first, second = oid[0], oid[1]
    if first > 2 or first < 0 or second < 0 or (first < 2 and second > 39):
        raise ValueError("impossible first arcs")
    out = bytearray()
    for arc in (first * 40 + second, *oid[2:]):
        if 0 <= arc < 0x80:
            out.append(arc)
            continue
        if arc < 0:
            raise ValueError("negative arc")
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def encode_oid(oid: Oid) -> bytes:
    return encode_tlv(Tag.OBJECT_IDENTIFIER, encode_oid_content(oid))


def encode_varbind(name: bytes, value: bytes) -> bytes:
    """VarBind ::= SEQUENCE { name, value }, from the two encoded TLVs."""
    return encode_tlv(Tag.SEQUENCE, name + value)


def encode_response(
    version: int,
    community: bytes,
    request_id: int,
    error_status: int,
    error_index: int,
    varbinds: Sequence[bytes],
) -> bytes:
    """The Response-PDU (GetResponse-PDU of SNMPv1) message around encoded varbinds."""
    pdu = b"".join(
        (
            encode_integer(request_id),
            encode_integer(error_status),
            encode_integer(error_index),
            encode_tlv(Tag.SEQUENCE, b"".join(varbinds)),
        )
    )
    message = b"".join(
        (
            encode_integer(version),
            encode_tlv(Tag.OCTET_STRING, community),
            encode_tlv(PduType.RESPONSE, pdu),
        )
    )
    return encode_tlv(Tag.SEQUENCE, message)
