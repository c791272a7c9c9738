"""NetBIOS over TCP/IP (RFC 1001/1002) as values: name service packets (UDP 137) and the
datagram service's host announcement (UDP 138, MS-BRWS 2.2.1).

Sans-I/O: `parse_query` reads a name service request, the `encode_*` functions build the
positive name query response (RFC 1002 4.2.13), the node status response (4.2.18) and a
header-only error response (4.2.1.1 RCODE).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass

HEADER = struct.Struct("!HHHHHH")  # NAME_TRN_ID, flags, QD, AN, NS, AR counts
ENCODED_NAME = 32  # RFC 1002 4.1: 16 bytes, a half byte per letter
WILDCARD = b"*" + b"\0" * 15  # RFC 1002 4.2.17: the node status query's name

# RFC 1002 4.2.1.1 flags (the 16 bits after NAME_TRN_ID).
RESPONSE = 0x8000
OPCODE_SHIFT = 11
AA = 0x0400
TC = 0x0200
RD = 0x0100
RA = 0x0080
BROADCAST = 0x0010


class Opcode(enum.IntEnum):
    """RFC 1002 4.2.1.1."""

    QUERY = 0
    REGISTRATION = 5
    RELEASE = 6
    WACK = 7
    REFRESH = 8


class Rcode(enum.IntEnum):
    """RFC 1002 4.2.6."""

    OK = 0
    FMT_ERR = 1
    SRV_ERR = 2
    NAM_ERR = 3
    IMP_ERR = 4
    RFS_ERR = 5
    ACT_ERR = 6
    CFT_ERR = 7


class RrType(enum.IntEnum):
    """RFC 1002 4.2.1.3."""

    NB = 0x0020
    NBSTAT = 0x0021


CLASS_IN = 0x0001

# RFC 1002 4.2.18 NAME_FLAGS: group, active; B-node (ONT 00).
GROUP_NAME = 0x8000
ACTIVE = 0x0400

# The suffix (16th byte) of common names (MS-NBTE / [MS-BRWS] 1.3).
WORKSTATION = 0x00
SERVER = 0x20
MASTER_BROWSER = 0x1D


class NetbiosError(ValueError):
    """A datagram that is not a readable request. `transaction` (when the header could be
    read, and it was a request) lets the caller answer FMT_ERR."""

    def __init__(self, why: str, transaction: int | None = None, flags: int = 0) -> None:
        super().__init__(why)
        self.transaction = transaction
        self.flags = flags


@dataclass(frozen=True)
class Query:
    """A name query (QUESTION_TYPE NB) or node status query (NBSTAT)."""

    transaction: int
    flags: int
    name: bytes  # the 16 decoded bytes: 15 of name, padded, then the suffix
    scope: bytes  # the NetBIOS scope (RFC 1001 14.1), "" for none
    qtype: int
    raw_name: bytes  # the question name as it came, for the answer's RR_NAME

    @property
    def opcode(self) -> int:
        return (self.flags >> OPCODE_SHIFT) & 0xF

    @property
    def broadcast(self) -> bool:
        return bool(self.flags & BROADCAST)

    @property
    def netbios_name(self) -> str:
        return self.name[:15].rstrip(b" \0").decode("latin-1")

    @property
    def suffix(self) -> int:
        return self.name[15]


@dataclass(frozen=True)
class Other:
    """A name service packet that is no query of ours: a response, a registration,
    a release or a refresh of another node (ordinary broadcast traffic)."""

    transaction: int
    flags: int


def encode_name(name: str | bytes, suffix: int, scope: bytes = b"") -> bytes:
    """RFC 1001 14.1 first-level encoding (each half byte + 'A'), then the scope labels."""
    if isinstance(name, str):
        raw = name.upper().encode("latin-1")[:15].ljust(15, b" ") + bytes([suffix])
    else:
        raw = name
    halves = bytes(c for byte in raw for c in (0x41 + (byte >> 4), 0x41 + (byte & 0xF)))
    labels = b"".join(bytes([len(label)]) + label for label in scope.split(b".") if label)
    return bytes([ENCODED_NAME]) + halves + labels + b"\0"


def _read_name(data: bytes, offset: int) -> tuple[bytes, bytes, int]:
    """The decoded 16-byte name, the scope, and the offset after the name."""
    if offset >= len(data) or data[offset] != ENCODED_NAME:
        raise ValueError("the name is not 32 encoded bytes")
    encoded = data[offset + 1 : offset + 1 + ENCODED_NAME]
    if len(encoded) != ENCODED_NAME or any(not 0x41 <= c <= 0x50 for c in encoded):
        raise ValueError("the name is not first-level encoded")
    name = bytes(((encoded[i] - 0x41) << 4) | (encoded[i + 1] - 0x41) for i in range(0, 32, 2))
    at = offset + 1 + ENCODED_NAME
    labels = []
    while True:
        if at >= len(data):
            raise ValueError("the name runs past the packet")
        size = data[at]
        if size == 0:
            at += 1
            break
        if size > 63 or at + 1 + size > len(data):
            raise ValueError("bad scope label")  # no compression pointers in a question
        labels.append(data[at + 1 : at + 1 + size])
        at += 1 + size
        if sum(len(label) + 1 for label in labels) > 222:  # RFC 1002 4.1: 255 in all
            raise ValueError("scope too long")
    return name, b".".join(labels), at


def parse_query(data: bytes) -> Query | Other:
    if len(data) < HEADER.size:
        raise NetbiosError("shorter than a name service header")
    transaction, flags, qdcount, _an, _ns, _ar = HEADER.unpack_from(data)
    if flags & RESPONSE:
        return Other(transaction, flags)
    if (flags >> OPCODE_SHIFT) & 0xF != Opcode.QUERY:
        return Other(transaction, flags)
    if qdcount != 1:
        raise NetbiosError(f"{qdcount} questions", transaction, flags)
    try:
        name, scope, at = _read_name(data, HEADER.size)
    except ValueError as exc:
        raise NetbiosError(str(exc), transaction, flags) from None
    if at + 4 > len(data):
        raise NetbiosError("question ends early", transaction, flags)
    qtype, qclass = struct.unpack_from("!HH", data, at)
    if qtype not in (RrType.NB, RrType.NBSTAT) or qclass != CLASS_IN:
        raise NetbiosError(f"question type {qtype:#x} class {qclass:#x}", transaction, flags)
    return Query(transaction, flags, name, scope, qtype, data[HEADER.size : at])


def encode_error(transaction: int, request_flags: int, rcode: Rcode) -> bytes:
    """A header-only response with an RCODE (RFC 1002 4.2.1.1), the request's opcode kept."""
    flags = RESPONSE | (request_flags & (0xF << OPCODE_SHIFT)) | AA | int(rcode)
    return HEADER.pack(transaction, flags, 0, 0, 0, 0)


