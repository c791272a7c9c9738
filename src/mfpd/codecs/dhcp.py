"""DHCP (RFC 2131) messages and their options (RFC 2132) as values, for the device's own
DHCP client.

Sans-I/O: `parse` reads a message a server sent (the BOOTP header, the magic cookie, the
options, with the overload of RFC 2132 9.3 and the concatenation of RFC 3396), `encode`
writes one; `discover`, `request`, `release` build the client's messages of RFC 2131 4.4.
A malformed message raises DhcpError, which the client answers with silence (RFC 2131 4.1:
a client discards what it cannot use).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address

SERVER_PORT = 67
CLIENT_PORT = 68
# RFC 2131 2: op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr,
# chaddr (16), sname (64), file (128); then the options' magic cookie (RFC 2132 2).
HEADER = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
MAGIC_COOKIE = bytes([99, 130, 83, 99])
BOOTREQUEST = 1
BOOTREPLY = 2
HTYPE_ETHERNET = 1  # RFC 1700 "Hardware Type"
BROADCAST_FLAG = 0x8000  # RFC 2131 2, figure 2: the server answers by broadcast
# RFC 2131 2: "a DHCP client must be prepared to receive DHCP messages with an options
# field of at least length 312 octets"; a whole Ethernet frame is the most a server sends.
MIN_MESSAGE = HEADER.size + len(MAGIC_COOKIE)
MAX_MESSAGE = 1500
# RFC 2131 2: BOOTP's minimum message of 300 octets, which some relays still expect.
BOOTP_MINIMUM = 300
UNSPECIFIED = IPv4Address("0.0.0.0")


class DhcpError(ValueError):
    """A message that is not a well-formed DHCP message."""


class MessageType(enum.IntEnum):
    """RFC 2132 9.6, option 53."""

    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8


class Option(enum.IntEnum):
    """The option codes the client reads or writes (RFC 2132, section in the comment)."""

    PAD = 0  # 3.1
    SUBNET_MASK = 1  # 3.3
    ROUTER = 3  # 3.5
    DNS_SERVERS = 6  # 3.8
    HOST_NAME = 12  # 3.14
    DOMAIN_NAME = 15  # 3.17
    REQUESTED_ADDRESS = 50  # 9.1
    LEASE_TIME = 51  # 9.2
    OVERLOAD = 52  # 9.3
    MESSAGE_TYPE = 53  # 9.6
    SERVER_ID = 54  # 9.7
    PARAMETER_REQUEST_LIST = 55  # 9.8
    MESSAGE = 56  # 9.9
    MAX_MESSAGE_SIZE = 57  # 9.10
    RENEWAL_TIME = 58  # 9.11 (T1)
    REBINDING_TIME = 59  # 9.12 (T2)
    CLIENT_ID = 61  # 9.14
    FQDN = 81  # RFC 4702
    END = 255  # 3.2


# What the client asks for in option 55: the network identity the device takes.
REQUESTED_PARAMETERS = (
    Option.SUBNET_MASK,
    Option.ROUTER,
    Option.DNS_SERVERS,
    Option.HOST_NAME,
    Option.DOMAIN_NAME,
    Option.LEASE_TIME,
    Option.RENEWAL_TIME,
    Option.REBINDING_TIME,
)
# RFC 4702 2.1: the flags octet of option 81.
FQDN_S = 0x01  # the server updates the A record
FQDN_O = 0x02  # the server overrode the client's S
FQDN_E = 0x04  # the name is in DNS wire encoding (RFC 1035 3.1)
FQDN_N = 0x08  # the server does no update at all


@dataclass(frozen=True)
class Fqdn:
    """RFC 4702 option 81: the flags and the fully qualified name (dots, no final dot)."""

    flags: int
    name: str


@dataclass(frozen=True)
class Message:
    """One DHCP message; `options` holds each option's whole value (RFC 3396: the parts of a
    long option already joined) by code."""

    op: int
    xid: int
    chaddr: bytes  # the client's hardware address (hlen octets)
    options: Mapping[int, bytes] = field(default_factory=dict)
    secs: int = 0
    flags: int = 0
    ciaddr: IPv4Address = UNSPECIFIED
    yiaddr: IPv4Address = UNSPECIFIED
    siaddr: IPv4Address = UNSPECIFIED
    giaddr: IPv4Address = UNSPECIFIED
    htype: int = HTYPE_ETHERNET
    hops: int = 0

    # The typed views of the options; each raises DhcpError when the option is malformed.

    @property
    def message_type(self) -> MessageType | None:
        value = self.options.get(Option.MESSAGE_TYPE)
        if value is None:
            return None
        if len(value) != 1:
            raise DhcpError(f"option 53 of {len(value)} octets, not 1")
        try:
            return MessageType(value[0])
        except ValueError:
            raise DhcpError(f"unknown DHCP message type {value[0]}") from None

    @property
    def server_id(self) -> IPv4Address | None:
        return _one_address(self.options, Option.SERVER_ID)

    @property
    def subnet_mask(self) -> IPv4Address | None:
        mask = _one_address(self.options, Option.SUBNET_MASK)
        if mask is not None:
            bits = int(mask)
            # A mask is ones then zeros: its complement plus one is a power of two.
            inverse = ~bits & 0xFFFFFFFF
            if inverse & (inverse + 1):
                raise DhcpError(f"option 1: {mask} is not a subnet mask")
        return mask

    @property
    def prefix_length(self) -> int | None:
        mask = self.subnet_mask
        return None if mask is None else bin(int(mask)).count("1")

    @property
    def routers(self) -> tuple[IPv4Address, ...]:
        return _addresses(self.options, Option.ROUTER)

    @property
    def dns_servers(self) -> tuple[IPv4Address, ...]:
        return _addresses(self.options, Option.DNS_SERVERS)

    @property
    def host_name(self) -> str | None:
        return _text(self.options, Option.HOST_NAME)

    @property
    def domain_name(self) -> str | None:
        return _text(self.options, Option.DOMAIN_NAME)

    @property
    def lease_time(self) -> int | None:
        return _seconds(self.options, Option.LEASE_TIME)

    @property
    def renewal_time(self) -> int | None:
        return _seconds(self.options, Option.RENEWAL_TIME)

    @property
    def rebinding_time(self) -> int | None:
        return _seconds(self.options, Option.REBINDING_TIME)

    @property
    def client_id(self) -> bytes | None:
        value = self.options.get(Option.CLIENT_ID)
        if value is not None and len(value) < 2:
            raise DhcpError("option 61 shorter than 2 octets")  # RFC 2132 9.14
        return value

    @property
    def server_message(self) -> str | None:
        return _text(self.options, Option.MESSAGE)

    @property
    def fqdn(self) -> Fqdn | None:
        value = self.options.get(Option.FQDN)
        if value is None:
            return None
        if len(value) < 3:
            raise DhcpError("option 81 shorter than 3 octets")  # RFC 4702 2
        flags, name = value[0], value[3:]
        if flags & FQDN_E:
            return Fqdn(flags, _wire_name(name))
        return Fqdn(flags, _decode_text(name, Option.FQDN))


def _one_address(options: Mapping[int, bytes], code: Option) -> IPv4Address | None:
    value = options.get(code)
    if value is None:
        return None
    if len(value) != 4:
        raise DhcpError(f"option {int(code)} of {len(value)} octets, not 4")
    return IPv4Address(value)


def _addresses(options: Mapping[int, bytes], code: Option) -> tuple[IPv4Address, ...]:
    value = options.get(code, b"")
    # RFC 2132 3.5, 3.8: "the minimum length ... is 4 octets, and the length MUST always be
    # a multiple of 4".
    if code in options and (not value or len(value) % 4):
        raise DhcpError(f"option {int(code)} of {len(value)} octets, not a multiple of 4")
    return tuple(IPv4Address(value[i : i + 4]) for i in range(0, len(value), 4))


def _seconds(options: Mapping[int, bytes], code: Option) -> int | None:
    value = options.get(code)
    if value is None:
        return None
    if len(value) != 4:
        raise DhcpError(f"option {int(code)} of {len(value)} octets, not 4")
    return int.from_bytes(value, "big")


def _decode_text(value: bytes, code: int) -> str:
    # RFC 2132 3.14, 3.17: NVT ASCII; some servers end it with a NUL, which is not part of it.
    value = value.rstrip(b"\0")
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        raise DhcpError(f"option {code} is not ASCII") from None
    if not text.isprintable():
        raise DhcpError(f"option {code} holds control characters")
    return text


def _text(options: Mapping[int, bytes], code: Option) -> str | None:
    value = options.get(code)
    return None if value is None else _decode_text(value, code)


def _wire_name(data: bytes) -> str:
    """An RFC 1035 3.1 name (labels, no compression in option 81: RFC 4702 2.3.1)."""
    labels: list[str] = []
    offset = 0
    while offset < len(data):
        length = data[offset]
        offset += 1
        if length == 0:
            break
        if length > 63 or offset + length > len(data):
            raise DhcpError("option 81: a malformed name")
        labels.append(_decode_text(data[offset : offset + length], Option.FQDN))
        offset += length
    return ".".join(labels)


def _encode_wire_name(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) <= 63:
            raise ValueError(f"{name!r}: a DNS label of {len(raw)} octets")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def encode_fqdn(name: str, flags: int = FQDN_E) -> bytes:
    """Option 81's value; RFC 4702 2.2: RCODE1 and RCODE2 are sent as 0 (deprecated)."""
    body = _encode_wire_name(name) if flags & FQDN_E else name.encode("ascii")
    return bytes([flags, 0, 0]) + body


