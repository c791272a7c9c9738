"""POST /api/v1/scans (a walk-up scan with a template, as a user at the panel starts one) and
/api/v1/originals (files put in the document feeder or on the glass, and taken away).

A scan is answered 202 Accepted with its job: it goes on scanning and delivering after the
answer (the job's state says how it went). A refusal is the scanner's: 409 when the feeder
cannot feed (its eSCL AdfState in `reason`), 503 with Retry-After when it is busy.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from mfpd.device.scan_jobs import ScanBusy, ScanRefused
from mfpd.device.scan_settings import ScanSettingsError
from mfpd.device.scan_templates import find_template, start_walkup
from mfpd.device.scanner import ScannerError
from mfpd.security.login import Role
from mfpd.services.base import ServiceContext
from mfpd.services.http_handler import short_error
from mfpd.services.web import access
from mfpd.services.web.api import _ctx, _json_body, error
from mfpd.services.web.scan_context import ScannerMissing, originals_of, scans_of
from mfpd.services.web.views import job_view

log = logging.getLogger("mfpd.web")

READ_SIZE = 256 * 1024
UPLOADS = "uploads"  # under the state dir: the files of an upload until the scanner has them
# eSCL's busy answer asks again after this many seconds.
RETRY_AFTER = "5"
MAX_FILES = 50  # the feeder's capacity: more files than sheets cannot fit anyway


class ScanError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def start_scan(ctx: ServiceContext, name: str, *, source: str, user: str, host: str) -> Any:
    """Start the template's walk-up scan; ScanError with the answer's status otherwise.
    Shared with the Scan page and the control socket's `scan`."""
    try:
        scans = scans_of(ctx)
        template = find_template(ctx.config.scan.templates, name)
    except (ScannerMissing, ScannerError) as exc:
        raise ScanError(404, str(exc)) from None
    try:
        return start_walkup(scans, template, source=source, user=user, host=host)
    except ScanRefused as exc:
        raise ScanError(409, str(exc), reason=exc.reason) from None
    except ScanBusy as exc:
        raise ScanError(503, str(exc)) from None
    except ScanSettingsError as exc:
        raise ScanError(422, f"template {template.name!r}: {exc}") from None


def error_response(exc: ScanError) -> web.Response:
    response = web.json_response(
        {"error": str(exc), "status": exc.status, **exc.extra}, status=exc.status
    )
    if exc.status == 503:
        response.headers["Retry-After"] = RETRY_AFTER
    return response


async def post_scan(request: web.Request) -> web.Response:
    data = await _json_body(request)
    name = data.get("template")
    if set(data) - {"template"} or not isinstance(name, str) or not name:
        return error(400, 'send {"template": NAME}')
    ctx = _ctx(request)
    try:
        scan = start_scan(
            ctx,
            name,
            source="web",
            user=access.user_of(request) or "anonymous",
            host=request.remote or "",
        )
    except ScanError as exc:
        return error_response(exc)
    job = scan.job
    _record(request, f"walk-up scan {job.id} with template {name!r} started", job=job.id)
    url = f"/api/v1/jobs/{job.id}"
    response = web.json_response(
        {"id": job.id, "uuid": scan.uuid, "url": url, "job": job_view(job)}, status=202
    )
    response.headers["Location"] = url
    return response


def _record(request: web.Request, message: str, **data: Any) -> None:
    who = access.user_of(request) or "anonymous"
    access.web_state(request).log.record(
        "job", f"{message} (by {who} from {request.remote}, {access.via(request)})", **data
    )


