"""SSDP, the discovery part of UPnP Device Architecture 1.1 (section 1), sans-I/O.

HTTPU: HTTP/1.1 messages, one per UDP datagram, with no body. A control point multicasts
(or sends directly) an M-SEARCH; a device answers with one `HTTP/1.1 200 OK` per search
target it matches, and announces itself with NOTIFY ssdp:alive / ssdp:byebye. This module
parses M-SEARCH requests and builds the answers, announcements and the device description
document (section 2.3); it knows no sockets and no clock (the caller gives the date).
"""

from __future__ import annotations

import enum
import re
import zlib
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape

GROUP: Final = "239.255.255.250"
PORT: Final = 1900
# UDA 1.1 section 1.3.3: a device shall assume an MX above 5 to be 5.
MX_CAP: Final = 5
MAX_HEADERS: Final = 64

DEVICE_TYPE: Final = "urn:schemas-upnp-org:device:Printer:1"
SERVICE_TYPE: Final = "urn:schemas-upnp-org:service:PrintBasic:1"
SERVICE_ID: Final = "urn:upnp-org:serviceId:PrintBasic"
ROOT_DEVICE: Final = "upnp:rootdevice"
ALL: Final = "ssdp:all"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class SsdpError(ValueError):
    """A datagram that is no well-formed SSDP message: answered by silence (UDA 1.1 1.3.2)."""


class Kind(enum.Enum):
    SEARCH = "M-SEARCH"
    NOTIFY = "NOTIFY"  # another device's announcement (or our own, looped back): ignored
    RESPONSE = "RESPONSE"  # another device's answer to a search: ignored


@dataclass(frozen=True)
class Message:
    kind: Kind
    headers: dict[str, str]  # names in upper case; the last of a repeated name wins

    @property
    def target(self) -> str:
        return self.headers.get("ST", "")

    @property
    def mx(self) -> int | None:
        """The MX header as UDA 1.1 1.3.2 reads it: capped at 5; None when absent."""
        value = self.headers.get("MX")
        if value is None:
            return None
        return min(int(value), MX_CAP)


def parse(data: bytes) -> Message:
    """One SSDP datagram. Raises SsdpError for anything that is not HTTPU, or an M-SEARCH
    lacking what UDA 1.1 1.3.2 requires (MAN "ssdp:discover", ST; MX an integer)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SsdpError("not UTF-8") from exc
    # HTTPU has no body (UDA 1.1 1.1.2): the head ends at the blank line, or with the
    # datagram where a stack leaves the blank line out.
    head = text.replace("\r\n", "\n").split("\n\n", 1)[0].rstrip("\n")
    lines = head.split("\n")
    start = lines[0]
    if start.startswith("HTTP/1.") and " 200" in start:
        kind = Kind.RESPONSE
    elif start == "NOTIFY * HTTP/1.1":
        kind = Kind.NOTIFY
    elif start == "M-SEARCH * HTTP/1.1":
        kind = Kind.SEARCH
    else:
        raise SsdpError(f"not an SSDP request line: {start[:60]!r}")
    if len(lines) - 1 > MAX_HEADERS:
        raise SsdpError("too many headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise SsdpError(f"bad header line {line[:60]!r}")
        value = value.strip(" \t")
        if _CONTROL.search(value):
            raise SsdpError(f"control character in {name}")
        headers[name.upper()] = value
    message = Message(kind, headers)
    if kind is Kind.SEARCH:
        if headers.get("MAN", "").strip('"') != "ssdp:discover":
            raise SsdpError('M-SEARCH without MAN: "ssdp:discover"')
        if not headers.get("ST"):
            raise SsdpError("M-SEARCH without ST")
        mx = headers.get("MX")
        if mx is not None and not (mx.isascii() and mx.isdigit() and len(mx) <= 6):
            raise SsdpError(f"M-SEARCH with a bad MX {mx[:20]!r}")
    return message


@dataclass(frozen=True)
class Device:
    """What the device's advertisements say about it (all from the identity)."""

    uuid: str  # no "uuid:" prefix
    location: str  # the description's URL
    server: str  # "OS/version UPnP/1.1 product/version" (UDA 1.1 1.2.2)
    max_age: int
    boot_id: int  # BOOTID.UPNP.ORG: rises at every start
    config_id: int  # CONFIGID.UPNP.ORG: changes with the description

    def targets(self) -> list[tuple[str, str]]:
        """(NT or ST, USN) of everything a root device announces, UDA 1.1 1.2.2: three for
        the root device, one per service type."""
        udn = f"uuid:{self.uuid}"
        return [
            (ROOT_DEVICE, f"{udn}::{ROOT_DEVICE}"),
            (udn, udn),
            (DEVICE_TYPE, f"{udn}::{DEVICE_TYPE}"),
            (SERVICE_TYPE, f"{udn}::{SERVICE_TYPE}"),
        ]

    def matching(self, search_target: str) -> list[tuple[str, str]]:
        """The (ST, USN) pairs to answer an M-SEARCH's ST with (UDA 1.1 1.3.3): ssdp:all gets
        one per target; a UUID compares without regard to case; anything else, none."""
        every = self.targets()
        if search_target == ALL:
            return every
        if search_target.lower() == f"uuid:{self.uuid}".lower():
            return [every[1]]
        return [pair for pair in every if pair[0] == search_target]


