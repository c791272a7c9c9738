"""The outbound clients in the port table: `mfpd ports`, the live ports.json and `mfpd audit`
show smtp 25, ftp 21, smb 445 and pop3 110 as "client" (shared/PORTS.md), closed on the device; a
listener on one of them is a finding of the audit, since the device never listens there."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import Mfpd, run_cli

pytestmark = pytest.mark.integration
CLIENTS = {"smtp": 25, "ftp": 21, "smb": 445, "pop3": 110}


def test_client_rows_planned_live_and_audited(mfpd: Mfpd) -> None:
    planned = json.loads(run_cli("ports", "--json").stdout)
    assert {r["service"]: (r["port"], r["state"]) for r in planned if r["state"] == "client"} == {
        name: (port, "client") for name, port in CLIENTS.items()
    }
    live = json.loads((mfpd.state_dir / "ports.json").read_text())
    rows = {r["service"]: r for r in live if r["state"] == "client"}
    assert {name: rows[name]["port"] for name in rows} == {
        name: port + mfpd.offset for name, port in CLIENTS.items()
    }
    assert all(r["protocol"] == "tcp" and r["standard_port"] == CLIENTS[n] for n, r in rows.items())

    result = run_cli("audit", "--state-dir", str(mfpd.state_dir), "--json", timeout=60)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["matches"], report
    shown = {(p["promised"] or {}).get("service"): p for p in report["ports"] if p["promised"]}
    for name, port in CLIENTS.items():
        assert shown[name]["port"] == port + mfpd.offset
        assert shown[name]["promised"]["state"] == "client" and not shown[name]["promised_open"]
        assert shown[name]["state"] == "closed"
    text = run_cli("audit", "--state-dir", str(mfpd.state_dir), timeout=60).stdout
    assert "ftp client" in text and "smb client" in text and "smtp client" in text
    assert "pop3 client" in text

    # Something listening where the device only ever connects out: the audit says so.
    with socket.socket() as intruder:
        intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        intruder.bind(("127.0.0.1", CLIENTS["ftp"] + mfpd.offset))
        intruder.listen(1)
        result = run_cli("audit", "--state-dir", str(mfpd.state_dir), "--json", timeout=60)
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert [(p["port"], p["promised"]["service"]) for p in report["open_not_promised"]] == [
        (CLIENTS["ftp"] + mfpd.offset, "ftp")
    ]
