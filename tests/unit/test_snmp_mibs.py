"""The MIB modules served by the SNMP agent, read straight from the device (no pysnmp).

Every mandatory object is there with its RFC type; the status objects of Host Resources and
the Printer MIB agree with each other, with the alert table and with the front panel through
the device's states (SNMP.md's mapping table); the writable objects check and persist.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mfpd.config import Config
from mfpd.device.alerts import ConditionKind
from mfpd.device.machine import Device, build_device
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.services.base import ServiceContext
from mfpd.services.ipp.subscriptions import SubscriptionStore
from mfpd.services.snmp import mibs
from mfpd.services.snmp.mib import MibModule, Oid, Syntax, Value, WriteError, oid
from mfpd.services.snmp.mib_printer import alert_varbinds
from mfpd.services.snmp.mib_system import SystemMib, mac_address
from mfpd.services.snmp.mib_values import clip, date_and_time

N = Syntax.INTEGER
S = Syntax.OCTET_STRING
D = Syntax.OBJECT_IDENTIFIER
C = Syntax.COUNTER32
G = Syntax.GAUGE32
T = Syntax.TIMETICKS

HR_DEVICE_STATUS = oid("1.3.6.1.2.1.25.3.2.1.5.1")
HR_PRINTER_STATUS = oid("1.3.6.1.2.1.25.3.5.1.1.1")
HR_ERROR_STATE = oid("1.3.6.1.2.1.25.3.5.1.2.1")
ALERT_ENTRY = oid("1.3.6.1.2.1.43.18.1.1")
DISPLAY_LINE_1 = oid("1.3.6.1.2.1.43.16.5.1.2.1.1")
DISPLAY_LINE_2 = oid("1.3.6.1.2.1.43.16.5.1.2.1.2")
SYS_CONTACT = oid("1.3.6.1.2.1.1.4.0")
SYS_NAME = oid("1.3.6.1.2.1.1.5.0")
SYS_LOCATION = oid("1.3.6.1.2.1.1.6.0")
PRT_OPERATOR = oid("1.3.6.1.2.1.43.5.1.1.4.1")
PRT_SERVICE_PERSON = oid("1.3.6.1.2.1.43.5.1.1.5.1")
PRT_PRINTER_NAME = oid("1.3.6.1.2.1.43.5.1.1.16.1")
PRT_CONFIG_CHANGES = oid("1.3.6.1.2.1.43.5.1.1.1.1")
PRT_CRITICAL_EVENTS = oid("1.3.6.1.2.1.43.5.1.1.18.1")
PRT_ALL_EVENTS = oid("1.3.6.1.2.1.43.5.1.1.19.1")


class Agent:
    """The modules of one device, as the agent gets them from mibs.modules()."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.device = ctx.device
        self.modules: list[MibModule] = mibs.modules(ctx)

    def walk(self) -> dict[Oid, Value]:
        seen: dict[Oid, Value] = {}
        for module in self.modules:
            for name, value in module.objects():
                assert name not in seen, f"{'.'.join(map(str, name))} served twice"
                seen[name] = value
        return seen

    def get(self, name: Oid) -> Value:
        return self.walk()[name]

    def set(self, name: Oid, value: Value) -> None:
        writable = {k: w for m in self.modules for k, w in m.writable().items()}
        target = writable[name]
        target.check(value)
        target.apply(value)


def make_ctx(tmp_path: Path, config: Config | None = None, offset: int = 0) -> ServiceContext:
    config = config or Config()
    device = build_device(config)
    spool = Spool(JobStore(tmp_path), tmp_path / "spool", device.events, config.spool)
    return ServiceContext(
        config=config,
        device=device,
        spool=spool,
        state_dir=tmp_path,
        bind="127.0.0.1",
        port_offset=offset,
        log=logging.getLogger("test"),
        subscriptions=SubscriptionStore(device, config.ipp.notifications),
    )


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    ctx = make_ctx(tmp_path)
    yield Agent(ctx)
    ctx.spool.store.close()


def name(text: str) -> Oid:
    return oid(text)


# -- every mandatory object, with its RFC type -------------------------------------------------

