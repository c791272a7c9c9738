"""What every network service shares: its context, the port table rows, listening sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from mfpd.config import Config, ServiceConfig
from mfpd.device.jobs import Job
from mfpd.device.machine import Device
from mfpd.device.spool import Spool
from mfpd.security.gate import Action, Gate, reset
from mfpd.services.ipp.subscriptions import SubscriptionStore

if TYPE_CHECKING:
    from mfpd.device.image_overwrite import ImageOverwriter
    from mfpd.device.mailboxes import Mailboxes
    from mfpd.device.originals import Originals
    from mfpd.device.scan_jobs import ScanJobs
    from mfpd.outbound.ddns import DynamicDns
    from mfpd.outbound.dns import DeviceResolver
    from mfpd.security.audit_events import AuditFeed
    from mfpd.security.secrets import Secrets
    from mfpd.services.web.state import WebState

# Standard ports below 1024 move here when the process may not bind them (shared/PORTS.md).
UNPRIVILEGED_SHIFT = 8000


@dataclass(frozen=True)
class PortEntry:
    """One row of the port table (printed at start, STATE_DIR/ports.json, `mfpd ports`)."""

    service: str
    protocol: str  # tcp or udp
    address: str
    port: int
    standard_port: int
    state: str  # listening, moved, disabled, unavailable, failed; client (outbound/ports.py)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def listening(self) -> bool:
        """The service's socket is bound to `port` now (moved: bound to its moved port)."""
        return self.state in ("listening", "moved")


@dataclass
class ServiceContext:
    config: Config
    device: Device
    spool: Spool
    state_dir: Path
    bind: str
    port_offset: int
    log: logging.Logger
    # IPP subscriptions (RFC 3995): one store, whichever listener a client subscribes on.
    subscriptions: SubscriptionStore
    # The web server's shared state (sessions, tokens, event log, settings); None where no
    # web server runs (unit tests of other services).
    web: WebState | None = None
    # The IP filter every listener asks before it parses a byte (security/gate.py).
    gate: Gate = field(default_factory=Gate)
    # The security audit log's feed (security/audit_events.py) and image overwrite; None in
    # unit tests of services that do not record.
    audit: AuditFeed | None = None
    overwriter: ImageOverwriter | None = None
    # The scanner's jobs, the originals loaded on it, the mailboxes and the sealed passwords
    # of the outbound clients (issue 15); None in unit tests of services that do not scan.
    scans: ScanJobs | None = None
    originals: Originals | None = None
    mailboxes: Mailboxes | None = None
    secrets: Secrets | None = None
    # The resolver of every outbound client and its cache (outbound/dns.py, made at first
    # use), and the dynamic updates of the device's names (outbound/ddns.py; None: [dns]
    # ddns off, or a unit test).
    resolver: DeviceResolver | None = None
    ddns: DynamicDns | None = None


def turn_away(ctx: ServiceContext, service: str, sock: Any, address: str, port: int) -> bool:
    """Ask the gate about a TCP peer just accepted: its IP filter, then the service's
    connection limit. True when it is turned away (the socket then set to close with a reset
    for reject, as is otherwise; the caller closes it)."""
    action = ctx.gate.admit(service, address, port)
    if action is Action.ACCEPT:
        return ctx.gate.full(service, address)
    if action is Action.REJECT and sock is not None:
        reset(sock)
    return True


class Service(Protocol):
    name: str

    async def start(self) -> list[PortEntry]: ...

    async def stop(self, grace: float) -> None:
        """Stop accepting; give in-flight transfers `grace` seconds, then end them."""
        ...


def planned_port(standard: int, offset: int) -> int:
    return standard + offset


def bind_tcp(
    ctx: ServiceContext, service: str, standard_port: int, *, backlog: int = 128
) -> tuple[socket.socket | None, PortEntry]:
    """A listening socket on the service's port, moved when privileges are missing."""
    return _bind(ctx, service, standard_port, "tcp", backlog)


def bind_udp(
    ctx: ServiceContext, service: str, standard_port: int, *, shared: bool = False
) -> tuple[socket.socket | None, PortEntry]:
    """A bound datagram socket on the service's port, moved when privileges are missing.
    `shared`: the port is one that other responders on the host use too (5353, 1900, 3702,
    427), as avahi, minissdpd and wsdd share them with SO_REUSEADDR and SO_REUSEPORT."""
    return _bind(ctx, service, standard_port, "udp", 0, shared)


def _bind(
    ctx: ServiceContext,
    service: str,
    standard_port: int,
    protocol: str,
    backlog: int,
    shared: bool = False,
) -> tuple[socket.socket | None, PortEntry]:
    port = planned_port(standard_port, ctx.port_offset)
    note = ""
    state = "listening"
    family = socket.AF_INET6 if ":" in ctx.bind else socket.AF_INET

    def open_socket(number: int) -> socket.socket:
        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(family, kind)
        try:
            if protocol == "tcp" or shared:
                # Not on other UDP ports, where it would let a second daemon share the port.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if shared:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((ctx.bind, number))
            if protocol == "tcp":
                sock.listen(backlog)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    try:
        try:
            sock = open_socket(port)
        except PermissionError:
            if port >= 1024:
                raise
            note = f"port {port} needs privileges; moved to {port + UNPRIVILEGED_SHIFT}"
            port += UNPRIVILEGED_SHIFT
            state = "moved"
            sock = open_socket(port)
    except OSError as exc:
        # In use, an address this host does not have, a port refused by policy: a "failed"
        # row, which the daemon turns into an exit at start (unless [daemon] keep_going) and
        # which the port table shows when a later change cannot open the port.
        ctx.log.error(
            "%s: cannot bind %s:%d/%s: %s",
            service,
            ctx.bind,
            port,
            protocol,
            exc.strerror or exc,
        )
        failed = PortEntry(
            service, protocol, ctx.bind, port, standard_port, "failed", exc.strerror or str(exc)
        )
        return None, failed
    address, bound_port = sock.getsockname()[:2]
    if family == socket.AF_INET6:
        address = f"[{address}]"
    return sock, PortEntry(service, protocol, address, bound_port, standard_port, state, note)


