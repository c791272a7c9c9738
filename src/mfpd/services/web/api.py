"""The JSON API under /api/v1, for scripts: status, jobs (list, get, submit, cancel, hold,
release, preview), settings (GET and RFC 7396 PATCH, validated as the pages validate them),
operator actions, the event log, the port table and API tokens. /api/v1/openapi.json
describes exactly this (openapi.py), and errors are JSON: {"error": message, "status": code}.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from mfpd.device import secure_print
from mfpd.device.image_overwrite import OverwriteRefused
from mfpd.documents.preview import PreviewError, render_first_page
from mfpd.security.audit import CATEGORIES, LEVELS
from mfpd.security.login import Role
from mfpd.security.tls import (
    TLS_DIR,
    CertificateError,
    ca_bundle_info,
    certificate_info,
    install_ca_bundle,
    install_certificate,
    log_certificate_expiry,
    make_csr,
)
from mfpd.services.base import ServiceContext
from mfpd.services.http_handler import short_error
from mfpd.services.web import access
from mfpd.services.web.actions import ActionError, device_action, job_action
from mfpd.services.web.openapi import openapi_document
from mfpd.services.web.pages_render import static_url
from mfpd.services.web.scan_context import find_job, find_scan, other_jobs, secrets_of
from mfpd.services.web.state import SERVICE
from mfpd.services.web.submit import UploadError, submit, truthy
from mfpd.services.web.views import job_view, jobs_view, status_view
from mfpd.settings import SettingsError, needs_tls, seal_change

log = logging.getLogger("mfpd.web")

PREFIX = "/api/v1"
READ_SIZE = 256 * 1024
MAX_JSON = 256 * 1024
PREVIEW_CACHE = 32
JSON_TYPES = ("application/json", "application/merge-patch+json")


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


def _ctx(request: web.Request) -> ServiceContext:
    ctx: ServiceContext = request.app[SERVICE].ctx
    return ctx


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type not in JSON_TYPES:
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps({"error": "send application/json", "status": 415}),
            content_type="application/json",
        )
    if request.content_length is not None and request.content_length > MAX_JSON:
        raise _http_error(413, f"a JSON body is at most {MAX_JSON} bytes")
    raw = await request.content.read(MAX_JSON + 1)
    if len(raw) > MAX_JSON:
        raise _http_error(413, f"a JSON body is at most {MAX_JSON} bytes")
    try:
        data = json.loads(raw or b"{}")
    except ValueError as exc:
        raise _http_error(400, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _http_error(400, "the body must be a JSON object")
    return data


def _http_error(status: int, message: str) -> web.HTTPException:
    exc = web.HTTPException(
        text=json.dumps({"error": message, "status": status}), content_type="application/json"
    )
    exc.set_status(status)
    return exc


def _int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise _http_error(400, f"{name} must be an integer") from None
    if not low <= number <= high:
        raise _http_error(400, f"{name} must be between {low} and {high}")
    return number


@web.middleware
async def api_errors(request: web.Request, handler: access.Handler) -> web.StreamResponse:
    """Under /api, aiohttp's own refusals (404, 405, 413) are JSON too."""
    if not request.path.startswith(access.API_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        response = error(exc.status, exc.reason)
        if "Allow" in exc.headers:  # RFC 9110 15.5.6: a 405 lists the methods allowed
            response.headers["Allow"] = exc.headers["Allow"]
        return response


async def get_status(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    return web.json_response(status_view(ctx.device, ctx.spool, ctx.faxes))


async def get_jobs(request: web.Request) -> web.Response:
    which = request.query.get("which", "all")
    if which not in ("all", "active", "completed"):
        return error(400, "which must be all, active or completed")
    limit = _int(request.query.get("limit", "500"), "limit", 1, 10000)
    ctx = _ctx(request)
    return web.json_response({"jobs": jobs_view(ctx.spool, which, limit, other_jobs(ctx))})


def _job_id(request: web.Request) -> int:
    return _int(request.match_info["job_id"], "job id", 1, 2**31 - 1)


async def get_job(request: web.Request) -> web.Response:
    job = find_job(_ctx(request), _job_id(request))
    if job is None:
        return error(404, f"no job {request.match_info['job_id']}")
    return web.json_response(job_view(job))


async def post_job(request: web.Request) -> web.Response:
    """The document is the body (its Content-Type is the document format), options in the
    query; or a multipart/form-data form with the file in a part named `file`."""
    ctx = _ctx(request)
    query = request.query
    options: dict[str, str] = {
        k: v for k in ("name", "user", "copies", "passcode", "hold") if (v := query.get(k))
    }
    # Each place an option can come from is checked on its own (a form field overrides the
    # query, but a bad query value is an error all the same).
    _int(query.get("copies", "1"), "copies", 1, 999)
    if query.get("hold", "false") not in ("true", "false"):
        return error(400, "hold is true or false")
    fmt: str | None = request.content_type
    body: AsyncIterator[bytes]
    trailer = None
    if request.content_type == "multipart/form-data":
        try:
            reader, first = await access.multipart_of(request)
        except (ValueError, HttpProcessingError) as exc:
            return error(400, f"malformed multipart body: {short_error(exc)}")
        part = first if isinstance(first, BodyPartReader) else None
        while True:
            if part is None:
                try:
                    nxt = await reader.next()
                except (ValueError, HttpProcessingError) as exc:
                    return error(400, f"malformed multipart body: {short_error(exc)}")
                if nxt is None:
                    return error(400, "no part named 'file' in the form")
                if not isinstance(nxt, BodyPartReader):
                    continue
                part = nxt
            if part.name == "file":
                break
            try:
                name, value = await _form_field(part)
            except UploadError as exc:
                return error(exc.status, str(exc))
            options[name] = value
            part = None
        fmt = part.headers.get("Content-Type")
        options.setdefault("name", part.filename or "")
        body = _part_chunks(part)

        async def after_the_file() -> dict[str, str]:
            late: dict[str, str] = {}
            try:
                while (more := await reader.next()) is not None:
                    if isinstance(more, BodyPartReader):
                        name, value = await _form_field(more)
                        late[name] = value
            except (ValueError, HttpProcessingError) as exc:
                raise UploadError(f"malformed multipart body: {short_error(exc)}") from None
            return late

        trailer = after_the_file
    else:
        body = _body_chunks(request)
    copies = _int(options.get("copies", "1"), "copies", 1, 999)
    user = options.get("user") or access.user_of(request) or "anonymous"
    config = ctx.config
    try:
        job = await submit(
            ctx.device,
            ctx.spool,
            body,
            name=options.get("name", ""),
            user=user,
            format=fmt,
            copies=copies,
            host=request.remote or "",
            max_bytes=min(config.web.max_upload_bytes, config.spool.max_job_bytes),
            passcode=options.get("passcode", ""),
            hold=truthy(options.get("hold", "")),
            trailer=trailer,
        )
    except UploadError as exc:
        response = error(exc.status, str(exc))
        if exc.status == 413:
            response.force_close()  # the rest of the upload is not worth reading
        return response
    response = web.json_response(job_view(job), status=201)
    response.headers["Location"] = f"{PREFIX}/jobs/{job.id}"
    return response


FORM_FIELDS = ("name", "user", "copies", "passcode", "hold", "csrf")


async def _form_field(part: BodyPartReader) -> tuple[str, str]:
    """One small field of an upload form; anything the form does not have is refused."""
    if part.name not in FORM_FIELDS or part.filename is not None:
        raise UploadError(f"unknown form field {str(part.name)[:64]!r}")
    value = await part.read(decode=False)
    if len(value) > 1024:
        raise UploadError(f"form field {part.name!r} is too long")
    return part.name, value.decode("utf-8", "replace")


async def _body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    while chunk := await request.content.read(READ_SIZE):
        yield chunk


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    try:
        while chunk := await part.read_chunk(READ_SIZE):
            yield chunk
    except HttpProcessingError as exc:  # bad framing inside the part
        raise ValueError(f"malformed multipart body: {short_error(exc)}") from None


async def post_job_action(request: web.Request) -> web.Response:
    passcode = ""
    if request.can_read_body:
        data = await _json_body(request)
        unknown = set(data) - {"passcode"}
        if unknown:
            return error(400, f"unknown keys: {', '.join(sorted(unknown))}")
        value = data.get("passcode", "")
        if not isinstance(value, str):
            return error(400, "passcode must be a string")
        passcode = value
    return await _job_action(request, request.match_info["action"], passcode)


async def _job_action(request: web.Request, action: str, passcode: str) -> web.Response:
    ctx = _ctx(request)
    job_id = _job_id(request)
    try:
        message = job_action(
            ctx.spool, job_id, action, admin=access.is_operator(request), passcode=passcode,
            scans=ctx.scans,
        )  # fmt: skip
    except ActionError as exc:
        if exc.status == 401:
            return _unauthorized(request, str(exc))
        return error(exc.status, str(exc))
    _record(request, "job", message, job=job_id)
    job = find_job(ctx, job_id)
    assert job is not None
    return web.json_response({"message": message, "job": job_view(job)})


def _unauthorized(request: web.Request, message: str) -> web.Response:
    response = error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _record(request: web.Request, category: str, message: str, **data: Any) -> None:
    who = access.user_of(request) or "anonymous"
    access.web_state(request).log.record(
        category, f"{message} (by {who} from {request.remote}, {access.via(request)})", **data
    )


class SecureJob(PreviewError):
    pass


class PreviewCache:
    """First-page previews of finished jobs, rendered once (ghostscript is slow)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    async def get(self, ctx: ServiceContext, job_id: int) -> bytes:
        job = ctx.spool.get(job_id)
        if job is None:
            raise PreviewError(f"no job {job_id}")
        if secure_print.PASSWORD_WAIT in job.state_reasons:
            # A secure-print job shows nothing of itself until its passcode is typed.
            raise SecureJob(f"job {job_id} waits for its passcode")
        paths = ctx.spool.document_paths(job)
        if not paths or not paths[0].exists():
            raise PreviewError("the job's document is no longer kept")
        key = (job_id, job.bytes)
        cached = self._items.get(key)
        if cached is not None:
            self._items.move_to_end(key)
            return cached
        preview = await asyncio.to_thread(render_first_page, paths[0], job.format)
        self._items[key] = preview.png
        while len(self._items) > PREVIEW_CACHE:
            self._items.popitem(last=False)
        return preview.png


PREVIEWS = web.AppKey("mfpd.previews", PreviewCache)


async def get_preview(request: web.Request) -> web.Response:
    cache: PreviewCache = request.app[PREVIEWS]
    try:
        png = await cache.get(_ctx(request), _job_id(request))
    except SecureJob as exc:
        return error(403, str(exc))
    except PreviewError as exc:
        # No job: 404. A job whose document has no preview (PCL, unknown data, no longer
        # kept): 409, the job is there but its state allows none.
        return error(404 if str(exc).startswith("no job") else 409, str(exc))
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=60"}
    )


async def get_thumbnail(request: web.Request) -> web.StreamResponse:
    """A scan job's first image, small (STATE_DIR/scans, written by the runner); until it is
    scanned, a redirect to the generic document picture, so a page's <img> shows something."""
    ctx = _ctx(request)
    job_id = _job_id(request)
    scan = find_scan(ctx, job_id)
    if scan is None:
        return error(404, f"no scan job {job_id}")
    path = ctx.scans.thumbnail(job_id) if ctx.scans is not None else None
    if path is None:
        raise web.HTTPFound(static_url("document.svg"), headers={"Cache-Control": "no-store"})
    try:
        png = path.read_bytes()
    except OSError:
        return error(404, f"job {job_id} has no thumbnail any more")
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=60"}
    )


async def get_config(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    return web.json_response(access.web_state(request).settings())


async def patch_config(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    patch = await _json_body(request)
    tls_only = needs_tls(patch)
    if tls_only and not request.secure:
        return error(403, f"{', '.join(tls_only)}: settings changed over HTTPS only")
    state = access.web_state(request)
    service = request.app[SERVICE]
    ctx = _ctx(request)
    try:
        patch = seal_change(ctx.config, patch, secrets_of(ctx).seal)
        document = await state.change_settings(
            patch, carrying=service.name, actor=_actor(request), who=access.audit_actor(request)
        )
    except SettingsError as exc:
        return error(422, str(exc))
    return web.json_response(document)


def _actor(request: web.Request) -> str:
    who = access.user_of(request) or "anonymous"
    return f"{who} from {request.remote} ({access.via(request)})"


async def post_action(request: web.Request) -> web.StreamResponse:
    refused = access.require_role(request, Role.OPERATOR)
    if refused is not None:
        return refused
    data = await _json_body(request)
    unknown = set(data) - {"action", "kind", "target"}
    if unknown:
        return error(400, f"unknown keys: {', '.join(sorted(unknown))}")
    fields = {k: data.get(k, "") for k in ("action", "kind", "target")}
    if not all(isinstance(v, str) for v in fields.values()):
        return error(400, "action, kind and target are strings")
    # What each action takes besides its name, as openapi.py's Action schema says: a clear
    # with no kind clears every manual fault and takes no target either.
    given = {k for k in ("kind", "target") if k in data}
    if any(not fields[k] for k in given):
        return error(400, "kind and target, when given, are not empty")
    allowed = {"refill": {"target"}, "fault": {"kind", "target"}}.get(fields["action"], set())
    if fields["action"] == "clear" and "kind" in data:
        allowed = {"kind", "target"}
    extra = given - allowed
    if extra:
        return error(400, f"{fields['action']!r} takes no {', '.join(sorted(extra))}")
    ctx = _ctx(request)
    if fields["action"] == "overwrite":
        # Erasing the disk is a security setting's act, not an operator's.
        refused = access.require_admin(request)
        if refused is not None:
            return refused
        return await _overwrite(request)
    try:
        message = device_action(ctx.device, fields["action"], fields["kind"], fields["target"])
    except ActionError as exc:
        return error(exc.status, str(exc))
    _record(request, "device", message, action=fields["action"])
    return web.json_response(
        {"message": message, "status": status_view(ctx.device, ctx.spool, ctx.faxes)}
    )


async def _overwrite(request: web.Request) -> web.StreamResponse:
    """The on-demand image overwrite; answered when it is done, 409 while a job prints."""
    try:
        report = await overwrite_now(request)
    except ActionError as exc:
        return error(exc.status, str(exc))
    # A pass that did not read back is the device's finding, not the API's failure: 200,
    # and the report says so (the CLI exits 1 on it).
    message = "image overwrite verified" if report["verified"] else "image overwrite NOT verified"
    return web.json_response({"message": message, "report": report})


async def overwrite_now(request: web.Request) -> dict[str, Any]:
    """Shared with the Security page's button."""
    ctx = _ctx(request)
    if ctx.overwriter is None:
        raise ActionError("image overwrite is not available on this listener", 404)
    actor = access.audit_actor(request)
    try:
        report = await ctx.overwriter.on_demand(
            user=actor.user, address=actor.address, interface=actor.interface
        )
    except OverwriteRefused as exc:
        raise ActionError(str(exc), 409) from None
    _record(request, "device", f"on-demand image overwrite: {report.bytes} bytes")
    return report.to_dict()


async def get_logs(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    query = request.query
    category = query.get("category")
    level = query.get("level")
    if category is not None and category not in CATEGORIES:
        return error(400, f"category is one of {', '.join(CATEGORIES)}")
    if level is not None and level not in LEVELS:
        return error(400, f"level is one of {', '.join(LEVELS)}")
    entries = access.web_state(request).log.entries(
        category=category,
        level=level,
        text=query.get("q") or None,
        since=_int(query.get("since", "0"), "since", 0, 2**53),
        limit=_int(query.get("limit", "200"), "limit", 1, 10000),
    )
    return web.json_response({"entries": [e.to_dict() for e in entries]})


async def get_ports(request: web.Request) -> web.Response:
    rows = access.web_state(request).ports()
    return web.json_response({"ports": [row.to_dict() for row in rows]})


async def get_tokens(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    tokens = access.web_state(request).tokens.list()
    return web.json_response({"tokens": [t.public() for t in tokens]})


async def post_token(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    data = await _json_body(request)
    if set(data) - {"name"}:
        return error(400, "a token has only a name")
    name = data.get("name", "")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        return error(400, "name is a string of 1 to 64 characters")
    token, secret = access.web_state(request).tokens.create(name)
    _audit_token(request, "created", token.id, name)
    _record(request, "config", f"API token {token.id} ({name}) created")
    return web.json_response({**token.public(), "token": secret}, status=201)


async def delete_token(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    token_id = request.match_info["token_id"]
    if not access.web_state(request).tokens.delete(token_id):
        return error(404, f"no token {token_id}")
    _audit_token(request, "revoked", token_id)
    _record(request, "config", f"API token {token_id} revoked")
    return web.Response(status=204)


async def get_certificate(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    ctx = _ctx(request)
    return web.json_response(
        certificate_info(ctx.state_dir / TLS_DIR, ctx.config.tls.expiry_warning_days)
    )


async def put_certificate(request: web.Request) -> web.StreamResponse:
    """Install the administrator's certificate (PEM, the chain after it) and key; an empty key
    keeps the device's own, for a certificate signed from POST /certificate/csr."""
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    data = await _json_body(request)
    cert, key = data.get("certificate"), data.get("key", "")
    if set(data) - {"certificate", "key"} or not isinstance(cert, str) or not isinstance(key, str):
        return error(400, "send {certificate: PEM, key: PEM (optional)}")
    try:
        info = await replace_certificate(request, cert, key)
    except CertificateError as exc:
        return error(422, str(exc))
    return web.json_response(info)


async def replace_certificate(request: web.Request, cert: str, key: str) -> dict[str, object]:
    """Shared with the Security page: install, restart the TLS listeners, log."""
    ctx = _ctx(request)
    try:
        info = install_certificate(
            ctx.state_dir / TLS_DIR, cert, key, ctx.config.tls.expiry_warning_days
        )
    except CertificateError as exc:
        _audit_certificate(request, "failure", reason=str(exc)[:200])
        raise
    state = access.web_state(request)
    _record(request, "config", f"device certificate replaced: {info['subject']}")
    log_certificate_expiry(info)
    ctx.device.certificate_expiring(bool(info.get("warning")))
    _audit_certificate(
        request, "success", subject=info.get("subject"), issuer=info.get("issuer"),
        sha256=info.get("sha256_fingerprint"), not_after=info.get("not_after"),
    )  # fmt: skip
    await state.restart(["https", "ipp"], request.app[SERVICE].name)
    return info


def _audit_token(request: web.Request, action: str, token_id: str, name: str = "") -> None:
    feed = access.audit_feed(request)
    if feed is not None:
        feed.credential_change(
            access.audit_actor(request), "api_tokens", action=action, token=token_id, name=name
        )


def _audit_certificate(request: web.Request, outcome: str, **details: object) -> None:
    feed = access.audit_feed(request)
    if feed is not None:
        feed.record_as(access.audit_actor(request), "certificate-install", outcome, details)


async def get_ca_bundle(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    ctx = _ctx(request)
    return web.json_response(ca_bundle_info(ctx.state_dir / TLS_DIR, ctx.config.tls))


async def put_ca_bundle(request: web.Request) -> web.StreamResponse:
    """Import the CAs outbound peers (SMTP, FTP, LDAP, ...) are verified with; an empty
    bundle removes the imported one."""
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    data = await _json_body(request)
    bundle = data.get("bundle")
    if set(data) - {"bundle"} or not isinstance(bundle, str):
        return error(400, "send {bundle: PEM certificates}")
    try:
        info = replace_ca_bundle(request, bundle)
    except CertificateError as exc:
        return error(422, str(exc))
    return web.json_response(info)


def replace_ca_bundle(request: web.Request, bundle: str) -> dict[str, object]:
    """Shared with the Security page: install, log, answer what is now trusted."""
    ctx = _ctx(request)
    certs = install_ca_bundle(ctx.state_dir / TLS_DIR, bundle)
    subjects = ", ".join(str(c["subject"]) for c in certs) or "none (removed)"
    _record(request, "config", f"CA bundle for outbound peers imported: {subjects}")
    return ca_bundle_info(ctx.state_dir / TLS_DIR, ctx.config.tls)


async def post_csr(request: web.Request) -> web.StreamResponse:
    refused = access.require_admin(request)
    if refused is not None:
        return refused
    data = await _json_body(request)
    common_name = data.get("common_name", "")
    if set(data) - {"common_name"} or not isinstance(common_name, str):
        return error(400, "send {common_name: a host name (optional)}")
    try:
        csr = make_signing_request(request, common_name)
    except CertificateError as exc:
        return error(400, str(exc))
    return web.json_response({"csr": csr})


def make_signing_request(request: web.Request, common_name: str) -> str:
    """Shared with the Security page: a CSR for the device's key, logged."""
    ctx = _ctx(request)
    identity = ctx.device.identity
    csr = make_csr(ctx.state_dir / TLS_DIR, identity.hostname, identity.organization, common_name)
    _record(request, "config", "certificate signing request made")
    return csr


async def get_openapi(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    return web.json_response(openapi_document(ctx.device, ctx.config))


def add_api_routes(app: web.Application) -> None:
    from mfpd.services.web.api_audit import add_audit_routes
    from mfpd.services.web.api_events import get_events

    app[PREVIEWS] = PreviewCache()
    r = app.router
    r.add_get(f"{PREFIX}/status", get_status)
    r.add_get(f"{PREFIX}/jobs", get_jobs)
    r.add_post(f"{PREFIX}/jobs", post_job)
    r.add_get(f"{PREFIX}/jobs/{{job_id}}", get_job)
    r.add_post(f"{PREFIX}/jobs/{{job_id}}/{{action:cancel|hold|release}}", post_job_action)
    r.add_get(f"{PREFIX}/jobs/{{job_id}}/preview", get_preview)
    r.add_get(f"{PREFIX}/jobs/{{job_id}}/thumbnail", get_thumbnail)
    r.add_get(f"{PREFIX}/config", get_config)
    r.add_patch(f"{PREFIX}/config", patch_config)
    r.add_post(f"{PREFIX}/actions", post_action)
    r.add_get(f"{PREFIX}/logs", get_logs)
    r.add_get(f"{PREFIX}/ports", get_ports)
    r.add_get(f"{PREFIX}/tokens", get_tokens)
    r.add_post(f"{PREFIX}/tokens", post_token)
    r.add_delete(f"{PREFIX}/tokens/{{token_id}}", delete_token)
    r.add_get(f"{PREFIX}/events", get_events)
    r.add_get(f"{PREFIX}/certificate", get_certificate)
    r.add_put(f"{PREFIX}/certificate", put_certificate)
    r.add_post(f"{PREFIX}/certificate/csr", post_csr)
    r.add_get(f"{PREFIX}/ca-bundle", get_ca_bundle)
    r.add_put(f"{PREFIX}/ca-bundle", put_ca_bundle)
    r.add_get(f"{PREFIX}/openapi.json", get_openapi)
    # Imported here: its handlers use this module's error() and JSON body reader.
    from mfpd.services.web import (
        api_address_book,
        api_ip_filter,
        api_ipsec,
        api_mailboxes,
        api_scan_templates,
        api_scans,
    )

    api_ip_filter.add_routes(app)
    api_ipsec.add_routes(app)
    api_address_book.add_routes(app)
    api_scan_templates.add_routes(app)
    api_scans.add_routes(app)
    api_mailboxes.add_routes(app)
    add_audit_routes(app, PREFIX)
