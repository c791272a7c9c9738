"""UPnP control (UDA 1.1 section 3): the SOAP 1.1 request of an action and its answer, for
the one action the PrintBasic:1 service offers here, GetPrinterAttributes, sans-I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape

from mfpd.codecs.ssdp import SERVICE_TYPE

SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
ENCODING: Final = "http://schemas.xmlsoap.org/soap/encoding/"
GET_PRINTER_ATTRIBUTES: Final = "GetPrinterAttributes"
# PrintBasic:1 section 2.2.2: the PrinterStateReasons a control point knows, and the IPP
# printer-state-reasons keywords (RFC 8011 5.4.12, PWG 5100.9) each stands for.
PRINT_BASIC_REASONS: Final = {
    "media-jam": "media-jam",
    "paused": "paused",
    "door-open": "door-open",
    "cover-open": "door-open",
    "media-low": "media-low",
    "media-empty": "media-empty",
    "media-needed": "media-empty",
    "output-area-almost-full": "output-area-almost-full",
    "output-area-full": "output-area-full",
    "toner-low": "marker-supply-low",
    "marker-supply-low": "marker-supply-low",
    "toner-empty": "marker-supply-empty",
    "marker-supply-empty": "marker-supply-empty",
    "marker-waste-almost-full": "marker-supply-low",
    "marker-waste-full": "marker-failure",
    "media-change-request": "media-change-request",
}


def action_name(soapaction: str) -> str | None:
    """The action a SOAPACTION header names (UDA 1.1 3.2.1: `"urn:...:PrintBasic:1#Name"`),
    or None when it is not one of this service's."""
    value = soapaction.strip().strip('"')
    service, hash_sign, name = value.partition("#")
    if not hash_sign or service != SERVICE_TYPE or not name:
        return None
    return name


@dataclass(frozen=True)
class PrinterAttributes:
    state: str  # idle, processing, stopped
    reasons: tuple[str, ...]  # PrintBasic keywords; empty: "none"
    job_ids: tuple[int, ...]  # the jobs not yet done
    job_id: int  # the latest of them, 0 when there is none


def print_basic_reasons(ipp_keywords: list[tuple[str, str]]) -> tuple[str, ...]:
    """PrintBasic reasons from IPP (keyword, severity) pairs; an error PrintBasic has no
    word for is `attention-required`."""
    found: list[str] = []
    for keyword, severity in ipp_keywords:
        reason = PRINT_BASIC_REASONS.get(keyword)
        if reason is None and severity == "error":
            reason = "attention-required"
        if reason is not None and reason not in found:
            found.append(reason)
    return tuple(found)


def get_printer_attributes_response(values: PrinterAttributes) -> bytes:
    reasons = ",".join(values.reasons) or "none"
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP11}" s:encodingStyle="{ENCODING}"><s:Body>'
        f'<u:{GET_PRINTER_ATTRIBUTES}Response xmlns:u="{SERVICE_TYPE}">'
        f"<PrinterState>{escape(values.state)}</PrinterState>"
        f"<PrinterStateReasons>{escape(reasons)}</PrinterStateReasons>"
        f"<JobIdList>{','.join(str(i) for i in values.job_ids)}</JobIdList>"
        f"<JobId>{values.job_id}</JobId>"
        f"</u:{GET_PRINTER_ATTRIBUTES}Response></s:Body></s:Envelope>"
    ).encode()


def fault(code: int, description: str) -> bytes:
    """UDA 1.1 3.2.2: a SOAP 1.1 Client fault carrying the UPnPError (sent with HTTP 500)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP11}" s:encodingStyle="{ENCODING}"><s:Body><s:Fault>'
        "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
        f'<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>{code}</errorCode>'
        f"<errorDescription>{escape(description)}</errorDescription></UPnPError>"
        "</detail></s:Fault></s:Body></s:Envelope>"
    ).encode()
