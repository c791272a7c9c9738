"""Where the web server finds the scanner's parts on the ServiceContext (the sealed-secret
store, the mailboxes, the originals, the scan jobs), and the job lookups that cover both
kinds of job: print jobs live in the spool, scan jobs in ctx.scans, one id sequence."""

from __future__ import annotations

from typing import Any

from mfpd.device.jobs import Job
from mfpd.device.mailboxes import Mailboxes
from mfpd.device.originals import Originals
from mfpd.device.scan_jobs import ScanJob, ScanJobs
from mfpd.security.secrets import Secrets
from mfpd.services.base import ServiceContext
from mfpd.services.web.views import job_view


class ScannerMissing(Exception):
    """This listener's context has no scanner (a unit test's, or a daemon without one)."""


def secrets_of(ctx: ServiceContext) -> Secrets:
    # The daemon's own; a context built without one (unit tests) reads the same key file.
    return ctx.secrets or Secrets(ctx.state_dir)


def mailboxes_of(ctx: ServiceContext) -> Mailboxes:
    return ctx.mailboxes or Mailboxes(ctx.state_dir, lambda: ctx.config.scan)


def scans_of(ctx: ServiceContext) -> ScanJobs:
    scans = ctx.scans
    if scans is None:
        raise ScannerMissing("there is no scanner on this device")
    return scans


def originals_of(ctx: ServiceContext) -> Originals:
    originals = ctx.originals
    if originals is None:
        raise ScannerMissing("there is no scanner on this device")
    return originals


def scan_records(ctx: ServiceContext) -> list[Job]:
    return ctx.scans.records() if ctx.scans is not None else []


def other_jobs(ctx: ServiceContext) -> list[Job]:
    """The jobs the lists show that are not in the print spool: scans and faxes being sent."""
    return scan_records(ctx) + (ctx.faxes.jobs() if ctx.faxes is not None else [])


def find_job(ctx: ServiceContext, job_id: int) -> Job | None:
    """A job of any kind (print, scan, fax) by its id."""
    job = ctx.spool.get(job_id)
    if job is not None:
        return job
    scan = find_scan(ctx, job_id)
    if scan is not None:
        return scan.job
    return ctx.faxes.get(job_id) if ctx.faxes is not None else None


def find_scan(ctx: ServiceContext, job_id: int) -> ScanJob | None:
    return ctx.scans.get(job_id) if ctx.scans is not None else None


def recent_scans(ctx: ServiceContext, limit: int) -> list[dict[str, Any]]:
    """The newest scan jobs as the job list shows them."""
    records = sorted(scan_records(ctx), key=lambda j: j.id, reverse=True)
    return [job_view(job) for job in records[:limit]]
