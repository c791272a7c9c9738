"""The Scan page: the scanner (feeder and glass, and for the administrator an upload of
originals), the walk-up templates with a Scan button each (the administrator adds and deletes
them here; /api/v1/scan-templates edits them whole), and the recent scan jobs."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mfpd.device.scan_settings import RESOLUTIONS
from mfpd.security.login import Role
from mfpd.services.web import access
from mfpd.services.web.api_scan_templates import (
    TemplateError,
    create_template,
    delete_template,
    templates_view,
)
from mfpd.services.web.api_scans import ScanError, clear_originals, load_originals, start_scan
from mfpd.services.web.pages_render import actor, ctx_of, flash, form_of, render, see_other
from mfpd.services.web.scan_context import recent_scans
from mfpd.settings import SettingsError

COLOR_MODES = (
    ("RGB24", "Colour"),
    ("Grayscale8", "Grayscale"),
    ("BlackAndWhite1", "Black and white"),
)
FORMATS = (
    ("application/pdf", "PDF"),
    ("image/tiff", "TIFF"),
    ("image/jpeg", "JPEG"),
    ("image/png", "PNG"),
)
SOURCES = (("Platen", "Glass"), ("Feeder", "Document feeder"))
# Destinations that log in somewhere: the form's password goes to those that have none.
LOGIN_SCHEMES = ("ftp:", "ftps:", "smb:")
RECENT = 20


def scan_page(
    request: web.Request,
    *,
    error: str = "",
    status: int = 200,
    values: dict[str, str] | None = None,
) -> web.Response:
    ctx = ctx_of(request)
    return render(
        request,
        "scan.html",
        "scan",
        "Scan",
        status=status,
        error=error,
        values=values or {},
        scanner=ctx.device.scanner.status(),
        templates=templates_view(ctx),
        mailboxes=[box.name for box in ctx.config.scan.mailboxes],
        scans=recent_scans(ctx, RECENT),
        max_upload=ctx.config.web.max_upload_bytes,
        resolutions=RESOLUTIONS,
        color_modes=COLOR_MODES,
        formats=FORMATS,
        sources=SOURCES,
        operator=access.is_operator(request),
        # The address book's picker beside the destinations, when there is a directory.
        directory=bool(ctx.config.ldap.url),
    )


async def get_scan_page(request: web.Request) -> web.Response:
    return scan_page(request)


def template_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The add-a-template form as the API's template object."""
    password = form.get("password", "")
    destinations: list[Any] = []
    for line in form.get("destinations", "").splitlines():
        uri = line.strip()
        if not uri:
            continue
        if password and uri.startswith(LOGIN_SCHEMES):
            destinations.append({"uri": uri, "password": password})
        else:
            destinations.append(uri)

    def number(key: str, default: int) -> int | str:
        value = form.get(key, "")
        return int(value) if value.isdigit() else value or default

    return {
        "name": form.get("name", "").strip(),
        "destinations": destinations,
        "resolution": number("resolution", 300),
        "color_mode": form.get("color_mode", "RGB24"),
        "format": form.get("format", "application/pdf"),
        "source": form.get("source", "Platen"),
        "duplex": form.get("duplex") in ("on", "1", "true"),
        "blank_page_suppression": form.get("blank_page_suppression") in ("on", "1", "true"),
    }


async def post_template(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    form = await form_of(request)
    values = {k: v for k, v in form.items() if k not in ("password", "csrf")}
    try:
        template = await create_template(request, template_from_form(form))
    except (TemplateError, SettingsError) as exc:
        status = exc.status if isinstance(exc, TemplateError) else 422
        return scan_page(request, error=str(exc), status=status, values=values)
    flash(request, f"Template “{template['name']}” added.")
    raise see_other(request, "/scan")


async def post_template_delete(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    form = await form_of(request)
    name = form.get("name", "")
    try:
        await delete_template(request, name)
    except (TemplateError, SettingsError) as exc:
        status = exc.status if isinstance(exc, TemplateError) else 422
        return scan_page(request, error=str(exc), status=status)
    flash(request, f"Template “{name}” deleted.")
    raise see_other(request, "/scan")


async def post_scan(request: web.Request) -> web.StreamResponse:
    """The Scan button: a walk-up scan with the template, by whoever reaches the page (as at
    the panel), and its job page to follow it on."""
    form = await form_of(request)
    name = form.get("template", "")
    try:
        scan = start_scan(
            ctx_of(request),
            name,
            source="web",
            user=access.user_of(request) or "anonymous",
            host=request.remote or "",
        )
    except ScanError as exc:
        return scan_page(request, error=str(exc), status=exc.status)
    access.web_state(request).log.record(
        "job", f"walk-up scan {scan.job.id} with template {name!r} started by {actor(request)}"
    )
    flash(request, f"Job {scan.job.id}: scanning with “{name}”.")
    raise see_other(request, f"/jobs/{scan.job.id}")


async def post_originals(request: web.Request) -> web.StreamResponse:
    refused = access.require_role(request, Role.OPERATOR)
    if refused is not None:
        return refused
    try:
        message = await load_originals(request)
    except ScanError as exc:
        response = scan_page(request, error=str(exc), status=exc.status)
        if exc.status == 413:
            response.force_close()
        return response
    flash(request, message[:1].upper() + message[1:] + ".")
    raise see_other(request, "/scan")


async def post_originals_clear(request: web.Request) -> web.StreamResponse:
    refused = access.require_role(request, Role.OPERATOR)
    if refused is not None:
        return refused
    try:
        message = clear_originals(request)
    except ScanError as exc:
        return scan_page(request, error=str(exc), status=exc.status)
    flash(request, message[:1].upper() + message[1:] + ".")
    raise see_other(request, "/scan")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/scan", get_scan_page)
    r.add_post("/scan/start", post_scan)
    r.add_post("/scan/originals", post_originals)
    r.add_post("/scan/originals/clear", post_originals_clear)
    r.add_post("/scan/templates", post_template)
    r.add_post("/scan/templates/delete", post_template_delete)
