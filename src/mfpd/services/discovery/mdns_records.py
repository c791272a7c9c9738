"""What mDNS/DNS-SD advertises: the service instances and their TXT records, as pure values.

Every TXT value is read from the IPP printer attributes the device answers Get-Printer-
Attributes with (the self-certification rule of PWG 5100.14, IPP Everywhere, and of the Bonjour
Printing Specification 1.2.1: what a browser sees before connecting must be what
IPP then says), so the two cannot disagree. The service (mdns.py) turns these values into
python-zeroconf records; nothing here knows sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mfpd.codecs.escl import VERSION as ESCL_VERSION
from mfpd.codecs.ipp.values import Attribute, Range
from mfpd.device.scan_settings import FORMATS
from mfpd.services.ipp.printer_attributes import ICON_PATH

# RFC 6763 6.1: each key=value string is at most 255 octets (one length byte).
TXT_STRING_MAX = 255
# RFC 6763 4.1.1 / RFC 1035 2.3.4: an instance name is one DNS label of at most 63 octets.
LABEL_MAX = 63
# Bonjour Printing 1.2.1, the priority key: lower is preferred; IPPS, IPP, LPD, then raw.
PRIORITY = {
    "_ipps._tcp": "0",
    "_ipp._tcp": "10",
    "_printer._tcp": "30",
    "_pdl-datastream._tcp": "40",
}
# Bonjour Printing 1.2.1, the PaperMax key: the largest medium, by the PWG names it covers.
_PAPER_MAX = (
    ("isoC-A2", ("iso_a2", "iso_c2")),
    ("tabloid-A3", ("iso_a3", "na_ledger", "tabloid")),
    ("legal-A4", ("iso_a4", "na_legal", "na_letter")),
)

Attributes = Mapping[str, Attribute]


@dataclass(frozen=True)
class Advert:
    """One DNS-SD service instance: `service` ("_ipp._tcp"), its subtypes ("_print"), the
    port its listener is on now, and its TXT record (insertion order kept: txtvers first,
    as RFC 6763 6.7 asks)."""

    service: str
    subtypes: tuple[str, ...]
    port: int
    txt: dict[str, str]


def instance_name(base: str, attempt: int) -> str:
    """The instance name for the `attempt`-th try (1: `base` itself): "XRX-WC7755 (2)", the
    rename RFC 6762 section 9 asks for after a conflict, in the form RFC 6763 appendix D
    and Bonjour use; cut so the whole label stays within 63 octets (UTF-8)."""
    suffix = "" if attempt <= 1 else f" ({attempt})"
    room = LABEL_MAX - len(suffix.encode())
    cut = base.encode()[:room].decode("utf-8", errors="ignore").rstrip() or "Printer"
    return cut + suffix


def _values(attrs: Attributes, name: str) -> tuple[object, ...]:
    attribute = attrs.get(name)
    return attribute.values if attribute is not None else ()


def _text(attrs: Attributes, name: str) -> str:
    values = _values(attrs, name)
    return str(values[0]) if values else ""


def device_id_fields(device_id: str) -> dict[str, str]:
    """IEEE 1284 device ID "MFG:Xerox;MDL:WorkCentre 7755;..." as {"MFG": "Xerox", ...}."""
    fields = {}
    for part in device_id.split(";"):
        key, sep, value = part.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def joined_within(values: Sequence[str], key: str) -> str:
    """Values joined with commas, whole values only, as many as fit in one TXT string
    (Bonjour Printing 1.2.1 on pdl: the most important first; ours are in that order)."""
    room = TXT_STRING_MAX - len(key.encode()) - 1
    kept: list[str] = []
    for value in values:
        if len(",".join([*kept, value]).encode()) > room:
            break
        kept.append(value)
    return ",".join(kept)


def _flag(value: bool) -> str:
    return "T" if value else "F"


def printer_txt(attrs: Attributes, *, adminurl: str, scan: bool = False) -> dict[str, str]:
    """The TXT keys every printing service shares (Bonjour Printing 1.2.1 and PWG
    5100.14 list), each from the IPP attribute named beside it."""
    device_id = device_id_fields(_text(attrs, "printer-device-id"))
    sides = [str(v) for v in _values(attrs, "sides-supported")]
    finishings = {int(str(v)) for v in _values(attrs, "finishings-supported")}
    copies = _values(attrs, "copies-supported")
    media = [str(v) for v in _values(attrs, "media-supported")]
    txt = {
        "txtvers": "1",
        "qtotal": "1",
        "ty": _text(attrs, "printer-make-and-model"),
        "product": f"({device_id.get('MDL', '')})",  # the PostScript product string form
        "note": _text(attrs, "printer-location"),
        "adminurl": adminurl,  # = printer-more-info at the advertised host
        "pdl": joined_within([str(v) for v in _values(attrs, "document-format-supported")], "pdl"),
        "kind": ",".join(str(v) for v in _values(attrs, "printer-kind")),
        "UUID": _text(attrs, "printer-uuid").removeprefix("urn:uuid:"),
        "URF": ",".join(str(v) for v in _values(attrs, "urf-supported")) or "none",
        "Color": _flag(bool(_values(attrs, "color-supported")[:1] == (True,))),
        "Duplex": _flag(any(s.startswith("two-sided") for s in sides)),
        "Copies": _flag(bool(copies) and _range_upper(copies[0]) > 1),
        "Staple": _flag(4 in finishings),  # RFC 8011 5.2.6: staple
        "Punch": _flag(5 in finishings),  # punch
        "PaperMax": _paper_max(media),
        "usb_MFG": device_id.get("MFG", ""),
        "usb_MDL": device_id.get("MDL", ""),
        "usb_CMD": device_id.get("CMD", ""),
        "printer-state": _text(attrs, "printer-state"),
        # Bonjour Printing 1.2.1: Scan=T when the device also scans (eSCL, _uscan); no fax
        # unit behind IPP yet (no IPP FaxOut).
        "Scan": _flag(scan),
        "Fax": "F",
    }
    return txt


def _range_upper(value: object) -> int:
    if isinstance(value, Range):
        return value.high
    return value if isinstance(value, int) else 1


def _paper_max(media: Sequence[str]) -> str:
    for label, prefixes in _PAPER_MAX:
        if any(m.startswith(prefixes) for m in media):
            return label
    return "<legal-A4"


def scanner_txt(attrs: Attributes, *, adminurl: str, representation: str) -> dict[str, str]:
    """The TXT of _uscan._tcp and _uscans._tcp (Mopria eSCL, its DNS-SD section; the keys
    AirScan clients read): the same make, model, place and UUID as the printer's record and
    as eSCL ScannerCapabilities (device/scan_settings.py is the one list of what it does).
    mopria-certified-scan is not claimed: the device is not certified."""
    return {
        "txtvers": "1",
        "vers": ESCL_VERSION,
        "rs": "eSCL",  # the resource path: http://host:port/eSCL
        "ty": _text(attrs, "printer-make-and-model"),
        "note": _text(attrs, "printer-location"),
        "pdl": joined_within(list(FORMATS), "pdl"),
        "cs": "color,grayscale,binary",
        "is": "platen,adf",
        "duplex": "T",
        "UUID": _text(attrs, "printer-uuid").removeprefix("urn:uuid:"),
        "adminurl": adminurl,
        "representation": representation,
    }


def adverts(
    attrs: Attributes,
    live_port: Callable[[str], int | None],
    *,
    host: str,
    lpd_queue: str | None,
    tls_version: str,
    scan: bool = False,
) -> list[Advert]:
    """The service instances to advertise now: each only while its listener is up (the live
    port table), on the port it is on. `host` is the advertised host name ("XRX-WC7755.local").
    The printing services share one TXT record but for rp, priority and TLS (Bonjour Printing).
    `scan`: the scanner is on, so eSCL is advertised (_uscan on http, _uscans on https)."""
    ipp_port = live_port("ipp")
    web_port = live_port("http")
    admin_port = ipp_port if ipp_port is not None else web_port
    adminurl = f"http://{host}:{admin_port}/" if admin_port is not None else ""
    shared = printer_txt(attrs, adminurl=adminurl, scan=scan)
    path = _resource_path(attrs)

    def txt(service: str, rp: str | None, tls: str | None = None) -> dict[str, str]:
        record = dict(shared)
        if rp is not None:
            record = {"txtvers": "1", "qtotal": "1", "rp": rp, **record}
        record["priority"] = PRIORITY[service]
        if tls is not None:
            record["TLS"] = tls
        return record

    found = []
    if ipp_port is not None:
        found.append(
            Advert("_ipp._tcp", ("_print", "_universal"), ipp_port, txt("_ipp._tcp", path))
        )
    if (port := live_port("https")) is not None:
        found.append(
            Advert(
                "_ipps._tcp", ("_print", "_universal"), port,
                txt("_ipps._tcp", path, tls_version),
            )
        )  # fmt: skip
    if (port := live_port("lpd")) is not None and lpd_queue:
        found.append(Advert("_printer._tcp", (), port, txt("_printer._tcp", lpd_queue)))
    if (port := live_port("raw")) is not None:
        found.append(Advert("_pdl-datastream._tcp", (), port, txt("_pdl-datastream._tcp", None)))
    if web_port is not None:
        # Bonjour Printing 1.2.1: the web page, with the _printer subtype so a browser's
        # printer list finds it; path names the page (the DNS-SD convention for _http).
        found.append(Advert("_http._tcp", ("_printer",), web_port, {"txtvers": "1", "path": "/"}))
    if scan:
        for service, scheme, port in (
            ("_uscan._tcp", "http", web_port),
            ("_uscans._tcp", "https", live_port("https")),
        ):
            if port is not None:
                icon = f"{scheme}://{host}:{port}{ICON_PATH}"
                found.append(
                    Advert(
                        service,
                        (),
                        port,
                        scanner_txt(attrs, adminurl=adminurl, representation=icon),
                    )
                )
    return found


def _resource_path(attrs: Attributes) -> str:
    """rp: the path of printer-uri-supported without its leading slash ("ipp/print")."""
    uri = _text(attrs, "printer-uri-supported")
    after_scheme = uri.partition("://")[2]
    path = after_scheme.partition("/")[2]
    return path or "ipp/print"
