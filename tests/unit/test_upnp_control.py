"""Unit tests of UPnP control for PrintBasic:1 (UDA 1.1 section 3): the SOAPACTION header,
IPP reasons in PrintBasic's words, and the answer read back with the standard library."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mfpd.codecs import upnp_control as uc

SERVICE = "urn:schemas-upnp-org:service:PrintBasic:1"


def test_action_name() -> None:
    assert uc.action_name(f'"{SERVICE}#GetPrinterAttributes"') == "GetPrinterAttributes"
    assert uc.action_name(f"{SERVICE}#CreateJob") == "CreateJob"
    assert uc.action_name('"urn:schemas-upnp-org:service:AVTransport:1#Play"') is None
    assert uc.action_name("") is None and uc.action_name(f'"{SERVICE}#"') is None


def test_reasons_in_print_basic_words() -> None:
    ipp = [("toner-low", "warning"), ("media-jam", "error"), ("spool-area-full", "error"),
           ("marker-supply-low", "warning"), ("other", "report")]  # fmt: skip
    assert uc.print_basic_reasons(ipp) == ("marker-supply-low", "media-jam", "attention-required")
    assert uc.print_basic_reasons([]) == ()


def test_response_reads_back() -> None:
    values = uc.PrinterAttributes("stopped", ("media-jam",), (3, 4), 4)
    root = ET.fromstring(uc.get_printer_attributes_response(values))
    answer = root.find(f"{{{uc.SOAP11}}}Body/{{{SERVICE}}}GetPrinterAttributesResponse")
    assert answer is not None
    assert {child.tag: child.text for child in answer} == {
        "PrinterState": "stopped", "PrinterStateReasons": "media-jam",
        "JobIdList": "3,4", "JobId": "4",
    }  # fmt: skip
    idle = ET.fromstring(
        uc.get_printer_attributes_response(uc.PrinterAttributes("idle", (), (), 0))
    )
    assert (
        idle.findtext(f".//{{{SERVICE}}}GetPrinterAttributesResponse/PrinterStateReasons") == "none"
    )


def test_fault() -> None:
    root = ET.fromstring(uc.fault(401, "Invalid Action"))
    code = root.findtext(".//{urn:schemas-upnp-org:control-1-0}errorCode")
    assert code == "401"
