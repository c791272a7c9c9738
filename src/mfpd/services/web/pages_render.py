"""What every page shares: the Jinja2 environment, the header's data (device, state badge,
who is logged in), one-time messages after a form, and the display names of keywords.

Pages are rendered on the server and work without JavaScript; the scripts under /static only
make them live (Server-Sent Events) and add confirmations. The Content-Security-Policy allows
no inline style and one nonce'd inline script (the status page's), so templates use classes.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from mfpd.services.base import ServiceContext
from mfpd.services.web import access
from mfpd.services.web.state import SERVICE
from mfpd.services.web.views import status_view

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
_FLASH_MAX = 512

# Names people know the printer-state-reasons and job-state-reasons keywords by (RFC 8011
# 5.4.12 and 5.3.8, PWG 5100.11); the rest are shown as the keyword reads.
REASONS = {
    "none": "Ready",
    "media-jam": "Paper jam",
    "door-open": "Door open",
    "cover-open": "Cover open",
    "media-empty": "Paper tray empty",
    "media-low": "Paper low",
    "media-needed": "Paper needed",
    "toner-low": "Toner low",
    "toner-empty": "Toner empty",
    "marker-supply-low": "Supply low",
    "marker-supply-empty": "Supply empty",
    "marker-waste-almost-full": "Waste container almost full",
    "marker-waste-full": "Waste container full",
    "output-area-full": "Output bin full",
    "output-area-almost-full": "Output bin almost full",
    "offline": "Offline",
    "paused": "Paused",
    "moving-to-paused": "Pausing",
    "spool-area-full": "Spool full",
    "job-password-wait": "Waiting for passcode",
    "job-hold-until-specified": "Held",
    "job-held-on-create": "Held on creation",
    "job-incoming": "Receiving",
    "job-printing": "Printing",
    "job-queued": "Queued",
    "job-completed-successfully": "Completed",
    "job-canceled-by-user": "Canceled by the owner",
    "job-canceled-by-operator": "Canceled by the operator",
    "job-canceled-at-device": "Canceled at the device",
    "aborted-by-system": "Aborted by the printer",
    "job-data-insufficient": "Incomplete document",
    "job-too-large": "Too large",
    "document-format-error": "Unreadable document",
    "unsupported-document-format": "Unsupported format",
}
SEVERITIES = ("report", "warning", "error")
FORMATS = {
    "application/pdf": "PDF",
    "application/postscript": "PostScript",
    "application/vnd.hp-pcl": "PCL",
    "application/vnd.hp-pclxl": "PCL XL",
    "application/vnd.xpsdocument": "XPS",
    "image/pwg-raster": "PWG Raster",
    "image/urf": "Apple Raster",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "text/plain": "Text",
    "application/octet-stream": "Unknown",
}
SOURCES = {
    "ipp": "IPP",
    "ipps": "IPPS",
    "lpd": "LPD",
    "raw": "Raw TCP",  # AppSocket: "9100" is its standard port, not always its port
    "web": "Web",
    "smb": "SMB",
    "ftp": "FTP",
    "ifax": "Internet Fax",  # a received fax (services/ifax_receive.py)
    "console": "Console",  # mfpd ifax send
}


# What the pages' scripts need to name keywords as the server does (body data-labels).
LABELS = json.dumps({"reasons": REASONS, "formats": FORMATS, "sources": SOURCES})


def reason_text(reason: str) -> str:
    """`media-jam-error` -> `Paper jam`; the severity is the badge's colour, not words."""
    keyword = reason
    for severity in SEVERITIES:
        if reason.endswith("-" + severity):
            keyword = reason[: -len(severity) - 1]
            break
    return REASONS.get(keyword) or keyword.replace("-", " ").capitalize()


def reason_severity(reason: str) -> str:
    return next((s for s in SEVERITIES if reason.endswith("-" + s)), "report")


_MEDIA = re.compile(r"^[a-z]+_([a-z0-9.-]+?)_([0-9.]+)x([0-9.]+)(mm|in)$")


def media_text(media: str) -> str:
    """PWG 5101.1 self-describing names: `iso_a4_210x297mm` -> `A4 (210 x 297 mm)`."""
    match = _MEDIA.match(media)
    if not match:
        return media
    name, width, height, unit = match.groups()
    label = name.upper() if re.fullmatch(r"[a-z]\d+|[a-z]{1,2}\d*", name) else name.title()
    return f"{label} ({width} \N{MULTIPLICATION SIGN} {height} {unit})"


def media_short(media: str) -> str:
    """`iso_a4_210x297mm` -> `A4`."""
    return media_text(media).split(" (", 1)[0]


def format_text(mime: str | None) -> str:
    if not mime:
        return "—"
    return FORMATS.get(mime, mime)


def source_text(source: str) -> str:
    return SOURCES.get(source, source.upper())


