"""Printer MIB v2 (RFC 3805), printmib 1.3.6.1.2.1.43: every group of prtMIB2Compliance.

This file holds the general group (with the storage and device reference tables and the
localization table), the console (display buffer and lights) and the alert table, and
assembles the rest: paper handling (mib_printer_media), marking (mib_printer_marker), channels
and interpreters (mib_printer_channels). Every row is indexed by the printer's hrDeviceIndex
first (RFC 3805 section 2.2.1).

The alert table is device.alerts: rows appear and disappear with the conditions, with the
conditions table's codes and groups (device/alerts.py). `alert_varbinds` gives the objects of
printerV2Alert for one row (RFC 3805: prtAlertIndex, SeverityLevel, Group, GroupIndex,
Location, Code), for the notification originator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from mfpd.config import Config
from mfpd.device.alerts import Alert, AlertGroup
from mfpd.device.machine import Device, PrinterState
from mfpd.device.spool import Spool
from mfpd.services.snmp import (
    mib_printer_channels,
    mib_printer_marker,
    mib_printer_media,
)
from mfpd.services.snmp.mib import Oid, Syntax, Value, Writable
from mfpd.services.snmp.mib_channels import Channels
from mfpd.services.snmp.mib_host import DISK_DEVICE, NETWORK_DEVICE, RAM_STORAGE, SPOOL_STORAGE
from mfpd.services.snmp.mib_printer_media import HR_DEVICE, PRINTMIB
from mfpd.services.snmp.mib_status import AlertCounters, HrDeviceStatus, host_status, severity
from mfpd.services.snmp.mib_values import identity_writer, row, string_check, text, ticks

GENERAL_ENTRY = (*PRINTMIB, 5, 1, 1)
STORAGE_REF_ENTRY = (*PRINTMIB, 5, 2, 1)
DEVICE_REF_ENTRY = (*PRINTMIB, 5, 3, 1)
LOCALIZATION_ENTRY = (*PRINTMIB, 7, 1, 1)
DISPLAY_BUFFER_ENTRY = (*PRINTMIB, 16, 5, 1)
LIGHT_ENTRY = (*PRINTMIB, 17, 6, 1)
ALERT_ENTRY = (*PRINTMIB, 18, 1, 1)

LOCALIZATION = 1  # the one prtLocalizationEntry: en-US, UTF-8
UTF8 = 106  # IANACharset csUTF8; CUPS insists on an INTEGER here
NOT_RESETTING = 3  # PrtGeneralResetTC
CONSOLE_ENABLED = 3  # PrtConsoleDisableTC
OFF = 4  # PresentOnOff
DISPLAY_LINES = 2
DISPLAY_CHARS = 40
GREEN = 5  # PrtConsoleColorTC
ORANGE = 10
BLINK = (500, 500)  # on and off milliseconds (RFC 3805 prtConsoleOnTime/OffTime)
STEADY = (1000, 0)
DARK = (0, 0)

# PrtAlertTrainingLevelTC (IANA-PRINTER-MIB): "replacing a toner cartridge" is its example of
# trained(4); "reloading paper trays or emptying output bins" of untrained(3).
UNTRAINED = 3
TRAINED = 4
TRAINING = {AlertGroup.MARKER: TRAINED, AlertGroup.MARKER_SUPPLIES: TRAINED}
LOCATION_UNKNOWN = -2  # prtAlertLocation

# The administrator-set general objects (RFC 3805: OCTET STRING (SIZE(0..127))), by column.
WRITABLE_FIELDS = {4: "current_operator", 5: "service_person", 16: "printer_name"}
GENERAL_TEXT_MAX = 127


def _alert_index(alert: Alert) -> Oid:
    return (HR_DEVICE, alert.index)


def _group_index(alert: Alert) -> int:
    # "If this other index variable is present in the table that generated the alert, it will
    # be used ... Otherwise, this value shall be -1" (prtAlertGroupIndex): the general group
    # is indexed by hrDeviceIndex alone.
    return -1 if alert.info.group is AlertGroup.GENERAL_PRINTER else alert.subunit


def alert_columns(device: Device, alert: Alert) -> dict[int, Value]:
    """One prtAlertEntry: column number -> value."""
    return {
        1: Value.integer(alert.index),
        2: Value.integer(int(severity(device, alert))),
        3: Value.integer(TRAINING.get(alert.info.group, UNTRAINED)),
        4: Value.integer(int(alert.info.group)),
        5: Value.integer(_group_index(alert)),
        6: Value.integer(LOCATION_UNKNOWN),
        7: Value.integer(int(alert.info.code)),
        8: text(alert.description),
        # "The value of sysUpTime at the time that this alert was generated."
        9: ticks(alert.time - device.started_at),
    }


def alert_varbinds(device: Device, alert: Alert) -> list[tuple[Oid, Value]]:
    """The OBJECTS of printerV2Alert (1.3.6.1.2.1.43.18.2.0.1, RFC 3805) for one alert row:
    prtAlertIndex, prtAlertSeverityLevel, prtAlertGroup, prtAlertGroupIndex,
    prtAlertLocation, prtAlertCode, each instance .hrDeviceIndex.prtAlertIndex."""
    columns = alert_columns(device, alert)
    return [((*ALERT_ENTRY, c, *_alert_index(alert)), columns[c]) for c in (1, 2, 4, 5, 6, 7)]


def display_lines(device: Device) -> list[str]:
    """The front panel: the state line every protocol shows (IPP printer-state-message, PJL
    DISPLAY), then the first other condition, as a panel's second line lists it."""
    first = device.display
    second = next((a.description for a in device.alerts if a.description != first), "")
    return [first, second]


