"""IPP over HTTP/1.1 on TCP 631 (RFC 8010 section 4, RFC 7230), on aiohttp.

aiohttp does the HTTP: keep-alive, chunked bodies, `Expect: 100-continue`, Content-Encoding.
Here the body is read piece by piece: the attribute part goes to the codec's MessageParser and
everything after it streams to the spool, so a document is never held in memory.

A plain request that arrives whole (a POST with Content-Length, its body in hand, no Expect
or Content-Encoding: what a polling client or a small Print-Job sends) is answered on a fast
path, without aiohttp (codecs/http_simple.py recognises it), because aiohttp's own cost per
request is larger than the IPP operation's. The answers are the same (IppService.answer_whole
shares _post's decoding, errors and encoding). A connection that sends anything else goes to
aiohttp for good: the two parsers never take turns on one connection. And a request whose
octets are those of the connection's last one but the request-id, while nothing the answer
shows has changed (the printer stamp: the device's revision, the clock's second, the queue's
length), is given that answer again with its request-id, nothing parsed, decoded or encoded
(`_HttpConnection._answer_again`): what a polling client sends most.

aiohttp has no connection limit and no timeout on a request head or body, so the listener
keeps them itself (`IppListenerConfig`): connections beyond `max_connections` are closed at
once; a request head not complete within `header_timeout` is answered 408 and closed (a TLS
handshake is dropped); `idle_timeout` of silence between requests or inside a body, or of a
client not reading its responses, ends the connection (a job it was sending is aborted, not
printed); an attribute part over `max_attribute_bytes` is answered
client-error-request-entity-too-large. Every refusal is one escaped log line naming the
peer, never a traceback; a bug in a handler is answered server-error-internal-error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
import socket
import time
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.typedefs import Handler

from mfpd.codecs.http_simple import OkHeads, SimpleRequest, parse_simple
from mfpd.codecs.ipp.decode import Limits, MessageParser
from mfpd.codecs.ipp.encode import encode_message
from mfpd.codecs.ipp.errors import IppDecodeError, IppEncodeError
from mfpd.codecs.ipp.memo import AnswerMemo, RequestMemo
from mfpd.codecs.ipp.tags import DelimiterTag, Operation, StatusCode
from mfpd.codecs.ipp.values import AttributeGroup, Message
from mfpd.config import IppListenerConfig
from mfpd.security.tls import (
    TLS_DIR,
    DeviceContext,
    HandshakeRefused,
    ensure_certificate,
    server_context,
)
from mfpd.services.base import PortEntry, ServiceContext, bind_tcp, stream, turn_away
from mfpd.services.http_handler import DeviceHandler, HttpLog, short_error
from mfpd.services.ipp import build as b
from mfpd.services.ipp import eager
from mfpd.services.ipp.icon import icon_png
from mfpd.services.ipp.operations import IppOperations
from mfpd.services.ipp.printer_attributes import (
    ICON_PATH,
    MULTIPLE_OPERATION_TIME_OUT,
    PrinterUris,
    Stamp,
    printer_uris,
)
from mfpd.services.tls_accept import accept_tls
from mfpd.services.web.access import IPP_PATHS
from mfpd.services.web.routes import add_web, closing, web_middlewares
from mfpd.services.web.state import SERVICE

log = logging.getLogger("mfpd.ipp")

IPP_TYPE = "application/ipp"
# Octets of requests the fast path holds while it answers one; past this, it stops reading.
FAST_BUFFER = 256 * 1024
# What polling clients send, and what never waits: answered in the callback that received it
# (operation-id, RFC 8010 3.4.2, as it is on the wire).
_IMMEDIATE = frozenset(
    op.to_bytes(2, "big")
    for op in (
        Operation.GET_PRINTER_ATTRIBUTES,
        Operation.VALIDATE_JOB,
        Operation.GET_JOBS,
        Operation.GET_JOB_ATTRIBUTES,
    )
)
# The requests whose answers may be given again (IppOperations.answered_alone).
_AGAIN = Operation.GET_PRINTER_ATTRIBUTES.to_bytes(2, "big")
READ_SIZE = 256 * 1024
REAP_INTERVAL = 10.0
# After an answer given before the whole body was read (a refused request), aiohttp reads
# and drops what is still coming for at most this long, so that the client sees the answer.
LINGER = 5.0
# A Host header worth building printer URIs from: a DNS name or IP literal, and a port.
_HOST = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?"
)


class BodyError(ConnectionError):
    """The request body broke off: bad HTTP framing or Content-Encoding, silence past the idle
    timeout, or the peer left. A job it carried is aborted (job-data-insufficient)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class IppService:
    """IPP on 631: plain HTTP and TLS on the same port, told apart by the first byte (a TLS
    ClientHello starts with 0x16, an HTTP request with a letter), as printers do."""

    name = "ipp"
    tls_only = False
    # Plain HTTP only (port 80): no TLS by the first byte, no Upgrade.
    plain_only = False

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.config: IppListenerConfig = getattr(ctx.config.services, self.name)
        self.operations = IppOperations(
            ctx.device,
            ctx.spool,
            ctx.config.spool.max_job_bytes,
            self.name,
            ctx.config.ipp,
            ctx.subscriptions,
        )
        self.limits = Limits(max_message_bytes=self.config.max_attribute_bytes)
        self.requests = RequestMemo(self.limits)  # the fast path's bodies come whole
        self.answers = AnswerMemo()
        self.http_log = HttpLog(self.name, log)
        self._runner: web.AppRunner | None = None
        self._listener: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._connecting: set[asyncio.Task[None]] = set()  # accepted, not yet speaking HTTP
        self.open: set[_HttpConnection] = set()  # speaking HTTP (over TLS or not)
        self._reaper: asyncio.Task[None] | None = None
        self._tls: DeviceContext | None = None
        self.server_header = f"{ctx.device.identity.make} {ctx.device.identity.model} IPP/2.0"
        self.ok_heads = OkHeads(IPP_TYPE, self.server_header)

    def _app(self) -> web.Application:
        @web.middleware
        async def in_request(request: web.Request, handler: Handler) -> web.StreamResponse:
            # The head is in: from here the header timeout is over, the handler reads the body.
            conn = request.protocol
            if isinstance(conn, _HttpConnection):
                conn.request_begins(request.content)
            try:
                return await handler(request)
            finally:
                if isinstance(conn, _HttpConnection):
                    conn.request_ends(request.content)

        web_state = self.ctx.web
        app = web.Application(
            middlewares=[in_request, *web_middlewares(web_state)],
            client_max_size=1024**2,
        )
        app[SERVICE] = self
        for path in IPP_PATHS:
            app.router.add_post(path, self._post)
        app.router.add_get(ICON_PATH, self._icon)
        add_web(app, self, web_state)
        app.on_response_prepare.append(self._identity)
        return app

    async def _identity(self, request: web.Request, response: web.StreamResponse) -> None:
        # The device's own Server header: nothing may reveal the HTTP library underneath.
        response.headers["Server"] = self.server_header

    async def start(self) -> list[PortEntry]:
        identity = self.ctx.device.identity
        tls_dir = self.ctx.state_dir / TLS_DIR
        cert, key = ensure_certificate(tls_dir, identity.hostname, identity.make)
        self._tls = None if self.plain_only else server_context(cert, key)
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        self.ctx.gate.limit(
            self.name,
            lambda: self.config.max_connections,
            lambda: len(self.open) + len(self._connecting),
        )
        self._listener, entry = bind_tcp(self.ctx, self.name, self.config.port)
        if self._listener is not None:
            self._acceptor = asyncio.create_task(self._accept(self._listener), name=self.name)
        self._reaper = asyncio.create_task(self._abort_abandoned(), name=f"{self.name}-timeouts")
        if self.ctx.config.security.https_only and not self.tls_only and entry.listening:
            # The coupling shows in the port table, as the disclosure's table would say it.
            note = "https_only: over plain HTTP, IPP gets 426 (upgrade to TLS), pages a redirect"
            entry = dataclasses.replace(entry, note="; ".join(filter(None, [entry.note, note])))
        return [entry]

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(listener)
            except OSError as exc:  # EMFILE and the like: keep serving the others
                log.warning("%s: accept failed: %s", self.name, exc)
                await asyncio.sleep(0.1)
                continue
            peer = _address(address)
            if turn_away(self.ctx, self.name, conn, str(address[0]), int(address[1])):
                conn.close()
                continue
            task = asyncio.create_task(self._connect(conn, peer))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: socket.socket, peer: str) -> None:
        loop = asyncio.get_running_loop()
        assert self._runner is not None and self._runner.server is not None
        manager = self._runner.server
        upgraded = False
        initial = b""  # bytes read here to look for an Upgrade, handed on to HTTP
        stage = "sending nothing"
        try:
            async with asyncio.timeout(self.config.idle_timeout):
                first = await _peek(conn)
            if not first:
                conn.close()  # connected and left (a port scan): nothing to answer
                return
            tls = self._tls
            if not self.tls_only:
                tls = self._tls if first == TLS_HANDSHAKE else None
                if first == b"O":  # OPTIONS: perhaps an RFC 2817 Upgrade to TLS
                    stage = "sending a request head"
                    async with asyncio.timeout(self.config.header_timeout):
                        initial = await _read_head(conn, MAX_UPGRADE_HEAD)
                    if self._tls is not None and _is_upgrade(initial):
                        await loop.sock_sendall(
                            conn,
                            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                            b"Upgrade: TLS/1.2,HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
                        )
                        tls, initial, upgraded = self._tls, b"", True
            stage = "in the TLS handshake"
            factory = functools.partial(_HttpConnection, self, manager, initial)
            if tls is None:
                transport, _ = await loop.connect_accepted_socket(factory, conn)
            else:
                transport = await accept_tls(
                    conn,
                    factory,
                    tls,
                    handshake_timeout=self.config.header_timeout,
                    # A TLS close waits for the client's close_notify, reading (and
                    # decrypting, and dropping) whatever it still sends: uvloop did so for
                    # its default 30 s.
                    shutdown_timeout=min(LINGER, self.config.header_timeout),
                )
            if upgraded:
                # RFC 2817 3.3: the answer to the OPTIONS request comes over the new TLS.
                transport.write(
                    b"HTTP/1.1 200 OK\r\nAllow: GET, OPTIONS, POST\r\nContent-Length: 0\r\n"
                    b"Server: " + self.server_header.encode() + b"\r\n\r\n"
                )
        except TimeoutError:
            log.info("%s: %s: closed after timing out %s", self.name, peer, stage)
            conn.close()
        except OSError as exc:  # reset, TLS alert, handshake timeout
            answered = " (answered with a TLS alert)" if isinstance(exc, HandshakeRefused) else ""
            log.info(
                "%s: %s: connection dropped before HTTP: %s%s",
                self.name, peer, short_error(exc), answered,
            )  # fmt: skip
            conn.close()
        except asyncio.CancelledError:
            conn.close()
            raise

    async def _abort_abandoned(self) -> None:
        """RFC 8011 5.4.31 multiple-operation-time-out: a Create-Job whose documents never
        come is aborted (multiple-operation-time-out-action abort-job), not kept forever."""
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            try:
                self.operations.abort_abandoned(MULTIPLE_OPERATION_TIME_OUT)
            except Exception as exc:  # a bug: logged, and the next round tries again
                self.internal_error("multiple-operation-time-out", exc)

    async def stop(self, grace: float) -> None:
        if self._runner is not None:
            closing(self._runner.app)
        for task in (self._reaper, self._acceptor, *self._connecting):
            if task is not None:
                task.cancel()
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            server = self._runner.server
            if server is not None:
                # Requests in flight get `grace` seconds (aiohttp's own default is 60).
                server.pre_shutdown()
                await server.shutdown(grace)
            await self._runner.cleanup()

    async def _icon(self, request: web.Request) -> web.Response:
        return web.Response(body=icon_png(), content_type="image/png")

    async def _read(self, request: web.Request) -> bytes:
        """The next piece of the body: b"" at its end, BodyError if it breaks off."""
        timeout = self.config.idle_timeout
        try:
            async with asyncio.timeout(timeout):
                return await request.content.read(READ_SIZE)
        except TimeoutError:
            raise BodyError(f"request body stalled for {timeout:g} s", 408) from None
        except web.RequestPayloadError as exc:  # chunked framing, Content-Encoding
            raise BodyError(f"bad request body: {short_error(exc)}") from None

    async def _post(self, request: web.Request) -> web.StreamResponse:
        peer = f"{request.remote}"
        if request.content_type != IPP_TYPE:
            log.info("%s: %s: POST with Content-Type %s", self.name, peer, request.content_type)
            return web.Response(status=400, text="IPP requests are application/ipp\n")
        parser = MessageParser(self.limits)
        message: Message | None = None
        head = b""  # the 8-octet header, to echo version and request-id in an error
        try:
            while message is None:
                chunk = await self._read(request)
                if not chunk:
                    message = parser.close()
                    break
                if len(head) < 8:
                    head += chunk[: 8 - len(head)]
                message = parser.feed(chunk)
        except ConnectionError as exc:
            log.info("%s: %s: request cut short: %s", self.name, peer, short_error(exc))
            return _broken(exc)
        except IppDecodeError as exc:
            answer, too_large = self._bad_request(exc, head, peer)
            response = self._ipp(answer, peer)
            if too_large:
                response.force_close()  # the rest of the attribute part is not worth reading
            return response

        async def body() -> AsyncIterator[bytes]:
            if parser.remaining:
                yield parser.remaining
            while chunk := await self._read(request):
                yield chunk

        uris = self._uris(request)
        try:
            answer = await self.operations.handle(message, body(), uris, peer)
        except ConnectionError as exc:
            # The job is already recorded as aborted; the answer is for a client still there.
            log.info("%s: %s: request body cut short: %s", self.name, peer, short_error(exc))
            return _broken(exc)
        except Exception as exc:  # a bug: answered in IPP, logged in one line, serving goes on
            self.internal_error(peer, exc)
            answer = _internal_error_answer(message)
        # Whatever the handler did not read (a refused document) is drained by aiohttp.
        return self._ipp(answer, peer)

    def _bad_request(self, exc: IppDecodeError, head: bytes, peer: str) -> tuple[Message, bool]:
        """The IPP answer to an undecodable request (version and request-id echoed when the
        8-octet header came), and whether the connection is to close after it."""
        too_large = exc.status == StatusCode.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE
        log.log(
            logging.WARNING if too_large else logging.INFO,
            "%s: %s: bad request: %s", self.name, peer, exc,
        )  # fmt: skip
        request_id = int.from_bytes(head[4:8], "big", signed=True) if len(head) >= 8 else 0
        version = (head[0], head[1]) if len(head) >= 2 and head[0] in (1, 2) else (2, 0)
        return Message(version, exc.status, max(0, request_id), _bad_groups(str(exc))), too_large

    async def answer_whole(
        self, data: bytes, uris: PrinterUris, peer: str
    ) -> tuple[bytes, bool, Stamp | None]:
        """The fast path's request, its body whole in `data`: the same answer as _post
        gives, encoded; whether to close the connection after it; and, when the answer is
        a function of `data` but the request-id, `uris` and `operations.printer_stamp()`
        alone, the stamp it was made under (else None)."""
        try:
            message, offset = self.requests.decode(data)
        except IppDecodeError as exc:
            answer, too_large = self._bad_request(exc, data[:8], peer)
            return self._encode(answer, peer), too_large, None
        rest = data[offset:]

        async def body() -> AsyncIterator[bytes]:
            if rest:
                yield rest

        small = len(data) <= self.requests.max_octets
        stamp: Stamp | None = None
        if small and message.code == Operation.GET_PRINTER_ATTRIBUTES:
            stamp = self.operations.printer_stamp()
        try:
            answer = await self.operations.handle(message, body(), uris, peer, small)
        except Exception as exc:  # a bug: answered in IPP, logged in one line, serving goes on
            self.internal_error(peer, exc)
            answer = _internal_error_answer(message)
            stamp = None
        octets = self._encode(answer, peer)
        if stamp is not None and (
            octets[2:4] != b"\x00\x00"  # successful-ok (RFC 8010 3.1.1), as encoded
            or not self.operations.answered_alone(message)
            or self.operations.printer_stamp() != stamp  # changed while answering
        ):
            stamp = None
        return octets, False, stamp

    def internal_error(self, peer: str, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        log.error(
            "%s: %s: internal error: %s: %s (%s)",
            self.name, peer, type(exc).__name__, short_error(exc), where,
        )  # fmt: skip
        log.debug("%s: internal error", self.name, exc_info=exc)

    def _uris(self, request: web.Request) -> PrinterUris:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        return self._uris_of(request.headers.get("Host", ""), sockname, request.secure)

    def _uris_of(self, host: str, sockname: Any, secure: bool) -> PrinterUris:
        if not _HOST.fullmatch(host):
            # No usable Host header (HTTP/1.0, or junk): the address the client reached.
            if isinstance(sockname, tuple) and len(sockname) >= 2:
                address = f"[{sockname[0]}]" if ":" in str(sockname[0]) else str(sockname[0])
                host = f"{address}:{sockname[1]}"
            else:
                host = f"{self.ctx.device.identity.hostname}:{self.config.port}"
        return printer_uris(host, secure=secure, tls=self._tls is not None)

    def _encode(self, message: Message, peer: str) -> bytes:
        try:
            return self.answers.encode(message)
        except IppEncodeError as exc:  # a value the handler built cannot go on the wire
            self.internal_error(peer, exc)
            return encode_message(_internal_error_answer(message))

    def _ipp(self, message: Message, peer: str) -> web.Response:
        return web.Response(body=self._encode(message, peer), content_type=IPP_TYPE)


class _Again(NamedTuple):
    """The last answer of a connection's fast path, to give again to the same request: the
    request's octets before and after its request-id (RFC 8010 3.1.1: octets 4 to 7 of
    the body, head included before them), the answer's (the HTTP head included) likewise,
    and the printer stamp the answer was made under."""

    before: bytes
    after: bytes
    answer_before: bytes
    answer_after: bytes
    stamp: Stamp


class _HttpConnection(DeviceHandler):
    """aiohttp's HTTP/1.1 connection, watched by the listener: it counts towards
    max_connections, and a poll ends it when a request head takes longer than header_timeout,
    when it is silent for idle_timeout between requests, or when its client has not read a
    byte of its answers for idle_timeout."""

    def __init__(self, service: IppService, manager: web.Server, initial: bytes) -> None:
        config = service.config
        super().__init__(
            manager,
            server_header=service.server_header,
            log=service.http_log,
            # a backstop only: the poll below closes an idle connection first, with a log line
            keepalive_timeout=config.idle_timeout + 60,
            lingering_time=min(LINGER, config.header_timeout),
        )
        self.service = service
        self.peer = "?"
        self._initial = initial
        self._transport: asyncio.Transport | None = None
        self._poll: asyncio.TimerHandle | None = None
        self._in_request = False
        self._body: StreamReader | None = None  # the body being read, or drained after
        self._head_since: float | None = None  # when the bytes of a request head began
        self._last_activity = time.monotonic()
        self._unsent = 0  # bytes waiting in the transport at the last poll
        self._sent_at = time.monotonic()  # when some of them last went out, or began to wait
        self._interval = max(0.05, min(1.0, config.header_timeout / 4, config.idle_timeout / 4))
        # The fast path's buffer; None once the connection has gone to aiohttp (for good:
        # aiohttp's parser state is its own, so the two never take turns).
        self._fast: bytearray | None = bytearray()
        self._fast_task: asyncio.Future[bool] | None = None
        self._fast_blocked = False  # answers wait in the transport: no next one yet
        self._fast_paused = False  # reading paused by the fast path
        self._again: _Again | None = None
        self._writing_paused = False
        # What the fast path's answers are made with: who asks, over what, by which name.
        self._address = "?"
        self._secure = False
        self._host: str | None = None
        self._uris = printer_uris("localhost", secure=False, tls=False)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = stream(transport)
        self.peer = _peer(transport)
        self._address = self.peer.rsplit(":", 1)[0]
        self._secure = transport.get_extra_info("sslcontext") is not None
        if not self._secure and self.service.ctx.config.security.https_only:
            # Over plain HTTP every request gets aiohttp's path, whose https_only middleware
            # answers it (426 for IPP, a redirect for the rest).
            self._fast = None
        self.service.open.add(self)
        super().connection_made(transport)
        self._poll = asyncio.get_running_loop().call_later(self._interval, self._check)
        if self._initial:
            data, self._initial = self._initial, b""
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self._fast is not None:
            # The fast path: requests complete in hand are answered here, without aiohttp.
            self._last_activity = time.monotonic()
            self._fast += data
            if self._fast_task is None and not self._fast_blocked:
                self._fast_next()
            elif len(self._fast) > FAST_BUFFER:
                self._fast_reading(False)
            return
        self._slow_received(data)

    def _fast_reading(self, on: bool) -> None:
        """Back-pressure: a client that sends faster than it reads its answers is not read
        from until it catches up (aiohttp does the same on its path)."""
        transport = self._transport
        if transport is None or transport.is_closing() or on != self._fast_paused:
            return
        self._fast_paused = not on
        if on:
            transport.resume_reading()
        else:
            transport.pause_reading()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._writing_paused = True

    def resume_writing(self) -> None:
        super().resume_writing()
        self._writing_paused = False
        if self._fast_blocked:
            self._fast_blocked = False
            self._fast_reading(True)
            self._fast_next()

    def _fast_next(self) -> None:
        """Answer the buffered requests on the fast path, or give everything to aiohttp for
        good (a request the fast path does not take, or one still arriving)."""
        service = self.service
        while (buffer := self._fast) and self._fast_task is None and not self._fast_blocked:
            if self._again is not None:
                went = self._answer_again(buffer, self._again)
                if went is not None:
                    if not went:
                        return
                    continue
            request = parse_simple(buffer, IPP_PATHS, service.config.max_attribute_bytes)
            if not isinstance(request, SimpleRequest) or request.content_type != IPP_TYPE:
                self._fast_reading(True)  # aiohttp does its own flow control from here
                self._fast = None
                self._slow_received(bytes(buffer))
                return
            # What the request is known again by, should its answer be given again.
            head = request.size - len(request.body)
            before = bytes(buffer[: head + 4]) if request.body[2:4] == _AGAIN else b""
            del buffer[: request.size]
            answering = self._fast_answer(request, before)
            if request.body[2:4] not in _IMMEDIATE:
                waiting: asyncio.Future[bool] | None = asyncio.ensure_future(answering)
                go_on: bool | None = False
            else:
                try:
                    go_on, waiting = eager.start(answering)
                except Exception as exc:  # a bug outside the operation: this connection ends
                    self._fast_failed(exc)
                    return
            if waiting is not None:  # the task goes on, and with it the next request
                waiting.add_done_callback(self._fast_answered)
                self._fast_task = waiting
                return
            if not go_on:
                return

    def _fast_answered(self, task: asyncio.Future[bool]) -> None:
        self._fast_task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._fast_failed(exc)
        elif task.result():
            self._fast_next()

    def _fast_failed(self, exc: BaseException) -> None:
        self.service.internal_error(self.peer, exc)
        if self._transport is not None:
            self._transport.abort()

    def _answer_again(self, buffer: bytearray, again: _Again) -> bool | None:
        """The request answered last, the same octets but the request-id, while nothing its
        answer shows has changed (the same printer stamp): the same answer with the new
        request-id, without parsing, decoding or encoding anything; whether the next request
        may follow at once. None when that is not the request, or the stamp has changed."""
        at = len(again.before)
        end = at + 4 + len(again.after)
        if (
            len(buffer) < end
            or not buffer.startswith(again.before)
            or buffer[at + 4 : end] != again.after
        ):
            return None
        request_id = buffer[at : at + 4]
        if request_id[0] >= 0x80 or not any(request_id):
            return None  # RFC 8011 4.1.2: 1 to 2**31 - 1; the full path answers the rest
        transport = self._transport
        if (
            transport is None
            or transport.is_closing()
            or self.service.operations.printer_stamp() != again.stamp
        ):
            self._again = None
            return None
        del buffer[:end]
        self._last_activity = time.monotonic()
        transport.write(b"".join((again.answer_before, request_id, again.answer_after)))
        return self._written()

    async def _fast_answer(self, request: SimpleRequest, before: bytes) -> bool:
        """Answer one request; whether the next may follow at once. `before`: the request's
        octets before its request-id, to know it again (b"" when its answer is never given
        again)."""
        transport = self._transport
        if transport is None:
            return False
        self._in_request = True
        self._again = None
        if request.host != self._host:  # the same client asks by the same name
            self._host = request.host
            self._uris = self.service._uris_of(
                request.host, transport.get_extra_info("sockname"), self._secure
            )
        try:
            answer, close, stamp = await self.service.answer_whole(
                request.body, self._uris, self._address
            )
        except Exception as exc:  # a bug outside the operation: this connection ends
            self._fast_failed(exc)
            return False
        finally:
            self._in_request = False
            self._last_activity = time.monotonic()
        if transport.is_closing():
            return False
        close = close or request.close
        head = self.service.ok_heads.head(len(answer), close)
        transport.write(head + answer)
        if close:
            transport.close()
            return False
        if stamp is not None and before and self.service.operations.printer_stamp() == stamp:
            # Still the stamp's second, so `head`'s Date is of that second too.
            self._again = _Again(before, request.body[8:], head + answer[:4], answer[8:], stamp)
        return self._written()

    def _written(self) -> bool:
        """After an answer is written: whether the next request may follow at once."""
        if self._writing_paused:
            self._fast_blocked = True  # resume_writing goes on
            self._fast_reading(False)
            return False
        self._fast_reading(True)
        return True

    def _slow_received(self, data: bytes) -> None:
        now = time.monotonic()
        self._last_activity = now
        draining = self._body is not None and not self._body.is_eof()
        if not self._in_request and self._head_since is None and not draining:
            self._head_since = now
        super().data_received(data)
        if self.refused and self._body is not None and not self._body.is_eof():
            # aiohttp's C parser reports bad framing inside a body (a chunk size that is no
            # hex number) as a refusal queued for after the request, without failing the
            # body being read, whose reader would wait for the idle timeout.
            self._body.set_exception(web.RequestPayloadError("bad framing in the request body"))

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_since is not None and not self._in_request:
            log.info(
                "%s: %s: connection closed inside a request head", self.service.name, self.peer
            )
        self.service.open.discard(self)
        self._again = None
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        self._transport = None
        super().connection_lost(exc)

    def request_begins(self, body: StreamReader) -> None:
        self._in_request = True
        self._head_since = None
        self._body = body

    def request_ends(self, body: StreamReader) -> None:
        self._in_request = False
        self._last_activity = time.monotonic()
        self._body = None if body.is_eof() else body

    def error_answered(self) -> None:
        self._head_since = None  # answered (and logged): no longer a head in progress

    def _check(self) -> None:
        self._poll = None
        transport = self._transport
        if transport is None:
            return
        config = self.service.config
        name = self.service.name
        now = time.monotonic()
        unsent = transport.get_write_buffer_size()
        if unsent < self._unsent or (unsent and not self._unsent):
            self._sent_at = now  # bytes went out, or began to wait
        self._unsent = unsent
        if unsent and now - self._sent_at >= config.idle_timeout:
            log.info(
                "%s: %s: has read none of %d bytes of answers for %.0f s, closing",
                name, self.peer, unsent, now - self._sent_at,
            )  # fmt: skip
            transport.abort()  # close() would wait for the bytes to go
            return
        last = max(self._last_activity, self._sent_at)
        if not self._in_request and not transport.is_closing():
            if self._head_since is not None and now - self._head_since >= config.header_timeout:
                log.info(
                    "%s: %s: request head not complete after %.0f s, closing",
                    name, self.peer, now - self._head_since,
                )  # fmt: skip
                transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0"
                    b"\r\nServer: " + self.service.server_header.encode() + b"\r\n\r\n"
                )
                self._head_since = None
                self.force_close()
            elif self._head_since is None and now - last >= config.idle_timeout:
                log.info("%s: %s: idle for %.0f s, closing", name, self.peer, now - last)
                self.force_close()
        self._poll = asyncio.get_running_loop().call_later(self._interval, self._check)


