"""SNMP notifications without a receiver: which device events become which notification, the
varbinds each carries, the SNMPv1 Trap-PDU they translate to (RFC 3584 3.2, through the same
pysnmp code the originator uses), inform back-off, and the per-destination queues."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from pyasn1.codec.ber.decoder import decode
from pysnmp.proto.api import v1 as api_v1
from pysnmp.proto.api import v2c as api_v2c
from pysnmp.proto.proxy import rfc2576

from mfpd.config import ConfigError, SnmpTrapConfig, SnmpUserConfig, parse_config
from mfpd.device.alerts import ConditionKind
from mfpd.device.events import Event
from mfpd.device.machine import Device, build_device
from mfpd.device.operator import apply_fault
from mfpd.services.base import ServiceContext
from mfpd.services.snmp import notifications as n
from mfpd.services.snmp.engine_id import SnmpIdentity
from mfpd.services.snmp.mib import Oid, Syntax, Value
from mfpd.services.snmp.mib_printer import alert_varbinds
from mfpd.services.snmp.mib_system import SYS_OBJECT_ID
from mfpd.services.snmp.pysnmp_values import pysnmp_value
from mfpd.services.snmp.traps import (
    QUEUE_LIMIT,
    Notifier,
    attempt_timeouts,
    destination_problem,
    pysnmp_varbinds,
)

ALERT_ENTRY = "1.3.6.1.2.1.43.18.1.1"


def oid(text: str) -> Oid:
    return tuple(int(part) for part in text.strip(".").split("."))


def watch(
    device: Device, alert_traps: n.AlertTraps = "critical", auth: bool = True
) -> list[n.Notification]:
    """What a NotificationSource makes of the device's events, collected as the Notifier
    collects it (one call per event)."""
    source = n.NotificationSource(device, n.NotifyPolicy(alert_traps, auth), lambda: 4200)
    sent: list[n.Notification] = []
    device.events.subscribe(lambda event: sent.extend(source.for_event(event)))
    return sent


def column(trap: n.Notification, number: int) -> int:
    """A prtAlertEntry column of a printerV2Alert, whatever its instance."""
    entry = oid(ALERT_ENTRY)
    for name, value in trap.objects:
        if name[: len(entry)] == entry and name[len(entry)] == number:
            assert isinstance(value.value, int)
            return value.value
    raise AssertionError(f"column {number} not in {trap.objects}")


# -- the event -> notification mapping ---------------------------------------------------


def test_critical_alert_becomes_printer_v2_alert_with_its_six_objects() -> None:
    device = build_device(parse_config(""))
    sent = watch(device)
    device.set_fault(ConditionKind.JAM)
    assert len(sent) == 1
    (alert,) = device.alerts
    trap, i = sent[0], alert.index
    assert trap.name == "printerV2Alert"
    assert trap.trap_oid == oid("1.3.6.1.2.1.43.18.2.0.1")
    assert trap.uptime == 4200
    assert [(name, value.syntax, value.value) for name, value in trap.objects] == [
        (oid(f"{ALERT_ENTRY}.1.1.{i}"), Syntax.INTEGER, i),  # prtAlertIndex
        (oid(f"{ALERT_ENTRY}.2.1.{i}"), Syntax.INTEGER, 3),  # SeverityLevel: critical
        (oid(f"{ALERT_ENTRY}.4.1.{i}"), Syntax.INTEGER, 5),  # Group: generalPrinter
        (oid(f"{ALERT_ENTRY}.5.1.{i}"), Syntax.INTEGER, -1),  # GroupIndex: none in general
        (oid(f"{ALERT_ENTRY}.6.1.{i}"), Syntax.INTEGER, -2),  # Location: unknown
        (oid(f"{ALERT_ENTRY}.7.1.{i}"), Syntax.INTEGER, 8),  # Code: jam
    ]
    # ... which is the row prtAlertTable serves.
    assert list(trap.objects) == list(alert_varbinds(device, alert))
    assert "jam" in trap.detail and "critical" in trap.detail
    # Clearing the jam removes the row: nothing to announce.
    device.set_fault(ConditionKind.JAM, False)
    assert len(sent) == 1


@pytest.mark.parametrize(("mode", "codes"), [("critical", []), ("all", [1104]), ("none", [])])
def test_warning_alert_is_announced_only_with_all(mode: n.AlertTraps, codes: list[int]) -> None:
    device = build_device(parse_config(""))
    sent = watch(device, mode)
    apply_fault(device, "toner-low", False, "black")
    assert [column(trap, 7) for trap in sent] == codes
    assert [column(trap, 2) for trap in sent] == [4] * len(codes)  # warning(4)


def test_none_announces_not_even_critical_alerts() -> None:
    device = build_device(parse_config(""))
    sent = watch(device, "none")
    device.set_fault(ConditionKind.JAM)
    apply_fault(device, "toner-empty", False, "black")
    assert sent == []


def test_a_row_that_becomes_critical_is_announced_once() -> None:
    """An empty tray is a warning until a job needs it; then the row is critical (the MIB
    counts it in prtAlertCriticalEvents) and printerV2Alert goes out, once."""
    for mode, expected in (("critical", [3]), ("all", [4, 3])):
        device = build_device(parse_config(""))
        sent = watch(device, mode)  # type: ignore[arg-type]
        apply_fault(device, "tray-empty", False, "tray-1")
        tray_alert = next(a for a in device.alerts if a.kind is ConditionKind.TRAY_EMPTY)
        device.set_waiting_on((ConditionKind.TRAY_EMPTY, tray_alert.subunit))
        device.set_fault(ConditionKind.OFFLINE)  # more printer.state events: no repeats
        device.set_fault(ConditionKind.OFFLINE, False)
        tray_traps = [t for t in sent if column(t, 7) == 808]
        assert [column(t, 2) for t in tray_traps] == expected, mode
        assert {column(t, 1) for t in tray_traps} == {tray_alert.index}


def test_a_condition_that_comes_back_is_a_new_row_and_a_new_notification() -> None:
    device = build_device(parse_config(""))
    sent = watch(device)
    device.set_fault(ConditionKind.DOOR_OPEN)
    device.set_fault(ConditionKind.DOOR_OPEN, False)
    device.set_fault(ConditionKind.DOOR_OPEN)
    assert [column(t, 7) for t in sent] == [501, 501]
    assert column(sent[0], 1) < column(sent[1], 1)


def test_rows_present_at_start_are_not_announced() -> None:
    device = build_device(parse_config(""))
    device.set_fault(ConditionKind.JAM)
    sent = watch(device)
    device.events.publish("printer.state")
    assert sent == []


def test_authentication_failure_follows_the_switch() -> None:
    device = build_device(parse_config(""))
    on = n.NotificationSource(device, n.NotifyPolicy("critical", True), lambda: 7)
    off = n.NotificationSource(device, n.NotifyPolicy("critical", False), lambda: 7)
    event = Event("snmp.auth-failure", {"peer": "10.0.0.9:4000", "reason": "unknown community"})
    (trap,) = on.for_event(event)
    assert trap.name == "authenticationFailure"
    assert trap.trap_oid == oid("1.3.6.1.6.3.1.1.5.5")
    assert trap.objects == ()
    assert "10.0.0.9:4000" in trap.detail and "unknown community" in trap.detail
    assert off.for_event(event) == []
    assert on.for_event(Event("job.state", {})) == []


# -- varbinds and the SNMPv1 translation --------------------------------------------------


def test_varbinds_start_with_uptime_and_trap_oid() -> None:
    cold = n.cold_start(1234)
    bindings = cold.varbinds("v2c", "192.0.2.7", SYS_OBJECT_ID)
    assert bindings == [
        (n.SYS_UPTIME, Value.timeticks(1234)),
        (n.SNMP_TRAP_OID, Value.object_id(n.COLD_START)),
        (n.SNMP_TRAP_ENTERPRISE, Value.object_id(SYS_OBJECT_ID)),
    ]
    assert cold.varbinds("v1", "192.0.2.7", SYS_OBJECT_ID)[-1] == (
        n.SNMP_TRAP_ADDRESS,
        Value(Syntax.IP_ADDRESS, bytes([192, 0, 2, 7])),
    )
    assert n.ip_address_value("::1").value == bytes(4)
    assert n.ip_address_value(None).value == bytes(4)


def v1_trap(notification: n.Notification, agent: str = "192.0.2.7") -> dict[str, Any]:
    """The SNMPv1 Trap-PDU pysnmp's originator sends for `notification` (RFC 3584 3.2)."""
    pdu = api_v2c.SNMPv2TrapPDU()
    api_v2c.apiTrapPDU.set_defaults(pdu)
    bindings = notification.varbinds("v1", agent, SYS_OBJECT_ID)
    api_v2c.apiTrapPDU.set_varbinds(pdu, pysnmp_varbinds(bindings))
    trap = rfc2576.v2_to_v1(pdu)
    api = api_v1.apiTrapPDU
    return {
        "enterprise": tuple(api.get_enterprise(trap)),
        "agent": str(api.get_agent_address(trap).prettyPrint()),
        "generic": int(api.get_generic_trap(trap)),
        "specific": int(api.get_specific_trap(trap)),
        "time": int(api.get_timestamp(trap)),
        "varbinds": [(tuple(k), int(v)) for k, v in api.get_varbinds(trap)],
    }


