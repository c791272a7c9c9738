"""What eSCL needs of the scan runner (device/scan_jobs.py) beyond its own tests: a feeder jam
in the middle of a job ends the job Aborted (document-feeder-jam) once its client has the
images scanned before the jam, so ScannerStatus says Aborted where a device does."""

from __future__ import annotations

from pathlib import Path

import pytest

from mfpd.codecs import escl
from mfpd.config import Config
from mfpd.device.jobs import JobState
from mfpd.device.machine import build_device
from mfpd.device.scan_jobs import ScanJobs
from mfpd.device.scan_settings import InputSource, Region, ScanSettings
from mfpd.device.scanner import CHART, FeedError, Sheet
from mfpd.device.store import JobStore


async def test_a_jam_mid_job_ends_aborted_after_the_scanned_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config()
    device = build_device(config)
    scans = ScanJobs(device, JobStore(tmp_path), tmp_path, lambda: config)
    scanner = device.scanner
    scanner.load_feeder([Sheet(CHART)] * 3)
    feed = scanner.feed
    fed: list[int] = []

    def jam_on_the_second_sheet() -> Sheet:
        fed.append(1)
        if len(fed) == 2:
            scanner.set_jammed(True)
            raise FeedError("ScannerAdfJam", "the document feeder is jammed")
        return feed()

    monkeypatch.setattr(scanner, "feed", jam_on_the_second_sheet)
    settings = ScanSettings(
        source=InputSource.FEEDER, resolution=75, region=Region(0, 0, 1200, 1500),
        format="image/png",
    )  # fmt: skip
    scan = scans.create(settings, source="escl")
    image = await scan.next_image(30.0)
    assert image is not None
    assert scan.job.state is JobState.PROCESSING  # its image waits for the client
    scans.retrieved(scan, image)
    assert await scan.next_image(30.0) is None
    assert scan.failure == "ScannerAdfJam"
    assert scan.job.state is JobState.ABORTED
    assert scan.job.state_reasons == ["document-feeder-jam"]
    assert escl.job_state(scan.job.state.value) == "Aborted"
    assert escl.job_state_reason(scan.job.state_reasons[0]) == "DocumentFeederJam"
    assert scanner.adf_state == "ScannerAdfJam"
