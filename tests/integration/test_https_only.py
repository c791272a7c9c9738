"""[security] https_only: nothing over plain HTTP. IPP gets 426 Upgrade Required and the
field's clients (ipptool, CUPS's ipp backend) go on over TLS on the same port; pages and API
calls are redirected to the https listener, with their method kept."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import FAST_CONFIG, Mfpd, need

pytestmark = pytest.mark.integration

IPP_BACKEND = "/usr/lib/cups/backend/ipp"
CONFIG = FAST_CONFIG + "\n[security]\nhttps_only = true\n"


def test_plain_http_is_upgraded_or_redirected(
    mfpd_factory: Callable[..., Mfpd], tmp_path: Path
) -> None:
    need("ipptool", IPP_BACKEND)
    daemon = mfpd_factory(CONFIG)
    ipp, http, https = daemon.port("ipp"), daemon.port("http"), daemon.port("https")
    # A plain IPP request, on the IPP port and on the web port: 426 with the TLS token.
    for port in (ipp, http):
        refused = requests.post(
            f"http://127.0.0.1:{port}/ipp/print", data=b"\x02\x00\x00\x0b\x00\x00\x00\x01\x03",
            headers={"Content-Type": "application/ipp"}, timeout=10,
        )  # fmt: skip
        assert refused.status_code == 426, port
        assert refused.headers["Upgrade"].startswith("TLS/")
        assert "Upgrade" in refused.headers["Connection"]
    # ipptool asked for ipp:// takes the 426, reconnects with TLS and passes.
    result = subprocess.run(
        ["ipptool", "-t", f"ipp://127.0.0.1:{ipp}/ipp/print", "get-printer-attributes.test"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # So does CUPS's ipp backend, printing a job as a queue would.
    text = tmp_path / "hello.txt"
    text.write_text("over TLS only\n")
    printed = subprocess.run(
        [IPP_BACKEND, "3", "alice", "hello", "1", "", str(text)],
        env={"DEVICE_URI": f"ipp://127.0.0.1:{ipp}/ipp/print", "CONTENT_TYPE": "text/plain"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr[-3000:]
    (job,) = daemon.wait_jobs_done(1)
    assert job["user"] == "alice" and job["state"] == "completed"
    # Pages and the API: a redirect to the https listener; PATCH keeps its method (308).
    page = requests.get(f"http://127.0.0.1:{http}/jobs", allow_redirects=False, timeout=10)
    assert page.status_code == 301
    assert page.headers["Location"] == f"https://127.0.0.1:{https}/jobs"
    patch = requests.patch(
        f"http://127.0.0.1:{http}/api/v1/config", json={}, allow_redirects=False, timeout=10
    )
    assert patch.status_code == 308
    assert patch.headers["Location"] == f"https://127.0.0.1:{https}/api/v1/config"
    assert requests.get(f"https://127.0.0.1:{https}/", verify=False, timeout=10).ok
    # The port table says so.
    rows = {r["service"]: r for r in json.loads((daemon.state_dir / "ports.json").read_text())}
    for service in ("ipp", "http"):
        assert "https_only: over plain HTTP, IPP gets 426" in rows[service]["note"]
    assert "https_only" not in rows["https"]["note"]
