"""Originals loaded off the event loop (device/originals.py): the copy and the page count run in
a worker thread, and a prune meanwhile (a scan job ending) leaves the copies being made alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mfpd.config import Config
from mfpd.device.machine import build_device
from mfpd.device.originals import Originals
from mfpd.device.scanner import ScannerError


async def test_a_prune_while_a_file_is_counted_keeps_its_copy(tmp_path: Path) -> None:
    device = build_device(Config())
    seen: list[bool] = []

    def pages(copy: Path) -> int:
        originals.prune()  # what a scan job's end does on the loop meanwhile
        seen.append(copy.exists())
        return 3

    originals = Originals(tmp_path, device.scanner, pages=pages)
    source = tmp_path / "three.pdf"
    source.write_bytes(b"%PDF-1.4 not read by the stand-in counter")
    message = await originals.load_async([source], feeder=True)
    assert seen == [True]
    assert "3 sheet(s)" in message and device.scanner.feeder_sheets == 3
    assert all(Path(s.front.path).exists() for s in device.scanner.feeder)


async def test_the_count_runs_off_the_event_loop(tmp_path: Path) -> None:
    device = build_device(Config())
    loop_thread: list[bool] = []

    def pages(copy: Path) -> int:
        try:
            asyncio.get_running_loop()
            loop_thread.append(True)
        except RuntimeError:
            loop_thread.append(False)
        return 1

    originals = Originals(tmp_path, device.scanner, pages=pages)
    source = tmp_path / "one.png"
    source.write_bytes(b"stand-in")
    await originals.load_async([source], feeder=False)
    assert loop_thread == [False]
    assert device.scanner.glass.name == "one.png"


async def test_a_refused_file_leaves_no_copy(tmp_path: Path) -> None:
    device = build_device(Config())

    def pages(copy: Path) -> int:
        raise ValueError("not a document")

    originals = Originals(tmp_path, device.scanner, pages=pages)
    source = tmp_path / "bad.pdf"
    source.write_bytes(b"junk")
    with pytest.raises(ScannerError, match="cannot be scanned"):
        await originals.load_async([source, source], feeder=True)
    assert list(originals.root.iterdir()) == []
    assert device.scanner.feeder_sheets == 0
