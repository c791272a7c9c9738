"""The SLP service agent (RFC 2608) on UDP 427: unicast and the group 239.255.255.253.

It answers SrvRqst for the printer's URLs (service:printer:ipp, :lpr, :raw-tcp, each only
while its listener is up, and the abstract service:printer for all of them) and for
service:service-agent (SAAdvert, 8.6), AttrRqst with the RFC 3712 printer template attributes
taken from IPP's own Get-Printer-Attributes values, and SrvTypeRqst, in the scope DEFAULT.

It is no directory agent and takes no registrations: SrvReg and SrvDeReg are what made SLP
an amplifier (CVE-2023-29552: register a big service, then query it from a spoofed source).
Here they are answered with a short SrvAck MSG_NOT_SUPPORTED when unicast and ignored when
multicast. Every reply is cut at the configured MTU (OVERFLOW set, RFC 2608 7) and charged
to the reply budget, so a spoofed flood gets out no more than it sent.

Choices: a request is answered in English whatever its language tag, the tag echoed (an
agent could answer LANGUAGE_NOT_SUPPORTED, RFC 2608 7, and a client asking "en-US" or "de"
would then find no printer). A predicate the codec cannot read (extensible matches, for
one) gets PARSE_ERROR unicast and silence multicast; `~=` is taken as equality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mfpd.codecs import slp
from mfpd.codecs.ipp.values import (
    Attribute,
    NameWithLanguage,
    Range,
    Resolution,
    TextWithLanguage,
)
from mfpd.config import SlpConfig
from mfpd.services.base import ServiceContext
from mfpd.services.discovery.responder import DatagramResponder, Peer
from mfpd.services.ipp.printer_attributes import PrinterAttributes, printer_uris

GROUP = "239.255.255.253"  # RFC 2608 6.1: SVRLOC
SCOPE = "DEFAULT"  # RFC 2608 11: the scope of an unconfigured agent
SA_TYPE = "service:service-agent"
PRINTER = "service:printer"  # the abstract type (RFC 2609 2.1, the IANA printer template)
# Seconds a URL stays valid in a user agent's cache (RFC 2608 4.3): three hours, what an
# agent that re-registers on its own schedule would give.
LIFETIME = 10800

# RFC 3712 / IANA service:printer template: the attribute names and the IPP attribute each
# takes its values from (the same name but for printer-uri, the IPP URI a client prints to).
TEMPLATE = (
    "printer-uri-supported",
    "uri-authentication-supported",
    "uri-security-supported",
    "printer-name",
    "printer-location",
    "printer-info",
    "printer-more-info",
    "printer-make-and-model",
    "printer-device-id",
    "printer-uuid",
    "ipp-versions-supported",
    "charset-supported",
    "natural-language-configured",
    "color-supported",
    "finishings-supported",
    "sides-supported",
    "print-quality-supported",
    "copies-supported",
    "document-format-supported",
    "multiple-document-jobs-supported",
    "pages-per-minute",
    "pages-per-minute-color",
    "media-supported",
    "printer-resolution-supported",
)
# The template writes IPP enums as their keywords (RFC 8011 5.2.6, 5.2.13).
ENUM_KEYWORDS = {
    "finishings-supported": {3: "none", 4: "staple", 5: "punch", 6: "cover", 7: "bind"},
    "print-quality-supported": {3: "draft", 4: "normal", 5: "high"},
}


def _slp_values(attribute: Attribute) -> list[slp.Value]:
    """An IPP attribute's values as SLP attribute values (section 5: strings, integers,
    booleans); resolutions as the template writes them, ranges as their upper bound."""
    keywords = ENUM_KEYWORDS.get(attribute.name)
    values: list[slp.Value] = []
    for value in attribute.values:
        if isinstance(value, TextWithLanguage | NameWithLanguage):
            values.append(value.text)
        elif isinstance(value, bool | str):
            values.append(value)
        elif isinstance(value, int):
            values.append(keywords.get(value, str(value)) if keywords else value)
        elif isinstance(value, Range):  # copies-supported: the template's maximum
            values.append(value.high)
        elif isinstance(value, Resolution):
            values.append(f"{value.x}x{value.y}dpi")
    return values


class SlpService(DatagramResponder):
    name = "slp"
    group = GROUP

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        assert isinstance(self.config, SlpConfig)
        self.mtu = self.config.mtu
        self._ipp = PrinterAttributes(ctx.config.ipp)
        self.registrations_refused = 0

    # -- what the agent offers -----------------------------------------------------------

    def _host(self) -> str:
        address = self.address
        if address in ("0.0.0.0", "::", ""):
            first = next((i.ipv4 for i in self.joined if i.ipv4), "")
            return first or self.ctx.device.identity.hostname
        return f"[{address}]" if ":" in address else address

    def _live_port(self, service: str) -> int | None:
        return self.ctx.web.live_port(service) if self.ctx.web is not None else None

    def urls(self) -> list[tuple[str, str]]:
        """(concrete service type, URL) for each print listener that is up now."""
        host = self._host()
        found = []
        if (port := self._live_port("ipp")) is not None:
            found.append((f"{PRINTER}:ipp", f"{PRINTER}:ipp://{host}:{port}/ipp/print"))
        queues = self.ctx.config.services.lpd.queues
        if (port := self._live_port("lpd")) is not None and queues:
            found.append((f"{PRINTER}:lpr", f"{PRINTER}:lpr://{host}:{port}/{queues[0]}"))
        if (port := self._live_port("raw")) is not None:
            found.append((f"{PRINTER}:raw-tcp", f"{PRINTER}:raw-tcp://{host}:{port}"))
        return found

    def attributes(self) -> dict[str, list[slp.Value]]:
        """The template's attributes with IPP's values, as IPP would answer on its port."""
        port = self._live_port("ipp")
        host = self._host()
        # The ipp listener speaks TLS on the same port (first byte decides): IPP lists both.
        uris = printer_uris(f"{host}:{port or 631}", secure=False, tls=True)
        ipp = {a.name: a for a in self._ipp(self.ctx.device, self.ctx.spool, uris)}
        found: dict[str, list[slp.Value]] = {}
        for name in TEMPLATE:
            if name.startswith(("printer-uri", "uri-")) and port is None:
                continue
            attribute = ipp.get(name)
            if attribute is not None and (values := _slp_values(attribute)):
                found[name] = values
        return found

    # -- requests ------------------------------------------------------------------------

    def datagram(self, data: bytes, peer: Peer, multicast: bool) -> None:
        try:
            request = slp.parse(data)
        except slp.SlpError as exc:
            self.reject(peer, f"{exc}")
            header = exc.header
            # Never an error for a reply (no loops between agents), nor for multicast.
            if (
                header is not None
                and header.function in slp.REPLY_TO
                and not (multicast or header.multicast)
            ):
                self.reply(slp.error_reply(header, exc.code), peer, len(data))
            return
        # RFC 2608 6.1 / 7: a request sent by multicast (or flagged so) gets no error reply
        # and no empty one.
        quiet = multicast or request.header.multicast
        if isinstance(request, slp.Refused):
            self._refused(request, peer, quiet, len(data))
            return
        if self._responded(request.responders):
            return  # RFC 2608 8.1: we are on the previous-responder list
        if not any(scope.upper() == SCOPE for scope in request.scopes):
            if not quiet:
                error = slp.ErrorCode.SCOPE_NOT_SUPPORTED
                self.reply(slp.error_reply(request.header, error), peer, len(data))
            return
        answer: bytes | None
        try:
            if isinstance(request, slp.SrvRqst):
                answer = self._services(request, quiet)
            elif isinstance(request, slp.AttrRqst):
                answer = self._attributes(request, quiet)
            else:
                answer = self._types(request, quiet)
        except slp.PredicateError as exc:
            self.reject(peer, f"predicate {request_predicate(request)!r}: {exc}")
            if not quiet:
                self.reply(slp.error_reply(request.header, slp.ErrorCode.PARSE_ERROR), peer,
                           len(data))  # fmt: skip
            return
        if answer is not None:
            self.reply(answer, peer, len(data))

    def _refused(self, request: slp.Refused, peer: Peer, quiet: bool, size: int) -> None:
        function = request.header.function
        if function not in (slp.Function.SRV_REG, slp.Function.SRV_DEREG):
            return  # replies and adverts of other agents: nothing to answer
        self.registrations_refused += 1
        self.reject(peer, f"{slp.Function(function).name} refused: this agent takes none")
        if not quiet:
            # RFC 2608 7: MSG_NOT_SUPPORTED, "the SLP message is not supported by the
            # receiving agent"; an SA need not accept registrations (only DAs do, 9.3).
            ack = slp.error_reply(request.header, slp.ErrorCode.MSG_NOT_SUPPORTED)
            if len(ack) <= size:
                self.reply(ack, peer, size)

    def _responded(self, responders: Sequence[str]) -> bool:
        ours = {self.address, *(i.ipv4 for i in self.joined)}
        return any(address in ours for address in responders)

    def _services(self, request: slp.SrvRqst, quiet: bool) -> bytes | None:
        wanted = request.service_type.lower().removesuffix("://")
        if wanted == SA_TYPE:
            # RFC 2608 8.6: a user agent looking for SAs gets our SAAdvert.
            if not slp.predicate_matches(request.predicate, {}):
                return None
            url = f"{SA_TYPE}://{self._host()}"
            return slp.encode_sa_advert(request.header, url, [SCOPE], "")
        entries = [
            slp.UrlEntry(url, LIFETIME)
            for kind, url in self.urls()
            if wanted in (kind, PRINTER)
        ]  # fmt: skip
        if (
            entries
            and request.predicate.strip()
            and not slp.predicate_matches(request.predicate, self.attributes())
        ):
            entries = []
        if not entries and quiet:
            return None
        return slp.encode_srv_rply(request.header, entries, self.mtu)

    def _attributes(self, request: slp.AttrRqst, quiet: bool) -> bytes | None:
        asked = request.url.lower()
        urls = self.urls()
        # RFC 2608 10.3: a URL, or a service type standing for all its services.
        known = any(
            asked in (url.lower(), kind, PRINTER) or asked.removesuffix("://") in (kind, PRINTER)
            for kind, url in urls
        )
        if not known:
            return None if quiet else slp.encode_attr_rply(request.header, [], self.mtu)
        chosen = _select(self.attributes(), request.tags)
        encoded = [slp.encode_attribute(name, values) for name, values in chosen.items()]
        return slp.encode_attr_rply(request.header, encoded, self.mtu)

    def _types(self, request: slp.SrvTypeRqst, quiet: bool) -> bytes | None:
        # RFC 2608 10.1: "" is the IANA naming authority, ours; None asks for all.
        if request.naming_authority not in (None, ""):
            return None if quiet else slp.encode_srv_type_rply(request.header, [], self.mtu)
        types = [kind for kind, _ in self.urls()]
        if not types and quiet:
            return None
        return slp.encode_srv_type_rply(request.header, types, self.mtu)


def _select(
    attributes: Mapping[str, list[slp.Value]], tags: Sequence[str]
) -> dict[str, list[slp.Value]]:
    """RFC 2608 10.3: the attributes the tag list names (all when it is empty)."""
    if not tags:
        return dict(attributes)
    return {
        name: values
        for name, values in attributes.items()
        if any(slp.tag_matches(tag, name) for tag in tags)
    }


def request_predicate(request: slp.SrvRqst | slp.AttrRqst | slp.SrvTypeRqst) -> str:
    return request.predicate if isinstance(request, slp.SrvRqst) else ""
