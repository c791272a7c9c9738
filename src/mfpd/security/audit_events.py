"""What feeds the audit log: the device's event bus (jobs that end, SNMP authentication
failures, identity edits), the settings diff of a configuration change (secrets masked),
the IP filter's drops summarised per rule per minute, and the almost-full warning.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mfpd.device.alerts import ConditionKind
from mfpd.device.events import Event, EventBus
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import Device
from mfpd.security import audit_log
from mfpd.security.audit_log import AuditEntry, AuditLog

MASK = "********"
# Keys whose values are secrets wherever they appear in the settings document.
_SECRET_NAMES = ("auth_key", "priv_key", "community", "read_community", "write_community")
_SECRET_WORDS = ("password", "passcode", "secret", "psk", "pre_shared_key")
_FINAL = (JobState.COMPLETED, JobState.CANCELED, JobState.ABORTED)


@dataclass(frozen=True)
class Actor:
    """Who made a change and from where, for events the bus reports without saying."""

    user: str = ""
    address: str = ""
    interface: str = ""


class AuditFeed:
    """Turns what the device reports into audit entries, and the ring's fill into the
    audit-log-almost-full condition of the device."""

    def __init__(self, log: AuditLog, device: Device) -> None:
        self.log = log
        self.device = device
        self._actor: Actor | None = None
        # The gate (security/gate.py) reports each refused connection or datagram here.
        self.drops = FilterDrops(log)
        self.snmp_failures = FailureBudget(log, "snmp", audit_log.SNMPV3)
        self._unsubscribe: list[Callable[[], None]] = []

    def follow(self, bus: EventBus) -> None:
        self._unsubscribe.append(bus.subscribe(self._on_event))
        self._unsubscribe.append(self.log.listen(self._on_entry))
        self._warn()

    def close(self) -> None:
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe.clear()

    @contextlib.contextmanager
    def acting(self, actor: Actor) -> Iterator[None]:
        """Attribute the changes the bus reports meanwhile (synchronously) to `actor`."""
        previous, self._actor = self._actor, actor
        try:
            yield
        finally:
            self._actor = previous

    def record_as(
        self,
        actor: Actor,
        event: str,
        outcome: str = "success",
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """An entry for what `actor` did (a request's user, peer and listener)."""
        return self.log.record(
            event, user=actor.user, address=actor.address, interface=actor.interface,
            outcome=outcome, **(details or {}),
        )  # fmt: skip

    def exported(self, up_to: int) -> None:
        """A full export: the warning clears, as on the device when the log is downloaded."""
        self.log.mark_exported(up_to)
        self._warn()

    def _on_entry(self, entry: AuditEntry) -> None:
        self._warn()

    def _warn(self) -> None:
        self.device.set_controller_condition(
            ConditionKind.AUDIT_LOG_ALMOST_FULL, self.log.almost_full
        )

    def _on_event(self, event: Event) -> None:
        data = event.data
        if event.kind == "job.state":
            job = data.get("job")
            if isinstance(job, Job) and job.state in _FINAL:
                self.print_job(job)
        elif event.kind == "scan.state":
            job = data.get("job")
            if isinstance(job, Job) and job.state in _FINAL:
                self.scan_job(job)
        elif event.kind == "snmp.auth-failure":
            # RFC 3414 3.2 (USM) or a wrong community: the device's SNMPv3 event. Datagrams
            # from forged addresses cost nothing to send: past a budget, one summary a minute.
            if not self.snmp_failures.admit(str(data.get("peer", ""))):
                return
            self.log.record(
                "login-failure", user=str(data.get("user", "")), address=str(data.get("peer", "")),
                interface="snmp", outcome="failure", event_id=audit_log.SNMPV3,
                reason=str(data.get("reason", "")), version=str(data.get("version", "")),
            )  # fmt: skip
        elif event.kind == "identity.changed":
            changes = data.get("changes") or {}
            old = data.get("old") or {}
            actor = self._actor or Actor(interface="device")
            for key in sorted(changes):
                self.config_change(actor, f"identity.{key}", old.get(key), changes[key])

    def flush(self, everything: bool = False) -> None:
        """The daemon's timer (and its stop, with everything): write the summaries whose
        minute is over."""
        self.drops.flush(everything)
        self.snmp_failures.flush(everything)

    def print_job(self, job: Job) -> None:
        self.log.record(
            "print-job", user=job.user, address=job.originating_host, interface=job.source,
            outcome=job.state.value, job=job.id, name=job.name[:128], format=job.format,
            bytes=job.bytes, impressions=job.impressions_completed,
            reasons=list(job.state_reasons),
        )  # fmt: skip

    def scan_job(self, job: Job) -> None:
        self.log.record(
            "scan-job", user=job.user, address=job.originating_host, interface=job.source,
            outcome=job.state.value, job=job.id, name=job.name[:128], format=job.format,
            bytes=job.bytes, images=job.impressions_completed,
            destinations=list(job.attributes.get("destinations", []))[:16],
            reasons=list(job.state_reasons),
        )  # fmt: skip

    def config_change(self, actor: Actor, key: str, old: Any, new: Any) -> None:
        self.log.record(
            "config-change", user=actor.user, address=actor.address,
            interface=actor.interface, event_id=config_event_id(key), key=key,
            old=mask(key, old), new=mask(key, new),
        )  # fmt: skip

    def credential_change(self, actor: Actor, key: str, **details: Any) -> None:
        """The administrator's password or an API token: recorded, never shown."""
        self.log.record(
            "config-change", user=actor.user, address=actor.address,
            interface=actor.interface, event_id=audit_log.NETWORK_SECURITY_SETTING, key=key,
            new=MASK, **details,
        )  # fmt: skip

    def settings_changed(self, actor: Actor, before: dict[str, Any], after: dict[str, Any]) -> int:
        """One entry per changed key of the settings document; returns how many."""
        changes = diff(before, after)
        for key, (old, new) in changes.items():
            self.config_change(actor, key, old, new)
        return len(changes)


def config_event_id(key: str) -> int:
    if key.startswith("services.snmp"):
        return audit_log.SNMPV3
    if key.startswith("ip_filter"):
        return audit_log.IP_FILTERING
    if key.startswith(("security", "tls", "web", "services.https")):
        return audit_log.NETWORK_SECURITY_SETTING
    return audit_log.DEVICE_CONFIGURATION


def _secret(name: str) -> bool:
    name = name.lower()
    return name in _SECRET_NAMES or any(word in name for word in _SECRET_WORDS)


def mask(key: str, value: Any) -> Any:
    """The value as the audit log may show it: secrets (at any depth) as a mask."""
    if _secret(key.rsplit(".", 1)[-1]):
        return MASK if value not in (None, "") else value
    if isinstance(value, dict):
        return {k: mask(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(key, v) if isinstance(v, dict | list) else v for v in value]
    return value


def diff(before: Any, after: Any, prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """The leaves that differ, by dotted key; a list that differs is one leaf."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: dict[str, tuple[Any, Any]] = {}
        for key in sorted(set(before) | set(after), key=str):
            found.update(diff(before.get(key), after.get(key), f"{prefix}{key}."))
        return found
    if before != after:
        return {prefix.rstrip("."): (before, after)}
    return {}


@dataclass
class _Minute:
    start: float
    count: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    service: str = ""
    protocol: str = ""
    action: str = "drop"


class FilterDrops:
    """IP-filter drops and rejects, one audit entry per rule per minute (a flood must not
    wash the ring out): the gate calls `drop()` for each packet or connection it refuses,
    and `flush()` once a minute (the daemon's timer) writes the minutes that are over."""

    MAX_SOURCES = 10

    def __init__(self, log: AuditLog, clock: Callable[[], float] = time.time) -> None:
        self.log = log
        self._clock = clock
        self._open: dict[int, _Minute] = {}

    def drop(
        self, rule: int, source: str, service: str, protocol: str, action: str = "drop"
    ) -> None:
        now = self._clock()
        minute = now - now % 60
        current = self._open.get(rule)
        if current is not None and current.start != minute:
            self._write(rule, current)
            current = None
        if current is None:
            current = self._open[rule] = _Minute(minute, service=service, protocol=protocol)
        current.count += 1
        current.action = action
        if source in current.sources or len(current.sources) < self.MAX_SOURCES:
            current.sources[source] = current.sources.get(source, 0) + 1

    def flush(self, everything: bool = False) -> None:
        now = self._clock()
        for rule, minute in list(self._open.items()):
            if everything or now >= minute.start + 60:
                self._write(rule, minute)
                del self._open[rule]

    def _write(self, rule: int, minute: _Minute) -> None:
        first = next(iter(minute.sources), "")
        self.log.record(
            "ip-filter-drop", address=first, interface=minute.service, outcome="dropped",
            rule=rule, count=minute.count, action=minute.action, protocol=minute.protocol,
            minute=audit_log.iso_time(minute.start), sources=minute.sources,
        )  # fmt: skip


class FailureBudget:
    """Failed authentications that anybody can send in bulk (SNMP over UDP): the first
    `per_minute` of each minute are entries of their own, the rest one summary entry for the
    minute (count and sources), so a flood cannot wash the ring out."""

    MAX_SOURCES = 10

    def __init__(
        self,
        log: AuditLog,
        interface: str,
        event_id: int,
        per_minute: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.interface = interface
        self.event_id = event_id
        self.per_minute = per_minute
        self._clock = clock
        self._minute = 0.0
        self._recorded = 0
        self._suppressed: dict[str, int] = {}
        self._count = 0

    def admit(self, source: str) -> bool:
        now = self._clock()
        minute = now - now % 60
        if minute != self._minute:
            self._write()
            self._minute, self._recorded = minute, 0
        if self._recorded < self.per_minute:
            self._recorded += 1
            return True
        self._count += 1
        address = source.rsplit(":", 1)[0] if source.count(":") == 1 else source
        if address in self._suppressed or len(self._suppressed) < self.MAX_SOURCES:
            self._suppressed[address] = self._suppressed.get(address, 0) + 1
        return False

    def flush(self, everything: bool = False) -> None:
        if everything or self._clock() >= self._minute + 60:
            self._write()

    def _write(self) -> None:
        if not self._count:
            return
        self.log.record(
            "login-failure", address=next(iter(self._suppressed), ""),
            interface=self.interface, outcome="failure", event_id=self.event_id,
            summary=True, count=self._count, sources=self._suppressed,
            minute=audit_log.iso_time(self._minute),
        )  # fmt: skip
        self._count = 0
        self._suppressed = {}
