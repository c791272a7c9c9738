"""The DHCP codec (RFC 2131/2132): a server's ACK read field by field, the client's
messages as RFC 2131 4.4 wants them, overload and long options, and a fuzz of the parser.
Server messages are built here with struct from the RFC's layout, not with the codec."""

from __future__ import annotations

import contextlib
import struct
from ipaddress import IPv4Address

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.codecs import dhcp

CHADDR = bytes.fromhex("0a1b2c3d4e5f")
MAC = bytes.fromhex("66198f29af63")
WHO = dhcp.ClientIdentity.ethernet(CHADDR, MAC, "xrx-wc7855")
COOKIE = bytes([99, 130, 83, 99])


def reply(
    options: bytes,
    *,
    xid: int = 0x12345678,
    yiaddr: str = "10.9.0.77",
    sname: bytes = b"",
    file: bytes = b"",
) -> bytes:
    header = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s", 2, 1, 6, 0, xid, 0, 0x8000, bytes(4),
        IPv4Address(yiaddr).packed, bytes(4), bytes(4), CHADDR, sname, file,
    )  # fmt: skip
    return header + COOKIE + options


def tlv(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


ACK_OPTIONS = (
    tlv(53, b"\x05") + tlv(54, bytes([10, 9, 0, 1])) + tlv(51, (120).to_bytes(4, "big"))
    + tlv(58, (60).to_bytes(4, "big")) + tlv(59, (105).to_bytes(4, "big"))
    + tlv(1, bytes([255, 255, 255, 0])) + tlv(3, bytes([10, 9, 0, 1]))
    + tlv(6, bytes([10, 9, 0, 53, 10, 9, 0, 54])) + tlv(15, b"office.test\0")
    + tlv(12, b"xrx-wc7855") + b"\0\0" + b"\xff"
)  # fmt: skip


def test_ack_read_field_by_field() -> None:
    message = dhcp.parse(reply(ACK_OPTIONS))
    assert message.op == dhcp.BOOTREPLY and message.xid == 0x12345678
    assert message.chaddr == CHADDR and message.flags == dhcp.BROADCAST_FLAG
    assert message.message_type is dhcp.MessageType.ACK
    assert message.yiaddr == IPv4Address("10.9.0.77")
    assert message.server_id == IPv4Address("10.9.0.1")
    assert (message.lease_time, message.renewal_time, message.rebinding_time) == (120, 60, 105)
    assert message.subnet_mask == IPv4Address("255.255.255.0") and message.prefix_length == 24
    assert message.routers == (IPv4Address("10.9.0.1"),)
    assert message.dns_servers == (IPv4Address("10.9.0.53"), IPv4Address("10.9.0.54"))
    assert message.domain_name == "office.test"  # the trailing NUL some servers send dropped
    assert message.host_name == "xrx-wc7855"
    assert message.fqdn is None and message.client_id is None


def test_discover_is_rfc_2131_4_4_1() -> None:
    data = dhcp.encode(dhcp.discover(0xCAFE, WHO))
    assert len(data) >= 300  # BOOTP's minimum, RFC 1542 2.1
    op, htype, hlen, _, xid, _, flags = struct.unpack_from("!BBBBIHH", data)
    assert (op, htype, hlen, xid, flags) == (1, 1, 6, 0xCAFE, 0x8000)
    assert data[28:34] == CHADDR and data[236:240] == COOKIE
    # The message type comes first, then the client id (type 1 + MAC) and the host name.
    assert data[240:243] == b"\x35\x01\x01"
    assert data[243:252] == b"\x3d\x07\x01" + MAC
    assert data[252:264] == b"\x0c\x0a" + b"xrx-wc7855"
    again = dhcp.parse(data)
    assert set(again.options[dhcp.Option.PARAMETER_REQUEST_LIST]) >= {1, 3, 6, 12, 15, 51, 58, 59}
    assert dhcp.Option.REQUESTED_ADDRESS not in again.options


def test_requests_and_release() -> None:
    offer = dhcp.parse(reply(tlv(53, b"\x02") + tlv(54, bytes([10, 9, 0, 1])) + b"\xff"))
    selecting = dhcp.parse(dhcp.encode(dhcp.request_selecting(7, WHO, offer)))
    assert selecting.message_type is dhcp.MessageType.REQUEST
    assert selecting.options[50] == bytes([10, 9, 0, 77]) and selecting.server_id == offer.server_id
    assert selecting.ciaddr == dhcp.UNSPECIFIED and selecting.flags == dhcp.BROADCAST_FLAG

    # RENEWING/REBINDING: ciaddr filled, neither 50 nor 54 (RFC 2131 4.3.2 table 4).
    renewing = dhcp.parse(dhcp.encode(dhcp.request_extending(8, WHO, IPv4Address("10.9.0.77"))))
    assert renewing.ciaddr == IPv4Address("10.9.0.77")
    assert 50 not in renewing.options and 54 not in renewing.options

    gone = dhcp.parse(
        dhcp.encode(dhcp.release(9, WHO, IPv4Address("10.9.0.77"), IPv4Address("10.9.0.1")))
    )
    assert gone.message_type is dhcp.MessageType.RELEASE
    assert gone.ciaddr == IPv4Address("10.9.0.77") and gone.server_id == IPv4Address("10.9.0.1")
    assert gone.client_id == b"\x01" + MAC
    assert 55 not in gone.options and 50 not in gone.options  # RFC 2131 table 5: MUST NOT

    no_server = dhcp.parse(reply(tlv(53, b"\x02") + b"\xff"))
    with pytest.raises(dhcp.DhcpError):
        dhcp.request_selecting(7, WHO, no_server)


def test_overload_and_split_options() -> None:
    # RFC 2132 9.3: options continue in file (1), sname (2); RFC 3396: a split option joined.
    file = tlv(6, bytes([10, 9, 0, 53])) + b"\xff"
    sname = tlv(6, bytes([10, 9, 0, 54])) + tlv(15, b"office") + b"\xff"
    options = tlv(53, b"\x05") + tlv(52, b"\x03") + tlv(15, b"example.") + b"\xff"
    message = dhcp.parse(reply(options, file=file, sname=sname))
    assert message.dns_servers == (IPv4Address("10.9.0.53"), IPv4Address("10.9.0.54"))
    assert message.domain_name == "example.office"
    # And the encoder splits what is longer than 255 octets.
    long_name = b"x" * 300
    data = dhcp.encode(dhcp.Message(1, 1, CHADDR, {15: long_name}))
    assert dhcp.parse(data).options[15] == long_name


def test_fqdn_option_both_encodings() -> None:
    wire = dhcp.encode_fqdn("xrx-wc7855.office.test")
    assert wire == b"\x04\0\0\x0axrx-wc7855\x06office\x04test\0"
    message = dhcp.parse(reply(tlv(53, b"\x05") + tlv(81, wire) + b"\xff"))
    assert message.fqdn == dhcp.Fqdn(dhcp.FQDN_E, "xrx-wc7855.office.test")
    ascii_form = dhcp.parse(reply(tlv(81, b"\x01\xff\xffhost.test") + b"\xff"))
    assert ascii_form.fqdn == dhcp.Fqdn(dhcp.FQDN_S, "host.test")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x02" * 100, "shorter"),
        (reply(b"")[:236] + b"\0\0\0\0", "magic cookie"),
        (b"\x03" + reply(b"\xff")[1:], "op 3"),
        (reply(tlv(53, b"\x05") + b"\x06\x09\x0a"), "past the end"),
        (reply(b"\x35"), "without its length"),
        (reply(tlv(52, b"\x07") + b"\xff"), "option 52"),
        (reply(b"\xff") + b"\0" * 1400, "Ethernet frame"),
    ],
)
def test_malformed_messages_refused(data: bytes, why: str) -> None:
    with pytest.raises(dhcp.DhcpError, match=why):
        dhcp.parse(data)


