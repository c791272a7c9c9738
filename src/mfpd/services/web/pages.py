"""The pages of the embedded web server (CentreWare Internet Services): Status, Jobs, Print,
Scan, Mailboxes, Properties, Logs and Login, rendered on the server, plus the static files.

This module registers every page route and holds the Status and Logs pages and the static
files; pages_jobs.py holds Jobs and Print, pages_scan.py Scan, pages_mailboxes.py Mailboxes,
pages_login.py the logins, pages_properties.py the administrator's settings; pages_render.py
is what they share.
"""

from __future__ import annotations

import mimetypes
import re
import time

from aiohttp import web

from mfpd.security.audit import CATEGORIES, LEVELS
from mfpd.security.tls import TLS_DIR, certificate_expiry
from mfpd.services.web import (
    access,
    pages_address_book,
    pages_jobs,
    pages_login,
    pages_mailboxes,
    pages_properties,
    pages_scan,
)
from mfpd.services.web.pages_render import (
    FLASH_KEY,
    STATIC,
    STATIC_VERSIONS,
    FlashStore,
    duration_text,
    render,
)
from mfpd.services.web.state import SERVICE

# Static names are one path segment of plain characters: nothing can climb out of STATIC.
_STATIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/vnd.microsoft.icon",
    ".woff2": "font/woff2",
}
# A URL carrying the file's hash (static_url) never changes content: cache it for a year.
_VERSIONED_CACHE = "public, max-age=31536000, immutable"
_PLAIN_CACHE = "public, max-age=300"
LOG_LIMITS = (50, 200, 1000)


async def get_static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not _STATIC_NAME.match(name) or name not in STATIC_VERSIONS:
        raise web.HTTPNotFound(text="404 Not Found\n")
    path = STATIC / name
    version = STATIC_VERSIONS[name]
    etag = f'"{version}"'
    suffix = path.suffix.lower()
    content_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    cache = _VERSIONED_CACHE if request.query.get("v") == version else _PLAIN_CACHE
    headers = {"ETag": etag, "Cache-Control": cache}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    charset = "utf-8" if content_type.startswith("text/") or suffix == ".svg" else None
    return web.Response(
        body=path.read_bytes(), content_type=content_type, charset=charset, headers=headers
    )


async def get_status_page(request: web.Request) -> web.Response:
    ctx = request.app[SERVICE].ctx
    device = ctx.device
    return render(
        request,
        "status.html",
        "status",
        "Status",
        nonce=True,
        uptime=duration_text(time.time() - device.started_at),
        supplies_type="Toner",
        certificate=certificate_expiry(ctx.state_dir / TLS_DIR, ctx.config.tls.expiry_warning_days),
    )


async def get_logs_page(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    query = request.query
    category = query.get("category", "")
    level = query.get("level", "")
    text = query.get("q", "").strip()[:200]
    try:
        limit = int(query.get("limit", "200"))
    except ValueError:
        limit = 200
    limit = limit if limit in LOG_LIMITS else 200
    entries = access.web_state(request).log.entries(
        category=category if category in CATEGORIES else None,
        level=level if level in LEVELS else None,
        text=text or None,
        limit=limit,
    )
    # The security audit log, over HTTPS only (as its export): over HTTP, a link there.
    feed = access.audit_feed(request)
    audit = feed.log.entries(limit=limit) if feed is not None and request.secure else None
    return render(
        request,
        "logs.html",
        "logs",
        "Logs",
        audit=audit,
        audit_link=None if request.secure else access.https_link(request, "/logs"),
        audit_warning=feed is not None and feed.log.almost_full,
        entries=entries,
        categories=CATEGORIES,
        levels=LEVELS,
        limits=LOG_LIMITS,
        category=category if category in CATEGORIES else "",
        level=level if level in LEVELS else "",
        q=text,
        limit=limit,
    )


def add_page_routes(app: web.Application) -> None:
    app[FLASH_KEY] = FlashStore()
    r = app.router
    r.add_get("/", get_status_page)
    r.add_get("/static/{name}", get_static)
    r.add_get("/logs", get_logs_page)
    pages_jobs.add_routes(app)
    pages_login.add_routes(app)
    pages_properties.add_routes(app)
    pages_scan.add_routes(app)
    pages_mailboxes.add_routes(app)
    pages_address_book.add_routes(app)
