"""The audit log's export: GET /api/v1/audit-log (JSON, newest first, paged with `limit`
and `before`) and GET /api/v1/audit-log.csv (the whole ring, the device's "Download Log").

Both are the administrator's, and HTTPS only: over plain HTTP the answer is 403, whoever
asks, with the HTTPS address in the message. Not a redirect: a script's bearer token or
cookie has already crossed the network in clear by then, and a 301 would make that mistake
silently work (RFC 6797 section 7.2 sends user agents to HTTPS with a redirect; these are
API calls, and the WorkCentre will not produce its audit log until HTTPS is on).

Every export is itself an audit entry (audit-log-export, the device's event 33). A CSV
export takes the whole log, and clears the audit-log-almost-full warning.
"""

from __future__ import annotations

from aiohttp import web

from mfpd.security.audit_log import CAPACITY, to_csv
from mfpd.services.web import access

MAX_PAGE = 1000


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


def _refused(request: web.Request, what: str) -> web.StreamResponse | None:
    """None when the request may export; else the answer (403 over HTTP, 401 otherwise)."""
    if not request.secure:
        link = access.https_link(request, request.path_qs)
        where = f": {link}" if link else " (HTTPS is off)"
        feed = access.audit_feed(request)
        if feed is not None and access.is_admin(request):
            # Only an administrator's attempt is kept: anybody's would let a flood of
            # requests wash the ring out.
            feed.record_as(
                access.audit_actor(request), "audit-log-export", "failure",
                {"format": what, "reason": "plain HTTP"},
            )  # fmt: skip
        return _error(403, f"the audit log is exported over HTTPS only{where}")
    return access.require_admin(request)


def _number(request: web.Request, name: str, default: int | None, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        if default is None:
            raise ValueError(name)
        return default
    value = int(text)
    if not low <= value <= high:
        raise ValueError(name)
    return value


async def get_audit_log(request: web.Request) -> web.StreamResponse:
    refused = _refused(request, "json")
    if refused is not None:
        return refused
    feed = access.audit_feed(request)
    if feed is None:
        return _error(404, "no audit log on this listener")
    try:
        limit = _number(request, "limit", 100, 1, MAX_PAGE)
        before = _number(request, "before", 2**62, 1, 2**62)
        since = float(request.query.get("since", "0"))
    except ValueError:
        return _error(
            400, f"limit is 1 to {MAX_PAGE}, before an entry id, since seconds since the epoch"
        )
    event = request.query.get("event") or None
    entries = feed.log.entries(limit=limit, before=before, since=since or None, event=event)
    feed.record_as(
        access.audit_actor(request), "audit-log-export",
        details={"format": "json", "entries": len(entries), "before": request.query.get("before")},
    )  # fmt: skip
    following = entries[-1].id if len(entries) == limit else None
    return web.json_response({"entries": [e.to_dict() for e in entries], "next_before": following})


async def get_audit_log_csv(request: web.Request) -> web.StreamResponse:
    refused = _refused(request, "csv")
    if refused is not None:
        return refused
    feed = access.audit_feed(request)
    if feed is None:
        return _error(404, "no audit log on this listener")
    entries = feed.log.entries(limit=max(CAPACITY, feed.log.capacity))
    newest = entries[0].id if entries else 0
    feed.record_as(
        access.audit_actor(request),
        "audit-log-export",
        details={"format": "csv", "entries": len(entries)},
    )
    feed.exported(newest)
    return web.Response(
        text=to_csv(entries),
        content_type="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="auditfile.csv"',
            "Cache-Control": "no-store",
        },
    )


def add_audit_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/audit-log", get_audit_log)
    app.router.add_get(f"{prefix}/audit-log.csv", get_audit_log_csv)
