"""IPP operations (RFC 8011 section 4): request validation and the handlers.

`IppOperations.handle` takes a decoded request and the rest of the HTTP body (the document
data, streamed, never held whole) and returns the response message. Protocol rules live
here; the state lives in the device and the spool.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from typing import Generic, TypeVar

from mfpd.codecs.ipp.encode import keep_encoded, keep_encoded_group
from mfpd.codecs.ipp.tags import DelimiterTag, Operation, StatusCode, ValueTag
from mfpd.codecs.ipp.values import Attribute, AttributeGroup, Message, Range
from mfpd.config import IppConfig
from mfpd.device import secure_print
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import Device
from mfpd.device.spool import INCOMING, JobTooLarge, Spool
from mfpd.services.ipp import build as b
from mfpd.services.ipp.document_uri import FetchError, fetch, scheme_of
from mfpd.services.ipp.job_attributes import GET_JOBS_DEFAULT, job_attributes
from mfpd.services.ipp.job_template import supported, which_jobs_match
from mfpd.services.ipp.printer_attributes import (
    DOCUMENT_FORMATS,
    JOB_HOLD_UNTIL,
    JOB_SETTABLE,
    MEDIA_SIZES,
    PASSWORD_ENCRYPTIONS,
    SIDES,
    WHICH_JOBS,
    PrinterAttributes,
    PrinterUris,
    Stamp,
    printer_uris,
)
from mfpd.services.ipp.printer_operations import PrinterOperations
from mfpd.services.ipp.request import Body, Handler, IppError, Request, Response
from mfpd.services.ipp.subscription_operations import SubscriptionOperations
from mfpd.services.ipp.subscriptions import SubscriptionStore

log = logging.getLogger("mfpd.ipp")

CHARSETS = ("utf-8", "us-ascii")
# The groups a request may carry: job template (RFC 8011), printer attributes to set
# (RFC 3380), subscription templates (RFC 3995).
REQUEST_GROUPS = (
    DelimiterTag.OPERATION,
    DelimiterTag.JOB,
    DelimiterTag.PRINTER,
    DelimiterTag.SUBSCRIPTION,
)
COMPRESSIONS = ("none", "gzip", "deflate")
_T = TypeVar("_T")
_Known = tuple[tuple[int, int], frozenset[str]]  # a request's version, requested-attributes


class _ByIdentity(Generic[_T]):
    """Values kept for objects by their identity, each entry holding its object (so that
    its id is not reused while the entry lives); at most 256, emptied when full."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[object, _T]] = {}

    def get(self, key: object) -> _T | None:
        entry = self._entries.get(id(key))
        return entry[1] if entry is not None and entry[0] is key else None

    def put(self, key: object, value: _T) -> None:
        if len(self._entries) >= 256:
            self._entries.clear()
        self._entries[id(key)] = (key, value)

    def __len__(self) -> int:
        return len(self._entries)


# RFC 8011 4.1.4.2: every answer starts with these two, in this order. Most answers have
# nothing else in their operation group: that group is encoded once.
_ANSWER_LANGUAGE = (
    b.charset("attributes-charset", "utf-8"),
    b.language("attributes-natural-language", "en"),
)
keep_encoded(_ANSWER_LANGUAGE)
_PLAIN_OPERATION = AttributeGroup(DelimiterTag.OPERATION, _ANSWER_LANGUAGE)
keep_encoded_group(_PLAIN_OPERATION)


