"""The HTTP half of SSDP/UPnP and WS-Discovery, on the web listener's application:

- GET /upnp/description.xml, the UPnP device description SSDP's LOCATION names (UDA 1.1
  section 2.3), and GET /upnp/PrintBasic.xml, the SCPD of its one service (2.5);
- POST /wsd, the WS-Transfer Get a WS-Discovery client sends to the XAddrs, answered with
  the DPWS metadata (ThisModel, ThisDevice, Relationship), and POST /wsd/print, the hosted
  print service's address, which answers every action with a SOAP fault.

Each answers 404 while its responder is switched off, as the port it advertised is closed.
URLs inside use the host the client reached us by and the ports the web server is on now.
"""

from __future__ import annotations

import logging
import uuid

from aiohttp import web

from mfpd.codecs import ssdp, upnp_control, wsd
from mfpd.log_limit import LogLimit
from mfpd.services.base import ServiceContext
from mfpd.services.discovery import advertised
from mfpd.services.web.state import SERVICE

# A WS-Transfer Get is a few hundred bytes; more is refused unread.
MAX_SOAP_BODY = 64 * 1024
XML_TYPE = 'text/xml; charset="utf-8"'  # UDA 1.1 2.1
SOAP_TYPE = "application/soap+xml"  # SOAP 1.2 part 2 section 7 (RFC 3902)

log = logging.getLogger("mfpd.wsd")
_LOG_LIMIT = web.AppKey("mfpd.wsd_log_limit", LogLimit)


def add_discovery_routes(app: web.Application) -> None:
    app[_LOG_LIMIT] = LogLimit("bad WS-Transfer requests", log=log, prefix="wsd")
    r = app.router
    r.add_get(advertised.DESCRIPTION_PATH, get_description)
    r.add_get(advertised.SCPD_PATH, get_scpd)
    r.add_post(advertised.CONTROL_PATH, post_control)
    r.add_post(advertised.WSD_PATH, post_wsd)
    r.add_post(advertised.WSD_PRINT_PATH, post_wsd)


def _ctx(request: web.Request) -> ServiceContext:
    ctx: ServiceContext = request.app[SERVICE].ctx
    return ctx


def _host(request: web.Request) -> str:
    """The host part of the Host header (the name the client reached us by), else ours."""
    host = request.host
    if not host.endswith("]") and ":" in host:
        host = host.rsplit(":", 1)[0]
    return host.strip("[]") or advertised.reply_address(_ctx(request).bind, request.remote or "")


def _on(ctx: ServiceContext, name: str) -> bool:
    return ctx.config.services.effective(name)


async def get_description(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    if not _on(ctx, "ssdp"):
        raise web.HTTPNotFound()
    body = ssdp.description(advertised.upnp_description(ctx, _host(request)))
    return web.Response(body=body, headers={"Content-Type": XML_TYPE})


async def get_scpd(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    if not _on(ctx, "ssdp"):
        raise web.HTTPNotFound()
    config_id = advertised.upnp_description(ctx, _host(request)).config_id
    return web.Response(body=ssdp.scpd(config_id), headers={"Content-Type": XML_TYPE})


async def post_control(request: web.Request) -> web.StreamResponse:
    """UPnP control (UDA 1.1 3.2): PrintBasic's GetPrinterAttributes, answered from the
    device as IPP answers printer-state and printer-state-reasons; any other action is the
    UPnP error 401 Invalid Action."""
    ctx = _ctx(request)
    if not _on(ctx, "ssdp"):
        raise web.HTTPNotFound()
    if len(await request.read()) > MAX_SOAP_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_SOAP_BODY, request.content_length or 0)
    action = upnp_control.action_name(request.headers.get("SOAPACTION", ""))
    if action != upnp_control.GET_PRINTER_ATTRIBUTES:
        body = upnp_control.fault(401, "Invalid Action")
        return web.Response(status=500, body=body, headers={"Content-Type": XML_TYPE})
    device = ctx.device
    active = ctx.spool.active()
    values = upnp_control.PrinterAttributes(
        state=str(device.state),
        reasons=upnp_control.print_basic_reasons(
            [(reason.keyword, reason.severity) for reason in device.reasons]
        ),
        job_ids=tuple(job.id for job in active),
        job_id=max((job.id for job in active), default=0),
    )
    body = upnp_control.get_printer_attributes_response(values)
    return web.Response(body=body, headers={"Content-Type": XML_TYPE})


def _soap(body: bytes, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=body, headers={"Content-Type": f"{SOAP_TYPE}; charset=utf-8"}
    )


def _message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


async def post_wsd(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    if not _on(ctx, "wsd"):
        raise web.HTTPNotFound()
    limit = request.app[_LOG_LIMIT]
    if (request.content_length or 0) > MAX_SOAP_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_SOAP_BODY, request.content_length or 0)
    data = await request.read()
    if len(data) > MAX_SOAP_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_SOAP_BODY, len(data))
    try:
        message = wsd.parse(data)
    except wsd.WsdError as exc:
        if limit.allow():
            log.warning("wsd: %s: %s %s: %s", request.remote, request.method, request.path, exc)
        # SOAP 1.2 part 2 7.5.2: a Sender fault is answered 400.
        fault = wsd.fault(None, "Sender", "", "not a SOAP 1.2 envelope", _message_id())
        return _soap(fault, 400)
    if message.kind is not wsd.Kind.GET or request.path != advertised.WSD_PATH:
        if limit.allow():
            log.info("wsd: %s: %s: action not supported: %.120s", request.remote,
                     request.path, message.action)  # fmt: skip
        fault = wsd.fault(
            message.version, "Sender", "wsa:ActionNotSupported",
            f"the action is not supported: {message.action[:200]}", _message_id(),
        )  # fmt: skip
        return _soap(fault, 400)
    metadata = advertised.wsd_metadata(ctx, _host(request))
    return _soap(wsd.get_response(message, metadata, _message_id()))