def _ids(device: Device) -> str:
    return f"BOOTID.UPNP.ORG: {device.boot_id}\r\nCONFIGID.UPNP.ORG: {device.config_id}\r\n"


def response(device: Device, target: str, usn: str, date: str) -> bytes:
    """The answer to an M-SEARCH for one target (UDA 1.1 1.3.3). `date`: RFC 1123."""
    return (
        "HTTP/1.1 200 OK\r\n"
        f"CACHE-CONTROL: max-age={device.max_age}\r\n"
        f"DATE: {date}\r\n"
        "EXT:\r\n"
        f"LOCATION: {device.location}\r\n"
        f"SERVER: {device.server}\r\n"
        f"ST: {target}\r\n"
        f"USN: {usn}\r\n" + _ids(device) + "\r\n"
    ).encode()


def alive(device: Device, target: str, usn: str) -> bytes:
    """NOTIFY ssdp:alive (UDA 1.1 1.2.2)."""
    return (
        "NOTIFY * HTTP/1.1\r\n"
        f"HOST: {GROUP}:{PORT}\r\n"
        f"CACHE-CONTROL: max-age={device.max_age}\r\n"
        f"LOCATION: {device.location}\r\n"
        f"NT: {target}\r\n"
        "NTS: ssdp:alive\r\n"
        f"SERVER: {device.server}\r\n"
        f"USN: {usn}\r\n" + _ids(device) + "\r\n"
    ).encode()


def byebye(device: Device, target: str, usn: str) -> bytes:
    """NOTIFY ssdp:byebye (UDA 1.1 1.2.3)."""
    return (
        "NOTIFY * HTTP/1.1\r\n"
        f"HOST: {GROUP}:{PORT}\r\n"
        f"NT: {target}\r\n"
        "NTS: ssdp:byebye\r\n"
        f"USN: {usn}\r\n" + _ids(device) + "\r\n"
    ).encode()


def server_token(os_token: str, product: str, version: str) -> str:
    """UDA 1.1 1.2.2 SERVER: "OS/version UPnP/1.1 product/version"; a token holds no space
    or slash, so the product's are made hyphens."""

    def token(text: str) -> str:
        return re.sub(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]+", "-", text).strip("-") or "-"

    return f"{os_token} UPnP/1.1 {token(product)}/{token(version)}"


# -- the device description (UDA 1.1 section 2.3) and the service's SCPD (2.5) -------------


@dataclass(frozen=True)
class Description:
    friendly_name: str
    manufacturer: str
    manufacturer_url: str
    model_description: str
    model_name: str
    model_number: str
    serial_number: str
    uuid: str
    presentation_url: str
    scpd_url: str
    control_url: str
    event_url: str  # "" for a service without eventing

    @property
    def config_id(self) -> int:
        """CONFIGID.UPNP.ORG and the root's configId (UDA 1.1 1.2.2, 2.3): 0 to 2^24-1,
        changed whenever the description is. Taken from what the description says but for
        the presentation URL, whose host part is the one each client reached us by."""
        fields = (
            self.friendly_name, self.manufacturer, self.manufacturer_url,
            self.model_description, self.model_name, self.model_number, self.serial_number,
            self.uuid, self.scpd_url, self.control_url, self.event_url,
        )  # fmt: skip
        return zlib.crc32("\x00".join(fields).encode()) & 0xFFFFFF


