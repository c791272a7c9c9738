"""The SNMP agent's own logic: the OID index, GetNext/GetBulk rules and size arithmetic,
engine identity and boots, and the pysnmp engine answering on a loopback socket with a
stand-in MIB module (the real MIB modules have their own tests)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905
from pysnmp.proto.api import v2c
from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message

from mfpd.codecs.snmp import PduType, Tag, encode_integer, encode_oid, encode_tlv, encode_varbind
from mfpd.config import ConfigError, SnmpServiceConfig, SnmpUserConfig, parse_config
from mfpd.device.events import EventBus
from mfpd.device.identity import Identity
from mfpd.services.snmp import engine_id as eid
from mfpd.services.snmp.agent import SnmpAgent
from mfpd.services.snmp.index import (
    LOCAL_MAX_MESSAGE,
    PDU_OVERHEAD,
    LiveMib,
    Missing,
    OidIndex,
    bulk_count,
    community_message_overhead,
    varbind_size,
)
from mfpd.services.snmp.instrumentation import ViewCache
from mfpd.services.snmp.mib import Oid, Syntax, Value, Writable, WriteError, oid

SYS = oid("1.3.6.1.2.1.1")
SYS_DESCR = (*SYS, 1, 0)
SYS_CONTACT = (*SYS, 4, 0)
SYS_NAME = (*SYS, 5, 0)
SYS_LOCATION = (*SYS, 6, 0)
IF_TABLE = oid("1.3.6.1.2.1.2.2.1")
IF_HC_IN_OCTETS = oid("1.3.6.1.2.1.31.1.1.1.6")
USM_USER_NAME = oid("1.3.6.1.6.3.15.1.2.2.1.2.1")  # never in any view


def everything(oid: Oid, value: Value | None) -> bool:
    return True


class StandIn:
    """A small MIB: a system group with writable sysContact/sysName/sysLocation, an ifTable
    of `rows` rows, a Counter64 column, and one object no view includes."""

    def __init__(self, rows: int = 20) -> None:
        self.rows = rows
        self.strings = {SYS_CONTACT: b"", SYS_NAME: b"mfp", SYS_LOCATION: b"lab"}
        self.applied: list[tuple[Oid, Value]] = []

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        yield SYS_DESCR, Value.string("Stand-in printer")
        yield (*SYS, 3, 0), Value.timeticks(4200)
        for key, text in self.strings.items():
            yield key, Value.string(text)
        for row in range(1, self.rows + 1):
            yield (*IF_TABLE, 1, row), Value.integer(row)
            yield (*IF_TABLE, 10, row), Value.counter32(row * 1000)
        yield (*IF_HC_IN_OCTETS, 1), Value(Syntax.COUNTER64, 2**40)
        yield (*IF_HC_IN_OCTETS, 2), Value(Syntax.COUNTER64, 2**41)
        yield oid("1.3.6.1.2.1.31.1.1.1.15.1"), Value.gauge32(1000)  # ifHighSpeed.1
        yield USM_USER_NAME, Value.string("secret")

    def writable(self) -> dict[Oid, Writable]:
        def check(value: Value) -> None:
            assert isinstance(value.value, bytes)
            if len(value.value) > 255:
                raise WriteError("wrongLength", "DisplayString is at most 255 octets")
            if value.value == b"refuse":
                raise WriteError("wrongValue", "refused by the stand-in")

        def setter(key: Oid) -> Writable:
            def apply(value: Value) -> None:
                assert isinstance(value.value, bytes)
                self.strings[key] = value.value
                self.applied.append((key, value))

            return Writable(Syntax.OCTET_STRING, check, apply)

        return {key: setter(key) for key in self.strings}


# -- the index --------------------------------------------------------------------------


def test_index_is_sorted_and_get_tells_object_from_instance() -> None:
    index = OidIndex(StandIn(rows=3).objects())
    assert index.oids == sorted(index.oids)
    assert index.get(SYS_DESCR, everything) == Value.string("Stand-in printer")
    # sysDescr.1: the object exists, not this instance.
    assert index.get((*SYS, 1, 1), everything) is Missing.NO_SUCH_INSTANCE
    assert index.get((*IF_TABLE, 10, 9), everything) is Missing.NO_SUCH_INSTANCE
    assert index.get(oid("1.3.6.1.2.1.99.1.0"), everything) is Missing.NO_SUCH_OBJECT
    # Out of the requester's view: noSuchObject, whatever is there (RFC 3415 3.2.5).
    assert index.get(SYS_DESCR, lambda o, v: False) is Missing.NO_SUCH_OBJECT


def test_first_module_wins_a_duplicate_oid() -> None:
    index = OidIndex([(SYS_DESCR, Value.string("a")), (SYS_DESCR, Value.string("b"))])
    assert index.values[SYS_DESCR] == Value.string("a")
    assert index.duplicates == [SYS_DESCR]


def test_getnext_walks_in_order_skipping_what_the_view_hides() -> None:
    index = OidIndex(StandIn(rows=2).objects())
    assert index.next(SYS, everything)[0] == SYS_DESCR
    assert index.next(SYS_DESCR, everything)[0] == (*SYS, 3, 0)
    # From the middle of nowhere, to the next instance.
    assert index.next((*SYS, 3, 0, 5, 5), everything)[0] == SYS_CONTACT
    hidden = {(*SYS, 3, 0), SYS_CONTACT}
    assert index.next(SYS_DESCR, lambda o, v: o not in hidden)[0] == SYS_NAME
    last = index.oids[-1]
    assert index.next(last, everything) == (last, Missing.END_OF_MIB_VIEW)
    assert index.next(oid("1.3.6.1.6.3.10"), lambda o, v: o < USM_USER_NAME) == (
        oid("1.3.6.1.6.3.10"),
        Missing.END_OF_MIB_VIEW,
    )


def test_snmpv1_getnext_skips_counter64() -> None:
    """RFC 3584 4.2.2.1: a v1 manager never sees a Counter64; GetNext goes past it."""
    index = OidIndex(StandIn(rows=1).objects())
    start = (*IF_HC_IN_OCTETS[:-1], 5)  # ifHCInOctets precedes column 6 ... lands on it
    name, value = index.next(start, everything)
    assert name == (*IF_HC_IN_OCTETS, 1) and isinstance(value, Value)
    assert value.syntax is Syntax.COUNTER64
    name, value = index.next(start, everything, v1=True)
    assert name == oid("1.3.6.1.2.1.31.1.1.1.15.1")
    assert value == Value.gauge32(1000)


def test_getbulk_repeats_non_repeaters_once_and_repeaters_m_times() -> None:
    index = OidIndex(StandIn(rows=5).objects())
    answers = index.bulk([SYS, (*IF_TABLE, 1), (*IF_TABLE, 10)], 1, 3, everything, budget=10_000)
    names = [name for name, _ in answers]
    assert names == [
        SYS_DESCR,
        (*IF_TABLE, 1, 1), (*IF_TABLE, 10, 1),
        (*IF_TABLE, 1, 2), (*IF_TABLE, 10, 2),
        (*IF_TABLE, 1, 3), (*IF_TABLE, 10, 3),
    ]  # fmt: skip


def test_getbulk_past_the_end_repeats_endofmibview_then_stops() -> None:
    index = OidIndex(StandIn(rows=1).objects())
    last = index.oids[-1]
    before = index.oids[-2]
    answers = index.bulk([before, last], 0, 10, everything, budget=10_000)
    # Repetition 1: the last instance, and endOfMibView; repetition 2: both ended -> stop.
    assert answers == [
        (last, index.values[last]),
        (last, Missing.END_OF_MIB_VIEW),
        (last, Missing.END_OF_MIB_VIEW),
        (last, Missing.END_OF_MIB_VIEW),
    ]


def test_getbulk_trims_to_the_budget_from_the_end() -> None:
    index = OidIndex(StandIn(rows=200).objects())
    full = index.bulk([IF_TABLE], 0, 300, everything, budget=1_000_000)
    sizes = [varbind_size(name, answer) for name, answer in full]
    budget = 1400
    trimmed = index.bulk([IF_TABLE], 0, 300, everything, budget=budget)
    used = sum(sizes[: len(trimmed)])
    assert trimmed == full[: len(trimmed)]
    assert used <= budget < used + sizes[len(trimmed)]  # as many as fit, not one fewer
    assert len(trimmed) >= 50


def test_getbulk_keeps_one_oversized_varbind_when_the_requester_can_take_it() -> None:
    big = Value.string(b"x" * 3000)
    index = OidIndex([(SYS_DESCR, big), (SYS_CONTACT, Value.string("c"))])
    answers = index.bulk([SYS], 0, 5, everything, budget=1400, hard_limit=60_000)
    assert answers == [(SYS_DESCR, big)]
    assert index.bulk([SYS], 0, 5, everything, budget=1400, hard_limit=2000) == []


@pytest.mark.parametrize(
    ("count", "non_repeaters", "max_repetitions", "expected"),
    [
        (2, 0, 0, 0),  # N + M * R = 0: a question whose answer has no varbinds
        (2, -1, -5, 0),  # RFC 3416 4.2.3: negative values are taken as zero
        (2, -1, 3, 6),
        (2, 5, -1, 2),  # N is at most the number of varbinds
        (2, 1, 3, 4),
        (0, 3, 3, 0),
        (3, -(2**31), 2**31 - 1, 3 * (2**31 - 1)),
    ],
)
def test_bulk_count_is_n_plus_m_times_r(
    count: int, non_repeaters: int, max_repetitions: int, expected: int
) -> None:
    assert bulk_count(count, non_repeaters, max_repetitions) == expected


def test_getbulk_takes_negative_fields_as_zero() -> None:
    index = OidIndex(StandIn(rows=5).objects())
    names = [SYS, (*IF_TABLE, 1)]
    for n, m, same_as in [(-1, -5, (0, 0)), (-1, 2, (0, 2)), (5, -1, (5, 0))]:
        answers = index.bulk(names, n, m, everything, budget=10_000)
        assert answers == index.bulk(names, *same_as, everything, budget=10_000), (n, m)
    assert index.bulk(names, -1, -5, everything, budget=10_000) == []


# -- BER size arithmetic against pyasn1's encoder --------------------------------------

SAMPLES: list[tuple[Oid, Value | Missing]] = [
    (SYS_DESCR, Value.string("")),
    (SYS_DESCR, Value.string("x" * 127)),
    (SYS_DESCR, Value.string("x" * 128)),
    (SYS_DESCR, Value.string("x" * 300)),
    (oid("1.3.6.1.4.1.2699.1.2.1.2.1.1.3.1"), Value.string("MFG:Xerox;MDL:WorkCentre 7755;")),
    (oid("1.3.6.1.2.1.43.11.1.1.9.1.128"), Value.integer(-2)),
    (oid("1.3.6.1.2.1.25.3.2.1.2.1"), Value.object_id("1.3.6.1.2.1.25.3.1.5")),
    (oid("1.3.6.1.2.1.4.20.1.1.127.0.0.1"), Value(Syntax.IP_ADDRESS, b"\x7f\x00\x00\x01")),
    (oid("1.3.6.1.2.1.1.7.0"), Value.integer(72)),
    (oid("1.3.6.1.2.1.1.7.0"), Value.integer(128)),
    (oid("1.3.6.1.2.1.1.7.0"), Value.integer(-129)),
    (oid("1.3.6.1.2.1.1.7.0"), Value.integer(2**31 - 1)),
    (oid("1.3.6.1.2.1.1.7.0"), Value.integer(-(2**31))),
    (oid("1.3.6.1.2.1.43.10.2.1.4.1.1"), Value.counter32(2**32 - 1)),
    (oid("1.3.6.1.2.1.43.10.2.1.4.1.1"), Value.counter32(0)),
    (oid("1.3.6.1.2.1.2.2.1.5.1"), Value.gauge32(2**31)),
    (oid("1.3.6.1.2.1.1.3.0"), Value.timeticks(123456789)),
    (IF_HC_IN_OCTETS, Value(Syntax.COUNTER64, 2**64 - 1)),
    (oid("1.3.6.1.4.1.4294967295.16383.16384"), Value.integer(0)),
    (SYS_DESCR, Missing.NO_SUCH_INSTANCE),
    (SYS_DESCR, Missing.END_OF_MIB_VIEW),
]


def _pysnmp(value: Value | Missing) -> Any:
    from mfpd.services.snmp.instrumentation import to_pysnmp

    return to_pysnmp(value)


@pytest.mark.parametrize(("name", "value"), SAMPLES)
def test_varbind_size_is_what_pyasn1_encodes(name: Oid, value: Value | Missing) -> None:
    var_bind = v2c.VarBind()
    v2c.apiVarBind.set_oid_value(var_bind, (name, _pysnmp(value)))
    assert varbind_size(name, value) == len(encoder.encode(var_bind))


def _response(community: bytes, var_binds: list[tuple[Oid, Any]], request_id: int) -> bytes:
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_varbinds(pdu, var_binds)
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, community)
    v2c.apiMessage.set_pdu(message, pdu)
    data: bytes = encoder.encode(message)
    return data


@pytest.mark.parametrize("community", [b"public", b"x" * 40])
@pytest.mark.parametrize("request_id", [1, 2**31 - 1, -(2**31)])
def test_a_trimmed_bulk_answer_fits_one_ethernet_datagram(
    community: bytes, request_id: int
) -> None:
    index = OidIndex(StandIn(rows=300).objects())
    overhead = community_message_overhead(len(community)) + PDU_OVERHEAD
    budget = LOCAL_MAX_MESSAGE - overhead
    answers = index.bulk([oid("1.3.6.1.2.1")], 0, 1000, everything, budget=budget)
    data = _response(community, [(n, _pysnmp(a)) for n, a in answers], request_id)
    assert len(data) <= LOCAL_MAX_MESSAGE
    assert len(data) > LOCAL_MAX_MESSAGE - 40  # the bound is tight: nearly full
    assert len(answers) >= 50


# -- the live index ---------------------------------------------------------------------


class Counting(StandIn):
    def __init__(self) -> None:
        super().__init__(rows=1)
        self.calls = 0

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        self.calls += 1
        return super().objects()


class Broken:
    def objects(self) -> Iterator[tuple[Oid, Value]]:
        raise RuntimeError("broken module")

    def writable(self) -> dict[Oid, Writable]:
        return {}


def test_live_index_is_cached_until_stale_or_a_device_event() -> None:
    now = [100.0]
    events = EventBus()
    module = Counting()
    live = LiveMib([module, Broken()], events, ttl=0.5, clock=lambda: now[0])
    first = live.index()
    assert SYS_DESCR in first.values and module.calls == 1
    assert live.index() is first and module.calls == 1
    now[0] += 0.6
    second = live.index()
    assert second is not first and module.calls == 2
    events.publish("printer.state")
    assert live.index() is not second and module.calls == 3
    events.publish("snmp.auth-failure", peer="x")  # the agent's own events change nothing
    live.index()
    assert module.calls == 3
    live.close()
    events.publish("printer.state")
    live.index()
    assert module.calls == 3


# -- engine identity and boots ----------------------------------------------------------

IDENTITY = Identity(
    make="Xerox", model="WorkCentre 7755", serial_number="S1",
    uuid="6d0b5fa8-8a3c-4c1e-9d55-775500000001", hostname="h", location="", contact="",
    firmware="1",
)  # fmt: skip


def test_engine_id_is_rfc3411_enterprise_format_from_the_uuid() -> None:
    engine = eid.engine_id(IDENTITY)
    assert engine == bytes.fromhex("800000fd05") + bytes.fromhex("6d0b5fa88a3c4c1e9d55775500000001")
    assert 5 <= len(engine) <= 32
    hp = eid.engine_id(Identity(**{**IDENTITY.__dict__, "make": "HP"}))
    assert hp[:5] == bytes.fromhex("8000000b05")


def test_boots_count_up_per_start_and_restart_with_a_new_engine_id(tmp_path: Path) -> None:
    engine = eid.engine_id(IDENTITY)
    assert eid.current_boots(tmp_path, engine) == 0
    assert [eid.next_boots(tmp_path, engine) for _ in range(3)] == [1, 2, 3]
    assert eid.current_boots(tmp_path, engine) == 3
    assert eid.snmp_identity(IDENTITY, tmp_path) == eid.SnmpIdentity(engine, 3)
    assert eid.snmp_identity(IDENTITY, tmp_path, start=True).boots == 4
    other = bytes.fromhex("800000fd05") + bytes(16)
    assert eid.next_boots(tmp_path, other) == 1
    assert json.loads((tmp_path / eid.BOOTS_FILE).read_text())["boots"] == 1


def test_boots_survive_a_damaged_file_and_stop_at_the_maximum(tmp_path: Path) -> None:
    engine = eid.engine_id(IDENTITY)
    (tmp_path / eid.BOOTS_FILE).write_text("{not json")
    assert eid.next_boots(tmp_path, engine) == 1
    (tmp_path / eid.BOOTS_FILE).write_text(
        json.dumps({"engine_id": engine.hex(), "boots": eid.MAX_BOOTS})
    )
    assert eid.next_boots(tmp_path, engine) == eid.MAX_BOOTS


# -- configuration ------------------------------------------------------------------------


def test_md5_and_des_need_to_be_allowed() -> None:
    base = '[[services.snmp.users]]\nname = "u"\nauth_key = "12345678"\npriv_key = "12345678"\n'
    with pytest.raises(ConfigError, match="allow_md5_des"):
        parse_config(base + 'auth_protocol = "md5"\n')
    with pytest.raises(ConfigError, match="allow_md5_des"):
        parse_config(base + 'priv_protocol = "des"\n')
    ok = parse_config("[services.snmp]\nallow_md5_des = true\n" + base + 'priv_protocol = "des"\n')
    assert ok.services.snmp.users[0].priv_protocol == "des"
    with pytest.raises(ConfigError, match="priv_key"):
        parse_config('[[services.snmp.users]]\nname = "u"\nauth_key = "12345678"\n')


# -- the engine on a loopback socket ------------------------------------------------------

V1, V2C = api.SNMP_VERSION_1, api.SNMP_VERSION_2C


class Client:
    """A bare SNMP v1/v2c client: builds the messages itself, to see the bytes that come back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.request_id = 1000

    async def send(self, version: int, community: str, pdu: Any, timeout: float = 1.0) -> Any:
        mod = api.PROTOCOL_MODULES[version]
        self.request_id += 1
        mod.apiPDU.set_request_id(pdu, self.request_id)
        message = mod.Message()
        mod.apiMessage.set_defaults(message)
        mod.apiMessage.set_community(message, community)
        mod.apiMessage.set_pdu(message, pdu)
        data = await self.exchange(encoder.encode(message), timeout)
        if data is None:
            return None
        self.last_size = len(data)
        answer, _ = decoder.decode(data, asn1Spec=mod.Message())
        return mod.apiMessage.get_pdu(answer)

    async def exchange(self, data: bytes, timeout: float) -> bytes | None:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", self.port))
            await loop.sock_sendall(sock, data)
            try:
                async with asyncio.timeout(timeout):
                    return await loop.sock_recv(sock, 65535)
            except TimeoutError:
                return None


