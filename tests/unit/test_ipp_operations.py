"""IPP operations against a real spool, without the network."""

from __future__ import annotations

from pathlib import Path

from mfpd.config import Config, SpoolConfig
from mfpd.device.jobs import JobState
from mfpd.device.machine import build_device
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.services.ipp.operations import IppOperations


def test_abandoned_create_job_is_aborted_after_the_timeout(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    device = build_device(Config())
    spool = Spool(store, tmp_path / "spool", device.events, SpoolConfig())
    operations = IppOperations(device, spool, 1 << 20)
    waiting = spool.create("ipp", name="created, never sent")
    fresh = spool.create("ipp", name="just created")
    waiting.created_at -= 301
    operations.abort_abandoned(300)
    assert (
        waiting.state is JobState.ABORTED and "multiple-operation-time-out" in waiting.state_message
    )
    assert fresh.state is JobState.PENDING
    store.close()
