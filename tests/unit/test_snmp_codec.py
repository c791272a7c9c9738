"""The SNMPv1/v2c codec of the agent's fast path (codecs/snmp.py) against pyasn1 and pysnmp:
every encoding is the octets pyasn1 writes for the same value, every request it accepts is
one pysnmp decodes to the same fields, and it declines (None) rather than guess."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api
from pysnmp.proto.api import v2c, verdec

from mfpd.codecs.snmp import (
    PduType,
    ReadRequest,
    decode_oid,
    decode_request,
    encode_oid,
    encode_oid_content,
    encode_response,
)
from mfpd.services.snmp import bulk_pdu
from mfpd.services.snmp.index import Missing, OidIndex, value_tlv
from mfpd.services.snmp.instrumentation import to_pysnmp
from mfpd.services.snmp.mib import Oid, Syntax, Value

V1, V2C = api.SNMP_VERSION_1, api.SNMP_VERSION_2C
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

arcs = st.one_of(st.integers(0, 200), st.integers(0, 2**32 - 1), st.integers(0, 2**64))


@st.composite
def oids(draw: st.DrawFn) -> Oid:
    first = draw(st.integers(0, 2))
    second = draw(st.integers(0, 39)) if first < 2 else draw(arcs)
    return (first, second, *draw(st.lists(arcs, max_size=12)))


def values() -> st.SearchStrategy[Value]:
    u32 = st.integers(0, 2**32 - 1)
    return st.one_of(
        st.builds(Value.integer, st.integers(-(2**31), 2**31 - 1)),
        st.builds(Value.integer, st.sampled_from([0, -1, 127, 128, -128, -129, 255, 256])),
        st.builds(Value.string, st.binary(max_size=300)),
        st.builds(Value.object_id, oids()),
        st.builds(lambda b: Value(Syntax.IP_ADDRESS, b), st.binary(min_size=4, max_size=4)),
        st.builds(lambda n: Value(Syntax.COUNTER32, n), u32),
        st.builds(lambda n: Value(Syntax.GAUGE32, n), u32),
        st.builds(lambda n: Value(Syntax.TIMETICKS, n), u32),
        st.builds(lambda n: Value(Syntax.COUNTER64, n), st.integers(0, 2**64 - 1)),
    )


answers = st.one_of(values(), st.sampled_from(list(Missing)))


def pyasn1_varbind(name: Oid, answer: Value | Missing) -> bytes:
    var_bind = v2c.VarBind()
    v2c.apiVarBind.set_oid_value(var_bind, (name, to_pysnmp(answer)))
    data: bytes = encoder.encode(var_bind)
    return data


# -- encoding --------------------------------------------------------------------------------


@FAST
@given(oids())
def test_oids_encode_and_decode_as_pyasn1_does(name: Oid) -> None:
    assert encode_oid(name) == encoder.encode(v2c.ObjectIdentifier(name))
    assert decode_oid(encode_oid_content(name)) == name


@FAST
@given(values())
@example(Value.integer(-128))
@example(Value.integer(-(2**31)))
@example(Value(Syntax.COUNTER64, 2**63))
@example(Value.string(b"x" * 70000 + b"y"))  # beyond SIZE (0..65535)
def test_values_encode_as_pyasn1_does(value: Value) -> None:
    try:
        expected = encoder.encode(to_pysnmp(value))
    except Exception:
        with pytest.raises(ValueError):
            value_tlv(value)
        return
    assert value_tlv(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        Value.integer(2**31),
        Value.integer(-(2**31) - 1),
        Value(Syntax.COUNTER32, 2**32),
        Value(Syntax.GAUGE32, -1),
        Value(Syntax.TIMETICKS, 2**32),
        Value(Syntax.COUNTER64, 2**64),
        Value(Syntax.IP_ADDRESS, b"\x01\x02\x03"),
        Value(Syntax.OCTET_STRING, b"x" * 65536),
        Value(Syntax.OBJECT_IDENTIFIER, (1,)),
        Value(Syntax.OBJECT_IDENTIFIER, (3, 1)),
    ],
)
def test_what_pysnmp_cannot_encode_has_no_encoding(value: Value) -> None:
    with pytest.raises(Exception):  # noqa: B017 - pyasn1 raises its own errors
        encoder.encode(to_pysnmp(value))
    with pytest.raises(ValueError):
        value_tlv(value)


@FAST
@given(oids(), answers)
def test_varbinds_encode_as_pyasn1_does_and_are_kept_per_snapshot(
    name: Oid, answer: Value | Missing
) -> None:
    expected = pyasn1_varbind(name, answer)
    entries = [(name, answer)] if isinstance(answer, Value) else []
    index = OidIndex(entries)
    assert index.varbind(name, answer) == expected
    assert index.varbind(name, answer) == expected  # from the snapshot's cache
    assert index.varbind_length(name, answer) == len(expected)
    if isinstance(answer, Value):
        other = Value.integer(5)  # not the snapshot's value: encoded, not kept
        assert index.varbind(name, other) == pyasn1_varbind(name, other)


def pyasn1_response(
    version: int,
    community: bytes,
    request_id: int,
    status: int,
    position: int,
    varbinds: list[tuple[Oid, Value | Missing]],
) -> bytes:
    mod = api.PROTOCOL_MODULES[version]
    pdu = mod.GetResponsePDU()
    mod.apiPDU.set_defaults(pdu)
    mod.apiPDU.set_request_id(pdu, request_id)
    mod.apiPDU.set_error_status(pdu, status)
    mod.apiPDU.set_error_index(pdu, position)
    mod.apiPDU.set_varbinds(pdu, [(n, to_pysnmp(a)) for n, a in varbinds])
    message = mod.Message()
    mod.apiMessage.set_defaults(message)
    mod.apiMessage.set_community(message, community)
    mod.apiMessage.set_pdu(message, pdu)
    data: bytes = encoder.encode(message)
    return data


@FAST
@given(
    st.sampled_from([V1, V2C]),
    st.binary(max_size=200),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(0, 18),
    st.integers(0, 300),
    st.lists(st.tuples(oids(), values()), max_size=12),
)
def test_responses_encode_as_pyasn1_does(
    version: int,
    community: bytes,
    request_id: int,
    status: int,
    position: int,
    varbinds: list[tuple[Oid, Value | Missing]],
) -> None:
    if version == V1:
        status = min(status, 5)
        varbinds = [(n, v) for n, v in varbinds if v.syntax is not Syntax.COUNTER64]
    encoded = [pyasn1_varbind(n, v) for n, v in varbinds]
    expected = pyasn1_response(version, community, request_id, status, position, varbinds)
    assert encode_response(version, community, request_id, status, position, encoded) == expected


# -- decoding --------------------------------------------------------------------------------

KINDS = {
    PduType.GET: "GetRequestPDU",
    PduType.GET_NEXT: "GetNextRequestPDU",
    PduType.GET_BULK: "GetBulkRequestPDU",
}


def _message_type(version: int) -> Any:
    """The type the agent's engine decodes a message of `version` with (bulk_pdu.py: v2c
    takes a negative non-repeaters or max-repetitions, as RFC 3416 4.2.3 reads them)."""
    return bulk_pdu.V2cMessage if version == V2C else api.PROTOCOL_MODULES[version].Message


def pyasn1_request(request: ReadRequest) -> bytes:
    mod = api.PROTOCOL_MODULES[request.version]
    if request.pdu_type == PduType.GET_BULK:
        pdu = bulk_pdu.GetBulkRequestPDU()
    else:
        pdu = getattr(mod, KINDS[PduType(request.pdu_type)])()
    if request.pdu_type == PduType.GET_BULK:
        mod.apiBulkPDU.set_defaults(pdu)
        mod.apiBulkPDU.set_non_repeaters(pdu, request.non_repeaters)
        mod.apiBulkPDU.set_max_repetitions(pdu, request.max_repetitions)
    else:
        mod.apiPDU.set_defaults(pdu)
    mod.apiPDU.set_request_id(pdu, request.request_id)
    mod.apiPDU.set_varbinds(pdu, [(name, mod.Null("")) for name in request.names])
    message = _message_type(request.version)()
    mod.apiMessage.set_defaults(message)
    mod.apiMessage.set_community(message, request.community)
    mod.apiMessage.set_pdu(message, pdu)
    data: bytes = encoder.encode(message)
    return data


def pysnmp_fields(data: bytes) -> tuple[Any, ...] | None:
    """What pysnmp's receiving side makes of a datagram (rfc3412 then rfc2576 decoding),
    as ReadRequest's fields; None when it does not decode to a read request."""
    try:
        version = int(verdec.decode_message_version(data))
        mod = api.PROTOCOL_MODULES[version]
        message, _ = decoder.decode(data, asn1Spec=_message_type(version)())
        pdu = mod.apiMessage.get_pdu(message)
        tag = pdu.tagSet[-1].tagId | 0xA0
        if tag == PduType.GET_BULK:
            extra = (
                int(mod.apiBulkPDU.get_non_repeaters(pdu)),
                int(mod.apiBulkPDU.get_max_repetitions(pdu)),
            )
        else:
            extra = (int(mod.apiPDU.get_error_status(pdu)), int(mod.apiPDU.get_error_index(pdu)))
        names = tuple(tuple(name) for name, _ in mod.apiPDU.get_varbinds(pdu))
        return (
            version, bytes(mod.apiMessage.get_community(message)), tag,
            int(mod.apiPDU.get_request_id(pdu)), *extra, names,
        )  # fmt: skip
    except Exception:
        return None