def _read_options(data: bytes, into: dict[int, bytearray], where: str) -> None:
    """The TLVs of one options area (RFC 2132 2), joined into `into` by code (RFC 3396 4:
    the parts of a split option in the order they appear)."""
    offset = 0
    while offset < len(data):
        code = data[offset]
        offset += 1
        if code == Option.PAD:
            continue
        if code == Option.END:
            return
        if offset >= len(data):
            raise DhcpError(f"{where}: option {code} without its length")
        length = data[offset]
        offset += 1
        if offset + length > len(data):
            raise DhcpError(f"{where}: option {code} runs past the end")
        into.setdefault(code, bytearray()).extend(data[offset : offset + length])
        offset += length
    # RFC 2132 3.2 wants an END; the sname and file areas, when overloaded, end with one
    # too. A message that just stops is read as far as it goes, as ISC's client does.


def parse(data: bytes) -> Message:
    """A DHCP message from its bytes; DhcpError when it is not one."""
    if len(data) < MIN_MESSAGE:
        raise DhcpError(f"{len(data)} octets: shorter than a DHCP message ({MIN_MESSAGE})")
    if len(data) > MAX_MESSAGE:
        raise DhcpError(f"{len(data)} octets: longer than an Ethernet frame")
    (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname,
     file) = HEADER.unpack_from(data)  # fmt: skip
    if op not in (BOOTREQUEST, BOOTREPLY):
        raise DhcpError(f"op {op}: neither BOOTREQUEST nor BOOTREPLY")
    if hlen > len(chaddr):
        raise DhcpError(f"hlen {hlen} larger than chaddr")
    if data[HEADER.size : MIN_MESSAGE] != MAGIC_COOKIE:
        raise DhcpError("no DHCP magic cookie (a BOOTP message)")
    options: dict[int, bytearray] = {}
    _read_options(data[MIN_MESSAGE:], options, "options")
    overload = options.get(Option.OVERLOAD)
    if overload is not None:
        # RFC 2132 9.3: 1 the file field holds options, 2 sname, 3 both; file first.
        if len(overload) != 1 or overload[0] not in (1, 2, 3):
            raise DhcpError("option 52: not 1, 2 or 3")
        if overload[0] & 1:
            _read_options(file, options, "file")
        if overload[0] & 2:
            _read_options(sname, options, "sname")
    return Message(
        op=op,
        xid=xid,
        chaddr=chaddr[:hlen],
        options={code: bytes(value) for code, value in options.items()},
        secs=secs,
        flags=flags,
        ciaddr=IPv4Address(ciaddr),
        yiaddr=IPv4Address(yiaddr),
        siaddr=IPv4Address(siaddr),
        giaddr=IPv4Address(giaddr),
        htype=htype,
        hops=hops,
    )


