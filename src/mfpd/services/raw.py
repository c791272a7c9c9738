"""Raw socket printing, TCP 9100 (AppSocket/JetDirect) with the PJL back channel.

The bytes of a connection are print data; UEL-delimited segments (or PJL JOB/EOJ brackets)
become separate jobs, and a connection that only asks PJL questions creates none. Data goes
straight from the socket buffer to the spool file, so a job of any size costs bounded memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from mfpd.codecs import pjl
from mfpd.config import RawServiceConfig
from mfpd.device.events import Event
from mfpd.device.jobs import Job
from mfpd.device.spool import DocumentWriter, JobTooLarge
from mfpd.services.base import JobConnection, JobService, ServiceContext
from mfpd.services.pjl_commands import LANGUAGE_MIME, PjlDefaults, PjlSession, variables
from mfpd.services.pjl_volume import PjlVolume

log = logging.getLogger("mfpd.raw")

PJL_DEFAULTS_KEY = "pjl-defaults"


class RawService(JobService):
    name = "raw"

    def __init__(self, ctx: ServiceContext) -> None:
        self.config: RawServiceConfig = ctx.config.services.raw
        super().__init__(ctx, self.config)
        store = ctx.spool.store
        saved = store.get(PJL_DEFAULTS_KEY)
        self.defaults = PjlDefaults(
            variables(len(ctx.device.trays)),
            saved if isinstance(saved, dict) else {},
            lambda values: store.put(PJL_DEFAULTS_KEY, values),
        )
        self.volume = (
            PjlVolume(ctx.state_dir / "pjl-volume", self.config.pjl_fs_quota)
            if self.config.pjl_fs_enabled
            else None
        )

    def connection(self) -> JobConnection:
        return RawConnection(self)


class RawConnection(JobConnection):
    def __init__(self, service: RawService) -> None:
        super().__init__(service)
        self.stream = pjl.RawStream(service.config.max_line)
        self.session = PjlSession(self.device, service.defaults, service.volume)
        self.writer: DocumentWriter | None = None
        self._discarding = False  # the current job was refused; drop its data
        self._timed: asyncio.TimerHandle | None = None
        self._my_jobs: dict[int, str | None] = {}  # job id -> PJL name, for USTATUS JOB/PAGE
        self._unsubscribe: Callable[[], None] | None = None
        self._backlog: deque[pjl.Event] = deque()
        self._writing_paused = False
        self._eof = False

    # -- asyncio protocol ----------------------------------------------------------------

    def opened(self) -> None:
        self._unsubscribe = self.device.events.subscribe(self._on_event)

    def data_received(self, data: bytes) -> None:
        # A plain Protocol, not a BufferedProtocol: asyncio's recv() hands over a fresh bytes
        # object that the codec and the spool use without a copy (bench/RESULTS.md).
        self.touch()
        self._backlog.extend(self.stream.feed(data))
        self._drain()

    def eof_received(self) -> bool:
        self._backlog.extend(self.stream.eof())
        self._eof = True
        self._drain()
        return True  # we close once every reply is out (see _drain)

    def pause_writing(self) -> None:
        # The peer does not read its replies (FSUPLOAD, INFO ...): stop reading its requests
        # until it does, so that replies cannot pile up in memory.
        self._writing_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self.transport is not None and not self._eof:
            self.transport.resume_reading()
        self._drain()

    def idle(self) -> None:
        if self._writing_paused:
            # Silent because it stopped reading our replies: a stuck peer, not a finished job.
            self.interrupt(f"{self.peer} stopped reading its replies")
            if self.transport is not None:
                self.transport.abort()
            return
        # As a JetDirect card does: silence ends the job with what was received.
        self._eof = True
        self._backlog.extend(self.stream.eof())
        self._drain()

    def interrupt(self, message: str) -> None:
        # The peer vanished or the daemon stops mid-job: record it, do not print it.
        self._abort_job(["aborted-by-system", "job-data-insufficient"], message)

    def closed(self) -> None:
        self.session.close()
        if self._timed is not None:
            self._timed.cancel()
        if self._unsubscribe is not None:
            self._unsubscribe()

    # -- events from the codec -----------------------------------------------------------

    def _drain(self) -> None:
        """Act on the codec's events in order, stopping while the peer's window is full."""
        backlog = self._backlog
        while backlog and not self._writing_paused:
            self._handle(backlog.popleft())
        if self._eof and not backlog:
            self.close()

    def _handle(self, event: pjl.Event) -> None:
        if isinstance(event, pjl.JobData):
            self._write(event.data)
        elif isinstance(event, pjl.Command):
            self._reply(self.session.handle(event.cmd))
        elif isinstance(event, pjl.JobStart):
            self._start_job(event)
        elif isinstance(event, pjl.JobEnd):
            self._end_job()
        elif isinstance(event, pjl.FileData):
            self.session.file_data(event.data)
        elif isinstance(event, pjl.FileDataEnd):
            self._reply(self.session.file_end(event.truncated))
        elif isinstance(event, pjl.Malformed):
            log.info("raw: %s: bad PJL line (%s): %r", self.peer, event.reason, event.line[:80])
            if self.session.ustatus["DEVICE"] != "OFF":
                # PJLTRM 7: parser errors are reported only through unsolicited status.
                _, display, online = self.device.pjl_status()
                self._reply(pjl.format_ustatus("DEVICE", event.code, display, online))

    def _start_job(self, event: pjl.JobStart) -> None:
        attributes: dict[str, Any] = self.session.job_attributes()
        if event.language:
            attributes["pjl-language"] = event.language
        copies = int(attributes.pop("copies", 1))
        fmt = LANGUAGE_MIME.get((event.language or "").upper())
        self.job = self.spool.create(
            "raw",
            name=event.name or "",
            user=event.user or "",
            format=fmt,
            copies=copies,
            host=self.peer.rsplit(":", 1)[0],
            attributes=attributes,
        )
        self.writer = self.spool.open_document(self.job)
        self._discarding = False
        self._my_jobs[self.job.id] = event.name
        if self.session.ustatus["JOB"] == "ON":
            self._reply(pjl.format_ustatus_job_start(event.name))
        log.info("raw: %s: job %d started", self.peer, self.job.id)

    def _write(self, data: bytes | memoryview) -> None:
        if self.writer is None or self._discarding:
            return
        try:
            self.writer.write(data)
        except JobTooLarge as exc:
            log.warning("raw: %s: %s", self.peer, exc)
            self._abort_job(["aborted-by-system", "job-too-large"], str(exc))
            self._discarding = True
        except OSError as exc:
            log.error("raw: %s: spool write failed: %s", self.peer, exc)
            self._abort_job(["aborted-by-system"], f"spool write failed: {exc.strerror}")
            self._discarding = True

    def _end_job(self) -> None:
        self.session.end_job()
        if self.job is None or self.writer is None:
            self.job = None
            return
        job, writer = self.job, self.writer
        self.job = self.writer = None
        self.spool.close_document(writer)
        if job.bytes == 0:
            # Whitespace between UELs or an empty ENTER LANGUAGE: no print data, no job.
            self.spool.abort(job, ["aborted-by-system"], "no print data")
            return
        self.spool.finish(job)
        log.info("raw: %s: job %d accepted (%d bytes)", self.peer, job.id, job.bytes)

    def _abort_job(self, reasons: list[str], message: str) -> None:
        if self.writer is not None:
            self.spool.close_document(self.writer)
        if self.job is not None:
            self.spool.abort(self.job, reasons, message)
            log.warning("raw: %s: job %d aborted: %s", self.peer, self.job.id, message)
        self.job = self.writer = None

    # -- unsolicited status (PJLTRM 7, USTATUS) ------------------------------------------

    def _on_event(self, event: Event) -> None:
        ustatus = self.session.ustatus
        if event.kind == "printer.state" and ustatus["DEVICE"] != "OFF":
            self._reply(self.session.device_status("DEVICE"))
        elif event.kind in ("job.page", "job.completed"):
            job: Job = event.data["job"]
            if job.id not in self._my_jobs:
                return
            if event.kind == "job.page" and ustatus["PAGE"] == "ON":
                self._reply(pjl.format_ustatus_page(job.impressions_completed))
            elif event.kind == "job.completed" and ustatus["JOB"] == "ON":
                name = self._my_jobs.pop(job.id)
                self._reply(pjl.format_ustatus_job_end(name, job.impressions_completed))

    def _reply(self, data: bytes) -> None:
        self.send(data)
        self._arm_timed()

    def _arm_timed(self) -> None:
        timed = self.session.timed
        if timed and self._timed is None and self.transport is not None:
            self._timed = asyncio.get_running_loop().call_later(timed, self._send_timed)

    def _send_timed(self) -> None:
        self._timed = None
        if self.session.timed and self.transport is not None:
            self._reply(self.session.device_status("TIMED"))
