"""GET /api/v1/ipsec: the IPsec policies, and that they are recorded, not enforced."""

from __future__ import annotations

from aiohttp import web

from mfpd.security.ipsec import NOT_ENFORCED, TUNNEL_LIFE
from mfpd.services.web import access


async def get_ipsec(request: web.Request) -> web.StreamResponse:
    """The IPsec policies (pre-shared keys masked) and, plainly, that they are not enforced;
    they change with PATCH /api/v1/config over HTTPS."""
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    settings = access.web_state(request).settings()["ipsec"]
    return web.json_response(
        {"enforced": False, "note": NOT_ENFORCED, "tunnel_life": TUNNEL_LIFE, **settings}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/ipsec", get_ipsec)
