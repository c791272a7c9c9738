"""Printer MIB (RFC 3805) paper handling: covers, input trays, output bins, media paths.

Levels are the device's own counts, the numbers IPP's printer-input-tray and
printer-output-tray carry too; the -1 (other) / -2 (unknown) sentinels of RFC 3805 stand
where the device model knows nothing (media weight, a size name that is not self-describing).
Sub-unit status (PrtSubUnitStatusTC, RFC 3805) is built from the same alert rows the alert
table lists, so a tray's status and its alert never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from mfpd.config import Config
from mfpd.device.alerts import AlertGroup, AlertSeverity, ConditionKind
from mfpd.device.machine import Device, PrinterState
from mfpd.device.media import Tray
from mfpd.services.snmp.mib import Oid, Value
from mfpd.services.snmp.mib_status import severity
from mfpd.services.snmp.mib_values import row, text

PRINTMIB = (1, 3, 6, 1, 2, 1, 43)
HR_DEVICE = 1  # every Printer MIB row is indexed by the printer's hrDeviceIndex first

COVER_ENTRY = (*PRINTMIB, 6, 1, 1)
INPUT_ENTRY = (*PRINTMIB, 8, 2, 1)
OUTPUT_ENTRY = (*PRINTMIB, 9, 2, 1)
MEDIA_PATH_ENTRY = (*PRINTMIB, 13, 4, 1)

OTHER = -1
UNKNOWN = -2

# PrtSubUnitStatusTC (RFC 3805): availability in bits 0-2, then these flags.
AVAILABLE_IDLE = 0
AVAILABLE_ACTIVE = 4
NON_CRITICAL_ALERT = 8
CRITICAL_ALERT = 16
OFF_LINE = 32

# PresentOnOff (RFC 3805).
ON = 3
OFF = 4
NOT_PRESENT = 5

MICROMETERS = 4  # PrtMediaUnitTC
SHEETS = 8  # PrtCapacityUnitTC
SHEET_FEED_AUTO_REMOVABLE_TRAY = 3  # PrtInputTypeTC
SHEET_FEED_MANUAL = 5
UNREMOVABLE_BIN = 4  # PrtOutputTypeTC
FIRST_TO_LAST = 3  # PrtOutputStackingOrderTC
FACE_DOWN = 4  # PrtOutputPageDeliveryOrientationTC
IMPRESSIONS_PER_HOUR = 7  # PrtMediaPathMaxSpeedPrintUnitTC
LONG_EDGE_BINDING_DUPLEX = 3  # PrtMediaPathTypeTC
SIMPLEX = 5
COVER_OPEN = 3  # PrtCoverStatusTC
COVER_CLOSED = 4

# PWG 5101.1 self-describing size names end in "<width>x<height><unit>".
_SIZE = re.compile(r"_(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)(mm|in)$")
_MANUAL_TRAYS = ("bypass", "manual", "msi", "multi-purpose")


def media_size(name: str) -> tuple[int, int] | None:
    """(cross-feed, feed) in micrometers of a PWG 5101.1 media name, short edge first: the
    trays feed portrait, the PWG x/y orientation."""
    match = _SIZE.search(name)
    if match is None:
        return None
    scale = 1000 if match.group(3) == "mm" else 25400
    a, b = (round(float(match.group(i)) * scale) for i in (1, 2))
    return min(a, b), max(a, b)


def media_name(name: str) -> str:
    """prtInputMediaName: the size as an operator reads it ("ISO A4", "NA Letter")."""
    parts = name.split("_")
    if len(parts) < 3:
        return name
    size = parts[1].replace("-", " ")
    return f"{parts[0].upper()} {size.upper() if len(size) <= 3 else size.title()}"


def is_manual(tray: Tray) -> bool:
    return any(word in tray.key for word in _MANUAL_TRAYS)


def subunit_status(
    device: Device, groups: Iterable[AlertGroup], index: int | None, *, active: bool = False
) -> int:
    """PrtSubUnitStatusTC of one sub-unit from the alert rows that name it (`index` None:
    every row of the groups)."""
    wanted = set(groups)
    status = AVAILABLE_ACTIVE if active else AVAILABLE_IDLE
    for alert in device.alerts:
        if alert.info.group in wanted and (index is None or alert.subunit == index):
            if severity(device, alert) is AlertSeverity.CRITICAL:
                status |= CRITICAL_ALERT
            else:
                status |= NON_CRITICAL_ALERT
    if ConditionKind.OFFLINE in device.faults:
        status |= OFF_LINE
    return status


def covers(device: Device) -> Iterator[tuple[Oid, Value]]:
    # One front door: the DOOR_OPEN condition's group index is 1, this row.
    is_open = ConditionKind.DOOR_OPEN in device.faults
    yield from row(
        COVER_ENTRY,
        (HR_DEVICE, 1),
        {2: text("Front Door"), 3: Value.integer(COVER_OPEN if is_open else COVER_CLOSED)},
    )


def inputs(device: Device) -> Iterator[tuple[Oid, Value]]:
    trays = device.trays
    for tray in trays:
        size = media_size(tray.media)
        xfeed, feed = size if size is not None else (UNKNOWN, UNKNOWN)
        manual = is_manual(tray)
        # Auto tray switching (device.select_tray): the next tray holding the same media.
        later = trays[tray.index :] + trays[: tray.index - 1]
        following = next((t.index for t in later if t.media == tray.media), 0)
        kind = "Bypass Tray" if manual else "Paper Tray"
        yield from row(
            INPUT_ENTRY,
            (HR_DEVICE, tray.index),
            {
                2: Value.integer(SHEET_FEED_MANUAL if manual else SHEET_FEED_AUTO_REMOVABLE_TRAY),
                3: Value.integer(MICROMETERS),
                4: Value.integer(feed),
                5: Value.integer(xfeed),
                6: Value.integer(feed),
                7: Value.integer(xfeed),
                8: Value.integer(SHEETS),
                9: Value.integer(tray.capacity),
                10: Value.integer(tray.level),
                11: Value.integer(subunit_status(device, (AlertGroup.INPUT,), tray.index)),
                12: text(media_name(tray.media), 63),
                13: text(tray.name, 63),
                14: text(device.identity.make, 63),
                15: text(f"{tray.capacity}-Sheet {kind}", 63),
                16: text("", 63),
                17: text("", 32),
                18: text(tray.name),
                19: Value.integer(NOT_PRESENT),  # no lock
                20: Value.integer(UNKNOWN),  # media weight: not sensed
                21: text(tray.media_type, 63),
                22: text("", 63),  # media colour: not sensed
                23: Value.integer(1),  # single-part forms
                # With another tray to switch to the engine does so at once; without one the
                # job waits until someone loads paper ("other": wait forever).
                24: Value.integer(0 if following else OTHER),
                25: Value.integer(following),
            },
        )


def _media_extent(device: Device) -> tuple[int, int, int, int]:
    """(max feed, max cross-feed, min feed, min cross-feed) over the trays' media."""
    sizes = [s for s in (media_size(t.media) for t in device.trays) if s is not None]
    if not sizes:
        return UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN
    return (
        max(feed for _, feed in sizes),
        max(xfeed for xfeed, _ in sizes),
        min(feed for _, feed in sizes),
        min(xfeed for xfeed, _ in sizes),
    )


