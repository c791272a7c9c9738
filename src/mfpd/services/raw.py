"""Raw socket printing, TCP 9100 (AppSocket/JetDirect) with the PJL back channel.

The bytes of a connection are print data; UEL-delimited segments (or PJL JOB/EOJ brackets)
become separate jobs, and a connection that only asks PJL questions creates none. Data goes
straight from the socket buffer to the spool file, so a job of any size costs bounded memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from mfpd.codecs import pjl
from mfpd.config import RawServiceConfig
from mfpd.device.events import Event
from mfpd.device.jobs import Job
from mfpd.device.spool import DocumentWriter, JobTooLarge
from mfpd.services.base import ConnectionLimit, PortEntry, ServiceContext, listen_tcp, peer_name
from mfpd.services.pjl_commands import LANGUAGE_MIME, PjlDefaults, PjlSession, variables
from mfpd.services.pjl_volume import PjlVolume

log = logging.getLogger("mfpd.raw")

# A plain Protocol, not a BufferedProtocol: asyncio's recv() hands over a fresh bytes object
# the codec and the spool use without a copy (bench/RESULTS.md measured both).
PJL_DEFAULTS_KEY = "pjl-defaults"


class RawService:
    name = "raw"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.config: RawServiceConfig = ctx.config.services.raw
        self.limit = ConnectionLimit(self.config.max_connections)
        self.connections: set[RawConnection] = set()
        self._server: asyncio.Server | None = None
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

    async def start(self) -> list[PortEntry]:
        self._server, entry = await listen_tcp(
            self.ctx, self.name, self.config.port, lambda: RawConnection(self)
        )
        return [entry]

    async def stop(self, grace: float) -> None:
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + grace
        while any(c.receiving for c in self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.shutdown()
        if self._server is not None:
            await self._server.wait_closed()


class RawConnection(asyncio.Protocol):
    def __init__(self, service: RawService) -> None:
        self.service = service
        self.ctx = service.ctx
        self.spool = service.ctx.spool
        self.device = service.ctx.device
        self.stream = pjl.RawStream(service.config.max_line)
        self.session = PjlSession(self.device, service.defaults, service.volume)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.job: Job | None = None
        self.writer: DocumentWriter | None = None
        self._discarding = False  # the current job was refused; drop its data
        self._last_activity = time.monotonic()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._timed: asyncio.TimerHandle | None = None
        self._my_jobs: dict[int, str | None] = {}  # job id -> PJL name, for USTATUS JOB/PAGE
        self._unsubscribe = self.device.events.subscribe(self._on_event)

    @property
    def receiving(self) -> bool:
        return self.job is not None

    # -- asyncio protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = peer_name(transport)
        if not self.service.limit.admit(transport):
            log.warning(
                "raw: %s refused: %d connections open", self.peer, self.service.limit.maximum
            )
            self._unsubscribe()
            transport.abort()
            self.transport = None
            return
        self.service.connections.add(self)
        self._arm_idle_timer()

    def data_received(self, data: bytes) -> None:
        self._last_activity = time.monotonic()
        self._handle(self.stream.feed(data))

    def eof_received(self) -> bool:
        self._handle(self.stream.eof())
        self._close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.job is not None:
            # The peer vanished mid-job (reset, not a clean end): record it, do not print it.
            self._abort_job(
                ["aborted-by-system", "job-data-insufficient"],
                f"connection from {self.peer} lost after {self.job.bytes} bytes: {exc}",
            )
        self._cleanup()

    # -- events from the codec -----------------------------------------------------------

    def _handle(self, events: list[pjl.Event]) -> None:
        for event in events:
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
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
        self._arm_timed()

    def _arm_timed(self) -> None:
        timed = self.session.timed
        if timed and self._timed is None and self.transport is not None:
            self._timed = asyncio.get_running_loop().call_later(timed, self._send_timed)

    def _send_timed(self) -> None:
        self._timed = None
        if self.session.timed and self.transport is not None:
            self._reply(self.session.device_status("TIMED"))

    # -- timers and shutdown -------------------------------------------------------------

    def _arm_idle_timer(self) -> None:
        timeout = self.service.config.idle_timeout
        self._idle_timer = asyncio.get_running_loop().call_later(timeout, self._check_idle)

    def _check_idle(self) -> None:
        idle = time.monotonic() - self._last_activity
        timeout = self.service.config.idle_timeout
        if idle < timeout:
            self._idle_timer = asyncio.get_running_loop().call_later(
                timeout - idle, self._check_idle
            )
            return
        # As a JetDirect card does: silence ends the job with what was received.
        log.info("raw: %s: idle for %.0f s, closing", self.peer, idle)
        self._handle(self.stream.eof())
        self._close()

    def shutdown(self) -> None:
        """The daemon stops: a job still arriving is recorded as interrupted, not printed."""
        if self.job is not None:
            self._abort_job(
                ["aborted-by-system", "job-data-insufficient"],
                f"the controller shut down while {self.peer} was sending "
                f"({self.job.bytes} bytes received)",
            )
        self._close()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _cleanup(self) -> None:
        self.session.close()
        for timer in (self._idle_timer, self._timed):
            if timer is not None:
                timer.cancel()
        self._unsubscribe()
        if self.transport is not None:
            self.service.limit.release(self.transport)
        self.service.connections.discard(self)
        self.transport = None
