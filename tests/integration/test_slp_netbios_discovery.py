"""SLP (UDP 427) and NetBIOS (UDP 137/138) found and read by real clients, in a network
namespace whose loopback carries multicast, with the daemon on the standard ports.

- SLP: nmap's svrloc probe (-sV) names the port; Debian bookworm has no slptool, so a user
  agent written from RFC 2608 with struct alone (tests/slp_client.py, nothing shared with
  mfpd.codecs.slp) sends SrvRqst/AttrRqst/SrvTypeRqst unicast and to 239.255.255.253.
  AttrRqst values are compared with ipptool's Get-Printer-Attributes.
- NetBIOS: nmblookup (directed -U, node status -A, and broadcast to 127.255.255.255),
  nbtscan and nmap's nbstat script; the MAC is SNMP's ifPhysAddress (snmpget).
- Abuse: SrvReg registers nothing and gets back no more than it sent; a spoofed-source flood
  of 2,000 SLP requests gets out no more bytes than came in; hypothesis-made datagrams to
  427, 137 and 138 leave the responders answering.
- PATCH /api/v1/config switches each off (its port leaves `ss -lun`) and on again.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import slp_client as ua
from tests.conftest import FAST_CONFIG, NamespacedMfpd, multicast_namespace, need

pytestmark = pytest.mark.integration

NAME = "XRX-WC7755"
LOCATION = "Room 101 (1st floor), B"
MTU = 600  # small enough that a full AttrRply overflows
CONFIG = (
    FAST_CONFIG
    + f'\n[identity]\nlocation = "{LOCATION}"\n'
    + f"\n[services.slp]\nmtu = {MTU}\n"
    + '\n[services.netbios_ns]\nworkgroup = "OFFICE"\n'
    + "\n[services.netbios_dgm]\nannounce = true\n"
)
ROOT = Path(__file__).resolve().parents[2]
HELPER_ENV = {"PYTHONPATH": str(ROOT)}  # tests/ helpers import nothing from mfpd
WAIT = 30.0
ADDRESS = "127.0.0.1"
IPP_URL = f"service:printer:ipp://{ADDRESS}:631/ipp/print"
LPR_URL = f"service:printer:lpr://{ADDRESS}:515/lp"
RAW_URL = f"service:printer:raw-tcp://{ADDRESS}:9100"


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    need("nmap", "nmblookup", "nbtscan", "ipptool", "snmpget", "ss", "curl")
    with multicast_namespace("mfpd-slpnb", WAIT) as name:
        yield name


@pytest.fixture(scope="module")
def device(netns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamespacedMfpd]:
    daemon = NamespacedMfpd(tmp_path_factory.mktemp("slp-netbios") / "state", CONFIG, netns)
    try:
        daemon.start()
        for service, port in (("slp", 427), ("netbios_ns", 137), ("netbios_dgm", 138)):
            assert daemon.ports.get(service) == port, daemon.rows
        yield daemon
    finally:
        daemon.finish(WAIT)


def python(device: NamespacedMfpd, *args: str, input: str | None = None) -> list[Any]:
    """A helper module of tests/ run in the namespace; its JSON lines."""
    result = device.run([sys.executable, "-m", *args], timeout=WAIT, env=HELPER_ENV, input=input)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def slp(device: NamespacedMfpd, *args: str) -> list[dict[str, Any]]:
    """tests/slp_client.py: the replies to one request (after the {"sent": n} line)."""
    lines = python(device, "tests.slp_client", *args)
    return [{**line, "sent": lines[0]["sent"]} for line in lines[1:]]


# -- SLP -----------------------------------------------------------------------------------


def test_nmap_names_the_port_svrloc(device: NamespacedMfpd) -> None:
    """nmap's svrloc probe is a SrvRqst for service:service-agent (MCAST flag set, scope
    "default"); its match wants an SAAdvert (`^\\x02\\x0b`)."""
    result = device.run(["nmap", "-sU", "-sV", "-p", "427", ADDRESS], timeout=120)
    assert re.search(r"427/udp\s+open\s+svrloc\s+Service Location Protocol 2", result.stdout), (
        result.stdout
    )


@pytest.mark.parametrize("multicast", [False, True], ids=["unicast", "multicast"])
@pytest.mark.parametrize(
    ("service_type", "urls"),
    [
        ("service:printer", [IPP_URL, LPR_URL, RAW_URL]),
        ("service:printer:ipp", [IPP_URL]),
        ("service:printer:lpr", [LPR_URL]),
        ("service:printer:raw-tcp", [RAW_URL]),
        ("SERVICE:PRINTER:IPP", [IPP_URL]),
    ],
)
def test_srvrqst_finds_the_printer(
    device: NamespacedMfpd, service_type: str, urls: list[str], multicast: bool
) -> None:
    args = ["srvrqst", ADDRESS, service_type] + (["--multicast"] if multicast else [])
    (reply,) = slp(device, *args)
    assert (reply["function"], reply["error"], reply["xid"]) == (2, 0, 0x1234)
    assert reply["urls"] == urls and reply["length"] == reply["size"]


@pytest.mark.parametrize("multicast", [False, True], ids=["unicast", "multicast"])
def test_service_agent_advert(device: NamespacedMfpd, multicast: bool) -> None:
    args = ["srvrqst", ADDRESS, "service:service-agent"] + (["--multicast"] if multicast else [])
    (advert,) = slp(device, *args)
    assert advert["function"] == 11 and advert["url"] == f"service:service-agent://{ADDRESS}"
    assert advert["scopes"] == "DEFAULT"


def test_predicates(device: NamespacedMfpd) -> None:
    def urls(predicate: str, *more: str) -> list[dict[str, Any]]:
        return slp(device, "srvrqst", ADDRESS, "service:printer", "--predicate", predicate, *more)

    matching = "(&(color-supported=true)(printer-name=XRX*)(|(pages-per-minute>=50)(x=1)))"
    assert urls(matching)[0]["urls"] == [IPP_URL, LPR_URL, RAW_URL]
    assert urls("(printer-location=room 101 \\28*)")[0]["urls"] == [IPP_URL, LPR_URL, RAW_URL]
    # No match: an empty SrvRply unicast, silence multicast (RFC 2608 8.1).
    assert urls("(color-supported=false)")[0]["urls"] == []
    assert urls("(color-supported=false)", "--multicast") == []
    # An unreadable predicate: PARSE_ERROR unicast, silence multicast (RFC 2608 7).
    assert urls("(&(color-supported=true)")[0]["error"] == 2
    assert urls("(&(color-supported=true)", "--multicast") == []


def test_scopes_and_previous_responders(device: NamespacedMfpd) -> None:
    (other,) = slp(device, "srvrqst", ADDRESS, "service:printer", "--scope", "SALES")
    assert other["function"] == 2 and other["error"] == 4  # SCOPE_NOT_SUPPORTED
    sales = ["srvrqst", ADDRESS, "service:printer", "--scope", "SALES"]
    assert slp(device, *sales, "--multicast") == []
    # nmap's scope "default": scopes compare case-insensitively (RFC 2608 6.4).
    assert slp(device, "srvrqst", ADDRESS, "service:printer", "--scope", "default")[0]["urls"]
    for mode in ([], ["--multicast"]):
        prlist = ["--prlist", f"10.0.0.9,{ADDRESS}"]
        assert slp(device, "srvrqst", ADDRESS, "service:printer", *prlist, *mode) == []


def ipptool_values(device: NamespacedMfpd) -> dict[str, str]:
    result = device.run(
        ["ipptool", "-tv", f"ipp://{ADDRESS}:631/ipp/print", "get-printer-attributes.test"],
        timeout=WAIT,
    )
    found = {}
    for line in result.stdout.splitlines():
        match = re.match(r"\s+([a-z0-9-]+) \([^)]*\) = (.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    assert "printer-name" in found, result.stdout
    return found


def test_attributes_are_ipp_values(device: NamespacedMfpd) -> None:
    """The RFC 3712 template attributes, asked a few at a time (the MTU is 600 here), say
    what Get-Printer-Attributes says (ipptool joins a set's values with commas)."""
    ipp = ipptool_values(device)
    compared = [
        "printer-name", "printer-location", "printer-info", "printer-make-and-model",
        "printer-more-info", "printer-device-id", "printer-uuid", "printer-uri-supported",
        "uri-security-supported", "color-supported", "sides-supported",
        "document-format-supported", "media-supported", "pages-per-minute",
        "pages-per-minute-color", "charset-supported", "ipp-versions-supported",
        "multiple-document-jobs-supported",
    ]  # fmt: skip
    seen: dict[str, list[str]] = {}
    for start in range(0, len(compared), 3):
        tags = ",".join(compared[start : start + 3])
        (reply,) = slp(device, "attrrqst", ADDRESS, IPP_URL, "--tags", tags)
        assert reply["function"] == 7 and reply["error"] == 0 and not reply["flags"]
        seen.update(ua_attributes(reply["attributes"]))
    assert seen["printer-location"] == [LOCATION]
    for name in compared:
        # IPP builds its URIs from the request's Host (ipptool sends "localhost" for
        # 127.0.0.1); SLP names the bind address. The rest must be the same text.
        assert ",".join(seen[name]) == ipp[name].replace("//localhost:", f"//{ADDRESS}:"), name
    # A wildcard tag, and the abstract type standing for every URL (RFC 2608 10.3).
    (wild,) = slp(device, "attrrqst", ADDRESS, "service:printer", "--tags", "sides-*,*-name")
    assert set(ua_attributes(wild["attributes"])) == {"sides-supported", "printer-name"}


def ua_attributes(text: str) -> dict[str, list[str]]:
    """The attribute list read by hand (RFC 2608 5): split at top-level commas, unescape."""
    found = {}
    for item in re.findall(r"\(([^)]*)\)", text):
        name, _, values = item.partition("=")
        found[name] = [
            re.sub(r"\\([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), v)
            for v in values.split(",")
        ]
    return found


def test_replies_are_capped_at_the_mtu(device: NamespacedMfpd) -> None:
    (reply,) = slp(device, "attrrqst", ADDRESS, IPP_URL)
    assert reply["size"] <= MTU and reply["flags"] & ua.OVERFLOW  # RFC 2608 7
    assert reply["length"] == reply["size"]
    # Whole attributes only: the list that came ends with one.
    assert reply["attributes"].endswith(")")


def test_srvtyperqst(device: NamespacedMfpd) -> None:
    (reply,) = slp(device, "srvtyperqst", ADDRESS)
    assert reply["function"] == 10
    assert reply["types"] == "service:printer:ipp,service:printer:lpr,service:printer:raw-tcp"


def test_srvreg_registers_nothing_and_amplifies_nothing(device: NamespacedMfpd) -> None:
    """CVE-2023-29552: a registration then a query for it from a spoofed source made SLP
    a 2,200-fold amplifier. SrvReg (1,074 bytes) gets an 18-byte SrvAck MSG_NOT_SUPPORTED
    (RFC 2608 7) unicast and silence multicast, and the service is not found after."""
    (ack,) = slp(device, "srvreg", ADDRESS, "service:evil://192.0.2.1")
    assert ack["function"] == 5 and ack["error"] == 14 and ack["size"] <= ack["sent"]
    assert slp(device, "srvreg", ADDRESS, "service:evil://192.0.2.1", "--multicast") == []
    (found,) = slp(device, "srvrqst", ADDRESS, "service:evil")
    assert found["urls"] == []
    assert "evil" not in slp(device, "srvtyperqst", ADDRESS)[0]["types"]


def test_spoofed_flood_gets_out_no_more_than_came_in(device: NamespacedMfpd) -> None:
    """2,000 requests (SrvRqst, and AttrRqst whose answer is ten times the request) sent
    from 127.0.0.99 as a spoofed victim's address: every reply lands on that socket, which
    counts them. The reply budget lets through the first few, then only what came in."""
    requests = [ua.srvrqst("service:printer").hex(), ua.attrrqst(IPP_URL).hex()]
    (counts,) = python(
        device, "tests.udp_tools", "flood", "127.0.0.99", ADDRESS, "427", "2000",
        input="\n".join(requests),
    )  # fmt: skip
    assert counts["dropped"] == 0, counts  # every request reached the daemon, every reply us
    assert counts["replies"] > 0  # the path works: the budget's first bucket got out
    assert counts["bytes_out"] <= counts["bytes_in"], counts
    # And the responder still answers an ordinary client at once.
    assert slp(device, "srvrqst", ADDRESS, "service:printer:ipp")[0]["urls"] == [IPP_URL]


# -- NetBIOS -------------------------------------------------------------------------------


def mac_from_snmp(device: NamespacedMfpd) -> str:
    result = device.run(
        ["snmpget", "-v2c", "-c", "public", "-On", ADDRESS, "1.3.6.1.2.1.2.2.1.6.1"], timeout=WAIT
    )
    octets = result.stdout.split("Hex-STRING:")[1].split()
    assert len(octets) == 6, result.stdout
    return "-".join(octets).upper()


def test_nmblookup_directed_and_broadcast(device: NamespacedMfpd) -> None:
    for suffix in ("", "#00", "#20"):
        result = device.run(["nmblookup", "-U", ADDRESS, NAME + suffix], timeout=WAIT)
        assert f"{ADDRESS} {NAME}<{suffix[1:] or '00'}>" in result.stdout, result.stdout
    # lo has no broadcast flag, but the kernel delivers to 127.255.255.255 (local table).
    result = device.run(["nmblookup", "-B", "127.255.255.255", NAME], timeout=WAIT)
    assert f"{ADDRESS} {NAME}<00>" in result.stdout, result.stdout
    group = device.run(["nmblookup", "-U", ADDRESS, "OFFICE"], timeout=WAIT)
    assert f"{ADDRESS} OFFICE<00>" in group.stdout, group.stdout
    # A name we do not hold: silence (we are no NBNS), nmblookup gives up.
    other = device.run(["nmblookup", "-U", ADDRESS, "NOSUCHNAME"], timeout=WAIT)
    assert "failed to find name NOSUCHNAME" in other.stdout, other.stdout


def test_node_status_names_and_mac(device: NamespacedMfpd) -> None:
    result = device.run(["nmblookup", "-A", ADDRESS], timeout=WAIT)
    table = result.stdout
    assert re.search(rf"{NAME}\s+<00> -\s+B <ACTIVE>", table), table
    assert re.search(rf"{NAME}\s+<20> -\s+B <ACTIVE>", table), table
    assert re.search(r"OFFICE\s+<00> - <GROUP> B <ACTIVE>", table), table
    mac = mac_from_snmp(device)
    assert f"MAC Address = {mac}" in table, (mac, table)
    scan = device.run(["nbtscan", ADDRESS], timeout=WAIT)
    assert re.search(rf"{ADDRESS}\s+{NAME}\s+<server>\s+\S+\s+{mac.replace('-', ':').lower()}",
                     scan.stdout), scan.stdout  # fmt: skip
    nmap = device.run(["nmap", "-sU", "-p", "137", "--script", "nbstat", ADDRESS], timeout=120)
    assert f"NetBIOS name: {NAME}" in nmap.stdout, nmap.stdout
    assert f"NetBIOS MAC: {mac.replace('-', '').lower()}" in nmap.stdout, nmap.stdout


# -- malformed input -----------------------------------------------------------------------

SLP_SEEDS = [ua.srvrqst("service:printer", predicate="(a=b)"), ua.attrrqst(IPP_URL, "x"),
             ua.srvtyperqst(), ua.srvreg("service:x://1", "service:x", "(a=1)")]  # fmt: skip
NBNS_SEED = bytes.fromhex(
    "42420110000100000000000020" + "46494643434544434444454444454443434143414341434143" + "00"
)


def fuzzed(seeds: list[bytes], count: int) -> list[bytes]:
    """count datagrams made by hypothesis: random bytes, and seeds with bytes overwritten."""
    made: list[bytes] = []

    @settings(max_examples=count, database=None, deadline=None)
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.tuples(
                st.sampled_from(seeds), st.integers(0, 100), st.binary(min_size=1, max_size=6)
            ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]),
        )
    )
    def collect(data: bytes) -> None:
        made.append(data)

    collect()
    return made


