"""Image overwrite: three passes on the disk, each read back from outside before the next,
the verify failure path, immediate mode at a job's end (and secure-print jobs always), the
on-demand overwrite and its bounded free-space fill, refused while a job prints."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from mfpd.config import Config, SecurityConfig
from mfpd.device import secure_print
from mfpd.device.image_overwrite import (
    FILL_NAME,
    PATTERNS,
    ImageOverwriter,
    OverwriteRefused,
    VerifyError,
    overwrite_file,
)
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import build_device
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.security import audit_log
from mfpd.security.audit_log import AuditLog


class DiskWatcher:
    """The test's eye on the disk: after each pass is written and synced, it reads the file
    through a descriptor of its own and keeps what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, set[int], int]] = []

    def __call__(self, path: Path, number: int, pattern: int) -> None:
        with open(path, "rb") as disk:
            data = disk.read()
        self.seen.append((path.name, number, set(data), len(data)))


def test_three_passes_each_on_disk_before_the_next(tmp_path: Path) -> None:
    secret = b"CONFIDENTIAL payroll\n" * 100_000  # 2.1 MB: several chunks
    path = tmp_path / "00000001-1.dat"
    path.write_bytes(secret)
    watcher = DiskWatcher()
    assert overwrite_file(path, watcher) == len(secret)
    assert [(n, seen, size) for _, n, seen, size in watcher.seen] == [
        (1, {0x35}, len(secret)), (2, {0xCA}, len(secret)), (3, {0x97}, len(secret)),
    ]  # fmt: skip
    assert path.read_bytes() == bytes([PATTERNS[-1]]) * len(secret)


def test_a_pass_that_does_not_read_back_fails_the_verify(tmp_path: Path) -> None:
    path = tmp_path / "00000002-1.dat"
    path.write_bytes(b"x" * 5000)

    def bad_sector(path: Path, number: int, pattern: int) -> None:
        if number == 2:  # the disk keeps one old byte of the second pass
            with open(path, "r+b") as disk:
                disk.seek(4321)
                disk.write(b"\x00")

    with pytest.raises(VerifyError, match=r"pass 2 \(0xCA\): byte 4321 reads 0x00"):
        overwrite_file(path, bad_sector)


def _spool(tmp_path: Path) -> Spool:
    config = Config()
    device = build_device(config)
    return Spool(JobStore(tmp_path), tmp_path / "spool", device.events, config.spool)


def _job(spool: Spool, data: bytes, passcode: str = "") -> Job:
    job = spool.create("ipp", name="secret", user="carol", host="192.0.2.5")
    if passcode:
        secure_print.protect(job, passcode.encode())
    writer = spool.open_document(job)
    writer.write(data)
    spool.close_document(writer)
    spool.finish(job)
    return job


async def _settle(overwriter: ImageOverwriter) -> None:
    await asyncio.sleep(0)
    await overwriter.drain()


