"""The security audit log and image overwrite on the real daemon, with the field's clients:
CUPS's ipp backend and ipptool print, snmpget with a wrong SNMPv3 key, a failed login on
CentreWare's form, a configuration PATCH; the entries survive kill -9; the export is the
administrator's and HTTPS only; the almost-full warning reaches IPP, SNMP and the status;
image overwrite, immediate and on demand, and the on-demand one refused while a job prints."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import FAST_CONFIG, Mfpd, need
from tests.documents import make_pdf
from tests.integration.test_ipp_admin import ipptool, op
from tests.integration.test_snmp_agent import ADMIN, SYS_DESCR, snmp
from tests.integration.test_web_api import Api, token

pytestmark = pytest.mark.integration

IPP_BACKEND = "/usr/lib/cups/backend/ipp"
SNMP_USER = """
[[services.snmp.users]]
name = "admin"
auth_protocol = "sha"
auth_key = "admin-auth-key"
priv_protocol = "aes"
priv_key = "admin-priv-key"
access = "write"
"""
CONTRACT = ("id", "time", "event", "user", "address", "outcome")


def audit(mfpd: Mfpd, secret: str, **query: Any) -> list[dict[str, Any]]:
    answer = Api(mfpd, secret, tls=True).get("/audit-log", params={"limit": 1000, **query})
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def cli_entries(mfpd: Mfpd, *args: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(mfpd.cli("audit-log", "--json", *args).stdout)[
        "entries"
    ]
    return entries


def test_each_event_comes_from_a_real_client(mfpd_factory: Any, tmp_path: Path) -> None:
    need(IPP_BACKEND, "snmpget", "ipptool")
    mfpd = mfpd_factory(FAST_CONFIG + SNMP_USER)
    secret = token(mfpd)
    pdf = make_pdf(tmp_path / "q.pdf", pages=2)
    # CUPS's ipp backend, as a queue would run it: job 9 of alice.
    result = subprocess.run(
        [IPP_BACKEND, "9", "alice", "Quarterly", "1", "", str(pdf)],
        env={"DEVICE_URI": f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print",
             "CONTENT_TYPE": "application/pdf"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # ipptool's Print-Job (requesting-user-name tester).
    ipptool(mfpd, tmp_path, op("print", "Print-Job", "ATTR name job-name audited", f"FILE {pdf}"))
    mfpd.wait_jobs_done(2)
    # snmpget with the wrong authentication key (RFC 3414 3.2 step 6 fails).
    wrong = [*ADMIN[:8], "not-the-auth-key", *ADMIN[9:]]
    assert snmp(mfpd, "snmpget", wrong, SYS_DESCR).returncode != 0
    # CentreWare's login form with a wrong password, as scanners post it.
    base = f"http://127.0.0.1:{mfpd.port('http')}"
    form = {"webUsername": "admin", "webPassword": "1111", "NextPage": "/properties"}
    answer = requests.post(f"{base}/userpost/xerox.set", data=form, allow_redirects=False,
                           timeout=10)  # fmt: skip
    assert answer.headers["Location"] == "/login.php?invalid=t"
    # A configuration change over HTTPS: a secret and a plain value.
    services = {"snmp": {"write_community": "very-secret"}, "lpd": {"enabled": False}}
    patch = {"identity": {"location": "Room 12"}, "services": services}
    assert Api(mfpd, secret, tls=True).patch("/config", json=patch).status_code == 200

    entries = audit(mfpd, secret)
    assert all(set(CONTRACT) <= set(e) for e in entries)
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_event.setdefault(entry["event"], []).append(entry)
    assert by_event["startup"][0]["event_id"] == 1
    jobs = {(e["user"], e["interface"], e["address"], e["outcome"]) for e in by_event["print-job"]}
    assert jobs == {("alice", "ipp", "127.0.0.1", "completed"),
                    ("tester", "ipp", "127.0.0.1", "completed")}  # fmt: skip
    assert all(e["event_id"] == 5 for e in by_event["print-job"])
    failures = {(e["interface"], e["user"], e["event_id"]) for e in by_event["login-failure"]}
    assert failures == {("snmp", "admin", 40), ("http", "admin", 30)}
    snmp_failure = next(e for e in by_event["login-failure"] if e["interface"] == "snmp")
    assert snmp_failure["address"].startswith("127.0.0.1:")
    assert snmp_failure["details"]["reason"] == "wrong authentication digest"
    changes = {e["details"]["key"]: e for e in by_event["config-change"]}
    assert changes["identity.location"]["details"] == {
        "key": "identity.location", "old": "", "new": "Room 12",
    }  # fmt: skip
    community = changes["services.snmp.write_community"]
    assert (community["details"]["new"], community["event_id"]) == ("********", 40)
    assert changes["services.lpd.enabled"]["details"]["new"] is False
    tokens = changes.pop("api_tokens")  # the test's token, made at the console
    assert (tokens["user"], tokens["details"]["action"], tokens["event_id"]) == (
        "console", "created", 42,
    )  # fmt: skip
    assert all((e["user"], e["interface"]) == ("admin", "https") for e in changes.values())
    assert "very-secret" not in json.dumps(entries)
    # The export itself is an entry: the next page shows the one just made.
    newest = audit(mfpd, secret, limit=1)[0]
    assert (newest["event"], newest["event_id"], newest["interface"]) == (
        "audit-log-export", 33, "https",
    )  # fmt: skip


def test_entries_survive_kill_9_and_the_cli_reads_them_without_the_daemon(
    mfpd: Mfpd,
) -> None:
    secret = token(mfpd)
    assert (
        Api(mfpd, secret, tls=True)
        .patch("/config", json={"identity": {"contact": "ops@example.com"}})
        .status_code
        == 200
    )
    before = cli_entries(mfpd)  # the daemon running: WAL lets the CLI read beside it
    assert [(e["event"], e["details"].get("key")) for e in before] == [
        ("config-change", "identity.contact"), ("config-change", "api_tokens"), ("startup", None),
    ]  # fmt: skip
    mfpd.kill9()
    after_kill = cli_entries(mfpd)  # no daemon at all
    assert after_kill == before
    mfpd.start()
    mfpd.stop()
    events = [e["event"] for e in cli_entries(mfpd)]
    # kill -9 leaves no shutdown entry (nothing ran to write one): the record says so.
    assert events == ["shutdown", "startup", "config-change", "config-change", "startup"]
    text = mfpd.cli("audit-log").stdout
    assert "identity.contact" in text and "ops@example.com" in text
    future = cli_entries(mfpd, "--since", "2999-01-01")
    assert future == []
    assert len(cli_entries(mfpd, "--since", "1h")) == 5


def test_the_export_is_the_administrators_over_https_only(mfpd: Mfpd) -> None:
    secret = token(mfpd)
    for path in ("/audit-log", "/audit-log.csv"):
        plain = Api(mfpd, secret).get(path)  # the administrator, over plain HTTP
        assert plain.status_code == 403, plain.text
        assert "HTTPS only" in plain.json()["error"]
        assert f"https://127.0.0.1:{mfpd.port('https')}/api/v1{path}" in plain.json()["error"]
        assert Api(mfpd).get(path).status_code == 403  # anybody over HTTP
        anonymous = Api(mfpd, tls=True).get(path)  # over HTTPS, but no administrator
        assert anonymous.status_code == 401
        assert Api(mfpd, "not-a-token", tls=True).get(path).status_code == 401
    answer = Api(mfpd, secret, tls=True).get("/audit-log.csv")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert rows[-1]["event"] == "startup" and rows[-1]["event_id"] == "1"
    # The administrator's refused attempts are on record; anonymous ones are not (a flood
    # of them would wash the ring out).
    exports = [e for e in audit(mfpd, secret) if e["event"] == "audit-log-export"]
    outcomes = sorted((e["details"]["format"], e["outcome"]) for e in exports)
    assert outcomes == [("csv", "failure"), ("csv", "success"), ("json", "failure")], outcomes


def test_the_logs_page_shows_the_audit_log_over_https(mfpd: Mfpd) -> None:
    match = re.search(r"web administrator: (\S+), password: (\S+) \(shown once",
                      mfpd.log.read_text())  # fmt: skip
    assert match
    for scheme, service in (("https", "https"), ("http", "http")):
        browser = requests.Session()
        base = f"{scheme}://127.0.0.1:{mfpd.port(service)}"
        login = browser.get(f"{base}/login", verify=False, timeout=10).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', login)
        assert csrf
        form = {"csrf": csrf.group(1), "username": match.group(1), "password": match.group(2)}
        assert browser.post(f"{base}/login", data=form, verify=False, timeout=10).ok
        page = browser.get(f"{base}/logs", verify=False, timeout=10).text
        if scheme == "https":
            assert 'id="audit-table"' in page and "login-success" in page and ">startup<" in page
        else:
            assert 'id="audit-table"' not in page
            assert f'href="https://127.0.0.1:{mfpd.port("https")}/logs#audit"' in page


def _state_reasons(mfpd: Mfpd) -> list[str]:
    reasons: list[str] = mfpd.status()["state_reasons"]
    return reasons


def test_the_almost_full_warning_is_an_alert_until_the_log_is_downloaded(
    mfpd_factory: Any,
) -> None:
    need("snmpwalk")
    mfpd = mfpd_factory(FAST_CONFIG + "[security]\naudit_log_entries = 20\n")
    secret = token(mfpd)
    api = Api(mfpd, secret, tls=True)
    assert "audit-log-almost-full-warning" not in _state_reasons(mfpd)
    # startup, the token, 15 JSON exports: 17 of 20 entries never downloaded; one more: 90 %.
    for _ in range(15):
        assert api.get("/audit-log", params={"limit": 1}).status_code == 200
    assert "audit-log-almost-full-warning" not in _state_reasons(mfpd)
    assert api.get("/audit-log", params={"limit": 1}).status_code == 200
    assert "audit-log-almost-full-warning" in _state_reasons(mfpd)
    alerts = [a for a in mfpd.status()["alerts"] if a["kind"] == "audit-log-almost-full"]
    assert alerts and (alerts[0]["code"], alerts[0]["severity"]) == (1, "warning")
    # The Printer MIB's alert table: prtAlertCode other(1), prtAlertSeverityLevel warning(4).
    walk = snmp(mfpd, "snmpwalk", ["-v2c", "-c", "public"], ".1.3.6.1.2.1.43.18.1.1")
    assert "AUDIT LOG NEARLY FULL" in walk.stdout, walk.stdout
    # IPP says the same (printer-state-reasons of Get-Printer-Attributes).
    assert "audit-log-almost-full-warning" in ipp_reasons(mfpd)
    assert api.get("/audit-log.csv").status_code == 200
    assert "audit-log-almost-full-warning" not in _state_reasons(mfpd)
    assert "audit-log-almost-full" not in ipp_reasons(mfpd)


def ipp_reasons(mfpd: Mfpd) -> str:
    need("ipptool")
    uri = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print"
    result = subprocess.run(
        ["ipptool", "-tv", uri, "get-printer-attributes.test"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    line = next(x for x in result.stdout.splitlines() if "printer-state-reasons" in x)
    return line


SLOW = """
[engine]
speed_ppm = 2
speed_ppm_color = 2
[security]
image_overwrite = "immediate"
overwrite_free_bytes = 1048576
"""


def test_image_overwrite_immediate_and_on_demand_refused_while_printing(
    mfpd_factory: Any, tmp_path: Path
) -> None:
    mfpd = mfpd_factory(SLOW)
    secret = token(mfpd)
    api = Api(mfpd, secret)
    spool = mfpd.state_dir / "spool"
    pdf = make_pdf(tmp_path / "long.pdf", pages=20)
    job_id = int(mfpd.cli("print", str(pdf), "--user", "dave").stdout)
    mfpd.wait_for(lambda jobs: jobs[0]["state"] == "processing")
    assert list(spool.glob("*.dat"))
    refused = mfpd.cli("overwrite", check=False)
    assert refused.returncode == 1 and f"job {job_id} is printing" in refused.stderr
    answer = api.post("/actions", json={"action": "overwrite"})
    assert answer.status_code == 409 and "printing" in answer.json()["error"]
    mfpd.cli("cancel", str(job_id))
    mfpd.wait_jobs_done(1)
    deadline = time.monotonic() + 30
    while list(spool.glob("*.dat")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(spool.glob("*.dat"))  # overwritten and removed when the job ended
    done = mfpd.cli("overwrite")
    assert "1048576 bytes of free space, verified" in done.stdout
    overwrite = mfpd.status()["image_overwrite"]
    assert overwrite["mode"] == "immediate" and overwrite["last_on_demand"]["verified"]
    assert "image overwrite: immediate" in mfpd.cli("status").stdout
    entries = [e for e in cli_entries(mfpd) if e["event"] == "image-overwrite"]
    assert [(e["event_id"], e["outcome"]) for e in entries] == [
        (4, "success"),
        (3, "started"),
        (1003, "success"),
    ]
    immediate = entries[-1]
    assert (immediate["user"], immediate["details"]["job"]) == ("dave", job_id)
    assert immediate["details"]["bytes"] == pdf.stat().st_size
    assert entries[0]["details"]["free_space_bytes"] == 1048576
    # The web's button does the same.
    answer = api.post("/actions", json={"action": "overwrite"})
    assert answer.status_code == 200 and answer.json()["report"]["verified"] is True
