"""The Mailboxes pages: the device's scan folders, a passcode prompt for a protected one, and
its documents with download and delete.

A passcode typed once opens the folder for the rest of the visitor's session (as at the
device's panel until it times out), held here by session, never in a cookie or a URL; a grant
is worth nothing once the folder's passcode changes.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from aiohttp import web

from mfpd.device.mailboxes import MailboxError
from mfpd.services.web import access
from mfpd.services.web.api_mailboxes import (
    MailboxRefused,
    document_view,
    folders_view,
    open_mailbox,
    remove_document,
    send_document,
)
from mfpd.services.web.pages_render import ctx_of, error_page, flash, form_of, render, see_other
from mfpd.services.web.scan_context import mailboxes_of

GRANTS_MAX = 4096


class MailboxGrants:
    """Folders each session has opened with their passcode; bounded, oldest forgotten."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, dict[str, str]] = OrderedDict()

    def grant(self, session_id: str, name: str, stored: str) -> None:
        opened = self._items.pop(session_id, {})
        opened[name] = _digest(stored)
        self._items[session_id] = opened
        while len(self._items) > GRANTS_MAX:
            self._items.popitem(last=False)

    def granted(self, session_id: str, name: str, stored: str) -> bool:
        return self._items.get(session_id, {}).get(name) == _digest(stored)


def _digest(stored: str) -> str:
    return hashlib.sha256(stored.encode()).hexdigest()


GRANTS = web.AppKey("mfpd.mailbox_grants", MailboxGrants)


def _stored_passcode(request: web.Request, name: str) -> str:
    try:
        return mailboxes_of(ctx_of(request)).folder(name).passcode
    except MailboxError:
        raise web.HTTPNotFound(text="404 Not Found\n") from None


def _is_open(request: web.Request, name: str) -> bool:
    stored = _stored_passcode(request, name)
    if not stored:
        return True
    session = access.session_of(request)
    return session is not None and request.app[GRANTS].granted(session.id, name, stored)


async def get_mailboxes_page(request: web.Request) -> web.Response:
    return render(
        request, "mailboxes.html", "mailboxes", "Mailboxes", folders=folders_view(ctx_of(request))
    )


async def get_mailbox_page(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return _mailbox_page(request, name)


def _mailbox_page(
    request: web.Request, name: str, *, error: str = "", status: int = 200
) -> web.Response:
    opened = _is_open(request, name)
    docs = mailboxes_of(ctx_of(request)).documents(name) if opened else []
    folder = mailboxes_of(ctx_of(request)).folder(name)
    return render(
        request,
        "mailbox.html",
        "mailboxes",
        f"Mailbox {name}",
        status=status,
        error=error,
        name=name,
        opened=opened,
        protected=bool(folder.passcode),
        delete_after=folder.delete_after_retrieval,
        documents=[document_view(name, d) for d in docs],
    )


async def post_mailbox_passcode(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    stored = _stored_passcode(request, name)
    form = await form_of(request)
    try:
        await open_mailbox(request, name, form.get("passcode", ""))
    except MailboxRefused as exc:
        message = "Wrong passcode." if exc.status == 403 else str(exc)
        return _mailbox_page(request, name, error=message, status=exc.status)
    request.app[GRANTS].grant(access.visitor_session(request).id, name, stored)
    raise see_other(request, f"/mailboxes/{name}")


async def get_mailbox_document(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not _is_open(request, name):
        return _mailbox_page(request, name, error="Type the passcode first.", status=403)
    response = await send_document(request, name, request.match_info["doc"])
    if response.status == 404:
        return error_page(request, 404, "There is no such document: it may have been removed.")
    return response


async def post_mailbox_delete(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not _is_open(request, name):
        return _mailbox_page(request, name, error="Type the passcode first.", status=403)
    try:
        remove_document(request, name, request.match_info["doc"])
    except MailboxError:
        return _mailbox_page(request, name, error="That document is gone already.", status=404)
    flash(request, "Document deleted.")
    raise see_other(request, f"/mailboxes/{name}")


def add_routes(app: web.Application) -> None:
    app[GRANTS] = MailboxGrants()
    r = app.router
    r.add_get("/mailboxes", get_mailboxes_page)
    r.add_get("/mailboxes/{name}", get_mailbox_page)
    r.add_post("/mailboxes/{name}", post_mailbox_passcode)
    r.add_get("/mailboxes/{name}/{doc}", get_mailbox_document)
    r.add_post("/mailboxes/{name}/{doc}/delete", post_mailbox_delete)