def encode_name_response(query: Query, address: str, group: bool, ttl: int) -> bytes:
    """RFC 1002 4.2.13 POSITIVE NAME QUERY RESPONSE: one NB record, B-node."""
    flags = RESPONSE | AA | (query.flags & RD)
    nb_flags = GROUP_NAME if group else 0
    rdata = struct.pack("!H4s", nb_flags, bytes(int(p) for p in address.split(".")))
    return (
        HEADER.pack(query.transaction, flags, 0, 1, 0, 0) + query.raw_name
        + struct.pack("!HHIH", RrType.NB, CLASS_IN, ttl, len(rdata)) + rdata
    )  # fmt: skip


@dataclass(frozen=True)
class NameEntry:
    name: str
    suffix: int
    group: bool = False

    def encode(self) -> bytes:
        raw = self.name.upper().encode("latin-1")[:15].ljust(15, b" ") + bytes([self.suffix])
        return raw + struct.pack("!H", ACTIVE | (GROUP_NAME if self.group else 0))


def encode_node_status(query: Query, names: Sequence[NameEntry], unit_id: bytes) -> bytes:
    """RFC 1002 4.2.18 NODE STATUS RESPONSE: the name table and the statistics, whose first
    six bytes (UNIT_ID) are the MAC address; the counters are zero."""
    table = bytes([len(names)]) + b"".join(entry.encode() for entry in names)
    statistics = unit_id[:6].ljust(6, b"\0") + b"\0" * 40
    rdata = table + statistics
    flags = RESPONSE | AA
    return (
        HEADER.pack(query.transaction, flags, 0, 1, 0, 0) + query.raw_name
        + struct.pack("!HHIH", RrType.NBSTAT, CLASS_IN, 0, len(rdata)) + rdata
    )  # fmt: skip