@st.composite
def requests(draw: st.DrawFn) -> ReadRequest:
    version = draw(st.sampled_from([V1, V2C]))
    kinds = [PduType.GET, PduType.GET_NEXT] + ([PduType.GET_BULK] if version == V2C else [])
    kind = draw(st.sampled_from(kinds))
    bulk = kind == PduType.GET_BULK
    # GetBulk's counts over their whole Integer32 range: negative ones included (RFC 3416
    # 4.2.3 takes them as zero; pysnmp's own types refuse them, the agent's do not).
    counts = st.integers(-(2**31), 2**31 - 1) if bulk else st.just(0)
    return ReadRequest(
        version, draw(st.binary(max_size=300)), kind, draw(st.integers(-(2**31), 2**31 - 1)),
        draw(counts), draw(counts), tuple(draw(st.lists(oids(), max_size=8))),
    )  # fmt: skip


@FAST
@given(requests())
@example(ReadRequest(V2C, b"public", PduType.GET_BULK, 7, -1, -5, ((1, 3, 6, 1, 2, 1, 1),)))
@example(ReadRequest(V2C, b"public", PduType.GET_BULK, 7, -(2**31), -(2**31), ()))
def test_requests_decode_as_pysnmp_decodes_them(request: ReadRequest) -> None:
    data = pyasn1_request(request)
    assert decode_request(data) == request
    assert pysnmp_fields(data) == (
        request.version, request.community, request.pdu_type, request.request_id,
        request.non_repeaters, request.max_repetitions, request.names,
    )  # fmt: skip


