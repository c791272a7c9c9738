"""`mfpd originals`, `mfpd scan`, `mfpd jobs` and `mfpd status` for the scanner, against the
real daemon over its control socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAST_CONFIG, Mfpd
from tests.integration.test_web_api import Api, token

pytestmark = pytest.mark.integration

CONFIG = (
    FAST_CONFIG
    + """
[scan]
retries = 0

[[scan.mailboxes]]
name = "inbox"

[[scan.templates]]
name = "Feeder to inbox"
destinations = ["mailbox:inbox"]
resolution = 75
color_mode = "Grayscale8"
source = "Feeder"
duplex = true

[[scan.templates]]
name = "Glass"
destinations = ["mailbox:inbox"]
resolution = 75
color_mode = "BlackAndWhite1"
"""
)
# Two pages of PostScript: two sheets in the feeder.
TWO_PAGES = "%!PS-Adobe-3.0\n%%Pages: 2\n%%Page: 1 1\nshowpage\n%%Page: 2 2\nshowpage\n%%EOF\n"


def _scan_job(mfpd: Mfpd, job_id: int) -> dict[str, Any]:
    """The job once it has scanned (delivery is the outbound's business, not this test's)."""
    jobs = mfpd.wait_for(
        lambda jobs: any(j["id"] == job_id and j["state"] in ("completed", "aborted") for j in jobs)
    )
    return next(j for j in jobs if j["id"] == job_id)


def test_originals_and_a_walk_up_scan_from_the_console(mfpd_factory: Any, tmp_path: Path) -> None:
    mfpd: Mfpd = mfpd_factory(CONFIG)
    document = tmp_path / "two.ps"
    document.write_text(TWO_PAGES)

    refused = mfpd.cli("scan", "Feeder to inbox", check=False)
    assert refused.returncode == 1 and "ScannerAdfEmpty" in refused.stderr, refused
    unknown = mfpd.cli("scan", "nobody", check=False)
    assert unknown.returncode == 1 and "no scan template 'nobody'" in unknown.stderr
    glass_two = mfpd.cli("originals", "load", str(document), str(document), "--glass", check=False)
    assert glass_two.returncode == 1 and "one original" in glass_two.stderr
    missing = mfpd.cli("originals", "load", str(tmp_path / "none.pdf"), check=False)
    assert missing.returncode == 1 and "none.pdf" in missing.stderr

    loaded = mfpd.cli("originals", "load", str(document))
    assert "2 sheet(s) in the feeder" in loaded.stdout
    assert "feeder 2/50 sheets (ScannerAdfLoaded)" in mfpd.cli("status").stdout

    started = mfpd.cli("scan", "Feeder to inbox")
    job_id = int(started.stdout.strip())
    job = _scan_job(mfpd, job_id)
    # Duplex: two sheets, four sides (the backs of a one-sided original are blank pages).
    assert job["kind"] == "scan" and job["source"] == "walkup" and job["user"] == "console"
    assert job["impressions_completed"] == 4
    assert job["attributes"]["destinations"] == ["mailbox:inbox"]

    text = mfpd.cli("jobs").stdout.splitlines()
    assert text[0].split()[:3] == ["ID", "KIND", "SOURCE"]
    assert text[1].split()[:3] == [str(job_id), "scan", "walkup"]
    status = mfpd.status()["scanner"]
    assert status["images"] == {"Grayscale8": 4} and status["adf_state"] == "ScannerAdfEmpty"
    assert "images: 4 (Grayscale8 4)" in mfpd.cli("status").stdout

    # --originals loads where the template scans from (the glass here), then scans.
    again = mfpd.cli("scan", "Glass", "--originals", str(document))
    second = _scan_job(mfpd, int(again.stdout.strip()))
    assert second["impressions_completed"] == 1
    assert mfpd.status()["scanner"]["glass"] == "two.ps page 1"
    assert "cleared" in mfpd.cli("originals", "clear").stdout
    assert mfpd.status()["scanner"]["glass"] == "test chart"

    # A print job beside them: the one id sequence, the kind tells them apart.
    printed = tmp_path / "hello.txt"
    printed.write_text("Hello\n")
    print_id = int(mfpd.cli("print", str(printed)).stdout.strip())
    kinds = {j["id"]: j["kind"] for j in json.loads(mfpd.cli("jobs", "--json").stdout)}
    assert kinds == {job_id: "scan", second["id"]: "scan", print_id: "print"}
    assert print_id > second["id"] > job_id


def test_a_template_made_over_the_api_survives_a_restart_sealed(
    mfpd_factory: Any, tmp_path: Path
) -> None:
    """The real daemon: a template with a password POSTed to /api/v1/scan-templates is kept
    in settings.json sealed (never the password), answered masked after a restart, and
    `mfpd scan` starts it."""
    mfpd: Mfpd = mfpd_factory(CONFIG)
    api = Api(mfpd, token(mfpd))
    template = {
        "name": "To the server",
        "destinations": [{"uri": "ftps://scan@127.0.0.1:1/in", "password": "pw-4711"}],
        "resolution": 75,
        "color_mode": "BlackAndWhite1",
    }
    created = api.post("/scan-templates", json=template)
    assert created.status_code == 201, created.text
    stored = (mfpd.state_dir / "settings.json").read_text()
    assert "pw-4711" not in stored and '"enc:' in stored
    mfpd.stop()
    mfpd.start()
    api = Api(mfpd, api.token)
    listed = api.get("/scan-templates").json()["templates"]
    assert [t["name"] for t in listed] == ["Feeder to inbox", "Glass", "To the server"]
    assert listed[2]["destinations"][0]["password"] == "********"
    assert "pw-4711" not in json.dumps(api.get("/config").json())
    job_id = int(mfpd.cli("scan", "To the server").stdout.strip())
    job = _scan_job(mfpd, job_id)
    # The password is nowhere on the job either; the FTPS server does not exist, so the
    # delivery fails and says so (the outbound clients' business).
    assert job["attributes"]["destinations"] == ["ftps://scan@127.0.0.1:1/in"]
    assert "pw-4711" not in json.dumps(job)