def description(desc: Description) -> bytes:
    """The root device description. Element order as UDA 1.1 2.3 lists it: some readers
    (nmap's upnp library) read from deviceType up to UDN."""
    e = escape
    optional_url = (
        f"    <manufacturerURL>{e(desc.manufacturer_url)}</manufacturerURL>\n"
        if desc.manufacturer_url
        else ""
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<root xmlns="urn:schemas-upnp-org:device-1-0" configId="{desc.config_id}">\n'
        "  <specVersion><major>1</major><minor>1</minor></specVersion>\n"
        "  <device>\n"
        f"    <deviceType>{DEVICE_TYPE}</deviceType>\n"
        f"    <friendlyName>{e(desc.friendly_name)}</friendlyName>\n"
        f"    <manufacturer>{e(desc.manufacturer)}</manufacturer>\n"
        f"{optional_url}"
        f"    <modelDescription>{e(desc.model_description)}</modelDescription>\n"
        f"    <modelName>{e(desc.model_name)}</modelName>\n"
        f"    <modelNumber>{e(desc.model_number)}</modelNumber>\n"
        f"    <serialNumber>{e(desc.serial_number)}</serialNumber>\n"
        f"    <UDN>uuid:{e(desc.uuid)}</UDN>\n"
        "    <serviceList>\n"
        "      <service>\n"
        f"        <serviceType>{SERVICE_TYPE}</serviceType>\n"
        f"        <serviceId>{SERVICE_ID}</serviceId>\n"
        f"        <SCPDURL>{e(desc.scpd_url)}</SCPDURL>\n"
        f"        <controlURL>{e(desc.control_url)}</controlURL>\n"
        f"        <eventSubURL>{e(desc.event_url)}</eventSubURL>\n"
        "      </service>\n"
        "    </serviceList>\n"
        f"    <presentationURL>{e(desc.presentation_url)}</presentationURL>\n"
        "  </device>\n"
        "</root>\n"
    ).encode()


# PrintBasic:1's state variables and the one action a control point reads them with
# (UPnP PrintBasic:1 service template, sections 2.2 and 2.4.5), in SCPD form (UDA 1.1 2.5).
# None is evented: there is no GENA here, and UDA 1.1 2.3 wants a service without eventing
# to say so (sendEvents "no", an empty eventSubURL).
_STATE_VARIABLES = (
    ("no", "PrinterState", "string", ("idle", "processing", "stopped")),
    ("no", "PrinterStateReasons", "string", ()),
    ("no", "JobIdList", "string", ()),
    ("no", "JobId", "i4", ()),
)
_GET_PRINTER_ATTRIBUTES = (
    ("PrinterState", "PrinterState"),
    ("PrinterStateReasons", "PrinterStateReasons"),
    ("JobIdList", "JobIdList"),
    ("JobId", "JobId"),
)


def scpd(config_id: int) -> bytes:
    """A minimal, valid SCPD of PrintBasic:1: its state variables and GetPrinterAttributes."""
    arguments = "".join(
        "          <argument>\n"
        f"            <name>{name}</name>\n"
        "            <direction>out</direction>\n"
        f"            <relatedStateVariable>{variable}</relatedStateVariable>\n"
        "          </argument>\n"
        for name, variable in _GET_PRINTER_ATTRIBUTES
    )
    variables = ""
    for events, name, data_type, allowed in _STATE_VARIABLES:
        values = (
            "      <allowedValueList>"
            + "".join(f"<allowedValue>{v}</allowedValue>" for v in allowed)
            + "</allowedValueList>\n"
            if allowed
            else ""
        )
        variables += (
            f'    <stateVariable sendEvents="{events}">\n'
            f"      <name>{name}</name>\n"
            f"      <dataType>{data_type}</dataType>\n"
            f"{values}"
            "    </stateVariable>\n"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<scpd xmlns="urn:schemas-upnp-org:service-1-0" configId="{config_id}">\n'
        "  <specVersion><major>1</major><minor>1</minor></specVersion>\n"
        "  <actionList>\n"
        "    <action>\n"
        "      <name>GetPrinterAttributes</name>\n"
        f"      <argumentList>\n{arguments}      </argumentList>\n"
        "    </action>\n"
        "  </actionList>\n"
        f"  <serviceStateTable>\n{variables}  </serviceStateTable>\n"
        "</scpd>\n"
    ).encode()