def _pdu(version: int, kind: str, names: list[Oid], values: list[Any] | None = None) -> Any:
    mod = api.PROTOCOL_MODULES[version]
    pdu = getattr(mod, kind)()
    if kind == "GetBulkRequestPDU":
        mod.apiBulkPDU.set_defaults(pdu)
    else:
        mod.apiPDU.set_defaults(pdu)
    values = values or [mod.Null("")] * len(names)
    mod.apiPDU.set_varbinds(pdu, list(zip(names, values, strict=True)))
    return pdu


def _varbinds(version: int, pdu: Any) -> list[tuple[Oid, Any]]:
    mod = api.PROTOCOL_MODULES[version]
    return [(tuple(name), value) for name, value in mod.apiPDU.get_varbinds(pdu)]


def _status(version: int, pdu: Any) -> tuple[str, int]:
    mod = api.PROTOCOL_MODULES[version]
    status = mod.apiPDU.get_error_status(pdu)
    return str(status.prettyPrint()), int(mod.apiPDU.get_error_index(pdu, muteErrors=True))


@pytest.fixture
async def agent() -> AsyncIterator[tuple[SnmpAgent, Client, StandIn, list[tuple[str, ...]]]]:
    module = StandIn(rows=100)
    failures: list[tuple[str, ...]] = []
    config = SnmpServiceConfig(
        write_community="private",
        users=[SnmpUserConfig(name="admin", auth_key="authpass1", priv_key="privpass1")],
    )
    identity = eid.SnmpIdentity(eid.engine_id(IDENTITY), 7)
    live = LiveMib([module], EventBus())
    snmp = SnmpAgent(config, identity, live, on_auth_failure=lambda *a: failures.append(a))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    await snmp.listen(sock)
    yield snmp, Client(port), module, failures
    snmp.close()
    live.close()


