"""aiohttp's HTTP/1.1 connection handler as the device's listeners use it.

What aiohttp refuses itself (a request line or header it cannot parse, bytes that are no HTTP
at all) is answered with the device's Server header, never aiohttp's, and logged in one line
with the peer, never a traceback.

And once it has refused a request it reads no more. aiohttp answers such a request with a 400
from a task, which runs only after the event loop's next round of reads; uvloop reads up to 32
buffers of 256 KiB a round, so a client streaming an endless header was read by the megabyte
(11-12 MB, and 6-16 MB of RSS kept, per connection) before the answer went out. Over TLS the
close that follows waits for the client's close_notify and meanwhile reads, decrypts and drops
whatever it still sends: on uvloop for its whole 30 s shutdown timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError


def short_error(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line (aiohttp's messages span lines and quote the peer)."""
    if isinstance(exc, HttpProcessingError):
        text = f"{exc.code} {exc.message}"
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class HttpLog(logging.Logger):
    """Where aiohttp reports what it refuses: one line each in `log`, with the service and
    the peer. An exception that is no HTTP error is a bug: logged with its traceback."""

    def __init__(self, service: str, log: logging.Logger) -> None:
        super().__init__(f"mfpd.{service}.http", logging.DEBUG)
        self.service = service
        self.target = log

    def handle(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        args = record.args if isinstance(record.args, tuple) else ()
        peer = args[0] if args else "?"
        log = self.target
        if isinstance(exc, HttpProcessingError):
            log.info("%s: %s: bad HTTP request: %s", self.service, peer, short_error(exc))
        elif isinstance(exc, web.RequestPayloadError | ConnectionError):
            # aiohttp draining the rest of a body that broke off, which the handler reported
            log.debug("%s: %s: %s", self.service, record.getMessage(), short_error(exc))
        elif exc is not None:
            log.error("%s: %s", self.service, record.getMessage(), exc_info=record.exc_info)
        elif record.levelno >= logging.INFO:
            log.log(record.levelno, "%s: %s", self.service, record.getMessage())


class DeviceHandler(web.RequestHandler):
    """One HTTP connection of a device listener (see the module's docstring)."""

    def __init__(
        self, manager: web.Server, *, server_header: str, log: HttpLog, **options: Any
    ) -> None:
        options.setdefault("access_log", None)
        super().__init__(manager, loop=asyncio.get_running_loop(), logger=log, **options)
        self.server_header = server_header
        self._refused_on: asyncio.Transport | None = None

    @property
    def refused(self) -> bool:
        return self._refused_on is not None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        transport = self.transport
        if self._refused_on is None and transport is not None and self._parser_failed():
            self._refused_on = transport
            if not transport.is_closing():
                transport.pause_reading()

    def _parser_failed(self) -> bool:
        """Whether aiohttp's parser has queued its error answer (its C parser reports bad
        framing inside a body that way too). Private state, looked at defensively: if aiohttp
        changes, the listeners' header and idle timeouts still end such a connection."""
        queued = getattr(self, "_messages", None)
        if not queued:
            return False
        return isinstance(getattr(queued[-1][0], "exc", None), HttpProcessingError)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's message quotes its parser's error with the peer's bytes as a Python bytes
        # literal (b'\\x80...'), which names the library behind the device: the answer says
        # the status alone, as an embedded server does. (A 500 gets aiohttp's generic text.)
        with contextlib.suppress(ValueError):
            message = f"{status} {HTTPStatus(status).phrase}"
        response = super().handle_error(request, status, exc, message)
        response.headers["Server"] = self.server_header
        self.error_answered()
        return response

    def error_answered(self) -> None:
        """Called once an error answer is made: what a subclass tracks of the request ends."""

    async def start(self) -> None:
        await super().start()
        transport = self._refused_on
        if transport is not None and not transport.get_write_buffer_size():
            # The refusal has gone out; a client still sending is not waited for.
            transport.abort()
