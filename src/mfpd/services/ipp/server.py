"""IPP over HTTP/1.1 on TCP 631 (RFC 8010 section 4, RFC 7230), on aiohttp.

aiohttp does the HTTP: keep-alive, chunked bodies, `Expect: 100-continue`, Content-Encoding.
Here the body is read piece by piece: the attribute part goes to the codec's MessageParser and
everything after it streams to the spool, so a document is never held in memory.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator

from aiohttp import web

from mfpd.codecs.ipp.decode import MessageParser
from mfpd.codecs.ipp.encode import encode_message
from mfpd.codecs.ipp.errors import IppDecodeError
from mfpd.codecs.ipp.tags import DelimiterTag
from mfpd.codecs.ipp.values import AttributeGroup, Message
from mfpd.config import ServiceConfig
from mfpd.security.tls import ensure_certificate, server_context
from mfpd.services.base import PortEntry, ServiceContext, bind_tcp
from mfpd.services.ipp import build as b
from mfpd.services.ipp.icon import icon_png
from mfpd.services.ipp.operations import IppOperations
from mfpd.services.ipp.printer_attributes import (
    ICON_PATH,
    MULTIPLE_OPERATION_TIME_OUT,
    PrinterUris,
    printer_uris,
)

log = logging.getLogger("mfpd.ipp")

IPP_PATHS = ("/ipp/print", "/ipp", "/ipp/printer", "/")
IPP_TYPE = "application/ipp"
READ_SIZE = 256 * 1024
REAP_INTERVAL = 10.0


class IppService:
    """IPP on 631: plain HTTP and TLS on the same port, told apart by the first byte (a TLS
    ClientHello starts with 0x16, an HTTP request with a letter), as printers do."""

    name = "ipp"
    tls_only = False

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.config: ServiceConfig = getattr(ctx.config.services, self.name)
        self.operations = IppOperations(
            ctx.device, ctx.spool, ctx.config.spool.max_job_bytes, self.name
        )
        self._runner: web.AppRunner | None = None
        self._listener: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._connecting: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._tls: ssl.SSLContext | None = None
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
        identity = self.ctx.device.identity
        cert, key = ensure_certificate(self.ctx.state_dir / "tls", identity.hostname, identity.make)
        self._tls = server_context(cert, key)
        self._runner = web.AppRunner(
            self._app(),
            access_log=None,
            handle_signals=False,
            keepalive_timeout=self.config.idle_timeout,
        )
        await self._runner.setup()
        self._listener, entry = bind_tcp(self.ctx, self.name, self.config.port)
        if self._listener is not None:
            self._acceptor = asyncio.create_task(self._accept(self._listener), name=self.name)
        self._reaper = asyncio.create_task(self._abort_abandoned(), name=f"{self.name}-timeouts")
        return [entry]

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError as exc:  # EMFILE and the like: keep serving the others
                log.warning("%s: accept failed: %s", self.name, exc)
                await asyncio.sleep(0.1)
                continue
            task = asyncio.create_task(self._connect(conn))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        assert self._runner is not None and self._runner.server is not None
        upgraded = False
        try:
            tls = self._tls
            if not self.tls_only:
                first = await asyncio.wait_for(_peek(conn), self.config.idle_timeout)
                if not first:
                    conn.close()
                    return
                tls = self._tls if first == TLS_HANDSHAKE else None
                upgraded = tls is None and first == b"O" and await self._upgrade(conn)
                if upgraded:
                    tls = self._tls
            transport, _ = await loop.connect_accepted_socket(
                self._runner.server, conn, ssl=tls, ssl_handshake_timeout=30.0 if tls else None
            )
            if not self.tls_only and upgraded:
                # RFC 2817 3.3: the answer to the OPTIONS request comes over the new TLS.
                transport.write(
                    b"HTTP/1.1 200 OK\r\nAllow: GET, OPTIONS, POST\r\nContent-Length: 0\r\n"
                    b"Server: " + self._server_header.encode() + b"\r\n\r\n"
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            log.info("%s: connection dropped before HTTP: %s", self.name, exc)
            conn.close()

    async def _abort_abandoned(self) -> None:
        """RFC 8011 5.4.31 multiple-operation-time-out: a Create-Job whose documents never
        come is aborted (multiple-operation-time-out-action abort-job), not kept forever."""
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            self.operations.abort_abandoned(MULTIPLE_OPERATION_TIME_OUT)

    async def stop(self, grace: float) -> None:
        for task in (self._reaper, self._acceptor, *self._connecting):
            if task is not None:
                task.cancel()
        if self._listener is not None:
            self._listener.close()
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
        return printer_uris(host, secure=request.secure, tls=self._tls is not None)

    @staticmethod
    def _ipp(message: Message) -> web.Response:
        return web.Response(body=encode_message(message), content_type=IPP_TYPE)

    async def _upgrade(self, conn: socket.socket) -> bool:
        """RFC 2817 HTTP Upgrade to TLS, as `ipptool -E` and CUPS ask for it: an
        `OPTIONS *` request with `Upgrade: TLS/1.x` is answered 101 here, then TLS starts."""
        head = b""
        deadline = asyncio.get_running_loop().time() + 10
        while b"\r\n\r\n" not in head:
            if len(head) >= MAX_UPGRADE_HEAD or asyncio.get_running_loop().time() > deadline:
                return False
            await _readable(conn)
            peeked = conn.recv(MAX_UPGRADE_HEAD, socket.MSG_PEEK)
            if len(peeked) == len(head):  # nothing new: the peer closed, or is slow
                await asyncio.sleep(0.01)
            head = peeked
        request = head[: head.index(b"\r\n\r\n") + 4]
        lines = request.decode("latin-1").lower().split("\r\n")
        upgrade = any(line.startswith("upgrade:") and "tls/" in line for line in lines)
        if not (lines[0].startswith("options ") and upgrade) or self._tls is None:
            return False
        conn.recv(len(request))  # consume the request: the TLS handshake comes next
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
            b"Upgrade: TLS/1.2,HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        )
        return True


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


class IppsService(IppService):
    """HTTPS on 443: IPPS (and, later, the web UI) over TLS only."""

    name = "https"
    tls_only = True


MAX_UPGRADE_HEAD = 8192
TLS_HANDSHAKE = b"\x16"  # TLS record type 22, the first byte of a ClientHello (RFC 8446 5.1)


async def _peek(conn: socket.socket) -> bytes:
    """The first byte of a new connection, left in the socket for whoever reads it next."""
    await _readable(conn)
    return conn.recv(1, socket.MSG_PEEK)


async def _readable(conn: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(conn.fileno(), ready)
    try:
        await readable
    finally:
        loop.remove_reader(conn.fileno())