def test_malformed_datagrams_leave_the_responders_answering(device: NamespacedMfpd) -> None:
    for port, seeds in (("427", SLP_SEEDS), ("137", [NBNS_SEED]), ("138", [NBNS_SEED])):
        datagrams = fuzzed(seeds, 300)
        (counts,) = python(device, "tests.udp_tools", "blast", ADDRESS, port,
                           input="\n".join(d.hex() for d in datagrams if d))  # fmt: skip
        assert counts["sent"] > 0
    assert slp(device, "srvrqst", ADDRESS, "service:printer:ipp")[0]["urls"] == [IPP_URL]
    result = device.run(["nmblookup", "-U", ADDRESS, NAME], timeout=WAIT)
    assert f"{ADDRESS} {NAME}<00>" in result.stdout, result.stdout
    assert device.proc is not None and device.proc.poll() is None


# -- switched off and on ---------------------------------------------------------------------


def patch(device: NamespacedMfpd, token: str, body: dict[str, Any]) -> None:
    result = device.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH",
         "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
         "-d", json.dumps(body), f"http://{ADDRESS}:80/api/v1/config"],
        timeout=WAIT,
    )  # fmt: skip
    assert result.stdout == "200", (result.stdout, result.stderr)


def udp_ports(device: NamespacedMfpd) -> set[int]:
    """The daemon's UDP ports in `ss -lunp` (`ip netns exec` execs: its pid is the daemon)."""
    assert device.proc is not None
    listing = device.run(["ss", "-lunpH"], timeout=WAIT).stdout
    ours = [line for line in listing.splitlines() if f"pid={device.proc.pid}," in line]
    return {int(m) for line in ours for m in re.findall(r":(\d+)\s", line)}


