"""LPD print service, TCP 515 (RFC 1179).

Every queue name of the configuration is an alias of the one print queue of the device, as on
real printers. A receive-job exchange becomes a spool job as soon as its first file arrives
(state pending, job-incoming), so a transfer cut short is recorded, never silently dropped.
"""

from __future__ import annotations

import logging

from mfpd.codecs import lpd
from mfpd.config import LpdServiceConfig
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import PrinterState
from mfpd.device.spool import DocumentWriter, JobTooLarge
from mfpd.services.base import JobConnection, JobService, ServiceContext

log = logging.getLogger("mfpd.lpd")

# The agent that may remove any job (RFC 1179 5.5 leaves it to the server). As in BSD lpd,
# it is believed only from a reserved source port, which only root on the client can bind.
SUPERUSER = "root"


class LpdService(JobService):
    name = "lpd"

    def __init__(self, ctx: ServiceContext) -> None:
        self.config: LpdServiceConfig = ctx.config.services.lpd
        super().__init__(ctx, self.config)

    def connection(self) -> JobConnection:
        return LpdConnection(self)

    def has_queue(self, name: str) -> bool:
        return name in self.config.queues


class LpdConnection(JobConnection):
    def __init__(self, service: LpdService) -> None:
        super().__init__(service)
        self.lpd = service
        config = service.config
        self.codec = lpd.LpdServerConnection(config.max_line, config.max_control_file)
        self.queue = ""
        self.writer: DocumentWriter | None = None
        self._files: dict[str, str] = {}  # LPD data file name -> spool document name

    # -- asyncio protocol ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.touch()
        events = self.codec.feed(data)
        while events:
            for event in events:
                self._handle(event)
            if (
                self.transport is None
                or self.transport.is_closing()
                or self.codec.state in (lpd.LpdState.CLOSED, lpd.LpdState.ERROR)
            ):
                return
            events = self.codec.feed(b"")

    def eof_received(self) -> bool:
        for event in self.codec.eof():
            self._handle(event)
        return False

    def interrupt(self, message: str) -> None:
        self._abort(["aborted-by-system", "job-data-insufficient"], message)

    # -- events --------------------------------------------------------------------------

    def _handle(self, event: lpd.Event) -> None:
        if isinstance(event, lpd.FileData):
            self._write(event.data)
        elif isinstance(event, lpd.ReceiveJob):
            self.queue = event.queue
            if not self.device.accepting:
                # IPP Disable-Printer (RFC 3998) stops every protocol's intake, as rejecting
                # a queue does on an lpd server; the sender keeps the job and retries.
                log.info("lpd: %s: job refused: the printer is not accepting jobs", self.peer)
                self.send(self.codec.reject())
            elif self.lpd.has_queue(event.queue):
                self.send(self.codec.accept_receive())
            else:
                log.info("lpd: %s: unknown queue %r", self.peer, event.queue)
                self.send(self.codec.reject())
        elif isinstance(event, lpd.DataFileStart):
            self._start_data_file(event)
        elif isinstance(event, lpd.ControlFileStart):
            self.send(self.codec.ack())
        elif isinstance(event, lpd.ControlFile):
            self._control_file(event.model)
        elif isinstance(event, lpd.FileEnd):
            self._file_end(event)
        elif isinstance(event, lpd.JobReceived):
            self._job_received(event)
        elif isinstance(event, lpd.AbortJob):
            if self.job is not None:
                self._close_writer()
                self.spool.cancel(self.job, "job-canceled-by-user")
                self.job = None
            self._files.clear()
            self.send(self.codec.ack())
        elif isinstance(event, lpd.ReceiveEnd):
            if not event.complete and self.job is not None:
                self._abort(["aborted-by-system", "job-data-insufficient"], event.reason)
        elif isinstance(event, lpd.QueueState):
            self.send(self._queue_state(event))
            self.close()
        elif isinstance(event, lpd.RemoveJobs):
            self.send(self._remove(event))
            self.close()
        elif isinstance(event, lpd.PrintWaiting):
            self.close()  # RFC 1179 5.1: no answer is defined
        elif isinstance(event, lpd.Malformed):
            log.warning("lpd: %s: %s", self.peer, event.reason)
            if self.codec.state is not lpd.LpdState.CLOSED:  # eof() events need no answer
                self.send(self.codec.reject())
            if self.job is not None:
                self._abort(["aborted-by-system"], f"protocol error: {event.reason}")
            self.close()

    def _ensure_job(self) -> Job:
        if self.job is None:
            self.job = self.spool.create(
                "lpd",
                host=self.peer.rsplit(":", 1)[0],
                attributes={"lpd-queue": self.queue},
            )
            log.info("lpd: %s: job %d started on queue %s", self.peer, self.job.id, self.queue)
        return self.job

    def _start_data_file(self, event: lpd.DataFileStart) -> None:
        job = self._ensure_job()
        limit = self.spool.config.max_job_bytes
        if event.count is not None and job.bytes + event.count > limit:
            log.warning(
                "lpd: %s: data file of %d bytes refused (limit %d)", self.peer, event.count, limit
            )
            self.send(self.codec.reject())
            self._abort(["aborted-by-system", "job-too-large"], "data file exceeds the size limit")
            return
        self.writer = self.spool.open_document(job)
        self._files[event.name] = self.writer.path.name
        self.send(self.codec.ack())

    def _write(self, data: bytes) -> None:
        if self.writer is None:
            return
        try:
            self.writer.write(data)
        except JobTooLarge as exc:
            log.warning("lpd: %s: %s", self.peer, exc)
            self._abort(["aborted-by-system", "job-too-large"], str(exc))
            self.close()
        except OSError as exc:
            log.error("lpd: %s: spool write failed: %s", self.peer, exc)
            self._abort(["aborted-by-system"], f"spool write failed: {exc.strerror}")
            self.close()

    def _close_writer(self) -> None:
        if self.writer is not None:
            self.spool.close_document(self.writer)
            self.writer = None

    def _control_file(self, model: lpd.ControlFileModel) -> None:
        job = self._ensure_job()
        job.user = model.user or job.user
        job.name = model.job_name or model.title or _source_name(model) or job.name
        if model.host:
            job.attributes["job-originating-host-name"] = model.host
        if model.job_class:
            job.attributes["lpd-class"] = model.job_class
        if model.banner:
            job.attributes["job-sheets"] = "standard"
        self.spool.store.save(job)

    def _file_end(self, event: lpd.FileEnd) -> None:
        if event.kind is lpd.FileKind.DATA:
            self._close_writer()
        if event.ack_expected:
            # The file is in the spool (or the control file parsed): acknowledge it.
            self.send(self.codec.ack())

    def _job_received(self, event: lpd.JobReceived) -> None:
        job = self.job
        if job is None:
            return
        self._close_writer()
        control = event.control
        # Documents in the order the control file prints them; copies as repeated lines.
        order = [
            self._files[f.data_file_name] for f in control.files if f.data_file_name in self._files
        ]
        printed = dict.fromkeys(order)
        job.documents = [*printed, *(d for d in job.documents if d not in printed)]
        first = control.files[0] if control.files else None
        job.copies = first.copies if first is not None else 1
        if first is not None and first.mime_type:
            job.format = first.mime_type
        if first is not None:
            job.attributes["lpd-format"] = first.format_letter
        self.job = None
        self._files.clear()
        if job.bytes == 0 and not control.files:
            self.spool.abort(job, ["aborted-by-system"], "control file names no data file")
            return
        self.spool.finish(job)
        log.info("lpd: %s: job %d accepted (%d bytes)", self.peer, job.id, job.bytes)

    def _abort(self, reasons: list[str], message: str) -> None:
        self._close_writer()
        if self.job is not None:
            self.spool.abort(self.job, reasons, message)
            log.warning("lpd: %s: job %d aborted: %s", self.peer, self.job.id, message)
        self.job = None
        self._files.clear()

    def _reserved_port(self) -> bool:
        port = _port_of(self.transport.get_extra_info("peername")) if self.transport else None
        return port is not None and port < 1024

    # -- queue commands ------------------------------------------------------------------

    def _entries(self) -> list[lpd.QueueEntry]:
        entries = []
        for job in self.spool.active():
            if "job-incoming" in job.state_reasons:
                continue
            entries.append(
                lpd.QueueEntry(
                    rank_active=job.state in (JobState.PROCESSING, JobState.STOPPED),
                    owner=job.user,
                    job_id=job.id,
                    files=(job.name,),
                    size=job.bytes,
                    host=job.originating_host,
                )
            )
        return entries

    def _queue_state(self, event: lpd.QueueState) -> bytes:
        if not self.lpd.has_queue(event.queue):
            return f"{event.queue}: unknown printer\n".encode()
        state = self.device.state
        if state is PrinterState.STOPPED:
            status = f"{event.queue} is down: {self.device.display}"
        elif state is PrinterState.PROCESSING:
            status = f"{event.queue} is ready and printing"
        else:
            status = f"{event.queue} is ready"
        fmt = lpd.format_queue_long if event.long else lpd.format_queue_short
        return fmt(self._entries(), event.operands, status=status)

    def _remove(self, event: lpd.RemoveJobs) -> bytes:
        if not self.lpd.has_queue(event.queue):
            return f"{event.queue}: unknown printer\n".encode()
        entries = self._entries()
        if event.operands:
            chosen = [e for e in entries if lpd.matches(e, event.operands)]
        else:
            chosen = [e for e in entries if e.rank_active][:1]  # RFC 1179 5.5: the active job
        lines = []
        for entry in chosen:
            job = self.spool.get(entry.job_id)
            if job is None:
                continue
            if event.agent != job.user and not (event.agent == SUPERUSER and self._reserved_port()):
                lines.append(f"{event.agent}: cannot remove job {job.id}: not its owner")
                log.info("lpd: %s: %s may not remove job %d", self.peer, event.agent, job.id)
                continue
            self.spool.cancel(job, "job-canceled-by-user")
            lines.append(f"job {job.id} dequeued")
            log.info("lpd: %s: %s removed job %d", self.peer, event.agent, job.id)
        return "".join(line + "\n" for line in lines).encode()


def _port_of(peer: object) -> int | None:
    if isinstance(peer, tuple) and len(peer) >= 2 and isinstance(peer[1], int):
        return peer[1]
    return None


def _source_name(model: lpd.ControlFileModel) -> str | None:
    for f in model.files:
        if f.source_name:
            return f.source_name
    return None
