"""The device model: conditions, reasons and PJL status agree; levels drive alerts."""

from __future__ import annotations

import pytest

from mfpd.config import Config
from mfpd.device.alerts import AlertCode, ConditionKind
from mfpd.device.events import Event
from mfpd.device.machine import Device, DeviceError, PrinterState, build_device


@pytest.fixture
def device() -> Device:
    return build_device(Config())


def test_factory_defaults_describe_a_workcentre(device: Device) -> None:
    assert device.identity.model == "WorkCentre 7755"
    assert [t.name for t in device.trays] == [
        "Tray 1", "Tray 2", "Tray 3", "Tray 4", "Tray 5", "Bypass",
    ]  # fmt: skip
    assert {s.key for s in device.supplies} >= {"black", "cyan", "magenta", "yellow", "drum"}
    assert len(device.bins) == 2
    assert device.state is PrinterState.IDLE
    assert device.reasons == []
    assert device.pjl_status() == (10001, "READY", True)


def test_jam_stops_the_printer_everywhere(device: Device) -> None:
    seen: list[Event] = []
    device.events.subscribe(seen.append)
    device.set_fault(ConditionKind.JAM)
    assert device.state is PrinterState.STOPPED
    assert [str(r) for r in device.reasons] == ["media-jam-error"]
    assert [a.info.code for a in device.alerts] == [AlertCode.JAM]
    assert device.pjl_status() == (40022, "PAPER JAM", True)
    assert not device.can_print
    kinds = [e.kind for e in seen]
    assert "alert.added" in kinds and "printer.state" in kinds
    device.set_fault(ConditionKind.JAM, False)
    assert device.state is PrinterState.IDLE
    assert device.alerts == []


def test_toner_low_is_a_warning_not_a_stop(device: Device) -> None:
    black = device.find_supply("black")
    device.set_supply_level(black, black.capacity * 5 // 100)
    assert device.state is PrinterState.IDLE
    assert [str(r) for r in device.reasons] == ["toner-low-warning"]
    assert device.pjl_status()[0] == 10006
    device.set_supply_level(black, 0)
    assert device.state is PrinterState.STOPPED
    assert [a.info.code for a in device.alerts] == [AlertCode.MARKER_TONER_EMPTY]
    device.refill("black")
    assert device.alerts == [] and device.state is PrinterState.IDLE


def test_empty_tray_becomes_an_error_only_while_a_job_waits_on_it(device: Device) -> None:
    tray = device.find_tray("tray-1")
    device.set_tray_level(tray, 0)
    assert [str(r) for r in device.reasons] == ["media-empty-warning"]
    assert device.state is PrinterState.IDLE
    device.set_waiting_on((ConditionKind.TRAY_EMPTY, tray.index))
    assert [str(r) for r in device.reasons] == ["media-empty-error"]
    assert device.state is PrinterState.STOPPED
    assert device.pjl_status()[0] == 41104  # load tray 1 with A4
    device.refill("tray-1")
    assert device.state is PrinterState.IDLE and device.reasons == []


def test_impressions_consume_paper_and_toner(device: Device) -> None:
    tray = device.find_tray("1")
    before = {s.key: s.level for s in device.supplies}
    device.print_impression(tray, color=False)
    device.print_impression(tray, color=True)
    assert tray.level == tray.capacity - 2
    assert device.counters.impressions == 2
    assert device.counters.color_impressions == 1
    after = {s.key: s.level for s in device.supplies}
    assert before["black"] - after["black"] == 2
    assert before["cyan"] - after["cyan"] == 1
    assert before["drum"] - after["drum"] == 2


def test_snapshot_round_trip(device: Device) -> None:
    device.print_impression(device.trays[0], color=False)
    device.set_fault(ConditionKind.DOOR_OPEN)
    device.set_console(ready_message="HELLO")
    again = build_device(Config())
    again.restore(device.snapshot())
    assert again.counters == device.counters
    assert again.trays[0].level == device.trays[0].level
    assert again.faults == {ConditionKind.DOOR_OPEN}
    assert again.console.ready_message == "HELLO"
    assert [str(r) for r in again.reasons] == ["door-open-error"]


def test_unknown_names_are_clear_errors(device: Device) -> None:
    with pytest.raises(DeviceError, match="no tray 'tray-9'"):
        device.find_tray("tray-9")
    with pytest.raises(DeviceError, match="no tray or supply"):
        device.refill("unobtainium")


def test_full_output_bins_stop_the_printer_unless_emptied() -> None:
    config = Config.model_validate({"engine": {"auto_empty_bins": False}})
    device = build_device(config)
    total = sum(b.capacity for b in device.bins)
    for _ in range(total):
        device.print_impression(device.trays[3], color=False)
    assert [b.level for b in device.bins] == [b.capacity for b in device.bins]
    assert "output-area-full-error" in [str(r) for r in device.reasons]
    assert device.state is PrinterState.STOPPED
    device.refill("bins")
    assert device.state is PrinterState.IDLE
    staffed = build_device(Config())
    for _ in range(total):
        staffed.print_impression(staffed.trays[3], color=False)
    assert staffed.state is PrinterState.IDLE


def test_pjl_opmsg_takes_the_printer_offline_for_every_protocol(device: Device) -> None:
    device.set_console(operator_message="LOAD LETTERHEAD")
    assert device.state is PrinterState.STOPPED and not device.can_print
    assert [str(r) for r in device.reasons] == ["offline-error"]
    assert [a.info.code for a in device.alerts] == [AlertCode.SUBUNIT_OFFLINE]
    _, display, online = device.pjl_status()
    assert (display, online) == ("LOAD LETTERHEAD", False)
    device.set_console(operator_message="")
    assert device.state is PrinterState.IDLE and device.alerts == []