def when(timestamp: float | None) -> str:
    """Server-local time; the pages' script rewrites it in the reader's own time zone."""
    if not timestamp:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def iso(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def size_text(count: int | None) -> str:
    if count is None:
        return "—"
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"


def duration_text(seconds: float) -> str:
    minutes, _ = divmod(int(max(0, seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def badge(status: dict[str, Any]) -> tuple[str, str]:
    """The header's state badge: (css class, label). static/live.js repeats this rule."""
    state = str(status["state"])
    reasons = [str(r) for r in status.get("state_reasons", [])]
    if state == "stopped" or any(r.endswith("-error") for r in reasons):
        kind = "stopped"
    elif any(r.endswith("-warning") for r in reasons):
        kind = "warning"
    else:
        kind = state
    return kind, state.capitalize()


def level_class(percent: int, low: int) -> str:
    if percent <= 0:
        return "empty"
    return "low" if percent <= low else "ok"


def _static_versions() -> dict[str, str]:
    """Each static file's content hash, for URLs that may be cached for long."""
    versions: dict[str, str] = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            versions[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return versions


STATIC_VERSIONS = _static_versions()


def static_url(name: str) -> str:
    return f"/static/{name}?v={STATIC_VERSIONS.get(name, '0')}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        reason=reason_text,
        severity=reason_severity,
        media=media_text,
        media_short=media_short,
        format=format_text,
        source=source_text,
        when=when,
        iso=iso,
        size=size_text,
    )
    env.globals.update(static=static_url, level_class=level_class)
    return env


# Built once: templates are part of the package and do not change while the daemon runs.
ENV = _environment()


@dataclass(frozen=True)
class Flash:
    """A message for the page a form redirects to, shown once."""

    text: str
    kind: str = "ok"  # ok, error, info
    secret: str = ""  # an API token, shown once and never stored anywhere else


class FlashStore:
    """Messages waiting for their session's next page. Bounded: a visitor who never comes
    back must not keep memory forever."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, Flash] = OrderedDict()

    def put(self, session_id: str, flash: Flash) -> None:
        self._items[session_id] = flash
        self._items.move_to_end(session_id)
        while len(self._items) > _FLASH_MAX:
            self._items.popitem(last=False)

    def pop(self, session_id: str) -> Flash | None:
        return self._items.pop(session_id, None)


FLASH_KEY = web.AppKey("mfpd.flash", FlashStore)


def ctx_of(request: web.Request) -> ServiceContext:
    ctx: ServiceContext = request.app[SERVICE].ctx
    return ctx


def flash(request: web.Request, text: str, kind: str = "ok", secret: str = "") -> None:
    store = request.app[FLASH_KEY]
    store.put(access.visitor_session(request).id, Flash(text, kind, secret))


def _pop_flash(request: web.Request) -> Flash | None:
    session = access.session_of(request)
    if session is None:
        return None
    store = request.app[FLASH_KEY]
    return store.pop(session.id)


def actor(request: web.Request) -> str:
    """Who did it, for the event log."""
    who = access.user_of(request) or "anonymous"
    return f"{who} from {request.remote} ({access.via(request)})"


def page_title(request: web.Request, page: str) -> str:
    identity = ctx_of(request).device.identity
    return f"{identity.name} \N{EN DASH} {page} \N{EN DASH} {identity.make} {identity.model}"


def render(
    request: web.Request,
    template: str,
    page: str,
    title: str,
    *,
    status: int = 200,
    nonce: bool = False,
    **values: Any,
) -> web.Response:
    """A whole page. `page` is the navigation entry it belongs to; `nonce` gives the page
    its one inline script's CSP nonce."""
    ctx = ctx_of(request)
    device_status = status_view(ctx.device, ctx.spool, ctx.faxes)
    kind, label = badge(device_status)

    def csrf() -> str:
        # Called by the templates' forms only: a visitor who just reads the status page gets
        # no session (and no cookie).
        return access.csrf_token(request)

    context: dict[str, Any] = {
        "page": page,
        "title": page_title(request, title),
        "heading": title,
        "identity": ctx.device.identity,
        "banner": f"{ctx.device.identity.make.upper()} {ctx.device.identity.model.upper()}",
        "status": device_status,
        "badge_class": kind,
        "badge_label": label,
        "user": access.user_of(request),
        "admin": access.is_admin(request),
        "csrf": csrf,
        "nonce": access.script_nonce(request) if nonce else "",
        "factory_default": ctx.config.web.default_credentials,
        "require_login": ctx.config.web.require_login,
        "flash": _pop_flash(request),
        "here": request.path_qs,
        "labels": LABELS,
        **values,
    }
    body = ENV.get_template(template).render(context)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    return render(
        request, "error.html", "", f"Error {status}", status=status, code=status, message=message
    )


def safe_next(value: str | None, default: str = "/") -> str:
    """A same-site path to go to after a form: one leading slash, never `//host` or `/\\host`
    (browsers read both as another site), no scheme, no control characters."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c == "\\" for c in value) or len(value) > 2000:
        return default
    return value


def see_other(request: web.Request, location: str) -> web.HTTPSeeOther:
    """After a form: the browser GETs the next page (POST/redirect/GET)."""
    return web.HTTPSeeOther(location)


async def form_of(request: web.Request) -> dict[str, str]:
    """An urlencoded form's fields (the CSRF check has read and cached the body already);
    a repeated field keeps its last value, file fields are ignored."""
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}
