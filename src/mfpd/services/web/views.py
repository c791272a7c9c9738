"""The device and its jobs as plain data: what /api/v1 returns and the pages render, so the
two never disagree (both read the one device model)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mfpd.device import secure_print
from mfpd.device.fax_jobs import SEND, FaxJobs
from mfpd.device.jobs import Job
from mfpd.device.machine import Device
from mfpd.device.spool import Spool

# Job attributes worth showing beside the record's own fields.
_SHOWN_ATTRIBUTES = (
    "document-format-detected",
    "job-priority",
    "media",
    "sides",
    "print-color-mode",
    "job-hold-until",
    "queue",
    "from",  # a received fax's sender (services/ifax_receive.py)
    "delivery",  # a sent fax's outcome (device/fax_jobs.py)
    "template",  # the walk-up scan's
)


def status_view(device: Device, spool: Spool, faxes: FaxJobs | None = None) -> dict[str, Any]:
    status = device.status()
    if faxes is not None:
        status["fax"] = faxes.status(spool)
    active = spool.active()
    status["jobs"] = {
        "active": len(active),
        "printing": next((j.id for j in active if j.state.value == "processing"), None),
    }
    status["hold_new_jobs"] = device.hold_new_jobs
    status["paused"] = device.paused
    return status


def job_view(job: Job) -> dict[str, Any]:
    attributes = {
        key: job.attributes[key]
        for key in _SHOWN_ATTRIBUTES
        if key in job.attributes and isinstance(job.attributes[key], str | int)
    }
    scan = job.kind == "scan"
    return {
        "id": job.id,
        "kind": job.kind,
        "name": job.name,
        "user": job.user,
        "source": job.source,
        "format": job.format,
        "state": job.state.value,
        "state_reasons": list(job.state_reasons),
        "state_message": job.state_message,
        # A scan's pages are the images scanned so far.
        "pages": job.impressions_completed if scan else job.pages,
        "copies": job.copies,
        "impressions": job.impressions,
        "impressions_completed": job.impressions_completed,
        "sheets_completed": job.sheets_completed,
        "bytes": job.bytes,
        "created_at": job.created_at,
        "processing_at": job.processing_at,
        "completed_at": job.completed_at,
        "originating_host": job.originating_host,
        "secure": secure_print.PASSWORD_WAIT in job.state_reasons,
        "priority": job.priority,
        "attributes": attributes,
        **({"recipients": list(job.attributes.get("recipients", []))} if job.kind == SEND else {}),
        # Scan jobs: the first image, small (the runner writes it once scanned), and where
        # the scan went.
        "thumbnail": f"/api/v1/jobs/{job.id}/thumbnail" if scan else None,
        "destinations": _destinations(job) if scan else [],
    }


def _destinations(job: Job) -> list[str]:
    shown = job.attributes.get("destinations")
    return [str(d) for d in shown] if isinstance(shown, list) else []


def jobs_view(
    spool: Spool, which: str = "all", limit: int = 500, others: Iterable[Job] = ()
) -> list[dict[str, Any]]:
    """Newest first. which: active, completed (any final state) or all. `others`: jobs kept
    outside the spool that the list shows too (scan, fax-send)."""
    jobs = sorted([*spool, *others], key=lambda j: j.id, reverse=True)
    if which == "active":
        jobs = [j for j in jobs if not j.state.terminal]
    elif which == "completed":
        jobs = [j for j in jobs if j.state.terminal]
    return [job_view(j) for j in jobs[:limit]]
