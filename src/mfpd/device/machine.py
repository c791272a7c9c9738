"""The Device: the single source of truth every protocol reads (ARCHITECTURE.md).

It holds identity, trays, bins, supplies, counters, conditions (the alert table), the
front-panel text and the printer state, and announces every change on its event bus.
It does no I/O: persistence and networking subscribe to its events.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mfpd.config import Config
from mfpd.device.alerts import Alert, AlertSeverity, ConditionKind, pjl_paper_code
from mfpd.device.events import EventBus
from mfpd.device.identity import EDITABLE, Identity, stand_in_uuid
from mfpd.device.media import OutputBin, Tray
from mfpd.device.network import Network
from mfpd.device.scanner import Scanner
from mfpd.device.supplies import Supply

# The scanner's conditions (device/scanner.py): warnings the idle panel shows.
_SCANNER_CONDITIONS = (ConditionKind.FEEDER_JAM, ConditionKind.PLATEN_COVER_OPEN)

# Faults an operator (or a test) can raise by hand; the others follow from levels.
MANUAL_FAULTS = (ConditionKind.JAM, ConditionKind.DOOR_OPEN, ConditionKind.OFFLINE)


class PrinterState(enum.StrEnum):
    """printer-state (RFC 8011 5.4.11) / hrPrinterStatus (RFC 2790)."""

    IDLE = "idle"
    PROCESSING = "processing"
    STOPPED = "stopped"

    @property
    def ipp(self) -> int:
        return {"idle": 3, "processing": 4, "stopped": 5}[self.value]


@dataclass
class Counters:
    impressions: int = 0
    sheets: int = 0
    color_impressions: int = 0
    mono_impressions: int = 0
    jobs_completed: int = 0


@dataclass(frozen=True)
class Reason:
    """One printer-state-reasons value: an IPP keyword and its RFC 8011 severity suffix."""

    keyword: str
    severity: str  # report, warning, error

    def __str__(self) -> str:
        return f"{self.keyword}-{self.severity}"


class DeviceError(Exception):
    """An operator action that names something the device does not have."""


@dataclass
class Console:
    """The virtual front panel: PJL RDYMSG/OPMSG/STMSG and the state line."""

    ready_message: str = ""  # PJL RDYMSG replaces "READY" while the device is ready
    operator_message: str = ""  # PJL OPMSG: shown, device offline until cleared
    status_message: str = ""  # PJL STMSG: shown until the next job or clear


class Device:
    def __init__(
        self,
        identity: Identity,
        trays: list[Tray],
        supplies: list[Supply],
        bins: list[OutputBin],
        *,
        clock: Callable[[], float] = time.time,
        auto_empty_bins: bool = True,
    ) -> None:
        self.identity = identity
        self.auto_empty_bins = auto_empty_bins
        self.trays = trays
        self.supplies = supplies
        self.bins = bins
        self.counters = Counters()
        self.console = Console()
        self.events = EventBus()
        self._clock = clock
        self.started_at = clock()
        self._faults: set[ConditionKind] = set()
        # Conditions the controller raises about itself (the audit log filling up).
        self._controller: set[ConditionKind] = set()
        self._alerts: dict[tuple[ConditionKind, int], Alert] = {}
        self._next_alert = 1
        self._busy = False
        self._paused = False
        self.hold_new_jobs = False
        self._accepting = True  # RFC 3998 Enable-Printer / Disable-Printer
        self._identity_edits: dict[str, str] = {}
        # When the state or the configuration last changed (printer-state-change-time and
        # printer-config-change-time in IPP; sysUpTime-based in SNMP).
        self.state_changed_at = self.started_at
        self.config_changed_at = self.started_at
        # A condition the current job is blocked on (an empty tray turns into an error).
        self._waiting_on: tuple[ConditionKind, int] | None = None
        # Counts the changes made through the methods below (all there are): a reader that
        # keeps what it built from the device (IPP's printer attributes) compares it.
        self.revision = 0
        # The DNS-SD instance name mDNS holds now (IPP printer-dns-sd-name), set by the mDNS
        # service once its name is its own (after a conflict: "XRX-WC7755 (2)"); empty while
        # the device is not advertised.
        self.dns_sd_name = ""
        # The glass and the document feeder; their changes run through _changed, so their
        # conditions join the one alert table.
        self.scanner = Scanner(self._changed)
        self.network = Network(self.events)
        self._sync_conditions()

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> PrinterState:
        if self._paused or self._waiting_on is not None or self._has_error():
            return PrinterState.STOPPED
        return PrinterState.PROCESSING if self._busy else PrinterState.IDLE

    def _has_error(self) -> bool:
        return any(alert.info.ipp_severity == "error" for alert in self._alerts.values())

    @property
    def can_print(self) -> bool:
        """Whether the engine may start or continue a page now."""
        return not self._paused and not self._has_error()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def waiting_on(self) -> tuple[ConditionKind, int] | None:
        """The condition (kind, subunit) the current job is blocked on, e.g. an empty tray it
        needs: that tray-empty warning is then an error (SNMP reports it critical)."""
        return self._waiting_on

    @property
    def accepting(self) -> bool:
        """Whether new jobs are accepted (printer-is-accepting-jobs)."""
        return self._accepting

    @property
    def reasons(self) -> list[Reason]:
        found: dict[str, Reason] = {}
        for key, alert in sorted(self._alerts.items(), key=lambda kv: kv[1].index):
            severity = alert.info.ipp_severity
            if key == self._waiting_on:
                severity = "error"
            keyword = alert.info.ipp_reason
            rank = ("report", "warning", "error")
            if keyword not in found or rank.index(severity) > rank.index(found[keyword].severity):
                found[keyword] = Reason(keyword, severity)
        if self._paused:
            found["paused"] = Reason("paused", "report")
        if self.hold_new_jobs:
            found["hold-new-jobs"] = Reason("hold-new-jobs", "report")
        return list(found.values())

    @property
    def alerts(self) -> list[Alert]:
        return sorted(self._alerts.values(), key=lambda alert: alert.index)

    @property
    def display(self) -> str:
        """What the front panel shows now (prtConsoleDisplayBufferText, PJL DISPLAY)."""
        if self.console.operator_message:
            return self.console.operator_message
        worst = self._worst_alert()
        if worst is not None and (
            worst.info.severity == AlertSeverity.CRITICAL or self._waiting_on is not None
        ):
            return worst.description
        if self.console.status_message:
            return self.console.status_message
        if self._busy:
            return "PRINTING"
        # The scanner's conditions are warnings (printing goes on) that the panel still
        # shows while the printer is idle, as the device asks to clear the feeder.
        for alert in self.alerts:
            if alert.kind in _SCANNER_CONDITIONS:
                return alert.description
        if self.console.ready_message:
            return self.console.ready_message
        return "READY"

    def pjl_status(self) -> tuple[int, str, bool]:
        """PJL INFO STATUS: (CODE, DISPLAY, ONLINE), from the same conditions as IPP and SNMP."""
        worst = self._worst_alert()
        online = ConditionKind.OFFLINE not in self._faults and not self.console.operator_message
        if worst is not None and (
            worst.info.severity == AlertSeverity.CRITICAL or self._waiting_on is not None
        ):
            return self._pjl_code(worst), self.display, online
        if not online:
            return 10002, self.display, False
        if self._busy:
            return 10023, self.display, True
        if worst is not None:
            return self._pjl_code(worst), self.display, True
        return 10001, self.display, True

    def _pjl_code(self, alert: Alert) -> int:
        if alert.kind is ConditionKind.TRAY_EMPTY:
            tray = self.trays[alert.subunit - 1]
            waiting = (alert.kind, alert.subunit) == self._waiting_on
            return pjl_paper_code(tray.index, tray.media, foreground=waiting)
        return alert.info.pjl_code

    def _worst_alert(self) -> Alert | None:
        alerts = self.alerts
        if self._waiting_on is not None and self._waiting_on in self._alerts:
            return self._alerts[self._waiting_on]
        critical = [a for a in alerts if a.info.severity == AlertSeverity.CRITICAL]
        if critical:
            return critical[0]
        return alerts[0] if alerts else None

    def set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._changed(lambda: setattr(self, "_busy", busy))

    def set_paused(self, paused: bool) -> None:
        if paused != self._paused:
            self._changed(lambda: setattr(self, "_paused", paused))

    def set_hold_new_jobs(self, hold: bool) -> None:
        """PWG 5100.11 Hold-New-Jobs: new jobs wait, held, until released."""
        if hold != self.hold_new_jobs:
            self._changed(lambda: setattr(self, "hold_new_jobs", hold))

    def set_accepting(self, accepting: bool) -> None:
        if accepting != self._accepting:
            self._changed(lambda: setattr(self, "_accepting", accepting))

    def set_waiting_on(self, condition: tuple[ConditionKind, int] | None) -> None:
        if condition != self._waiting_on:
            self._changed(lambda: setattr(self, "_waiting_on", condition))

    def _changed(self, mutate: Callable[[], None]) -> None:
        before = (self.state, [str(r) for r in self.reasons], self.display, self._accepting)
        scanner_before = self._scanner_glance()
        mutate()
        self.revision += 1
        self._sync_conditions()
        after = (self.state, [str(r) for r in self.reasons], self.display, self._accepting)
        if after != before:
            self.state_changed_at = self._clock()
            self.events.publish(
                "printer.state",
                state=after[0].value,
                reasons=after[1],
                display=after[2],
                accepting=after[3],
            )
        scanner_after = self._scanner_glance()
        if scanner_after != scanner_before:
            self.events.publish("scanner.state", **self.scanner.status())

    def _scanner_glance(self) -> tuple[object, ...] | None:
        scanner = getattr(self, "scanner", None)
        if scanner is None:
            return None
        return (
            scanner.state, scanner.adf_state, len(scanner.feeder), scanner.glass,
            sum(scanner.images.values()),
        )  # fmt: skip

    # -- conditions ----------------------------------------------------------------------

    def _wanted_conditions(self) -> dict[tuple[ConditionKind, int], str]:
        wanted: dict[tuple[ConditionKind, int], str] = {}
        for fault in self._faults:
            wanted[(fault, 1)] = {
                ConditionKind.JAM: "Paper path",
                ConditionKind.DOOR_OPEN: "Front door",
                ConditionKind.OFFLINE: "Printer",
            }.get(fault, "Printer")
        for kind in self._controller:
            wanted[(kind, 1)] = "Controller"
        if self.console.operator_message:
            # PJL OPMSG takes the printer offline until cleared (HP PJL Technical Reference,
            # 10-4): the same offline condition for IPP, SNMP and PJL.
            wanted[(ConditionKind.OFFLINE, 1)] = "Printer"
        for tray in self.trays:
            if tray.empty:
                wanted[(ConditionKind.TRAY_EMPTY, tray.index)] = tray.name
            elif tray.low:
                wanted[(ConditionKind.TRAY_LOW, tray.index)] = tray.name
        for supply in self.supplies:
            kinds = {
                "toner": (ConditionKind.TONER_EMPTY, ConditionKind.TONER_LOW),
                "opc": (ConditionKind.DRUM_OVER, ConditionKind.DRUM_LOW),
                "developer": (ConditionKind.DRUM_OVER, ConditionKind.DRUM_LOW),
                "fuser": (ConditionKind.DRUM_OVER, ConditionKind.DRUM_LOW),
                "waste": (ConditionKind.WASTE_FULL, ConditionKind.WASTE_ALMOST_FULL),
            }[supply.kind]
            if supply.empty:
                wanted[(kinds[0], supply.index)] = supply.name
            elif supply.low:
                wanted[(kinds[1], supply.index)] = supply.name
        for out in self.bins:
            if out.level >= out.capacity:
                wanted[(ConditionKind.BIN_FULL, out.index)] = out.name
        scanner = getattr(self, "scanner", None)  # None while __init__ builds it
        if scanner is not None and scanner.jammed:
            wanted[(ConditionKind.FEEDER_JAM, 1)] = "Document feeder"
        if scanner is not None and scanner.cover_open:
            wanted[(ConditionKind.PLATEN_COVER_OPEN, 1)] = "Document feeder"
        return wanted

    def _sync_conditions(self) -> None:
        wanted = self._wanted_conditions()
        for key in [k for k in self._alerts if k not in wanted]:
            alert = self._alerts.pop(key)
            self.events.publish("alert.removed", alert=alert)
        for key, name in wanted.items():
            if key not in self._alerts:
                alert = Alert(self._next_alert, key[0], key[1], name, self._clock())
                self._next_alert += 1
                self._alerts[key] = alert
                self.events.publish("alert.added", alert=alert)
        if self._waiting_on is not None and self._waiting_on not in self._alerts:
            self._waiting_on = None

    def set_fault(self, kind: ConditionKind, active: bool = True) -> None:
        if kind not in MANUAL_FAULTS:
            raise DeviceError(f"{kind.value} is not a manual fault")

        def mutate() -> None:
            if active:
                self._faults.add(kind)
            else:
                self._faults.discard(kind)

        self._changed(mutate)

    def set_controller_condition(self, kind: ConditionKind, active: bool = True) -> None:
        """A condition of the controller itself (not a fault an operator raises, not a
        level): it shows in every protocol's alert view like any other condition."""
        if active == (kind in self._controller):
            return

        def mutate() -> None:
            if active:
                self._controller.add(kind)
            else:
                self._controller.discard(kind)

        self._changed(mutate)

    def certificate_expiring(self, expiring: bool) -> None:
        """The device certificate expires soon, or has (security/tls.certificate_expiry): a
        controller condition, shown by every protocol as the device warns."""
        self.set_controller_condition(ConditionKind.CERTIFICATE_EXPIRING, expiring)

    @property
    def faults(self) -> frozenset[ConditionKind]:
        return frozenset(self._faults)

    # -- media and supplies --------------------------------------------------------------

    def find_tray(self, key: str) -> Tray:
        wanted = key.lower()
        for tray in self.trays:
            if wanted in (tray.key, str(tray.index), f"tray{tray.index}"):
                return tray
        raise DeviceError(f"no tray {key!r} (have: {', '.join(t.key for t in self.trays)})")

    def find_supply(self, key: str) -> Supply:
        wanted = key.lower()
        for supply in self.supplies:
            if wanted in (supply.key, supply.name.lower().replace(" ", "-"), str(supply.index)):
                return supply
        have = ", ".join(s.key for s in self.supplies)
        raise DeviceError(f"no supply {key!r} (have: {have})")

    def refill(self, target: str) -> list[str]:
        """Fill a tray or replace a supply; `all`, `trays`, `toner` and `supplies` do groups.

        Returns the names of what was refilled.
        """
        key = target.lower()
        trays: list[Tray] = []
        supplies: list[Supply] = []
        if key in ("all", "trays"):
            trays = list(self.trays)
        if key in ("all", "supplies"):
            supplies = list(self.supplies)
        if key == "toner":
            supplies = [s for s in self.supplies if s.kind == "toner"]
        bins = list(self.bins) if key in ("all", "bins") else []
        if not trays and not supplies and not bins:
            try:
                trays = [self.find_tray(key)]
            except DeviceError:
                try:
                    supplies = [self.find_supply(key)]
                except DeviceError:
                    names = [t.key for t in self.trays] + [s.key for s in self.supplies]
                    raise DeviceError(
                        f"no tray or supply {target!r} (have: all, trays, toner, supplies, "
                        f"bins, {', '.join(names)})"
                    ) from None

        def mutate() -> None:
            for tray in trays:
                tray.level = tray.capacity
            for supply in supplies:
                supply.level = supply.capacity
            for out in bins:
                out.level = 0

        self._changed(mutate)
        self.events.publish("device.levels")
        return [t.name for t in trays] + [s.name for s in supplies] + [b.name for b in bins]

    def set_tray_level(self, tray: Tray, level: int) -> None:
        self._changed(lambda: setattr(tray, "level", max(0, min(level, tray.capacity))))
        self.events.publish("device.levels")

    def set_supply_level(self, supply: Supply, level: int) -> None:
        self._changed(lambda: setattr(supply, "level", max(0, min(level, supply.capacity))))
        self.events.publish("device.levels")

    def empty_bins(self) -> None:
        def mutate() -> None:
            for out in self.bins:
                out.level = 0

        self._changed(mutate)

    def select_tray(self, media: str | None, tray_key: str | None) -> Tray | None:
        """The tray the next sheet comes from, or None when every candidate is empty."""
        if tray_key:
            tray = self.find_tray(tray_key)
            return None if tray.empty else tray
        for tray in self.trays:
            if (media is None or tray.media == media) and not tray.empty:
                return tray
        return None

    def tray_for_media(self, media: str | None) -> Tray:
        """The tray a job for `media` would wait on when nothing can feed it."""
        for tray in self.trays:
            if media is None or tray.media == media:
                return tray
        return self.trays[0]

    def print_impression(self, tray: Tray | None, color: bool, new_sheet: bool = True) -> None:
        """Account one impression: a sheet from `tray`, toner, drum, fuser and waste."""

        def mutate() -> None:
            if new_sheet and tray is not None:
                tray.level = max(0, tray.level - 1)
                self.counters.sheets += 1
                self._deliver_sheet()
            self.counters.impressions += 1
            if color:
                self.counters.color_impressions += 1
            else:
                self.counters.mono_impressions += 1
            for supply in self.supplies:
                black_or_color = supply.color == "black" or color
                if (supply.kind == "toner" and black_or_color) or supply.kind != "toner":
                    supply.consume()

        self._changed(mutate)
        self.events.publish("device.levels")

    def _deliver_sheet(self) -> None:
        """Put a printed sheet in the first bin with room (the offset tray takes the overflow)."""
        for out in self.bins:
            if out.level < out.capacity:
                out.level += 1
                if out.level == out.capacity and self.auto_empty_bins:
                    # Somebody collects the prints, as in a staffed office; without it the
                    # printer stops with output-area-full, as a real one does.
                    out.level = 0
                return

    # -- identity and console ------------------------------------------------------------

    def update_identity(self, **changes: str) -> None:
        """An administrator's change (IPP, SNMP, web); kept across restarts by snapshot()."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise DeviceError(f"not editable: {', '.join(sorted(unknown))}")
        before = {key: getattr(self.identity, key) for key in changes}
        self.identity = dataclasses.replace(self.identity, **changes)
        self._identity_edits.update(changes)
        self.revision += 1
        self.config_changed_at = self._clock()
        self.events.publish("identity.changed", changes=changes, old=before)

    def set_dns_sd_name(self, name: str) -> None:
        if name != self.dns_sd_name:
            self.dns_sd_name = name
            self.revision += 1

    def set_console(self, **changes: str) -> None:
        self._changed(lambda: _assign(self.console, changes))

    # -- persistence ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What survives a restart: levels, counters, manual faults, console, identity edits."""
        return {
            "counters": dataclasses.asdict(self.counters),
            "trays": {t.name: t.level for t in self.trays},
            "supplies": {s.name: s.level for s in self.supplies},
            "bins": {b.name: b.level for b in self.bins},
            "faults": sorted(f.value for f in self._faults),
            "console": dataclasses.asdict(self.console),
            "paused": self._paused,
            "accepting": self._accepting,
            "identity": dict(self._identity_edits),
            "scanner": self.scanner.snapshot(),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        counters = snap.get("counters", {})
        for name in dataclasses.asdict(self.counters):
            if isinstance(counters.get(name), int):
                setattr(self.counters, name, counters[name])
        for tray in self.trays:
            level = snap.get("trays", {}).get(tray.name)
            if isinstance(level, int):
                tray.level = max(0, min(level, tray.capacity))
        for supply in self.supplies:
            level = snap.get("supplies", {}).get(supply.name)
            if isinstance(level, int):
                supply.level = max(0, min(level, supply.capacity))
        for out in self.bins:
            level = snap.get("bins", {}).get(out.name)
            if isinstance(level, int):
                out.level = max(0, min(level, out.capacity))
        self._faults = {
            ConditionKind(f)
            for f in snap.get("faults", [])
            if f in {k.value for k in MANUAL_FAULTS}
        }
        _assign(
            self.console,
            {k: v for k, v in snap.get("console", {}).items() if isinstance(v, str)},
        )
        self._paused = bool(snap.get("paused", False))
        self._accepting = bool(snap.get("accepting", True))
        edits = snap.get("identity", {})
        edits = {k: v for k, v in edits.items() if k in EDITABLE and isinstance(v, str)}
        if edits:
            self.identity = dataclasses.replace(self.identity, **edits)
            self._identity_edits = edits
        scanner = snap.get("scanner")
        if isinstance(scanner, dict):
            self.scanner.restore(scanner)
        self._sync_conditions()
        self.revision += 1

    def status(self) -> dict[str, Any]:
        """The whole device as plain data: `mfpd status --json`, and later the web API."""
        return {
            "identity": dataclasses.asdict(self.identity),
            "state": self.state.value,
            "state_reasons": [str(r) for r in self.reasons] or ["none"],
            "display": self.display,
            "up_since": self.started_at,
            "accepting": self._accepting,
            "alerts": [
                {
                    "index": a.index,
                    "kind": a.kind.value,
                    "code": int(a.info.code),
                    "severity": a.info.severity.name.lower(),
                    "group": int(a.info.group),
                    "group_index": a.subunit,
                    "description": a.description,
                    "time": a.time,
                }
                for a in self.alerts
            ],
            "supplies": [
                {**dataclasses.asdict(s), "percent": s.percent, "key": s.key} for s in self.supplies
            ],
            "trays": [{**dataclasses.asdict(t), "key": t.key} for t in self.trays],
            "bins": [{**dataclasses.asdict(b), "key": b.key} for b in self.bins],
            "counters": dataclasses.asdict(self.counters),
            "scanner": self.scanner.status(),
            "network": self.network.status(),
        }


def _assign(target: object, changes: dict[str, str]) -> None:
    for name, value in changes.items():
        if not hasattr(target, name):
            raise DeviceError(f"unknown field {name!r}")
        setattr(target, name, value)


def build_device(config: Config) -> Device:
    ident = config.identity
    identity = Identity(**ident.model_dump())
    if not identity.uuid:
        identity = dataclasses.replace(identity, uuid=stand_in_uuid(identity.serial_number))
    trays = [
        Tray(i, t.name, t.media, t.media_type, t.capacity, min(t.level, t.capacity), t.low_level)
        for i, t in enumerate(config.trays, 1)
    ]
    supplies = [
        Supply(i, s.name, s.kind, s.color, s.capacity, min(s.level, s.capacity), s.low_percent)
        for i, s in enumerate(config.supplies, 1)
    ]
    bins = [OutputBin(i, b.name, b.capacity) for i, b in enumerate(config.bins, 1)]
    return Device(identity, trays, supplies, bins, auto_empty_bins=config.engine.auto_empty_bins)
