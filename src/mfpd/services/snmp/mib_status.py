"""How the device's conditions read in SNMP: the one mapping Host Resources and Printer MIB share.

hrDeviceStatus, hrPrinterStatus and hrPrinterDetectedErrorState (RFC 2790) must agree with
each other and with prtAlertTable (RFC 3805), so all of them come from here, and here only
from `device.alerts` and the conditions table (device/alerts.py): no condition is re-mapped.

- A condition that stops the printer (IPP severity "error", or the empty tray the current job
  waits on) makes hrDeviceStatus down(5) and hrPrinterStatus other(1); its alert row is
  critical(3). RFC 1514/2790 hrPrinterDetectedErrorState: noPaper, noToner, doorOpen, jammed,
  offline give down; lowPaper, lowToner, serviceRequested give warning; the worst wins.
- Any other alert makes hrDeviceStatus warning(3) while the printer stays idle(3) or
  printing(4), as HP's LaserJet MIB notes describe ("a non-critical alert is active").
- The waited-on empty tray also sets noPaper (bit 1) beside inputTrayEmpty (bit 13): "a tray
  is empty and must be filled for printing to continue" (HP) is RFC 2790's noPaper.
- A printer stopped with no condition (IPP Pause-Printer) reads offline (bit 6): that is what
  a paused printer is to the network, and down needs a down bit to agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mfpd.device.alerts import Alert, AlertSeverity, ConditionKind, HrPrinterError
from mfpd.device.events import Event
from mfpd.device.machine import Device, PrinterState


class HrDeviceStatus(enum.IntEnum):
    """hrDeviceStatus, RFC 2790."""

    UNKNOWN = 1
    RUNNING = 2
    WARNING = 3
    TESTING = 4
    DOWN = 5


class HrPrinterStatus(enum.IntEnum):
    """hrPrinterStatus, RFC 2790."""

    OTHER = 1
    UNKNOWN = 2
    IDLE = 3
    PRINTING = 4
    WARMUP = 5


@dataclass(frozen=True)
class HostStatus:
    device_status: HrDeviceStatus
    printer_status: HrPrinterStatus
    error_bits: int  # bit 0 = 0x8000

    @property
    def error_state(self) -> bytes:
        """hrPrinterDetectedErrorState: always two octets, bit 0 the top bit of the first
        (RFC 2790); CUPS reads both octets (backend/snmp-supplies.c)."""
        return self.error_bits.to_bytes(2, "big")


def hr_bit(error: HrPrinterError) -> int:
    return 0x8000 >> int(error)


def blocking(device: Device, alert: Alert) -> bool:
    """Whether this alert stops the printer now."""
    return alert.info.ipp_severity == "error" or device.waiting_on == (alert.kind, alert.subunit)


def severity(device: Device, alert: Alert) -> AlertSeverity:
    """prtAlertSeverityLevel as the printer means it now: the conditions table's severity,
    raised to critical while the condition stops the printer (a needed empty tray)."""
    return AlertSeverity.CRITICAL if blocking(device, alert) else alert.info.severity


def host_status(device: Device) -> HostStatus:
    bits = 0
    stopping = False
    for alert in device.alerts:
        if alert.info.hr_error is not None:
            bits |= hr_bit(alert.info.hr_error)
        if blocking(device, alert):
            stopping = True
            if alert.kind is ConditionKind.TRAY_EMPTY:
                bits |= hr_bit(HrPrinterError.NO_PAPER)
    state = device.state
    if state is PrinterState.STOPPED:
        if not stopping:
            bits |= hr_bit(HrPrinterError.OFFLINE)
        return HostStatus(HrDeviceStatus.DOWN, HrPrinterStatus.OTHER, bits)
    printer = HrPrinterStatus.PRINTING if state is PrinterState.PROCESSING else HrPrinterStatus.IDLE
    status = HrDeviceStatus.WARNING if device.alerts else HrDeviceStatus.RUNNING
    return HostStatus(status, printer, bits)


class AlertCounters:
    """The running counts RFC 3805 keeps about the alert table, from power-on (not persistent):
    prtAlertAllEvents (rows added), prtAlertCriticalEvents (rows that are or became critical),
    and prtGeneralConfigChanges ("any action that results in a row being added or deleted from
    any table in the Printer MIB", and changes of administrator-set objects)."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.all_events = 0
        self.critical_events = 0
        self.config_changes = 0
        self._rows: set[int] = set()
        self._critical: set[int] = set()
        self._sync()
        device.events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.kind in ("alert.added", "alert.removed", "printer.state"):
            self._sync()
        elif event.kind == "identity.changed":
            self.config_changes += 1

    def _sync(self) -> None:
        alerts = {alert.index: alert for alert in self.device.alerts}
        added = alerts.keys() - self._rows
        self.all_events += len(added)
        self.config_changes += len(added) + len(self._rows - alerts.keys())
        self._rows = set(alerts)
        for index, alert in alerts.items():
            critical = severity(self.device, alert) is AlertSeverity.CRITICAL
            if critical and index not in self._critical:
                self._critical.add(index)
                self.critical_events += 1
        self._critical &= self._rows
