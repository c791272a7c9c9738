"""Walk-up scans end to end below the daemon: the scan runner (device/scan_jobs.py) with the
real imaging pipeline, delivering through deliverer(ctx) as the daemon wires it, to real
servers on loopback (pyftpdlib FTPS, aiosmtpd STARTTLS + AUTH). A delivered scan completes
and its files go; a failed one ends aborted with the reason of the failure on the job, its
files kept (no lost scan), retried only when a retry may help."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from pathlib import Path
from typing import Any

import pytest

from mfpd.device.jobs import JobState
from mfpd.device.scan_jobs import ScanJob, ScanJobs
from mfpd.device.scan_settings import Region, ScanSettings
from mfpd.device.store import JobStore
from mfpd.outbound.destinations import deliverer
from tests.outbound_servers import (
    credential_entries,
    free_port,
    make_pki,
    outbound_context,
    pyftpd,
    smtp_server,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:The (asyncore|asynchat) module is deprecated:DeprecationWarning"
)
SMALL = Region(0, 0, 1200, 1500)


def _runner(tmp: Path, config: str) -> tuple[Any, ScanJobs]:
    ctx = outbound_context(tmp, config + "\n[scan]\nretries = 1\nretry_delay = 0\n")
    scans = ScanJobs(ctx.device, JobStore(ctx.state_dir), ctx.state_dir, lambda: ctx.config)
    scans.deliver = deliverer(ctx)
    return ctx, scans


async def _walkup(scans: ScanJobs, destination: Any, name: str) -> ScanJob:
    settings = ScanSettings(resolution=75, region=SMALL, format="application/pdf")
    scan = scans.create(
        settings, source="walkup", output="document", destinations=[destination],
        template="t", name=name, user="alice",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not scan.job.state.terminal:
        assert time.monotonic() < deadline, scan.job.to_dict()
        await asyncio.sleep(0.02)
    return scan


async def test_walkup_to_ftps_delivered_and_failures_kept(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    ctx, scans = _runner(tmp_path, f'[tls]\nca_bundle = "{pki.ca}"\n')
    with pyftpd(tmp_path / "ftp", pki) as server:
        base = f"ftps://{server.user}:%s@localhost:{server.port}/walkup"
        scan = await _walkup(scans, base % server.password, "Walk up")
        assert scan.job.state is JobState.COMPLETED, scan.job.to_dict()
        (stored,) = (server.root / "walkup").iterdir()
        assert stored.name.startswith("Walk_up_") and stored.name.endswith("_001.pdf")
        assert stored.read_bytes().startswith(b"%PDF")
        assert not any(p.exists() for p in scan.documents)

        wrong = await _walkup(scans, base % "not-the-password", "Wrong")
    assert wrong.job.state is JobState.ABORTED
    assert wrong.job.state_reasons == ["destination-auth-failed"]
    assert all(p.exists() for p in wrong.documents)  # the scan is kept
    assert "not-the-password" not in str(wrong.job.to_dict())
    (outcome,) = wrong.job.attributes["deliveries"]
    assert outcome["state"] == "failed" and "530" in outcome["message"]
    assert [e.outcome for e in credential_entries(ctx)] == [
        "success", "failure",  # a wrong password is not tried again
    ]  # fmt: skip

    down = await _walkup(scans, f"ftp://u:p@127.0.0.1:{free_port()}/x", "Down")
    assert down.job.state is JobState.ABORTED
    assert down.job.state_reasons == ["destination-unreachable"]
    assert all(p.exists() for p in down.documents)


async def test_walkup_to_email(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    with smtp_server(pki) as server:
        config = (
            f'[tls]\nca_bundle = "{pki.ca}"\n[smtp]\nserver = "localhost:{server.port}"\n'
            f'username = "{server.user}"\npassword = "{server.password}"\ntimeout = 10\n'
        )
        _ctx, scans = _runner(tmp_path, config)
        scan = await _walkup(scans, "mailto:bob@example.test", "Mail me")
    assert scan.job.state is JobState.COMPLETED, scan.job.to_dict()
    *_envelope, data = server.messages[0]
    message = email.message_from_bytes(data, policy=email.policy.default)
    (part,) = list(message.iter_attachments())  # type: ignore[attr-defined]
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True).startswith(b"%PDF")
