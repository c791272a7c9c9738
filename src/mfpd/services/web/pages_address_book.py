"""The Address Book page: a search of the directory that works without any script, and the
page the recipient fields' script (static/address-book.js) falls back to."""

from __future__ import annotations

from aiohttp import web

from mfpd.outbound.ldap import DirectoryError, People, find_people
from mfpd.security.login import Role
from mfpd.services.web import access
from mfpd.services.web.api_address_book import MAX_QUERY
from mfpd.services.web.pages_render import ctx_of, render


async def get_address_book_page(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    needed = Role.USER if ctx.config.ldap.address_book_for_users else Role.ADMINISTRATOR
    refused = access.require_role(request, needed)
    if refused is not None:
        return refused
    text = request.query.get("q", "").strip()[:MAX_QUERY]
    found, error, status = People((), False), "", 200
    if not ctx.config.ldap.url:
        error, status = "No directory is configured ([ldap] url).", 503
    elif "q" in request.query:
        try:
            found = await find_people(ctx, text, access.web_state(request).address_book)
        except DirectoryError as exc:
            error, status = f"The directory does not answer: {exc}", 503
    return render(
        request, "address_book.html", "address-book", "Address book", status=status, q=text,
        searched="q" in request.query, people=found.people, truncated=found.truncated,
        error=error,
    )  # fmt: skip


def add_routes(app: web.Application) -> None:
    app.router.add_get("/address-book", get_address_book_page)
