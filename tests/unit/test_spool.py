"""The spool's retention of finished jobs (SpoolConfig keep_completed, keep_completed_hours)."""

from __future__ import annotations

from pathlib import Path

from mfpd.config import SpoolConfig
from mfpd.device.events import EventBus
from mfpd.device.jobs import Job
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def spooled(spool: Spool) -> Job:
    job = spool.create("raw", name="t", user="alice")
    writer = spool.open_document(job)
    writer.write(b"%!PS\n")
    spool.close_document(writer)
    return spool.finish(job)


def test_the_newest_finished_jobs_are_kept_and_active_ones_whatever_their_age(
    tmp_path: Path,
) -> None:
    store = JobStore(tmp_path)
    spool = Spool(store, tmp_path / "spool", EventBus(), SpoolConfig(keep_completed=3))
    jobs = [spooled(spool) for _ in range(10)]
    held = jobs[1]  # older than every finished job, and never purged
    spool.hold(held)
    removed = finished = 0
    for job in jobs:
        if job is not held:
            spool.cancel(job)
            finished += 1
        removed += spool.purge()
        assert len(spool) - len(spool.active()) == min(3, finished)
    kept = {job.id for job in spool}
    assert kept == {held.id, jobs[7].id, jobs[8].id, jobs[9].id}
    assert removed == 6
    for job in jobs:
        assert all(p.exists() for p in spool.document_paths(job)) == (job.id in kept), job.id
    assert spool.purge() == 0
    store.close()
    again = JobStore(tmp_path)  # what a restart finds
    assert {job.id for job in again.load()} == kept
    again.close()


def test_finished_jobs_older_than_the_limit_go_once_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    store = JobStore(tmp_path)
    config = SpoolConfig(keep_completed=100, keep_completed_hours=1)
    spool = Spool(store, tmp_path / "spool", EventBus(), config, clock=clock)
    old, active, young = spooled(spool), spooled(spool), spooled(spool)
    spool.cancel(old)
    clock.now += 3590
    spool.cancel(young)
    assert spool.purge() == 0  # nothing is an hour old yet
    clock.now += 30
    assert spool.purge() == 0  # the old one is, but the last look was under a minute ago
    clock.now += 31
    assert spool.purge() == 1
    assert {job.id for job in spool} == {active.id, young.id}
    clock.now += 3600
    assert spool.purge() == 1
    assert [job.id for job in spool] == [active.id]
    store.close()
