"""WS-Discovery (UDP 3702) and the WS-Print device metadata, with real clients in a network
namespace whose loopback carries multicast (issue 13).

- nmap's `wsdd-discover` (unicast) and `broadcast-wsdd-discover` (multicast) send a 2005/04
  Probe and a 2009/01 one (WCF) and get ProbeMatches naming a print device and its XAddrs.
- Probes for wsdp:Device and wprt:PrintDeviceType in both versions, and a Resolve for the
  device's endpoint, are answered in the request's version, with the device's UUID (IPP
  printer-uuid) as endpoint address; a Probe for other types and a Resolve for another
  endpoint get silence; a retransmission (same MessageID) is answered once.
- The WS-Transfer Get a Windows client sends to the XAddrs next, over plain HTTP, is answered
  with ThisModel/ThisDevice/Relationship naming the identity, read here with the standard
  library's XML parser.
- Abuse: a flood of spoofed-source Probes gets out no more bytes than came in; malformed and
  hostile XML (hypothesis, entity bombs) gets silence and the responder keeps answering.
- Switched off: Bye, and UDP 3702 closes; switched on: Hello.
"""

from __future__ import annotations

import json
import re
import uuid as uuid_module
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.codecs import wsd
from tests.conftest import FAST_CONFIG, NamespacedMfpd, multicast_namespace, need
from tests.integration.test_ssdp_discovery import (
    WAIT,
    Listener,
    api_token,
    client,
    identity,
    patch_config,
    port_row,
    stop_device,
    switch,
    udp_ports,
    wait_for_port,
)

pytestmark = pytest.mark.integration

IDENTITY = {
    "make": "Xerox",
    "model": "WorkCentre 7765",
    "serial_number": "WSD776500017",
    "hostname": "XRX-WSD-TEST",
    "firmware": "071.191.000.20202",
}
CONFIG = (
    FAST_CONFIG
    + "\n[identity]\n"
    + "".join(f'{key} = "{value}"\n' for key, value in IDENTITY.items())
)
FRIENDLY_NAME = f"{IDENTITY['make']} {IDENTITY['model']} ({IDENTITY['hostname']})"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
DEVPROF = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
PRINT = "http://schemas.microsoft.com/windows/2006/08/wdp/print"
V2005, V2009 = wsd.Version.WSD_2005, wsd.Version.WSD_2009


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    need("nmap", "ss")
    with multicast_namespace("mfpd-wsd", WAIT) as name:
        yield name


@pytest.fixture(scope="module")
def device(netns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamespacedMfpd]:
    daemon = NamespacedMfpd(tmp_path_factory.mktemp("wsd") / "state", CONFIG, netns)
    try:
        daemon.start(timeout=WAIT)
        row = port_row(daemon, "wsd")
        assert (row["state"], row["port"]) == ("listening", 3702), row
        assert "multicast 239.255.255.250 on lo" in row["note"], row
        yield daemon
    finally:
        stop_device(daemon)


def probe(version: wsd.Version, types: str = "", message_id: str = "") -> bytes:
    """A Probe as WSDAPI writes it (2005/04) or as WS-Discovery 1.1 does."""
    ns = version.ns
    types_element = f"<d:Types>{types}</d:Types>" if types else ""
    message_id = message_id or f"urn:uuid:{uuid_module.uuid4()}"
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}" '
        f'xmlns:a="{ns.addressing}" xmlns:d="{ns.discovery}" xmlns:wsdp="{DEVPROF}" '
        f'xmlns:wprt="{PRINT}"><s:Header><a:To>{ns.multicast_to}</a:To>'
        f"<a:Action>{ns.discovery}/Probe</a:Action><a:MessageID>{message_id}</a:MessageID>"
        f"</s:Header><s:Body><d:Probe>{types_element}</d:Probe></s:Body></s:Envelope>"
    ).encode()


