"""TCP 3003, the internal status channel of the WorkCentre's port table (shared/PORTS.md): the
live status the web server shows (the values SNMP reports), for local callers only.

It listens on the loopback address whatever --bind says, is open exactly while HTTP is on
(ServicesConfig.effective), and answers `GET /` or `GET /status` with the status document of
/api/v1/status. A caller that is not local is refused before a byte is read (the socket
option alone would not stop a packet with a spoofed loopback source on another interface);
any other request is 404 or 405.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import logging

from aiohttp import web

from mfpd.ports import service_bind
from mfpd.services.base import PortEntry, ServiceContext, bind_tcp, stream, turn_away
from mfpd.services.http_handler import DeviceHandler, HttpLog
from mfpd.services.web.views import status_view

log = logging.getLogger("mfpd.status")

PATHS = ("/", "/status")


def _local(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class StatusChannel:
    name = "status"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.config = ctx.config.services.status
        identity = ctx.device.identity
        self.server_header = f"{identity.make} {identity.model}"
        self.http_log = HttpLog(self.name, log)
        self._server: web.Server | None = None
        self._listener: asyncio.Server | None = None
        self.open = 0

    async def start(self) -> list[PortEntry]:
        self.ctx.gate.limit(self.name, lambda: self.config.max_connections, lambda: self.open)
        local = dataclasses.replace(self.ctx, bind=service_bind(self.name, self.ctx.bind))
        sock, entry = bind_tcp(local, self.name, self.config.port)
        if sock is None:
            return [entry]
        self._server = web.Server(self._handle, access_log=None)
        self._listener = await asyncio.get_running_loop().create_server(self._protocol, sock=sock)
        return [entry]

    def _protocol(self) -> asyncio.Protocol:
        assert self._server is not None
        return _LocalOnly(self, self._server)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path not in PATHS:
            response = web.json_response({"error": "not found", "status": 404}, status=404)
        elif request.method not in ("GET", "HEAD"):
            response = web.json_response(
                {"error": "only GET", "status": 405}, status=405, headers={"Allow": "GET, HEAD"}
            )
        else:
            body = status_view(self.ctx.device, self.ctx.spool, self.ctx.faxes)
            response = web.Response(
                text=json.dumps(body, separators=(",", ":")), content_type="application/json"
            )
        response.headers["Server"] = self.server_header
        return response

    async def stop(self, grace: float) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._server is not None:
            await self._server.shutdown(grace)
        if self._listener is not None:
            await self._listener.wait_closed()


class _LocalOnly(DeviceHandler):
    """One connection: admitted when local and under max_connections, else aborted."""

    def __init__(self, channel: StatusChannel, manager: web.Server) -> None:
        super().__init__(
            manager,
            server_header=channel.server_header,
            log=channel.http_log,
            keepalive_timeout=channel.config.idle_timeout,
        )
        self.channel = channel
        self.admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = stream(transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else ""
        if isinstance(peer, tuple) and turn_away(
            self.channel.ctx, self.channel.name, transport.get_extra_info("socket"), address,
            int(peer[1]),
        ):  # fmt: skip
            transport.abort()
            return
        if not _local(address):
            log.warning("status: %s refused: not a local caller", address or "?")
            transport.abort()
            return
        self.admitted = True
        self.channel.open += 1
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.admitted:
            self.admitted = False
            self.channel.open -= 1
            super().connection_lost(exc)