# One instance per column of each mandatory group (RFC 1213/3418, RFC 2790, RFC 3805
# prtMIB2Compliance, PWG 5107.1, RFC 2707 jmGeneral), on the default WorkCentre.
MANDATORY = [
    # system (RFC 3418)
    ("1.3.6.1.2.1.1.1.0", S), ("1.3.6.1.2.1.1.2.0", D), ("1.3.6.1.2.1.1.3.0", T),
    ("1.3.6.1.2.1.1.4.0", S), ("1.3.6.1.2.1.1.5.0", S), ("1.3.6.1.2.1.1.6.0", S),
    ("1.3.6.1.2.1.1.7.0", N),
    # interfaces (RFC 1213 / 2863)
    ("1.3.6.1.2.1.2.1.0", N),
    *((f"1.3.6.1.2.1.2.2.1.{c}.1", t) for c, t in (
        (1, N), (2, S), (3, N), (4, N), (5, G), (6, S), (7, N), (8, N), (9, T),
        (10, C), (11, C), (12, C), (13, C), (14, C), (15, C), (16, C), (17, C), (18, C),
        (19, C), (20, C), (21, G), (22, D),
    )),
    # Host Resources (RFC 2790)
    ("1.3.6.1.2.1.25.1.1.0", T), ("1.3.6.1.2.1.25.1.2.0", S), ("1.3.6.1.2.1.25.1.3.0", N),
    ("1.3.6.1.2.1.25.1.4.0", S), ("1.3.6.1.2.1.25.1.5.0", G), ("1.3.6.1.2.1.25.1.6.0", G),
    ("1.3.6.1.2.1.25.1.7.0", N), ("1.3.6.1.2.1.25.2.2.0", N),
    *((f"1.3.6.1.2.1.25.2.3.1.{c}.{r}", t) for r in (1, 2) for c, t in (
        (1, N), (2, D), (3, S), (4, N), (5, N), (6, N), (7, C),
    )),
    *((f"1.3.6.1.2.1.25.3.2.1.{c}.1", t) for c, t in (
        (1, N), (2, D), (3, S), (4, D), (5, N), (6, C),
    )),
    ("1.3.6.1.2.1.25.3.5.1.1.1", N), ("1.3.6.1.2.1.25.3.5.1.2.1", S),
    # Printer MIB general group (with the storage and device references)
    *((f"1.3.6.1.2.1.43.5.1.1.{c}.1", t) for c, t in (
        (1, C), (2, N), (3, N), (4, S), (5, S), (6, N), (7, N), (8, N), (9, N), (10, N),
        (11, N), (12, N), (13, N), (14, N), (15, N), (16, S), (17, S), (18, C), (19, C),
    )),
    ("1.3.6.1.2.1.43.5.2.1.2.1.1", N), ("1.3.6.1.2.1.43.5.3.1.2.1.1", N),
    # covers, localization
    ("1.3.6.1.2.1.43.6.1.1.2.1.1", S), ("1.3.6.1.2.1.43.6.1.1.3.1.1", N),
    ("1.3.6.1.2.1.43.7.1.1.2.1.1", S), ("1.3.6.1.2.1.43.7.1.1.3.1.1", S),
    ("1.3.6.1.2.1.43.7.1.1.4.1.1", N),
    # input (tray 1), output (bin 1)
    *((f"1.3.6.1.2.1.43.8.2.1.{c}.1.1", t) for c, t in (
        (2, N), (3, N), (4, N), (5, N), (6, N), (7, N), (8, N), (9, N), (10, N), (11, N),
        (12, S), (13, S), (14, S), (15, S), (16, S), (17, S), (18, S), (19, N), (20, N),
        (21, S), (22, S), (23, N), (24, N), (25, N),
    )),
    *((f"1.3.6.1.2.1.43.9.2.1.{c}.1.1", t) for c, t in (
        (2, N), (3, N), (4, N), (5, N), (6, N), (7, S), (8, S), (9, S), (10, S), (11, S),
        (12, S), (13, N), (14, N), (15, N), (16, N), (17, N), (18, N), (19, N), (20, N),
        (21, N), (22, N), (23, N), (24, N),
    )),
    # marker, supplies, colorants
    *((f"1.3.6.1.2.1.43.10.2.1.{c}.1.1", t) for c, t in (
        (2, N), (3, N), (4, C), (5, C), (6, N), (7, N), (8, N), (9, N), (10, N), (11, N),
        (12, N), (13, N), (14, N), (15, N),
    )),
    *((f"1.3.6.1.2.1.43.11.1.1.{c}.1.1", t) for c, t in (
        (2, N), (3, N), (4, N), (5, N), (6, S), (7, N), (8, N), (9, N),
    )),
    *((f"1.3.6.1.2.1.43.12.1.1.{c}.1.1", t) for c, t in ((2, N), (3, N), (4, S), (5, N))),
    # media path, channel (IPP), interpreter (PJL)
    *((f"1.3.6.1.2.1.43.13.4.1.{c}.1.1", t) for c, t in (
        (2, N), (3, N), (4, N), (5, N), (6, N), (7, N), (8, N), (9, N), (10, S), (11, N),
    )),
    *((f"1.3.6.1.2.1.43.14.1.1.{c}.1.1", t) for c, t in (
        (2, N), (3, S), (4, N), (5, N), (6, N), (7, N), (8, N), (9, S),
    )),
    *((f"1.3.6.1.2.1.43.15.1.1.{c}.1.1", t) for c, t in (
        (2, N), (3, S), (4, S), (5, S), (6, S), (7, N), (8, N), (9, N), (10, N), (11, N),
        (12, N),
    )),
    # console: display buffer and lights
    ("1.3.6.1.2.1.43.16.5.1.2.1.1", S),
    *((f"1.3.6.1.2.1.43.17.6.1.{c}.1.1", t) for c, t in ((2, N), (3, N), (4, N), (5, S))),
    # Port Monitor (PWG 5107.1)
    ("1.3.6.1.4.1.2699.1.2.1.1.1.0", S), ("1.3.6.1.4.1.2699.1.2.1.1.2.0", G),
    ("1.3.6.1.4.1.2699.1.2.1.1.3.0", G),
    *((f"1.3.6.1.4.1.2699.1.2.1.2.1.1.{c}.1", t) for c, t in (
        (2, S), (3, S), (4, G), (5, N), (6, N), (7, S), (8, N),
    )),
    *((f"1.3.6.1.4.1.2699.1.2.1.3.1.1.{c}.1.1", t) for c, t in (
        (2, N), (3, S), (4, S), (5, N), (6, N), (7, N), (8, N), (9, N),
    )),
    # Job Monitoring general row (RFC 2707)
    *((f"1.3.6.1.4.1.2699.1.1.1.1.1.1.{c}.1", t) for c, t in (
        (2, N), (3, N), (4, N), (5, N), (6, N), (7, S),
    )),
]  # fmt: skip


