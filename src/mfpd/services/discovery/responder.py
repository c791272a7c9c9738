"""The UDP responder every discovery service is built on (SLP, SSDP, WS-Discovery, NetBIOS).

Socket rules (issue 13): a socket bound to 127.0.0.1 never receives multicast, so a responder
has two sockets. The unicast socket is bound to the --bind address on the service's port:
it takes directed queries (nmap, `nmblookup -U`, `slptool unicastfindsrvs`) and sends every
reply and announcement, so all leave from the address the administrator named. The group
socket is bound to the group address on the same port and joined on each interface the bind
address names that carries multicast; it only receives. Both share the port (SO_REUSEADDR,
SO_REUSEPORT) with the host's other responders (avahi, minissdpd, wsdd). Every reply is
charged to the reply budget (no amplification for spoofed sources).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from mfpd.config import ResponderConfig, ServiceConfig
from mfpd.log_limit import LogLimit
from mfpd.security.gate import Action
from mfpd.services.base import PortEntry, ServiceContext, bind_udp
from mfpd.services.discovery.interfaces import Interface, multicast_interfaces
from mfpd.services.discovery.reply_budget import ReplyBudget

Peer = tuple[str, int]
# linux/in.h; the socket module names it only from Python 3.12 on (and not on every build).
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, responder: DatagramResponder, multicast: bool) -> None:
        self.responder = responder
        self.multicast = multicast

    def datagram_received(self, data: bytes, addr: Any) -> None:
        peer = (str(addr[0]), int(addr[1]))
        responder = self.responder
        # The IP filter before a byte is parsed: on UDP, reject and drop are both silence.
        if responder.ctx.gate.admit(responder.name, peer[0], peer[1]) is not Action.ACCEPT:
            return
        self.responder.budget.received(len(data))
        try:
            self.responder.datagram(data, peer, self.multicast)
        except Exception:  # a responder's bug must not end its socket
            self.responder.log.exception("%s: %s:%d: datagram failed", self.responder.name, *peer)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a peer that went away: nothing to do but note it.
        self.responder.log.debug("%s: %s", self.responder.name, exc)


class DatagramResponder:
    """Subclasses set `name`, `group` (None: unicast only, e.g. NetBIOS) and `ttl`, and
    implement `datagram`; `announce_start`/`announce_stop` send Hello/alive and Bye/byebye."""

    name: str = ""
    group: str | None = None
    ttl: int = 1  # multicast hop limit: the link (RFC 2608 uses 255, SSDP 2; ours is local)

    def __init__(self, ctx: ServiceContext, config: ServiceConfig | None = None) -> None:
        self.ctx = ctx
        self.config: ServiceConfig = config or getattr(ctx.config.services, self.name)
        self.log = ctx.log
        budget = self.config
        self.budget = (
            ReplyBudget(
                budget.reply_burst,
                budget.reply_rate,
                budget.reply_total_burst,
                budget.reply_total_rate,
            )
            if isinstance(budget, ResponderConfig)
            else ReplyBudget()
        )
        self.bad_input = LogLimit("malformed datagrams", log=ctx.log, prefix=self.name)
        self.port = 0
        self.joined: list[Interface] = []
        self._unicast: asyncio.DatagramTransport | None = None
        self._group: asyncio.DatagramTransport | None = None
        # The unicast socket itself: asyncio's get_extra_info("socket") is a wrapper without
        # sendto, and announcements set IP_MULTICAST_IF per interface before each send.
        self._sock: socket.socket | None = None

    # -- to implement --------------------------------------------------------------------

    def datagram(self, data: bytes, peer: Peer, multicast: bool) -> None:
        raise NotImplementedError

    async def announce_start(self) -> None:
        """Hello, ssdp:alive: sent once both sockets are up."""

    async def announce_stop(self) -> None:
        """Bye, ssdp:byebye: sent before the sockets close."""

    # -- what subclasses call ------------------------------------------------------------

    def reject(self, peer: Peer, why: str) -> None:
        """A datagram the protocol cannot answer: silence, and a (bounded) log line."""
        if self.bad_input.allow():
            self.log.warning("%s: %s:%d: %s", self.name, peer[0], peer[1], why)

    def reply(self, data: bytes, peer: Peer, request_size: int) -> bool:
        """Send a reply to peer if the reply budget allows it; False when it did not go."""
        if self._unicast is None or not self.budget.allow(peer[0], request_size, len(data)):
            return False
        self._unicast.sendto(data, peer)
        return True

    def multicast(
        self, data: bytes, port: int | None = None, interfaces: list[Interface] | None = None
    ) -> int:
        """Send data to the group on every joined interface, or on those of `interfaces`
        (an announcement naming the interface's own address in a URL). Announcements are not
        replies: they are not charged to any source. Returns how many interfaces it went
        out on."""
        sock = self._sock
        if sock is None or self.group is None:
            return 0
        sent = 0
        for interface in self.joined if interfaces is None else interfaces:
            try:
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface.ipv4)
                )
                sock.sendto(data, (self.group, port or self.port))
                sent += 1
            except OSError as exc:
                self.log.warning(
                    "%s: cannot send to %s on %s: %s", self.name, self.group, interface.name, exc
                )
        return sent

    @property
    def listening(self) -> bool:
        return self._unicast is not None

    @property
    def address(self) -> str:
        """The address replies leave from, for the URLs a responder hands out."""
        return self.ctx.bind.strip("[]")

    # -- service -------------------------------------------------------------------------

    async def start(self) -> list[PortEntry]:
        sock, entry = bind_udp(self.ctx, self.name, self.config.port, shared=True)
        if sock is None:
            return [entry]
        self.port = entry.port
        loop = asyncio.get_running_loop()
        notes = [entry.note] if entry.note else []
        if self.group is not None:
            # Bound to the wildcard address (--bind 0.0.0.0), the unicast socket would also
            # get every datagram sent to the group the group socket joined (Linux's default
            # IP_MULTICAST_ALL), and each multicast query would be answered twice.
            with contextlib.suppress(OSError):  # an IPv6 socket may refuse the IPv4 option
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
            # Local clients (avahi, a browser on the same host, the tests) hear announcements.
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            interfaces, why = multicast_interfaces(self.ctx.bind)
            group_sock = self._group_socket(interfaces) if interfaces else None
            if group_sock is None:
                notes.append(f"unicast only: {why or 'cannot join ' + self.group}")
            else:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Receiver(self, True), sock=group_sock
                )
                self._group = transport
                names = ", ".join(i.name for i in self.joined)
                notes.append(f"multicast {self.group} on {names}")
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Receiver(self, False), sock=sock
        )
        self._unicast, self._sock = transport, sock
        await self.announce_start()
        return [
            PortEntry(
                entry.service, entry.protocol, entry.address, entry.port,
                entry.standard_port, entry.state, "; ".join(notes),
            )
        ]  # fmt: skip

    async def stop(self, grace: float) -> None:
        if self._unicast is not None:
            try:
                await self.announce_stop()
            except Exception:
                self.log.exception("%s: goodbye failed", self.name)
        for transport in (self._group, self._unicast):
            if transport is not None:
                transport.close()
        self._group = self._unicast = None
        self._sock = None
        self.joined = []
        # asyncio closes a datagram socket on a later turn of the loop: a restart (new
        # settings) binds the port again right after this returns.
        for _ in range(3):
            await asyncio.sleep(0)

    def _group_socket(self, interfaces: list[Interface]) -> socket.socket | None:
        assert self.group is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.group, self.port))
            for interface in interfaces:
                mreq = struct.pack(
                    "4s4s", socket.inet_aton(self.group), socket.inet_aton(interface.ipv4)
                )
                try:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
                except OSError as exc:
                    self.log.warning(
                        "%s: cannot join %s on %s: %s", self.name, self.group, interface.name, exc
                    )
                    continue
                self.joined.append(interface)
            sock.setblocking(False)
        except OSError as exc:
            self.log.warning("%s: no group socket for %s: %s", self.name, self.group, exc)
            sock.close()
            return None
        if not self.joined:
            sock.close()
            return None
        return sock
