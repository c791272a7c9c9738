"""The switch matrix of the disclosure paper: every service off, then on again, on one
running daemon; after each change `ss -ltnu` and a live `mfpd audit` agree with the port
table the daemon publishes, and the couplings hold (HTTP off takes IPP and the status
channel with it; HTTP and HTTPS cannot both be off)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.conftest import FAST_CONFIG, Mfpd, need, run_cli

pytestmark = pytest.mark.integration

# The services a switch closes a port of, in the order the matrix tries them; mdns is left
# out: with a port offset it never listens (5353 only).
SERVICES = ["raw", "lpd", "ipp", "status", "snmp", "slp", "ssdp", "wsd", "netbios_ns",
            "netbios_dgm", "http", "https"]  # fmt: skip


def listening_sockets() -> set[tuple[str, int]]:
    """(protocol, port) of every listening TCP and bound UDP socket of the host (ss -ltnu)."""
    need("ss")
    out = subprocess.run(["ss", "-ltnuH"], capture_output=True, text=True, timeout=30).stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 5:
            protocol, local = fields[0], fields[4]
            port = local.rsplit(":", 1)[-1]
            if port.isdigit():
                found.add((protocol, int(port)))
    return found


def table(daemon: Mfpd) -> dict[str, dict[str, Any]]:
    rows = json.loads((daemon.state_dir / "ports.json").read_text())
    return {r["service"]: r for r in rows}


def audit_live(daemon: Mfpd) -> int:
    result = run_cli("audit", "--state-dir", str(daemon.state_dir), "--json", timeout=90)
    assert result.returncode in (0, 1), result.stderr
    if result.returncode:
        report = json.loads(result.stdout)
        raise AssertionError(f"audit found a difference: {report.get('differences', report)}")
    return result.returncode


def settle(daemon: Mfpd, service: str, want: str) -> dict[str, dict[str, Any]]:
    """The published port table once `service` is in state `want` (or after 20 s)."""
    deadline = time.monotonic() + 20
    while True:
        rows = table(daemon)
        if rows[service]["state"] == want or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_every_service_off_and_on_again(mfpd_factory: Callable[..., Mfpd]) -> None:
    daemon = mfpd_factory(FAST_CONFIG)
    head = {"Authorization": f"Bearer {daemon.cli('token', 'matrix').stdout.strip()}"}
    https = f"https://127.0.0.1:{daemon.port('https')}/api/v1/config"
    http = f"http://127.0.0.1:{daemon.port('http')}/api/v1/config"

    def switch(name: str, on: bool) -> dict[str, dict[str, Any]]:
        # Over the listener that is not being switched, so the answer is not cut off.
        url, verify = (http, True) if name == "https" else (https, False)
        answer = requests.patch(
            url, json={"services": {name: {"enabled": on}}}, headers=head, verify=verify,
            timeout=30,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        return settle(daemon, name, "listening" if on else "disabled")

    before = table(daemon)
    assert all(before[s]["state"] == "listening" for s in SERVICES), before
    for name in SERVICES:
        row = before[name]
        where = (row["protocol"], row["port"])
        rows = switch(name, False)
        assert rows[name]["state"] == "disabled", rows[name]
        if name == "http":  # the coupling: IPP and the status channel go with it
            for dependent in ("ipp", "status"):
                assert rows[dependent]["state"] == "disabled", rows[dependent]
                gone = (before[dependent]["protocol"], before[dependent]["port"])
                assert gone not in listening_sockets()
        assert where not in listening_sockets(), f"{name} still bound at {where}"
        audit_live(daemon)
        rows = switch(name, True)
        assert rows[name]["state"] == "listening", rows[name]
        assert where in listening_sockets(), f"{name} not bound again at {where}"
        audit_live(daemon)
    # HTTP and HTTPS cannot both be off: the web server would be unreachable.
    requests.patch(http, json={"services": {"https": {"enabled": False}}}, headers=head,
                   timeout=30).raise_for_status()  # fmt: skip
    settle(daemon, "https", "disabled")
    both = requests.patch(
        http, json={"services": {"http": {"enabled": False}}}, headers=head, timeout=30
    )
    assert both.status_code == 422 and "cannot both be off" in both.json()["error"]
    assert "Traceback" not in daemon.log.read_text()