def test_v1_printer_alert_is_printer_v1_alert_generic_6_specific_1() -> None:
    device = build_device(parse_config(""))
    sent = watch(device)
    device.set_fault(ConditionKind.JAM)
    i = device.alerts[0].index
    assert v1_trap(sent[0]) == {
        "enterprise": oid("1.3.6.1.2.1.43.18.2"),
        "agent": "192.0.2.7",
        "generic": 6,
        "specific": 1,
        "time": 4200,
        "varbinds": [
            (oid(f"{ALERT_ENTRY}.1.1.{i}"), i),
            (oid(f"{ALERT_ENTRY}.2.1.{i}"), 3),
            (oid(f"{ALERT_ENTRY}.4.1.{i}"), 5),
            (oid(f"{ALERT_ENTRY}.5.1.{i}"), -1),
            (oid(f"{ALERT_ENTRY}.6.1.{i}"), -2),
            (oid(f"{ALERT_ENTRY}.7.1.{i}"), 8),
        ],
    }


def test_v1_generic_traps_carry_sys_object_id_as_enterprise() -> None:
    cold = v1_trap(n.cold_start(99), agent="10.1.2.3")
    assert cold == {
        "enterprise": SYS_OBJECT_ID,
        "agent": "10.1.2.3",
        "generic": 0,
        "specific": 0,
        "time": 99,
        "varbinds": [],
    }
    auth = v1_trap(n.authentication_failure(5, "10.9.9.9:1", "unknown community"))
    assert (auth["enterprise"], auth["generic"], auth["specific"]) == (SYS_OBJECT_ID, 4, 0)


