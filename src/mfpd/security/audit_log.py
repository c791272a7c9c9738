"""The security audit log: who did what, from where, with what outcome, under the device's
event IDs, kept in a fixed ring of `capacity` entries (15,000, as the WorkCentre's hard disk
keeps) in its own SQLite database, STATE_DIR/audit.sqlite3.

It stands beside the event log (security/audit.py, the Logs page's job and alert history)
as the real device's Audit Log stands beside its Job Log: the event log is for operators and
may be trimmed at will, the audit log is for the security officer and has its own export
(administrator, HTTPS only) and its own event IDs.

Storage: the entry id is the table's rowid; writing entry n deletes entry n - capacity in
the same transaction, so the table never holds more than `capacity` rows. Each row is
bounded (fields cut at MAX_FIELD, details at MAX_DETAILS characters), and one B-tree whose
keys only grow, emptied at the left as it fills at the right, gives its freed pages back to
the right: the file stays at its size once the ring has turned. WAL with synchronous=NORMAL,
as the job store: every committed entry survives `kill -9`; a checkpoint every 256 pages and
journal_size_limit keep the WAL file near 1 MiB.

Only the standard library here: `mfpd audit-log` reads this file with the daemon running or
not, and must start fast.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DB_NAME = "audit.sqlite3"
CAPACITY = 15000
# The warning condition (audit-log-almost-full) is raised when this share of the ring holds
# entries nobody has exported yet: the next ones would overwrite unread history.
WARN_FRACTION = 0.9
MAX_DETAILS = 2048
MAX_FIELD = 256

# Event IDs. Where the WorkCentre's Audit Log has the event, its ID (System Administrator
# Guide, "Audit Log Event Identification Numbers": 1 System startup, 2 System shutdown,
# 3/4 On Demand Image Overwrite started/complete, 5 Print job, 6 Network Scanning job, 30
# System administrator login, 33 Audit Log download, 38 Security certificate, 40 SNMPv3,
# 41 IP filtering, 42 Network security setting); where it has none, an mfpd ID from 1000
# up. Stable: scripts filter on them.
STARTUP = 1
SHUTDOWN = 2
ODIO_STARTED = 3
ODIO_COMPLETE = 4
PRINT_JOB = 5
NETWORK_SCANNING = 6
ADMIN_LOGIN = 30
AUDIT_LOG_DOWNLOAD = 33
SECURITY_CERTIFICATE = 38
SNMPV3 = 40
IP_FILTERING = 41
NETWORK_SECURITY_SETTING = 42
IP_FILTER_DROP = 1001
DEVICE_CONFIGURATION = 1002
IMMEDIATE_IMAGE_OVERWRITE = 1003
# A stored password sent to a server by an outbound client (scan to SMTP, FTP, SMB).
CREDENTIAL_USE = 1004
# A dynamic DNS update of the device's records (RFC 2136), accepted or refused.
DDNS_UPDATE = 1005

# The event names of the contract, and the ID each has unless the caller says otherwise
# (login-failure over SNMP is 40, a config-change of a security section 42, ...).
EVENTS: dict[str, int] = {
    "startup": STARTUP,
    "shutdown": SHUTDOWN,
    "print-job": PRINT_JOB,
    "scan-job": NETWORK_SCANNING,
    "login-success": ADMIN_LOGIN,
    "login-failure": ADMIN_LOGIN,
    "config-change": DEVICE_CONFIGURATION,
    "image-overwrite": IMMEDIATE_IMAGE_OVERWRITE,
    "audit-log-export": AUDIT_LOG_DOWNLOAD,
    "certificate-install": SECURITY_CERTIFICATE,
    "ip-filter-drop": IP_FILTER_DROP,
    "credential-use": CREDENTIAL_USE,
    "ddns-update": DDNS_UPDATE,
}
OUTCOMES = ("success", "failure", "started", "completed", "canceled", "aborted", "dropped")
CSV_COLUMNS = (
    "id", "time", "event_id", "event", "user", "address", "interface", "outcome", "details",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    event_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    user TEXT NOT NULL,
    address TEXT NOT NULL,
    interface TEXT NOT NULL,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_COLUMNS = "id, time, event_id, event, user, address, interface, outcome, details"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: float
    event_id: int
    event: str
    user: str
    address: str
    interface: str
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> AuditEntry:
        try:
            details = json.loads(row[8])
        except ValueError:
            details = {"text": row[8]}
        return cls(
            int(row[0]), float(row[1]), int(row[2]), str(row[3]), str(row[4]), str(row[5]),
            str(row[6]), str(row[7]), details if isinstance(details, dict) else {},
        )  # fmt: skip


class AuditLog:
    def __init__(
        self,
        state_dir: Path,
        capacity: int = CAPACITY,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = state_dir / DB_NAME
        self.capacity = capacity
        self._clock = clock
        self._listeners: list[Callable[[AuditEntry], None]] = []
        state_dir.mkdir(parents=True, exist_ok=True)
        # Private, as the security officer's record: SQLite gives its WAL and shared-memory
        # files the mode of the database file.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA journal_size_limit=1048576")
        self._db.execute("PRAGMA wal_autocheckpoint=256")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT max(id) FROM audit").fetchone()
        self._last = int(row[0] or 0)
        # A capacity made smaller since the last run: the newest entries stay.
        self._db.execute("DELETE FROM audit WHERE id <= ?", (self._last - capacity,))
        self._exported = self._meta("exported_id")

    def close(self) -> None:
        self._db.close()

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- writing -------------------------------------------------------------------------

    def listen(self, listener: Callable[[AuditEntry], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def record(
        self,
        event: str,
        *,
        user: str = "",
        address: str = "",
        interface: str = "",
        outcome: str = "success",
        event_id: int | None = None,
        **details: Any,
    ) -> AuditEntry:
        """Write one entry (committed before this returns); the oldest goes when full."""
        text = json.dumps(details, default=str, separators=(",", ":"))
        if len(text) > MAX_DETAILS:
            text = json.dumps({"truncated": text[: MAX_DETAILS - 64]})
        self._last += 1
        entry = AuditEntry(
            self._last,
            self._clock(),
            event_id if event_id is not None else EVENTS.get(event, DEVICE_CONFIGURATION),
            event[:64],
            user[:MAX_FIELD],
            address[:MAX_FIELD],
            interface[:64],
            outcome[:32],
            json.loads(text),
        )
        # One transaction: the newest in, the one it replaces out, never one without the
        # other. A caller's transaction already open (a test filling the ring) is joined.
        own = not self._db.in_transaction
        if own:
            self._db.execute("BEGIN")
        try:
            self._db.execute(
                f"INSERT INTO audit ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    entry.id, entry.time, entry.event_id, entry.event, entry.user,
                    entry.address, entry.interface, entry.outcome, text,
                ),
            )  # fmt: skip
            self._db.execute("DELETE FROM audit WHERE id = ?", (entry.id - self.capacity,))
            if own:
                self._db.execute("COMMIT")
        except BaseException:
            if own:
                self._db.execute("ROLLBACK")
            self._last -= 1
            raise
        for listener in list(self._listeners):
            listener(entry)
        return entry

    # -- reading -------------------------------------------------------------------------

    @property
    def last_id(self) -> int:
        return self._last

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM audit").fetchone()[0])

    def entries(
        self,
        *,
        limit: int = 100,
        before: int | None = None,
        since: float | None = None,
        event: str | None = None,
    ) -> list[AuditEntry]:
        """Newest first; `before`: entries with a smaller id (the next page)."""
        return query(self._db, limit=limit, before=before, since=since, event=event)

    # -- the export mark and the almost-full warning -------------------------------------

    @property
    def unexported(self) -> int:
        """Entries written since the last full export still in the ring."""
        return min(self._last - self._exported, self.capacity)

    @property
    def almost_full(self) -> bool:
        return self.unexported >= WARN_FRACTION * self.capacity

    def mark_exported(self, up_to: int) -> None:
        """The administrator took the log up to entry `up_to`: the warning counts anew."""
        self._exported = max(self._exported, min(up_to, self._last))
        self._set_meta("exported_id", self._exported)


def query(
    db: sqlite3.Connection,
    *,
    limit: int,
    before: int | None = None,
    since: float | None = None,
    event: str | None = None,
) -> list[AuditEntry]:
    clauses: list[str] = []
    values: list[int | float | str] = []
    if before is not None:
        clauses.append("id < ?")
        values.append(before)
    if since is not None:
        clauses.append("time >= ?")
        values.append(since)
    if event is not None:
        clauses.append("event = ?")
        values.append(event)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM audit {where} ORDER BY id DESC LIMIT ?", (*values, limit)
    ).fetchall()
    return [AuditEntry.from_row(row) for row in rows]


def read_entries(
    state_dir: Path, *, since: float | None = None, limit: int = CAPACITY
) -> list[AuditEntry]:
    """For `mfpd audit-log`: newest first, whether or not a daemon runs (WAL lets a reader
    in beside the writer)."""
    path = state_dir / DB_NAME
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=5.0)
    try:
        return query(db, limit=limit, since=since)
    except sqlite3.OperationalError:  # a database that never got its table
        return []
    finally:
        db.close()


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """RFC 4180 text with a header row; time in UTC ISO 8601, details as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            (
                e.id, iso_time(e.time), e.event_id, e.event, e.user, e.address, e.interface,
                e.outcome, json.dumps(e.details, separators=(",", ":")),
            )
        )  # fmt: skip
    return out.getvalue()


def iso_time(value: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))
