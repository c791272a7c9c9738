"""Jobs: their states (RFC 8011 5.3.7) and the record every protocol lists."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class JobState(enum.StrEnum):
    """The job states of the spool; `ipp` gives RFC 8011's enum value."""

    PENDING = "pending"
    HELD = "held"
    PROCESSING = "processing"
    STOPPED = "stopped"
    CANCELED = "canceled"
    ABORTED = "aborted"
    COMPLETED = "completed"

    @property
    def ipp(self) -> int:
        return _IPP_JOB_STATE[self]

    @property
    def terminal(self) -> bool:
        return self in (JobState.CANCELED, JobState.ABORTED, JobState.COMPLETED)


_IPP_JOB_STATE = {
    JobState.PENDING: 3,
    JobState.HELD: 4,
    JobState.PROCESSING: 5,
    JobState.STOPPED: 6,
    JobState.CANCELED: 7,
    JobState.ABORTED: 8,
    JobState.COMPLETED: 9,
}


@dataclass
class Job:
    id: int
    source: str  # raw, lpd, ipp, web, escl, walkup, ...
    name: str
    user: str
    format: str  # MIME type
    state: JobState
    state_reasons: list[str]
    created_at: float
    bytes: int = 0
    pages: int | None = None  # pages of one copy, once counted
    copies: int = 1
    completed_at: float | None = None
    processing_at: float | None = None
    impressions_completed: int = 0
    sheets_completed: int = 0
    state_message: str = ""
    originating_host: str = ""
    documents: list[str] = field(default_factory=list)  # file names inside the spool dir
    # Protocol-specific extras (queue, tray, color mode, PJL variables, ...).
    attributes: dict[str, Any] = field(default_factory=dict)
    # print, or scan (device/scan_jobs.py); later fax-send and fax-receive. One id sequence
    # and one store for all, as the device's job log has; each kind has its own queue.
    kind: str = "print"

    @property
    def priority(self) -> int:
        """job-priority, 1 (lowest) to 100 (RFC 8011 5.2.1); 50 for jobs that name none."""
        value = self.attributes.get("job-priority", 50)
        return value if isinstance(value, int) else 50

    @property
    def impressions(self) -> int | None:
        """Total impressions the job will produce (pages x copies)."""
        return None if self.pages is None else self.pages * self.copies

    def to_dict(self) -> dict[str, Any]:
        # Shallow, unlike dataclasses.asdict: this runs for every job update on the hot path.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["state"] = self.state.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        values = dict(data)
        values["state"] = JobState(values["state"])
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})
