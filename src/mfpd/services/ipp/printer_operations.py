"""Operations on the printer object itself: pause and resume (RFC 8011 4.2.7-4.2.8), enable
and disable (RFC 3998), hold new jobs (PWG 5100.11), purge, identify, and the administrator's
Set-Printer-Attributes / Get-Printer-Supported-Values (RFC 3380).

There is no authentication yet, so every caller is treated as the operator, as on a device
whose administrator has not set up access control.
"""

from __future__ import annotations

import logging

from mfpd.codecs.ipp.tags import DelimiterTag, Operation, StatusCode, ValueTag
from mfpd.codecs.ipp.values import Attribute, AttributeGroup, TextWithLanguage
from mfpd.device.machine import Device, DeviceError
from mfpd.device.spool import Spool
from mfpd.services.ipp.printer_attributes import IDENTIFY_ACTIONS, PRINTER_SETTABLE
from mfpd.services.ipp.request import Body, Handler, IppError, Request, Response

log = logging.getLogger("mfpd.ipp")

# RFC 8011 5.4.x / 5.1.2: printer-location, -info, -organization(-al-unit) are text(127);
# RFC 8011 4.1.2 says a longer value is client-error-request-value-too-long.
TEXT_LIMIT = 127
GEO_LIMIT = 1023