def _broken(exc: ConnectionError) -> web.Response:
    status = exc.status if isinstance(exc, BodyError) else 400
    response = web.Response(status=status, text=f"incomplete request: {exc}\n")
    response.force_close()
    return response


def _internal_error_answer(request: Message) -> Message:
    version = request.version if request.version[0] in (1, 2) else (2, 0)
    return Message(
        version,
        StatusCode.SERVER_ERROR_INTERNAL_ERROR,
        max(0, request.request_id),
        _bad_groups("internal error"),
    )


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


def _address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _peer(transport: asyncio.BaseTransport) -> str:
    return _address(transport.get_extra_info("peername"))


class IppsService(IppService):
    """HTTPS on 443: the web UI and IPPS, over TLS only."""

    name = "https"
    tls_only = True


class HttpService(IppService):
    """HTTP on 80: the web UI (and IPP, as printers answer it there too), plain only."""

    name = "http"
    plain_only = True


MAX_UPGRADE_HEAD = 8192
TLS_HANDSHAKE = b"\x16"  # TLS record type 22, the first byte of a ClientHello (RFC 8446 5.1)


def _is_upgrade(head: bytes) -> bool:
    """RFC 2817 HTTP Upgrade to TLS, as `ipptool -E` and CUPS ask for it: an `OPTIONS *`
    request with `Upgrade: TLS/1.x`, answered 101 here, then TLS starts."""
    end = head.find(b"\r\n\r\n")
    if end < 0 or end + 4 != len(head):  # incomplete, or more than one request head
        return False
    lines = head[:end].decode("latin-1").lower().split("\r\n")
    upgrade = any(line.startswith("upgrade:") and "tls/" in line for line in lines)
    return lines[0].startswith("options ") and upgrade


async def _read_head(conn: socket.socket, limit: int) -> bytes:
    """Bytes up to the end of a request head (or `limit` of them, or the peer's EOF)."""
    loop = asyncio.get_running_loop()
    head = b""
    while b"\r\n\r\n" not in head and len(head) < limit:
        chunk = await loop.sock_recv(conn, limit - len(head))
        if not chunk:
            break
        head += chunk
    return head


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
