"""A document uploaded from the browser (Print page) or a script (POST /api/v1/jobs) becomes a
job like any other: streamed to the spool in pieces, never whole in memory, and recorded as
aborted, not lost, when the upload breaks off."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from mfpd.device import secure_print
from mfpd.device.jobs import Job
from mfpd.device.machine import Device
from mfpd.device.spool import JobTooLarge, Spool

log = logging.getLogger("mfpd.web")

OCTET_STREAM = "application/octet-stream"
MAX_NAME = 255


class UploadError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def submit(
    device: Device,
    spool: Spool,
    body: AsyncIterator[bytes],
    *,
    name: str,
    user: str,
    format: str | None,
    copies: int,
    host: str,
    max_bytes: int,
    passcode: str = "",
    hold: bool = False,
    trailer: Callable[[], Awaitable[dict[str, str]]] | None = None,
) -> Job:
    """`trailer` reads what follows the document (form fields after a form's file part): the
    fields it answers (name, copies, passcode, hold) apply; an UploadError from it refuses
    the job, which is then recorded as aborted."""
    if not device.accepting:
        raise UploadError("the printer is not accepting jobs", 503)
    if not 1 <= copies <= 999:
        raise UploadError("copies must be between 1 and 999")
    job = spool.create(
        "web",
        name=name[:MAX_NAME],
        user=user[:MAX_NAME] or "anonymous",
        format=None if not format or format == OCTET_STREAM else format,
        copies=copies,
        host=host,
    )
    writer = spool.open_document(job)
    try:
        async for chunk in body:
            if job.bytes + len(chunk) > max_bytes:
                raise JobTooLarge(f"the upload exceeds web.max_upload_bytes ({max_bytes} bytes)")
            writer.write(chunk)
    except JobTooLarge as exc:
        spool.close_document(writer)
        spool.abort(job, ["aborted-by-system", "job-too-large"], str(exc))
        raise UploadError(str(exc), 413) from None
    except (ConnectionError, OSError, ValueError, asyncio.CancelledError) as exc:
        # ValueError: aiohttp's multipart reader on a malformed body.
        spool.close_document(writer)
        spool.abort(
            job,
            ["aborted-by-system", "job-data-insufficient"],
            f"upload from {host} ended after {job.bytes} bytes: {exc or type(exc).__name__}",
        )
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise UploadError(f"the upload broke off: {exc or type(exc).__name__}") from None
    spool.close_document(writer)
    if trailer is not None:
        try:
            late = await trailer()
        except UploadError as exc:
            spool.abort(job, ["aborted-by-system", "job-data-insufficient"], str(exc))
            raise
        if late.get("name"):
            job.name = late["name"][:MAX_NAME]
        if "copies" in late:
            try:
                job.copies = int(late["copies"])
            except ValueError:
                job.copies = 0
            if not 1 <= job.copies <= 999:
                spool.abort(job, ["aborted-by-system"], "copies must be between 1 and 999")
                raise UploadError("copies must be between 1 and 999")
        passcode = late.get("passcode", passcode)
        hold = truthy(late["hold"]) if "hold" in late else hold
    if job.bytes == 0:
        spool.abort(job, ["aborted-by-system", "job-data-insufficient"], "empty document")
        raise UploadError("the document is empty")
    if passcode:
        # The same PWG 5100.11 secure print as IPP's job-password: held until released
        # with the passcode at the device (or the web UI's release form).
        secure_print.protect(job, passcode.encode(), "none")
        spool.hold(job, secure_print.PASSWORD_WAIT)
    elif hold:
        spool.hold(job)
    elif device.hold_new_jobs:
        spool.hold(job, "job-held-on-create")
    spool.finish(job)
    log.info("web: %s: job %d accepted (%d bytes)", host, job.id, job.bytes)
    return job


def truthy(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")
