"""Persistence: job metadata and the device snapshot in SQLite (WAL).

WAL with synchronous=NORMAL survives `kill -9` of the daemon (every committed transaction is in
the WAL file the kernel already holds); only a power cut can lose the last commits, the same
promise a printer's spool disk makes. The CLI opens the same file read-only while the daemon runs.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mfpd.device.jobs import Job

DB_NAME = "mfpd.sqlite3"
DEVICE_KEY = "device"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class JobStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / DB_NAME
        # AUTOINCREMENT: a job id is never reused, even after the job is purged (IPP job-id).
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def insert(self, job: Job) -> int:
        """Store a new job; its id is the one the database hands out (job.id is ignored)."""
        cur = self._db.execute(
            "INSERT INTO jobs (state, created_at, data) VALUES (?, ?, ?)",
            (job.state.value, job.created_at, json.dumps(job.to_dict())),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def save(self, job: Job) -> None:
        self._db.execute(
            "UPDATE jobs SET state = ?, data = ? WHERE id = ?",
            (job.state.value, json.dumps(job.to_dict()), job.id),
        )

    def checkpoint(self, job: Job, device: dict[str, Any]) -> None:
        """Job progress and the device snapshot (counters, levels) in one transaction, so a
        crash can never leave pages on one side and not the other."""
        with self._transaction():
            self.save(job)
            self.put(DEVICE_KEY, device)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def delete(self, job_ids: list[int]) -> None:
        self._db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in job_ids])

    def load(self) -> list[Job]:
        rows = self._db.execute("SELECT id, data FROM jobs ORDER BY id").fetchall()
        return [_job(job_id, data) for job_id, data in rows]

    def get(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )


def _job(job_id: int, data: str) -> Job:
    values = json.loads(data)
    # The row id is the job id: the record was written before the id was known.
    values["id"] = job_id
    return Job.from_dict(values)


def read_jobs(state_dir: Path) -> list[Job]:
    """The job list for the CLI, read-only, whether or not a daemon runs."""
    path = state_dir / DB_NAME
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, data FROM jobs ORDER BY id").fetchall()
    finally:
        db.close()
    return [_job(job_id, data) for job_id, data in rows]
