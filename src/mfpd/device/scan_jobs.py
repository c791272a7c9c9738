"""Scan jobs: the scanner's engine. A job takes originals from the glass or the feeder, turns
each side into an image through the imaging pipeline (in a thread: pixels are CPU work), and
either keeps the images for a network client to pull (eSCL, `output="pages"`) or files one
document and delivers it to the template's destinations (a walk-up scan, `output="document"`).

A scan job is a Job record of kind "scan" in the one JobStore, with the print jobs' id
sequence, so `mfpd jobs`, the web UI and the audit log list both; it is not in the print
spool, so IPP, LPD and the print engine never see it. Its events are `scan.created` and
`scan.state`.

One scanner: one job scans at a time (a second gets ScanBusy, eSCL's 503), and the jobs held
for their client are bounded by [scan] max_jobs. A job its client forgets is canceled after
[scan] abandon_timeout, and its files go with it. A walk-up scan whose delivery fails keeps
its files and says why on the job: no scan is lost silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from mfpd.config import Config
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import Device
from mfpd.device.scan_settings import (
    MULTI_PAGE_FORMATS,
    InputSource,
    ScanSettings,
)
from mfpd.device.scanner import BLANK, FeedError, Original, Sheet
from mfpd.device.store import JobStore
from mfpd.documents import scan_pipeline
from mfpd.documents.scan_pipeline import ChartLabel

log = logging.getLogger("mfpd.scan")

DIRECTORY = "scans"
EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/tiff": "tif",
}
# How often forgotten jobs are looked for.
REAP_INTERVAL = 5.0
# Finished scan job records kept (their files are gone already); older ones are purged.
KEEP_FINISHED = 500


class ScanBusy(Exception):
    """The scanner is scanning another job, or [scan] max_jobs are held: eSCL 503."""


class ScanRefused(Exception):
    """The source cannot give originals now: eSCL 409 Conflict; `reason` is the AdfState."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotReady(Exception):
    """The next image is still being scanned: eSCL 503 with Retry-After."""


@dataclass
class ScanImage:
    number: int  # from 1, in the order scanned
    path: Path
    format: str
    width: int
    height: int
    size: int
    side: str  # front or back
    color_mode: str


@dataclass(frozen=True)
class DeliveryInfo:
    job_id: int
    job_name: str
    user: str
    format: str
    template: str
    when: float


# Delivers a walk-up scan's files to one destination; returns a line for the log, or raises.
Deliver = Callable[[Any, Sequence[Path], DeliveryInfo], Awaitable[str]]


@dataclass
class ScanJob:
    job: Job
    uuid: str
    settings: ScanSettings
    output: str  # pages (eSCL) or document (walk-up)
    destinations: list[Any] = field(default_factory=list)
    template: str = ""
    images: list[ScanImage] = field(default_factory=list)
    documents: list[Path] = field(default_factory=list)  # a walk-up scan's files
    served: int = 0
    scanning: bool = True
    failure: str = ""
    touched: float = field(default_factory=time.monotonic)
    canceled: bool = False
    _more: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        self.touched = time.monotonic()

    @property
    def images_to_transfer(self) -> int:
        return len(self.images) - self.served

    async def next_image(self, wait: float) -> ScanImage | None:
        """The next image not yet retrieved; None when there are no more. NotReady when
        scanning has not produced it within `wait` seconds."""
        self.touch()
        deadline = time.monotonic() + wait
        while True:
            if self.served < len(self.images):
                return self.images[self.served]
            if not self.scanning:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotReady(f"image {self.served + 1} of job {self.job.id} is being scanned")
            self._more.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._more.wait(), left)

    def _signal(self) -> None:
        self._more.set()


