"""The print engine against a real spool in a temporary state dir."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mfpd.config import Config, EngineConfig, SpoolConfig
from mfpd.device.alerts import ConditionKind
from mfpd.device.engine import Engine
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import Device, PrinterState, build_device
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore


@dataclass
class Rig:
    device: Device
    spool: Spool
    engine: Engine
    store: JobStore


def submit(spool: Spool, data: bytes, *, copies: int = 1, **attributes: object) -> Job:
    job = spool.create("raw", name="t", user="alice", copies=copies, attributes=attributes)
    writer = spool.open_document(job)
    writer.write(data)
    spool.close_document(writer)
    return spool.finish(job)


async def until(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.01)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = JobStore(tmp_path)
    device = build_device(Config())
    spool = Spool(store, tmp_path / "spool", device.events, SpoolConfig())
    engine = Engine(device, spool, EngineConfig(speed_ppm=0, speed_ppm_color=0))
    task = asyncio.create_task(engine.run())
    yield Rig(device, spool, engine, store)
    engine.stop()
    await asyncio.wait_for(task, 5)
    store.close()


async def test_text_job_is_counted_and_completed(rig: Rig) -> None:
    job = submit(rig.spool, b"line\n" * 130, copies=2)
    await until(lambda: job.state is JobState.COMPLETED)
    assert job.format == "text/plain"
    assert job.pages == 3  # 130 lines at 60 lines per page
    assert job.impressions_completed == 6
    assert rig.device.counters.impressions == 6
    assert rig.device.find_tray("tray-1").level == 520 - 6
    assert job.state_reasons == ["job-completed-successfully"]


async def test_empty_tray_stops_the_job_and_refill_resumes_it(rig: Rig) -> None:
    for tray in rig.device.trays:
        rig.device.set_tray_level(tray, 0)
    job = submit(rig.spool, b"x\n")
    await until(lambda: job.state is JobState.STOPPED)
    assert rig.device.state is PrinterState.STOPPED
    assert "media-empty-error" in [str(r) for r in rig.device.reasons]
    rig.device.refill("tray-1")
    await until(lambda: job.state is JobState.COMPLETED)
    assert rig.device.state is PrinterState.IDLE


async def test_a_backlog_is_printed_one_job_at_a_time_between_the_network(rig: Rig) -> None:
    """Jobs queued while the trays were empty are printed once paper comes, but the loop
    runs the listeners between two jobs: a task waiting to run gets its turn long before
    the last job is printed (the engine once printed the whole backlog in one go)."""
    for tray in rig.device.trays:
        rig.device.set_tray_level(tray, 0)
    jobs = [submit(rig.spool, b"x\n") for _ in range(50)]
    await until(lambda: jobs[0].state is JobState.STOPPED)
    seen: list[int] = []

    async def listener() -> None:
        for _ in range(3):  # what a connection's callbacks would see, turn after turn
            seen.append(sum(job.state is JobState.COMPLETED for job in jobs))
            await asyncio.sleep(0)

    rig.device.refill("tray-1")
    answering = asyncio.create_task(listener())
    await until(lambda: all(job.state is JobState.COMPLETED for job in jobs))
    await answering
    assert seen[0] < 5 and seen[-1] < len(jobs), seen


async def test_jam_mid_job_waits_and_clearing_resumes(rig: Rig) -> None:
    rig.device.set_fault(ConditionKind.JAM)
    job = submit(rig.spool, b"x\n")
    await until(lambda: job.state_reasons == ["printer-stopped"])
    assert job.state is JobState.PENDING
    rig.device.set_fault(ConditionKind.JAM, False)
    await until(lambda: job.state is JobState.COMPLETED)


async def test_cancel_before_printing(rig: Rig) -> None:
    rig.device.set_fault(ConditionKind.OFFLINE)
    job = submit(rig.spool, b"x\n")
    assert rig.spool.cancel(job)
    rig.device.set_fault(ConditionKind.OFFLINE, False)
    second = submit(rig.spool, b"y\n")
    await until(lambda: second.state is JobState.COMPLETED)
    assert job.state is JobState.CANCELED and job.impressions_completed == 0


async def test_recovery_resumes_accepted_and_aborts_half_received(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    device = build_device(Config())
    spool = Spool(store, tmp_path / "spool", device.events, SpoolConfig())
    done = submit(spool, b"a\n")
    half = spool.create("lpd", name="half")
    writer = spool.open_document(half)
    writer.write(b"partial")
    writer.close()
    store.close()

    again = Spool(JobStore(tmp_path), tmp_path / "spool", device.events, SpoolConfig())
    notes = again.recover()
    resumed, aborted = again.get(done.id), again.get(half.id)
    assert resumed is not None and resumed.state is JobState.PENDING
    assert aborted is not None and aborted.state is JobState.ABORTED
    assert "job-data-insufficient" in aborted.state_reasons
    assert aborted.bytes == 7
    assert any("half-received" in n for n in notes)


async def test_a_document_the_engine_cannot_read_aborts_only_that_job(rig: Rig) -> None:
    broken = submit(rig.spool, b"first\n")
    for path in rig.spool.document_paths(broken):
        path.unlink()  # e.g. removed by hand from the spool directory
    good = submit(rig.spool, b"second\n")
    await until(lambda: good.state is JobState.COMPLETED)
    assert broken.state is JobState.ABORTED
    assert "document-unprintable-error" in broken.state_reasons


async def test_multi_document_jobs_count_each_document_in_its_own_format(rig: Rig) -> None:
    job = rig.spool.create("lpd", name="two files", user="erin")
    for data in (b"%!PS-Adobe-3.0\n%%Pages: 4\n%%EOF\n", b"text\n" * 61):
        writer = rig.spool.open_document(job)
        writer.write(data)
        rig.spool.close_document(writer)
    rig.spool.finish(job)
    await until(lambda: job.state is JobState.COMPLETED)
    assert job.format == "application/postscript"
    assert job.pages == 4 + 2


async def test_page_ranges_limit_the_printed_pages(rig: Rig) -> None:
    job = submit(rig.spool, b"line\n" * 600, **{"page-ranges": [[2, 3], [9, 40]]})
    await until(lambda: job.state is JobState.COMPLETED)
    assert job.pages == 4  # pages 2, 3, 9 and 10 of a 10-page text
