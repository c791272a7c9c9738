"""Job template values (RFC 8011 5.2) the printer accepts, and Get-Jobs' job selection."""

from __future__ import annotations

from mfpd.codecs.ipp.values import Attribute, Range
from mfpd.device.jobs import Job, JobState
from mfpd.services.ipp.printer_attributes import (
    CONTENT_OPTIMIZE,
    FINISHINGS,
    JOB_HOLD_UNTIL,
    MEDIA_SIZES,
    RENDERING_INTENTS,
    SIDES,
)

PRINT_COLOR_MODES = ("auto", "color", "monochrome")


# PWG 5100.7 which-jobs: a job state keyword selects the jobs in that state.
STATE_KEYWORDS = {
    "aborted": JobState.ABORTED,
    "canceled": JobState.CANCELED,
    "pending": JobState.PENDING,
    "pending-held": JobState.HELD,
    "processing": JobState.PROCESSING,
    "processing-stopped": JobState.STOPPED,
}


def which_jobs_match(job: Job, which: str) -> bool:
    """Whether Get-Jobs' which-jobs value selects the job (RFC 8011 4.2.6.1, PWG 5100.7)."""
    if which == "all":
        return True
    if which in ("completed", "not-completed"):
        return (which == "completed") == job.state.terminal
    return job.state is STATE_KEYWORDS.get(which)


def supported(attr: Attribute) -> bool:
    """Whether a job template attribute's value is one the printer offers."""
    value = attr.value
    name = attr.name
    if name == "copies":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 999
    if name == "sides":
        return value in SIDES
    if name == "media":
        return value in MEDIA_SIZES
    if name == "print-color-mode":
        return value in PRINT_COLOR_MODES
    if name == "print-quality":
        return value in (3, 4, 5)
    if name == "orientation-requested":
        return value in (3, 4, 5, 6)
    if name == "finishings":
        return all(v in FINISHINGS for v in attr.values)
    if name == "page-ranges":
        return all(isinstance(r, Range) and 1 <= r.low <= r.high for r in attr.values)
    if name == "print-content-optimize":
        return value in CONTENT_OPTIMIZE
    if name == "print-rendering-intent":
        return value in RENDERING_INTENTS
    if name == "output-bin":
        return value == "face-down"
    if name == "job-hold-until":
        return value in JOB_HOLD_UNTIL
    if name == "job-priority":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100
    if name == "job-name":
        return isinstance(value, str) and len(value.encode()) <= 255
    return name in ("media-col", "printer-resolution")