async def listen_tcp(
    ctx: ServiceContext,
    service: str,
    standard_port: int,
    factory: Callable[[], asyncio.BaseProtocol],
) -> tuple[asyncio.Server | None, PortEntry]:
    """Open a TCP listener on the service's port, moving it when privileges are missing."""
    sock, entry = bind_tcp(ctx, service, standard_port)
    if sock is None:
        return None, entry
    server = await asyncio.get_running_loop().create_server(factory, sock=sock)
    return server, entry


class ConnectionLimit:
    """A service's open connections, counted against its configured maximum by the gate."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.open: set[asyncio.BaseTransport] = set()

    def add(self, transport: asyncio.BaseTransport) -> None:
        self.open.add(transport)

    def release(self, transport: asyncio.BaseTransport) -> None:
        self.open.discard(transport)


def stream(transport: asyncio.BaseTransport) -> asyncio.Transport:
    """A TCP (or TLS) connection's transport. Cast, not checked with isinstance: uvloop's
    transports have the methods of asyncio.Transport without being its subclasses."""
    return cast(asyncio.Transport, transport)


def peer_name(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class JobService:
    """A TCP service whose connections receive print jobs (raw 9100, LPD)."""

    name: str

    def __init__(self, ctx: ServiceContext, config: ServiceConfig) -> None:
        self.ctx = ctx
        self.limit = ConnectionLimit(config.max_connections)
        self.idle_timeout = config.idle_timeout
        self.port = config.port
        self.connections: set[JobConnection] = set()
        self.log = logging.getLogger(f"mfpd.{self.name}")
        self._server: asyncio.Server | None = None

    def connection(self) -> JobConnection:
        raise NotImplementedError

    async def start(self) -> list[PortEntry]:
        limit = self.limit
        self.ctx.gate.limit(self.name, lambda: limit.maximum, lambda: len(limit.open))
        self._server, entry = await listen_tcp(self.ctx, self.name, self.port, self.connection)
        return [entry]

    async def stop(self, grace: float) -> None:
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + grace
        while any(c.job is not None for c in self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.shutdown()
        if self._server is not None:
            await self._server.wait_closed()


class JobConnection(asyncio.Protocol):
    """What every job-receiving connection shares: the connection limit, the idle timeout,
    and the rule that a job cut short is recorded as aborted, never dropped."""

    def __init__(self, service: JobService) -> None:
        self.service = service
        self.log = service.log
        self.spool = service.ctx.spool
        self.device = service.ctx.device
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.job: Job | None = None
        self._last_activity = time.monotonic()
        self._idle_timer: asyncio.TimerHandle | None = None

    # -- hooks for the protocol ----------------------------------------------------------

    def opened(self) -> None:
        """The connection was admitted."""

    def idle(self) -> None:
        """The peer was silent for the idle timeout; the default ends the connection."""
        self.interrupt("the sender went silent")
        self.close()

    def interrupt(self, message: str) -> None:
        """Abort the job being received, if any, with `message`."""
        raise NotImplementedError

    def closed(self) -> None:
        """The connection is gone; release what the protocol holds."""

    # -- shared machinery ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = stream(transport)
        self.peer = peer_name(transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and turn_away(
            self.service.ctx, self.service.name, transport.get_extra_info("socket"),
            str(peer[0]), int(peer[1]),
        ):  # fmt: skip
            transport.abort()
            return
        self.service.limit.add(transport)
        self.transport = transport
        self.service.connections.add(self)
        self._idle_timer = asyncio.get_running_loop().call_later(
            self.service.idle_timeout, self._check_idle
        )
        self.opened()

    def touch(self) -> None:
        self._last_activity = time.monotonic()

    def _check_idle(self) -> None:
        idle = time.monotonic() - self._last_activity
        timeout = self.service.idle_timeout
        if idle < timeout:
            self._idle_timer = asyncio.get_running_loop().call_later(
                timeout - idle, self._check_idle
            )
            return
        self.log.info("%s: %s: idle for %.0f s, closing", self.service.name, self.peer, idle)
        self.idle()

    def send(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def shutdown(self) -> None:
        """The daemon stops: a job still arriving is recorded as interrupted, not printed."""
        if self.job is not None:
            self.interrupt(
                f"the controller shut down while {self.peer} was sending "
                f"({self.job.bytes} bytes received)"
            )
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return  # refused at the door
        if self.job is not None:
            self.interrupt(
                f"connection from {self.peer} lost after {self.job.bytes} bytes: "
                f"{exc or 'closed mid-job'}"
            )
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self.service.limit.release(self.transport)
        self.service.connections.discard(self)
        self.transport = None
        self.closed()
