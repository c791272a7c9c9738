"""The IP filter on the real daemon: every listener asks the gate before it parses a byte.

Peers come from several loopback addresses (127.0.0.2, .3, .4 are all this host's):
curl with `--interface`, net-snmp with `--clientaddr`, and plain sockets bound to a source
address for what the protocols' clients cannot choose. Reject is a TCP reset, drop a close
without a byte; on UDP both are silence.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable

import pytest
import requests

from tests.conftest import (
    FAST_CONFIG,
    Mfpd,
    NamespacedMfpd,
    need,
    network_namespace,
    run_in_namespace,
)

pytestmark = pytest.mark.integration

RULES = """
[[ip_filter.rules]]
source = "127.0.0.2/32"
destination = "631"
action = "reject"

[[ip_filter.rules]]
source = "127.0.0.2/32"
action = "accept"

[[ip_filter.rules]]
protocol = "tcp"
source = "127.0.0.3/32"
action = "drop"

[[ip_filter.rules]]
protocol = "udp"
source = "127.0.0.4/32"
destination = "snmp"
action = "drop"

[[ip_filter.rules]]
source = "127.0.0.5/32"
destination = "lpd"
source_ports = "1-1023"
action = "reject"
"""


def connect_from(source: str, port: int, source_port: int = 0) -> str:
    """What a TCP peer at `source` sees: "reset", "closed" (no byte, then end), or "open"
    (the connection stays up and silent, as a listener waiting for a request does)."""
    try:
        sock = socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(source, source_port)
        )
    except ConnectionResetError:  # the reset came before connect() looked
        return "reset"
    with sock:
        sock.settimeout(1.0)
        try:
            data = sock.recv(1)
        except ConnectionResetError:
            return "reset"
        except TimeoutError:
            return "open"
        return "closed" if data == b"" else "open"


def curl(source: str, url: str) -> subprocess.CompletedProcess[str]:
    need("curl")
    return subprocess.run(
        ["curl", "-sk", "--max-time", "5", "--interface", source, "-o", "/dev/null",
         "-w", "%{http_code}", url],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip


def snmpget(source: str, port: int) -> subprocess.CompletedProcess[str]:
    need("snmpget")
    return subprocess.run(
        ["snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0", f"--clientaddr={source}",
         f"127.0.0.1:{port}", "1.3.6.1.2.1.1.5.0"],
        capture_output=True, text=True, timeout=15,
    )  # fmt: skip


@pytest.fixture
def filtered(mfpd_factory: Callable[..., Mfpd]) -> Mfpd:
    return mfpd_factory(FAST_CONFIG + RULES)


def test_reject_resets_drop_closes_and_others_pass(filtered: Mfpd) -> None:
    ipp, https, raw, lpd = (filtered.port(s) for s in ("ipp", "https", "raw", "lpd"))
    # Rule 1: 127.0.0.2 is reset by IPP (631) alone; rule 2 lets it reach everything else.
    assert connect_from("127.0.0.2", ipp) == "reset"
    assert curl("127.0.0.2", f"https://127.0.0.1:{https}/").stdout == "200"
    assert connect_from("127.0.0.2", raw) == "open"
    # Rule 3: 127.0.0.3 gets no byte on any TCP service: IPP, HTTPS, raw, LPD.
    for port in (ipp, https, raw, lpd):
        assert connect_from("127.0.0.3", port) == "closed", port
    assert curl("127.0.0.3", f"https://127.0.0.1:{https}/").stdout == "000"
    # ...but the UDP agent answers it: rule 3 is tcp only.
    assert snmpget("127.0.0.3", filtered.port("snmp")).returncode == 0
    # Rule 4: SNMP is silent to 127.0.0.4, and answers 127.0.0.1.
    assert "Timeout" in snmpget("127.0.0.4", filtered.port("snmp")).stderr
    answered = snmpget("127.0.0.1", filtered.port("snmp"))
    assert answered.returncode == 0 and "XRX-WC7755" in answered.stdout
    # Rule 5: only privileged source ports (an RFC 1179 client's 721-731) are reset.
    assert connect_from("127.0.0.5", lpd, 1022) == "reset"
    assert connect_from("127.0.0.5", lpd) == "open"
    # The real client from an address no rule names prints as ever.
    need("ipptool")
    result = subprocess.run(
        ["ipptool", "-t", f"ipp://127.0.0.1:{ipp}/ipp/print", "get-printer-attributes.test"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    log = filtered.log.read_text()
    assert "dropped by rule 3 (drop tcp from 127.0.0.3/32 to all services)" in log
    assert "Traceback" not in log
    # The audit log sums what each rule turned away per minute (the last minute at stop).
    filtered.stop()
    entries = json.loads(filtered.cli("audit-log", "--json").stdout)
    entries = entries["entries"] if isinstance(entries, dict) else entries
    drops = [e for e in entries if e["event"] == "ip-filter-drop"]
    assert {e["details"]["rule"] for e in drops} >= {1, 3, 4, 5}, drops


def test_the_api_shows_hits_and_guards_the_administrators_own_address(filtered: Mfpd) -> None:
    secret = filtered.cli("token", "tests").stdout.strip()
    head = {"Authorization": f"Bearer {secret}"}
    https = f"https://127.0.0.1:{filtered.port('https')}/api/v1/ip-filter"
    http = f"http://127.0.0.1:{filtered.port('http')}/api/v1/ip-filter"
    connect_from("127.0.0.2", filtered.port("ipp"))
    got = requests.get(https, headers=head, verify=False, timeout=10).json()
    assert [r["action"] for r in got["rules"]] == ["reject", "accept", "drop", "drop", "reject"]
    assert got["rules"][0]["hits"] >= 1 and got["rules"][1]["hits"] == 0
    # A rule set that turns this administrator (127.0.0.1) away from HTTPS: refused...
    lockout = {"rules": [{"source": "127.0.0.0/8", "destination": "https", "action": "drop"}]}
    refused = requests.put(https, json=lockout, headers=head, verify=False, timeout=10)
    assert refused.status_code == 422 and "lock 127.0.0.1" in refused.json()["error"]
    assert connect_from("127.0.0.3", filtered.port("raw")) == "closed"  # unchanged
    # ...unless forced; the rules read back (GET's numbers and hits may be sent back too).
    edited = [dict(r) for r in got["rules"]][:1]
    forced = requests.put(
        https, json={"rules": edited + lockout["rules"], "force": True}, headers=head,
        verify=False, timeout=10,
    )  # fmt: skip
    assert forced.status_code == 200, forced.text
    assert connect_from("127.0.0.1", filtered.port("https")) == "closed"
    assert connect_from("127.0.0.3", filtered.port("raw")) == "open"  # rule 3 gone
    # Plain HTTP still reaches the API: the administrator undoes it from there.
    undone = requests.put(http, json={"rules": []}, headers=head, timeout=10)
    assert undone.status_code == 200 and undone.json()["rules"] == []
    assert requests.get(https, headers=head, verify=False, timeout=10).status_code == 200
    # Kept across a restart, as settings are.
    filtered.stop()
    filtered.start()
    kept = requests.get(http, headers=head, timeout=10).json()
    assert kept["rules"] == []
    assert connect_from("127.0.0.2", filtered.port("ipp")) == "open"


def test_ipv6_rules_on_an_ipv6_listener(tmp_path_factory: pytest.TempPathFactory) -> None:
    rules = FAST_CONFIG + (
        '\n[[ip_filter.rules]]\nsource = "::1/128"\ndestination = "ipp"\naction = "reject"\n'
        '\n[[ip_filter.rules]]\nsource = "::1/128"\ndestination = "raw"\naction = "drop"\n'
    )
    with network_namespace("mfpd-ipf6") as namespace:
        daemon = NamespacedMfpd(tmp_path_factory.mktemp("ipf6") / "state", rules, namespace, "::1")
        try:
            daemon.start()
            probe = (
                "import socket,sys\n"
                "def see(port):\n"
                "    try: s=socket.create_connection(('::1',port),timeout=5); s.settimeout(1)\n"
                "    except ConnectionResetError: return 'reset'\n"
                "    try: return 'closed' if s.recv(1)==b'' else 'open'\n"
                "    except ConnectionResetError: return 'reset'\n"
                "    except TimeoutError: return 'open'\n"
                "print(json.dumps([see(p) for p in (631, 9100, 515)]))\n"
            )
            seen = daemon.run(["python3", "-c", "import json\n" + probe], timeout=30)
            assert seen.returncode == 0, seen.stdout + seen.stderr
            assert json.loads(seen.stdout) == ["reset", "closed", "open"]
        finally:
            if daemon.proc is not None:
                daemon.stop()


NFT_RULES = """
[ip_filter]
backend = "nftables"