async def receive_originals(
    request: web.Request, default_to: str = "feeder"
) -> tuple[list[Path], list[str], str]:
    """The files of a multipart upload, streamed to the state dir within web.max_upload_bytes
    (all files together), with their names and where they go (`to`: the query, else a form
    field before the files, else `default_to`). ScanError when refused; the caller removes
    the files."""
    ctx = _ctx(request)
    limit = ctx.config.web.max_upload_bytes
    to = request.query.get("to")
    if request.content_type != "multipart/form-data":
        raise ScanError(415, "send the files as multipart/form-data, each in a part named file")
    try:
        reader, first = await access.multipart_of(request)
    except (ValueError, HttpProcessingError) as exc:
        raise ScanError(400, f"malformed multipart body: {short_error(exc)}") from None
    directory = ctx.state_dir / UPLOADS
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths: list[Path] = []
    names: list[str] = []
    total = 0
    part: object = first
    try:
        while True:
            if part is None:
                part = await reader.next()
                if part is None:
                    break
            if not isinstance(part, BodyPartReader):
                part = None
                continue
            if part.name == "file" and part.filename is not None:
                if len(paths) >= MAX_FILES:
                    raise ScanError(413, f"at most {MAX_FILES} files at once")
                handle, name = tempfile.mkstemp(dir=directory, suffix=".upload")
                path = Path(name)
                paths.append(path)
                names.append(Path(part.filename).name or "original")
                with open(handle, "wb") as out:
                    async for chunk in _chunks(part):
                        total += len(chunk)
                        if total > limit:
                            raise ScanError(413, f"the upload is larger than {limit} bytes")
                        out.write(chunk)
            elif part.name in ("to", "csrf") and part.filename is None:
                value = (await part.read(decode=False))[:64].decode("utf-8", "replace")
                if part.name == "to":
                    # Checked even where the query says it: a bad field is an error all
                    # the same (as POST /jobs does with its options).
                    if value.strip() not in ("feeder", "glass"):
                        raise ScanError(400, "to is feeder or glass")
                    to = to or value.strip()
            else:
                raise ScanError(400, f"unknown form field {str(part.name)[:64]!r}")
            part = None
    except (ValueError, HttpProcessingError) as exc:
        _remove(paths)
        raise ScanError(400, f"malformed multipart body: {short_error(exc)}") from None
    except BaseException:
        _remove(paths)
        raise
    to = to or default_to
    if to not in ("feeder", "glass"):
        _remove(paths)
        raise ScanError(400, "to is feeder or glass")
    if not paths:
        raise ScanError(400, "no file: send each in a part named file")
    if to == "glass" and len(paths) > 1:
        _remove(paths)
        raise ScanError(400, "the glass holds one original")
    return paths, names, to


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(READ_SIZE):
        yield chunk


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


async def load_originals(request: web.Request) -> str:
    """Shared with the Scan page: receive an upload and load it; ScanError when refused."""
    ctx = _ctx(request)
    try:
        originals = originals_of(ctx)
    except ScannerMissing as exc:
        raise ScanError(404, str(exc)) from None
    paths, names, to = await receive_originals(request)
    try:
        # Originals copies and counts them (Ghostscript for PDF and PostScript) before
        # anything is loaded: a file that cannot be scanned is refused whole.
        message = await originals.load_async(paths, feeder=to == "feeder", names=names)
    except ScannerError as exc:
        raise ScanError(422, str(exc)) from None
    finally:
        _remove(paths)
    _record(request, f"originals loaded: {message}")
    return message


async def post_originals(request: web.Request) -> web.StreamResponse:
    # Putting originals on the scanner acts on the machine: an operator's (security/login.py).
    refused = access.require_role(request, Role.OPERATOR)
    if refused is not None:
        return refused
    try:
        message = await load_originals(request)
    except ScanError as exc:
        response = error_response(exc)
        if exc.status == 413:
            response.force_close()  # the rest of the upload is not worth reading
        return response
    return web.json_response({"message": message, "scanner": _ctx(request).device.scanner.status()})


def clear_originals(request: web.Request) -> str:
    ctx = _ctx(request)
    try:
        message = originals_of(ctx).clear()
    except ScannerMissing as exc:
        raise ScanError(404, str(exc)) from None
    _record(request, f"originals: {message}")
    return message


async def delete_originals(request: web.Request) -> web.StreamResponse:
    # Putting originals on the scanner acts on the machine: an operator's (security/login.py).
    refused = access.require_role(request, Role.OPERATOR)
    if refused is not None:
        return refused
    try:
        message = clear_originals(request)
    except ScanError as exc:
        return error_response(exc)
    return web.json_response({"message": message, "scanner": _ctx(request).device.scanner.status()})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/scans", post_scan)
    r.add_post("/api/v1/originals", post_originals)
    r.add_delete("/api/v1/originals", delete_originals)
