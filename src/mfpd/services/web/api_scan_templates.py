"""/api/v1/scan-templates: the walk-up scan templates ([[scan.templates]]), for the
administrator: list, create, replace and delete by name.

A template's passwords are sealed before they are saved and shown as the mask in every
answer; a PUT that sends the mask back keeps the stored password. The list is kept through
the settings machinery (settings.json over the configuration file), as PATCH /config would:
the first change copies the file's list into the overrides, and from then on the UI's list is
the device's list, as with the IP filter's rules.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import ValidationError

from mfpd.config import ScanTemplateConfig
from mfpd.device.scan_settings import ScanSettingsError
from mfpd.device.scan_templates import settings_of
from mfpd.outbound.destinations import parse_destinations
from mfpd.services.base import ServiceContext
from mfpd.services.web import access
from mfpd.services.web.api import _ctx, _json_body, error
from mfpd.services.web.scan_context import secrets_of
from mfpd.services.web.state import SERVICE
from mfpd.settings import SettingsError
from mfpd.settings_scan import ScanSecretError, mask_template, restore_template, seal_scan

PATH = "/api/v1/scan-templates"
SCHEMES = ("mailto", "ftp", "ftps", "smb", "mailbox")
MAX_URI = 2048


def destination_pattern(mailboxes: list[str]) -> str:
    """What a destination URI may be: the schemes the device sends to, and the mailboxes it
    has. The OpenAPI document carries the same pattern, so what it calls valid is accepted."""
    alternatives = ["mailto:.+", "(ftp|ftps|smb)://.+"]
    alternatives += [f"mailbox:{name.replace('.', chr(92) + '.')}" for name in mailboxes]
    return "^(" + "|".join(alternatives) + ")$"


class TemplateError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def shown(template: ScanTemplateConfig) -> dict[str, Any]:
    return mask_template(template.model_dump(mode="json"))


def templates_view(ctx: ServiceContext) -> list[dict[str, Any]]:
    return [shown(t) for t in ctx.config.scan.templates]


def _find(ctx: ServiceContext, name: str) -> int | None:
    key = name.lower()
    return next((i for i, t in enumerate(ctx.config.scan.templates) if t.name.lower() == key), None)


def check_template(ctx: ServiceContext, data: Any, replaces: str | None = None) -> dict[str, Any]:
    """A template from a client, masks replaced by the stored passwords, validated as the
    configuration file's would be and against what the scanner can do. TemplateError (422)
    naming the field otherwise."""
    if not isinstance(data, dict):
        raise TemplateError(400, "a template is a JSON object")
    try:
        data = restore_template(ctx.config, data, replaces)
        # Strict: a JSON client sends 300, not "300" or 300.0, as the OpenAPI document says.
        template = ScanTemplateConfig.model_validate(data, strict=True)
    except ScanSecretError as exc:
        raise TemplateError(422, str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "template"
        raise TemplateError(422, f"{where}: {first['msg']}") from None
    try:
        settings_of(template)
    except ScanSettingsError as exc:
        raise TemplateError(422, f"{exc.element}: {exc.message}") from None
    mailboxes = [box.name for box in ctx.config.scan.mailboxes]
    pattern = re.compile(destination_pattern(mailboxes))
    for item in template.destinations:
        uri = item if isinstance(item, str) else item.uri
        if len(uri) > MAX_URI:
            raise TemplateError(422, f"destinations: a URI is at most {MAX_URI} characters")
        if pattern.match(uri):
            continue
        scheme, _, rest = uri.partition(":")
        if scheme == "mailbox":
            raise TemplateError(422, f"destinations: there is no mailbox {rest[:64]!r}")
        raise TemplateError(
            422, f"destinations: {uri[:80]!r} is none of {', '.join(s + ':' for s in SCHEMES)}"
        )
    try:
        # What the device's clients will make of them (host, port, share, addresses): a
        # destination they cannot use is refused now, not at the first scan.
        parse_destinations(template.destinations)
    except ValueError as exc:
        raise TemplateError(422, f"destinations: {exc}") from None
    return template.model_dump(mode="json")


async def save_templates(request: web.Request, templates: list[dict[str, Any]]) -> None:
    """The whole list, sealed, through the settings machinery (SettingsError: 422)."""
    ctx = _ctx(request)
    sealed = seal_scan({"templates": templates}, secrets_of(ctx).seal)
    who = access.user_of(request) or "anonymous"
    await access.web_state(request).change_settings(
        {"scan": sealed},
        carrying=request.app[SERVICE].name,
        actor=f"{who} from {request.remote} ({access.via(request)})",
        who=access.audit_actor(request),
    )


def _stored(ctx: ServiceContext) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json") for t in ctx.config.scan.templates]


async def create_template(request: web.Request, data: Any) -> dict[str, Any]:
    """Shared with the Scan page: TemplateError or SettingsError when refused."""
    ctx = _ctx(request)
    template = check_template(ctx, data)
    if _find(ctx, template["name"]) is not None:
        raise TemplateError(409, f"there is a template {template['name']!r} already")
    await save_templates(request, [*_stored(ctx), template])
    return template


async def replace_template(request: web.Request, name: str, data: Any) -> dict[str, Any]:
    ctx = _ctx(request)
    index = _find(ctx, name)
    if index is None:
        raise TemplateError(404, f"no template {name!r}")
    template = check_template(ctx, data, replaces=name)
    other = _find(ctx, template["name"])
    if other is not None and other != index:
        raise TemplateError(409, f"there is a template {template['name']!r} already")
    templates = _stored(ctx)
    templates[index] = template
    await save_templates(request, templates)
    return template


async def delete_template(request: web.Request, name: str) -> None:
    ctx = _ctx(request)
    index = _find(ctx, name)
    if index is None:
        raise TemplateError(404, f"no template {name!r}")
    templates = _stored(ctx)
    del templates[index]
    await save_templates(request, templates)


async def get_templates(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    return web.json_response({"templates": templates_view(_ctx(request))})


async def get_template(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    ctx = _ctx(request)
    index = _find(ctx, request.match_info["name"])
    if index is None:
        return error(404, f"no template {request.match_info['name']!r}")
    return web.json_response(shown(ctx.config.scan.templates[index]))


async def post_template(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    data = await _json_body(request)
    try:
        template = await create_template(request, data)
    except TemplateError as exc:
        return error(exc.status, str(exc))
    except SettingsError as exc:
        return error(422, str(exc))
    return _answer(request, template["name"], 201)


async def put_template(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    data = await _json_body(request)
    try:
        template = await replace_template(request, request.match_info["name"], data)
    except TemplateError as exc:
        return error(exc.status, str(exc))
    except SettingsError as exc:
        return error(422, str(exc))
    return _answer(request, template["name"], 200)


async def remove_template(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    try:
        await delete_template(request, request.match_info["name"])
    except TemplateError as exc:
        return error(exc.status, str(exc))
    except SettingsError as exc:
        return error(422, str(exc))
    return web.Response(status=204)


def _answer(request: web.Request, name: str, status: int) -> web.Response:
    ctx = _ctx(request)
    index = _find(ctx, name)
    assert index is not None
    response = web.json_response(shown(ctx.config.scan.templates[index]), status=status)
    if status == 201:
        response.headers["Location"] = f"{PATH}/{quote(name)}"
    return response


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, get_templates)
    r.add_post(PATH, post_template)
    r.add_get(f"{PATH}/{{name}}", get_template)
    r.add_put(f"{PATH}/{{name}}", put_template)
    r.add_delete(f"{PATH}/{{name}}", remove_template)