[[ip_filter.rules]]
protocol = "icmp"
source = "127.0.0.2/32"
icmp_type = "echo-request"
action = "drop"

[[ip_filter.rules]]
protocol = "tcp"
source = "127.0.0.3/32"
destination = "raw"
action = "reject"

[[ip_filter.rules]]
protocol = "tcp"
source = "127.0.0.3/32"
destination = "5555"
action = "drop"
"""

# A listener the daemon does not own, and what a peer at each address sees of it.
PROBE = """
import socket, sys, json
server = socket.create_server(("127.0.0.1", 5555))
def see(source, port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(source, 0))
    except ConnectionResetError:
        return "reset"
    except (TimeoutError, ConnectionRefusedError) as exc:
        return type(exc).__name__
    s.close()
    return "connected"
print(json.dumps([see("127.0.0.1", 5555), see("127.0.0.3", 5555), see("127.0.0.3", 9100),
                  see("127.0.0.1", 9100)]))
"""


def test_the_nftables_backend_covers_icmp_and_ports_the_daemon_does_not_own(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    need("nft", "ping")
    with network_namespace("mfpd-nft") as namespace:
        state = tmp_path_factory.mktemp("nft") / "state"
        daemon = NamespacedMfpd(state, FAST_CONFIG + NFT_RULES, namespace)
        try:
            daemon.start()
            tables = daemon.run(["nft", "list", "tables"]).stdout
            (table,) = [line.split()[-1] for line in tables.splitlines() if "mfpd_" in line]
            listed = daemon.run(["nft", "list", "table", "inet", table]).stdout
            assert (
                'ip saddr 127.0.0.3 tcp dport 9100 reject with tcp reset comment "rule 2"' in listed
            )
            ping = ["ping", "-c", "1", "-W", "1", "-I"]
            assert daemon.run([*ping, "127.0.0.2", "127.0.0.1"]).returncode != 0
            assert daemon.run([*ping, "127.0.0.1", "127.0.0.1"]).returncode == 0
            seen = daemon.run(["python3", "-c", PROBE])
            assert seen.returncode == 0, seen.stderr
            # Drop: no answer to the SYN; reject: a reset answers it (connection refused).
            assert json.loads(seen.stdout) == [
                "connected", "TimeoutError", "ConnectionRefusedError", "connected"
            ]  # fmt: skip
            # The kernel turned 127.0.0.3 away from 9100: the gate never saw it.
            assert "dropped by rule" not in daemon.log.read_text()
        finally:
            if daemon.proc is not None:
                daemon.stop()
        left = run_in_namespace(namespace, ["nft", "list", "tables"]).stdout
        assert "mfpd_" not in left, left
