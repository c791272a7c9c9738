"""The DHCP client against dnsmasq: two network namespaces joined by a veth pair, dnsmasq
serving in one, the daemon with `[network] dhcp = true` in the other. The address is
obtained and on the interface, the options recorded and shown by `mfpd status`, the lease
renewed (T1 shortened by `[network] renew_after`, dnsmasq's shortest lease being 2
minutes), released at stop (gone from dnsmasq's lease file); with DHCP off, port 68 never
opens. Nothing touches the machine's own interfaces."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mfpd.device.identity import Identity, installation_uuid
from mfpd.services.snmp.mib_system import mac_address
from tests.conftest import (
    FAST_CONFIG,
    NamespacedMfpd,
    need,
    network_namespace,
    requires,
    run_cli,
    run_in_namespace,
)
from tests.outbound_servers import KDIG, KNOTD, knot_server

pytestmark = pytest.mark.integration

WAIT = 60.0
SERVER = "10.77.0.1"
DEVICE_IF = "mfpd0"
SERVER_IF = "office0"
DNS = ("10.77.0.53", "10.77.0.54")
DOMAIN = "office.test"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, text=True, timeout=WAIT, check=True)


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll `check` until it answers something true: a bounded wait, not a timing check."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def link() -> Iterator[tuple[str, str]]:
    """The device's namespace and the office's, joined by a veth pair: (device, office)."""
    need("dnsmasq", "ss", "curl")
    with (
        network_namespace("mfpd-dhcp-dev", WAIT) as device_ns,
        network_namespace("mfpd-dhcp-srv", WAIT) as office_ns,
    ):
        ip("link", "add", DEVICE_IF, "netns", device_ns, "type", "veth",
           "peer", "name", SERVER_IF, "netns", office_ns)  # fmt: skip
        ip("-n", office_ns, "address", "add", f"{SERVER}/24", "dev", SERVER_IF)
        ip("-n", office_ns, "link", "set", SERVER_IF, "up")
        ip("-n", device_ns, "link", "set", DEVICE_IF, "up")
        yield device_ns, office_ns


@contextlib.contextmanager
def dnsmasq(
    office_ns: str,
    directory: Path,
    *extra: str,
    pool: str = "10.77.0.50,10.77.0.60",
    dns: tuple[str, ...] = DNS,
) -> Iterator[Path]:
    """dnsmasq serving DHCP (DNS off: --port=0) on the office's end, 2-minute leases from
    `pool`; yields its lease file."""
    directory.mkdir(exist_ok=True)
    leases = directory / "dnsmasq.leases"
    log = directory / "dnsmasq.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                "ip", "netns", "exec", office_ns, "dnsmasq", "--no-daemon",
                "--conf-file=/dev/null", "--port=0", "--user=root", "--group=root",
                f"--interface={SERVER_IF}", "--bind-interfaces", "--log-dhcp",
                f"--pid-file={directory / 'dnsmasq.pid'}",
                f"--dhcp-range={pool},255.255.255.0,2m",
                f"--dhcp-option=option:router,{SERVER}",
                f"--dhcp-option=option:dns-server,{','.join(dns)}",
                f"--domain={DOMAIN}", f"--dhcp-leasefile={leases}", *extra,
            ],
            stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        wait_until("dnsmasq on 67", lambda: ":67 " in ss(office_ns) or server.poll() is not None)
        assert server.poll() is None, log.read_text()
        yield leases
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture
def office(link: tuple[str, str], tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """The link with dnsmasq serving: (device ns, office ns, lease file)."""
    device_ns, office_ns = link
    with dnsmasq(office_ns, tmp_path / "office") as leases:
        yield device_ns, office_ns, leases


def ss(namespace: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", namespace, "ss", "-lun"], capture_output=True, text=True,
        timeout=WAIT, check=True,
    ).stdout  # fmt: skip


def addresses(namespace: str) -> list[str]:
    out = subprocess.run(
        ["ip", "-n", namespace, "-j", "address", "show", "dev", DEVICE_IF],
        capture_output=True, text=True, timeout=WAIT, check=True,
    ).stdout  # fmt: skip
    return [
        f"{a['local']}/{a['prefixlen']}"
        for link in json.loads(out)
        for a in link.get("addr_info", [])
        if a.get("family") == "inet"
    ]


def lease_lines(leases: Path) -> list[list[str]]:
    """dnsmasq's lease file: expiry, MAC, address, host name, client id; one lease a line."""
    with contextlib.suppress(FileNotFoundError):
        return [line.split() for line in leases.read_text().splitlines() if line.strip()]
    return []