@pytest.mark.parametrize(
    ("options", "attribute"),
    [
        (tlv(53, b"\x05\x05"), "message_type"),
        (tlv(53, b"\x63"), "message_type"),
        (tlv(54, b"\x0a\x09\x00"), "server_id"),
        (tlv(1, bytes([255, 0, 255, 0])), "subnet_mask"),
        (tlv(3, bytes([10, 9, 0, 1, 10])), "routers"),
        (tlv(6, b""), "dns_servers"),
        (tlv(15, b"bad\x07name"), "domain_name"),
        (tlv(12, "hôte".encode()), "host_name"),
        (tlv(51, b"\0\0\x78"), "lease_time"),
        (tlv(81, b"\x04\0\0\x40abc"), "fqdn"),
        (tlv(61, b"\x01"), "client_id"),
    ],
)
def test_malformed_option_values_raise_dhcp_error(options: bytes, attribute: str) -> None:
    message = dhcp.parse(reply(options + b"\xff"))
    with pytest.raises(dhcp.DhcpError):
        getattr(message, attribute)


ATTRIBUTES = (
    "message_type", "server_id", "subnet_mask", "prefix_length", "routers", "dns_servers",
    "host_name", "domain_name", "lease_time", "renewal_time", "rebinding_time", "client_id",
    "server_message", "fqdn",
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    options=st.lists(
        st.tuples(
            st.sampled_from([0, 1, 3, 6, 12, 15, 51, 52, 53, 54, 58, 59, 61, 81, 255, 200]),
            st.binary(max_size=12),
        ),
        max_size=12,
    ),
    tail=st.binary(max_size=8),
    sname=st.binary(max_size=64),
)
def test_parser_never_fails_otherwise(
    options: list[tuple[int, bytes]], tail: bytes, sname: bytes
) -> None:
    """Whatever the options hold, the parser and every typed view answer a value or
    DhcpError, never another exception."""
    body = b"".join(bytes([code]) if code in (0, 255) else tlv(code, v) for code, v in options)
    for data in (reply(body + tail, sname=sname), reply(body + tail)[: 240 + len(tail)]):
        try:
            message = dhcp.parse(data)
        except dhcp.DhcpError:
            continue
        for name in ATTRIBUTES:
            with contextlib.suppress(dhcp.DhcpError):
                getattr(message, name)


@settings(max_examples=200, deadline=None)
@given(
    xid=st.integers(0, 2**32 - 1),
    mac=st.binary(min_size=6, max_size=6),
    host=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=40),
    address=st.integers(1, 2**32 - 2).map(IPv4Address),
)
def test_client_messages_round_trip(xid: int, mac: bytes, host: str, address: IPv4Address) -> None:
    who = dhcp.ClientIdentity.ethernet(CHADDR, mac, host)
    message = dhcp.parse(dhcp.encode(dhcp.request_extending(xid, who, address)))
    assert (message.xid, message.ciaddr, message.client_id) == (xid, address, b"\x01" + mac)
    assert message.host_name == (host or None)
