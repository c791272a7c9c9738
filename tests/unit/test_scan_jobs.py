"""The scan job runner (device/scan_jobs.py) with the real imaging pipeline and store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mfpd.config import Config
from mfpd.device.jobs import JobState
from mfpd.device.machine import Device, build_device
from mfpd.device.operator import apply_fault
from mfpd.device.scan_jobs import DeliveryInfo, NotReady, ScanBusy, ScanJob, ScanJobs, ScanRefused
from mfpd.device.scan_settings import ColorMode, InputSource, Region, ScanSettings
from mfpd.device.scanner import CHART, Sheet
from mfpd.device.store import JobStore

SMALL = Region(0, 0, 1200, 1500)  # 4 x 5 in: quick at 75 dpi


def _settings(**changes: Any) -> ScanSettings:
    base = ScanSettings(resolution=75, region=SMALL, format="image/png")
    return base.with_changes(**changes)


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Device, JobStore, ScanJobs, Config]:
    config = Config()
    device = build_device(config)
    store = JobStore(tmp_path)
    return device, store, ScanJobs(device, store, tmp_path, lambda: config), config


async def _drain(scans: ScanJobs, scan: ScanJob) -> list[Path]:
    got = []
    while (image := await scan.next_image(30.0)) is not None:
        assert image.path.exists()
        got.append(image)
        scans.retrieved(scan, image)
        assert not image.path.exists()
    return [i.path for i in got]


async def test_a_platen_scan_gives_one_image_and_completes_when_retrieved(parts: Any) -> None:
    device, store, scans, _ = parts
    scan = scans.create(_settings(), source="escl")
    assert scan.job.kind == "scan" and scan.job.state is JobState.PROCESSING
    assert device.scanner.busy
    assert len(await _drain(scans, scan)) == 1
    assert scan.job.state is JobState.COMPLETED
    assert not device.scanner.busy
    assert device.scanner.images == {"RGB24": 1}
    record = next(job for job in store.load() if job.id == scan.job.id)
    assert record.kind == "scan" and record.state is JobState.COMPLETED
    assert scans.thumbnail(scan.job.id) is not None


async def test_the_feeder_duplex_gives_two_images_per_sheet(parts: Any) -> None:
    device, _store, scans, _ = parts
    device.scanner.load_feeder([Sheet(CHART)] * 3)
    scan = scans.create(
        _settings(source=InputSource.FEEDER, duplex=True, color_mode=ColorMode.GRAYSCALE),
        source="escl",
    )
    assert len(await _drain(scans, scan)) == 6
    assert device.scanner.feeder_sheets == 0
    assert device.scanner.images == {"Grayscale8": 6}


async def test_an_empty_feeder_is_refused_and_a_busy_scanner_is_busy(parts: Any) -> None:
    _device, _store, scans, _ = parts
    with pytest.raises(ScanRefused) as refused:
        scans.create(_settings(source=InputSource.FEEDER), source="escl")
    assert refused.value.reason == "ScannerAdfEmpty"
    first = scans.create(_settings(), source="escl")
    with pytest.raises(ScanBusy):
        scans.create(_settings(), source="escl")
    await _drain(scans, first)


async def test_a_jam_mid_job_stops_the_job_at_the_next_sheet(parts: Any) -> None:
    device, _store, scans, _ = parts
    device.scanner.load_feeder([Sheet(CHART)] * 5)
    scan = scans.create(_settings(source=InputSource.FEEDER), source="escl")
    first = await scan.next_image(30.0)
    assert first is not None
    apply_fault(device, "feeder-jam", False, None)
    scans.retrieved(scan, first)
    rest = await _drain(scans, scan)
    assert scan.failure == "ScannerAdfJam"
    assert 1 + len(rest) < 5
    assert device.scanner.feeder_sheets >= 1  # the jammed sheet and those after it stay
    assert "document-feeder-jam" in [str(r.keyword) for r in device.reasons]


async def test_cancel_and_abandon_remove_the_files(parts: Any) -> None:
    _device, _store, scans, _config = parts
    scan = scans.create(_settings(), source="escl")
    while scan.scanning:
        await asyncio.sleep(0.01)
    path = scan.images[0].path
    assert path.exists()
    assert scans.cancel(scan)
    assert scan.job.state is JobState.CANCELED and not path.exists()
    assert await scan.next_image(0.1) is None or scan.job.state.terminal


async def test_next_image_says_not_ready_while_scanning(parts: Any) -> None:
    _device, _store, scans, _ = parts
    scan = scans.create(_settings(resolution=600, region=Region()), source="escl")
    with pytest.raises(NotReady):
        await scan.next_image(0.0)
    await _drain(scans, scan)


async def test_a_walk_up_scan_is_delivered_or_kept_with_the_reason(parts: Any) -> None:
    _device, _store, scans, config = parts
    config.scan.retry_delay = 0.0
    delivered: list[tuple[Any, list[bytes]]] = []

    async def deliver(dest: Any, files: Sequence[Path], info: DeliveryInfo) -> str:
        if "down" in str(dest):
            raise ConnectionRefusedError("connection refused")
        delivered.append((dest, [p.read_bytes() for p in files]))
        return f"sent to {dest}"

    scans.deliver = deliver
    good = scans.create(
        _settings(format="application/pdf"), source="walkup", output="document",
        destinations=["mailto:a@example.com"], template="t",
    )  # fmt: skip
    while not good.job.state.terminal:
        await asyncio.sleep(0.01)
    assert good.job.state is JobState.COMPLETED
    assert delivered[0][1][0].startswith(b"%PDF")
    assert not any(p.exists() for p in good.documents)
    bad = scans.create(
        _settings(format="application/pdf"), source="walkup", output="document",
        destinations=["ftp://u:secret@down:21/x"],
    )  # fmt: skip
    while not bad.job.state.terminal:
        await asyncio.sleep(0.01)
    assert bad.job.state is JobState.ABORTED
    assert "connection refused" in bad.job.state_message
    assert all(p.exists() for p in bad.documents)  # kept: no lost scan
    assert "secret" not in str(bad.job.to_dict())


async def test_a_restart_aborts_what_was_scanning(tmp_path: Path) -> None:
    config = Config()
    device = build_device(config)
    store = JobStore(tmp_path)
    scans = ScanJobs(device, store, tmp_path, lambda: config)
    scan = scans.create(_settings(), source="escl")
    await asyncio.sleep(0)
    again = ScanJobs(device, store, tmp_path, lambda: config)
    old = again.get(scan.job.id)
    assert old is not None and old.job.state is JobState.ABORTED
    await _drain(scans, scan)


async def test_immediate_image_overwrite_covers_scan_images(tmp_path: Path) -> None:
    from mfpd.config import SecurityConfig
    from mfpd.device.image_overwrite import ImageOverwriter
    from mfpd.device.spool import Spool

    config = Config()
    device = build_device(config)
    store = JobStore(tmp_path)
    spool = Spool(store, tmp_path / "spool", device.events, config.spool)
    passes: list[tuple[str, int]] = []
    overwriter = ImageOverwriter(
        spool,
        lambda: SecurityConfig(image_overwrite="immediate"),
        observe=lambda path, number, pattern: passes.append((path.name, pattern)),
    )
    scans = ScanJobs(device, store, tmp_path, lambda: config)
    scans.erase = overwriter.erase
    scan = scans.create(_settings(), source="escl")
    image = await scan.next_image(30.0)
    assert image is not None
    scans.retrieved(scan, image)
    await overwriter.drain()
    assert [pattern for name, pattern in passes if name == image.path.name] == [0x35, 0xCA, 0x97]
    assert not image.path.exists()
    assert overwriter.last is not None and overwriter.last.job == scan.job.id


async def test_an_original_whose_file_is_gone_ends_the_job_with_the_reason(parts: Any) -> None:
    from mfpd.device.scanner import Original

    device, _store, scans, _ = parts
    device.scanner.load_feeder([Sheet(Original(str(Path("/nonexistent/a.pdf")), 0, name="a.pdf"))])
    scan = scans.create(_settings(source=InputSource.FEEDER), source="escl")
    assert await _drain(scans, scan) == []
    assert scan.job.state is JobState.ABORTED
    assert scan.job.state_message.startswith("an original cannot be scanned")


async def test_on_demand_overwrite_takes_what_finished_scans_left(tmp_path: Path) -> None:
    from mfpd.config import SecurityConfig
    from mfpd.device.image_overwrite import ImageOverwriter
    from mfpd.device.spool import Spool

    config = Config()
    config.scan.retries = 0
    device = build_device(config)
    store = JobStore(tmp_path)
    spool = Spool(store, tmp_path / "spool", device.events, config.spool)
    scans = ScanJobs(device, store, tmp_path, lambda: config)

    async def refuse(dest: Any, files: Sequence[Path], info: DeliveryInfo) -> str:
        raise ConnectionRefusedError("connection refused")

    scans.deliver = refuse
    failed = scans.create(
        _settings(format="application/pdf"), source="walkup", output="document",
        destinations=["ftp://u@down:21/x"],
    )  # fmt: skip
    while not failed.job.state.terminal:
        await asyncio.sleep(0.01)
    kept = list(failed.documents)
    assert kept and all(p.exists() for p in kept)
    live = scans.create(_settings(), source="escl")
    while live.scanning:
        await asyncio.sleep(0.01)
    left = scans.leftovers()
    assert set(kept) <= set(left)
    assert not {i.path for i in live.images} & set(left)  # a client may still fetch these
    overwriter = ImageOverwriter(spool, lambda: SecurityConfig(overwrite_free_bytes=0), None)
    overwriter.other_leftovers = scans.leftovers
    report = await overwriter.on_demand(user="admin")
    assert report.verified and not any(p.exists() for p in kept)
    assert all(i.path.exists() for i in live.images)
    await _drain(scans, live)


def test_the_idle_panel_shows_the_scanners_conditions() -> None:
    device = build_device(Config())
    device.scanner.set_cover_open(True)
    assert device.display == "CLOSE DOCUMENT FEEDER"
    assert device.pjl_status() == (10001, "CLOSE DOCUMENT FEEDER", True)
    assert device.state.value == "idle"  # the printer prints on
    device.scanner.set_cover_open(False)
    assert device.display == "READY"
