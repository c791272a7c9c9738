"""What the web UI and the API do to jobs and to the device, with who may do it:
cancel and hold are an operator's (or the administrator's); a held job is released by them, a
secure-print job (PWG 5100.11) only with its passcode, by anybody who has it; operator
actions (refill, raise or clear a fault, pause) are an operator's; overwrite the administrator's."""

from __future__ import annotations

import logging

from mfpd.device import secure_print
from mfpd.device.machine import Device, DeviceError
from mfpd.device.operator import FAULTS, apply_fault
from mfpd.device.scan_jobs import ScanJob, ScanJobs
from mfpd.device.spool import Spool

log = logging.getLogger("mfpd.web")

JOB_ACTIONS = ("cancel", "hold", "release")
DEVICE_ACTIONS = ("refill", "fault", "clear", "pause", "resume", "overwrite")


class ActionError(Exception):
    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def job_action(
    spool: Spool,
    job_id: int,
    action: str,
    *,
    admin: bool,
    passcode: str,
    scans: ScanJobs | None = None,
) -> str:
    job = spool.get(job_id)
    scan = scans.get(job_id) if job is None and scans is not None else None
    if scan is not None:
        return _scan_action(scans, scan, action, admin=admin)
    if job is None:
        raise ActionError(f"no job {job_id}", 404)
    if action not in JOB_ACTIONS:
        raise ActionError(f"unknown action {action!r} (one of: {', '.join(JOB_ACTIONS)})", 400)
    secure = secure_print.PASSWORD_WAIT in job.state_reasons
    if action == "release" and secure:
        if not passcode:
            raise ActionError(f"job {job.id} is a secure-print job: its passcode is needed", 403)
        if not secure_print.verify(job, passcode):
            log.warning("web: wrong passcode for secure job %d", job.id)
            raise ActionError(f"job {job.id}: wrong passcode", 403)
    elif not admin:
        raise ActionError("operator or administrator login required", 401)
    if action == "cancel":
        done = spool.cancel(job, "job-canceled-by-operator")
    elif action == "hold":
        done = spool.hold(job)
    else:
        done = spool.release(job)
    if not done:
        raise ActionError(f"job {job.id} is {job.state.value}: cannot {action} it")
    past = {"cancel": "canceled", "hold": "held", "release": "released"}[action]
    return f"job {job.id} {past}"


def _scan_action(scans: ScanJobs | None, scan: ScanJob, action: str, *, admin: bool) -> str:
    """A scan job is canceled like a print job (by an operator); it is never held."""
    if action not in JOB_ACTIONS:
        raise ActionError(f"unknown action {action!r} (one of: {', '.join(JOB_ACTIONS)})", 400)
    if not admin:
        raise ActionError("operator or administrator login required", 401)
    if action != "cancel":
        raise ActionError(f"job {scan.job.id} is a scan job: it cannot be {action}ed")
    assert scans is not None
    if not scans.cancel(scan, "job-canceled-by-operator"):
        raise ActionError(f"job {scan.job.id} is {scan.job.state.value}: cannot cancel it")
    return f"job {scan.job.id} canceled"


def device_action(device: Device, action: str, kind: str, target: str) -> str:
    try:
        if action == "refill":
            return "refilled " + ", ".join(device.refill(target or "all"))
        if action in ("fault", "clear"):
            if action == "clear" and not kind:
                for name in ("jam", "door-open", "offline"):
                    apply_fault(device, name, True, None)
                return "jam, door-open and offline cleared"
            if kind not in FAULTS:
                raise ActionError(f"unknown fault {kind!r} (one of: {', '.join(FAULTS)})", 400)
            return apply_fault(device, kind, action == "clear", target or None)
        if action in ("pause", "resume"):
            device.set_paused(action == "pause")
            return "printer paused" if action == "pause" else "printer resumed"
    except DeviceError as exc:
        raise ActionError(str(exc), 400) from None
    raise ActionError(f"unknown action {action!r} (one of: {', '.join(DEVICE_ACTIONS)})", 400)