async def test_agent_get_answers_values_and_exceptions(agent: Any) -> None:
    _, client, _, _ = agent
    pdu = _pdu(V2C, "GetRequestPDU", [SYS_DESCR, (*SYS, 1, 1), USM_USER_NAME, (1, 3, 6, 1, 9)])
    answer = _varbinds(V2C, await client.send(V2C, "public", pdu))
    assert answer[0] == (SYS_DESCR, rfc1902.OctetString(b"Stand-in printer"))
    assert answer[1][1].isSameTypeWith(rfc1905.noSuchInstance)
    # The USM table is in no view: VACM hides it even though the module serves it.
    assert answer[2][1].isSameTypeWith(rfc1905.noSuchObject)
    assert answer[3][1].isSameTypeWith(rfc1905.noSuchObject)
    # SNMPv1: noSuchName, pointing at the first missing varbind.
    pdu = _pdu(V1, "GetRequestPDU", [SYS_DESCR, USM_USER_NAME])
    assert _status(V1, await client.send(V1, "public", pdu)) == ("noSuchName", 2)


async def test_agent_getnext_hides_what_no_view_includes(agent: Any) -> None:
    _, client, _, _ = agent
    pdu = _pdu(V2C, "GetNextRequestPDU", [oid("1.3.6.1.2.1.31.1.1.1.15.1")])
    ((_, value),) = _varbinds(V2C, await client.send(V2C, "public", pdu))
    assert value.isSameTypeWith(rfc1905.endOfMibView)  # not usmUserName
    pdu = _pdu(V1, "GetNextRequestPDU", [oid("1.3.6.1.2.1.31.1.1.1.15.1")])
    assert _status(V1, await client.send(V1, "public", pdu)) == ("noSuchName", 1)


