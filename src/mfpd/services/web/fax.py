"""Internet Fax from the web: the Fax page's form and `POST /api/v1/ifax`, one multipart
form for both (fields `to`, repeatable or comma-separated, and `name`; one or more `file`
parts), streamed to the fax store, never whole in memory. For anyone logged in (any role,
as at the device's panel, and API tokens), never anonymous: a device that mails anything to
anyone for anybody would be an open relay. Recipients are typed, or picked from the address
book ([ldap]) with its picker (templates/_address_book.html).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from mfpd.device.fax_jobs import FaxJobs, FaxRefused
from mfpd.security.login import Role
from mfpd.services.base import ServiceContext
from mfpd.services.http_handler import short_error
from mfpd.services.web import access
from mfpd.services.web.pages_render import ctx_of, flash, render, see_other
from mfpd.services.web.views import job_view

API_PATH = "/api/v1/ifax"
READ_SIZE = 256 * 1024
MAX_FIELD = 4096
FIELDS = ("to", "name", "csrf")


class FormError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def _read_form(
    request: web.Request, faxes: FaxJobs, limit: int
) -> tuple[list[str], list[Path], str]:
    """Recipients, the uploaded files (in the fax store) and the job name; FormError, with
    whatever was stored removed, when the form is not one."""
    recipients: list[str] = []
    files: list[Path] = []
    name = ""
    total = 0
    try:
        reader, first = await access.multipart_of(request)
        part = first if isinstance(first, BodyPartReader) else None
        while True:
            if part is None:
                following = await reader.next()
                if following is None:
                    break
                if not isinstance(following, BodyPartReader):
                    raise FormError("a nested multipart is not a file")
                part = following
            if part.name == "file":
                if not part.filename:
                    await part.release()  # the form's empty file input
                    part = None
                    continue
                name = name or part.filename
                target = faxes.new_document(part.filename)
                files.append(target)
                with target.open("wb") as out:
                    while chunk := await part.read_chunk(READ_SIZE):
                        total += len(chunk)
                        if total > limit:
                            raise FormError(f"the files are over {limit} bytes", 413)
                        out.write(chunk)
                if not target.stat().st_size:
                    raise FormError(f"the file {part.filename[:80]!r} is empty")
            elif part.name in FIELDS and part.filename is None:
                value = (await part.read(decode=False))[:MAX_FIELD].decode("utf-8", "replace")
                if part.name == "to":
                    recipients.append(value)
                elif part.name == "name" and value.strip():
                    name = value.strip()
            else:
                raise FormError(f"unknown form field {str(part.name)[:64]!r}")
            part = None
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        _remove(files)
        raise FormError(f"malformed multipart body: {short_error(exc)}") from None
    except BaseException:
        _remove(files)
        raise
    return recipients, files, name


def _remove(files: list[Path]) -> None:
    for path in files:
        path.unlink(missing_ok=True)


async def _send(request: web.Request, ctx: ServiceContext) -> Any:
    faxes = ctx.faxes
    if faxes is None:
        raise FormError("Internet Fax is not available", 503)
    if request.content_type != "multipart/form-data":
        raise FormError("send a multipart/form-data form (to, file)", 415)
    limit = min(ctx.config.web.max_upload_bytes, ctx.config.spool.max_job_bytes)
    recipients, files, name = await _read_form(request, faxes, limit)
    try:
        return faxes.create(
            recipients, files, source="web", user=access.user_of(request) or "anonymous",
            host=request.remote or "", name=name,
        )  # fmt: skip
    except FaxRefused as exc:
        _remove(files)
        raise FormError(str(exc)) from None


async def post_ifax(request: web.Request) -> web.StreamResponse:
    refused = access.require_role(request, Role.USER)
    if refused is not None:
        return refused
    try:
        job = await _send(request, ctx_of(request))
    except FormError as exc:
        response = web.json_response({"error": str(exc), "status": exc.status}, status=exc.status)
        if exc.status == 413:
            response.force_close()
        return response
    response = web.json_response(job_view(job), status=201)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return response


async def get_fax_page(request: web.Request) -> web.StreamResponse:
    refused = access.require_role(request, Role.USER)
    if refused is not None:
        return refused
    return _page(request)


def _page(
    request: web.Request, *, error: str = "", status: int = 200, to: str = ""
) -> web.Response:
    ctx = ctx_of(request)
    config = ctx.config
    faxes = ctx.faxes
    return render(
        request,
        "fax.html",
        "fax",
        "Internet Fax",
        status=status,
        error=error,
        to=to,
        smtp=bool(config.smtp.server),
        directory=bool(config.ldap.url),
        receiving=config.ifax.pop3,
        resolution=config.ifax.resolution,
        max_upload=min(config.web.max_upload_bytes, config.spool.max_job_bytes),
        sent=[job_view(j) for j in sorted(faxes.jobs(), key=lambda j: -j.id)[:20]] if faxes else [],
    )


async def post_fax_page(request: web.Request) -> web.StreamResponse:
    refused = access.require_role(request, Role.USER)
    if refused is not None:
        return refused
    try:
        job = await _send(request, ctx_of(request))
    except FormError as exc:
        response = _page(request, error=str(exc), status=exc.status)
        if exc.status == 413:
            response.force_close()
        return response
    flash(request, f"Fax job {job.id} to {', '.join(job.attributes['recipients'])} is sending.")
    raise see_other(request, "/fax")


def add_fax_routes(app: web.Application) -> None:
    app.router.add_post(API_PATH, post_ifax)
    app.router.add_get("/fax", get_fax_page)
    app.router.add_post("/fax", post_fax_page)