async def test_immediate_overwrites_a_job_when_it_ends(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    log = AuditLog(tmp_path, 100)
    watcher = DiskWatcher()
    config = SecurityConfig(image_overwrite="immediate")
    overwriter = ImageOverwriter(spool, lambda: config, log, observe=watcher)
    overwriter.follow(spool.events)
    job = _job(spool, b"%PDF-1.4 secret" * 1000)
    path = spool.document_paths(job)[0]
    spool.cancel(job)  # any end: canceled, aborted, completed
    await _settle(overwriter)
    assert not path.exists()
    assert [(name, seen) for name, _, seen, _ in watcher.seen] == [
        (path.name, {0x35}), (path.name, {0xCA}), (path.name, {0x97}),
    ]  # fmt: skip
    entry = log.entries(event="image-overwrite")[0]
    assert entry.event_id == audit_log.IMMEDIATE_IMAGE_OVERWRITE
    assert (entry.user, entry.address, entry.interface, entry.outcome) == (
        "carol", "192.0.2.5", "ipp", "success",
    )  # fmt: skip
    assert entry.details["bytes"] == 15000 and entry.details["verified"] is True
    assert overwriter.status()["last"]["job"] == job.id
    log.close()


async def test_off_keeps_files_but_a_secure_print_job_is_always_overwritten(
    tmp_path: Path,
) -> None:
    spool = _spool(tmp_path)
    config = SecurityConfig(image_overwrite="off")
    overwriter = ImageOverwriter(spool, lambda: config)
    overwriter.follow(spool.events)
    plain = _job(spool, b"plain")
    secure = _job(spool, b"payslip", passcode="1234")
    for job in (plain, secure):
        job.state = JobState.COMPLETED
        spool.update(job)
    await _settle(overwriter)
    assert spool.document_paths(plain)[0].exists()
    assert not spool.document_paths(secure)[0].exists()


async def test_a_failed_verify_keeps_the_file_and_says_so(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    log = AuditLog(tmp_path, 100)
    config = SecurityConfig(image_overwrite="immediate")

    def bad_sector(path: Path, number: int, pattern: int) -> None:
        if number == 3:
            with open(path, "r+b") as disk:
                disk.write(b"\x01")

    overwriter = ImageOverwriter(spool, lambda: config, log, observe=bad_sector)
    overwriter.follow(spool.events)
    job = _job(spool, b"y" * 100)
    spool.cancel(job)
    await _settle(overwriter)
    # Kept for the next on-demand overwrite; the result is a failure everywhere it shows.
    assert spool.document_paths(job)[0].exists()
    entry = log.entries(event="image-overwrite")[0]
    assert entry.outcome == "failure" and entry.details["verified"] is False
    assert "pass 3 (0x97): byte 0 reads 0x01" in entry.details["errors"][0]
    assert overwriter.status()["last"]["verified"] is False
    log.close()


async def test_on_demand_takes_finished_jobs_and_bounded_free_space(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    log = AuditLog(tmp_path, 100)
    config = SecurityConfig(overwrite_free_bytes=3 * 1024 * 1024)
    watcher = DiskWatcher()
    overwriter = ImageOverwriter(spool, lambda: config, log, observe=watcher)
    done = _job(spool, b"old job" * 10)
    done.state = JobState.COMPLETED
    spool.update(done)
    waiting = _job(spool, b"not printed yet")
    orphan = spool.directory / "00000099-1.dat"  # a file no job owns (a purge cut short)
    orphan.write_bytes(b"left over")
    report = await overwriter.on_demand(user="admin", address="192.0.2.1", interface="https")
    assert report.verified and report.files == 2 and report.bytes == 70 + 9
    assert report.free_space_bytes == 3 * 1024 * 1024
    assert not spool.document_paths(done)[0].exists() and not orphan.exists()
    assert spool.document_paths(waiting)[0].exists()  # an active job's file is never touched
    assert not (spool.directory / FILL_NAME).exists()
    fills = [(n, seen, size) for name, n, seen, size in watcher.seen if name == FILL_NAME]
    assert fills == [(1, {0x35}, 3 << 20), (2, {0xCA}, 3 << 20), (3, {0x97}, 3 << 20)]
    started, ended = log.entries(event="image-overwrite", limit=2)[::-1]
    assert (started.event_id, started.outcome) == (audit_log.ODIO_STARTED, "started")
    assert (ended.event_id, ended.outcome, ended.user) == (
        audit_log.ODIO_COMPLETE,
        "success",
        "admin",
    )
    assert ended.details["free_space_bytes"] == 3 << 20
    log.close()


async def test_on_demand_is_refused_while_a_job_prints(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    overwriter = ImageOverwriter(spool, lambda: SecurityConfig(overwrite_free_bytes=0))
    job = _job(spool, b"printing")
    job.state = JobState.PROCESSING
    spool.update(job)
    with pytest.raises(OverwriteRefused, match=f"job {job.id} is printing"):
        await overwriter.on_demand()
    assert spool.document_paths(job)[0].exists()
    assert os.listdir(spool.directory) == [spool.document_paths(job)[0].name]