async def test_agent_v1_getnext_skips_counter64_and_v2c_does_not(agent: Any) -> None:
    _, client, _, _ = agent
    start = (*IF_HC_IN_OCTETS[:-1], 5)
    pdu = _pdu(V2C, "GetNextRequestPDU", [start])
    ((name, value),) = _varbinds(V2C, await client.send(V2C, "public", pdu))
    assert name == (*IF_HC_IN_OCTETS, 1) and int(value) == 2**40
    pdu = _pdu(V1, "GetNextRequestPDU", [start])
    ((name, value),) = _varbinds(V1, await client.send(V1, "public", pdu))
    assert name == oid("1.3.6.1.2.1.31.1.1.1.15.1") and int(value) == 1000


async def test_agent_getbulk_fills_one_datagram_and_no_more(agent: Any) -> None:
    _, client, _, _ = agent
    pdu = _pdu(V2C, "GetBulkRequestPDU", [IF_TABLE])
    v2c.apiBulkPDU.set_max_repetitions(pdu, 500)
    answer = await client.send(V2C, "public", pdu)
    assert _status(V2C, answer) == ("noError", 0)
    names = [name for name, _ in _varbinds(V2C, answer)]
    assert len(names) >= 50
    assert client.last_size <= LOCAL_MAX_MESSAGE
    assert names == sorted(names) and names[0] == (*IF_TABLE, 1, 1)


