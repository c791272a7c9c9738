"""Fax-send jobs: a document rendered to TIFF-F and mailed as an Internet Fax.

Like a scan job, a fax-send job is a Job record of kind "fax-send" in the one JobStore (the
print jobs' id sequence, so `mfpd jobs` and the web UI list it), not in the print spool: the
print engine never sees it. Its events are `fax.created` and `fax.state`. Received faxes are
print jobs of kind "fax-receive" in the spool (services/ifax_receive.py).

A job keeps its documents under STATE_DIR/fax until it ends; a failed send says why on the
job (the renderer's or the mail server's words) and its files go.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from mfpd.config import Config
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import Device
from mfpd.device.store import JobStore
from mfpd.documents import fax_tiff

log = logging.getLogger("mfpd.ifax")

DIRECTORY = "fax"
SEND = "fax-send"
RECEIVE = "fax-receive"
MAX_RECIPIENTS = 50
MAX_DOCUMENTS = 20
# An address as a fax recipient may be: local@domain, no spaces, quotes or line breaks
# (a header injection otherwise); the SMTP server judges the rest.
ADDRESS_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}$"
_ADDRESS = re.compile(ADDRESS_PATTERN)
KEEP_FINISHED = 500

# Mails one rendered fax: (recipients, tiff, job id, pages, name) -> a line for the log.
Send = Callable[[list[str], Path, int, int, str], Awaitable[str]]


class FaxRefused(Exception):
    """A request the device will not take (no recipient, a bad address, no document)."""


def check_recipients(recipients: Sequence[str]) -> list[str]:
    found = [r for text in recipients for r in re.split(r"[,\s]+", text) if r]
    if not found:
        raise FaxRefused("no recipient")
    if len(found) > MAX_RECIPIENTS:
        raise FaxRefused(f"more than {MAX_RECIPIENTS} recipients")
    for address in found:
        if not _ADDRESS.match(address):
            raise FaxRefused(f"{address[:80]!r} is not an email address")
    return found


class FaxJobs:
    def __init__(
        self,
        device: Device,
        store: JobStore,
        state_dir: Path,
        config: Callable[[], Config],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self.store = store
        self.directory = state_dir / DIRECTORY
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._config = config
        self._clock = clock
        # Set by the daemon: outbound.ifax_send.send_fax bound to the context.
        self.send: Send | None = None
        # Set by the daemon: removes the files a job is done with (the image overwrite's
        # erase: a fax's pages are images of a document, as a scan's are).
        self.erase: Callable[[list[Path], Job], None] = _unlink
        self._jobs: dict[int, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        for record in store.load():
            if record.kind != SEND:
                continue
            if not record.state.terminal:
                record.state = JobState.ABORTED
                record.state_reasons = ["aborted-by-system"]
                record.state_message = "the controller restarted during the send"
                record.completed_at = record.completed_at or clock()
                store.save(record)
            self._jobs[record.id] = record
        for stale in self.directory.iterdir():
            stale.unlink(missing_ok=True)

    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def counters(self) -> dict[str, int]:
        """Faxes sent and their pages, from the jobs this device keeps."""
        sent = [j for j in self._jobs.values() if j.state is JobState.COMPLETED]
        return {"sent": len(sent), "pages_sent": sum(j.pages or 0 for j in sent)}

    def new_document(self, job_hint: str) -> Path:
        """A private path for an uploaded document, before its job exists."""
        stamp = f"{time.monotonic_ns()}-{len(self._tasks)}"
        return self.directory / f"upload-{stamp}-{re.sub(r'[^A-Za-z0-9._-]', '_', job_hint)[:40]}"

    def create(
        self,
        recipients: Sequence[str],
        documents: Sequence[Path],
        *,
        source: str,
        user: str = "",
        host: str = "",
        name: str = "",
    ) -> Job:
        """A fax-send job for `documents` (files in this store's directory, taken over by the
        job); it renders and sends in the background."""
        addresses = check_recipients(recipients)
        if not documents:
            raise FaxRefused("no document to send")
        if len(documents) > MAX_DOCUMENTS:
            raise FaxRefused(f"more than {MAX_DOCUMENTS} documents")
        now = self._clock()
        record = Job(
            id=0,
            source=source,
            name=name[:255],
            user=(user or "anonymous")[:255],
            format="image/tiff",
            state=JobState.PROCESSING,
            state_reasons=["job-transforming"],
            created_at=now,
            processing_at=now,
            originating_host=host,
            kind=SEND,
            attributes={"recipients": addresses},
        )
        record.id = self.store.insert(record)
        record.name = record.name or f"Fax {record.id}"
        owned = []
        for number, path in enumerate(documents, 1):
            target = self.directory / f"{record.id:08d}-{number}.src"
            shutil.move(path, target)
            owned.append(target)
        record.documents = [p.name for p in owned]
        record.bytes = sum(p.stat().st_size for p in owned)
        self.store.save(record)
        self._jobs[record.id] = record
        self.device.events.publish("fax.created", job=record)
        task = asyncio.create_task(self._run(record, owned), name=f"fax-send-{record.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._purge()
        return record

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait(self) -> None:
        """Until every send under way has ended (tests, and the daemon's stop)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, record: Job, documents: list[Path]) -> None:
        config = self._config().ifax
        tiff = self.directory / f"{record.id:08d}.tif"
        try:
            try:
                pages = await asyncio.to_thread(
                    fax_tiff.render, documents, tiff, resolution=config.resolution,
                    paper=config.paper, timeout=config.render_timeout,
                    software=self.device.identity.make_and_model,
                )  # fmt: skip
            except fax_tiff.FaxError as exc:
                self._end(record, JobState.ABORTED, ["document-format-error"], str(exc))
                return
            record.pages = pages
            record.state_reasons = ["job-transferring"]
            self._update(record)
            if self.send is None:
                raise RuntimeError("no mail is configured")
            try:
                line = await self.send(
                    list(record.attributes["recipients"]), tiff, record.id, pages, record.name
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = str(getattr(exc, "reason", "") or "destination-failed")
                log.warning("fax job %d: not sent: %s", record.id, exc)
                self._end(record, JobState.ABORTED, [reason], str(exc))
                return
            log.info("fax job %d: %s", record.id, line)
            record.attributes["delivery"] = line
            record.impressions_completed = pages
            self._end(record, JobState.COMPLETED, ["job-completed-successfully"], "")
        except asyncio.CancelledError:
            self._end(record, JobState.ABORTED, ["aborted-by-system"], "the controller stopped")
            raise
        except Exception as exc:
            log.exception("fax job %d failed", record.id)
            self._end(record, JobState.ABORTED, ["aborted-by-system"], f"the send failed: {exc}")
        finally:
            self.erase([*documents, tiff], record)
            record.documents = []
            self.store.save(record)

    def _end(self, record: Job, state: JobState, reasons: list[str], message: str) -> None:
        if record.state.terminal:
            return
        record.state = state
        record.state_reasons = reasons
        record.state_message = message
        record.completed_at = self._clock()
        self._update(record)

    def _update(self, record: Job) -> None:
        self.store.save(record)
        self.device.events.publish("fax.state", job=record)

    def _purge(self) -> None:
        finished = [j for j in self._jobs.values() if j.state.terminal]
        excess = len(finished) - KEEP_FINISHED
        if excess > 0:
            doomed = finished[:excess]
            for job in doomed:
                del self._jobs[job.id]
            self.store.delete([job.id for job in doomed])

    def status(self, printed: Iterable[Job]) -> dict[str, Any]:
        """The fax counters `mfpd status` and the Status page show: faxes sent and received
        (completed jobs this device keeps) and their pages, and the ones refused."""
        received = [j for j in printed if j.kind == RECEIVE]
        done = [j for j in received if j.state is JobState.COMPLETED]
        return {
            **self.counters(),
            "sending": sum(not job.state.terminal for job in self._jobs.values()),
            "send_failed": sum(j.state is JobState.ABORTED for j in self._jobs.values()),
            "received": len(done),
            "pages_received": sum(j.pages or 0 for j in done),
            "receive_failed": sum(j.state is JobState.ABORTED for j in received),
        }


def _unlink(paths: list[Path], _job: Job) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