def resolve(version: wsd.Version, address: str) -> bytes:
    ns = version.ns
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{ns.addressing}" xmlns:d="{ns.discovery}">'
        f"<s:Header><a:To>{ns.multicast_to}</a:To><a:Action>{ns.discovery}/Resolve</a:Action>"
        f"<a:MessageID>urn:uuid:{uuid_module.uuid4()}</a:MessageID></s:Header><s:Body>"
        f"<d:Resolve><a:EndpointReference><a:Address>{address}</a:Address>"
        "</a:EndpointReference></d:Resolve></s:Body></s:Envelope>"
    ).encode()


def send(
    device: NamespacedMfpd, datagrams: list[bytes], source: str = "127.0.0.1",
    expect: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Datagrams to the device's 3702; `expect`: an answer is due (waited for up to 10 s,
    then 0.5 s of quiet ends the wait), else 1 s of quiet."""
    options = ["--expect", "--quiet", "0.5"] if expect else ["--quiet", "1.0"]
    return client(device, "spray", "127.0.0.1", "3702", "--source", source, *options,
                  stdin=json.dumps([d.hex() for d in datagrams]))  # fmt: skip


def matches(text: str, version: wsd.Version, kind: str) -> ET.Element:
    """The ProbeMatch/ResolveMatch of an answer, checked against the version's namespaces."""
    root = ET.fromstring(text)
    ns = version.ns
    a, d = f"{{{ns.addressing}}}", f"{{{ns.discovery}}}"
    header = root.find(f"{{{SOAP}}}Header")
    assert header is not None, text
    assert header.findtext(f"{a}Action") == f"{ns.discovery}/{kind}es", text
    assert header.find(f"{d}AppSequence") is not None, text
    match = root.find(f"{{{SOAP}}}Body/{d}{kind}es/{d}{kind}")
    assert match is not None, text
    return match


