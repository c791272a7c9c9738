"""IPP over HTTP/1.1 on TCP 631 (RFC 8010 section 4, RFC 7230), on aiohttp.

aiohttp does the HTTP: keep-alive, chunked bodies, `Expect: 100-continue`, Content-Encoding.
Here the body is read piece by piece: the attribute part goes to the codec's MessageParser and
everything after it streams to the spool, so a document is never held in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from mfpd.codecs.ipp.decode import MessageParser
from mfpd.codecs.ipp.encode import encode_message
from mfpd.codecs.ipp.errors import IppDecodeError
from mfpd.codecs.ipp.tags import DelimiterTag
from mfpd.codecs.ipp.values import AttributeGroup, Message
from mfpd.services.base import PortEntry, ServiceContext, listen_tcp
from mfpd.services.ipp import build as b
from mfpd.services.ipp.icon import icon_png
from mfpd.services.ipp.operations import IppOperations
from mfpd.services.ipp.printer_attributes import (
    ICON_PATH,
    MULTIPLE_OPERATION_TIME_OUT,
    PrinterUris,
)

log = logging.getLogger("mfpd.ipp")

IPP_PATHS = ("/ipp/print", "/ipp", "/ipp/printer", "/")
IPP_TYPE = "application/ipp"
READ_SIZE = 256 * 1024
REAP_INTERVAL = 10.0


class IppService:
    name = "ipp"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.config = ctx.config.services.ipp
        self.operations = IppOperations(ctx.device, ctx.spool, ctx.config.spool.max_job_bytes)
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._server_header = f"{ctx.device.identity.make} {ctx.device.identity.model} IPP/2.0"

    def _app(self) -> web.Application:
        app = web.Application()
        for path in IPP_PATHS:
            app.router.add_post(path, self._post)
        app.router.add_get(ICON_PATH, self._icon)
        app.on_response_prepare.append(self._identity)
        return app

    async def _identity(self, request: web.Request, response: web.StreamResponse) -> None:
        # The device's own Server header: nothing may reveal the HTTP library underneath.
        response.headers["Server"] = self._server_header

    async def start(self) -> list[PortEntry]:
        self._runner = web.AppRunner(
            self._app(),
            access_log=None,
            handle_signals=False,
            keepalive_timeout=self.config.idle_timeout,
        )
        await self._runner.setup()
        assert self._runner.server is not None
        self._server, entry = await listen_tcp(
            self.ctx, self.name, self.config.port, self._runner.server
        )
        self._reaper = asyncio.create_task(self._abort_abandoned(), name="ipp-timeouts")
        return [entry]

    async def _abort_abandoned(self) -> None:
        """RFC 8011 5.4.31 multiple-operation-time-out: a Create-Job whose documents never
        come is aborted (multiple-operation-time-out-action abort-job), not kept forever."""
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            self.operations.abort_abandoned(MULTIPLE_OPERATION_TIME_OUT)

    async def stop(self, grace: float) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _icon(self, request: web.Request) -> web.Response:
        return web.Response(body=icon_png(), content_type="image/png")

    async def _post(self, request: web.Request) -> web.StreamResponse:
        peer = f"{request.remote}"
        if request.content_type != IPP_TYPE:
            log.info("ipp: %s: POST with Content-Type %s", peer, request.content_type)
            return web.Response(status=400, text="IPP requests are application/ipp\n")
        parser = MessageParser()
        message: Message | None = None
        head = b""  # the 8-octet header, to echo version and request-id in an error
        try:
            while message is None:
                chunk = await request.content.read(READ_SIZE)
                if not chunk:
                    message = parser.close()
                    break
                if len(head) < 8:
                    head += chunk[: 8 - len(head)]
                message = parser.feed(chunk)
        except ConnectionError as exc:
            log.info("ipp: %s: request cut short: %s", peer, exc)
            return web.Response(status=400, text="incomplete request\n")
        except IppDecodeError as exc:
            log.info("ipp: %s: bad request: %s", peer, exc)
            request_id = int.from_bytes(head[4:8]) if len(head) == 8 else 0
            version = (head[0], head[1]) if head[:1] in (b"\x01", b"\x02") else (2, 0)
            return self._ipp(Message(version, exc.status, request_id, _bad_groups(str(exc))))

        async def body() -> AsyncIterator[bytes]:
            if parser.remaining:
                yield parser.remaining
            while chunk := await request.content.read(READ_SIZE):
                yield chunk

        uris = self._uris(request)
        try:
            response = await self.operations.handle(message, body(), uris, peer)
        except ConnectionError as exc:
            # The job is already recorded as aborted; nobody is left to read an answer.
            log.info("ipp: %s: request body cut short: %s", peer, exc)
            return web.Response(status=400, text="incomplete request body\n")
        # Whatever the handler did not read (a refused document) is drained by aiohttp.
        return self._ipp(response)

    def _uris(self, request: web.Request) -> PrinterUris:
        host = request.host or f"{self.ctx.device.identity.hostname}:{self.config.port}"
        return PrinterUris(f"ipp://{host}/ipp/print", f"http://{host}/")

    @staticmethod
    def _ipp(message: Message) -> web.Response:
        return web.Response(body=encode_message(message), content_type=IPP_TYPE)


def _bad_groups(text: str) -> tuple[AttributeGroup, ...]:
    return (
        AttributeGroup(
            DelimiterTag.OPERATION,
            (
                b.charset("attributes-charset", "utf-8"),
                b.language("attributes-natural-language", "en"),
                b.text("status-message", text[:255]),
            ),
        ),
    )