async def test_agent_set_tests_every_varbind_before_applying_any(agent: Any) -> None:
    _, client, module, _ = agent
    names = [SYS_CONTACT, SYS_LOCATION]
    values = [v2c.OctetString(b"ops"), v2c.OctetString(b"refuse")]
    answer = await client.send(V2C, "private", _pdu(V2C, "SetRequestPDU", names, values))
    assert _status(V2C, answer) == ("wrongValue", 2)
    assert module.applied == []
    values = [v2c.OctetString(b"ops"), v2c.Integer(3)]
    answer = await client.send(V2C, "private", _pdu(V2C, "SetRequestPDU", names, values))
    assert _status(V2C, answer) == ("wrongType", 2)
    names = [SYS_CONTACT, SYS_DESCR, SYS_LOCATION]
    values = [v2c.OctetString(b"ops"), v2c.OctetString(b"x"), v2c.OctetString(b"floor 2")]
    answer = await client.send(V2C, "private", _pdu(V2C, "SetRequestPDU", names, values))
    assert _status(V2C, answer) == ("notWritable", 2)
    names = [SYS_CONTACT, SYS_LOCATION]
    values = [v2c.OctetString(b"ops"), v2c.OctetString(b"floor 2")]
    answer = await client.send(V2C, "private", _pdu(V2C, "SetRequestPDU", names, values))
    assert _status(V2C, answer) == ("noError", 0)
    assert module.strings[SYS_LOCATION] == b"floor 2" and module.strings[SYS_CONTACT] == b"ops"
    # The next GET sees the change at once (the SET invalidates the cached index).
    answer = await client.send(V2C, "public", _pdu(V2C, "GetRequestPDU", [SYS_LOCATION]))
    assert _varbinds(V2C, answer)[0][1] == rfc1902.OctetString(b"floor 2")


async def test_agent_set_with_the_read_community_is_refused(agent: Any) -> None:
    _, client, module, _ = agent
    values = [v2c.OctetString(b"x")]
    answer = await client.send(V2C, "public", _pdu(V2C, "SetRequestPDU", [SYS_LOCATION], values))
    assert _status(V2C, answer) == ("noAccess", 1)
    values = [api.v1.OctetString(b"x")]
    answer = await client.send(V1, "public", _pdu(V1, "SetRequestPDU", [SYS_LOCATION], values))
    assert _status(V1, answer) == ("noSuchName", 1)
    assert module.applied == []