def test_pysnmp_values_keep_their_smi_types() -> None:
    cases = [
        (Value.integer(-2), "Integer32", -2),
        (Value.string("abc"), "OctetString", b"abc"),
        (Value.object_id((1, 3, 6)), "ObjectIdentifier", (1, 3, 6)),
        (Value(Syntax.IP_ADDRESS, bytes([10, 0, 0, 1])), "IpAddress", b"\n\x00\x00\x01"),
        (Value.counter32(5), "Counter32", 5),
        (Value.gauge32(6), "Gauge32", 6),
        (Value.timeticks(7), "TimeTicks", 7),
        (Value(Syntax.COUNTER64, 2**40), "Counter64", 2**40),
    ]
    for value, type_name, raw in cases:
        encoded = pysnmp_value(value)
        assert type(encoded).__name__ == type_name
        if isinstance(raw, bytes):
            assert encoded.asOctets() == raw
        elif isinstance(raw, tuple):
            assert tuple(encoded) == raw
        else:
            assert int(encoded) == raw


# -- informs and destinations --------------------------------------------------------------


def test_inform_waits_double_up_to_a_ceiling() -> None:
    assert attempt_timeouts(2.0, 3) == [2.0, 4.0, 8.0, 16.0]
    assert attempt_timeouts(1.0, 0) == [1.0]
    assert attempt_timeouts(10.0, 5) == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
    assert attempt_timeouts(90.0, 1) == [90.0, 90.0]


def test_a_v3_destination_needs_a_known_user() -> None:
    user = SnmpUserConfig(name="ops", auth_key="authpass1", priv_key="privpass1")
    users = {"ops": user}
    v3 = SnmpTrapConfig(address="192.0.2.1", version="v3", user="ops")
    assert destination_problem(v3, users, False) is None
    unknown = SnmpTrapConfig(address="192.0.2.1", version="v3", user="nobody")
    assert "nobody" in (destination_problem(unknown, users, False) or "")
    assert destination_problem(SnmpTrapConfig(address="192.0.2.1"), {}, False) is None
    # The configuration refuses such a destination before the daemon starts.
    with pytest.raises(ConfigError, match="no v3 user 'nobody'"):
        parse_config('[[services.snmp.traps]]\naddress = "192.0.2.1"\nversion = "v3"\n'
                     'user = "nobody"\n')  # fmt: skip