def outputs(device: Device) -> Iterator[tuple[Oid, Value]]:
    max_feed, max_xfeed, min_feed, min_xfeed = _media_extent(device)
    for out in device.bins:
        offset = "offset" in out.key
        yield from row(
            OUTPUT_ENTRY,
            (HR_DEVICE, out.index),
            {
                2: Value.integer(UNREMOVABLE_BIN),
                3: Value.integer(SHEETS),
                4: Value.integer(out.capacity),
                5: Value.integer(max(0, out.capacity - out.level)),
                6: Value.integer(subunit_status(device, (AlertGroup.OUTPUT,), out.index)),
                7: text(out.name, 63),
                8: text(device.identity.make, 63),
                9: text(f"{out.capacity}-Sheet Output Tray", 63),
                10: text("", 63),
                11: text("", 63),
                12: text(out.name),
                13: Value.integer(NOT_PRESENT),
                14: Value.integer(MICROMETERS),
                15: Value.integer(max_feed),
                16: Value.integer(max_xfeed),
                17: Value.integer(min_feed),
                18: Value.integer(min_xfeed),
                19: Value.integer(FIRST_TO_LAST),
                20: Value.integer(FACE_DOWN),
                21: Value.integer(NOT_PRESENT),  # bursting
                22: Value.integer(NOT_PRESENT),  # decollating
                23: Value.integer(NOT_PRESENT),  # page collation
                24: Value.integer(ON if offset else NOT_PRESENT),  # offset stacking
            },
        )


def media_paths(device: Device, config: Config) -> Iterator[tuple[Oid, Value]]:
    max_feed, max_xfeed, min_feed, min_xfeed = _media_extent(device)
    ppm = config.engine.speed_ppm
    jammed = ConditionKind.JAM in device.faults
    offline = ConditionKind.OFFLINE in device.faults
    busy = device.state is PrinterState.PROCESSING
    for index, kind, description in (
        (1, SIMPLEX, "Simplex paper path"),
        (2, LONG_EDGE_BINDING_DUPLEX, "Duplex paper path"),
    ):
        status = AVAILABLE_ACTIVE if busy else AVAILABLE_IDLE
        # A jam is in the paper path (the condition is reported as generalPrinter).
        status |= CRITICAL_ALERT if jammed else 0
        status |= OFF_LINE if offline else 0
        yield from row(
            MEDIA_PATH_ENTRY,
            (HR_DEVICE, index),
            {
                2: Value.integer(IMPRESSIONS_PER_HOUR),
                3: Value.integer(MICROMETERS),
                # speed_ppm 0 prints instantly: no limit, "other".
                4: Value.integer(ppm * 60 if ppm else OTHER),
                5: Value.integer(max_feed),
                6: Value.integer(max_xfeed),
                7: Value.integer(min_feed),
                8: Value.integer(min_xfeed),
                9: Value.integer(kind),
                10: text(description),
                11: Value.integer(status),
            },
        )
