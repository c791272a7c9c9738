"""What every network service shares: its context, the port table rows, listening sockets."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from mfpd.config import Config
from mfpd.device.machine import Device
from mfpd.device.spool import Spool

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
    state: str  # listening, moved, disabled, unavailable, failed
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ServiceContext:
    config: Config
    device: Device
    spool: Spool
    state_dir: Path
    bind: str
    port_offset: int
    log: logging.Logger


class Service(Protocol):
    name: str

    async def start(self) -> list[PortEntry]: ...

    async def stop(self, grace: float) -> None:
        """Stop accepting; give in-flight transfers `grace` seconds, then end them."""
        ...


def planned_port(standard: int, offset: int) -> int:
    return standard + offset


async def listen_tcp(
    ctx: ServiceContext,
    service: str,
    standard_port: int,
    factory: Callable[[], asyncio.BaseProtocol],
    *,
    backlog: int = 128,
) -> tuple[asyncio.Server | None, PortEntry]:
    """Open a TCP listener on the service's port, moving it when privileges are missing."""
    port = planned_port(standard_port, ctx.port_offset)
    loop = asyncio.get_running_loop()
    note = ""
    state = "listening"
    try:
        server = await loop.create_server(
            factory, ctx.bind, port, backlog=backlog, reuse_address=True
        )
    except PermissionError:
        if port >= 1024:
            raise
        note = f"port {port} needs privileges; moved to {port + UNPRIVILEGED_SHIFT}"
        port += UNPRIVILEGED_SHIFT
        state = "moved"
        server = await loop.create_server(
            factory, ctx.bind, port, backlog=backlog, reuse_address=True
        )
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        ctx.log.error("%s: cannot listen on %s:%d: %s", service, ctx.bind, port, exc.strerror)
        entry = PortEntry(
            service, "tcp", ctx.bind, port, standard_port, "failed", exc.strerror or ""
        )
        return None, entry
    sock = server.sockets[0]
    address, bound_port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        address = f"[{address}]"
    return server, PortEntry(service, "tcp", address, bound_port, standard_port, state, note)


class ConnectionLimit:
    """Counts a service's open connections against its configured maximum."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.open: set[asyncio.BaseTransport] = set()

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        if len(self.open) >= self.maximum:
            return False
        self.open.add(transport)
        return True

    def release(self, transport: asyncio.BaseTransport) -> None:
        self.open.discard(transport)


def peer_name(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