# -- the Notifier's queues, against a receiver that never answers -------------------------


def _context(config_text: str, tmp_path: Path) -> ServiceContext:
    config = parse_config(config_text)
    device = build_device(config)
    return ServiceContext(
        config=config,
        device=device,
        spool=None,  # type: ignore[arg-type]  # the Notifier needs none
        state_dir=tmp_path,
        bind="127.0.0.1",
        port_offset=0,
        log=logging.getLogger("test"),
        subscriptions=None,  # type: ignore[arg-type]
    )


def _silent_receiver() -> socket.socket:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setblocking(False)
    return sink


def _drain(sink: socket.socket) -> list[bytes]:
    datagrams = []
    while True:
        try:
            datagrams.append(sink.recv(65535))
        except BlockingIOError:
            return datagrams


IDENTITY = SnmpIdentity(bytes.fromhex("800000fd05") + bytes(16), 3)


async def test_a_full_queue_drops_the_oldest_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _silent_receiver()
    port = sink.getsockname()[1]
    ctx = _context(
        f"""
[[services.snmp.traps]]
address = "127.0.0.1"
port = {port}
version = "v2c"
inform = true
timeout = 30
retries = 0
""",
        tmp_path,
    )
    notifier = Notifier(ctx, IDENTITY)
    caplog.set_level(logging.INFO, logger="mfpd.snmp")
    try:
        await notifier.start()
        (dest,) = notifier.destinations
        for _ in range(1500):  # at most 30 s: the coldStart inform is out, the task busy
            if dest.busy:
                break
            await asyncio.sleep(0.02)
        assert dest.busy and not dest.queue
        for number in range(QUEUE_LIMIT + 5):
            notifier.send(n.Notification("printerV2Alert", n.PRINTER_V2_ALERT, (), number))
        assert len(dest.queue) == QUEUE_LIMIT
        assert [item.uptime for item in dest.queue] == list(range(5, QUEUE_LIMIT + 5))
        dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert len(dropped) == 5
        assert "notifications already waiting" in dropped[0].getMessage()
    finally:
        await notifier.stop(0)
        sink.close()
    shutdown = [r for r in caplog.records if "dropped: shutting down" in r.getMessage()]
    assert len(shutdown) == QUEUE_LIMIT


async def test_an_unanswered_inform_is_sent_retries_plus_one_times_then_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = _silent_receiver()
    port = sink.getsockname()[1]
    ctx = _context(
        f"""
[[services.snmp.traps]]
address = "127.0.0.1"
port = {port}
version = "v2c"
inform = true
timeout = 0.2
retries = 2
""",
        tmp_path,
    )
    notifier = Notifier(ctx, IDENTITY)
    caplog.set_level(logging.INFO, logger="mfpd.snmp")
    try:
        await notifier.start()
        (dest,) = notifier.destinations
        for _ in range(600):  # 0.2 + 0.4 + 0.8 s of waits; 30 s at most
            if any("failed" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
        assert len(failed) == 1, failed
        assert "inform coldStart" in failed[0] and "after 3 attempts" in failed[0]
        sent = _drain(sink)
        assert len(sent) == 3  # the first send and two retries
        # ... each an InformRequest for the same notification: its own sysUpTime every time.
        pdus = [api_v2c.apiMessage.get_pdu(decode(d, asn1Spec=api_v2c.Message())[0]) for d in sent]
        assert {pdu.tagSet for pdu in pdus} == {api_v2c.InformRequestPDU.tagSet}
        assert len({int(api_v2c.apiPDU.get_varbinds(pdu)[0][1]) for pdu in pdus}) == 1
        assert dest.idle
    finally:
        await notifier.stop(0)
        sink.close()


async def test_no_destination_no_engine(tmp_path: Path) -> None:
    notifier = Notifier(_context("", tmp_path), IDENTITY)
    await notifier.start()
    notifier.ctx.device.set_fault(ConditionKind.JAM)
    assert notifier.destinations == []
    await notifier.stop()
