"""The device's event log: jobs, alerts, configuration changes, logins and services, as the
web UI's Logs page and /api/v1 show them.

Kept in memory (the newest `size` entries) and appended to STATE_DIR/events.jsonl, which is
trimmed to `size` entries when it grows to twice that, so the log survives a restart and
never fills the disk.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mfpd.device.events import Event, EventBus
from mfpd.device.jobs import Job, JobState

LOG_FILE = "events.jsonl"
CATEGORIES = ("job", "alert", "config", "login", "service", "device")
LEVELS = ("info", "warning", "error")

log = logging.getLogger("mfpd.audit")


@dataclass(frozen=True)
class Entry:
    id: int
    time: float
    category: str
    level: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EventLog:
    def __init__(self, state_dir: Path, size: int, clock: Callable[[], float] = time.time) -> None:
        self.path = state_dir / LOG_FILE
        self.size = size
        self._clock = clock
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lines = 0
        self._listeners: list[Callable[[Entry], None]] = []
        self._load()

    def _load(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return
        self._lines = len(lines)
        for line in lines[-self.size :]:
            try:
                item = json.loads(line)
                self._entries.append(
                    Entry(
                        int(item["id"]),
                        float(item["time"]),
                        str(item["category"]),
                        str(item["level"]),
                        str(item["message"]),
                        dict(item.get("data") or {}),
                    )
                )
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a crash

    def listen(self, listener: Callable[[Entry], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def record(self, category: str, message: str, level: str = "info", **data: Any) -> Entry:
        last = self._entries[-1].id if self._entries else 0
        entry = Entry(last + 1, self._clock(), category, level, message, data)
        self._entries.append(entry)
        self._append(entry)
        for listener in list(self._listeners):
            listener(entry)
        return entry

    def _append(self, entry: Entry) -> None:
        try:
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry.to_dict(), default=str) + "\n")
            self._lines += 1
            if self._lines >= 2 * self.size:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(
                    "".join(json.dumps(e.to_dict(), default=str) + "\n" for e in self._entries),
                    encoding="utf-8",
                )
                os.replace(tmp, self.path)
                self._lines = len(self._entries)
        except OSError as exc:  # a full disk loses log lines, never the request
            log.warning("event log: cannot write %s: %s", self.path, exc)

    def entries(
        self,
        *,
        category: str | None = None,
        level: str | None = None,
        text: str | None = None,
        since: int = 0,
        limit: int = 200,
    ) -> list[Entry]:
        """Newest first."""
        needle = text.lower() if text else None
        found: list[Entry] = []
        for entry in reversed(self._entries):
            if entry.id <= since:
                break
            if category and entry.category != category:
                continue
            if level and LEVELS.index(entry.level) < LEVELS.index(level):
                continue
            if needle and needle not in entry.message.lower():
                continue
            found.append(entry)
            if len(found) >= limit:
                break
        return found

    def follow(self, bus: EventBus) -> Callable[[], None]:
        """Record what the device reports: jobs queued and finished, alerts, identity edits."""
        return bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        data = event.data
        if event.kind == "job.queued":
            job = data["job"]
            if isinstance(job, Job):
                self.record("job", f"job {job.id} {job.name!r} queued", **_job(job))
        elif event.kind == "job.state":
            job = data["job"]
            if isinstance(job, Job) and job.state in _FINAL:
                level = "warning" if job.state is JobState.ABORTED else "info"
                reasons = ", ".join(job.state_reasons)
                self.record(
                    "job", f"job {job.id} {job.name!r} {job.state.value} ({reasons})", level,
                    **_job(job),
                )  # fmt: skip
        elif event.kind in ("alert.added", "alert.removed"):
            alert = data.get("alert")
            description = getattr(alert, "description", str(alert))
            severity = getattr(getattr(getattr(alert, "info", None), "severity", None), "name", "")
            added = event.kind == "alert.added"
            level = "warning" if added and severity.lower() != "other" else "info"
            self.record(
                "alert", f"{'alert' if added else 'cleared'}: {description}", level,
                severity=severity.lower(),
            )  # fmt: skip
        elif event.kind == "identity.changed":
            changes = data.get("changes", {})
            names = ", ".join(sorted(changes))
            self.record("config", f"identity changed: {names}", changes=dict(changes))


_FINAL = (JobState.COMPLETED, JobState.CANCELED, JobState.ABORTED)


def _job(job: Job) -> dict[str, Any]:
    return {"job": job.id, "source": job.source, "user": job.user}


def categories_of(entries: Iterable[Entry]) -> list[str]:
    return sorted({e.category for e in entries})
