"""/api/v1/mailboxes: the device's scan mailboxes ([[scan.mailboxes]]): the folders, a
folder's documents, a document's download (streamed; removed afterwards when the folder says
so) and its deletion.

A folder with a passcode opens with it in the X-Mailbox-Passcode header, or a `passcode` field
of a form POSTed to the same path; a wrong one is 403, logged, and slowed down as failed logins
are (the one throttle per address). A folder without one is open to whoever reaches the web
server, as on the device.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from mfpd.device.mailboxes import MailboxDocument, MailboxError
from mfpd.security.secrets import SecretError
from mfpd.services.base import ServiceContext
from mfpd.services.web import access
from mfpd.services.web.api import _ctx, error
from mfpd.services.web.scan_context import mailboxes_of, secrets_of
from mfpd.services.web.state import SERVICE

PATH = "/api/v1/mailboxes"
HEADER = "X-Mailbox-Passcode"
READ_SIZE = 256 * 1024
MAX_PASSCODE = 256

log = logging.getLogger("mfpd.web")


class MailboxRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def folders_view(ctx: ServiceContext) -> list[dict[str, Any]]:
    boxes = mailboxes_of(ctx)
    shown = []
    for box in boxes.folders():
        protected = bool(box.passcode)
        shown.append(
            {
                "name": box.name,
                "protected": protected,
                "delete_after_retrieval": box.delete_after_retrieval,
                # A protected folder does not even say how full it is.
                "documents": None if protected else len(boxes.documents(box.name)),
            }
        )
    return shown


def document_view(name: str, doc: MailboxDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "filename": doc.filename,
        "format": doc.format,
        "size": doc.size,
        "job_id": doc.job_id,
        "created_at": doc.created_at,
        "url": f"{PATH}/{name}/{doc.id}",
    }


def is_protected(ctx: ServiceContext, name: str) -> bool:
    try:
        return bool(mailboxes_of(ctx).folder(name).passcode)
    except MailboxError:
        return False


async def open_mailbox(request: web.Request, name: str, passcode: str | None) -> None:
    """MailboxRefused (404 no folder, 403 wrong passcode) unless `passcode` opens it."""
    ctx = _ctx(request)
    boxes = mailboxes_of(ctx)
    try:
        stored = boxes.folder(name).passcode
    except MailboxError as exc:
        raise MailboxRefused(404, str(exc)) from None
    if not stored:
        return
    try:
        opened = secrets_of(ctx).open(stored)
    except SecretError as exc:
        log.error("mailbox %r: %s", name, exc)
        raise MailboxRefused(500, f"mailbox {name!r}: its passcode cannot be read") from None
    state = access.web_state(request)
    remote = request.remote or "unknown"
    delay = state.throttle.delay(remote)
    if delay > 0:
        await asyncio.sleep(delay)
    try:
        boxes.check_passcode(name, (passcode or "")[:MAX_PASSCODE], opened)
    except MailboxError as exc:
        failures = state.throttle.failed(remote)
        state.log.record(
            "login",
            f"wrong passcode for mailbox {name!r} from {remote} (failure {failures})",
            "warning",
            remote=remote,
        )
        log.warning("mailbox %r: wrong passcode from %s", name, remote)
        raise MailboxRefused(403, str(exc)) from None
    state.throttle.succeeded(remote)


async def _passcode(request: web.Request) -> str | None:
    header = request.headers.get(HEADER)
    if header is not None:
        return header
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get("passcode")
        return value if isinstance(value, str) else None
    return None


async def _opened(request: web.Request) -> str:
    """The folder of the request's path, opened; MailboxRefused otherwise."""
    name = request.match_info["name"]
    await open_mailbox(request, name, await _passcode(request))
    return name


async def get_mailboxes(request: web.Request) -> web.Response:
    return web.json_response({"mailboxes": folders_view(_ctx(request))})


async def get_mailbox(request: web.Request) -> web.Response:
    try:
        name = await _opened(request)
    except MailboxRefused as exc:
        return error(exc.status, str(exc))
    docs = mailboxes_of(_ctx(request)).documents(name)
    return web.json_response(
        {
            "name": name,
            "protected": is_protected(_ctx(request), name),
            "documents": [document_view(name, d) for d in docs],
        }
    )


async def send_document(request: web.Request, name: str, doc_id: str) -> web.StreamResponse:
    """A document of an opened folder, streamed from its file; removed afterwards when the
    folder says so and the whole file went out. Shared with the Mailboxes page."""
    boxes = mailboxes_of(_ctx(request))
    try:
        doc, path = boxes.document(name, doc_id)
        handle = path.open("rb")
    except (MailboxError, OSError):
        return error(404, f"no document {doc_id[:64]!r} in mailbox {name!r}")
    with handle:
        response = web.StreamResponse(
            headers={
                "Content-Type": doc.format,
                "Content-Length": str(doc.size),
                "Content-Disposition": _attachment(doc.filename),
                "Cache-Control": "no-store",
            }
        )
        await response.prepare(request)
        sent = 0
        while chunk := await asyncio.to_thread(handle.read, READ_SIZE):
            sent += len(chunk)
            if sent >= doc.size and boxes.retrieved(name, doc_id):
                # The folder's rule applies before the last bytes go out: with
                # Content-Length the client is done when they arrive, and must then find
                # the document gone (a client that left earlier raised above and keeps it).
                access.web_state(request).log.record(
                    "job",
                    f"mailbox {name}: {doc.filename} retrieved by {request.remote} and removed",
                )
            await response.write(chunk)
    await response.write_eof()
    return response


def _attachment(filename: str) -> str:
    """RFC 6266 with an RFC 8187 filename* for names that are not plain ASCII."""
    from urllib.parse import quote

    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                    for c in filename) or "scan"  # fmt: skip
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"


async def get_document(request: web.Request) -> web.StreamResponse:
    try:
        name = await _opened(request)
    except MailboxRefused as exc:
        return error(exc.status, str(exc))
    return await send_document(request, name, request.match_info["doc"])


async def delete_document(request: web.Request) -> web.StreamResponse:
    try:
        name = await _opened(request)
    except MailboxRefused as exc:
        return error(exc.status, str(exc))
    doc_id = request.match_info["doc"]
    try:
        remove_document(request, name, doc_id)
    except MailboxError as exc:
        return error(404, str(exc))
    return web.Response(status=204)


def remove_document(request: web.Request, name: str, doc_id: str) -> None:
    """Shared with the Mailboxes page: delete and log; MailboxError when there is none."""
    boxes = mailboxes_of(_ctx(request))
    doc, _path = boxes.document(name, doc_id)
    boxes.delete(name, doc_id)
    who = access.user_of(request) or "anonymous"
    access.web_state(request).log.record(
        "job",
        f"mailbox {name}: {doc.filename} deleted by {who} from {request.remote} "
        f"({request.app[SERVICE].name})",
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, get_mailboxes)
    r.add_get(f"{PATH}/{{name}}", get_mailbox)
    r.add_post(f"{PATH}/{{name}}", get_mailbox)
    r.add_get(f"{PATH}/{{name}}/{{doc}}", get_document)
    r.add_post(f"{PATH}/{{name}}/{{doc}}", get_document)
    r.add_delete(f"{PATH}/{{name}}/{{doc}}", delete_document)