class ScanJobs:
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
        # Set by the daemon: delivers to one destination (outbound.destinations.deliver).
        self.deliver: Deliver | None = None
        # Set by the daemon: drops originals nothing refers to (device/originals.py).
        self.after_job: Callable[[], None] | None = None
        # Set by the daemon: removes files a job is done with (the image overwrite's erase,
        # which overwrites them first in immediate mode).
        self.erase: Callable[[list[Path], Job], None] = _unlink
        self._jobs: dict[int, ScanJob] = {}
        self._by_uuid: dict[str, ScanJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._scanning: ScanJob | None = None
        for record in store.load():
            if record.kind != "scan":
                continue
            if not record.state.terminal:
                # An eSCL client went with the old process; a walk-up scan being delivered
                # keeps its files (named on the record), as a failed delivery does.
                record.state = JobState.ABORTED
                record.state_reasons = ["aborted-by-system"]
                record.state_message = "the controller restarted during the scan" + (
                    "; the scan is kept" if record.documents else ""
                )
                record.completed_at = record.completed_at or clock()
                store.save(record)
            self._remember(self._record_job(record))

    # -- reading -------------------------------------------------------------------------

    def get(self, key: str | int) -> ScanJob | None:
        if isinstance(key, int):
            return self._jobs.get(key)
        if key.isdigit():
            return self._jobs.get(int(key))
        return self._by_uuid.get(key)

    def jobs(self) -> list[ScanJob]:
        return list(self._jobs.values())

    def records(self) -> list[Job]:
        return [scan.job for scan in self._jobs.values()]

    @property
    def scanning(self) -> ScanJob | None:
        return self._scanning

    def live(self) -> list[ScanJob]:
        return [s for s in self._jobs.values() if not s.job.state.terminal]

    def leftovers(self) -> list[Path]:
        """Files of the scans directory no job still needs (a failed delivery's kept files,
        thumbnails): what the on-demand image overwrite erases with the spool's."""
        live = {
            path.name
            for scan in self.live()
            for path in [*(i.path for i in scan.images), *scan.documents]
        }
        live |= {f"{scan.job.id:08d}-thumb.png" for scan in self.live()}
        return [p for p in self.directory.iterdir() if p.is_file() and p.name not in live]

    def thumbnail(self, job_id: int) -> Path | None:
        path = self.directory / f"{job_id:08d}-thumb.png"
        return path if path.exists() else None

    # -- the life of a scan job ----------------------------------------------------------

    def create(
        self,
        settings: ScanSettings,
        *,
        source: str,
        user: str = "",
        host: str = "",
        name: str = "",
        destinations: Sequence[Any] = (),
        template: str = "",
        output: str = "pages",
    ) -> ScanJob:
        settings = settings.checked()
        config = self._config().scan
        if not config.enabled:
            raise ScanBusy("the scanner is switched off ([scan] enabled = false)")
        if self._scanning is not None:
            raise ScanBusy(f"the scanner is busy with job {self._scanning.job.id}")
        if len(self.live()) >= config.max_jobs:
            raise ScanBusy(f"{config.max_jobs} scan jobs are waiting for their clients")
        scanner = self.device.scanner
        if settings.source is InputSource.FEEDER:
            if scanner.jammed:
                raise ScanRefused("ScannerAdfJam", "the document feeder is jammed")
            if scanner.cover_open:
                raise ScanRefused("ScannerAdfHatchOpen", "the document feeder is open")
            if not scanner.feeder:
                raise ScanRefused("ScannerAdfEmpty", "the document feeder is empty")
        now = self._clock()
        job_uuid = str(uuid.uuid4())
        record = Job(
            id=0,
            source=source,
            name=name,
            user=user or "anonymous",
            format=settings.format,
            state=JobState.PROCESSING,
            state_reasons=["job-scanning"],
            created_at=now,
            processing_at=now,
            originating_host=host,
            kind="scan",
            attributes={
                "job-uuid": job_uuid,
                "scan-settings": _settings_dict(settings),
                "template": template,
                "destinations": [_shown(d) for d in destinations],
            },
        )
        record.id = self.store.insert(record)
        record.name = record.name or f"Scan {record.id}"
        self.store.save(record)
        scan = ScanJob(record, job_uuid, settings, output, list(destinations), template)
        self._remember(scan)
        self._scanning = scan
        scanner.set_busy(True)
        self.device.events.publish("scan.created", job=record)
        task = asyncio.create_task(self._run(scan), name=f"scan-{record.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._purge()
        return scan

    def retrieved(self, scan: ScanJob, image: ScanImage) -> None:
        """The client has the image: its file goes, and the last one completes the job."""
        scan.touch()
        if scan.served < len(scan.images) and scan.images[scan.served] is image:
            scan.served += 1
            self.erase([image.path], scan.job)
            scan.job.impressions_completed = scan.served
            if not scan.scanning and scan.served == len(scan.images):
                self._finish(scan)
            else:
                self._update(scan)

    def cancel(self, scan: ScanJob, reason: str = "job-canceled-by-user") -> bool:
        if scan.job.state.terminal:
            return False
        scan.canceled = True
        self._end(scan, JobState.CANCELED, [reason], "")
        return True

    async def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap(), name="scan-reaper")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._reaper] if self._reaper else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for scan in self.live():
            if scan.output == "pages":
                self._end(scan, JobState.ABORTED, ["aborted-by-system"], "the controller stopped")

    # -- scanning ------------------------------------------------------------------------

    async def _run(self, scan: ScanJob) -> None:
        scanner = self.device.scanner
        writer: scan_pipeline.DocumentWriter | None = None
        try:
            sides = self._sides(scan)
            number = 0
            for side, original in sides:
                if scan.canceled:
                    break
                number += 1
                label = ChartLabel(
                    self.device.identity.make_and_model, self.device.identity.serial_number,
                    scan.job.id, number, side, self._clock(),
                )  # fmt: skip
                image = await asyncio.to_thread(
                    scan_pipeline.scan_side, original, scan.settings, label
                )
                if scan.settings.blank_page_suppression and await asyncio.to_thread(
                    scan_pipeline.is_blank, image
                ):
                    number -= 1
                    continue
                if scan.canceled:
                    break
                if number == 1:
                    await asyncio.to_thread(self._write_thumbnail, scan.job.id, image)
                writer = await self._keep(scan, image, number, side, writer)
                # Let the page go before the next is made: one page image in memory at a time.
                del image
                scanner.count_image(scan.settings.color_mode.value)
            if writer is not None:
                done, writer = writer, None
                await asyncio.to_thread(done.close)
        except FeedError as exc:
            scan.failure = exc.reason
            scan.job.state_message = str(exc)
            log.warning("scan job %d: %s", scan.job.id, exc)
        except scan_pipeline.OriginalError as exc:
            # A loaded original that cannot be scanned after all (its file gone, damaged).
            scan.failure = "ScannerError"
            scan.job.state_message = f"an original cannot be scanned: {exc}"
            log.warning("scan job %d: %s", scan.job.id, scan.job.state_message)
        except Exception as exc:
            log.exception("scan job %d failed", scan.job.id)
            scan.failure = "ScannerError"
            scan.job.state_message = f"the scan failed: {exc}"
        finally:
            if writer is not None:
                # A job that failed midway: the file is closed, whatever it holds, so its
                # descriptor is not kept (the file goes with the job, or stays as failed).
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(writer.close)
            scan.scanning = False
            self._scanning = None
            scanner.set_busy(False)
            scan._signal()
            if self.after_job is not None:
                self.after_job()
        if scan.canceled:
            self._discard(scan)
            return
        if scan.output == "pages":
            if scan.failure and not scan.images:
                self._end(scan, JobState.ABORTED, [_reason(scan.failure)], scan.job.state_message)
            elif scan.served == len(scan.images):
                self._finish(scan)
            else:
                scan.job.state_reasons = ["job-transferring"]
                self._update(scan)
            return
        if scan.failure:
            self._end(scan, JobState.ABORTED, [_reason(scan.failure)], scan.job.state_message)
            return
        await self._deliver(scan)

    def _sides(self, scan: ScanJob) -> Any:
        """The sides to scan, lazily: a feeder sheet is taken only when its turn comes, so a
        jam raised mid-job stops the job at the next sheet, as on the device."""
        scanner = self.device.scanner
        if scan.settings.source is InputSource.PLATEN:
            yield "front", scanner.glass
            return
        first = True
        while True:
            if not first and not scanner.feeder and not scanner.jammed:
                return
            sheet: Sheet = scanner.feed()  # FeedError ends the job (jam, open, empty)
            first = False
            yield "front", sheet.front
            if scan.settings.duplex:
                yield "back", sheet.back if sheet.back != BLANK else _back_of(sheet.front)

    async def _keep(
        self,
        scan: ScanJob,
        image: Image.Image,
        number: int,
        side: str,
        writer: scan_pipeline.DocumentWriter | None,
    ) -> scan_pipeline.DocumentWriter | None:
        settings = scan.settings
        ext = EXTENSIONS[settings.format]
        if scan.output == "document" and settings.format in MULTI_PAGE_FORMATS:
            if writer is None:
                path = self.directory / f"{scan.job.id:08d}-scan.{ext}"
                writer = scan_pipeline.DocumentWriter(path, settings)
                scan.documents.append(path)
            await asyncio.to_thread(writer.add, image)
            scan.job.impressions_completed = number
            self._update(scan)
            return writer
        path = self.directory / f"{scan.job.id:08d}-{number:04d}.{ext}"
        size = await asyncio.to_thread(scan_pipeline.write_image, image, settings, path)
        if scan.output == "document":
            scan.documents.append(path)
            scan.job.impressions_completed = number
        else:
            scan.images.append(
                ScanImage(
                    number, path, settings.format, image.width, image.height, size, side,
                    settings.color_mode.value,
                )
            )  # fmt: skip
            scan._signal()
        scan.job.bytes += size
        self._update(scan)
        return writer

    def _write_thumbnail(self, job_id: int, image: Image.Image) -> None:
        path = self.directory / f"{job_id:08d}-thumb.png"
        path.write_bytes(scan_pipeline.thumbnail_png(image))

    # -- delivery (walk-up) --------------------------------------------------------------

    async def _deliver(self, scan: ScanJob) -> None:
        record = scan.job
        record.bytes = sum(p.stat().st_size for p in scan.documents if p.exists())
        # Named on the record before the first try: a restart during delivery finds them.
        record.documents = [p.name for p in scan.documents]
        record.state_reasons = ["job-transferring"]
        self._update(scan)
        config = self._config().scan
        info = DeliveryInfo(
            record.id, record.name, record.user, scan.settings.format, scan.template,
            record.created_at,
        )  # fmt: skip
        results: list[dict[str, Any]] = []
        failed: list[str] = []
        for dest in scan.destinations:
            shown = _shown(dest)
            outcome = {"destination": shown, "state": "pending", "message": ""}
            results.append(outcome)
            for attempt in range(config.retries + 1):
                if scan.canceled:
                    return
                try:
                    if self.deliver is None:
                        raise RuntimeError("no delivery is configured")
                    outcome["message"] = await self.deliver(dest, scan.documents, info)
                    outcome["state"] = "delivered"
                    log.info("scan job %d: %s", record.id, outcome["message"])
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    retry = bool(getattr(exc, "retry", True))
                    reason = str(getattr(exc, "reason", "") or "destination-failed")
                    outcome.update(state="failed", message=str(exc), reason=reason)
                    log.warning(
                        "scan job %d: delivery to %s failed (try %d of %d): %s",
                        record.id, shown, attempt + 1, config.retries + 1, exc,
                    )  # fmt: skip
                    record.attributes["deliveries"] = results
                    self._update(scan)
                    if not retry or attempt == config.retries:
                        break
                    await asyncio.sleep(config.retry_delay)
            if outcome["state"] != "delivered":
                failed.append(f"{shown}: {outcome['message']}")
        record.attributes["deliveries"] = results
        if failed:
            # The files stay, named on the job: nothing scanned is lost to a server that was
            # down or a password that was wrong.
            reasons = sorted({str(r.get("reason", "destination-failed")) for r in results
                              if r["state"] == "failed"})  # fmt: skip
            self._end(scan, JobState.ABORTED, reasons, "; ".join(failed), keep_files=True)
        else:
            self._finish(scan)

    # -- endings -------------------------------------------------------------------------

    def _finish(self, scan: ScanJob) -> None:
        if scan.failure:  # a feeder fault mid-job: Aborted once its images are fetched (eSCL)
            self._end(scan, JobState.ABORTED, [_reason(scan.failure)], scan.job.state_message)
            return
        self._end(scan, JobState.COMPLETED, ["job-completed-successfully"], "")

    def _end(
        self,
        scan: ScanJob,
        state: JobState,
        reasons: list[str],
        message: str,
        *,
        keep_files: bool = False,
    ) -> None:
        record = scan.job
        if record.state.terminal:
            return
        record.state = state
        record.state_reasons = reasons
        record.state_message = message or record.state_message
        record.completed_at = self._clock()
        if not keep_files:
            self._discard(scan)
            record.documents = []
        scan._signal()
        self._update(scan)

    def _discard(self, scan: ScanJob) -> None:
        paths = [image.path for image in scan.images[scan.served :]] + scan.documents
        if paths:
            self.erase(paths, scan.job)

    def _update(self, scan: ScanJob) -> None:
        self.store.save(scan.job)
        self.device.events.publish("scan.state", job=scan.job)

    def _remember(self, scan: ScanJob) -> None:
        self._jobs[scan.job.id] = scan
        self._by_uuid[scan.uuid] = scan

    def _record_job(self, record: Job) -> ScanJob:
        return ScanJob(
            record, str(record.attributes.get("job-uuid", "")), ScanSettings(), "pages",
            scanning=False,
        )  # fmt: skip

    def _purge(self) -> None:
        finished = [s for s in self._jobs.values() if s.job.state.terminal]
        excess = len(finished) - KEEP_FINISHED
        if excess <= 0:
            return
        doomed = finished[:excess]
        for scan in doomed:
            self._discard(scan)
            (self.directory / f"{scan.job.id:08d}-thumb.png").unlink(missing_ok=True)
            del self._jobs[scan.job.id]
            self._by_uuid.pop(scan.uuid, None)
        self.store.delete([scan.job.id for scan in doomed])

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            limit = self._config().scan.abandon_timeout
            now = time.monotonic()
            for scan in self.live():
                if scan.output == "pages" and now - scan.touched > limit:
                    log.info(
                        "scan job %d: no request from its client for %.0f s, canceled",
                        scan.job.id, now - scan.touched,
                    )  # fmt: skip
                    self.cancel(scan, "job-canceled-by-system")