async def test_agent_ignores_a_wrong_community_and_reports_it(
    agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, client, _, failures = agent
    caplog.set_level("INFO", logger="mfpd.snmp")
    pdu = _pdu(V2C, "GetRequestPDU", [SYS_DESCR])
    assert await client.send(V2C, "wrong", pdu, timeout=0.5) is None
    assert failures and failures[0][1:] == ("unknown community", "v2c", "")
    assert failures[0][0].startswith("127.0.0.1:")
    # Garbage is dropped without an answer or an authentication failure.
    assert await client.exchange(b"\x30\x03\x02\x01", 0.3) is None
    assert len(failures) == 1
    # No outer SEQUENCE (an [APPLICATION 0] tag, on which pyasn1 raises a TypeError), as
    # nmap's "help" (8 octets) and NTP (48) probes: dropped before pysnmp, one short line.
    crash = bytes.fromhex("602902010104067075626c6963a01c02040096cebc020100020100300e300c0608")
    crash += bytes.fromhex("2b060102010101000500")
    assert await client.exchange(crash, 0.3) is None
    assert await client.exchange(b"help\r\n\r\n", 0.3) is None
    assert await client.exchange(b"\xe3\x00\x04\xfa" + bytes(44), 0.3) is None
    assert "127.0.0.1:" in caplog.text
    for size in (43, 8, 48):
        assert f"not an SNMP message ({size} octets) dropped" in caplog.text
    # A SEQUENCE on which pysnmp raises (an SNMPv1 Get with error-index -24): one line too,
    # without what pyasn1 said (a 600-character ValueConstraintError before).
    negative_index = "302002010004067075626c6963a0130201070201000201e83008300606022b060500"
    assert await client.exchange(bytes.fromhex(negative_index), 0.3) is None
    assert "unreadable datagram (34 octets) dropped\n" in caplog.text + "\n"
    assert "Error" not in caplog.text and "Traceback" not in caplog.text
    assert len(failures) == 1
    pdu = _pdu(V2C, "GetRequestPDU", [SYS_DESCR])
    assert await client.send(V2C, "public", pdu) is not None


# -- the fast path (SNMPv1/v2c reads without pysnmp's message processing) -------------------


def _request(
    version: int,
    kind: str,
    names: list[Oid],
    request_id: int,
    community: str = "public",
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    mod = api.PROTOCOL_MODULES[version]
    pdu = _pdu(version, kind, names)
    if kind == "GetBulkRequestPDU":
        mod.apiBulkPDU.set_non_repeaters(pdu, non_repeaters)
        mod.apiBulkPDU.set_max_repetitions(pdu, max_repetitions)
    mod.apiPDU.set_request_id(pdu, request_id)
    message = mod.Message()
    mod.apiMessage.set_defaults(message)
    mod.apiMessage.set_community(message, community)
    mod.apiMessage.set_pdu(message, pdu)
    data: bytes = encoder.encode(message)
    return data


async def _both_paths(snmp: SnmpAgent, client: Client, data: bytes) -> tuple[Any, Any]:
    """The fast path's answer to `data`, and pysnmp's (the fast path switched off)."""
    fast = snmp.fast.answer(data)
    snmp.fast.enabled = False
    try:
        slow = await client.exchange(data, 1.0)
    finally:
        snmp.fast.enabled = True
    return fast, slow


async def test_the_fast_path_answers_byte_for_byte_as_pysnmp(agent: Any) -> None:
    """Get, GetNext and GetBulk over SNMPv1 and v2c, both communities, with instances,
    objects without the instance, names between and beyond instances, Counter64s, and what
    no view includes: the fast path's datagram is pysnmp's, octet for octet."""
    snmp, client, _, _ = agent
    rng = random.Random(4)
    instances = snmp.live.index().oids
    pool = [
        *instances[::9], instances[-1], SYS, (*SYS, 1, 1), (*SYS, 3), USM_USER_NAME,
        USM_USER_NAME[:-3], IF_HC_IN_OCTETS, (*IF_HC_IN_OCTETS, 1), (*IF_HC_IN_OCTETS, 2),
        (*IF_HC_IN_OCTETS[:-1], 5), oid("1.3.6.1.2.1.31.1.1.1.15.1"), (1, 3), (0, 0),
        (2, 999, 1), (1, 3, 6, 1, 9), (1, 3, 6, 1, 4, 1, 2**32 + 5, 0), IF_TABLE,
    ]  # fmt: skip
    kinds = {V1: ["GetRequestPDU", "GetNextRequestPDU"]}
    kinds[V2C] = [*kinds[V1], "GetBulkRequestPDU", "GetBulkRequestPDU"]
    answered = 0
    for _ in range(300):
        version = rng.choice([V1, V2C])
        kind = rng.choice(kinds[version])
        names = rng.choices(pool, k=rng.randint(0, 4))
        data = _request(
            version, kind, names, rng.randint(-(2**31), 2**31 - 1),
            community=rng.choice(["public", "private"]),
            non_repeaters=rng.randint(0, 3), max_repetitions=rng.choice([1, 3, 10, 60, 500]),
        )  # fmt: skip
        fast, slow = await _both_paths(snmp, client, data)
        assert slow is not None
        if fast is not None:
            assert fast == slow, (version, kind, names)
            answered += 1
    assert answered == 300
    assert snmp.fast.answered >= 300


HUGE = oid("1.3.6.1.2.1.1.9.1.3.1")  # sysORDescr.1


class Awkward(StandIn):
    """The stand-in with a value pysnmp cannot encode (an Integer32 out of range), and one
    too big for any datagram."""

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        yield from super().objects()
        yield oid("1.3.6.1.2.1.1.7.0"), Value.integer(2**40)
        yield HUGE, Value.string(b"x" * 70_000)


async def test_the_fast_path_leaves_what_it_cannot_say_to_pysnmp() -> None:
    """A value out of range (genErr), a GetBulk of which nothing fits and a Get whose answer
    is too big (tooBig), a SET, an unknown community (authenticationFailure): no answer from
    the fast path, and pysnmp answers, or not, as it always did."""
    failures: list[tuple[str, ...]] = []
    config = SnmpServiceConfig(write_community="private")
    live = LiveMib([Awkward(rows=3)], EventBus())
    snmp = SnmpAgent(config, eid.SnmpIdentity(eid.engine_id(IDENTITY), 7), live,
                     on_auth_failure=lambda *a: failures.append(a))  # fmt: skip
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    await snmp.listen(sock)
    client = Client(sock.getsockname()[1])
    try:
        bad = oid("1.3.6.1.2.1.1.7.0")
        for version, kind, names, expected in [
            (V2C, "GetRequestPDU", [SYS_DESCR, bad], "genErr"),
            (V1, "GetRequestPDU", [bad], "genErr"),
            (V2C, "GetNextRequestPDU", [(*SYS, 6, 0)], "genErr"),
            (V2C, "GetBulkRequestPDU", [HUGE[:-1]], "tooBig"),  # its one varbind: 70 kB
            (V2C, "GetRequestPDU", [SYS_DESCR] * 2500, "tooBig"),  # 75 kB of answer
        ]:
            request = _request(version, kind, names, 9, max_repetitions=1)
            fast, slow = await _both_paths(snmp, client, request)
            assert fast is None and slow is not None
            mod = api.PROTOCOL_MODULES[version]
            answer, _ = decoder.decode(slow, asn1Spec=mod.Message())
            assert _status(version, mod.apiMessage.get_pdu(answer))[0] == expected
        request = _pdu(V2C, "SetRequestPDU", [SYS_CONTACT], [v2c.OctetString(b"ops")])
        assert snmp.fast.answer(encoder.encode(_message(V2C, "private", request))) is None
        assert _status(V2C, await client.send(V2C, "private", request)) == ("noError", 0)
        data = _request(V2C, "GetRequestPDU", [SYS_DESCR], 10, community="wrong")
        assert await _both_paths(snmp, client, data) == (None, None)
        assert [f[1:] for f in failures] == [("unknown community", "v2c", "")]
        # Nothing of that reached the fast path's count; a plain GET does.
        assert snmp.fast.answered == 0
        assert snmp.fast.answer(_request(V2C, "GetRequestPDU", [SYS_DESCR], 11)) is not None
        assert snmp.fast.answered == 1
    finally:
        snmp.close()
        live.close()


def _bulk(request_id: int, non_repeaters: int, max_repetitions: int, names: list[Oid]) -> bytes:
    """A GetBulkRequest-PDU written by hand: pysnmp's encoder refuses negative fields."""
    binds = b"".join(encode_varbind(encode_oid(name), bytes((Tag.NULL, 0))) for name in names)
    return encode_tlv(PduType.GET_BULK, b"".join((
        encode_integer(request_id), encode_integer(non_repeaters),
        encode_integer(max_repetitions), encode_tlv(Tag.SEQUENCE, binds),
    )))  # fmt: skip


def _v2c(pdu: bytes, community: bytes = b"public") -> bytes:
    return encode_tlv(
        Tag.SEQUENCE, encode_integer(V2C) + encode_tlv(Tag.OCTET_STRING, community) + pdu
    )


async def test_getbulk_with_negative_fields_is_answered_as_with_zero(agent: Any) -> None:
    """RFC 3416 4.2.3: a negative non-repeaters or max-repetitions is taken as zero. pysnmp's
    types refused them, so such a request got no answer (net-snmp's snmpd answers it); and
    0/0 was answered tooBig where snmpd sends a Response without varbinds. The fast path and
    pysnmp now answer both, with the same octets."""
    snmp, client, _, _ = agent
    names = [SYS, (*IF_TABLE, 1)]
    for sent, same_as in [((-1, -5), (0, 0)), ((-1, 2), (0, 2)), ((5, -1), (5, 0)),
                          ((-(2**31), -(2**31)), (0, 0)), ((0, 0), (0, 0))]:  # fmt: skip
        answers = [
            await _both_paths(snmp, client, _v2c(_bulk(31, *fields, names)))
            for fields in (sent, same_as)
        ]
        (fast, slow), (fast_zero, slow_zero) = answers
        assert fast is not None and fast == slow == fast_zero == slow_zero, sent
        answer, _ = decoder.decode(fast, asn1Spec=api.v2c.Message())
        pdu = api.v2c.apiMessage.get_pdu(answer)
        assert _status(V2C, pdu) == ("noError", 0)
        expected = snmp.live.index().bulk(names, *same_as, everything, budget=10_000)
        assert [name for name, _ in _varbinds(V2C, pdu)] == [name for name, _ in expected]


def _sha_key(password: bytes, engine_id: bytes) -> bytes:
    """RFC 3414 A.2.2: a password's HMAC-SHA-96 key, localized to an engine."""
    stream = (password * (2**20 // len(password) + 1))[: 2**20]
    ku = hashlib.sha1(stream).digest()
    return hashlib.sha1(ku + engine_id + ku).digest()


def _v3_auth(engine_id: bytes, boots: int, time: int, user: bytes, key: bytes, pdu: bytes) -> bytes:
    """An SNMPv3 authNoPriv message (RFC 3412 6, RFC 3414 2.4, 6.3.1: HMAC-SHA-96 over the
    message with the 12 octets of msgAuthenticationParameters zero)."""

    def octets(data: bytes) -> bytes:
        return encode_tlv(Tag.OCTET_STRING, data)

    def seq(*parts: bytes) -> bytes:
        return encode_tlv(Tag.SEQUENCE, b"".join(parts))

    header = seq(encode_integer(77), encode_integer(65507), octets(b"\x05"), encode_integer(3))
    placeholder = octets(bytes(12))
    usm = seq(octets(engine_id), encode_integer(boots), encode_integer(time), octets(user),
              placeholder, octets(b""))  # fmt: skip
    message = seq(encode_integer(3), header, octets(usm), seq(octets(engine_id), octets(b""), pdu))
    digest = hmac.new(key, message, hashlib.sha1).digest()[:12]
    assert message.count(placeholder) == 1
    return message.replace(placeholder, octets(digest))


def _v3_pdu(data: bytes) -> tuple[str, list[tuple[Oid, Any]]]:
    message, _ = decoder.decode(data, asn1Spec=SNMPv3Message())
    pdu = message["msgData"]["plaintext"]["data"].getComponent()
    assert pdu.tagSet[-1].tagId | 0xA0 == PduType.RESPONSE, pdu.prettyPrint()
    return _status(V2C, pdu)[0], _varbinds(V2C, pdu)


async def test_getbulk_with_negative_fields_is_answered_as_with_zero_over_v3() -> None:
    """SNMPv3 goes to pysnmp's v3 message processing only: the same rule there."""
    user = SnmpUserConfig(name="reader", auth_protocol="sha", auth_key="authpass1",
                          priv_protocol="none")  # fmt: skip
    live = LiveMib([StandIn(rows=5)], EventBus())
    snmp = SnmpAgent(SnmpServiceConfig(users=[user]), eid.SnmpIdentity(eid.engine_id(IDENTITY), 7),
                     live)  # fmt: skip
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    await snmp.listen(sock)
    client = Client(sock.getsockname()[1])
    engine_id = snmp.identity.engine_id
    key = _sha_key(b"authpass1", engine_id)
    names = [SYS, (*IF_TABLE, 1)]
    try:
        for sent, same_as in [((-1, -5), (0, 0)), ((-1, 2), (0, 2)), ((5, -1), (5, 0))]:
            answers = []
            for fields in (sent, same_as):
                message = _v3_auth(engine_id, 7, snmp.engine_time(), b"reader", key,
                                   _bulk(32, *fields, names))  # fmt: skip
                reply = await client.exchange(message, 1.0)
                assert reply is not None, fields
                answers.append(_v3_pdu(reply))
            assert answers[0] == answers[1], sent
            status, varbinds = answers[0]
            expected = live.index().bulk(names, *same_as, everything, budget=10_000)
            assert status == "noError"
            assert [name for name, _ in varbinds] == [name for name, _ in expected]
    finally:
        snmp.close()
        live.close()


def test_vacm_decisions_are_pysnmps_and_kept_per_requester() -> None:
    calls: list[Oid] = []

    def check(name: Oid) -> bool:
        calls.append(name)
        if name == (9, 9):
            raise RuntimeError("no group")  # not a decision: asked again next time
        return name[0] == 1

    views = ViewCache()
    allowed = views.allowed(("v2c", b"reader", "read"), check)
    assert [allowed((1, 3), None), allowed((2, 5), None), allowed((1, 3), None)] == [
        True,
        False,
        True,
    ]
    assert calls == [(1, 3), (2, 5)]
    for _ in range(2):
        with pytest.raises(RuntimeError):
            allowed((9, 9), None)
    assert calls[-2:] == [(9, 9), (9, 9)]
    # Another requester has its own decisions.
    views.allowed(("v2c", b"other", "read"), check)((1, 3), None)
    assert calls[-1] == (1, 3)


def _message(version: int, community: str, pdu: Any) -> Any:
    mod = api.PROTOCOL_MODULES[version]
    message = mod.Message()
    mod.apiMessage.set_defaults(message)
    mod.apiMessage.set_community(message, community)
    mod.apiMessage.set_pdu(message, pdu)
    return message


# -- the UDP port ---------------------------------------------------------------------------


class _Unprivileged(socket.socket):
    """A socket that may not bind below 1024, as for a normal user."""

    def bind(self, address: Any) -> None:
        if address[1] < 1024:
            raise PermissionError(13, "Permission denied")
        super().bind(address)


def _free_udp_port(low: int, high: int) -> int:
    for port in range(low, high):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"no free UDP port in {low}..{high}")


def test_bind_udp_moves_a_privileged_port_up_by_8000(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    from types import SimpleNamespace

    from mfpd.services import base

    target = _free_udp_port(8161, 9023)
    offset = target - 8000 - 161  # 161 + offset is below 1024, + 8000 is free
    ctx: Any = SimpleNamespace(bind="127.0.0.1", port_offset=offset, log=logging.getLogger("t"))
    monkeypatch.setattr(base.socket, "socket", _Unprivileged)
    sock, entry = base.bind_udp(ctx, "snmp", 161)
    assert sock is not None
    try:
        assert sock.type == socket.SOCK_DGRAM
        assert (entry.protocol, entry.port, entry.state) == ("udp", target, "moved")
        assert entry.standard_port == 161 and "needs privileges" in entry.note
        # Taken: the row says so, and the service does not start.
        other, failed = base.bind_udp(ctx, "snmp", 161)
        assert other is None and failed.state == "failed"
    finally:
        sock.close()