def config(dhcp: bool, renew_after: float = 0) -> str:
    return FAST_CONFIG + (
        f'\n[network]\ndhcp = {str(dhcp).lower()}\ninterface = "{DEVICE_IF}"\n'
        f"renew_after = {renew_after}\n"
        '\n[identity]\nhostname = "xrx-dhcp-test"\n'
    )


def network(device: NamespacedMfpd) -> dict[str, Any]:
    status: dict[str, Any] = device.status()["network"]
    return status


def test_lease_obtained_renewed_and_released(office: tuple[str, str, Path], tmp_path: Path) -> None:
    device_ns, office_ns, leases = office
    device = NamespacedMfpd(tmp_path / "state", config(True, renew_after=3), device_ns, "0.0.0.0")
    device.start(timeout=WAIT)
    try:
        row = next(r for r in device.rows if r["service"] == "dhcp")
        assert (row["protocol"], row["port"], row["state"]) == ("udp", 68, "client")
        assert ":68 " in ss(device_ns)

        held = wait_until("a lease", lambda: network(device)["lease"])
        assert held["interface"] == DEVICE_IF and held["server"] == SERVER
        assert held["address"].startswith("10.77.0.") and held["prefix_length"] == 24
        assert held["routers"] == [SERVER] and held["dns_servers"] == list(DNS)
        assert held["domain"] == DOMAIN and held["lease_time"] == 120
        # T1 and T2 are dnsmasq's (60 s and 105 s of a 2-minute lease); T1 shortened to 3 s.
        assert held["expires"] - held["obtained"] == 120
        assert round(held["rebind_at"] - held["obtained"]) == 105
        assert held["renew_at"] - held["obtained"] == 3
        assert addresses(device_ns) == [f"{held['address']}/24"]

        # dnsmasq holds the lease for the device's client id (type 1 + the SNMP MAC) and name.
        line = wait_until("the lease in dnsmasq's file", lambda: lease_lines(leases))
        [expiry, _, address, host, client_id] = line[0]
        assert address == held["address"] and host == "xrx-dhcp-test"
        mac = run_snmp_mac(device)
        assert client_id == "01:" + mac

        # Garbage on port 68 from the server's side: dropped with a log line, the client
        # goes on (the renewal below still happens).
        junk = (
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            f"[s.sendto(p, ('{held['address']}', 68)) for p in "
            "(b'', b'\\x02' * 240, b'\\x02\\x01\\x06' + bytes(233) + bytes([99, 130, 83, 99, 53]))]"
        )
        sent = run_in_namespace(office_ns, [sys.executable, "-c", junk])
        assert sent.returncode == 0, sent.stderr

        # Renewed at the shortened T1: unicast REQUEST, a new ACK, a later expiry at dnsmasq;
        # well before dnsmasq's own T1 of 60 s, so only the shortened T1 renews in time.
        renewed = wait_until(
            "a renewal",
            lambda: (n := network(device)["lease"]) and n["renewals"] >= 1 and n,
            timeout=30,
        )
        assert renewed["address"] == held["address"] and renewed["obtained"] > held["obtained"]
        wait_until("dnsmasq's later expiry", lambda: int(lease_lines(leases)[0][0]) > int(expiry))

        text = device.cli("status").stdout
        assert f"address: {held['address']}/24 on {DEVICE_IF} from {SERVER}" in text
        assert f"DNS {', '.join(DNS)}" in text and f"domain {DOMAIN}" in text
        # The web UI's Status page, fetched on the device's own link at its leased address.
        page = device.run(["curl", "-sS", "--max-time", "20", f"http://{held['address']}/"])
        assert page.returncode == 0, page.stderr
        assert f'<dd data-lease="address">{held["address"]}/24 on {DEVICE_IF}</dd>' in page.stdout
        assert f'<dd data-lease="server">{SERVER}</dd>' in page.stdout

        # mfpd audit: the dhcp row is a client row, and nothing answers on 68.
        audit = device.run(
            [sys.executable, "-m", "mfpd", "audit", "--state-dir", str(device.state_dir), "--json"],
            timeout=WAIT,
        )
        report = json.loads(audit.stdout)
        assert audit.returncode == 0 and report["matches"], audit.stdout + audit.stderr
        [shown] = [p for p in report["ports"] if (p["promised"] or {}).get("service") == "dhcp"]
        assert shown["promised"]["state"] == "client" and not shown["promised_open"]
        assert shown["state"] != "open"
    finally:
        device.finish(timeout=WAIT)
    # Released at stop: dnsmasq's file no longer holds it, the interface has no address.
    wait_until("the lease gone from dnsmasq", lambda: not lease_lines(leases))
    assert addresses(device_ns) == []
    log = device.log.read_text()
    assert "released" in log and log.count(f"dhcp: from {SERVER}: dropped") >= 2


