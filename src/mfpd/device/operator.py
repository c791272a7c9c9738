"""What an operator does at the device: raise and clear faults, refill, as `mfpd fault`, the
web UI's operator actions and /api/v1/actions do it."""

from __future__ import annotations

from mfpd.device.alerts import FAULTS as FAULTS
from mfpd.device.alerts import ConditionKind
from mfpd.device.machine import MANUAL_FAULTS, Device, DeviceError
from mfpd.device.scanner import CHART, Sheet


def apply_fault(device: Device, kind: str, clear: bool, target: str | None) -> str:
    """An operator fault, as `mfpd fault` (and later the web UI and SNMP) raise it."""
    if kind not in FAULTS:
        raise DeviceError(f"unknown fault {kind!r} (one of: {', '.join(FAULTS)})")
    if kind.startswith(("feeder-", "platen-")):
        return _scanner_fault(device, kind, clear)
    condition = ConditionKind(kind) if kind in {k.value for k in MANUAL_FAULTS} else None
    if condition is not None:
        device.set_fault(condition, not clear)
        return f"{kind} {'cleared' if clear else 'raised'}"
    if kind == "tray-empty":
        trays = [device.find_tray(target)] if target else device.trays
        for tray in trays:
            device.set_tray_level(tray, tray.capacity if clear else 0)
        names = ", ".join(t.name for t in trays)
        return f"{names} {'refilled' if clear else 'emptied'}"
    supply = device.find_supply(target or "black")
    if clear:
        device.set_supply_level(supply, supply.capacity)
    elif kind == "toner-low":
        # Just under the warning threshold, the way a real cartridge crosses it.
        level = max(1, supply.capacity * supply.low_percent // 100 - 1)
        device.set_supply_level(supply, level)
    else:
        device.set_supply_level(supply, 0)
    return f"{supply.name} at {supply.percent}%"


# Sheets of the test chart `mfpd fault feeder-empty --clear` puts in the feeder, as `refill`
# fills a tray: a way to scan from the feeder without files.
CHART_SHEETS = 10


def _scanner_fault(device: Device, kind: str, clear: bool) -> str:
    scanner = device.scanner
    if kind == "feeder-jam":
        scanner.set_jammed(not clear)
        return f"feeder jam {'cleared' if clear else 'raised'}"
    if kind == "platen-cover-open":
        scanner.set_cover_open(not clear)
        return f"document feeder {'closed' if clear else 'raised'}"
    if clear:
        room = scanner.capacity - scanner.feeder_sheets
        scanner.load_feeder([Sheet(CHART)] * min(CHART_SHEETS, room))
        return f"feeder holds {scanner.feeder_sheets} sheets"
    scanner.clear(glass=False)
    return "feeder emptied"