def test_nmap_wsdd_discover(device: NamespacedMfpd) -> None:
    result = device.run(
        ["nmap", "-n", "-sU", "-p", "3702", "--script", "wsdd-discover", "127.0.0.1"],
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert_nmap_found_a_print_device(result.stdout, device)


def test_nmap_broadcast_wsdd_discover(device: NamespacedMfpd) -> None:
    result = device.run(["nmap", "-n", "--script", "broadcast-wsdd-discover"], timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broadcast-wsdd-discover:" in result.stdout, result.stdout
    assert_nmap_found_a_print_device(result.stdout, device)


def assert_nmap_found_a_print_device(output: str, device: NamespacedMfpd) -> None:
    # "Devices": the 2005/04 Probe; "WCF Services": the 2009/01 one. nmap's pattern drops
    # the first "wsdp:" of the Types.
    for section in ("Devices", "WCF Services"):
        assert re.search(rf"\|\s+{section}\n", output), output
    xaddrs = f"Address: http://127.0.0.1:{device.ports['http']}/wsd"
    assert output.count(xaddrs) == 2, output
    assert output.count("Type: Device wprt:PrintDeviceType") == 2, output


@pytest.mark.parametrize("version", [V2005, V2009])
@pytest.mark.parametrize(
    "types", ["", "wsdp:Device", "wprt:PrintDeviceType", "wsdp:Device wprt:PrintDeviceType"]
)
def test_probe_matches_in_the_request_version(
    device: NamespacedMfpd, version: wsd.Version, types: str
) -> None:
    message_id = f"urn:uuid:{uuid_module.uuid4()}"
    request = probe(version, types, message_id)
    # Sent twice, as SOAP-over-UDP repeats it: answered once.
    answer = send(device, [request, request])
    assert answer["replies"] == 1, answer
    match = matches(answer["first"], version, "ProbeMatch")
    ns = version.ns
    a, d = f"{{{ns.addressing}}}", f"{{{ns.discovery}}}"
    root = ET.fromstring(answer["first"])
    assert root.findtext(f".//{a}RelatesTo") == message_id
    assert match.findtext(f"{a}EndpointReference/{a}Address") == (
        f"urn:uuid:{identity(device)['uuid']}"
    )
    assert match.findtext(f"{d}Types") == "wsdp:Device wprt:PrintDeviceType"
    assert match.findtext(f"{d}XAddrs") == f"http://127.0.0.1:{device.ports['http']}/wsd"
    assert int(match.findtext(f"{d}MetadataVersion") or 0) >= 1


def test_probe_for_other_types_gets_silence(device: NamespacedMfpd) -> None:
    other = (
        probe(V2005, "wsdp:Device")
        .replace(b"wsdp:Device</d:Types>", b"o:NetworkVideoTransmitter</d:Types>")
        .replace(b"<s:Envelope ", b'<s:Envelope xmlns:o="http://www.onvif.org/ver10/network/wsdl" ')
    )
    assert send(device, [other], expect=False)["replies"] == 0


@pytest.mark.parametrize("version", [V2005, V2009])
def test_resolve(device: NamespacedMfpd, version: wsd.Version) -> None:
    address = f"urn:uuid:{identity(device)['uuid']}"
    answer = send(device, [resolve(version, address)])
    assert answer["replies"] == 1, answer
    match = matches(answer["first"], version, "ResolveMatch")
    a = f"{{{version.ns.addressing}}}"
    assert match.findtext(f"{a}EndpointReference/{a}Address") == address
    other = resolve(version, f"urn:uuid:{uuid_module.uuid4()}")
    assert send(device, [other], expect=False)["replies"] == 0


def get_request(version: wsd.Version, to: str) -> bytes:
    ns = version.ns
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:wsa="{ns.addressing}"><soap:Header>'
        f"<wsa:To>{to}</wsa:To>"
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{uuid_module.uuid4()}</wsa:MessageID>"
        f"<wsa:ReplyTo><wsa:Address>{ns.anonymous}</wsa:Address></wsa:ReplyTo>"
        "</soap:Header><soap:Body/></soap:Envelope>"
    ).encode()


def test_ws_transfer_get_at_the_xaddrs(device: NamespacedMfpd) -> None:
    """What a Windows client does after ProbeMatches: a WS-Transfer Get to the XAddrs."""
    found = identity(device)
    answer = send(device, [probe(V2005, "wsdp:Device")])
    xaddrs = matches(answer["first"], V2005, "ProbeMatch").findtext(
        f"{{{V2005.ns.discovery}}}XAddrs"
    )
    assert xaddrs
    endpoint = f"urn:uuid:{found['uuid']}"
    response = client(
        device, "http", "POST", xaddrs, "--body-hex", get_request(V2005, endpoint).hex(),
        "--type", "application/soap+xml; charset=utf-8",
    )  # fmt: skip
    assert response["status"] == 200, response
    assert response["headers"]["Content-Type"].startswith("application/soap+xml")
    assert "Python" not in response["headers"].get("Server", "")
    root = ET.fromstring(response["body"])
    p = f"{{{DEVPROF}}}"
    a = f"{{{V2005.ns.addressing}}}"
    assert (
        root.findtext(f".//{a}Action")
        == "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse"
    )
    model = root.find(f".//{p}ThisModel")
    this_device = root.find(f".//{p}ThisDevice")
    host = root.find(f".//{p}Relationship/{p}Host")
    hosted = root.find(f".//{p}Relationship/{p}Hosted")
    assert model is not None and this_device is not None and host is not None
    assert hosted is not None
    assert model.findtext(f"{p}Manufacturer") == found["make"]
    assert model.findtext(f"{p}ModelName") == found["model"]
    assert model.findtext(f"{p}ModelNumber") == "7765"
    assert model.findtext(f"{p}PresentationUrl") == f"http://127.0.0.1:{device.ports['http']}/"
    assert this_device.findtext(f"{p}FriendlyName") == FRIENDLY_NAME
    assert this_device.findtext(f"{p}FirmwareVersion") == found["firmware"]
    assert this_device.findtext(f"{p}SerialNumber") == found["serial_number"]
    assert host.findtext(f"{a}EndpointReference/{a}Address") == endpoint
    assert host.findtext(f"{p}Types") == "wsdp:Device wprt:PrintDeviceType"
    assert host.findtext(f"{p}ServiceId") == endpoint
    assert hosted.findtext(f"{p}Types") == "wprt:PrinterServiceType"

    # WS-Discovery 1.1's clients get DPWS 1.1's dialects.
    response = client(
        device, "http", "POST", xaddrs, "--body-hex", get_request(V2009, endpoint).hex(),
        "--type", "application/soap+xml",
    )  # fmt: skip
    assert response["status"] == 200, response
    dpws11 = "{http://docs.oasis-open.org/ws-dd/ns/dpws/2009/01}"
    assert (
        ET.fromstring(response["body"]).findtext(f".//{dpws11}ThisDevice/{dpws11}SerialNumber")
        == found["serial_number"]
    )

    # Not SOAP: a SOAP Sender fault, 400; a billion laughs: the same, and the daemon lives.
    for body in (b"<not-soap", BILLION_LAUGHS):
        bad = client(device, "http", "POST", xaddrs, "--body-hex", body.hex(),
                     "--type", "application/soap+xml")  # fmt: skip
        assert bad["status"] == 400, bad
        assert "Sender" in bad["body"]


# Nine levels of ten: 10^9 "lol"s if a parser expanded them.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * 10) for n in range(1, 10))
    + b"]><lolz>&lol9;</lolz>"
)


