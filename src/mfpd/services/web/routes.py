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

# IPP, the UPnP description and WS-Discovery's metadata stay on plain HTTP when pages
# redirect to https: their clients follow no redirect.
HTTP_ONLY_PATHS = ("/ipp", *access.DISCOVERY_PATHS)


def web_middlewares(web_state: WebState | None) -> list[Any]:
    if web_state is None:
        return []
    return [redirect_to_https, api_errors, access.access]


def add_web(app: web.Application, service: Any, web_state: WebState | None) -> None:
    """`service` is the listener (IppService or a subclass): its ctx and name."""
    if web_state is None:
        return
    from mfpd.services.discovery.http_routes import add_discovery_routes
    from mfpd.services.web.pages import add_page_routes

    app[WEB] = web_state
    app[STREAMS] = set()
    app[CLOSING] = asyncio.Event()
    add_api_routes(app)
    add_page_routes(app)
    add_discovery_routes(app)
    app.on_response_prepare.append(access.set_security_headers)


def closing(app: web.Application) -> None:
    """The listener stops: open event streams end now rather than hold the stop up."""
    event = app.get(CLOSING)
    if isinstance(event, asyncio.Event):
        event.set()


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
