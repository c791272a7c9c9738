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
    """Every job attribute the job has a value for.

    A value the device does not know yet is left out, never sent as the out-of-band
    'unknown': ipptool's ipp-1.1 checks (Get-Jobs, Get-Job-Attributes) accept an integer,
    'no-value' or nothing for the job size attributes, and fail a whole Get-Jobs answer on
    one 'unknown'. cupsd, too, leaves out what it does not know. Per attribute:
    - job-impressions (RFC 8011 5.3.17.2, OPTIONAL): the job's size in impressions, "if
      known"; known once the engine has counted the pages. Until then (a job waiting, held,
      or canceled before its turn) it is left out: 0 would say the job is empty
      (ippeveprinter and PAPPL send 0 until their print command reports a count).
    - job-k-octets (5.3.17.1), number-of-documents (5.3.12): what has arrived so far, 0 for
      a Create-Job without documents; always known.
    - job-impressions-completed, job-media-sheets-completed (5.3.18.2, 5.3.18.3): counters,
      0 until printing starts, as in ippeveprinter.
    - job-media-sheets (5.3.17.3, integer(1:MAX)) and job-k-octets-processed: not kept, so
      not sent.
    - time-at-processing / -completed and date-time-at-* (5.3.14): 'no-value' until the
      event happens, as ipptool expects and ippeveprinter and cupsd send.
    - document-format-detected (PWG 5100.7): set when the document data is in; left out
      while no document has arrived (nothing was detected yet), as ippeveprinter does.
    """
    reasons = [r for r in job.state_reasons if r] or ["none"]
    impressions = job.impressions
    detected = job.attributes.get("document-format-detected") or (
        job.format if job.documents else None
    )
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
        *([b.integer("job-impressions", impressions)] if impressions is not None else []),
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
        *([b.mime("document-format-detected", str(detected))] if detected else []),
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