# -- abuse -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["127.0.0.1", wsd.GROUP])
def test_spoofed_probe_flood_gets_out_no_more_than_came_in(
    device: NamespacedMfpd, where: str
) -> None:
    """2,000 Probes from one source, each with its own MessageID (a spoofer's would be), to
    the device or to the group: no more bytes reach the victim than were sent."""
    victim = "127.0.0.2" if where == "127.0.0.1" else "127.0.0.3"
    template = probe(V2005, message_id="urn:uuid:00000000-0000-0000-0000-#N#")
    answer = client(device, "flood", where, "3702", "2000", template.hex(), "--vary",
                    "--source", victim)  # fmt: skip
    assert answer["replies"] > 0, answer
    assert answer["bytes_out"] <= answer["bytes_in"], answer
    assert send(device, [probe(V2009)], source="127.0.0.9")["replies"] == 1


HOSTILE = st.one_of(
    st.binary(max_size=500),
    st.builds(
        lambda n, noise: probe(V2005)[:n] + noise,
        st.integers(min_value=0, max_value=600),
        st.binary(max_size=60),
    ),
    st.sampled_from([BILLION_LAUGHS, probe(V2009).replace(b"?>", b"?><!DOCTYPE x []>", 1)]),
)


def _answerable(data: bytes) -> bool:
    try:
        message = wsd.parse(data)
    except wsd.WsdError:
        return False
    return message.kind in (wsd.Kind.PROBE, wsd.Kind.RESOLVE)