def _unlink(paths: list[Path], _job: Job) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _back_of(front: Original) -> Original:
    """The back of a one-sided original is blank paper; a chart sheet is printed both sides
    (the chart, labelled back), so duplex scanning of the chart shows both."""
    return front if front.chart else BLANK


def _reason(failure: str) -> str:
    """A job-state-reasons keyword for an AdfState that ended a job."""
    return {
        "ScannerAdfJam": "document-feeder-jam",
        "ScannerAdfHatchOpen": "platen-cover-open",
        "ScannerAdfEmpty": "document-feeder-empty",
    }.get(failure, "aborted-by-system")


def _settings_dict(settings: ScanSettings) -> dict[str, Any]:
    r = settings.region
    return {
        "source": settings.source.value,
        "color_mode": settings.color_mode.value,
        "resolution": settings.resolution,
        "region": [r.x, r.y, r.width, r.height],
        "duplex": settings.duplex,
        "intent": settings.intent.value,
        "format": settings.format,
        "blank_page_suppression": settings.blank_page_suppression,
    }


def _shown(destination: Any) -> str:
    """A destination as the job record and the log show it: its URI without a password."""
    uri = str(getattr(destination, "uri", destination))
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        userinfo, _, host = rest.partition("@")
        return f"{scheme}://{userinfo.split(':', 1)[0]}@{host}"
    return uri