class IppOperations:
    def __init__(
        self,
        device: Device,
        spool: Spool,
        max_document_bytes: int,
        listener: str = "ipp",
        settings: IppConfig | None = None,
        subscriptions: SubscriptionStore | None = None,
    ) -> None:
        self.listener = listener  # which listener's jobs these are (ipp on 631, https on 443)
        self.settings = settings or IppConfig()
        self._printer_attributes = PrinterAttributes(self.settings)
        self.device = device
        self.spool = spool
        self.max_document_bytes = max_document_bytes
        self.uris = printer_uris("localhost", secure=False, tls=False)
        self._receiving: set[int] = set()  # jobs whose document is arriving now
        # What was learnt about small requests, by the identity of what the codec decoded: a
        # request remembered by it (RequestMemo) comes with the very same objects.
        self._checked: _ByIdentity[tuple[AttributeGroup, AttributeGroup]] = _ByIdentity()
        self._wanted: _ByIdentity[frozenset[str]] = _ByIdentity()  # requested-attributes
        # Get-Printer-Attributes requests answered successful-ok before (version, the set):
        # their answer is a function of the set, the URIs and the device alone.
        self._printer_requests: _ByIdentity[_Known] = _ByIdentity()
        # RFC 3995/3996 notifications; the daemon shares one store between listeners.
        if subscriptions is None:
            subscriptions = SubscriptionStore(device, self.settings.notifications)
        self.notifications = SubscriptionOperations(subscriptions, spool, lambda: self.uris)
        self.handlers: dict[int, Handler] = {
            Operation.PRINT_JOB: self.print_job,
            Operation.VALIDATE_JOB: self.validate_job,
            Operation.CREATE_JOB: self.create_job,
            Operation.SEND_DOCUMENT: self.send_document,
            Operation.CLOSE_JOB: self.close_job,
            Operation.CANCEL_JOB: self.cancel_job,
            Operation.GET_JOB_ATTRIBUTES: self.get_job_attributes,
            Operation.GET_JOBS: self.get_jobs,
            Operation.GET_PRINTER_ATTRIBUTES: self.get_printer_attributes,
            Operation.CANCEL_MY_JOBS: self.cancel_my_jobs,
            Operation.HOLD_JOB: self.hold_job,
            Operation.RELEASE_JOB: self.release_job,
            Operation.RESTART_JOB: self.restart_job,
            Operation.SET_JOB_ATTRIBUTES: self.set_job_attributes,
            Operation.CANCEL_CURRENT_JOB: self.cancel_current_job,
            Operation.PRINT_URI: self.print_uri,
            Operation.SEND_URI: self.send_uri,
            **PrinterOperations(device, spool).handlers(),
            **self.notifications.handlers(),
        }

    # -- the request pipeline ------------------------------------------------------------

    async def handle(
        self, message: Message, body: Body, uris: PrinterUris, peer: str, small: bool = False
    ) -> Message:
        """The answer to ``message``. ``small``: the request is one of a few kilobytes
        (`RequestMemo`'s), so what is learnt about it may be kept for its next time."""
        self.uris = uris
        if small and message.code == Operation.GET_PRINTER_ATTRIBUTES:
            # A polling client's request, checked and answered before (RequestMemo hands
            # back the same groups for the same octets): only the printer group is looked at.
            known = self._printer_requests.get(message.groups)
            if known is not None and known[0] == message.version and message.request_id > 0:
                return self._printer_answer(message, known[1])
        response = Response()
        try:
            request = self._validate(message, peer, small)
            handler = self.handlers.get(message.code)
            if handler is None:
                raise IppError(
                    StatusCode.SERVER_ERROR_OPERATION_NOT_SUPPORTED,
                    f"operation 0x{message.code:04x} is not supported",
                )
            await handler(request, body, response)
        except IppError as exc:
            response.status = exc.status
            response.message = str(exc)
            response.groups = []
            log.info("ipp: %s: %s: %s", peer, exc.status.name.lower(), exc)
        return self._message(message, response)

    def _validate(self, message: Message, peer: str, small: bool = False) -> Request:
        # RFC 8011 4.1.8 and appendix B: the order of these checks is the order of answers.
        if message.version[0] not in (1, 2):
            raise IppError(
                StatusCode.SERVER_ERROR_VERSION_NOT_SUPPORTED,
                f"IPP/{message.version[0]}.{message.version[1]} is not supported",
            )
        if message.request_id <= 0:
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "request-id must be 1 or more")
        groups = message.groups
        checked = self._checked.get(groups)
        if checked is None:
            checked = self._check_groups(groups)
            if small:  # kept with the groups themselves: a few kilobytes each
                self._checked.put(groups, checked)
        return Request(message, *checked, peer, small)

    @staticmethod
    def _check_groups(groups: tuple[AttributeGroup, ...]) -> tuple[AttributeGroup, AttributeGroup]:
        """The operation and job template groups of a request whose groups are well formed."""
        if not groups or groups[0].tag != DelimiterTag.OPERATION:
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "no operation attributes")
        operation = groups[0]
        names = operation.names()
        if names[:2] != ["attributes-charset", "attributes-natural-language"]:
            raise IppError(
                StatusCode.CLIENT_ERROR_BAD_REQUEST,
                "attributes-charset and attributes-natural-language must come first",
            )
        charset = operation["attributes-charset"]
        if charset.tag != ValueTag.CHARSET or str(charset.value).lower() not in CHARSETS:
            raise IppError(StatusCode.CLIENT_ERROR_CHARSET_NOT_SUPPORTED, "charset not supported")
        if operation["attributes-natural-language"].tag != ValueTag.NATURAL_LANGUAGE:
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "bad attributes-natural-language")
        if "printer-uri" not in operation and "job-uri" not in operation:
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "no printer-uri or job-uri")
        job_template: AttributeGroup | None = None
        for group in groups:
            if group.tag not in REQUEST_GROUPS:
                raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "unexpected attribute group")
            if job_template is None and group.tag == DelimiterTag.JOB:
                job_template = group
        return operation, job_template or AttributeGroup(DelimiterTag.JOB)

    def _message(self, request: Message, response: Response) -> Message:
        major = request.version[0] if request.version[0] in (1, 2) else 1
        minor = request.version[1] if request.version[0] in (1, 2) else 1
        if response.message or response.operation:
            operation = list(_ANSWER_LANGUAGE)
            if response.message:
                operation.append(b.text("status-message", response.message[:255]))
            operation += response.operation
            groups = [AttributeGroup(DelimiterTag.OPERATION, tuple(operation))]
        else:
            groups = [_PLAIN_OPERATION]
        if response.unsupported:
            groups.append(AttributeGroup(DelimiterTag.UNSUPPORTED, tuple(response.unsupported)))
            if response.status == StatusCode.SUCCESSFUL_OK:
                response.status = StatusCode.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
        groups += response.groups
        return Message((major, minor), response.status, max(0, request.request_id), tuple(groups))

    # -- job creation --------------------------------------------------------------------

    def _check_job(self, request: Request, response: Response) -> str:
        """Validate a job's operation and template attributes; its document format."""
        if not self.device.accepting:
            raise IppError(
                StatusCode.SERVER_ERROR_NOT_ACCEPTING_JOBS, "the printer is not accepting jobs"
            )
        fmt = request.value("document-format", "application/octet-stream")
        if not isinstance(fmt, str) or fmt not in DOCUMENT_FORMATS:
            response.unsupported += request.as_received("document-format")
            raise IppError(
                StatusCode.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                f"document-format {fmt} is not supported",
            )
        compression = request.value("compression", "none")
        if compression not in COMPRESSIONS:
            response.unsupported += request.as_received("compression")
            raise IppError(
                StatusCode.CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED,
                f"compression {compression} is not supported",
            )
        self._check_template(request, response)
        self._check_password(request, response)
        return fmt

    def _check_password(self, request: Request, response: Response) -> None:
        """PWG 5100.11 6.1: job-password, at most job-password-supported octets, sent as
        typed or hashed with one of job-password-encryption-supported."""
        password = request.get("job-password")
        if password is None:
            return
        encryption = request.value("job-password-encryption", "none")
        value = password.value
        if (
            password.tag != ValueTag.OCTET_STRING
            or not isinstance(value, bytes)
            or not self.settings.job_password_max
            or not value
            # A hashed passcode is as long as its digest (up to 64 octets for SHA-512).
            or len(value) > (self.settings.job_password_max if encryption == "none" else 64)
        ):
            response.unsupported.append(password)
            raise IppError(
                StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                f"job-password must be 1 to {self.settings.job_password_max} octets",
            )
        if encryption not in PASSWORD_ENCRYPTIONS:
            response.unsupported += request.as_received("job-password-encryption")
            raise IppError(
                StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                f"job-password-encryption {encryption} is not supported",
            )

    def _check_template(self, request: Request, response: Response) -> None:
        unsupported: list[Attribute] = []
        for attr in request.job_template:
            if not supported(attr):
                unsupported.append(attr)
        response.unsupported += unsupported
        fidelity = request.value("ipp-attribute-fidelity", False)
        if unsupported and fidelity is True:
            raise IppError(
                StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                "unsupported job attributes with ipp-attribute-fidelity",
            )

    def _new_job(self, request: Request, fmt: str) -> Job:
        template = request.job_template
        attributes: dict[str, object] = {
            "ipp-requesting-host": request.peer,
            "ipp-listener": self.listener,
            "document-format": fmt,  # as supplied; the spool records what it detects
        }
        mode = template.get("print-color-mode")
        if mode is not None and mode.value in ("color", "monochrome"):
            attributes["color"] = mode.value == "color"
        media = template.get("media")
        if media is not None and media.value in MEDIA_SIZES:
            attributes["media"] = media.value
        sides = template.get("sides")
        if sides is not None and sides.value in SIDES:
            attributes["sides"] = sides.value
        priority = template.get("job-priority")
        if priority is not None and supported(priority):
            attributes["job-priority"] = priority.value
        ranges = template.get("page-ranges")
        if ranges is not None and supported(ranges):
            attributes["page-ranges"] = [
                [r.low, r.high] for r in ranges.values if isinstance(r, Range)
            ]
        copies = template.get("copies")
        name = request.value("job-name")
        job = self.spool.create(
            "ipp",
            name=name if isinstance(name, str) else "",
            user=request.user,
            format=None if fmt == "application/octet-stream" else fmt,
            copies=copies.value if copies is not None and supported(copies) else 1,  # type: ignore[arg-type]
            host=request.peer.rsplit(":", 1)[0],
            attributes=attributes,
        )
        password = request.value("job-password")
        if isinstance(password, bytes):
            encryption = str(request.value("job-password-encryption", "none"))
            secure_print.protect(job, password, encryption)
            self.spool.hold(job, secure_print.PASSWORD_WAIT)
            return job
        # Clients send it in either group (CUPS's print-job-hold.test: the operation group).
        hold = template.get("job-hold-until") or request.get("job-hold-until")
        if hold is not None and hold.value in JOB_HOLD_UNTIL and hold.value != "no-hold":
            job.attributes["job-hold-until"] = hold.value
            self.spool.hold(job)
        elif self.device.hold_new_jobs:
            self.spool.hold(job, "job-held-on-create")
        return job

    async def _receive(self, request: Request, job: Job, body: Body) -> None:
        """Stream the document of a Print-Job or Send-Document into the spool."""
        compression = request.value("compression", "none")
        # RFC 8011 5.4.32: "deflate" is RFC 1951 raw deflate (no zlib header), "gzip" RFC 1952.
        inflate = (
            zlib.decompressobj(wbits=31 if compression == "gzip" else -15)
            if compression in ("gzip", "deflate")
            else None
        )
        writer = self.spool.open_document(job)
        self._receiving.add(job.id)
        try:
            async for chunk in body:
                data = inflate.decompress(chunk) if inflate is not None else chunk
                if data:
                    writer.write(data)
            if inflate is not None:
                writer.write(inflate.flush())
                if not inflate.eof:  # the stream stopped before its end: a cut document
                    raise zlib.error(f"{compression} data ends early")
        except JobTooLarge as exc:
            self.spool.close_document(writer)
            self.spool.abort(job, ["aborted-by-system", "job-too-large"], str(exc))
            raise IppError(StatusCode.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE, str(exc)) from None
        except zlib.error as exc:
            self.spool.close_document(writer)
            self.spool.abort(job, ["aborted-by-system", "compression-error"], str(exc))
            raise IppError(StatusCode.CLIENT_ERROR_COMPRESSION_ERROR, str(exc)) from None
        except FetchError as exc:
            self.spool.close_document(writer)
            self.spool.abort(job, ["aborted-by-system", "document-access-error"], str(exc))
            raise IppError(StatusCode.CLIENT_ERROR_DOCUMENT_ACCESS_ERROR, str(exc)) from None
        except (ConnectionError, OSError, asyncio.CancelledError) as exc:
            # The client went away, or the daemon stops mid-upload: recorded, not printed.
            self.spool.close_document(writer)
            self.spool.abort(
                job,
                ["aborted-by-system", "job-data-insufficient"],
                f"upload from {request.peer} ended after {job.bytes} bytes: "
                f"{exc or type(exc).__name__}",
            )
            raise
        finally:
            self._receiving.discard(job.id)
        self.spool.close_document(writer)

    def _job_response(self, job: Job, response: Response) -> None:
        attrs = job_attributes(job, self.device, self.uris.ipp)
        wanted = {"job-id", "job-uri", "job-state", "job-state-reasons", "job-state-message"}
        response.groups.append(
            AttributeGroup(DelimiterTag.JOB, tuple(a for a in attrs if a.name in wanted))
        )

    async def print_job(self, request: Request, body: Body, response: Response) -> None:
        fmt = self._check_job(request, response)
        job = self._new_job(request, fmt)
        await self._receive(request, job, body)
        self.spool.finish(job)
        log.info("ipp: %s: job %d accepted (%d bytes)", request.peer, job.id, job.bytes)
        self._job_response(job, response)
        self.notifications.subscribe_job(request, job, response)

    async def validate_job(self, request: Request, body: Body, response: Response) -> None:
        self._check_job(request, response)

    async def create_job(self, request: Request, body: Body, response: Response) -> None:
        fmt = self._check_job(request, response)
        job = self._new_job(request, fmt)
        self._job_response(job, response)
        self.notifications.subscribe_job(request, job, response)

    def _target_job(self, request: Request) -> Job:
        job_id = request.value("job-id")
        if job_id is None:
            uri = request.value("job-uri")
            tail = uri.rsplit("/", 1)[-1] if isinstance(uri, str) else ""
            if tail.isascii() and tail.isdigit():  # int() takes "²" too
                job_id = int(tail)
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "no job-id or job-uri")
        job = self.spool.get(job_id)
        if job is None:
            raise IppError(StatusCode.CLIENT_ERROR_NOT_FOUND, f"job {job_id} does not exist")
        return job

    async def send_document(self, request: Request, body: Body, response: Response) -> None:
        await self._send(request, response, body)

    async def _send(self, request: Request, response: Response, body: Body) -> None:
        """Send-Document and Send-URI (RFC 8011 4.3.1-4.3.2): one more document, or the
        last, of a job made by Create-Job."""
        job = self._target_job(request)
        if job.state.terminal or INCOMING not in job.state_reasons:
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} takes no more documents"
            )
        last = request.value("last-document")
        if not isinstance(last, bool):
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "last-document is required")
        fmt = request.value("document-format")
        if isinstance(fmt, str):
            if fmt not in DOCUMENT_FORMATS:
                raise IppError(
                    StatusCode.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                    f"document-format {fmt} is not supported",
                )
            if fmt != "application/octet-stream":
                job.format = fmt
        await self._receive(request, job, body)
        if last:
            self.spool.finish(job)
            log.info("ipp: %s: job %d accepted (%d bytes)", request.peer, job.id, job.bytes)
        self._job_response(job, response)

    async def close_job(self, request: Request, body: Body, response: Response) -> None:
        job = self._target_job(request)
        if INCOMING in job.state_reasons and not job.state.terminal:
            if job.documents:
                self.spool.finish(job)
            else:
                self.spool.abort(job, ["aborted-by-system"], "closed without a document")
        self._job_response(job, response)

    async def cancel_job(self, request: Request, body: Body, response: Response) -> None:
        job = self._target_job(request)
        if not self.spool.cancel(job, "job-canceled-by-user"):
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is already {job.state.value}"
            )

    async def hold_job(self, request: Request, body: Body, response: Response) -> None:
        job = self._target_job(request)
        if not self.spool.hold(job):
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is {job.state.value}"
            )

    async def release_job(self, request: Request, body: Body, response: Response) -> None:
        job = self._target_job(request)
        if secure_print.PASSWORD_WAIT in job.state_reasons:
            # PWG 5100.11: a secure job is released at the device, by its passcode.
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_AUTHORIZED,
                f"job {job.id} waits for its passcode at the device",
            )
        if not self.spool.release(job):
            raise IppError(StatusCode.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is not held")

    async def restart_job(self, request: Request, body: Body, response: Response) -> None:
        """RFC 8011 4.3.7: print a finished job again from its spooled documents."""
        job = self._target_job(request)
        if not self.spool.restart(job):
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_POSSIBLE,
                f"job {job.id} is {job.state.value} and cannot be restarted",
            )
        hold = request.value("job-hold-until")
        if hold not in (None, "no-hold") and not secure_print.is_protected(job):
            self.spool.hold(job)
        if secure_print.is_protected(job):
            self.spool.hold(job, secure_print.PASSWORD_WAIT)
        log.info("ipp: %s: job %d restarted by %s", request.peer, job.id, request.user)

    async def cancel_current_job(self, request: Request, body: Body, response: Response) -> None:
        """RFC 3998 3.2.3: cancel the job the engine is printing (or check it is job-id)."""
        job = self.spool.current()
        if job is None:
            raise IppError(StatusCode.CLIENT_ERROR_NOT_POSSIBLE, "no job is printing")
        wanted = request.value("job-id")
        if isinstance(wanted, int) and wanted != job.id:
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_POSSIBLE, f"job {wanted} is not the current job"
            )
        self.spool.cancel(job, "job-canceled-by-operator")
        log.info("ipp: %s: current job %d canceled by %s", request.peer, job.id, request.user)

    async def set_job_attributes(self, request: Request, body: Body, response: Response) -> None:
        """RFC 3380 4.1: change a job that has not started printing; all changes or none."""
        job = self._target_job(request)
        if job.state not in (JobState.PENDING, JobState.HELD) or job.impressions_completed:
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_POSSIBLE,
                f"job {job.id} is {job.state.value}: its attributes are fixed",
            )
        changes = request.message.first(DelimiterTag.JOB)
        if changes is None or not len(changes):
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "no job attributes to set")
        not_settable = [
            Attribute.of(a.name, ValueTag.NOT_SETTABLE)
            for a in changes
            if a.name not in JOB_SETTABLE
        ]
        if not_settable:
            response.unsupported += not_settable
            raise IppError(
                StatusCode.CLIENT_ERROR_ATTRIBUTES_NOT_SETTABLE,
                "not settable: " + ", ".join(a.name for a in not_settable),
            )
        bad = [a for a in changes if not supported(a)]
        if bad:
            response.unsupported += bad
            raise IppError(
                StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                "unsupported value for " + ", ".join(a.name for a in bad),
            )
        for attr in changes:
            if attr.name == "job-name":
                job.name = str(attr.value)
            elif attr.name == "copies":
                job.copies = attr.value if isinstance(attr.value, int) else job.copies
            elif attr.name == "job-hold-until":
                job.attributes["job-hold-until"] = attr.value
                if attr.value == "no-hold" and secure_print.PASSWORD_WAIT not in job.state_reasons:
                    self.spool.release(job)
                elif attr.value != "no-hold":
                    self.spool.hold(job)
            else:  # job-priority, media, sides
                job.attributes[attr.name] = attr.value
        self.spool.update(job)
        log.info(
            "ipp: %s: job %d: %s set %s",
            request.peer, job.id, request.user, ", ".join(a.name for a in changes),
        )  # fmt: skip

    def _document_uri(self, request: Request, response: Response) -> str:
        """The document-uri of a Print-URI or Send-URI, checked against the schemes the
        printer fetches (RFC 8011 4.2.2: client-error-uri-scheme-not-supported)."""
        attr = request.get("document-uri")
        if attr is None or attr.tag != ValueTag.URI or not isinstance(attr.value, str):
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "document-uri is required")
        if scheme_of(attr.value) not in self.settings.document_uri_schemes:
            response.unsupported.append(attr)
            raise IppError(
                StatusCode.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED,
                f"the printer does not fetch {scheme_of(attr.value) or 'scheme-less'} URIs",
            )
        return attr.value

    def _fetch(self, uri: str) -> Body:
        ident = self.device.identity
        return fetch(uri, self.settings, f"{ident.make} {ident.model} IPP/2.0")

    async def print_uri(self, request: Request, body: Body, response: Response) -> None:
        uri = self._document_uri(request, response)
        fmt = self._check_job(request, response)
        job = self._new_job(request, fmt)
        job.attributes["document-uri"] = uri
        await self._receive(request, job, self._fetch(uri))
        self.spool.finish(job)
        log.info("ipp: %s: job %d fetched %s (%d bytes)", request.peer, job.id, uri, job.bytes)
        self._job_response(job, response)
        self.notifications.subscribe_job(request, job, response)

    async def send_uri(self, request: Request, body: Body, response: Response) -> None:
        uri = self._document_uri(request, response)
        await self._send(request, response, self._fetch(uri))

    async def cancel_my_jobs(self, request: Request, body: Body, response: Response) -> None:
        """PWG 5100.11 4.2: cancel the requesting user's unfinished jobs (or those named)."""
        ids = request.get("job-ids")
        wanted = {v for v in ids.values if isinstance(v, int)} if ids is not None else None
        mine = [job for job in self.spool.active() if job.user == request.user]
        if wanted is not None:
            missing = wanted - {job.id for job in mine}
            if missing:
                raise IppError(
                    StatusCode.CLIENT_ERROR_NOT_POSSIBLE,
                    f"job(s) {sorted(missing)} are not yours or already finished",
                )
            mine = [job for job in mine if job.id in wanted]
        for job in mine:
            self.spool.cancel(job, "job-canceled-by-user")

    def abort_abandoned(self, timeout: float) -> None:
        """Abort IPP jobs created more than `timeout` seconds ago whose documents never came."""
        limit = time.time() - timeout
        for job in self.spool.active():
            if (
                job.source == "ipp"
                and job.attributes.get("ipp-listener", "ipp") == self.listener
                and INCOMING in job.state_reasons
                and job.created_at < limit
                and job.id not in self._receiving  # a slow upload is not an abandoned job
            ):
                self.spool.abort(
                    job,
                    ["aborted-by-system", "job-data-insufficient"],
                    f"no Send-Document within {timeout:.0f} s (multiple-operation-time-out)",
                )
                log.info("ipp: job %d aborted: multiple-operation-time-out", job.id)

    # -- queries -------------------------------------------------------------------------

    def _requested(self, request: Request, default: tuple[str, ...] = ("all",)) -> frozenset[str]:
        attr = request.get("requested-attributes")
        if attr is None or attr.is_out_of_band:
            return frozenset(default)
        wanted = self._wanted.get(attr)
        if wanted is None:
            wanted = frozenset(str(v) for v in attr.values)
            if request.small:
                self._wanted.put(attr, wanted)
        return wanted

    async def get_job_attributes(self, request: Request, body: Body, response: Response) -> None:
        job = self._target_job(request)
        response.groups.append(
            AttributeGroup(DelimiterTag.JOB, tuple(self._job_view(job, self._requested(request))))
        )

    def _job_view(self, job: Job, wanted: frozenset[str]) -> list[Attribute]:
        attrs = job_attributes(job, self.device, self.uris.ipp)
        if "all" in wanted or "job-description" in wanted or "job-status" in wanted:
            return attrs
        return [a for a in attrs if a.name in wanted]

    async def get_jobs(self, request: Request, body: Body, response: Response) -> None:
        which = request.value("which-jobs", "not-completed")
        if which not in WHICH_JOBS:
            response.unsupported += request.as_received("which-jobs")
            raise IppError(
                StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                f"which-jobs {which} is not supported",
            )
        limit = request.value("limit")
        mine = request.value("my-jobs") is True
        wanted = self._requested(request, GET_JOBS_DEFAULT)
        jobs = [
            job
            for job in self.spool
            if which_jobs_match(job, str(which)) and (not mine or job.user == request.user)
        ]
        if which == "completed":
            jobs.reverse()  # RFC 8011 4.2.6.1: most recently completed first
        if isinstance(limit, int) and limit > 0:
            jobs = jobs[:limit]
        for job in jobs:
            response.groups.append(
                AttributeGroup(DelimiterTag.JOB, tuple(self._job_view(job, wanted)))
            )

    async def get_printer_attributes(
        self, request: Request, body: Body, response: Response
    ) -> None:
        wanted = self._requested(request)
        response.groups.append(
            self._printer_attributes.group(self.device, self.spool, self.uris, wanted)
        )
        if request.small:
            # Nothing else in the request changes the answer (the printer's attributes are
            # the same for every document-format): the next time, _printer_answer gives
            # the message _message gives here, without the checks it has passed.
            self._printer_requests.put(request.message.groups, (request.message.version, wanted))

    def printer_stamp(self) -> Stamp:
        """What the answer to a request `answered_alone` depends on besides its octets and
        the printer URIs: the same stamp, the same answer."""
        return self._printer_attributes.stamp(self.device, self.spool)

    def answered_alone(self, request: Message) -> bool:
        """Whether `request` is a Get-Printer-Attributes request `handle` answers by its
        printer group alone (`_printer_answer`): its answer is then a function of its
        octets but the request-id, the URIs and `printer_stamp()`."""
        if request.code != Operation.GET_PRINTER_ATTRIBUTES or request.request_id <= 0:
            return False
        known = self._printer_requests.get(request.groups)
        return known is not None and known[0] == request.version

    def _printer_answer(self, request: Message, wanted: frozenset[str]) -> Message:
        group = self._printer_attributes.group(self.device, self.spool, self.uris, wanted)
        return Message(
            request.version, StatusCode.SUCCESSFUL_OK, request.request_id, (_PLAIN_OPERATION, group)
        )