@settings(
    max_examples=3, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
@given(datagrams=st.lists(HOSTILE, min_size=40, max_size=40))
def test_malformed_datagrams_get_silence(device: NamespacedMfpd, datagrams: list[bytes]) -> None:
    bad = [d for d in datagrams if not _answerable(d)] + [BILLION_LAUGHS]
    assert send(device, bad, source="127.0.0.4", expect=False)["replies"] == 0
    assert send(device, [probe(V2005)], source="127.0.0.5")["replies"] == 1


# -- announcements, and switching off (last: they change the daemon) -------------------------


def test_new_metadata_is_announced_by_hello(device: NamespacedMfpd) -> None:
    """WS-Discovery 4.1: a Hello with a higher MetadataVersion when the metadata changes
    (here the FriendlyName, IPP printer-info); a Get then returns the new name."""
    d = f"{{{V2005.ns.discovery}}}"
    match = matches(send(device, [probe(V2005)])["first"], V2005, "ProbeMatch")
    before = int(match.findtext(f"{d}MetadataVersion") or 0)
    api_token(device)  # made before the listener starts: it takes a second
    listener = Listener(device, wsd.GROUP, 3702, "/Hello</", times=1)
    patch_config(device, {"identity": {"info": "Front desk MFP"}})
    (hello, *_) = [t for t in listener.datagrams() if "/Hello</" in t]
    versions = {
        int(e.text or 0) for e in ET.fromstring(hello).iter() if e.tag.endswith("MetadataVersion")
    }
    assert versions == {before + 1}, hello
    match = matches(send(device, [probe(V2005)])["first"], V2005, "ProbeMatch")
    assert int(match.findtext(f"{d}MetadataVersion") or 0) == before + 1
    xaddrs = match.findtext(f"{d}XAddrs") or ""
    response = client(
        device, "http", "POST", xaddrs, "--body-hex",
        get_request(V2005, f"urn:uuid:{identity(device)['uuid']}").hex(),
        "--type", "application/soap+xml",
    )  # fmt: skip
    name = ET.fromstring(response["body"]).findtext(f".//{{{DEVPROF}}}FriendlyName")
    assert name == "Front desk MFP"
    patch_config(device, {"identity": {"info": ""}})


def test_web_server_moved_hello_with_the_new_xaddrs(device: NamespacedMfpd) -> None:
    api_token(device)  # made before the listener starts: it takes a second
    moved = "<wsd:XAddrs>http://127.0.0.1:8080/wsd</wsd:XAddrs>"
    listener = Listener(device, wsd.GROUP, 3702, moved)
    try:
        patch_config(device, {"services": {"http": {"port": 8080}}})
        hellos = [t for t in listener.datagrams() if moved in t]
        assert hellos and "/Hello</" in hellos[0], hellos
    finally:
        patch_config(device, {"services": {"http": {"port": 80}}}, port=8080)
    wait_for_port(device, "http", 80)
    match = matches(send(device, [probe(V2005)])["first"], V2005, "ProbeMatch")
    assert match.findtext(f"{{{V2005.ns.discovery}}}XAddrs") == "http://127.0.0.1:80/wsd"


def test_switched_off_bye_and_closed_then_on_hello(device: NamespacedMfpd) -> None:
    address = f"urn:uuid:{identity(device)['uuid']}"
    # Bye in both versions, each sent twice (SOAP-over-UDP's repeat).
    listener = Listener(device, wsd.GROUP, 3702, "/Bye</", times=4)
    switch(device, "wsd", False)
    byes = [t for t in listener.datagrams() if "/Bye</" in t]
    versions = set()
    for text in byes:
        root = ET.fromstring(text)
        for version in wsd.Version:
            a, d = f"{{{version.ns.addressing}}}", f"{{{version.ns.discovery}}}"
            bye = root.find(f"{{{SOAP}}}Body/{d}Bye")
            if bye is not None:
                versions.add(version)
                assert bye.findtext(f"{a}EndpointReference/{a}Address") == address
    assert versions == set(wsd.Version), byes
    assert port_row(device, "wsd")["state"] == "disabled"
    assert not re.search(r":3702\s", udp_ports(device)), udp_ports(device)
    get = client(
        device, "http", "POST", f"http://127.0.0.1:{device.ports['http']}/wsd",
        "--body-hex", get_request(V2005, address).hex(), "--type", "application/soap+xml",
    )  # fmt: skip
    assert get["status"] == 404

    listener = Listener(device, wsd.GROUP, 3702, "/Hello</", times=2)
    switch(device, "wsd", True)
    hellos = [t for t in listener.datagrams() if "/Hello</" in t]
    assert hellos and all(address in t and "wprt:PrintDeviceType" in t for t in hellos), hellos
    assert re.search(r"239\.255\.255\.250:3702\s", udp_ports(device)), udp_ports(device)


def test_daemon_stop_sends_bye(device: NamespacedMfpd) -> None:
    """SIGTERM: a Bye in both versions before the socket closes (the module's last test: the
    daemon is gone after it)."""
    address = f"urn:uuid:{identity(device)['uuid']}"
    listener = Listener(device, wsd.GROUP, 3702, "/Bye</", times=2)
    assert device.stop(timeout=WAIT) == 0
    byes = [t for t in listener.datagrams() if "/Bye</" in t]
    assert {V2005.ns.discovery in t for t in byes} == {True, False}, byes
    assert all(address in t for t in byes), byes
