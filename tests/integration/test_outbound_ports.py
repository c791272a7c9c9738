"""The outbound clients in the port table: `mfpd ports`, the live ports.json and `mfpd audit`
show smtp 25, ftp 21, smb 445, ldap 389, dns 53 (UDP) and kerberos 88 (UDP and TCP) as
"client" (shared/PORTS.md), closed on the device; a listener on one of them is a finding of
the audit, since the device never listens there. NetWare (396) is a row "unavailable",
closed by design."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import Mfpd, run_cli

pytestmark = pytest.mark.integration
CLIENTS = {"smtp": 25, "ftp": 21, "smb": 445, "dns": 53, "ldap": 389}
PROTOCOL = {"dns": "udp"}
NETWARE = 396
# Kerberos: 88/udp as PORTS.md lists it, and 88/tcp for replies too large for a datagram.
KERBEROS = {("kerberos", "udp"): 88, ("kerberos", "tcp"): 88}


def test_client_rows_planned_live_and_audited(mfpd: Mfpd) -> None:
    planned = json.loads(run_cli("ports", "--json").stdout)
    clients = [r for r in planned if r["state"] == "client"]
    assert {
        (r["service"], r["protocol"]): r["port"] for r in clients if r["service"] == "kerberos"
    } == KERBEROS
    assert {
        r["service"]: (r["port"], r["state"]) for r in clients if r["service"] != "kerberos"
    } == {name: (port, "client") for name, port in CLIENTS.items()}
    live = json.loads((mfpd.state_dir / "ports.json").read_text())
    kerberos = [r for r in live if r["state"] == "client" and r["service"] == "kerberos"]
    assert {(r["service"], r["protocol"]): r["port"] - mfpd.offset for r in kerberos} == KERBEROS
    rows = {r["service"]: r for r in live if r["state"] == "client" and r["service"] != "kerberos"}
    assert {name: rows[name]["port"] for name in rows} == {
        name: port + mfpd.offset for name, port in CLIENTS.items()
    }
    assert all(
        r["protocol"] == PROTOCOL.get(n, "tcp") and r["standard_port"] == CLIENTS[n]
        for n, r in rows.items()
    )

    result = run_cli("audit", "--state-dir", str(mfpd.state_dir), "--json", timeout=60)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["matches"], report
    shown = {(p["promised"] or {}).get("service"): p for p in report["ports"] if p["promised"]}
    for name, port in CLIENTS.items():
        assert shown[name]["port"] == port + mfpd.offset
        assert shown[name]["promised"]["state"] == "client" and not shown[name]["promised_open"]
        assert shown[name]["state"] == "closed"
    audited = {
        (p["promised"]["service"], p["protocol"]): p for p in report["ports"]
        if (p["promised"] or {}).get("service") == "kerberos"
    }  # fmt: skip
    assert {key: p["port"] - mfpd.offset for key, p in audited.items()} == KERBEROS
    assert all(p["state"] == "closed" and not p["promised_open"] for p in audited.values())
    text = run_cli("audit", "--state-dir", str(mfpd.state_dir), timeout=60).stdout
    assert all(f"{name} client" in text for name in CLIENTS)

    # NetWare (396): refused by design, a row of its own, closed, and no mismatch.
    netware = NETWARE + mfpd.offset
    assert [(r["port"], r["state"], r["note"]) for r in live if r["service"] == "netware"] == [
        (netware, "unavailable", "not implemented: NetWare support is obsolete")
    ]
    assert [(p["port"], p["state"], p["promised"]["service"]) for p in report["closed_by_design"]
            if p["port"] == netware] == [(netware, "closed", "netware")]  # fmt: skip
    assert f"closed by design: tcp/{netware} (netware: not implemented: NetWare" in text
    assert not [r for r in live if r["state"] == "listening" and r["standard_port"] in (53, 396)]

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