def _as_fields(request: ReadRequest) -> tuple[Any, ...]:
    return (
        request.version, request.community, request.pdu_type, request.request_id,
        request.non_repeaters, request.max_repetitions, request.names,
    )  # fmt: skip


@FAST
@given(requests(), st.data())
def test_a_damaged_request_is_declined_or_read_as_pysnmp_reads_it(
    request: ReadRequest, data: st.DataObject
) -> None:
    """Flipped, cut, inserted or removed octets: the fast decoder never raises, and whatever
    it accepts pysnmp decodes to the same request (the fast path only takes a subset)."""
    raw = bytearray(pyasn1_request(request))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if action == "flip" and where < len(raw):
            raw[where] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[where:]
        elif action == "insert":
            raw[where:where] = data.draw(st.binary(min_size=1, max_size=3))
        elif where < len(raw):
            del raw[where]
    decoded = decode_request(bytes(raw))
    if decoded is not None:
        assert pysnmp_fields(bytes(raw)) == _as_fields(decoded)


@FAST
@given(st.binary(max_size=120))
def test_noise_is_declined_or_read_as_pysnmp_reads_it(raw: bytes) -> None:
    decoded = decode_request(raw)
    if decoded is not None:
        assert pysnmp_fields(raw) == _as_fields(decoded)


def _long_forms(data: bytes) -> bytes:
    """`data` with every constructed TLV's length in the 82 xx xx form."""
    out = b""
    at = 0
    while at < len(data):
        tag, length = data[at], data[at + 1]
        assert length < 0x80
        content = data[at + 2 : at + 2 + length]
        if tag & 0x20:
            content = _long_forms(content)
            out += bytes((tag, 0x82)) + len(content).to_bytes(2, "big") + content
        else:
            out += data[at : at + 2 + length]
        at += 2 + length
    return out


def test_net_snmp_long_form_lengths_are_read() -> None:
    """net-snmp writes its sequences with a two-octet length whatever their size."""
    request = ReadRequest(V2C, b"public", PduType.GET_NEXT, 7, 0, 0, ((1, 3, 6, 1, 2, 1),))
    data = _long_forms(pyasn1_request(request))
    assert data.startswith(b"\x30\x82\x00")
    assert pysnmp_fields(data) == _as_fields(request)
    assert decode_request(data) == request


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30\x03\x02\x01",
        # SNMPv3, a Set, a Response, a GetBulk in SNMPv1, an indefinite length.
        bytes.fromhex("3011020103") + bytes(14),
        bytes.fromhex("301d020101040670726976617465a310020101020100020100300530030601"),
        bytes.fromhex("301c020101040670756c6963a20f020101020100020100300430020600"),
        bytes.fromhex("3019020100040670756c6963a50c020101020100020100300030"),
        bytes.fromhex("3080020101040670756c6963a10c02010102010002010030000000"),
    ],
)
def test_other_datagrams_are_declined(data: bytes) -> None:
    assert decode_request(data) is None


def test_a_value_other_than_null_is_declined() -> None:
    request = ReadRequest(V2C, b"public", PduType.GET, 1, 0, 0, ((1, 3, 6, 1, 2, 1, 1, 1, 0),))
    data = pyasn1_request(request)
    assert decode_request(data) == request
    assert data.endswith(b"\x05\x00")
    assert decode_request(data[:-2] + b"\x02\x00") is None
    assert decode_request(data + b"\x00") is None  # bytes after the message