def run_snmp_mac(device: NamespacedMfpd) -> str:
    """The MAC SNMP reports as ifPhysAddress (the one the NetBIOS code uses): a function of
    the device's UUID, which the daemon keeps in its state dir."""
    uuid = installation_uuid(device.state_dir)
    identity = Identity("", "", "", uuid, "", "", "", "")
    return ":".join(f"{b:02x}" for b in mac_address(identity))


def test_dhcp_off_opens_no_port_68(office: tuple[str, str, Path], tmp_path: Path) -> None:
    device_ns, _, leases = office
    device = NamespacedMfpd(tmp_path / "state", config(False), device_ns, "0.0.0.0")
    device.start(timeout=WAIT)
    try:
        assert not [r for r in device.rows if r["service"] == "dhcp"]
        assert ":68 " not in ss(device_ns)
        assert network(device) == {"dhcp": "off", "detail": "", "lease": None}
        planned = json.loads(run_cli("ports", "--json", "--config", str(device.config)).stdout)
        assert not [r for r in planned if r["service"] == "dhcp"]
    finally:
        device.finish(timeout=WAIT)
    assert addresses(device_ns) == [] and not lease_lines(leases)


def test_an_interface_it_does_not_have_is_refused(tmp_path: Path) -> None:
    """[network] interface names no interface here: the client does not start, says why in
    `mfpd status`, and 68 stays closed; the rest of the device runs."""
    with network_namespace("mfpd-dhcp-none", WAIT) as device_ns:
        text = config(True).replace(DEVICE_IF, "nosuch0")
        device = NamespacedMfpd(tmp_path / "state", text, device_ns, "0.0.0.0")
        device.start(timeout=WAIT)
        try:
            assert network(device) == {
                "dhcp": "unavailable", "detail": "no interface nosuch0", "lease": None,
            }  # fmt: skip
            assert ":68 " not in ss(device_ns)
            assert "raw" in device.ports
        finally:
            device.finish(timeout=WAIT)