# -- datagram service (UDP 138) ----------------------------------------------------------

DIRECT_GROUP = 0x11  # RFC 1002 4.4.1 MSG_TYPE
FIRST_FRAGMENT = 0x02  # F flag; B-node (SNT 00), last fragment (M clear)
# MS-BRWS 2.2.1: HostAnnouncement is opcode 1 of the \MAILSLOT\BROWSE mailslot, carried in
# an SMB Transaction (MS-BRWS 2.1 / MS-MAIL 2.1).
HOST_ANNOUNCEMENT = 0x01
BROWSE_MAILSLOT = b"\\MAILSLOT\\BROWSE\0"
SV_TYPE_WORKSTATION = 0x00000001
SV_TYPE_SERVER = 0x00000002
SV_TYPE_PRINTQ_SERVER = 0x00000200


def encode_host_announcement(
    transaction: int, source_name: str, workgroup: str, address: str, port: int,
    comment: str, periodicity_ms: int, server_type: int,
) -> bytes:  # fmt: skip
    """A direct_group datagram (RFC 1002 4.4.2) from NAME<00> to WORKGROUP<1d> holding an
    SMB Transaction on \\MAILSLOT\\BROWSE with a HostAnnouncement (MS-BRWS 2.2.1)."""
    announcement = (
        struct.pack("<BBI", HOST_ANNOUNCEMENT, 0, periodicity_ms)
        + source_name.upper().encode("latin-1")[:15].ljust(16, b"\0")
        + struct.pack("<BBIBBH", 6, 1, server_type, 0x0F, 0x01, 0xAA55)  # OS 6.1, browser 15.1
        + comment.encode("latin-1", "replace")[:43] + b"\0"
    )  # fmt: skip
    setup = struct.pack("<HHH", 1, 1, 2)  # mailslot write, priority 1, class 2 (unreliable)
    name = BROWSE_MAILSLOT
    # SMB header (32 bytes, SMB_COM_TRANSACTION 0x25), then 17 parameter words (MS-CIFS
    # 2.2.4.33.1: 14 words and the 3 setup words), the byte count and the mailslot name:
    # the announcement (Trans_Data; no Trans_Parameters) starts right after.
    smb_header = b"\xffSMB" + bytes([0x25]) + b"\0" * 27
    words = 17
    data_offset = len(smb_header) + 1 + words * 2 + 2 + len(name)
    parameters = (
        struct.pack("<HHHHBBHIH", 0, len(announcement), 0, 0, 0, 0, 0, 0, 0)
        + struct.pack("<HHHHBB", 0, data_offset, len(announcement), data_offset, 3, 0)
        + setup
    )  # fmt: skip
    byte_count = len(name) + len(announcement)
    smb = smb_header + bytes([words]) + parameters + struct.pack("<H", byte_count) + name
    smb += announcement
    source = encode_name(source_name, WORKSTATION)
    destination = encode_name(workgroup, MASTER_BROWSER)
    body = source + destination + smb
    return (
        struct.pack("!BBH4sHHH", DIRECT_GROUP, FIRST_FRAGMENT, transaction,
                    bytes(int(p) for p in address.split(".")), port, len(body), 0)
        + body
    )  # fmt: skip
