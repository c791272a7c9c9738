"""The DNS-SD TXT records and service instances (services/discovery/mdns_records.py): every
value read from the IPP printer attributes, each instance only while its listener is up."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from mfpd.codecs.ipp.values import Attribute
from mfpd.config import parse_config
from mfpd.device.machine import Device, build_device
from mfpd.device.spool import Spool
from mfpd.services.discovery.mdns_records import (
    TXT_STRING_MAX,
    adverts,
    instance_name,
    joined_within,
    printer_txt,
)
from mfpd.services.ipp import build as b
from mfpd.services.ipp.printer_attributes import PrinterAttributes, printer_uris

HOST = "XRX-WC7755.local"


def attributes(device: Device) -> dict[str, Attribute]:
    uris = printer_uris(f"{HOST}:631", secure=False, tls=True)
    return {a.name: a for a in PrinterAttributes()(device, cast(Spool, _Queue()), uris)}


class _Queue:
    """What the printer attributes read of the spool (queued-job-count)."""

    active_count = 0


def device(text: str = "") -> Device:
    return build_device(parse_config(text))


def ports(**live: int) -> Callable[[str], int | None]:
    return live.get


def test_every_txt_value_is_the_ipp_attribute() -> None:
    dev = device('[identity]\nlocation = "Room 101, 1st floor"\n')
    attrs = attributes(dev)
    txt = printer_txt(attrs, adminurl=f"http://{HOST}:631/")
    assert txt["txtvers"] == "1" and txt["qtotal"] == "1"
    assert txt["ty"] == attrs["printer-make-and-model"].value == "Xerox WorkCentre 7755"
    assert txt["note"] == attrs["printer-location"].value == "Room 101, 1st floor"
    assert txt["UUID"] == str(attrs["printer-uuid"].value).removeprefix("urn:uuid:")
    assert txt["UUID"] == dev.identity.uuid
    assert txt["pdl"].split(",") == list(attrs["document-format-supported"].values)
    assert txt["URF"].split(",") == list(attrs["urf-supported"].values)
    assert txt["kind"] == "document"
    assert txt["Color"] == "T" and attrs["color-supported"].value is True
    assert txt["Duplex"] == "T" and "two-sided-long-edge" in attrs["sides-supported"].values
    assert txt["usb_MFG"] == "Xerox" and txt["usb_MDL"] == "WorkCentre 7755"
    assert f"MFG:{txt['usb_MFG']};MDL:{txt['usb_MDL']};" in str(attrs["printer-device-id"].value)
    assert txt["product"] == "(WorkCentre 7755)"
    assert txt["printer-state"] == str(attrs["printer-state"].value) == "3"
    assert txt["adminurl"] == attrs["printer-more-info"].value
    assert txt["Scan"] == "F" and txt["Fax"] == "F"
    assert "mopria-certified" not in txt  # never claimed without the certificate
    assert next(iter(txt)) == "txtvers"  # RFC 6763 6.7: the version key first


def test_txt_follows_the_device() -> None:
    dev = device()
    before = printer_txt(attributes(dev), adminurl="")
    dev.update_identity(location="Lobby")
    dev.set_paused(True)
    after = printer_txt(attributes(dev), adminurl="")
    assert before["note"] == "" and after["note"] == "Lobby"
    assert after["printer-state"] == "5"  # stopped


def test_a_long_pdl_is_cut_at_a_whole_value() -> None:
    formats = [f"application/vnd.example-format-{n:03d}" for n in range(20)]
    attrs = {"document-format-supported": b.mime("document-format-supported", *formats)}
    pdl = printer_txt(attrs, adminurl="")["pdl"]
    assert len(f"pdl={pdl}".encode()) <= TXT_STRING_MAX
    kept = pdl.split(",")
    assert kept == formats[: len(kept)] and 0 < len(kept) < len(formats)
    assert joined_within(["a" * 300], "pdl") == ""


def test_instance_name_rename_and_label_length() -> None:
    assert instance_name("XRX-WC7755", 1) == "XRX-WC7755"
    assert instance_name("XRX-WC7755", 2) == "XRX-WC7755 (2)"
    long = "É" * 40  # 80 octets in UTF-8
    for attempt in (1, 2, 10):
        name = instance_name(long, attempt)
        assert len(name.encode()) <= 63
        name.encode().decode()  # not cut inside a character
    assert instance_name(long, 3).endswith(" (3)")


def test_adverts_follow_the_live_port_table() -> None:
    attrs = attributes(device())
    every = adverts(
        attrs, ports(ipp=631, https=443, lpd=515, raw=9100, http=80),
        host=HOST, lpd_queue="lp", tls_version="1.3",
    )  # fmt: skip
    found = {a.service: a for a in every}
    assert list(found) == [
        "_ipp._tcp", "_ipps._tcp", "_printer._tcp", "_pdl-datastream._tcp", "_http._tcp",
    ]  # fmt: skip
    assert found["_ipp._tcp"].subtypes == ("_print", "_universal")
    assert found["_ipps._tcp"].subtypes == ("_print", "_universal")
    assert found["_http._tcp"].subtypes == ("_printer",)
    assert {s: a.port for s, a in found.items()} == {
        "_ipp._tcp": 631, "_ipps._tcp": 443, "_printer._tcp": 515,
        "_pdl-datastream._tcp": 9100, "_http._tcp": 80,
    }  # fmt: skip
    assert found["_ipp._tcp"].txt["rp"] == "ipp/print"
    assert found["_printer._tcp"].txt["rp"] == "lp"
    assert "rp" not in found["_pdl-datastream._tcp"].txt
    assert found["_ipps._tcp"].txt["TLS"] == "1.3" and "TLS" not in found["_ipp._tcp"].txt
    assert found["_ipp._tcp"].txt["adminurl"] == f"http://{HOST}:631/"
    order = ["_ipps._tcp", "_ipp._tcp", "_printer._tcp", "_pdl-datastream._tcp"]
    priorities = [int(found[s].txt["priority"]) for s in order]
    assert priorities == sorted(priorities)  # IPPS preferred, raw last
    # Switched off or moved: gone, or on the port it moved to.
    some = adverts(attrs, ports(ipp=8631, http=8080), host=HOST, lpd_queue="lp", tls_version="1.3")
    assert [(a.service, a.port) for a in some] == [("_ipp._tcp", 8631), ("_http._tcp", 8080)]
    assert some[0].txt["adminurl"] == f"http://{HOST}:8631/"
    assert adverts(attrs, ports(lpd=515), host=HOST, lpd_queue=None, tls_version="1.3") == []


def test_the_switch_alone_is_a_whole_mdns_section() -> None:
    """`[services.mdns] enabled = false` is all a configuration needs (the contract); the
    port is 5353 unless set."""
    config = parse_config("[services.mdns]\nenabled = false\n")
    assert (config.services.mdns.enabled, config.services.mdns.port) == (False, 5353)


def test_escl_is_advertised_while_the_scanner_is_on() -> None:
    """_uscan._tcp on the http listener, _uscans._tcp on https (Mopria eSCL's DNS-SD keys),
    their TXT from the same attributes as the printer's; the printer's record says Scan=T."""
    dev = device('[identity]\nlocation = "Room 101"\n')
    attrs = attributes(dev)
    live = ports(ipp=631, https=443, http=80)
    found = {
        a.service: a
        for a in adverts(attrs, live, host=HOST, lpd_queue=None, tls_version="1.3", scan=True)
    }
    assert found["_uscan._tcp"].port == 80 and found["_uscans._tcp"].port == 443
    assert found["_ipp._tcp"].txt["Scan"] == "T"
    txt = found["_uscan._tcp"].txt
    assert next(iter(txt)) == "txtvers"
    assert txt["vers"] == "2.63" and txt["rs"] == "eSCL"
    assert txt["ty"] == "Xerox WorkCentre 7755" and txt["note"] == "Room 101"
    assert txt["UUID"] == dev.identity.uuid
    assert txt["pdl"] == "application/pdf,image/jpeg,image/png,image/tiff"
    assert txt["cs"] == "color,grayscale,binary" and txt["is"] == "platen,adf"
    assert txt["duplex"] == "T"
    assert txt["adminurl"] == f"http://{HOST}:631/"
    assert txt["representation"] == f"http://{HOST}:80/icon.png"
    assert found["_uscans._tcp"].txt["representation"] == f"https://{HOST}:443/icon.png"
    assert not any(k.startswith("mopria") for k in txt)
    # The scanner off, or the listener down: not advertised.
    off = adverts(attrs, live, host=HOST, lpd_queue=None, tls_version="1.3")
    assert not {a.service for a in off} & {"_uscan._tcp", "_uscans._tcp"}
    assert next(a for a in off if a.service == "_ipp._tcp").txt["Scan"] == "F"
    only_https = adverts(
        attrs, ports(https=443), host=HOST, lpd_queue=None, tls_version="1.3", scan=True
    )
    assert [a.service for a in only_https] == ["_ipps._tcp", "_uscans._tcp"]