class PrinterMib:
    def __init__(
        self,
        device: Device,
        config: Config,
        channels: Channels,
        spool: Spool | None = None,
        counters: AlertCounters | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self.config = config
        self.channels = channels
        self.spool = spool
        self.counters = counters or AlertCounters(device)
        self.clock = clock
        # prtMarkerPowerOnCount counts from this start (RFC 3805).
        self.power_on_impressions = device.counters.impressions

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        device = self.device
        yield from self._general()
        yield from self._references()
        yield from mib_printer_media.covers(device)
        yield from row(
            LOCALIZATION_ENTRY,
            (HR_DEVICE, LOCALIZATION),
            {2: text("en", 2), 3: text("US", 2), 4: Value.integer(UTF8)},
        )
        yield from mib_printer_media.inputs(device)
        yield from mib_printer_media.outputs(device)
        yield from mib_printer_marker.marker(device, self.power_on_impressions)
        yield from mib_printer_marker.supplies(device)
        yield from mib_printer_marker.colorant_table(device)
        yield from mib_printer_media.media_paths(device, self.config)
        yield from mib_printer_channels.channels(device, self.spool, self.channels.current())
        yield from mib_printer_channels.interpreters(device, mib_printer_marker.DPI)
        yield from self._console()
        for alert in device.alerts:
            yield from row(ALERT_ENTRY, _alert_index(alert), alert_columns(device, alert))

    def _general(self) -> Iterator[tuple[Oid, Value]]:
        identity = self.device.identity
        default_tray = self.device.tray_for_media(self.config.engine.default_media)
        yield from row(
            GENERAL_ENTRY,
            (HR_DEVICE,),
            {
                1: Value.counter32(self.counters.config_changes),
                2: Value.integer(LOCALIZATION),
                3: Value.integer(NOT_RESETTING),
                4: text(identity.current_operator, GENERAL_TEXT_MAX),
                5: text(identity.service_person, GENERAL_TEXT_MAX),
                6: Value.integer(default_tray.index),
                7: Value.integer(self.device.bins[0].index if self.device.bins else 1),
                8: Value.integer(mib_printer_marker.MARKER_INDEX),
                9: Value.integer(1),  # the simplex path
                10: Value.integer(LOCALIZATION),
                11: Value.integer(DISPLAY_LINES),
                12: Value.integer(DISPLAY_CHARS),
                13: Value.integer(CONSOLE_ENABLED),
                14: Value.integer(OFF),  # no start-up page
                15: Value.integer(OFF),  # no banner page
                16: text(identity.name, GENERAL_TEXT_MAX),
                17: text(identity.serial_number),
                18: Value.counter32(self.counters.critical_events),
                19: Value.counter32(self.counters.all_events),
            },
        )

    def _references(self) -> Iterator[tuple[Oid, Value]]:
        # prtStorageRefTable / prtDeviceRefTable: which Host Resources rows this printer uses
        # (INDEX hrStorageIndex or hrDeviceIndex, then a sequence number).
        for storage in (RAM_STORAGE, SPOOL_STORAGE):
            yield (*STORAGE_REF_ENTRY, 2, storage, 1), Value.integer(HR_DEVICE)
        for hr_device in (HR_DEVICE, NETWORK_DEVICE, DISK_DEVICE):
            yield (*DEVICE_REF_ENTRY, 2, hr_device, 1), Value.integer(HR_DEVICE)

    def _console(self) -> Iterator[tuple[Oid, Value]]:
        for number, line in enumerate(display_lines(self.device), 1):
            yield (*DISPLAY_BUFFER_ENTRY, 2, HR_DEVICE, number), text(line)
        state = self.device.state
        status = host_status(self.device).device_status
        ready = {PrinterState.IDLE: STEADY, PrinterState.PROCESSING: BLINK}.get(state, DARK)
        attention = {HrDeviceStatus.DOWN: STEADY, HrDeviceStatus.WARNING: BLINK}.get(status, DARK)
        for number, (on_off, color, description) in enumerate(
            ((ready, GREEN, "Ready"), (attention, ORANGE, "Attention")), 1
        ):
            yield from row(
                LIGHT_ENTRY,
                (HR_DEVICE, number),
                {
                    2: Value.integer(on_off[0]),
                    3: Value.integer(on_off[1]),
                    4: Value.integer(color),
                    5: text(description),
                },
            )

    def writable(self) -> dict[Oid, Writable]:
        table: dict[Oid, Writable] = {}
        for column, field in WRITABLE_FIELDS.items():
            table[(*GENERAL_ENTRY, column, HR_DEVICE)] = Writable(
                Syntax.OCTET_STRING,
                string_check(GENERAL_TEXT_MAX, what=field.replace("_", " ")),
                identity_writer(self.device, field),
            )
        return table
