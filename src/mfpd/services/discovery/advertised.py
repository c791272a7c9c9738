"""What SSDP/UPnP and WS-Discovery say about the device, from its identity and the live port
table: one place, so that the UPnP description, the WS-Discovery metadata, IPP and SNMP name
the same make, model, serial number, firmware and UUID.

URLs are built at the moment they are handed out, from the port the web server listens on
now (WebState.live_port): the web listener may start after a responder, move, or go off.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket

from mfpd.codecs import ssdp, wsd
from mfpd.device.identity import Identity
from mfpd.services.base import ServiceContext

# The controller's operating system, for SSDP's SERVER header (UDA 1.1 1.2.2 wants
# "OS/version UPnP/1.1 product/version"): the embedded OS a printer's firmware names, never
# the host's or a Python library's.
OS_TOKEN = "Linux/3.10"

DESCRIPTION_PATH = "/upnp/description.xml"
SCPD_PATH = "/upnp/PrintBasic.xml"
CONTROL_PATH = "/upnp/control/PrintBasic"
# WS-Discovery XAddrs: where a client sends the WS-Transfer Get for the metadata. Xerox
# devices serve WSD on an HTTP port of its own setting (the WorkCentre 7400 guide recommends
# 80, the Phaser 6280 takes 80 or 8000-9999); ours is the web listener, no port to add.
WSD_PATH = "/wsd"
WSD_PRINT_PATH = "/wsd/print"

# Manufacturers' home pages, for UPnP manufacturerURL and DPWS ManufacturerUrl (both
# optional: a make not listed here goes without).
MANUFACTURER_URLS = {"xerox": "http://www.xerox.com/"}


def url_host(address: str) -> str:
    address = address.strip("[]")
    return f"[{address}]" if ":" in address else address


def is_wildcard(address: str) -> bool:
    return address.strip("[]") in ("0.0.0.0", "::", "")


def reply_address(bind: str, peer: str) -> str:
    """The address a peer reaches us at: the --bind address, or, bound to the wildcard, the
    one the kernel would send from to the peer (a connected UDP socket sends nothing)."""
    if not is_wildcard(bind):
        return bind.strip("[]")
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((peer, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1" if ipaddress.ip_address(peer).version == 4 else "::1"


def http_port(ctx: ServiceContext) -> int | None:
    """The live plain-HTTP port of the web server (80, else IPP's 631, which serves the same
    pages); None when neither listens, or when [security] https_only forbids plain HTTP."""
    if ctx.web is None or ctx.config.security.https_only:
        return None
    port = ctx.web.live_port("http")
    return port if port is not None else ctx.web.live_port("ipp")


def _https_url(ctx: ServiceContext, host: str) -> str:
    port = ctx.web.live_port("https") if ctx.web is not None else None
    return f"https://{url_host(host)}:{port}/" if port is not None else ""


def web_ui_url(ctx: ServiceContext, host: str) -> str:
    """The web UI's live URL: over plain HTTP when it listens, else over HTTPS."""
    port = http_port(ctx)
    if port is not None:
        return f"http://{url_host(host)}:{port}/"
    return _https_url(ctx, host)


def description_url(ctx: ServiceContext, host: str) -> str | None:
    """SSDP LOCATION. UDA 1.1 2.1 has descriptions fetched over plain HTTP; under [security]
    https_only, which serves nothing over plain HTTP, it names the HTTPS listener instead.
    None while neither can serve it."""
    port = http_port(ctx)
    if port is not None:
        return f"http://{url_host(host)}:{port}{DESCRIPTION_PATH}"
    if ctx.config.security.https_only and (base := _https_url(ctx, host)):
        return base.rstrip("/") + DESCRIPTION_PATH
    return None


def xaddrs(ctx: ServiceContext, host: str) -> str:
    base = web_ui_url(ctx, host)
    return base.rstrip("/") + WSD_PATH if base else ""


def model_number(model: str) -> str:
    """The model's number: its last word with a digit in it ("WorkCentre 7755": 7755)."""
    words = [w for w in model.split() if any(c.isdigit() for c in w)]
    return words[-1] if words else model


def manufacturer_url(make: str) -> str:
    return MANUFACTURER_URLS.get(make.strip().lower(), "")


def server_token(identity: Identity) -> str:
    return ssdp.server_token(OS_TOKEN, f"{identity.make} {identity.model}", identity.firmware)


def upnp_description(ctx: ServiceContext, host: str) -> ssdp.Description:
    identity = ctx.device.identity
    return ssdp.Description(
        # IPP printer-info: the name a user sees in every client's list.
        friendly_name=identity.description,
        manufacturer=identity.make,
        manufacturer_url=manufacturer_url(identity.make),
        model_description=f"{identity.make_and_model} multifunction printer",
        model_name=identity.model,
        model_number=model_number(identity.model),
        serial_number=identity.serial_number,
        uuid=identity.uuid,
        presentation_url=web_ui_url(ctx, host),
        scpd_url=SCPD_PATH,
        control_url=CONTROL_PATH,
        event_url="",  # no eventing (codecs/ssdp.py: the SCPD)
    )


def wsd_endpoint(identity: Identity) -> str:
    return f"urn:uuid:{identity.uuid}"


def wsd_metadata(ctx: ServiceContext, host: str) -> wsd.Metadata:
    identity = ctx.device.identity
    base = web_ui_url(ctx, host).rstrip("/")
    return wsd.Metadata(
        manufacturer=identity.make,
        manufacturer_url=manufacturer_url(identity.make),
        model_name=identity.model,
        model_number=model_number(identity.model),
        presentation_url=web_ui_url(ctx, host),
        friendly_name=identity.description,
        firmware_version=identity.firmware,
        serial_number=identity.serial_number,
        device_address=wsd_endpoint(identity),
        print_service_address=base + WSD_PRINT_PATH,
        print_service_id=f"{wsd_endpoint(identity)}/print",
    )


def metadata_fingerprint(identity: Identity) -> str:
    """What the WS-Transfer metadata says, but for URLs (whose host part is the client's):
    when it changes, MetadataVersion rises and clients fetch the metadata again."""
    fields = (
        identity.make, identity.model, identity.description, identity.firmware,
        identity.serial_number, identity.uuid,
    )  # fmt: skip
    return hashlib.sha256("\x00".join(fields).encode()).hexdigest()[:32]
