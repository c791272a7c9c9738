"""GET /api/v1/address-book?q=TEXT: the directory's people whose name or email contains TEXT
(outbound/ldap.py), for the recipient fields of scan templates and Internet Fax. The
administrator may always search; logged-in users too when [ldap] address_book_for_users."""

from __future__ import annotations

from aiohttp import web

from mfpd.outbound.ldap import DirectoryError, find_people
from mfpd.security.login import Role
from mfpd.services.web import access
from mfpd.services.web.state import SERVICE

PATH = "/api/v1/address-book"
MAX_QUERY = 256


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


async def get_address_book(request: web.Request) -> web.StreamResponse:
    ctx = request.app[SERVICE].ctx
    needed = Role.USER if ctx.config.ldap.address_book_for_users else Role.ADMINISTRATOR
    refused = access.require_role(request, needed)
    if refused is not None:
        return refused
    text = request.query.get("q", "")
    if len(text) > MAX_QUERY:
        return _error(400, f"q is longer than {MAX_QUERY} characters")
    if not ctx.config.ldap.url:
        return _error(503, "the address book is off: no directory is configured ([ldap] url)")
    try:
        found = await find_people(ctx, text, access.web_state(request).address_book)
    except DirectoryError as exc:
        access.web_state(request).log.record(
            "service", f"address book search by {access.user_of(request)} from "
            f"{request.remote} failed: {exc}", "warning",
        )  # fmt: skip
        response = _error(503, f"the directory does not answer: {exc}")
        response.headers["Retry-After"] = "30"
        return response
    return web.json_response(
        {"entries": [p.public() for p in found.people], "truncated": found.truncated}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, get_address_book)
