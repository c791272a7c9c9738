"""eSCL (Mopria/Apple eSCL 2.x) under /eSCL on the web listeners (http 80, https 443, and
the IPP port, which serves the same application):

- GET  /eSCL/ScannerCapabilities, GET /eSCL/ScannerStatus
- POST /eSCL/ScanJobs: 201 with an absolute Location ending in the JobUuid; 400 naming the
  ScanSettings element at fault, 409 when the feeder is empty, jammed or open, 503 when the
  scanner is busy, 413 over [scan] max_settings_bytes
- GET  /eSCL/ScanJobs/{uuid}/NextDocument: the next image, streamed from its file; 503 with
  Retry-After while it is being scanned, 404 after the last one
- GET  /eSCL/ScanJobs/{uuid}/ScanImageInfo, DELETE /eSCL/ScanJobs/{uuid}

Documents come from the sans-I/O codec (codecs/escl.py); jobs from the scan runner
(ctx.scans, device/scan_jobs.py). Access (open, or HTTP Basic with [scan] require_auth) is
decided before these handlers run (services/web/access.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from aiohttp import web

from mfpd.codecs import escl
from mfpd.device.scan_jobs import NotReady, ScanBusy, ScanJob, ScanJobs, ScanRefused
from mfpd.device.scan_settings import ScanSettingsError
from mfpd.log_limit import LogLimit
from mfpd.services.base import ServiceContext
from mfpd.services.ipp.printer_attributes import ICON_PATH
from mfpd.services.web.access import user_of
from mfpd.services.web.state import SERVICE

PREFIX = "/eSCL"
JOBS_PATH = f"{PREFIX}/ScanJobs"
XML_TYPE = "text/xml"
# How long a NextDocument request waits for an image being scanned before the 503: long
# enough that a client polls a few times per page, short of any client's HTTP timeout.
NEXT_WAIT = 5.0
RETRY_AFTER = "1"
CHUNK = 256 * 1024
# ScannerStatus lists the newest jobs only: a status document stays small whatever the
# history holds.
STATUS_JOBS = 32

log = logging.getLogger("mfpd.escl")
_LOG_LIMIT = web.AppKey("mfpd.escl_log_limit", LogLimit)
# One NextDocument at a time per job (by JobUuid). A client has the whole image when the
# last byte arrives, and may ask for the next on another connection before this handler has
# marked the image retrieved: without the lock it would be sent the same image twice (seen
# with sane-airscan: 11 pages from 10 sheets).
_SENDING: web.AppKey[dict[str, asyncio.Lock]] = web.AppKey("mfpd.escl_sending")


def add_escl_routes(app: web.Application) -> None:
    app[_LOG_LIMIT] = LogLimit("bad eSCL requests", log=log, prefix="escl")
    app[_SENDING] = {}
    r = app.router
    r.add_get(f"{PREFIX}/ScannerCapabilities", get_capabilities)
    r.add_get(f"{PREFIX}/ScannerStatus", get_status)
    r.add_post(JOBS_PATH, post_scan_job)
    # No HEAD: answering one would count the image as retrieved and drop it.
    r.add_get(JOBS_PATH + "/{uuid}/NextDocument", get_next_document, allow_head=False)
    r.add_get(JOBS_PATH + "/{uuid}/ScanImageInfo", get_image_info)
    r.add_delete(JOBS_PATH + "/{uuid}", delete_scan_job)


def _ctx(request: web.Request) -> ServiceContext:
    ctx: ServiceContext = request.app[SERVICE].ctx
    return ctx


def _scans(request: web.Request) -> ScanJobs:
    """The scan runner; 503 while the scanner is switched off ([scan] enabled = false)."""
    ctx = _ctx(request)
    if ctx.scans is None or not ctx.config.scan.enabled:
        raise web.HTTPServiceUnavailable(text="503: the scanner is switched off\n")
    return ctx.scans


def _xml(body: bytes, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, content_type=XML_TYPE, charset="utf-8")


def _base(request: web.Request) -> str:
    """scheme://host[:port] as the client reached us (Host header): the Location and the
    URIs in documents are absolute and must lead back the same way."""
    return f"{request.scheme}://{request.host}"


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    limit = request.app[_LOG_LIMIT]
    if limit.allow():
        log.warning("escl: %s: %s %s: %d %s", request.remote, request.method, request.path,
                    status, message)  # fmt: skip
    return web.Response(status=status, text=f"{status}: {message}\n")


async def get_capabilities(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    _scans(request)
    identity = ctx.device.identity
    base = _base(request)
    body = escl.capabilities(
        escl.Identity(
            make_and_model=identity.make_and_model,
            serial_number=identity.serial_number,
            uuid=identity.uuid.removeprefix("urn:uuid:"),
            admin_uri=f"{base}/",
            icon_uri=f"{base}{ICON_PATH}",
        ),
        feeder_capacity=ctx.device.scanner.capacity,
    )
    return _xml(body)


def _job_info(job: ScanJob, now: float) -> escl.JobInfo:
    record = job.job
    completed = len(job.images)
    return escl.JobInfo(
        uri=f"{JOBS_PATH}/{job.uuid}",
        uuid=job.uuid,
        age=max(0, int(now - record.created_at)),
        images_completed=completed,
        # A job that ended holds nothing more: what it had not given out went with it.
        images_to_transfer=0 if record.state.terminal else max(0, completed - job.served),
        state=escl.job_state(record.state.value),
        reasons=tuple(escl.job_state_reason(r) for r in record.state_reasons if r != "none"),
    )


async def get_status(request: web.Request) -> web.StreamResponse:
    scanner = _ctx(request).device.scanner
    scans = _scans(request)
    now = time.time()
    jobs = [_job_info(job, now) for job in reversed(scans.jobs()[-STATUS_JOBS:])]
    state = scanner.state.value
    if state == "Idle" and scans.live():
        # The scan service is Processing while a job is (PWG 5108.02 ScanServiceState), not
        # only while the glass is read: a job whose pages wait for its client keeps it so.
        # The escl backend reads Idle with an empty feeder as the end of a feeder job, and
        # would leave the pages already scanned behind.
        state = "Processing"
    return _xml(escl.status(state, scanner.adf_state, jobs))


async def _read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` (reading stops there)."""
    if (request.content_length or 0) > limit:
        return None
    data = bytearray()
    while chunk := await request.content.read(min(65536, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def post_scan_job(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    scans = _scans(request)
    limit = ctx.config.scan.max_settings_bytes
    data = await _read_bounded(request, limit)
    if data is None:
        # Connection: close: the rest of an oversized body is never read.
        response = _refuse(request, 413, f"a ScanSettings document is at most {limit} bytes")
        response.force_close()
        return response
    try:
        settings = escl.parse_scan_settings(data)
    except ScanSettingsError as exc:
        return _refuse(request, 400, f"ScanSettings: {exc.element}: {exc.message}")
    try:
        job = scans.create(
            settings,
            source="escl",
            user=user_of(request) or "",
            host=request.remote or "",
            name=f"eSCL scan from {request.remote or 'unknown'}",
        )
    except ScanRefused as exc:
        # eSCL: a Feeder job while the feeder cannot feed is 409 Conflict; ScannerStatus
        # says why (AdfState).
        return _refuse(request, 409, f"the document feeder cannot feed: {exc.reason}")
    except ScanBusy as exc:
        response = _refuse(request, 503, f"the scanner is busy: {exc}")
        response.headers["Retry-After"] = RETRY_AFTER
        return response
    log.info("escl: %s: job %d (%s) created: %s %s %d dpi %s%s", request.remote, job.job.id,
             job.uuid, settings.source.value, settings.color_mode.value, settings.resolution,
             settings.format, " duplex" if settings.duplex else "")  # fmt: skip
    location = f"{_base(request)}{JOBS_PATH}/{job.uuid}"
    return web.Response(status=201, headers={"Location": location})


def _job(request: web.Request) -> ScanJob:
    job = _scans(request).get(request.match_info["uuid"])
    if job is None:
        raise web.HTTPNotFound(text="404: no such scan job\n")
    job.touch()
    return job


def _ended(job: ScanJob) -> web.HTTPNotFound:
    # eSCL: 404 once there is nothing more to fetch; why the job ended is in ScannerStatus
    # (JobState, JobStateReasons, AdfState), where the clients look after a 404.
    return web.HTTPNotFound(text=f"404: no more images ({job.job.state.value})\n")


async def get_next_document(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    sending = request.app[_SENDING]
    lock = sending.setdefault(job.uuid, asyncio.Lock())
    try:
        async with lock:
            return await _next_document(request, job)
    finally:
        if not lock.locked() and job.job.state.terminal:
            sending.pop(job.uuid, None)
        # Jobs their clients left behind: their locks go once the jobs have ended.
        if len(sending) > STATUS_JOBS:
            scans = _scans(request)
            for key in [k for k, v in sending.items() if not v.locked()]:
                found = scans.get(key)
                if found is None or found.job.state.terminal:
                    del sending[key]


async def _next_document(request: web.Request, job: ScanJob) -> web.StreamResponse:
    if job.job.state.terminal:
        # Canceled, abandoned or aborted: the images not fetched went with the job.
        raise _ended(job)
    try:
        image = await job.next_image(NEXT_WAIT)
    except NotReady:
        return web.Response(
            status=503, text="503: the page is being scanned\n",
            headers={"Retry-After": RETRY_AFTER},
        )  # fmt: skip
    if image is None or job.job.state.terminal:
        raise _ended(job)
    try:
        file = await asyncio.to_thread(open, image.path, "rb")
    except OSError as exc:
        if job.job.state.terminal:  # canceled while this request waited
            raise _ended(job) from None
        log.error("escl: job %d image %d: %s", job.job.id, image.number, exc)
        raise web.HTTPInternalServerError(text="500: the image is gone\n") from None
    try:
        size = os.fstat(file.fileno()).st_size
        response = web.StreamResponse(headers={"Cache-Control": "no-store"})
        response.content_type = image.format
        response.content_length = size
        await response.prepare(request)
        # Streamed from the file a chunk at a time: a 600 dpi page is never held whole.
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            await response.write(chunk)
        await response.write_eof()
    finally:
        file.close()
    # Sent whole: the file may go now; the last image completes the job.
    _scans(request).retrieved(job, image)
    return response


async def get_image_info(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    if job.served < 1:
        raise web.HTTPNotFound(text="404: no image retrieved yet\n")
    image = job.images[job.served - 1]
    info = escl.ImageInfo(
        job_uri=f"{JOBS_PATH}/{job.uuid}",
        job_uuid=job.uuid,
        width=image.width,
        height=image.height,
        bytes_per_line=escl.bytes_per_line(image.width, str(image.color_mode)),
    )
    return _xml(escl.image_info(info))


async def delete_scan_job(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    _scans(request).cancel(job)
    log.info("escl: %s: job %d (%s) canceled", request.remote, job.job.id, job.uuid)
    return web.Response(status=200)
