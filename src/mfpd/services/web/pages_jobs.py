"""The Jobs pages (the list, a job's details, cancel / hold / release) and the Print page,
where a file uploaded from the browser becomes a job like any other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import BodyPartReader, web

from mfpd.services.web import access
from mfpd.services.web.actions import JOB_ACTIONS, ActionError, job_action
from mfpd.services.web.pages_render import (
    actor,
    ctx_of,
    error_page,
    flash,
    render,
    safe_next,
    see_other,
)
from mfpd.services.web.print_ways import ways_to_print
from mfpd.services.web.scan_context import find_job, other_jobs
from mfpd.services.web.submit import UploadError, submit
from mfpd.services.web.views import job_view, jobs_view

READ_SIZE = 256 * 1024
MAX_FIELD = 1024
OPTION_FIELDS = ("name", "copies", "passcode", "hold")
COMPLETED_SHOWN = 100


def job_flags(job: dict[str, Any], admin: bool) -> dict[str, bool]:
    """Which actions a job's row offers; static/jobs.js repeats this rule for live rows.
    A scan job is canceled, never held."""
    state = job["state"]
    terminal = state in ("completed", "canceled", "aborted")
    return {
        # A fax being sent is not in the print queue: it ends on its own (device/fax_jobs.py).
        "cancel": admin and not terminal and job.get("kind") != "fax-send",
        "hold": admin and state == "pending" and job.get("kind") == "print",
        "release": state == "held" and (admin or job["secure"]),
        "passcode": state == "held" and job["secure"],
    }


def _rows(jobs: list[dict[str, Any]], admin: bool) -> list[dict[str, Any]]:
    return [{**job, "can": job_flags(job, admin)} for job in jobs]


async def get_jobs_page(request: web.Request) -> web.Response:
    return _jobs_page(request)


def _jobs_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    ctx = ctx_of(request)
    spool, others = ctx.spool, other_jobs(ctx)
    admin = access.is_operator(request)
    return render(
        request,
        "jobs.html",
        "jobs",
        "Jobs",
        status=status,
        error=error,
        active=_rows(jobs_view(spool, "active", others=others), admin),
        completed=_rows(jobs_view(spool, "completed", COMPLETED_SHOWN, others), admin),
    )


def _job_id(request: web.Request) -> int:
    try:
        job_id = int(request.match_info["job_id"])
    except ValueError:
        raise web.HTTPNotFound(text="404 Not Found\n") from None
    if not 1 <= job_id < 2**31:
        raise web.HTTPNotFound(text="404 Not Found\n")
    return job_id


async def get_job_page(request: web.Request) -> web.Response:
    return _job_page(request, _job_id(request))


def _job_page(
    request: web.Request, job_id: int, *, error: str = "", status: int = 200
) -> web.Response:
    job = find_job(ctx_of(request), job_id)
    if job is None:
        return error_page(request, 404, f"There is no job {job_id}: it may have been removed.")
    view = job_view(job)
    return render(
        request,
        "job.html",
        "jobs",
        f"Job {job_id}",
        status=status,
        error=error,
        job={**view, "can": job_flags(view, access.is_operator(request))},
    )


async def post_job_action(request: web.Request) -> web.StreamResponse:
    job_id = _job_id(request)
    action = request.match_info["action"]
    form = await request.post()
    passcode = form.get("passcode", "")
    back = safe_next(str(form.get("next", "")), "/jobs")
    on_job_page = back == f"/jobs/{job_id}"
    try:
        message = job_action(
            ctx_of(request).spool,
            job_id,
            action,
            admin=access.is_operator(request),
            passcode=passcode if isinstance(passcode, str) else "",
            scans=ctx_of(request).scans,
        )
    except ActionError as exc:
        if exc.status == 401:
            return access.unauthorized(request, str(exc))
        if on_job_page:
            return _job_page(request, job_id, error=str(exc), status=exc.status)
        return _jobs_page(request, error=str(exc), status=exc.status)
    access.web_state(request).log.record("job", f"{message} (by {actor(request)})", job=job_id)
    flash(request, message.capitalize() + ".")
    raise see_other(request, back)


async def get_print_page(request: web.Request) -> web.Response:
    return _print_page(request)


def _print_page(
    request: web.Request,
    *,
    error: str = "",
    status: int = 200,
    values: dict[str, str] | None = None,
) -> web.Response:
    ctx = ctx_of(request)
    config = ctx.config
    host = access.request_host(request) or ctx.device.identity.hostname
    return render(
        request,
        "print.html",
        "print",
        "Print",
        status=status,
        error=error,
        values=values or {},
        ways=ways_to_print(access.web_state(request).live_port, host, config.services.lpd.queues),
        max_upload=min(config.web.max_upload_bytes, config.spool.max_job_bytes),
        passcode_max=config.ipp.job_password_max,
        accepting=ctx.device.accepting,
    )


async def post_print(request: web.Request) -> web.StreamResponse:
    """The form puts its options before the file (and the CSRF token before both), so the
    document streams to the spool as it arrives, never whole in memory."""
    ctx = ctx_of(request)
    config = ctx.config
    reader, first = await access.multipart_of(request)
    options: dict[str, str] = {}
    part = first if isinstance(first, BodyPartReader) else None
    while True:
        if part is None:
            try:
                nxt = await reader.next()
            except ValueError as exc:
                return _print_page(request, error=f"The upload is malformed: {exc}", status=400)
            if nxt is None:
                return _print_page(request, error="Choose a file to print.", status=400)
            if not isinstance(nxt, BodyPartReader):
                continue
            part = nxt
        if part.name == "file":
            break
        if part.name in OPTION_FIELDS:
            raw = await part.read(decode=False)
            options[part.name] = raw[:MAX_FIELD].decode("utf-8", "replace").strip()
        part = None
    values = {k: v for k, v in options.items() if k != "passcode"}
    if not part.filename:
        return _print_page(request, error="Choose a file to print.", status=400, values=values)
    try:
        copies = int(options.get("copies") or "1")
    except ValueError:
        copies = 0
    if not 1 <= copies <= 999:
        return _print_page(
            request, error="Copies must be a number from 1 to 999.", status=400, values=values
        )
    passcode = options.get("passcode", "")
    limit = config.ipp.job_password_max
    if passcode and (limit == 0 or len(passcode.encode()) > limit or not passcode.isprintable()):
        message = (
            "Secure print is turned off on this printer."
            if limit == 0
            else f"The passcode is at most {limit} characters, printable ones only."
        )
        return _print_page(request, error=message, status=400, values=values)
    try:
        job = await submit(
            ctx.device,
            ctx.spool,
            _chunks(part),
            name=options.get("name") or part.filename,
            user=access.user_of(request) or "anonymous",
            format=part.headers.get("Content-Type"),
            copies=copies,
            host=request.remote or "",
            max_bytes=min(config.web.max_upload_bytes, config.spool.max_job_bytes),
            passcode=passcode,
            hold=options.get("hold", "") in ("1", "on", "true", "yes"),
        )
    except UploadError as exc:
        response = _print_page(request, error=str(exc), status=exc.status, values=values)
        if exc.status == 413:
            response.force_close()  # the rest of the upload is not worth reading
        return response
    secure = " It waits for its passcode." if passcode else ""
    flash(request, f"Job {job.id} “{job.name}” was sent to the printer.{secure}")
    raise see_other(request, f"/jobs/{job.id}")


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(READ_SIZE):
        yield chunk


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/jobs", get_jobs_page)
    r.add_get("/jobs/{job_id}", get_job_page)
    r.add_post(f"/jobs/{{job_id}}/{{action:{'|'.join(JOB_ACTIONS)}}}", post_job_action)
    r.add_get("/print", get_print_page)
    r.add_post("/print", post_print)
