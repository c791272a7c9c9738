"""GET/PUT /api/v1/ip-filter: the IP filter's rules, with the guard a device has against an
administrator locking themselves out.

A rule list that would turn the requesting administrator's own address away from HTTPS (the
listener the device is administered over) is refused with 422, unless the request says
`"force": true`: what the WorkCentre's IP Filtering page warns about before it applies.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from mfpd.config import IpFilterConfig
from mfpd.security.gate import Action, Gate, rules_of
from mfpd.services.base import ServiceContext
from mfpd.services.web import access
from mfpd.services.web.api import _ctx, _json_body, error
from mfpd.services.web.state import SERVICE
from mfpd.settings import SettingsError

PATH = "/api/v1/ip-filter"


def _document(ctx: ServiceContext) -> dict[str, Any]:
    hits = ctx.gate.hits
    rules = [
        {**rule.model_dump(mode="json"), "number": n, "hits": hits.get(n, 0)}
        for n, rule in enumerate(ctx.config.ip_filter.rules, 1)
    ]
    return {
        "backend": ctx.config.ip_filter.backend,
        "backend_state": ctx.gate.backend_state,
        "rules": rules,
    }


async def get_ip_filter(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    return web.json_response(_document(_ctx(request)))


def locks_out(ctx: ServiceContext, proposed: IpFilterConfig, address: str, port: int) -> bool:
    """Whether the proposed rules would turn `address` away from HTTPS."""
    trial = Gate(rules_of(proposed), ctx.gate.standard_ports)
    return trial.admit("https", address, port) is not Action.ACCEPT


async def put_ip_filter(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    data = await _json_body(request)
    if not isinstance(data.get("rules"), list) or set(data) - {"rules", "backend", "force"}:
        return error(400, 'send {"rules": [...], "backend": "gate" (optional), "force": false}')
    force = data.get("force") is True
    # What GET adds to each rule (its number and hits) may come back: a client edits what it
    # read and sends it again.
    rules = [
        {k: v for k, v in rule.items() if k not in ("number", "hits")}
        if isinstance(rule, dict)
        else rule
        for rule in data["rules"]
    ]
    section = {"rules": rules, **({"backend": data["backend"]} if "backend" in data else {})}
    try:
        proposed = IpFilterConfig.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return error(422, f"{where}: {first['msg']}")
    ctx = _ctx(request)
    peer = request.transport.get_extra_info("peername") if request.transport else None
    address, port = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else ("", 0)
    if not force and address and locks_out(ctx, proposed, address, port):
        return error(
            422,
            f"these rules would lock {address} (this administrator) out of HTTPS; "
            'send "force": true to apply them anyway',
        )
    patch = {"ip_filter": proposed.model_dump(mode="json")}
    state = access.web_state(request)
    who = access.user_of(request) or "anonymous"
    try:
        await state.change_settings(
            patch, carrying=request.app[SERVICE].name, actor=f"{who} from {address}"
        )
    except SettingsError as exc:
        return error(422, str(exc))
    return web.json_response(_document(ctx))


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, get_ip_filter)
    app.router.add_put(PATH, put_ip_filter)