def test_rebound_by_broadcast_when_the_server_ignores_unicast(
    link: tuple[str, str], tmp_path: Path
) -> None:
    """RFC 2131 4.4.5: the unicast REQUESTs of RENEWING dropped (nftables in the office's
    namespace), the client broadcasts at T2 (10 s, set by dnsmasq's option 59) and keeps
    its address."""
    need("nft")
    device_ns, office_ns = link
    rules = (
        "table inet mfpd_dhcp_test {\n chain input {\n type filter hook input priority 0;\n"
        f" ip daddr {SERVER} udp dport 67 drop\n }}\n}}\n"
    )
    blocked = run_in_namespace(office_ns, ["nft", "-f", "-"], input=rules)
    assert blocked.returncode == 0, blocked.stderr
    with dnsmasq(office_ns, tmp_path / "office", "--dhcp-option=59,10"):
        device = NamespacedMfpd(tmp_path / "state", config(True, 3), device_ns, "0.0.0.0")
        device.start(timeout=WAIT)
        try:
            held = wait_until("a lease", lambda: network(device)["lease"])
            assert round(held["rebind_at"] - held["obtained"]) == 10
            rebound = wait_until(
                "a rebinding", lambda: (n := network(device)["lease"]) and n["renewals"] and n
            )
            assert rebound["address"] == held["address"]
            assert addresses(device_ns) == [f"{held['address']}/24"]
        finally:
            device.finish(timeout=WAIT)
    log = device.log.read_text()
    assert f"dhcp: renewing {held['address']} with {SERVER}" in log
    assert f"dhcp: rebinding {held['address']} by broadcast" in log


def test_a_nak_at_renewal_starts_over(link: tuple[str, str], tmp_path: Path) -> None:
    """The office's server replaced by one with another pool that is authoritative: the
    renewal gets a DHCPNAK, the device drops its address and takes one from the new pool."""
    device_ns, office_ns = link
    device = NamespacedMfpd(tmp_path / "state", config(True, 3), device_ns, "0.0.0.0")
    try:
        with dnsmasq(office_ns, tmp_path / "first"):
            device.start(timeout=WAIT)
            first = wait_until("a lease", lambda: network(device)["lease"])
        with dnsmasq(
            office_ns, tmp_path / "second", "--dhcp-authoritative", pool="10.77.0.100,10.77.0.110"
        ) as leases:
            second = wait_until(
                "a lease from the new pool",
                lambda: (n := network(device)["lease"]) and n["address"] != first["address"] and n,
            )
            assert 100 <= int(second["address"].rsplit(".", 1)[1]) <= 110
            assert addresses(device_ns) == [f"{second['address']}/24"]
            assert second["address"] in leases.read_text()
    finally:
        device.finish(timeout=WAIT)
    assert f"dhcp: NAK for {first['address']}" in device.log.read_text()


@requires(os.path.exists(KNOTD) and os.path.exists(KDIG), "knotd and kdig (Debian knot)")
def test_the_lease_feeds_the_resolver_and_ddns(link: tuple[str, str], tmp_path: Path) -> None:
    """[dns] names no server: the lease's DNS server (Knot, on the office's end, port 53)
    becomes the resolver's, which finds the zone's primary from its SOA; the device's A and
    PTR records follow the leased address by DDNS (RFC 2136, TSIG), read back with kdig."""
    device_ns, office_ns = link
    with (
        knot_server(
            tmp_path, address=SERVER, port=53, namespace=office_ns,
            reverse_zone="0.77.10.in-addr.arpa.",
        ) as knot,
        dnsmasq(office_ns, tmp_path / "office", dns=(SERVER,)),
    ):  # fmt: skip
        text = config(True) + (
            f'[dns]\nddns = true\nzone = "test.example"\ntimeout = 3\n'
            f'tsig_key_name = "{knot.key_name}"\ntsig_secret = "{knot.secret}"\n'
        )
        device = NamespacedMfpd(tmp_path / "state", text, device_ns, "0.0.0.0")
        device.start(timeout=WAIT)
        try:
            held = wait_until("a lease", lambda: network(device)["lease"])
            assert held["dns_servers"] == [SERVER]
            knot.wait_for("xrx-dhcp-test.test.example", "A", [held["address"]], timeout=WAIT)
            reverse = ".".join(reversed(held["address"].split("."))) + ".in-addr.arpa"
            knot.wait_for(reverse, "PTR", ["xrx-dhcp-test.test.example."], timeout=WAIT)
        finally:
            device.finish(timeout=WAIT)
    log = device.log.read_text()
    assert f"xrx-dhcp-test.test.example. A {held['address']} accepted" in log
    assert "not updated" not in log  # no update tried before the device had an address