def test_switching_off_closes_the_ports_and_announces(device: NamespacedMfpd) -> None:
    """Off: 427, 137 and 138 leave `ss -lun`, and netbios_dgm (announce = true) says it
    leaves (a host announcement with no service bits, MS-BRWS); on: all come back and the
    start announcement is broadcast to 127.255.255.255:138."""
    token = device.cli("token", "tests").stdout.strip()
    assert {427, 137, 138} <= udp_ports(device)
    listener = subprocess.Popen(
        ["ip", "netns", "exec", device.namespace, "timeout", "60", sys.executable, "-m",
         "tests.udp_tools", "listen", "138", "8"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **HELPER_ENV},
    )  # fmt: skip
    try:
        assert listener.stdout is not None
        assert json.loads(listener.stdout.readline()) == {"listening": 138}
        off = {name: {"enabled": False} for name in ("slp", "netbios_ns", "netbios_dgm")}
        patch(device, token, {"services": off})
        assert not {427, 137, 138} & udp_ports(device)
        on = {name: {"enabled": True} for name in ("slp", "netbios_ns", "netbios_dgm")}
        patch(device, token, {"services": on})
        heard = json.loads(listener.communicate(timeout=60)[0])["datagrams"]
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
    assert {427, 137, 138} <= udp_ports(device)
    types = [_server_type(bytes.fromhex(d)) for d in heard]
    assert types[:2] == [0, 0x201], heard  # goodbye (no bits), then hello (workstation, printq)
    assert slp(device, "srvrqst", ADDRESS, "service:printer:ipp")[0]["urls"] == [IPP_URL]
    result = device.run(["nmblookup", "-U", ADDRESS, NAME], timeout=WAIT)
    assert f"{ADDRESS} {NAME}<00>" in result.stdout, result.stdout


def _server_type(datagram: bytes) -> int:
    """MS-BRWS HostAnnouncement ServerType: 24 bytes into the mailslot data, whose offset
    the SMB Transaction gives (RFC 1002 datagram header 14 + two names of 34)."""
    smb = datagram[82:]
    (offset,) = struct.unpack_from("<H", smb, 33 + 24)
    (server_type,) = struct.unpack_from("<I", smb, offset + 24)
    return int(server_type)
