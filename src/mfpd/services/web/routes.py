"""The web server's part of a listener's aiohttp application: the pages, the API, their
middlewares and the shared state, added to the same application that answers IPP, so a GET
on the IPP port serves the same pages, as on real printers."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from mfpd.services.web import access
from mfpd.services.web.api import add_api_routes, api_errors
from mfpd.services.web.state import CLOSING, SERVICE, STREAMS, WEB, WebState

# IPP, eSCL, the UPnP description and WS-Discovery's metadata stay on plain HTTP when pages
# redirect to https: their clients follow no redirect.
HTTP_ONLY_PATHS = ("/ipp", access.ESCL_PREFIX, *access.DISCOVERY_PATHS)


def web_middlewares(web_state: WebState | None) -> list[Any]:
    if web_state is None:
        return []
    return [https_only, redirect_to_https, api_errors, access.access]


def add_web(app: web.Application, service: Any, web_state: WebState | None) -> None:
    """`service` is the listener (IppService or a subclass): its ctx and name."""
    if web_state is None:
        return
    from mfpd.services.discovery.http_routes import add_discovery_routes
    from mfpd.services.scan.escl_routes import add_escl_routes
    from mfpd.services.web.pages import add_page_routes

    app[WEB] = web_state
    app[STREAMS] = set()
    app[CLOSING] = asyncio.Event()
    add_api_routes(app)
    add_page_routes(app)
    add_discovery_routes(app)
    add_escl_routes(app)
    app.on_response_prepare.append(access.set_security_headers)


def closing(app: web.Application) -> None:
    """The listener stops: open event streams end now rather than hold the stop up."""
    event = app.get(CLOSING)
    if isinstance(event, asyncio.Event):
        event.set()


@web.middleware
async def https_only(request: web.Request, handler: access.Handler) -> web.StreamResponse:
    """[security] https_only: nothing is served over plain HTTP. IPP gets 426 Upgrade
    Required with the TLS upgrade token (RFC 2817 4.2), pages and API calls a redirect to
    the https listener (RFC 7538 308 keeps a PATCH a PATCH)."""
    service = request.app[SERVICE]
    if request.secure or not service.ctx.config.security.https_only:
        return await handler(request)
    if request.content_type == "application/ipp":
        await request.release()
        return web.Response(
            status=426,
            headers={"Upgrade": "TLS/1.2, HTTP/1.1", "Connection": "Upgrade"},
            text="IPP is served over TLS only: upgrade (RFC 2817) or use ipps://\n",
        )
    state: WebState = request.app[WEB]
    port = state.live_port("https")
    if port is None:
        raise web.HTTPServiceUnavailable(text="503: HTTPS is not listening\n")
    location = f"https://{access.request_host(request)}{'' if port == 443 else f':{port}'}"
    location += request.path_qs
    if request.method in ("GET", "HEAD"):
        raise web.HTTPMovedPermanently(location)
    raise web.HTTPPermanentRedirect(location)


@web.middleware
async def redirect_to_https(request: web.Request, handler: access.Handler) -> web.StreamResponse:
    """services.http.redirect_to_https: pages on plain HTTP move to the https listener
    (IPP requests are answered where they come)."""
    service = request.app[SERVICE]
    if (
        service.name != "http"
        or request.method not in access.SAFE
        or not service.ctx.config.services.http.redirect_to_https
        or request.path.startswith(HTTP_ONLY_PATHS)
    ):
        return await handler(request)
    state: WebState = request.app[WEB]
    port = state.live_port("https")
    if port is None:  # https is off (its row says "disabled"): nothing to redirect to
        return await handler(request)
    location = f"https://{access.request_host(request)}{'' if port == 443 else f':{port}'}"
    location += request.path_qs
    raise web.HTTPMovedPermanently(location)