def test_every_mandatory_object_is_served_with_its_rfc_type(agent: Agent) -> None:
    objects = agent.walk()
    missing = [text for text, _ in MANDATORY if oid(text) not in objects]
    assert missing == []
    wrong = [
        (text, objects[oid(text)].syntax.name, want.name)
        for text, want in MANDATORY
        if objects[oid(text)].syntax is not want
    ]
    assert wrong == []


def test_modules_share_no_oid_and_leave_the_engine_objects_to_the_agent(agent: Agent) -> None:
    names = [n for module in agent.modules for n, _ in module.objects()]
    assert len(names) == len(set(names)) > 500
    # snmpEngine (SNMP-FRAMEWORK-MIB) and snmpEnableAuthenTraps are agent_mib.py's.
    assert not [n for n in names if n[:6] == (1, 3, 6, 1, 6, 3)]
    assert oid("1.3.6.1.2.1.11.30.0") not in names


def test_strings_stay_within_their_size(tmp_path: Path) -> None:
    config = Config()
    config.identity.model = "WorkCentre " + "7755 " * 40
    config.identity.serial_number = "S" * 400
    ctx = make_ctx(tmp_path, config)
    objects = Agent(ctx).walk()
    assert len(objects[oid("1.3.6.1.2.1.25.3.2.1.3.1")].value) <= 64  # type: ignore[arg-type]
    long = {
        n: v
        for n, v in objects.items()
        if v.syntax is S and isinstance(v.value, bytes) and len(v.value) > 255
    }
    # Only the IEEE 1284 device ID may be longer (SIZE (0..1023)).
    assert set(long) <= {oid("1.3.6.1.4.1.2699.1.2.1.2.1.1.3.1")}
    assert clip("é" * 200, 255).decode() == "é" * 127


# -- what CUPS, PaperCut and discovery tools read ---------------------------------------------


