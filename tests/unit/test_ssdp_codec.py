"""Unit tests of the SSDP codec (UPnP Device Architecture 1.1 section 1) and the device
description it builds (section 2.3)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpd.codecs import ssdp

UUID = "9e4bb510-1c37-4067-b11f-624fdef110b8"
DEVICE = ssdp.Device(
    uuid=UUID,
    location="http://127.0.0.1:80/upnp/description.xml",
    server="Linux/3.10 UPnP/1.1 Xerox-WorkCentre-7755/061.090.221.36000",
    max_age=1800,
    boot_id=1700000000,
    config_id=1234,
)
# What nmap's upnp library sends (nselib/upnp.lua), byte for byte.
NMAP_SEARCH = (
    b"M-SEARCH * HTTP/1.1\r\nHost:239.255.255.250:1900\r\nST:upnp:rootdevice\r\n"
    b'Man:"ssdp:discover"\r\nMX:3\r\n\r\n'
)


def search(st_value: str, mx: str | None = "2", man: str = '"ssdp:discover"') -> bytes:
    mx_line = f"MX: {mx}\r\n" if mx is not None else ""
    return (
        f"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: {man}\r\n{mx_line}"
        f"ST: {st_value}\r\n\r\n"
    ).encode()


def headers(data: bytes) -> dict[str, str]:
    lines = data.decode().split("\r\n")
    return {k.upper(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}


def test_nmap_search() -> None:
    message = ssdp.parse(NMAP_SEARCH)
    assert message.kind is ssdp.Kind.SEARCH
    assert message.target == "upnp:rootdevice"
    assert message.mx == 3


def test_mx_capped_at_five() -> None:
    assert ssdp.parse(search("ssdp:all", "120")).mx == ssdp.MX_CAP
    assert ssdp.parse(search("ssdp:all", None)).mx is None


@pytest.mark.parametrize(
    "bad",
    [
        search("ssdp:all", man="ssdp:alive"),
        search("", mx="1"),
        search("ssdp:all", mx="-1"),
        search("ssdp:all", mx="three"),
        b"GET / HTTP/1.1\r\n\r\n",
        b"M-SEARCH * HTTP/1.1\r\nno colon here\r\n\r\n",
        b"\xff\xfe",
        b"",
    ],
)
def test_malformed(bad: bytes) -> None:
    with pytest.raises(ssdp.SsdpError):
        ssdp.parse(bad)


def test_notify_and_responses_are_recognised_not_answered() -> None:
    assert ssdp.parse(ssdp.alive(DEVICE, *DEVICE.targets()[0])).kind is ssdp.Kind.NOTIFY
    date = "Mon, 07 Dec 2026 19:00:00 GMT"
    assert ssdp.parse(ssdp.response(DEVICE, "ssdp:all", "x", date)).kind is ssdp.Kind.RESPONSE


def test_targets_and_matching() -> None:
    udn = f"uuid:{UUID}"
    assert DEVICE.targets() == [
        ("upnp:rootdevice", f"{udn}::upnp:rootdevice"),
        (udn, udn),
        (ssdp.DEVICE_TYPE, f"{udn}::{ssdp.DEVICE_TYPE}"),
        (ssdp.SERVICE_TYPE, f"{udn}::{ssdp.SERVICE_TYPE}"),
    ]
    assert DEVICE.matching("ssdp:all") == DEVICE.targets()
    assert DEVICE.matching(udn.upper().replace("UUID:", "uuid:")) == [(udn, udn)]
    assert DEVICE.matching("urn:schemas-upnp-org:device:Printer:1")[0][0] == ssdp.DEVICE_TYPE
    assert DEVICE.matching("urn:schemas-upnp-org:service:PrintBasic:1")[0][0] == ssdp.SERVICE_TYPE
    assert DEVICE.matching("urn:schemas-upnp-org:device:MediaRenderer:1") == []
    assert DEVICE.matching("uuid:00000000-0000-0000-0000-000000000000") == []


def test_response_headers() -> None:
    date = "Mon, 07 Dec 2026 19:00:00 GMT"
    data = ssdp.response(DEVICE, ssdp.ROOT_DEVICE, f"uuid:{UUID}::upnp:rootdevice", date)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n")
    h = headers(data)
    assert h == {
        "CACHE-CONTROL": "max-age=1800",
        "DATE": date,
        "EXT": "",
        "LOCATION": DEVICE.location,
        "SERVER": DEVICE.server,
        "ST": "upnp:rootdevice",
        "USN": f"uuid:{UUID}::upnp:rootdevice",
        "BOOTID.UPNP.ORG": "1700000000",
        "CONFIGID.UPNP.ORG": "1234",
    }


def test_byebye() -> None:
    h = headers(ssdp.byebye(DEVICE, *DEVICE.targets()[1]))
    assert h["NTS"] == "ssdp:byebye" and h["NT"] == f"uuid:{UUID}" and "LOCATION" not in h


def test_server_token_has_no_spaces_in_product() -> None:
    token = ssdp.server_token("Linux/3.10", "Xerox WorkCentre 7755", "061.090 beta")
    assert token == "Linux/3.10 UPnP/1.1 Xerox-WorkCentre-7755/061.090-beta"


def description(**changes: str) -> ssdp.Description:
    values = {
        "friendly_name": "Xerox WorkCentre 7755 (XRX-WC7755)",
        "manufacturer": "Xerox",
        "manufacturer_url": "http://www.xerox.com/",
        "model_description": "Xerox WorkCentre 7755 multifunction printer",
        "model_name": "WorkCentre 7755",
        "model_number": "7755",
        "serial_number": "MFP775500001",
        "uuid": UUID,
        "presentation_url": "http://127.0.0.1:80/",
        "scpd_url": "/upnp/PrintBasic.xml",
        "control_url": "/upnp/control/PrintBasic",
        "event_url": "/upnp/event/PrintBasic",
        **changes,
    }
    return ssdp.Description(**values)


def test_description_parses_and_says_the_identity() -> None:
    desc = description(friendly_name='R&D <printer> "A"')
    root = ET.fromstring(ssdp.description(desc))
    ns = {"d": "urn:schemas-upnp-org:device-1-0"}
    assert root.get("configId") == str(desc.config_id)
    device = root.find("d:device", ns)
    assert device is not None
    assert device.findtext("d:friendlyName", namespaces=ns) == 'R&D <printer> "A"'
    assert device.findtext("d:UDN", namespaces=ns) == f"uuid:{UUID}"
    assert device.findtext("d:deviceType", namespaces=ns) == ssdp.DEVICE_TYPE
    service = device.find("d:serviceList/d:service", ns)
    assert service is not None
    assert service.findtext("d:serviceType", namespaces=ns) == ssdp.SERVICE_TYPE
    assert device.findtext("d:presentationURL", namespaces=ns) == "http://127.0.0.1:80/"


def test_config_id_follows_the_description_not_the_host() -> None:
    base = description()
    assert 0 <= base.config_id < 2**24
    assert description(presentation_url="http://10.0.0.5:80/").config_id == base.config_id
    assert description(friendly_name="Other").config_id != base.config_id


def test_scpd_is_valid_xml() -> None:
    root = ET.fromstring(ssdp.scpd(7))
    ns = {"s": "urn:schemas-upnp-org:service-1-0"}
    variables = {
        v.findtext("s:name", namespaces=ns) for v in root.iterfind(".//s:stateVariable", ns)
    }
    related = {
        a.findtext("s:relatedStateVariable", namespaces=ns)
        for a in root.iterfind(".//s:argument", ns)
    }
    assert related <= variables and "PrinterState" in variables


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_bytes(data: bytes) -> None:
    try:
        message = ssdp.parse(data)
    except ssdp.SsdpError:
        return
    assert isinstance(message.kind, ssdp.Kind)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:", min_size=0, max_size=12),
            st.text(max_size=40),
        ),
        max_size=8,
    ),
    st.sampled_from(["M-SEARCH * HTTP/1.1", "NOTIFY * HTTP/1.1", "HTTP/1.1 200 OK", "X"]),
)
def test_fuzz_headers(fields: list[tuple[str, str]], start: str) -> None:
    data = (start + "\r\n" + "".join(f"{k}:{v}\r\n" for k, v in fields) + "\r\n").encode()
    try:
        message = ssdp.parse(data)
    except ssdp.SsdpError:
        return
    if message.kind is ssdp.Kind.SEARCH:
        assert message.target and (message.mx is None or 0 <= message.mx <= ssdp.MX_CAP)