class PrinterOperations:
    def __init__(self, device: Device, spool: Spool) -> None:
        self.device = device
        self.spool = spool

    def handlers(self) -> dict[int, Handler]:
        return {
            Operation.PAUSE_PRINTER: self.pause_printer,
            Operation.RESUME_PRINTER: self.resume_printer,
            Operation.HOLD_NEW_JOBS: self.hold_new_jobs,
            Operation.RELEASE_HELD_NEW_JOBS: self.release_held_new_jobs,
            Operation.ENABLE_PRINTER: self.enable_printer,
            Operation.DISABLE_PRINTER: self.disable_printer,
            Operation.PURGE_JOBS: self.purge_jobs,
            Operation.IDENTIFY_PRINTER: self.identify_printer,
            Operation.SET_PRINTER_ATTRIBUTES: self.set_printer_attributes,
            Operation.GET_PRINTER_SUPPORTED_VALUES: self.get_printer_supported_values,
        }

    async def pause_printer(self, request: Request, body: Body, response: Response) -> None:
        self.device.set_paused(True)
        log.info("ipp: %s: printer paused by %s", request.peer, request.user)

    async def resume_printer(self, request: Request, body: Body, response: Response) -> None:
        self.device.set_paused(False)
        log.info("ipp: %s: printer resumed by %s", request.peer, request.user)

    async def enable_printer(self, request: Request, body: Body, response: Response) -> None:
        """RFC 3998 3.1.1: accept jobs again (printer-is-accepting-jobs true)."""
        self.device.set_accepting(True)
        log.info("ipp: %s: printer enabled by %s", request.peer, request.user)

    async def disable_printer(self, request: Request, body: Body, response: Response) -> None:
        """RFC 3998 3.1.2: refuse new jobs; the jobs already accepted still print."""
        self.device.set_accepting(False)
        log.info("ipp: %s: printer disabled by %s", request.peer, request.user)

    async def hold_new_jobs(self, request: Request, body: Body, response: Response) -> None:
        self.device.set_hold_new_jobs(True)

    async def release_held_new_jobs(self, request: Request, body: Body, response: Response) -> None:
        self.device.set_hold_new_jobs(False)
        for job in self.spool.active():
            if "job-held-on-create" in job.state_reasons:
                self.spool.release(job)

    async def purge_jobs(self, request: Request, body: Body, response: Response) -> None:
        """RFC 8011 4.2.9 (deprecated): cancel every unfinished job. Finished jobs stay in
        the history, which the retention policy trims, so that no accounting is lost."""
        jobs = self.spool.active()
        for job in jobs:
            self.spool.cancel(job, "job-canceled-by-operator")
        log.info(
            "ipp: %s: Purge-Jobs by %s canceled %d job(s)", request.peer, request.user, len(jobs)
        )

    async def identify_printer(self, request: Request, body: Body, response: Response) -> None:
        """PWG 5100.11 4.3: make the device noticeable; shown on the virtual front panel."""
        actions = request.get("identify-actions")
        chosen = [str(v) for v in actions.values] if actions is not None else ["flash"]
        if any(a not in IDENTIFY_ACTIONS for a in chosen):
            response.unsupported += request.as_received("identify-actions")
        text = request.value("message")
        log.info("ipp: %s: identify %s %s", request.peer, ",".join(chosen), text or "")
        if "display" in chosen:
            self.device.set_console(status_message=str(text or "IDENTIFY")[:80])
        self.device.events.publish("printer.identify", actions=chosen, message=text or "")

    async def set_printer_attributes(
        self, request: Request, body: Body, response: Response
    ) -> None:
        """RFC 3380 4.2: all of the changes or none of them."""
        group = request.message.first(DelimiterTag.PRINTER)
        if group is None or not len(group):
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "no printer attributes to set")
        changes: dict[str, str] = {}
        not_settable: list[Attribute] = []
        bad: list[Attribute] = []
        for attr in group:
            field = PRINTER_SETTABLE.get(attr.name)
            if field is None:
                not_settable.append(Attribute.of(attr.name, ValueTag.NOT_SETTABLE))
                continue
            value = _settable_value(attr)
            if value is None:
                bad.append(attr)
                continue
            changes[field] = value
        if not_settable:
            response.unsupported += not_settable
            raise IppError(
                StatusCode.CLIENT_ERROR_ATTRIBUTES_NOT_SETTABLE,
                "not settable: " + ", ".join(a.name for a in not_settable),
            )
        if bad:
            response.unsupported += bad
            raise IppError(
                StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                "bad value for " + ", ".join(a.name for a in bad),
            )
        try:
            self.device.update_identity(**changes)
        except DeviceError as exc:  # pragma: no cover - PRINTER_SETTABLE names editable fields
            raise IppError(StatusCode.SERVER_ERROR_INTERNAL_ERROR, str(exc)) from None
        log.info("ipp: %s: %s set %s", request.peer, request.user, ", ".join(sorted(changes)))

    async def get_printer_supported_values(
        self, request: Request, body: Body, response: Response
    ) -> None:
        """RFC 3380 4.3: the values Set-Printer-Attributes takes; for these text and URI
        attributes that is anything the administrator defines ('admin-define')."""
        wanted = request.get("requested-attributes")
        names = (
            [str(v) for v in wanted.values]
            if wanted is not None and not wanted.is_out_of_band
            else []
        )
        if not names or "all" in names or "printer-description" in names:
            names = list(PRINTER_SETTABLE)
        attrs = [
            Attribute.of(name, ValueTag.ADMIN_DEFINE) for name in names if name in PRINTER_SETTABLE
        ]
        response.groups.append(AttributeGroup(DelimiterTag.PRINTER, tuple(attrs)))


def _settable_value(attr: Attribute) -> str | None:
    """The new value of a settable attribute, or None if its syntax or length is wrong.
    An out-of-band 'delete-attribute' clears the value (RFC 3380 4.2)."""
    if attr.tag == ValueTag.DELETE_ATTRIBUTE:
        return ""
    if len(attr.values) != 1:
        return None
    value = attr.value.text if isinstance(attr.value, TextWithLanguage) else attr.value
    if not isinstance(value, str):
        return None
    if attr.name == "printer-geo-location":
        if attr.tag != ValueTag.URI or not value.startswith("geo:") or len(value) > GEO_LIMIT:
            return None
        return value
    text_tags = (ValueTag.TEXT_WITHOUT_LANGUAGE, ValueTag.TEXT_WITH_LANGUAGE)
    if attr.tag not in text_tags or len(value.encode()) > TEXT_LIMIT:
        return None
    return value
