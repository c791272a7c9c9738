"""WS-Discovery and the DPWS metadata of a print device, sans-I/O.

Two WS-Discovery versions meet on UDP 3702: the April 2005 draft that Windows (WSDAPI) and
wsdd speak, with WS-Addressing 2004/08 and the devices profile of February 2006, and the OASIS
standard 1.1 (2009/01) with WS-Addressing 1.0 and DPWS 1.1. A request is answered in the
version it came in. Messages are SOAP 1.2 envelopes: parsed with defusedxml (no DTD at all:
SOAP 1.2 part 1 section 5 forbids one, and it is where entity bombs live), built from plain
templates with every value escaped.

What is parsed: Probe (Types, Scopes), Resolve (EndpointReference), and the WS-Transfer Get
(http://schemas.xmlsoap.org/ws/2004/09/transfer/Get) that a client sends to the XAddrs next.
What is built: Hello, Bye, ProbeMatches, ResolveMatches, GetResponse with the
WS-MetadataExchange sections ThisModel, ThisDevice and Relationship (DPWS section 5), and
SOAP faults.
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

GROUP: Final = "239.255.255.250"
PORT: Final = 3702
SOAP: Final = "http://www.w3.org/2003/05/soap-envelope"
PRINT: Final = "http://schemas.microsoft.com/windows/2006/08/wdp/print"
MEX: Final = "http://schemas.xmlsoap.org/ws/2004/09/mex"
TRANSFER: Final = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
GET: Final = f"{TRANSFER}/Get"
GET_RESPONSE: Final = f"{TRANSFER}/GetResponse"
# SOAP-over-UDP and WS-Discovery (both versions) keep a message in one datagram.
MAX_MESSAGE: Final = 65507
QName = tuple[str, str]  # (namespace, local name)


@dataclass(frozen=True)
class Namespaces:
    discovery: str
    addressing: str
    anonymous: str  # the reply address of a request/response over the same channel
    multicast_to: str  # wsa:To of a multicast message
    devprof: str  # the devices profile: wsdp:Device, ThisModel, ...


class Version(enum.Enum):
    """WS-Discovery April 2005 (WSDAPI) and WS-Discovery 1.1 (OASIS, July 2009)."""

    WSD_2005 = Namespaces(
        discovery="http://schemas.xmlsoap.org/ws/2005/04/discovery",
        addressing="http://schemas.xmlsoap.org/ws/2004/08/addressing",
        anonymous="http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
        multicast_to="urn:schemas-xmlsoap-org:ws:2005:04:discovery",
        devprof="http://schemas.xmlsoap.org/ws/2006/02/devprof",
    )
    WSD_2009 = Namespaces(
        discovery="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01",
        addressing="http://www.w3.org/2005/08/addressing",
        anonymous="http://www.w3.org/2005/08/addressing/anonymous",
        multicast_to="urn:docs-oasis-open-org:ws-dd:ns:discovery:2009:01",
        devprof="http://docs.oasis-open.org/ws-dd/ns/dpws/2009/01",
    )

    @property
    def ns(self) -> Namespaces:
        value: Namespaces = self.value
        return value


# The types a print device matches: wsdp:Device in either devices profile, and the WS-Print
# device type. Types an answer names: the version's wsdp:Device and wprt:PrintDeviceType.
DEVICE_TYPES: Final = frozenset(
    {(v.ns.devprof, "Device") for v in Version} | {(PRINT, "PrintDeviceType")}
)


class WsdError(ValueError):
    """Not a SOAP envelope this device can take: silence on UDP, a SOAP fault over HTTP."""


class Kind(enum.Enum):
    PROBE = "Probe"
    RESOLVE = "Resolve"
    GET = "Get"
    OTHER = "other"  # Hello, Bye, ProbeMatches of other devices: nothing to answer


@dataclass(frozen=True)
class Message:
    version: Version
    kind: Kind
    action: str
    message_id: str
    reply_to: str  # wsa:ReplyTo/wsa:Address, "" when absent
    to: str
    types: frozenset[QName] = frozenset()  # Probe
    scopes: tuple[str, ...] = ()  # Probe
    address: str = ""  # Resolve: the EndpointReference's address


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _resolve_qnames(text: str, scope: dict[str, str]) -> frozenset[QName]:
    names = set()
    for item in text.split():
        prefix, colon, local = item.rpartition(":")
        if not colon:
            prefix = ""
        if prefix not in scope:
            raise WsdError(f"undeclared prefix {prefix!r} in Types")
        names.add((scope[prefix], local))
    return frozenset(names)


class _ScopedTreeBuilder(ET.TreeBuilder):
    """A TreeBuilder that keeps each Types element's in-scope namespace declarations: Types
    is a list of QNames whose prefixes only the declarations around it resolve. (expat hands
    them over with start_ns before the element that makes them.)"""

    def __init__(self) -> None:
        super().__init__()
        self.scopes: list[dict[str, str]] = [{"xml": "http://www.w3.org/XML/1998/namespace"}]
        self.declared: dict[str, str] = {}
        self.qname_scope: dict[ET.Element, dict[str, str]] = {}

    def start_ns(self, prefix: str, uri: str) -> None:
        self.declared[prefix] = uri

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        scope = {**self.scopes[-1], **self.declared} if self.declared else self.scopes[-1]
        self.declared = {}
        self.scopes.append(scope)
        element = super().start(tag, attrs)
        if tag.endswith("}Types"):
            self.qname_scope[element] = scope
        return element

    def end(self, tag: str) -> ET.Element:
        self.scopes.pop()
        return super().end(tag)


def parse(data: bytes) -> Message:
    """One SOAP 1.2 envelope of WS-Discovery or WS-Transfer. Raises WsdError."""
    if len(data) > MAX_MESSAGE:
        raise WsdError("message too large")
    builder = _ScopedTreeBuilder()
    try:
        parser = DefusedXMLParser(target=builder, forbid_dtd=True)
        parser.feed(data)
        root: ET.Element | None = parser.close()
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise WsdError(f"not well-formed XML: {exc}") from exc
    qname_scope = builder.qname_scope
    if root is None or root.tag != f"{{{SOAP}}}Envelope":
        raise WsdError("not a SOAP 1.2 envelope")
    header = root.find(f"{{{SOAP}}}Header")
    body = root.find(f"{{{SOAP}}}Body")
    if header is None or body is None:
        raise WsdError("no SOAP Header or Body")
    version = addressing = None
    for candidate in Version:
        if header.find(f"{{{candidate.ns.addressing}}}Action") is not None:
            version, addressing = candidate, candidate.ns.addressing
            break
    if version is None or addressing is None:
        raise WsdError("no WS-Addressing Action")

    def text(parent: ET.Element, path: str) -> str:
        found = parent.find(path)
        return (found.text or "").strip() if found is not None else ""

    a = f"{{{addressing}}}"
    action = text(header, f"{a}Action")
    message_id = text(header, f"{a}MessageID")
    reply_to = text(header, f"{a}ReplyTo/{a}Address")
    to = text(header, f"{a}To")
    if action == GET:
        return Message(version, Kind.GET, action, message_id, reply_to, to)
    children = list(body)
    if not children:
        raise WsdError(f"empty Body for {action[:80]!r}")
    ns, local = _local(children[0].tag)
    for candidate in Version:
        if ns == candidate.ns.discovery:
            version = candidate
            break
    else:
        return Message(version, Kind.OTHER, action, message_id, reply_to, to)
    d = f"{{{version.ns.discovery}}}"
    if action != version.ns.discovery + "/" + local:
        raise WsdError(f"Action {action[:80]!r} does not name the body's {local}")
    if not message_id:
        raise WsdError(f"{local} without a MessageID")
    if local == "Probe":
        probe = children[0]
        types_element = probe.find(f"{d}Types")
        types: frozenset[QName] = frozenset()
        if types_element is not None and types_element.text:
            types = _resolve_qnames(types_element.text, qname_scope.get(types_element, {}))
        scopes_text = text(probe, f"{d}Scopes")
        return Message(
            version, Kind.PROBE, action, message_id, reply_to, to, types,
            tuple(scopes_text.split()),
        )  # fmt: skip
    if local == "Resolve":
        address = text(children[0], f"{a}EndpointReference/{a}Address")
        if not address:
            raise WsdError("Resolve without an EndpointReference address")
        return Message(version, Kind.RESOLVE, action, message_id, reply_to, to, address=address)
    return Message(version, Kind.OTHER, action, message_id, reply_to, to)


def probe_matches(message: Message) -> bool:
    """WS-Discovery (both versions) section 5.1: every type the Probe names must be one of
    ours (none named: any device matches); we are in no scope, so a Probe naming scopes
    matches nothing."""
    return message.types <= DEVICE_TYPES and not message.scopes


def resolve_matches(message: Message, endpoint: str) -> bool:
    """A Resolve for our endpoint (a urn:uuid: address, compared without regard to case)."""
    return message.address.strip().lower() == endpoint.lower()


# -- building ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """What WS-Discovery says of the device."""

    address: str  # urn:uuid:<device uuid>
    xaddrs: str  # where the metadata is got (space-separated URLs)
    metadata_version: int


@dataclass(frozen=True)
class Sequence:
    """AppSequence (WS-Discovery section 7): InstanceId rises at every start, MessageNumber
    with every message of an instance."""

    instance_id: int
    message_number: int


def _envelope(version: Version, header: str, body: str) -> bytes:
    ns = version.ns
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:wsa="{ns.addressing}" '
        f'xmlns:wsd="{ns.discovery}" xmlns:wsdp="{ns.devprof}" xmlns:wprt="{PRINT}">'
        f"<soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def _header(
    version: Version, action: str, message_id: str, to: str, relates_to: str, seq: Sequence
) -> str:
    relates = f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>" if relates_to else ""
    return (
        f"<wsa:To>{escape(to)}</wsa:To>"
        f"<wsa:Action>{version.ns.discovery}/{action}</wsa:Action>"
        f"<wsa:MessageID>{escape(message_id)}</wsa:MessageID>{relates}"
        f'<wsd:AppSequence InstanceId="{seq.instance_id}" '
        f'MessageNumber="{seq.message_number}"/>'
    )


def _epr(address: str) -> str:
    return (
        f"<wsa:EndpointReference><wsa:Address>{escape(address)}</wsa:Address>"
        "</wsa:EndpointReference>"
    )


TYPES_TEXT: Final = "wsdp:Device wprt:PrintDeviceType"


def _match(endpoint: Endpoint) -> str:
    return (
        _epr(endpoint.address)
        + f"<wsd:Types>{TYPES_TEXT}</wsd:Types>"
        # No XAddrs while no web listener runs: a client may Resolve later (section 5.3).
        + (f"<wsd:XAddrs>{escape(endpoint.xaddrs)}</wsd:XAddrs>" if endpoint.xaddrs else "")
        + f"<wsd:MetadataVersion>{endpoint.metadata_version}</wsd:MetadataVersion>"
    )


def _reply_to(request: Message) -> str:
    # WS-Addressing: a reply goes to the request's ReplyTo, else to the anonymous address.
    return request.reply_to or request.version.ns.anonymous


def probe_matches_message(
    request: Message, endpoint: Endpoint, message_id: str, seq: Sequence
) -> bytes:
    version = request.version
    header = _header(
        version, "ProbeMatches", message_id, _reply_to(request), request.message_id, seq
    )
    body = (
        f"<wsd:ProbeMatches><wsd:ProbeMatch>{_match(endpoint)}</wsd:ProbeMatch></wsd:ProbeMatches>"
    )
    return _envelope(version, header, body)


def resolve_matches_message(
    request: Message, endpoint: Endpoint, message_id: str, seq: Sequence
) -> bytes:
    version = request.version
    header = _header(
        version, "ResolveMatches", message_id, _reply_to(request), request.message_id, seq
    )
    body = (
        f"<wsd:ResolveMatches><wsd:ResolveMatch>{_match(endpoint)}</wsd:ResolveMatch>"
        "</wsd:ResolveMatches>"
    )
    return _envelope(version, header, body)


def hello(version: Version, endpoint: Endpoint, message_id: str, seq: Sequence) -> bytes:
    header = _header(version, "Hello", message_id, version.ns.multicast_to, "", seq)
    return _envelope(version, header, f"<wsd:Hello>{_match(endpoint)}</wsd:Hello>")


def bye(version: Version, endpoint: Endpoint, message_id: str, seq: Sequence) -> bytes:
    header = _header(version, "Bye", message_id, version.ns.multicast_to, "", seq)
    return _envelope(version, header, f"<wsd:Bye>{_epr(endpoint.address)}</wsd:Bye>")


# -- the metadata a WS-Transfer Get is answered with (DPWS section 5) ---------------------


@dataclass(frozen=True)
class Metadata:
    manufacturer: str
    manufacturer_url: str
    model_name: str
    model_number: str
    presentation_url: str
    friendly_name: str
    firmware_version: str
    serial_number: str
    device_address: str  # urn:uuid:<device uuid>
    print_service_address: str  # the hosted print service's URL
    print_service_id: str


def get_response(request: Message, metadata: Metadata, message_id: str) -> bytes:
    version = request.version
    ns = version.ns
    e = escape
    relates = ""
    if request.message_id:
        relates = f"<wsa:RelatesTo>{e(request.message_id)}</wsa:RelatesTo>"
    header = (
        f"<wsa:To>{e(_reply_to(request))}</wsa:To><wsa:Action>{GET_RESPONSE}</wsa:Action>"
        f"<wsa:MessageID>{e(message_id)}</wsa:MessageID>{relates}"
    )
    url = (
        f"<wsdp:ManufacturerUrl>{e(metadata.manufacturer_url)}</wsdp:ManufacturerUrl>"
        if metadata.manufacturer_url
        else ""
    )
    this_model = (
        f'<wsx:MetadataSection Dialect="{ns.devprof}/ThisModel"><wsdp:ThisModel>'
        f"<wsdp:Manufacturer>{e(metadata.manufacturer)}</wsdp:Manufacturer>{url}"
        f"<wsdp:ModelName>{e(metadata.model_name)}</wsdp:ModelName>"
        f"<wsdp:ModelNumber>{e(metadata.model_number)}</wsdp:ModelNumber>"
        f"<wsdp:PresentationUrl>{e(metadata.presentation_url)}</wsdp:PresentationUrl>"
        "</wsdp:ThisModel></wsx:MetadataSection>"
    )
    this_device = (
        f'<wsx:MetadataSection Dialect="{ns.devprof}/ThisDevice"><wsdp:ThisDevice>'
        f"<wsdp:FriendlyName>{e(metadata.friendly_name)}</wsdp:FriendlyName>"
        f"<wsdp:FirmwareVersion>{e(metadata.firmware_version)}</wsdp:FirmwareVersion>"
        f"<wsdp:SerialNumber>{e(metadata.serial_number)}</wsdp:SerialNumber>"
        "</wsdp:ThisDevice></wsx:MetadataSection>"
    )
    relationship = (
        f'<wsx:MetadataSection Dialect="{ns.devprof}/Relationship">'
        f'<wsdp:Relationship Type="{ns.devprof}/host">'
        f"<wsdp:Host>{_epr(metadata.device_address)}"
        f"<wsdp:Types>{TYPES_TEXT}</wsdp:Types>"
        f"<wsdp:ServiceId>{e(metadata.device_address)}</wsdp:ServiceId></wsdp:Host>"
        f"<wsdp:Hosted>{_epr(metadata.print_service_address)}"
        "<wsdp:Types>wprt:PrinterServiceType</wsdp:Types>"
        f"<wsdp:ServiceId>{e(metadata.print_service_id)}</wsdp:ServiceId></wsdp:Hosted>"
        "</wsdp:Relationship></wsx:MetadataSection>"
    )
    body = f'<wsx:Metadata xmlns:wsx="{MEX}">{this_model}{this_device}{relationship}</wsx:Metadata>'
    return _envelope(version, header, body)


def fault(version: Version | None, code: str, subcode: str, reason: str, message_id: str) -> bytes:
    """A SOAP 1.2 fault (part 1 section 5.4). code: Sender or Receiver; subcode ("" for
    none) a QName in the addressing namespace, such as wsa:ActionNotSupported."""
    version = version or Version.WSD_2005
    header = (
        f"<wsa:To>{version.ns.anonymous}</wsa:To>"
        f"<wsa:Action>{version.ns.addressing}/fault</wsa:Action>"
        f"<wsa:MessageID>{escape(message_id)}</wsa:MessageID>"
    )
    sub = f"<soap:Subcode><soap:Value>{escape(subcode)}</soap:Value></soap:Subcode>"
    body = (
        f"<soap:Fault><soap:Code><soap:Value>soap:{code}</soap:Value>"
        f"{sub if subcode else ''}</soap:Code>"
        f'<soap:Reason><soap:Text xml:lang="en">{escape(reason)}</soap:Text></soap:Reason>'
        "</soap:Fault>"
    )
    return _envelope(version, header, body)
