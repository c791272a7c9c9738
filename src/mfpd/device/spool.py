"""The job spool: the jobs every service creates and every protocol lists.

A job is created the moment a sender starts one (state pending, reason job-incoming), its
documents stream to their own files under STATE_DIR/spool, and it is *accepted* when the
sender finishes (`finish`). Every step is committed to the store first, so after a crash
each job is either accepted (and resumed) or visibly aborted with a reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from mfpd.config import SpoolConfig
from mfpd.device.events import EventBus
from mfpd.device.jobs import Job, JobState
from mfpd.device.store import JobStore
from mfpd.documents.sniff import sniff_format

# job-state-reasons keywords, RFC 8011 5.3.8 and PWG 5100.x.
INCOMING = "job-incoming"
SNIFF_BYTES = 64 * 1024
OCTET_STREAM = "application/octet-stream"
# The kinds of job the spool holds and the engine prints (device/jobs.py Job.kind).
PRINTED_KINDS = ("print", "fax-receive")


class SpoolError(Exception):
    pass


class JobTooLarge(SpoolError):
    """The document passed the configured `spool.max_job_bytes`."""


class DocumentWriter:
    """Streams one document to its file, in bounded memory."""

    def __init__(self, spool: Spool, job: Job, path: Path) -> None:
        self._spool = spool
        self.job = job
        self.path = path
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.bytes = 0
        self.head = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._fd is None:
            raise SpoolError("document already closed")
        size = len(data)
        if self.job.bytes + size > self._spool.config.max_job_bytes:
            raise JobTooLarge(
                f"job {self.job.id} exceeds spool.max_job_bytes "
                f"({self._spool.config.max_job_bytes} bytes)"
            )
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.bytes += size
        self.job.bytes += size

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Spool:
    def __init__(
        self,
        store: JobStore,
        directory: Path,
        events: EventBus,
        config: SpoolConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.directory = directory
        self.events = events
        self.config = config
        self._clock = clock
        directory.mkdir(parents=True, exist_ok=True)
        # Printed jobs only: scan and fax-send jobs share the store and its id sequence, not
        # the queue; a received fax prints like any other job.
        self._jobs: dict[int, Job] = {
            job.id: job for job in store.load() if job.kind in PRINTED_KINDS
        }
        # Unfinished jobs in arrival order: what the engine and queue listings walk.
        self._active: dict[int, Job] = {
            j.id: j for j in self._jobs.values() if not j.state.terminal
        }
        self._heads: dict[int, bytes] = {}
        self._last_age_purge = 0.0

    # -- reading -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def active(self) -> list[Job]:
        return list(self._active.values())

    @property
    def active_count(self) -> int:
        """How many jobs are not finished (IPP queued-job-count), without listing them."""
        return len(self._active)

    def next_printable(self) -> Job | None:
        """The job the engine prints next: the one it has started, else the accepted job of
        highest job-priority (RFC 8011 5.2.1; 50 when unset), oldest first among equals."""
        best: Job | None = None
        for job in self._active.values():
            if INCOMING in job.state_reasons:
                continue
            if job.state in (JobState.PROCESSING, JobState.STOPPED):
                return job
            if job.state is JobState.PENDING and (best is None or job.priority > best.priority):
                best = job
        return best

    def current(self) -> Job | None:
        """The job on the engine now (RFC 3998 Cancel-Current-Job), if any."""
        for job in self._active.values():
            if job.state in (JobState.PROCESSING, JobState.STOPPED):
                return job
        return None

    def document_paths(self, job: Job) -> list[Path]:
        return [self.directory / name for name in job.documents]

    # -- the life of a job ---------------------------------------------------------------

    def create(
        self,
        source: str,
        *,
        name: str = "",
        user: str = "",
        format: str | None = None,
        copies: int = 1,
        host: str = "",
        attributes: dict[str, Any] | None = None,
        kind: str = "print",
    ) -> Job:
        if kind not in PRINTED_KINDS:
            raise SpoolError(f"the spool holds no {kind} jobs")
        job = Job(
            id=0,
            source=source,
            name=name,
            user=user or "anonymous",
            format=format or OCTET_STREAM,
            state=JobState.PENDING,
            state_reasons=[INCOMING],
            created_at=self._clock(),
            copies=max(1, copies),
            originating_host=host,
            attributes=dict(attributes or {}),
            kind=kind,
        )
        job.id = self.store.insert(job)
        job.name = job.name or f"Job {job.id}"
        self._jobs[job.id] = job
        self._active[job.id] = job
        self.events.publish("job.created", job=job)
        return job

    def open_document(self, job: Job) -> DocumentWriter:
        # Named after the job, so recovery finds the files of a job that never finished.
        name = f"{job.id:08d}-{len(job.documents) + 1}.dat"
        job.documents.append(name)
        return DocumentWriter(self, job, self.directory / name)

    def close_document(self, writer: DocumentWriter) -> None:
        writer.close()
        if writer.job.id not in self._heads and writer.head:
            self._heads[writer.job.id] = bytes(writer.head)

    def finish(self, job: Job, **changes: Any) -> Job:
        """The sender is done: the job is accepted and waits for the engine.

        As a printer's auto-sense does, a recognised page description language in the data
        wins over what the sender claimed (rlpr's `f` letter says text for any file, CUPS's
        `format=o` says PostScript for a PDF); text or unknown data keeps the claimed format.
        """
        for key, value in changes.items():
            if value is not None:
                setattr(job, key, value)
        head = self._heads.pop(job.id, b"")
        detected = sniff_format(head) if head else OCTET_STREAM
        job.attributes["document-format-detected"] = detected
        if detected not in (OCTET_STREAM, "text/plain") or (
            job.format == OCTET_STREAM and detected != OCTET_STREAM
        ):
            job.format = detected
        job.state_reasons = [r for r in job.state_reasons if r != INCOMING] or ["none"]
        self.store.save(job)
        self.events.publish("job.queued", job=job)
        return job

    def abort(self, job: Job, reasons: list[str], message: str) -> None:
        self._heads.pop(job.id, None)
        job.state = JobState.ABORTED
        job.state_reasons = reasons
        job.state_message = message
        job.completed_at = self._clock()
        self.update(job)

    def update(self, job: Job, device: dict[str, Any] | None = None) -> None:
        """Commit a change of the job; with the device snapshot in the same transaction when
        the change carries printed pages (see JobStore.checkpoint)."""
        if job.state.terminal:
            self._active.pop(job.id, None)
        if device is None:
            self.store.save(job)
        else:
            self.store.checkpoint(job, device)
        self.events.publish("job.state", job=job)

    def cancel(self, job: Job, reason: str = "job-canceled-by-user") -> bool:
        if job.state.terminal:
            return False
        job.state = JobState.CANCELED
        job.state_reasons = [reason]
        job.completed_at = self._clock()
        self.update(job)
        return True

    def hold(self, job: Job, reason: str = "job-hold-until-specified") -> bool:
        """Keep a job that has not started printing from printing (RFC 8011 4.3.5)."""
        if job.state is not JobState.PENDING or job.impressions_completed:
            return False
        job.state = JobState.HELD
        job.state_reasons = [r for r in job.state_reasons if r == INCOMING] + [reason]
        self.update(job)
        return True

    def release(self, job: Job) -> bool:
        """Let a held job print again (RFC 8011 4.3.6)."""
        if job.state is not JobState.HELD:
            return False
        job.state = JobState.PENDING
        job.state_reasons = [r for r in job.state_reasons if r == INCOMING] or ["none"]
        self.update(job)
        self.events.publish("job.queued", job=job)
        return True

    def restart(self, job: Job) -> bool:
        """Print a finished job again from its spooled documents (RFC 8011 4.3.7)."""
        if (
            not job.state.terminal
            or not job.documents
            or "job-data-insufficient" in (job.state_reasons)
        ):
            return False
        if any(not path.exists() for path in self.document_paths(job)):
            return False
        job.state = JobState.PENDING
        job.state_reasons = ["none"]
        job.state_message = ""
        job.impressions_completed = 0
        job.sheets_completed = 0
        job.processing_at = None
        job.completed_at = None
        self._active[job.id] = job
        self.update(job)
        self.events.publish("job.queued", job=job)
        return True

    # -- start-up and housekeeping -------------------------------------------------------

    def recover(self) -> list[str]:
        """After a restart: resume what was accepted, abort what was half received."""
        notes = []
        for job in self._jobs.values():
            if job.state.terminal:
                continue
            if INCOMING in job.state_reasons:
                files = sorted(self.directory.glob(f"{job.id:08d}-*.dat"))
                job.documents = [path.name for path in files]
                received = sum(path.stat().st_size for path in files)
                job.bytes = received
                self.abort(
                    job,
                    ["aborted-by-system", "job-data-insufficient"],
                    f"the sender was still sending when the controller stopped "
                    f"({received} bytes received)",
                )
                notes.append(f"job {job.id}: half-received ({received} bytes), aborted")
            elif any(not p.exists() for p in self.document_paths(job)):
                self.abort(job, ["aborted-by-system"], "spooled document missing after restart")
                notes.append(f"job {job.id}: document missing, aborted")
            elif job.state in (JobState.PROCESSING, JobState.STOPPED):
                job.state = JobState.PENDING
                job.state_reasons = ["job-resuming"]
                self.store.save(job)
                notes.append(f"job {job.id}: resumes at impression {job.impressions_completed}")
        return notes

    def purge(self) -> int:
        """Apply the retention policy to finished jobs; returns how many were removed.

        Cheap whether or not there is something to do: the engine calls it after every job.
        The oldest finished jobs come first in the job table, so going over the count walks
        only to the excess (and past the older jobs still active), not the whole history:
        with keep_completed = 5000, a walk of every job after every job cost a busy printer
        two thirds of its CPU.
        """
        excess = len(self._jobs) - len(self._active) - self.config.keep_completed
        now = self._clock()
        by_age = self.config.keep_completed_hours > 0 and now - self._last_age_purge > 60
        if excess <= 0 and not by_age:
            return 0
        finished = (job for job in self._jobs.values() if job.state.terminal)
        doomed = list(islice(finished, max(0, excess)))
        if by_age:  # once a minute: the rest of the history
            self._last_age_purge = now
            limit = now - self.config.keep_completed_hours * 3600
            doomed += [job for job in finished if (job.completed_at or job.created_at) < limit]
        for job in doomed:
            for path in self.document_paths(job):
                path.unlink(missing_ok=True)
            del self._jobs[job.id]
        if doomed:
            self.store.delete([job.id for job in doomed])
        return len(doomed)
