"""Job attributes (RFC 8011 5.3, PWG 5100.7) of a spool job, whatever protocol sent it."""

from __future__ import annotations

import time

from mfpd.codecs.ipp.tags import ValueTag
from mfpd.codecs.ipp.values import Attribute
from mfpd.device.jobs import Job
from mfpd.device.machine import Device
from mfpd.services.ipp import build as b

# RFC 8011 4.3.4.1: what Get-Jobs returns when no requested-attributes are given.
GET_JOBS_DEFAULT = ("job-id", "job-uri")


def job_uri(printer_uri: str, job: Job) -> str:
    return f"{printer_uri}/{job.id}"


def _uptime(device: Device, when: float | None) -> int:
    # time-at-* are in printer-up-time seconds; events before this start read as 0.
    return max(0, int((when or 0) - device.started_at)) if when else 0


def _date(name: str, when: float | None) -> Attribute:
    return b.date(name, when) if when else Attribute.of(name, ValueTag.NO_VALUE)


def _time(name: str, device: Device, when: float | None) -> Attribute:
    if not when:
        return Attribute.of(name, ValueTag.NO_VALUE)
    return b.integer(name, _uptime(device, when))


def job_attributes(job: Job, device: Device, printer_uri: str) -> list[Attribute]:
    reasons = [r for r in job.state_reasons if r] or ["none"]
    impressions = job.impressions
    return [
        b.integer("job-id", job.id),
        b.uri("job-uri", job_uri(printer_uri, job)),
        b.uri("job-printer-uri", printer_uri),
        b.name_("job-name", job.name),
        b.name_("job-originating-user-name", job.user),
        b.enum("job-state", job.state.ipp),
        b.keyword("job-state-reasons", *reasons),
        b.text("job-state-message", job.state_message or job.state.value),
        b.mime("document-format", job.format),
        b.integer("copies", job.copies),
        b.integer("number-of-documents", len(job.documents)),
        b.integer("job-k-octets", (job.bytes + 1023) // 1024),
        b.integer("job-impressions", impressions)
        if impressions is not None
        else b.unknown("job-impressions"),
        b.integer("job-impressions-completed", job.impressions_completed),
        b.integer("job-media-sheets-completed", job.sheets_completed),
        b.integer("job-printer-up-time", max(1, int(time.time() - device.started_at))),
        _time("time-at-creation", device, job.created_at),
        _time("time-at-processing", device, job.processing_at),
        _time("time-at-completed", device, job.completed_at),
        _date("date-time-at-creation", job.created_at),
        _date("date-time-at-processing", job.processing_at),
        _date("date-time-at-completed", job.completed_at),
        b.integer("job-priority", job.priority),
        b.keyword("job-hold-until", str(job.attributes.get("job-hold-until", "no-hold"))),
        # PWG 5100.7: what the sender said the data was, and what the printer found it to be.
        b.mime("document-format-supplied", str(job.attributes.get("document-format", job.format))),
        b.mime(
            "document-format-detected",
            str(job.attributes.get("document-format-detected", job.format)),
        ),
        *_template(job),
    ]


def _template(job: Job) -> list[Attribute]:
    """The job template values the job was given (RFC 8011 5.2), where it named them."""
    attrs = []
    for name in ("media", "sides"):
        value = job.attributes.get(name)
        if isinstance(value, str):
            attrs.append(b.keyword(name, value))
    return attrs