def test_cups_discovery_and_supply_objects(agent: Agent) -> None:
    objects = agent.walk()
    device = agent.device
    # backend/snmp.c: hrDeviceType.1 is a printer; hrDeviceDescr.1; the 1284 ID; URI .1.1.
    assert objects[oid("1.3.6.1.2.1.25.3.2.1.2.1")] == Value.object_id("1.3.6.1.2.1.25.3.1.5")
    assert objects[oid("1.3.6.1.2.1.25.3.2.1.3.1")] == Value.string("Xerox WorkCentre 7755")
    device_id = objects[oid("1.3.6.1.4.1.2699.1.2.1.2.1.1.3.1")]
    assert device_id == Value.string(device.identity.device_id)
    assert objects[oid("1.3.6.1.4.1.2699.1.2.1.3.1.1.4.1.1")] == Value.string(
        "ipp://127.0.0.1:631/ipp/print" if _root() else "ipp://127.0.0.1:8631/ipp/print"
    )
    # backend/snmp-supplies.c: CurrentLocalization (INTEGER) names the localization row
    # whose CharacterSet (INTEGER) is UTF-8.
    current = objects[oid("1.3.6.1.2.1.43.5.1.1.2.1")]
    assert current.syntax is N
    charset = objects[(*oid("1.3.6.1.2.1.43.7.1.1.4.1"), current.value)]  # type: ignore[misc]
    assert charset == Value.integer(106)
    # Supplies in percent, as IPP's marker-levels; colours through the colorant index.
    for supply in device.supplies:
        index = supply.index
        assert objects[oid(f"1.3.6.1.2.1.43.11.1.1.7.1.{index}")] == Value.integer(19)
        assert objects[oid(f"1.3.6.1.2.1.43.11.1.1.8.1.{index}")] == Value.integer(100)
        level = objects[oid(f"1.3.6.1.2.1.43.11.1.1.9.1.{index}")]
        assert level == Value.integer(supply.percent)
        assert objects[oid(f"1.3.6.1.2.1.43.11.1.1.6.1.{index}")] == Value.string(supply.name)
        colorant = objects[oid(f"1.3.6.1.2.1.43.11.1.1.3.1.{index}")].value
        if supply.kind == "toner":
            color = objects[oid(f"1.3.6.1.2.1.43.12.1.1.4.1.{colorant}")]
            assert color == Value.string(supply.color)
        else:
            assert colorant == 0
    waste = device.find_supply("waste")
    assert objects[oid(f"1.3.6.1.2.1.43.11.1.1.4.1.{waste.index}")] == Value.integer(4)
    assert objects[oid(f"1.3.6.1.2.1.43.11.1.1.5.1.{waste.index}")] == Value.integer(4)


def _root() -> bool:
    return os.geteuid() == 0