def _encode_options(options: Iterable[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for code, value in options:
        # RFC 3396 5: an option longer than 255 octets goes as several of the same code.
        chunks = [value[i : i + 255] for i in range(0, len(value), 255)] or [b""]
        for chunk in chunks:
            out += bytes([code, len(chunk)]) + chunk
    out.append(Option.END)
    return bytes(out)


def encode(message: Message) -> bytes:
    """The message's bytes, padded to BOOTP's 300 octets (RFC 2131 2, RFC 1542 2.1)."""
    if len(message.chaddr) > 16:
        raise ValueError("chaddr longer than 16 octets")
    header = HEADER.pack(
        message.op, message.htype, len(message.chaddr), message.hops, message.xid,
        message.secs, message.flags, message.ciaddr.packed, message.yiaddr.packed,
        message.siaddr.packed, message.giaddr.packed, message.chaddr, b"", b"",
    )  # fmt: skip
    # The message type first (RFC 2131 does not require it; some servers look there only).
    ordered = sorted(message.options.items(), key=lambda item: item[0] != Option.MESSAGE_TYPE)
    data = header + MAGIC_COOKIE + _encode_options(ordered)
    return data.ljust(BOOTP_MINIMUM, b"\0")


@dataclass(frozen=True)
class ClientIdentity:
    """What every message of the client carries: its hardware address (chaddr), its client
    identifier (option 61) and its host name (option 12)."""

    chaddr: bytes
    client_id: bytes
    host_name: str = ""

    @classmethod
    def ethernet(cls, chaddr: bytes, mac: bytes, host_name: str = "") -> ClientIdentity:
        """RFC 2132 9.14: a client id of hardware type 1 (Ethernet) and the MAC."""
        return cls(chaddr, bytes([HTYPE_ETHERNET]) + mac, host_name)

    def options(self) -> list[tuple[int, bytes]]:
        options = [(int(Option.CLIENT_ID), self.client_id)]
        if self.host_name:
            options.append((int(Option.HOST_NAME), self.host_name.encode("ascii", "replace")))
        return options


def _request_options(kind: MessageType, who: ClientIdentity) -> list[tuple[int, bytes]]:
    return [
        (int(Option.MESSAGE_TYPE), bytes([kind])),
        *who.options(),
        (int(Option.MAX_MESSAGE_SIZE), MAX_MESSAGE.to_bytes(2, "big")),
        (int(Option.PARAMETER_REQUEST_LIST), bytes(REQUESTED_PARAMETERS)),
    ]


def discover(xid: int, who: ClientIdentity, *, secs: int = 0) -> Message:
    """RFC 2131 4.4.1: broadcast, asking for an answer by broadcast (the client has no
    address to receive a unicast on)."""
    return Message(
        BOOTREQUEST, xid, who.chaddr, dict(_request_options(MessageType.DISCOVER, who)),
        secs=secs, flags=BROADCAST_FLAG,
    )  # fmt: skip


def request_selecting(xid: int, who: ClientIdentity, offer: Message, *, secs: int = 0) -> Message:
    """RFC 2131 4.3.2 SELECTING: the offered address in option 50, the chosen server in 54,
    ciaddr zero, broadcast."""
    server = offer.server_id
    if server is None:
        raise DhcpError("an offer without a server identifier (option 54)")
    options = dict(_request_options(MessageType.REQUEST, who))
    options[Option.REQUESTED_ADDRESS] = offer.yiaddr.packed
    options[Option.SERVER_ID] = server.packed
    return Message(BOOTREQUEST, xid, who.chaddr, options, secs=secs, flags=BROADCAST_FLAG)


def request_extending(xid: int, who: ClientIdentity, address: IPv4Address) -> Message:
    """RFC 2131 4.3.2 RENEWING (unicast to the server) and REBINDING (broadcast): ciaddr is
    the leased address, and neither option 50 nor 54 is sent."""
    options = dict(_request_options(MessageType.REQUEST, who))
    return Message(BOOTREQUEST, xid, who.chaddr, options, ciaddr=address)


def release(xid: int, who: ClientIdentity, address: IPv4Address, server: IPv4Address) -> Message:
    """RFC 2131 4.4.6: unicast to the server, ciaddr the address given up, option 54."""
    options: dict[int, bytes] = {
        int(Option.MESSAGE_TYPE): bytes([MessageType.RELEASE]),
        int(Option.SERVER_ID): server.packed,
        **dict(who.options()),
    }
    options.pop(Option.HOST_NAME, None)
    return Message(BOOTREQUEST, xid, who.chaddr, options, ciaddr=address)
