"""Every installation is its own device: a UUID made at first start, kept across restarts,
and the one value IPP printer-uuid (and every discovery protocol) reports."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable

import pytest

from tests.conftest import FAST_CONFIG, Mfpd, need

pytestmark = pytest.mark.integration


def printer_uuid(daemon: Mfpd) -> str:
    need("ipptool")
    uri = f"ipp://127.0.0.1:{daemon.port('ipp')}/ipp/print"
    result = subprocess.run(
        ["ipptool", "-tv", uri, "get-printer-attributes.test"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("printer-uuid (uri) = "):
            return line.split(" = ", 1)[1]
    raise AssertionError(result.stdout + result.stderr)


def test_two_installations_are_two_devices_and_a_restart_is_the_same(
    mfpd_factory: Callable[..., Mfpd],
) -> None:
    first = mfpd_factory(name="first")
    second = mfpd_factory(name="second")
    kept = (first.state_dir / "device-uuid").read_text().strip()
    assert printer_uuid(first) == f"urn:uuid:{kept}"
    assert uuid.UUID(kept).version == 4
    assert printer_uuid(second) != printer_uuid(first)
    first.stop()
    first.start()
    assert printer_uuid(first) == f"urn:uuid:{kept}"


def test_a_configured_uuid_wins(mfpd_factory: Callable[..., Mfpd]) -> None:
    chosen = "6d0b5fa8-8a3c-4c1e-9d55-775500000001"
    daemon = mfpd_factory(FAST_CONFIG + f'\n[identity]\nuuid = "{chosen}"\n')
    assert printer_uuid(daemon) == f"urn:uuid:{chosen}"
    assert not (daemon.state_dir / "device-uuid").exists()