def test_page_counter_and_levels_follow_the_device(agent: Agent) -> None:
    device = agent.device
    life = oid("1.3.6.1.2.1.43.10.2.1.4.1.1")
    power_on = oid("1.3.6.1.2.1.43.10.2.1.5.1.1")
    assert agent.get(life) == Value.counter32(0)
    tray = device.find_tray("tray-1")
    for _ in range(3):
        device.print_impression(tray, color=False)
    objects = agent.walk()
    assert objects[life] == Value.counter32(3) == objects[power_on]
    assert objects[oid("1.3.6.1.2.1.43.8.2.1.10.1.1")] == Value.integer(tray.capacity - 3)
    black = device.find_supply("black")
    device.set_supply_level(black, black.capacity // 4)
    assert agent.get(oid(f"1.3.6.1.2.1.43.11.1.1.9.1.{black.index}")) == Value.integer(25)


def test_power_on_count_starts_at_this_start(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ctx.device.counters.impressions = 1000  # restored from the snapshot before services start
    agent = Agent(ctx)
    ctx.device.print_impression(ctx.device.trays[0], color=True)
    objects = agent.walk()
    assert objects[oid("1.3.6.1.2.1.43.10.2.1.4.1.1")] == Value.counter32(1001)
    assert objects[oid("1.3.6.1.2.1.43.10.2.1.5.1.1")] == Value.counter32(1)


# -- the status mapping (SNMP.md), step by step ----------------------------------------------


def views(agent: Agent) -> tuple[int, int, bytes, list[tuple[int, int, int, int]], str]:
    """(hrDeviceStatus, hrPrinterStatus, hrPrinterDetectedErrorState, alert rows as
    (severity, group, group index, code), display line 1)."""
    objects = agent.walk()
    rows = sorted(
        {n[-1] for n in objects if n[: len(ALERT_ENTRY)] == ALERT_ENTRY}  # alert indexes
    )
    alerts = [
        tuple(int(objects[(*ALERT_ENTRY, c, 1, i)].value) for c in (2, 4, 5, 7))  # type: ignore[arg-type]
        for i in rows
    ]
    error_state = objects[HR_ERROR_STATE].value
    assert isinstance(error_state, bytes) and len(error_state) == 2
    line = objects[DISPLAY_LINE_1].value
    assert isinstance(line, bytes)
    return (
        int(objects[HR_DEVICE_STATUS].value),  # type: ignore[arg-type]
        int(objects[HR_PRINTER_STATUS].value),  # type: ignore[arg-type]
        error_state,
        alerts,  # type: ignore[return-value]
        line.decode(),
    )


IDLE = (2, 3, b"\x00\x00", [], "READY")


def test_status_objects_agree_through_the_device_states(agent: Agent) -> None:
    device = agent.device
    tray = device.find_tray("tray-1")
    black = device.find_supply("black")

    def step(expected: tuple[int, int, bytes, list[tuple[int, int, int, int]], str]) -> None:
        assert views(agent) == expected
        # The front panel line is PJL's DISPLAY too.
        assert expected[4] == device.pjl_status()[1]

    step(IDLE)
    device.set_busy(True)
    step((2, 4, b"\x00\x00", [], "PRINTING"))
    device.set_busy(False)

    # Toner low: warning, printing goes on; the panel's second line says why.
    device.set_supply_level(black, black.capacity * 5 // 100)
    step((3, 3, b"\x20\x00", [(4, 11, black.index, 1104)], "READY"))
    assert agent.get(DISPLAY_LINE_2) == Value.string("BLACK TONER LOW")
    # Toner empty: down, critical markerTonerEmpty.
    device.set_supply_level(black, 0)
    step((5, 1, b"\x10\x00", [(3, 11, black.index, 1101)], "REPLACE BLACK TONER"))
    device.refill("black")
    step(IDLE)

    # Jam: a generalPrinter alert, whose group index is -1 (RFC 3805 prtAlertGroupIndex).
    device.set_fault(ConditionKind.JAM)
    step((5, 1, b"\x04\x00", [(3, 5, -1, 8)], "PAPER JAM"))
    device.set_fault(ConditionKind.JAM, False)
    step(IDLE)

    # Door open: cover 1 shows open while the alert names it.
    device.set_fault(ConditionKind.DOOR_OPEN)
    step((5, 1, b"\x08\x00", [(3, 6, 1, 501)], "CLOSE FRONT DOOR"))
    assert agent.get(oid("1.3.6.1.2.1.43.6.1.1.3.1.1")) == Value.integer(3)
    device.set_fault(ConditionKind.DOOR_OPEN, False)
    assert agent.get(oid("1.3.6.1.2.1.43.6.1.1.3.1.1")) == Value.integer(4)
    step(IDLE)

    # An empty tray nobody needs is a warning (inputTrayEmpty); once a job waits on it,
    # the printer is down with noPaper and the same row turns critical.
    device.set_tray_level(tray, 0)
    step((3, 3, b"\x00\x04", [(4, 8, tray.index, 808)], "READY"))
    device.set_waiting_on((ConditionKind.TRAY_EMPTY, tray.index))
    step((5, 1, b"\x40\x04", [(3, 8, tray.index, 808)], "LOAD TRAY 1"))
    device.refill("tray-1")
    step(IDLE)

    device.set_fault(ConditionKind.OFFLINE)
    step((5, 1, b"\x02\x00", [(3, 5, -1, 22)], "OFFLINE"))
    device.set_fault(ConditionKind.OFFLINE, False)
    step(IDLE)


def test_the_worst_condition_wins_and_every_row_is_listed(agent: Agent) -> None:
    device = agent.device
    black = device.find_supply("black")
    device.set_supply_level(black, black.capacity * 5 // 100)
    device.set_fault(ConditionKind.JAM)
    status, printer, bits, alerts, line = views(agent)
    assert (status, printer, bits, line) == (5, 1, b"\x24\x00", "PAPER JAM")
    assert [code for *_, code in alerts] == [1104, 8]
    # Sub-unit statuses carry the same severities (PrtSubUnitStatusTC: 8 non-critical, 16
    # critical): the marker has the low toner, the paper path the jam.
    objects = agent.walk()
    assert objects[oid("1.3.6.1.2.1.43.10.2.1.15.1.1")] == Value.integer(8)
    assert int(objects[oid("1.3.6.1.2.1.43.13.4.1.11.1.1")].value) & 16  # type: ignore[arg-type]
    # Lights: Ready off, Attention steady.
    assert objects[oid("1.3.6.1.2.1.43.17.6.1.2.1.1")] == Value.integer(0)
    assert objects[oid("1.3.6.1.2.1.43.17.6.1.3.1.2")] == Value.integer(0)
    assert objects[oid("1.3.6.1.2.1.43.17.6.1.2.1.2")] != Value.integer(0)


def test_a_paused_printer_reads_offline(agent: Agent) -> None:
    agent.device.set_paused(True)
    status, printer, bits, alerts, _ = views(agent)
    assert (status, printer, bits, alerts) == (5, 1, b"\x02\x00", [])


def test_alert_rows_come_and_go_and_are_counted(agent: Agent) -> None:
    device = agent.device
    tray = device.find_tray("tray-2")
    device.set_tray_level(tray, 0)  # warning row
    device.set_waiting_on((ConditionKind.TRAY_EMPTY, tray.index))  # ... becomes critical
    device.set_fault(ConditionKind.JAM)  # critical row
    objects = agent.walk()
    indexes = sorted(n[-1] for n in objects if n[: len(ALERT_ENTRY) + 1] == (*ALERT_ENTRY, 1))
    assert indexes == [a.index for a in device.alerts]
    jam = device.alerts[-1]
    assert objects[(*ALERT_ENTRY, 8, 1, jam.index)] == Value.string("PAPER JAM")
    assert objects[(*ALERT_ENTRY, 3, 1, jam.index)] == Value.integer(3)  # untrained
    elapsed = objects[(*ALERT_ENTRY, 9, 1, jam.index)]
    assert elapsed.syntax is T and int(elapsed.value) >= 0  # type: ignore[arg-type]
    assert objects[PRT_ALL_EVENTS] == Value.counter32(2)
    assert objects[PRT_CRITICAL_EVENTS] == Value.counter32(2)
    assert objects[oid("1.3.6.1.2.1.25.3.2.1.6.1")] == Value.counter32(2)  # hrDeviceErrors
    device.set_fault(ConditionKind.JAM, False)
    device.refill("trays")
    objects = agent.walk()
    assert not [n for n in objects if n[: len(ALERT_ENTRY)] == ALERT_ENTRY]
    # Two rows added, two deleted: four configuration changes (RFC 3805).
    assert objects[PRT_CONFIG_CHANGES] == Value.counter32(4)
    assert objects[PRT_ALL_EVENTS] == Value.counter32(2)


def test_alert_varbinds_are_the_printer_v2_alert_objects(agent: Agent) -> None:
    device = agent.device
    device.set_fault(ConditionKind.DOOR_OPEN)
    alert = device.alerts[0]
    varbinds = alert_varbinds(device, alert)
    assert [n for n, _ in varbinds] == [
        (*ALERT_ENTRY, column, 1, alert.index) for column in (1, 2, 4, 5, 6, 7)
    ]
    assert [v.value for _, v in varbinds] == [alert.index, 3, 6, 1, -2, 501]
    # The same values the table serves.
    objects = agent.walk()
    assert all(objects[n] == v for n, v in varbinds)


# -- writable objects ------------------------------------------------------------------------


def test_system_objects_write_through_to_the_identity_and_persist(agent: Agent) -> None:
    device = agent.device
    agent.set(SYS_CONTACT, Value.string("Ops <ops@example.com>"))
    agent.set(SYS_LOCATION, Value.string("Bâtiment B, 2e étage"))
    agent.set(SYS_NAME, Value.string("printer-7"))
    objects = agent.walk()
    assert objects[SYS_CONTACT] == Value.string("Ops <ops@example.com>")
    assert objects[SYS_LOCATION] == Value.string("Bâtiment B, 2e étage")
    assert objects[SYS_NAME] == Value.string("printer-7")
    # Same fields IPP reads; kept in the snapshot the daemon saves and restores.
    assert device.identity.location == "Bâtiment B, 2e étage"
    restored = build_device(Config())
    restored.restore(device.snapshot())
    assert restored.identity.contact == "Ops <ops@example.com>"
    assert restored.identity.hostname == "printer-7"
    # The printer name falls back to the host name while none is set.
    assert objects[PRT_PRINTER_NAME] == Value.string("printer-7")


def test_printer_general_objects_are_writable(agent: Agent) -> None:
    agent.set(PRT_PRINTER_NAME, Value.string("Finance MFP"))
    agent.set(PRT_OPERATOR, Value.string("Alice"))
    agent.set(PRT_SERVICE_PERSON, Value.string("Xerox Service, +1 555 0100"))
    objects = agent.walk()
    assert objects[PRT_PRINTER_NAME] == Value.string("Finance MFP")
    assert objects[PRT_OPERATOR] == Value.string("Alice")
    assert objects[PRT_SERVICE_PERSON] == Value.string("Xerox Service, +1 555 0100")
    assert objects[oid("1.3.6.1.4.1.2699.1.2.1.2.1.1.2.1")] == Value.string("Finance MFP")
    assert objects[PRT_CONFIG_CHANGES] == Value.counter32(3)
    assert agent.device.snapshot()["identity"]["service_person"] == "Xerox Service, +1 555 0100"


@pytest.mark.parametrize(
    ("target", "value", "status"),
    [
        (SYS_CONTACT, Value.integer(5), "wrongType"),
        (SYS_LOCATION, Value.string(b"x" * 256), "wrongLength"),
        (SYS_NAME, Value.string(b""), "wrongLength"),
        (SYS_CONTACT, Value.string(b"\xff\xfe"), "wrongValue"),
        (SYS_LOCATION, Value.string("line\nbreak"), "wrongValue"),
        (PRT_PRINTER_NAME, Value.string(b"p" * 128), "wrongLength"),
        (PRT_OPERATOR, Value.object_id("1.3.6"), "wrongType"),
        (PRT_SERVICE_PERSON, Value.string(b"s" * 128), "wrongLength"),
    ],
)
def test_bad_writes_are_refused_before_anything_changes(
    agent: Agent, target: Oid, value: Value, status: str
) -> None:
    before = agent.device.identity
    writable = {k: w for m in agent.modules for k, w in m.writable().items()}
    with pytest.raises(WriteError) as refused:
        writable[target].check(value)
    assert refused.value.status == status
    assert agent.device.identity == before


def test_limits_are_inclusive(agent: Agent) -> None:
    agent.set(SYS_LOCATION, Value.string(b"x" * 255))
    agent.set(PRT_PRINTER_NAME, Value.string(b"p" * 127))
    agent.set(SYS_CONTACT, Value.string(b""))
    assert agent.device.identity.printer_name == "p" * 127


def test_only_the_administrator_objects_are_writable(agent: Agent) -> None:
    writable = {k for m in agent.modules for k in m.writable()}
    assert writable == {
        SYS_CONTACT, SYS_NAME, SYS_LOCATION, PRT_OPERATOR, PRT_SERVICE_PERSON, PRT_PRINTER_NAME,
    }  # fmt: skip
    syntaxes = {w.syntax for m in agent.modules for w in m.writable().values()}
    assert syntaxes == {S}


# -- system, host, channels, jobs ------------------------------------------------------------


def test_uptime_is_time_ticks_since_the_device_started() -> None:
    device = build_device(Config())
    device.started_at = 1000.0
    mib = SystemMib(device, clock=lambda: 1012.34)
    objects = dict(mib.objects())
    assert objects[oid("1.3.6.1.2.1.1.3.0")] == Value.timeticks(1234)
    assert objects[oid("1.3.6.1.2.1.1.2.0")].value[:10] == oid("1.3.6.1.4.1.253.8.62.1")  # type: ignore[index]
    assert objects[oid("1.3.6.1.2.1.1.7.0")] == Value.integer(72)


def test_mac_is_stable_unicast_and_locally_administered() -> None:
    identity = build_device(Config()).identity
    mac = mac_address(identity)
    assert len(mac) == 6
    assert mac[0] & 0x02 and not mac[0] & 0x01
    assert mac_address(dataclasses.replace(identity, hostname="renamed")) == mac
    other = dataclasses.replace(identity, uuid="00000000-0000-4000-8000-000000000001")
    assert mac_address(other) != mac


def test_host_date_is_an_11_octet_date_and_time() -> None:
    value = date_and_time(time.time())
    assert len(value) == 11
    assert int.from_bytes(value[:2], "big") == time.localtime().tm_year
    assert value[8:9] in (b"+", b"-")


def test_storage_reports_the_spool_file_system(agent: Agent) -> None:
    objects = agent.walk()
    fs = os.statvfs(agent.ctx.state_dir)
    unit = int(objects[oid("1.3.6.1.2.1.25.2.3.1.4.2")].value)  # type: ignore[arg-type]
    size = int(objects[oid("1.3.6.1.2.1.25.2.3.1.5.2")].value)  # type: ignore[arg-type]
    assert unit * size == pytest.approx(fs.f_blocks * fs.f_frsize, rel=0.01)
    memory = int(objects[oid("1.3.6.1.2.1.25.2.2.0")].value)  # type: ignore[arg-type]
    assert memory > 0


def test_one_channel_and_port_per_enabled_print_service(tmp_path: Path) -> None:
    config = Config()
    config.services.lpd.enabled = False
    ctx = make_ctx(tmp_path, config, offset=10000)
    objects = Agent(ctx).walk()
    types = {n[-1]: v.value for n, v in objects.items() if n[:-2] == oid("1.3.6.1.2.1.43.14.1.1.2")}
    assert types == {1: 44, 2: 11, 4: 44}  # IPP, raw 9100, IPPS; no LPD
    assert objects[oid("1.3.6.1.4.1.2699.1.2.1.1.3.0")] == Value.gauge32(3)
    uris = {
        n[-1]: v.value
        for n, v in objects.items()
        if n[:-2] == oid("1.3.6.1.4.1.2699.1.2.1.3.1.1.4")
    }
    assert uris == {
        1: b"ipp://127.0.0.1:10631/ipp/print",
        2: b"socket://127.0.0.1:19100",
        4: b"ipps://127.0.0.1:10443/ipp/print",
    }
    ctx.spool.store.close()


def test_ports_follow_the_live_port_table(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    rows = [
        {"service": "ipp", "port": 18631, "state": "listening"},
        {"service": "raw", "port": 9100, "state": "failed"},
        {"service": "lpd", "port": 8515, "state": "moved"},
    ]
    (tmp_path / "ports.json").write_text(json.dumps(rows))
    objects = Agent(ctx).walk()
    port = "1.3.6.1.4.1.2699.1.2.1.3.1.1"
    assert objects[oid(f"{port}.4.1.1")] == Value.string("ipp://127.0.0.1:18631/ipp/print")
    assert objects[oid(f"{port}.4.1.3")] == Value.string("lpd://127.0.0.1:8515/lp")
    assert objects[oid(f"{port}.2.1.2")] == Value.integer(2)  # raw could not listen
    assert objects[oid("1.3.6.1.2.1.43.14.1.1.6.1.2")] == Value.integer(4)  # noDataAccepted
    ctx.spool.store.close()


def test_a_port_table_from_an_earlier_run_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "ports.json").write_text(json.dumps([{"service": "ipp", "port": 1, "state": "x"}]))
    os.utime(tmp_path / "ports.json", (1, 1))
    ctx = make_ctx(tmp_path)
    uri = Agent(ctx).get(oid("1.3.6.1.4.1.2699.1.2.1.3.1.1.4.1.1"))
    assert uri.value != b"ipp://127.0.0.1:1/ipp/print"
    ctx.spool.store.close()


def test_job_monitoring_lists_active_jobs(agent: Agent) -> None:
    spool = agent.ctx.spool
    general = "1.3.6.1.4.1.2699.1.1.1.1.1.1"
    assert agent.get(oid(f"{general}.2.1")) == Value.integer(0)
    job = spool.create("lpd", name="report", user="alice")
    objects = agent.walk()
    assert objects[oid(f"{general}.2.1")] == Value.integer(1)
    assert objects[oid(f"{general}.3.1")] == Value.integer(job.id)
    assert objects[oid(f"{general}.4.1")] == Value.integer(job.id)
    entry = "1.3.6.1.4.1.2699.1.1.1.3.1.1"
    assert objects[oid(f"{entry}.2.1.{job.id}")] == Value.integer(3)  # pending
    assert objects[oid(f"{entry}.3.1.{job.id}")] == Value.integer(0x4)  # jobIncoming
    assert objects[oid(f"{entry}.9.1.{job.id}")] == Value.string("alice")
    # The LPD channel shows the job arriving on it.
    assert agent.get(oid("1.3.6.1.2.1.43.14.1.1.8.1.3")) == Value.integer(4)


def test_device_model_fields_behind_the_writable_objects() -> None:
    device: Device = build_device(Config())
    device.update_identity(printer_name="A", current_operator="B", service_person="C")
    assert (device.identity.printer_name, device.identity.current_operator) == ("A", "B")
