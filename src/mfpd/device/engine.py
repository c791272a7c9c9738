"""The print engine simulation: moves accepted jobs through processing to completion.

Pages are counted from the spooled documents, then printed one impression at a time at the
configured speed. Each impression takes a sheet from a tray and toner from the supplies, so
an empty tray, a jam or an open door stops the job where it is; it waits, and resumes when the
condition clears. Progress is committed as it goes, so a restart resumes mid-job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from mfpd.config import EngineConfig
from mfpd.device.alerts import ConditionKind
from mfpd.device.events import Event
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import Device, DeviceError
from mfpd.device.media import Tray
from mfpd.device.spool import Spool
from mfpd.documents.pages import count_pages

log = logging.getLogger("mfpd.engine")

# Commit progress at least this often, so a crash loses at most this much of a long job.
CHECKPOINT_SECONDS = 1.0

# Below this size a document is counted on the event loop: a thread hand-off costs more.
INLINE_COUNT_BYTES = 64 * 1024

PageCounter = Callable[[Path, str | None, int], int]


def _count(path: Path, mime: str | None, lines_per_page: int) -> int:
    return count_pages(path, mime, lines_per_page=lines_per_page).pages


class Engine:
    def __init__(
        self,
        device: Device,
        spool: Spool,
        config: EngineConfig,
        *,
        page_counter: PageCounter = _count,
    ) -> None:
        self.device = device
        self.spool = spool
        self.config = config
        self._count = page_counter
        self._wake = asyncio.Event()
        self._stopping = False
        self.current: Job | None = None
        self._unsubscribe = device.events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.kind in ("printer.state", "device.levels", "job.queued", "job.state"):
            self._wake.set()

    async def _wait(self) -> None:
        await self._wake.wait()
        self._wake.clear()

    async def run(self) -> None:
        """The engine loop; cancel the task (or call stop) to end it."""
        try:
            while not self._stopping:
                job = self.spool.next_printable()
                if job is None or (not self.device.can_print and job.impressions_completed == 0):
                    if job is not None and job.state_reasons != ["printer-stopped"]:
                        job.state_reasons = ["printer-stopped"]
                        self.spool.update(job)
                    self._wake.clear()
                    await self._wait()
                    continue
                try:
                    await self._print(job)
                except Exception as exc:
                    # A document the engine cannot handle must not stop the engine.
                    log.exception("job %d: the engine failed", job.id)
                    self.spool.abort(
                        job, ["aborted-by-system", "document-unprintable-error"], str(exc)
                    )
                self.spool.purge()
                # One job at a time, then the network: a backlog of instant jobs (paper
                # loaded after thousands queued) held the loop for seconds, and IPP, SNMP and
                # the web went unanswered until the last was printed.
                await asyncio.sleep(0)
        finally:
            self.device.set_busy(False)
            self._unsubscribe()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _print(self, job: Job) -> None:
        self.current = job
        try:
            if job.pages is None:
                job.pages = _selected(await self._count_job(job), job.attributes.get("page-ranges"))
                if job.state.terminal:  # canceled while its pages were being counted
                    return
            job.state = JobState.PROCESSING
            job.state_reasons = ["job-printing"]
            job.processing_at = job.processing_at or time.time()
            self.spool.update(job)
            self.device.set_busy(True)
            await self._impressions(job)
        finally:
            self.current = None
            self.device.set_busy(False)
            self.device.set_waiting_on(None)

    async def _count_job(self, job: Job) -> int:
        paths = self.spool.document_paths(job)
        # The job's format is its first document's; the others (LPD) are sniffed on their own.
        mime = job.format if len(paths) == 1 else None
        total = 0
        for path in paths:
            if job.bytes <= INLINE_COUNT_BYTES:
                total += self._count(path, mime, self.config.lines_per_page)
            else:
                # Counting reads the whole file: keep big ones off the event loop.
                total += await asyncio.to_thread(
                    self._count, path, mime, self.config.lines_per_page
                )
        return total

    async def _impressions(self, job: Job) -> None:
        color = bool(job.attributes.get("color", False))
        ppm = self.config.speed_ppm_color if color else self.config.speed_ppm
        delay = 60.0 / ppm if ppm > 0 else 0.0
        media = job.attributes.get("media") or self.config.default_media
        tray_key = job.attributes.get("tray")
        total = job.impressions or 0
        last_checkpoint = time.monotonic()
        while job.impressions_completed < total:
            if job.state.terminal or self._stopping:
                return
            tray = self._feed_tray(media, tray_key)
            if tray is None or not self.device.can_print:
                await self._stopped(job, media, tray_key, tray is None)
                continue
            self.device.set_waiting_on(None)
            if job.state != JobState.PROCESSING:
                job.state = JobState.PROCESSING
                job.state_reasons = ["job-printing"]
                self.spool.update(job)
            if delay:
                await asyncio.sleep(delay)
                if job.state.terminal or self._stopping:
                    return
            elif job.impressions_completed and job.impressions_completed % 64 == 0:
                # The network breathes during long instant jobs; a short one prints in one go,
                # before its sender sees the connection close. On uvloop a yield here waits
                # behind a burst of datagrams (libuv reads up to 32 at a wakeup): CUPS's socket
                # backend, polling SNMP as soon as the connection closed, missed the pages.
                await asyncio.sleep(0)
            self.device.print_impression(tray, color)
            job.impressions_completed += 1
            job.sheets_completed += 1
            self.device.events.publish("job.page", job=job)
            if time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS:
                self.spool.store.checkpoint(job, self.device.snapshot())
                last_checkpoint = time.monotonic()
        job.state = JobState.COMPLETED
        job.state_reasons = ["job-completed-successfully"]
        job.completed_at = time.time()
        self.device.counters.jobs_completed += 1
        self.spool.update(job, self.device.snapshot())
        self.device.events.publish("job.completed", job=job)

    def _feed_tray(self, media: str, tray_key: str | None) -> Tray | None:
        try:
            return self.device.select_tray(media, tray_key)
        except DeviceError:
            # An unknown tray name from a sender: fall back to automatic selection.
            return self.device.select_tray(media, None)

    async def _stopped(self, job: Job, media: str, tray_key: str | None, no_paper: bool) -> None:
        if no_paper:
            try:
                tray = self.device.find_tray(tray_key) if tray_key else None
            except DeviceError:
                tray = None
            tray = tray or self.device.tray_for_media(media)
            self.device.set_waiting_on((ConditionKind.TRAY_EMPTY, tray.index))
        if job.state != JobState.STOPPED:
            job.state = JobState.STOPPED
            job.state_reasons = ["printer-stopped"]
            job.state_message = self.device.display
            self.spool.update(job)
            log.info("job %d stopped: %s", job.id, self.device.display)
        # Our own updates above set the wake flag; only a later change may end the wait.
        self._wake.clear()
        await self._wait()


def _selected(pages: int, ranges: object) -> int:
    """Pages a job prints after its page-ranges (RFC 8011 5.2.7), or all of them."""
    if not isinstance(ranges, list) or not ranges:
        return pages
    chosen: set[int] = set()
    for low, high in ranges:
        chosen.update(range(max(1, low), min(pages, high) + 1))
    return len(chosen)
