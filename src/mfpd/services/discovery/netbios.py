"""NetBIOS over TCP/IP (RFC 1001/1002): the name service on UDP 137 and the datagram service
on UDP 138, as a B-node holding the device's name.

The name service answers name queries for NAME<00> and NAME<20> (workstation, server) with
the bind address, WORKGROUP<00> as a group member, and node status queries (NBSTAT, for "*"
or our name) with the name table and the MAC address SNMP reports as ifPhysAddress. Directed
queries (`nmblookup -U`, nbtscan, nmap's nbstat) come to the unicast socket; broadcast ones
to a socket bound to the subnet's broadcast address when --bind names one address (a socket
bound to that address never sees broadcasts). Names we do not hold get silence: only an
NBNS (WINS) server answers negatively (RFC 1001 15.1.2), and we are none.

The datagram service holds its port; it broadcasts a host announcement (MS-BRWS 2.2.1) only
when `[services.netbios_dgm] announce` is on (off by default, see config.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct

from mfpd.codecs import netbios
from mfpd.config import NetbiosDgmConfig, NetbiosNsConfig
from mfpd.services.base import PortEntry, ServiceContext
from mfpd.services.discovery.interfaces import named_by
from mfpd.services.discovery.responder import DatagramResponder, Peer, _Receiver
from mfpd.services.snmp.mib_system import mac_address

SIOCGIFNETMASK = 0x891B  # linux/sockios.h
# Seconds a client may keep a resolved name: Windows' 300,000 s (RFC 1002 leaves it open).
NAME_TTL = 300_000


def netbios_name(ctx: ServiceContext) -> str:
    """The configured name, else the host name: upper case, at most 15 characters
    (RFC 1001 14: the 16th byte is the suffix), dots ending it (a DNS name's first label)."""
    configured: NetbiosNsConfig = ctx.config.services.netbios_ns
    name = configured.name or ctx.device.identity.hostname.split(".")[0]
    return name.upper()[:15]


def subnet_broadcast(bind: str) -> str | None:
    """The directed broadcast address of the interface holding an IPv4 bind address
    (address | ~netmask); None for a wildcard or IPv6 bind, or when it cannot be read."""
    address = bind.strip("[]")
    if ":" in address or address in ("0.0.0.0", ""):
        return None
    interface = next(iter(named_by(address)), None)
    if interface is None:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            request = struct.pack("256s", interface.name.encode()[:15])
            mask = fcntl.ioctl(probe.fileno(), SIOCGIFNETMASK, request)[20:24]
        except OSError:
            return None
    ours = socket.inet_aton(address)
    return socket.inet_ntoa(bytes(a | (~m & 0xFF) for a, m in zip(ours, mask, strict=True)))


def _broadcast_socket(address: str, port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        return None
    return sock


class NetbiosNameService(DatagramResponder):
    name = "netbios_ns"
    group = None  # broadcast, not multicast: see start()

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        assert isinstance(self.config, NetbiosNsConfig)
        self.workgroup = self.config.workgroup.upper()
        self._broadcast: asyncio.DatagramTransport | None = None

    @property
    def netbios_name(self) -> str:
        return netbios_name(self.ctx)

    def _answer_address(self) -> str:
        address = self.address
        if address in ("0.0.0.0", ""):
            usable = [i for i in named_by(address) if i.ipv4 and not i.loopback]
            return usable[0].ipv4 if usable else "127.0.0.1"
        return address

    async def start(self) -> list[PortEntry]:
        entries = await super().start()
        if ":" in self.address:
            # NetBIOS over TCP/IP is IPv4 only (RFC 1001/1002).
            return entries
        broadcast = subnet_broadcast(self.ctx.bind)
        if self.listening and broadcast is not None:
            sock = _broadcast_socket(broadcast, self.port)
            if sock is not None:
                loop = asyncio.get_running_loop()
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Receiver(self, True), sock=sock
                )
                self._broadcast = transport
                entry = entries[0]
                note = "; ".join(filter(None, [entry.note, f"broadcast {broadcast}"]))
                entries = [
                    PortEntry(entry.service, entry.protocol, entry.address, entry.port,
                              entry.standard_port, entry.state, note)
                ]  # fmt: skip
        return entries

    async def stop(self, grace: float) -> None:
        if self._broadcast is not None:
            self._broadcast.close()
            self._broadcast = None
        await super().stop(grace)

    def datagram(self, data: bytes, peer: Peer, multicast: bool) -> None:
        try:
            packet = netbios.parse_query(data)
        except netbios.NetbiosError as exc:
            self.reject(peer, str(exc))
            # A directed request we cannot read gets FMT_ERR (RFC 1002 4.2.6); a broadcast
            # one silence, as every other node on the link would answer it too.
            if exc.transaction is not None and not multicast:
                error = netbios.encode_error(exc.transaction, exc.flags, netbios.Rcode.FMT_ERR)
                self.reply(error, peer, len(data))
            return
        if isinstance(packet, netbios.Other):
            return  # other nodes' registrations, refreshes and answers
        if packet.scope:
            return  # a NetBIOS scope we are not in (RFC 1001 9)
        ours = self.netbios_name
        asked = packet.netbios_name.upper()
        answer: bytes | None = None
        if packet.qtype == netbios.RrType.NBSTAT:
            if packet.name == netbios.WILDCARD or asked == ours:
                answer = netbios.encode_node_status(
                    packet, self.name_table(), mac_address(self.ctx.device.identity)
                )
        elif asked == ours and packet.suffix in (netbios.WORKSTATION, netbios.SERVER):
            answer = netbios.encode_name_response(packet, self._answer_address(), False, NAME_TTL)
        elif asked == self.workgroup and packet.suffix == netbios.WORKSTATION:
            answer = netbios.encode_name_response(packet, self._answer_address(), True, NAME_TTL)
        if answer is not None:
            self.reply(answer, peer, len(data))

    def name_table(self) -> list[netbios.NameEntry]:
        ours = self.netbios_name
        return [
            netbios.NameEntry(ours, netbios.WORKSTATION),
            netbios.NameEntry(ours, netbios.SERVER),
            netbios.NameEntry(self.workgroup, netbios.WORKSTATION, group=True),
        ]


class NetbiosDatagramService(DatagramResponder):
    name = "netbios_dgm"
    group = None

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        assert isinstance(self.config, NetbiosDgmConfig)
        self.settings = self.config
        self._announcer: asyncio.Task[None] | None = None
        self.announcements = 0
        self._transaction = 0

    def datagram(self, data: bytes, peer: Peer, multicast: bool) -> None:
        # Browser elections, other hosts' announcements, mailslot messages: a device that
        # is no browser has nothing to say to them.
        return

    def _announcement(self, server_type: int) -> bytes:
        identity = self.ctx.device.identity
        self._transaction = (self._transaction + 1) & 0xFFFF
        return netbios.encode_host_announcement(
            self._transaction, netbios_name(self.ctx),
            self.ctx.config.services.netbios_ns.workgroup, self.address, self.port,
            identity.make_and_model, self.settings.announce_interval * 1000, server_type,
        )  # fmt: skip

    def _send(self, data: bytes) -> bool:
        destination = subnet_broadcast(self.ctx.bind) or "255.255.255.255"
        sock = self._sock
        if sock is None:
            return False
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.sendto(data, (destination, self.port))
        except OSError as exc:
            self.log.warning("%s: cannot broadcast to %s: %s", self.name, destination, exc)
            return False
        self.announcements += 1
        return True

    async def announce_start(self) -> None:
        if not self.settings.announce or ":" in self.address:
            return
        self._announcer = asyncio.create_task(self._announce())

    async def _announce(self) -> None:
        # MS-BRWS 3.2.6: announce at start, then every interval (the first ones sooner: 1,
        # 2, 4, 8 minutes up to the interval, as Windows does after a start).
        delay = 60
        server_type = netbios.SV_TYPE_WORKSTATION | netbios.SV_TYPE_PRINTQ_SERVER
        while True:
            self._send(self._announcement(server_type))
            await asyncio.sleep(min(delay, self.settings.announce_interval))
            delay *= 2

    async def announce_stop(self) -> None:
        if self._announcer is None:
            return
        self._announcer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._announcer
        self._announcer = None
        # MS-BRWS 3.2.5.x: a server leaving announces itself with no service bits.
        self._send(self._announcement(0))
