"""The NetBIOS codec (RFC 1001/1002): first-level names, name query and node status
responses, the host announcement, and a bounded fuzz of the query parser. Packets are
built and read here with struct from the RFC's layouts, not with the codec."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.codecs import netbios

MAC = bytes.fromhex("66198f29af63")


def first_level(name: bytes) -> bytes:
    return b"".join(bytes([0x41 + (c >> 4), 0x41 + (c & 15)]) for c in name)


def query(name: bytes, qtype: int, flags: int = 0x0110, transaction: int = 0x4242) -> bytes:
    """As nmblookup sends it: RD and B (broadcast) flags, one question."""
    return (
        struct.pack("!HHHHHH", transaction, flags, 1, 0, 0, 0)
        + b"\x20" + first_level(name) + b"\0" + struct.pack("!HH", qtype, 1)
    )  # fmt: skip


def test_first_level_encoding_is_rfc_1001_example() -> None:
    # RFC 1001 14.1: "FRED" padded with spaces, suffix 0x20.
    assert netbios.encode_name("FRED", 0x20)[1:33] == b"EGFCEFEE" + b"CA" * 12
    assert netbios.encode_name("fred", 0x20) == netbios.encode_name("FRED", 0x20)


def test_name_query_and_positive_response() -> None:
    packet = netbios.parse_query(query(b"XRX-WC7755     \x00", 0x20))
    assert isinstance(packet, netbios.Query)
    assert packet.netbios_name == "XRX-WC7755" and packet.suffix == 0 and packet.broadcast
    reply = netbios.encode_name_response(packet, "192.0.2.7", False, 300000)
    transaction, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", reply)
    assert (transaction, qd, an, ns, ar) == (0x4242, 0, 1, 0, 0)
    assert flags & 0x8000 and flags & 0x0400 and flags & 0x0100  # response, AA, RD copied
    assert flags & 0x000F == 0
    name_end = 12 + 34
    assert reply[12:name_end] == b"\x20" + first_level(b"XRX-WC7755     \x00") + b"\0"
    rtype, rclass, ttl, rdlength, nb_flags = struct.unpack_from("!HHIHH", reply, name_end)
    assert (rtype, rclass, ttl, rdlength, nb_flags) == (0x20, 1, 300000, 6, 0)
    assert reply[-4:] == bytes([192, 0, 2, 7])
    group = netbios.encode_name_response(packet, "192.0.2.7", True, 1)
    assert struct.unpack_from("!H", group, name_end + 10)[0] == 0x8000


def test_node_status_response_layout() -> None:
    packet = netbios.parse_query(query(b"*" + b"\0" * 15, 0x21, flags=0))
    assert isinstance(packet, netbios.Query) and packet.name == netbios.WILDCARD
    names = [
        netbios.NameEntry("XRX-WC7755", 0x00),
        netbios.NameEntry("XRX-WC7755", 0x20),
        netbios.NameEntry("WORKGROUP", 0x00, group=True),
    ]
    reply = netbios.encode_node_status(packet, names, MAC)
    at = 12 + 34
    rtype, rclass, ttl, rdlength = struct.unpack_from("!HHIH", reply, at)
    assert (rtype, rclass, ttl) == (0x21, 1, 0)
    rdata = reply[at + 10 :]
    assert len(rdata) == rdlength == 1 + 3 * 18 + 46  # RFC 1002 4.2.18: 46 of statistics
    assert rdata[0] == 3
    table = [rdata[1 + 18 * i : 19 + 18 * i] for i in range(3)]
    assert table[0][:16] == b"XRX-WC7755     \x00" and table[1][15] == 0x20
    assert struct.unpack("!H", table[0][16:])[0] == 0x0400  # active, unique, B-node
    assert struct.unpack("!H", table[2][16:])[0] == 0x8400  # group
    assert rdata[55:61] == MAC


def test_other_packets_and_errors() -> None:
    registration = bytearray(query(b"OTHER          \x00", 0x20))
    registration[2:4] = struct.pack("!H", (5 << 11) | 0x0010)
    assert isinstance(netbios.parse_query(bytes(registration)), netbios.Other)
    response = bytearray(query(b"OTHER          \x00", 0x20))
    response[2] |= 0x80
    assert isinstance(netbios.parse_query(bytes(response)), netbios.Other)
    with pytest.raises(netbios.NetbiosError) as bad:
        netbios.parse_query(query(b"X" * 16, 0x20)[:-6])
    assert bad.value.transaction == 0x4242
    error = netbios.encode_error(0x4242, 0x0110, netbios.Rcode.FMT_ERR)
    assert len(error) == 12 and struct.unpack("!HH", error[:4]) == (0x4242, 0x8401)
    with pytest.raises(netbios.NetbiosError):
        netbios.parse_query(b"\0" * 11)


def test_host_announcement() -> None:
    """RFC 1002 4.4.1 datagram header, the names, then the SMB mailslot transaction whose
    data is the MS-BRWS 2.2.1 HostAnnouncement: read at the offsets the SMB header gives."""
    data = netbios.encode_host_announcement(
        7, "XRX-WC7755", "WORKGROUP", "192.0.2.7", 138, "Xerox WorkCentre 7755", 720000,
        netbios.SV_TYPE_WORKSTATION | netbios.SV_TYPE_PRINTQ_SERVER,
    )  # fmt: skip
    msg_type, flags, dgm_id, source, port, length, offset = struct.unpack_from("!BBH4sHHH", data)
    assert (msg_type, flags, dgm_id, port, offset) == (0x11, 0x02, 7, 138, 0)
    assert source == bytes([192, 0, 2, 7]) and length == len(data) - 14
    assert data[14:48] == b"\x20" + first_level(b"XRX-WC7755     \x00") + b"\0"
    assert data[48:82] == b"\x20" + first_level(b"WORKGROUP      \x1d") + b"\0"
    smb = data[82:]
    assert smb[:5] == b"\xffSMB\x25" and smb[32] == 17
    data_count, data_offset = struct.unpack_from("<HH", smb, 33 + 22)
    setup = struct.unpack_from("<HHH", smb, 33 + 28)
    assert setup == (1, 1, 2)
    assert smb[33 + 34 + 2 : data_offset] == b"\\MAILSLOT\\BROWSE\0"
    body = smb[data_offset : data_offset + data_count]
    assert len(body) == data_count and data_offset + data_count == len(smb)
    opcode, _count, period = struct.unpack_from("<BBI", body)
    assert (opcode, period) == (1, 720000)
    assert body[6:22] == b"XRX-WC7755" + b"\0" * 6
    server_type, signature = struct.unpack_from("<I", body, 24)[0], body[30:32]
    assert server_type == 0x201 and signature == b"\x55\xaa"
    assert body[32:] == b"Xerox WorkCentre 7755\0"


VALID = [
    query(b"XRX-WC7755     \x00", 0x20),
    query(b"*" + b"\0" * 15, 0x21, flags=0),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=120),
        st.tuples(
            st.sampled_from(VALID), st.integers(0, 60), st.binary(min_size=1, max_size=4)
        ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]),
    )
)
def test_fuzz_query_parser(data: bytes) -> None:
    try:
        packet = netbios.parse_query(data)
    except netbios.NetbiosError:
        return
    assert isinstance(packet, netbios.Query | netbios.Other)
    if isinstance(packet, netbios.Query):
        assert len(packet.name) == 16
        netbios.encode_node_status(packet, [netbios.NameEntry("A", 0)], MAC)
        netbios.encode_name_response(packet, "10.0.0.1", False, 1)
