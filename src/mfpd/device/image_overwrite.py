"""Image overwrite, as the WorkCentre's Immediate and On-Demand Image Overwrite do it: a
spooled document is overwritten three times (0x35, 0xCA, 0x97), each pass synced to the disk
and read back from it, before it is removed, so what was printed cannot be recovered from
the spool's disk.

- Immediate (`[security] image_overwrite = "immediate"`, and always for a secure-print job):
  when a job ends in any state, its files are overwritten and removed.
- On demand (`mfpd overwrite`, the Security page, POST /api/v1/actions `overwrite`): every
  file of a finished job still on disk, any spool file no job owns, and then the free space:
  a fill file in the spool directory, as large as `[security] overwrite_free_bytes` allows
  and never taking the filesystem below 5 % free, overwritten with the same three passes,
  read back, removed. It covers blocks that earlier, unoverwritten deletions left on the
  spool's filesystem, up to that bound: the filesystem is the host's, not a disk of the
  device's own, so a full sweep of it is not ours to make. Refused while a job prints.

All of it runs in a worker thread (asyncio.to_thread), one overwrite at a time, so a 2 GB job
costs IPP nothing; the result of each goes to the audit log and `mfpd status`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mfpd.config import SecurityConfig
from mfpd.device import secure_print
from mfpd.device.events import Event, EventBus
from mfpd.device.jobs import Job
from mfpd.device.spool import Spool
from mfpd.security import audit_log
from mfpd.security.audit_log import AuditLog

# The three passes of the device's image overwrite, in order.
PATTERNS = (0x35, 0xCA, 0x97)
CHUNK = 1024 * 1024
FILL_NAME = ".overwrite-fill"
FREE_RESERVE = 0.05  # of the filesystem, never taken by the free-space fill

log = logging.getLogger("mfpd.overwrite")

# Called after each pass is written and synced, before it is read back (tests look at the
# file from outside here, or damage it to see the verify fail); production passes none.
PassObserver = Callable[[Path, int, int], None]


class VerifyError(Exception):
    """A pass read back differs from what was written: the overwrite is not proven."""


class OverwriteRefused(Exception):
    pass


def overwrite_file(path: Path, observe: PassObserver | None = None) -> int:
    """Overwrite `path` in place with the three patterns, each synced, dropped from the page
    cache and read back; returns its size. Raises VerifyError at the first difference."""
    size = path.stat().st_size
    overwrite_file_sized(path, size, observe)
    return size


def _write_pass(fd: int, size: int, pattern: int) -> None:
    block = bytes([pattern]) * CHUNK
    os.lseek(fd, 0, os.SEEK_SET)
    left = size
    while left > 0:
        left -= os.write(fd, block[: min(left, CHUNK)])
    os.fsync(fd)
    # Synced pages are clean: dropping them makes the read-back come from the disk, not
    # from the cache the write left behind.
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def _verify_pass(fd: int, size: int, pattern: int, path: Path, number: int) -> None:
    block = bytes([pattern]) * CHUNK
    os.lseek(fd, 0, os.SEEK_SET)
    offset = 0
    while offset < size:
        data = os.read(fd, min(CHUNK, size - offset))
        if not data:
            raise VerifyError(f"{path.name}: pass {number}: file ended at byte {offset}")
        if data != block[: len(data)]:
            bad = next(i for i, byte in enumerate(data) if byte != pattern)
            raise VerifyError(
                f"{path.name}: pass {number} (0x{pattern:02X}): byte {offset + bad} reads "
                f"0x{data[bad]:02X}"
            )
        offset += len(data)


@dataclass
class OverwriteReport:
    """One overwrite, as `mfpd status` and the audit log tell it."""

    mode: str  # immediate, on-demand
    started: float
    ended: float = 0.0
    files: int = 0
    bytes: int = 0
    free_space_bytes: int = 0
    verified: bool = True
    errors: list[str] = field(default_factory=list)
    job: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImageOverwriter:
    def __init__(
        self,
        spool: Spool,
        config: Callable[[], SecurityConfig],
        audit: AuditLog | None = None,
        *,
        observe: PassObserver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self._config = config
        self.audit = audit
        self._observe = observe
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[OverwriteReport | None]] = set()
        self.running: str | None = None
        self.last: OverwriteReport | None = None
        self.last_on_demand: OverwriteReport | None = None
        # Files outside the spool a finished job left (a scan whose delivery failed, its
        # thumbnail): set by the daemon to the scanner's (device/scan_jobs.py leftovers).
        self.other_leftovers: Callable[[], list[Path]] = list

    def follow(self, bus: EventBus) -> Callable[[], None]:
        return bus.subscribe(self._on_event)

    def status(self) -> dict[str, Any]:
        return {
            "mode": self._config().image_overwrite,
            "running": self.running,
            "last": self.last.to_dict() if self.last else None,
            "last_on_demand": self.last_on_demand.to_dict() if self.last_on_demand else None,
        }

    def _on_event(self, event: Event) -> None:
        if event.kind != "job.state":
            return
        job = event.data.get("job")
        if not isinstance(job, Job) or not job.state.terminal or not job.documents:
            return
        if self._config().image_overwrite == "immediate" or secure_print.is_protected(job):
            task = asyncio.get_running_loop().create_task(self.immediate(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """At stop: let the overwrites under way finish (a file is never left half done)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def immediate(self, job: Job) -> OverwriteReport | None:
        return await self._immediate(job, [p for p in self.spool.document_paths(job)])

    def erase(self, paths: list[Path], job: Job) -> None:
        """Files a scan job is done with (images retrieved or delivered, a job canceled):
        overwritten before they go in immediate mode, as the device does with scan images;
        removed at once otherwise."""
        if self._config().image_overwrite != "immediate":
            for path in paths:
                path.unlink(missing_ok=True)
            return
        task = asyncio.get_running_loop().create_task(self._immediate(job, paths))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _immediate(self, job: Job, paths: list[Path]) -> OverwriteReport | None:
        paths = [p for p in paths if p.exists()]
        if not paths:
            return None
        async with self._lock:
            report = OverwriteReport("immediate", self._clock(), job=job.id)
            await asyncio.to_thread(self._files, paths, report)
            report.ended = self._clock()
            self.last = report
        log_result(report)
        if self.audit is not None:
            self.audit.record(
                "image-overwrite", user=job.user, address=job.originating_host,
                interface=job.source, outcome="success" if report.verified else "failure",
                event_id=audit_log.IMMEDIATE_IMAGE_OVERWRITE, mode="immediate", job=job.id,
                secure=secure_print.is_protected(job), files=report.files,
                bytes=report.bytes, verified=report.verified, errors=report.errors[:5],
            )  # fmt: skip
        return report

    async def on_demand(
        self, *, user: str = "", address: str = "", interface: str = ""
    ) -> OverwriteReport:
        """Overwrite what finished jobs left and the free space; OverwriteRefused while a
        job prints or another overwrite runs."""
        # An immediate overwrite under way is waited for; another on-demand one is not.
        current = self.spool.current()
        if current is not None:
            raise OverwriteRefused(f"cannot overwrite now: job {current.id} is printing")
        if self.running == "on-demand":
            raise OverwriteRefused("cannot overwrite now: an on-demand overwrite is running")
        self.running = "on-demand"
        who = {"user": user, "address": address, "interface": interface}
        try:
            async with self._lock:
                report = OverwriteReport("on-demand", self._clock())
                if self.audit is not None:
                    self.audit.record(
                        "image-overwrite", outcome="started", event_id=audit_log.ODIO_STARTED,
                        mode="on-demand", **who,
                    )  # fmt: skip
                await asyncio.to_thread(self._files, self._leftovers(), report)
                limit = self._config().overwrite_free_bytes
                if limit:
                    await asyncio.to_thread(self._free_space, limit, report)
                report.ended = self._clock()
                self.last = self.last_on_demand = report
        finally:
            self.running = None
        log_result(report)
        if self.audit is not None:
            self.audit.record(
                "image-overwrite", outcome="success" if report.verified else "failure",
                event_id=audit_log.ODIO_COMPLETE, mode="on-demand", files=report.files,
                bytes=report.bytes, free_space_bytes=report.free_space_bytes,
                verified=report.verified, errors=report.errors[:5],
                seconds=round(report.ended - report.started, 3), **who,
            )  # fmt: skip
        return report

    async def sweep(self) -> OverwriteReport | None:
        """At start, in immediate mode: files of jobs that ended while the daemon was down
        (a kill -9 between a job's end and its overwrite)."""
        if self._config().image_overwrite != "immediate":
            return None
        paths = self._leftovers()
        if not paths:
            return None
        async with self._lock:
            report = OverwriteReport("immediate", self._clock())
            await asyncio.to_thread(self._files, paths, report)
            report.ended = self._clock()
            self.last = report
        log_result(report)
        if self.audit is not None:
            self.audit.record(
                "image-overwrite", interface="device",
                outcome="success" if report.verified else "failure",
                event_id=audit_log.IMMEDIATE_IMAGE_OVERWRITE, mode="immediate-at-start",
                files=report.files, bytes=report.bytes, verified=report.verified,
                errors=report.errors[:5],
            )  # fmt: skip
        return report

    def _leftovers(self) -> list[Path]:
        """Spool files of finished jobs, and files no job owns (never an active job's)."""
        active = {name for job in self.spool.active() for name in job.documents}
        spooled = [
            path
            for path in self.spool.directory.glob("*.dat")
            if path.name not in active and path.is_file()
        ]
        return sorted(spooled + self.other_leftovers())

    def _files(self, paths: list[Path], report: OverwriteReport) -> None:
        for path in paths:
            try:
                report.bytes += overwrite_file(path, self._observe)
            except VerifyError as exc:
                # Kept: the next on-demand overwrite takes it again.
                report.verified = False
                report.errors.append(str(exc))
                continue
            except FileNotFoundError:
                continue
            except OSError as exc:
                report.verified = False
                report.errors.append(f"{path.name}: {exc.strerror or exc}")
                continue
            path.unlink(missing_ok=True)
            report.files += 1

    def _free_space(self, limit: int, report: OverwriteReport) -> None:
        directory = self.spool.directory
        stats = os.statvfs(directory)
        free = stats.f_bavail * stats.f_frsize
        reserve = int(stats.f_blocks * stats.f_frsize * FREE_RESERVE)
        size = max(0, min(limit, free - reserve))
        size -= size % CHUNK if size > CHUNK else 0
        if size <= 0:
            return
        path = directory / FILL_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.close(fd)
            overwrite_file_sized(path, size, self._observe)
            report.free_space_bytes = size
        except VerifyError as exc:
            report.verified = False
            report.errors.append(str(exc))
        except OSError as exc:
            report.verified = False
            report.errors.append(f"free space: {exc.strerror or exc}")
        finally:
            path.unlink(missing_ok=True)


def overwrite_file_sized(path: Path, size: int, observe: PassObserver | None = None) -> None:
    """The three passes over `size` bytes of a file made for it (the free-space fill)."""
    fd = os.open(path, os.O_RDWR)
    try:
        for number, pattern in enumerate(PATTERNS, 1):
            _write_pass(fd, size, pattern)
            if observe is not None:
                observe(path, number, pattern)
            _verify_pass(fd, size, pattern, path, number)
    finally:
        os.close(fd)


def log_result(report: OverwriteReport) -> None:
    what = f"job {report.job}" if report.job is not None else report.mode
    if report.verified:
        log.info(
            "image overwrite (%s): %d files, %d bytes, %d bytes of free space, verified",
            what, report.files, report.bytes, report.free_space_bytes,
        )  # fmt: skip
    else:
        log.error("image overwrite (%s) NOT verified: %s", what, "; ".join(report.errors[:3]))
