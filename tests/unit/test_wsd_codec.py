"""Unit tests of the WS-Discovery codec: Probe/Resolve in both versions, the answers and the
WS-Transfer metadata, read back with the standard library's parser (not our builder), and
hostile XML (entity bombs, DTDs, random bytes) refused as WsdError."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpd.codecs import wsd

UUID = "9e4bb510-1c37-4067-b11f-624fdef110b8"
ENDPOINT = wsd.Endpoint(f"urn:uuid:{UUID}", "http://127.0.0.1:80/wsd", 3)
V2005, V2009 = wsd.Version.WSD_2005, wsd.Version.WSD_2009
SOAP = "http://www.w3.org/2003/05/soap-envelope"
DEVPROF = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
PRINT = "http://schemas.microsoft.com/windows/2006/08/wdp/print"


def probe(version: wsd.Version, types: str = "", extra_ns: str = "", scopes: str = "") -> bytes:
    ns = version.ns
    body_types = f"<d:Types>{types}</d:Types>" if types else ""
    body_scopes = f"<d:Scopes>{scopes}</d:Scopes>" if scopes else ""
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{ns.addressing}" '
        f'xmlns:d="{ns.discovery}"{extra_ns}>'
        f"<s:Header><a:To>{ns.multicast_to}</a:To><a:Action>{ns.discovery}/Probe</a:Action>"
        "<a:MessageID>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</a:MessageID></s:Header>"
        f"<s:Body><d:Probe>{body_types}{body_scopes}</d:Probe></s:Body></s:Envelope>"
    ).encode()


def resolve(version: wsd.Version, address: str) -> bytes:
    ns = version.ns
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{ns.addressing}" xmlns:d="{ns.discovery}">'
        f"<s:Header><a:To>{ns.multicast_to}</a:To><a:Action>{ns.discovery}/Resolve</a:Action>"
        "<a:MessageID>urn:uuid:1</a:MessageID></s:Header><s:Body><d:Resolve>"
        f"<a:EndpointReference><a:Address>{address}</a:Address></a:EndpointReference>"
        "</d:Resolve></s:Body></s:Envelope>"
    ).encode()


GET = (
    f'<soap:Envelope xmlns:soap="{SOAP}" '
    'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"><soap:Header>'
    f"<wsa:To>urn:uuid:{UUID}</wsa:To>"
    "<wsa:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</wsa:Action>"
    "<wsa:MessageID>urn:uuid:2</wsa:MessageID></soap:Header><soap:Body/></soap:Envelope>"
).encode()


@pytest.mark.parametrize("version", list(wsd.Version))
def test_probe_without_types_matches(version: wsd.Version) -> None:
    message = wsd.parse(probe(version))
    assert message.kind is wsd.Kind.PROBE and message.version is version
    assert wsd.probe_matches(message)


@pytest.mark.parametrize("version", list(wsd.Version))
def test_probe_for_print_device_types(version: wsd.Version) -> None:
    extra = f' xmlns:wsdp="{DEVPROF}" xmlns:p="{PRINT}"'
    message = wsd.parse(probe(version, "wsdp:Device p:PrintDeviceType", extra))
    assert message.types == {(DEVPROF, "Device"), (PRINT, "PrintDeviceType")}
    assert wsd.probe_matches(message)


def test_types_prefix_declared_on_the_element() -> None:
    data = probe(V2005).replace(
        b"<d:Probe>", f'<d:Probe><d:Types xmlns:x="{PRINT}">x:PrintDeviceType</d:Types>'.encode()
    )
    message = wsd.parse(data)
    assert message.types == {(PRINT, "PrintDeviceType")}


def test_other_types_and_scopes_do_not_match() -> None:
    extra = ' xmlns:t="http://www.onvif.org/ver10/network/wsdl"'
    assert not wsd.probe_matches(wsd.parse(probe(V2005, "t:NetworkVideoTransmitter", extra)))
    assert not wsd.probe_matches(wsd.parse(probe(V2005, scopes="onvif://www.onvif.org/x")))


def test_undeclared_prefix_is_an_error() -> None:
    with pytest.raises(wsd.WsdError):
        wsd.parse(probe(V2005, "nope:Device"))


@pytest.mark.parametrize("version", list(wsd.Version))
def test_resolve(version: wsd.Version) -> None:
    message = wsd.parse(resolve(version, f"URN:UUID:{UUID.upper()}"))
    assert message.kind is wsd.Kind.RESOLVE
    assert wsd.resolve_matches(message, f"urn:uuid:{UUID}")
    assert not wsd.resolve_matches(wsd.parse(resolve(version, "urn:uuid:0")), f"urn:uuid:{UUID}")


@pytest.mark.parametrize("version", list(wsd.Version))
def test_probe_matches_read_back(version: wsd.Version) -> None:
    request = wsd.parse(probe(version))
    data = wsd.probe_matches_message(request, ENDPOINT, "urn:uuid:3", wsd.Sequence(17, 4))
    root = ET.fromstring(data)
    ns = version.ns
    a, d = f"{{{ns.addressing}}}", f"{{{ns.discovery}}}"
    header = root.find(f"{{{SOAP}}}Header")
    assert header is not None
    assert header.findtext(f"{a}Action") == f"{ns.discovery}/ProbeMatches"
    assert header.findtext(f"{a}RelatesTo") == request.message_id
    assert header.findtext(f"{a}To") == ns.anonymous
    sequence = header.find(f"{d}AppSequence")
    assert sequence is not None and sequence.attrib == {"InstanceId": "17", "MessageNumber": "4"}
    match = root.find(f"{{{SOAP}}}Body/{d}ProbeMatches/{d}ProbeMatch")
    assert match is not None
    assert match.findtext(f"{a}EndpointReference/{a}Address") == ENDPOINT.address
    assert match.findtext(f"{d}Types") == "wsdp:Device wprt:PrintDeviceType"
    assert match.findtext(f"{d}XAddrs") == ENDPOINT.xaddrs
    assert match.findtext(f"{d}MetadataVersion") == "3"
    # Our own answer, parsed by our codec: recognised as nothing to answer.
    assert wsd.parse(data).kind is wsd.Kind.OTHER


def test_hello_bye_resolve_matches_are_well_formed() -> None:
    for version in wsd.Version:
        seq = wsd.Sequence(1, 1)
        for data in (
            wsd.hello(version, ENDPOINT, "urn:uuid:4", seq),
            wsd.bye(version, ENDPOINT, "urn:uuid:5", seq),
            wsd.resolve_matches_message(
                wsd.parse(resolve(version, ENDPOINT.address)), ENDPOINT, "urn:uuid:6", seq
            ),
        ):
            ET.fromstring(data)
            assert wsd.parse(data).kind is wsd.Kind.OTHER


def test_get_response_metadata() -> None:
    request = wsd.parse(GET)
    assert request.kind is wsd.Kind.GET and request.version is V2005
    metadata = wsd.Metadata(
        manufacturer="Xerox & Co",
        manufacturer_url="http://www.xerox.com/",
        model_name="WorkCentre 7755",
        model_number="7755",
        presentation_url="http://127.0.0.1:80/",
        friendly_name="<Xerox>",
        firmware_version="061.090.221.36000",
        serial_number="MFP775500001",
        device_address=f"urn:uuid:{UUID}",
        print_service_address="http://127.0.0.1:80/wsd/print",
        print_service_id=f"urn:uuid:{UUID}/print",
    )
    root = ET.fromstring(wsd.get_response(request, metadata, "urn:uuid:7"))
    p = f"{{{DEVPROF}}}"
    assert root.findtext(f".//{p}ThisModel/{p}Manufacturer") == "Xerox & Co"
    assert root.findtext(f".//{p}ThisModel/{p}ModelNumber") == "7755"
    assert root.findtext(f".//{p}ThisDevice/{p}FriendlyName") == "<Xerox>"
    assert root.findtext(f".//{p}ThisDevice/{p}SerialNumber") == "MFP775500001"
    host = root.find(f".//{p}Relationship/{p}Host")
    assert host is not None and host.findtext(f"{p}Types") == "wsdp:Device wprt:PrintDeviceType"


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
    b"<lolz>&lol2;</lolz>"
)
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'


@pytest.mark.parametrize(
    "bad",
    [
        BILLION_LAUGHS,
        EXTERNAL,
        probe(V2005).replace(b"<s:Envelope", b"<!DOCTYPE s:Envelope []><s:Envelope", 1),
        b"<a>",
        b"",
        b"\x00\xff",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>',
        probe(V2005).replace(b"/Probe</a:Action>", b"/Resolve</a:Action>"),
    ],
)
def test_hostile_or_malformed(bad: bytes) -> None:
    with pytest.raises(wsd.WsdError):
        wsd.parse(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=800))
def test_fuzz_bytes(data: bytes) -> None:
    with contextlib.suppress(wsd.WsdError):
        wsd.parse(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.binary(max_size=40))
def test_fuzz_mutated_probe(position: int, noise: bytes) -> None:
    original = probe(V2009, "wsdp:Device", f' xmlns:wsdp="{DEVPROF}"')
    data = original[:position] + noise + original[position + len(noise) :]
    try:
        message = wsd.parse(data)
    except wsd.WsdError:
        return
    assert isinstance(message.kind, wsd.Kind)
