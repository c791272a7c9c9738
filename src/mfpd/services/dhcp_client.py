"""The device's DHCP client (RFC 2131, client port 68): takes the device's address, router,
DNS servers, domain and host name from the office's server, renews at T1, rebinds at T2,
and gives the address back (DHCPRELEASE) when the daemon stops.

It runs only when `[network] dhcp = true`, as root, on the interface `[network] interface`
names: never on one it guessed, since it adds and removes that interface's address. The
address goes on with `ip address replace` (iproute2): three calls per lease do not justify
a netlink library, and iproute2 is there wherever network namespaces are. The lease lives in
`device.network` (device/network.py), where `mfpd status`, the web UI and the resolver read
it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import socket
import struct
import time
from ipaddress import IPv4Address

from mfpd.codecs import dhcp
from mfpd.device.network import ClientState, Lease, Network
from mfpd.log_limit import LogLimit
from mfpd.outbound.ddns import update_records
from mfpd.services.base import ServiceContext
from mfpd.services.snmp.mib_system import mac_address

log = logging.getLogger("mfpd.dhcp")

SIOCGIFHWADDR = 0x8927  # linux/sockios.h
# RFC 2131 4.1: retransmit after 4 s, doubling to 64 s, each randomized by +-1 s.
FIRST_RETRY = 4.0
LAST_RETRY = 64.0
# RFC 2131 4.4.5: while renewing or rebinding, wait half the time left to T2 (or to the end
# of the lease), "down to a minimum of 60 seconds"; the floor is lower here so that a lease
# shortened by [network] renew_after still gets several tries.
EXTEND_RETRY_MIN = 4.0
EXTEND_RETRY_MAX = 60.0
# How long the address change through `ip` may take.
IP_TIMEOUT = 10.0
# How long a DHCPRELEASE is given to leave (the server's neighbour entry may need an ARP
# exchange) before the address it comes from is removed.
RELEASE_GRACE = 0.5
BROADCAST = "255.255.255.255"


class NotOwned(Exception):
    """The client may not run here (not root, no such interface)."""


class DhcpClient:
    name = "dhcp"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.interface = ctx.config.network.interface
        self._transport: asyncio.DatagramTransport | None = None
        self._replies: asyncio.Queue[dhcp.Message] = asyncio.Queue(maxsize=64)
        self._task: asyncio.Task[None] | None = None
        self._assigned: str | None = None  # "address/prefix" as added to the interface
        self._chaddr = b""  # the interface's hardware address, read at start
        # A flood of junk on 68 must not flood the log.
        self._junk = LogLimit("malformed DHCP messages dropped", log=log, prefix="dhcp")
        self._ddns: set[asyncio.Task[bool]] = set()

    @property
    def network(self) -> Network:
        return self.ctx.device.network

    async def start(self) -> None:
        """Open port 68 on the interface and begin (RFC 2131 4.4.1 INIT); the lease comes in
        the background. A client that may not run says why in `mfpd status` and the log."""
        try:
            sock, chaddr = self._open()
        except NotOwned as exc:
            log.error("dhcp: not started: %s", exc)
            self.network.set_state(ClientState.UNAVAILABLE, str(exc))
            return
        self._chaddr = chaddr
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: _Receiver(self), sock=sock)
        self._task = asyncio.create_task(self._run(), name="dhcp-client")

    async def stop(self) -> None:
        """RFC 2131 4.4.6: the lease given back, then the address removed."""
        tasks = [task for task in (self._task, *self._ddns) if task is not None]
        for task in tasks:
            task.cancel()
        # A DDNS update's own failure is its log line and audit entry (outbound/ddns.py).
        await asyncio.gather(*tasks, return_exceptions=True)
        lease = self.network.lease
        if lease is not None and self._transport is not None:
            release = dhcp.release(
                _xid(), self._who, IPv4Address(lease.address), IPv4Address(lease.server)
            )
            self._send(release, lease.server)
            log.info("dhcp: released %s to %s", lease.address, lease.server)
            await asyncio.sleep(RELEASE_GRACE)
            self.network.lost(ClientState.RELEASED, f"released {lease.address}")
        await self._unassign()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def _who(self) -> dhcp.ClientIdentity:
        """Read for each message: a host name edited at run time goes in the next one."""
        identity = self.ctx.device.identity
        return dhcp.ClientIdentity.ethernet(
            self._chaddr, mac_address(identity), identity.hostname.split(".")[0]
        )

    def _open(self) -> tuple[socket.socket, bytes]:
        if os.geteuid() != 0:
            raise NotOwned("needs root (it sets the interface's address)")
        name = self.interface.encode()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            try:
                request = struct.pack("256s", name)
                chaddr = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, request)[18:24]
            except OSError:
                raise NotOwned(f"no interface {self.interface}") from None
            # RFC 2131 4.1: sent from 0.0.0.0 to the limited broadcast before the device has
            # an address; bound to the interface so that nothing leaves by another.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, name)
            # No SO_REUSEADDR: a second client on this interface (dhclient, another daemon)
            # finds 68 taken and this one says so, rather than both taking the replies.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.bind(("0.0.0.0", dhcp.CLIENT_PORT))
            sock.setblocking(False)
        except NotOwned:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            raise NotOwned(f"port {dhcp.CLIENT_PORT} on {self.interface}: {exc}") from None
        return sock, chaddr

    def received(self, data: bytes, sender: tuple[str, int]) -> None:
        try:
            message = dhcp.parse(data)
            kind = message.message_type
        except dhcp.DhcpError as exc:
            # RFC 2131 4.1: what the client cannot use, it drops.
            if self._junk.allow():
                log.warning("dhcp: from %s: dropped: %s", sender[0], exc)
            return
        if message.op != dhcp.BOOTREPLY or message.chaddr != self._chaddr or kind is None:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._replies.put_nowait(message)

    def _send(self, message: dhcp.Message, to: str) -> None:
        if self._transport is not None:
            self._transport.sendto(dhcp.encode(message), (to, dhcp.SERVER_PORT))

    async def _exchange(
        self, message: dhcp.Message, to: str, wanted: tuple[dhcp.MessageType, ...], wait: float
    ) -> dhcp.Message | None:
        """Send once; the first reply to it (same xid) of a wanted type within `wait`."""
        while not self._replies.empty():  # answers to earlier transactions
            self._replies.get_nowait()
        self._send(message, to)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = await asyncio.wait_for(self._replies.get(), left)
            except TimeoutError:
                return None
            if reply.xid == message.xid and reply.message_type in wanted:
                return reply
        return None

    async def _run(self) -> None:
        while True:
            try:
                ack = await self._obtain()
                await self._take(ack, first=True)
                await self._keep()
            except dhcp.DhcpError as exc:
                log.warning("dhcp: %s; starting again", exc)
            except OSError as exc:
                log.error("dhcp: %s; starting again", exc)
                await asyncio.sleep(FIRST_RETRY)

    async def _obtain(self) -> dhcp.Message:
        """RFC 2131 3.1: DISCOVER, the first OFFER, REQUEST, ACK; again from DISCOVER after
        a NAK or silence."""
        while True:
            self.network.set_state(ClientState.INIT)
            xid, started = _xid(), time.monotonic()
            offer = None
            delay = FIRST_RETRY
            while offer is None:
                secs = min(int(time.monotonic() - started), 0xFFFF)
                offer = await self._exchange(
                    dhcp.discover(xid, self._who, secs=secs),
                    BROADCAST,
                    (dhcp.MessageType.OFFER,),
                    delay + random.uniform(-1, 1),
                )
                delay = min(delay * 2, LAST_RETRY)
            log.info("dhcp: offer of %s from %s", offer.yiaddr, offer.server_id)
            self.network.set_state(ClientState.REQUESTING, f"{offer.yiaddr} from {offer.server_id}")
            request = dhcp.request_selecting(xid, self._who, offer)
            delay = FIRST_RETRY
            for _ in range(4):
                reply = await self._exchange(
                    request, BROADCAST, (dhcp.MessageType.ACK, dhcp.MessageType.NAK),
                    delay + random.uniform(-1, 1),
                )  # fmt: skip
                if reply is None:
                    delay = min(delay * 2, LAST_RETRY)
                    continue
                if reply.message_type is dhcp.MessageType.NAK:
                    log.warning("dhcp: NAK from %s: %s", reply.server_id, reply.server_message)
                    break
                return reply

    async def _take(self, ack: dhcp.Message, *, first: bool) -> None:
        """An ACK's lease recorded and its address on the interface."""
        held = self.network.lease
        server = ack.server_id or (IPv4Address(held.server) if held else None)
        if server is None:
            raise dhcp.DhcpError("an ACK without a server identifier (option 54)")
        lease_time = ack.lease_time
        if lease_time is None:
            raise dhcp.DhcpError("an ACK without a lease time (option 51)")
        prefix = ack.prefix_length or _classful_prefix(ack.yiaddr)
        now = time.time()
        # RFC 2131 4.4.5: T1 defaults to half the lease, T2 to seven eighths of it.
        t1 = ack.renewal_time if ack.renewal_time is not None else lease_time / 2
        t2 = ack.rebinding_time if ack.rebinding_time is not None else lease_time * 7 / 8
        renew_after = self.ctx.config.network.renew_after
        if renew_after:
            t1 = min(t1, renew_after)
        lease = Lease(
            interface=self.interface,
            address=str(ack.yiaddr),
            prefix_length=prefix,
            server=str(server),
            routers=tuple(str(r) for r in ack.routers),
            dns_servers=tuple(str(d) for d in ack.dns_servers),
            domain=ack.domain_name or "",
            host_name=ack.host_name or "",
            lease_time=lease_time,
            obtained=now,
            expires=now + lease_time,
            renew_at=now + t1,
            rebind_at=now + max(t2, t1),
        )
        if held is not None and held.address != lease.address:
            await self._unassign()
        await self._assign(lease)
        self.network.bound(lease)
        if held is None or held.address != lease.address:
            self._publish(lease)
        verb = "obtained" if first else "renewed"
        log.info(
            "dhcp: %s %s/%d from %s for %d s (router %s, DNS %s, domain %s)",
            verb, lease.address, prefix, lease.server, lease_time,
            ", ".join(lease.routers) or "none", ", ".join(lease.dns_servers) or "none",
            lease.domain or "none",
        )  # fmt: skip

    def _publish(self, lease: Lease) -> None:
        """A new address: the device's A and PTR records follow it (DDNS, outbound/ddns.py,
        when [dns] ddns is on), in the background: DNS never holds up the lease."""
        name = self.ctx.device.identity.hostname
        task = asyncio.create_task(
            update_records(self.ctx, name, [lease.address]), name="dhcp-ddns"
        )
        self._ddns.add(task)
        task.add_done_callback(self._ddns.discard)

    async def _keep(self) -> None:
        """BOUND until T1, then RENEWING (unicast to the server) until T2, then REBINDING
        (broadcast) until the lease ends (RFC 2131 4.4.5). Returns when the lease is lost."""
        while (lease := self.network.lease) is not None:
            now = time.time()
            if now >= lease.expires:
                log.warning("dhcp: lease of %s ran out", lease.address)
                break
            if now < lease.renew_at:
                await asyncio.sleep(lease.renew_at - now)
                continue
            renewing = now < lease.rebind_at
            state = ClientState.RENEWING if renewing else ClientState.REBINDING
            if state is not self.network.state:
                how = f"with {lease.server}" if renewing else "by broadcast"
                log.info("dhcp: %s %s %s", state.value, lease.address, how)
            self.network.set_state(state, f"{lease.address} from {lease.server}")
            deadline = lease.rebind_at if renewing else lease.expires
            # Never past the deadline: rebinding starts at T2 itself, and the lease ends on time.
            wait = min(max((deadline - now) / 2, EXTEND_RETRY_MIN), EXTEND_RETRY_MAX)
            request = dhcp.request_extending(_xid(), self._who, IPv4Address(lease.address))
            reply = await self._exchange(
                request, lease.server if renewing else BROADCAST,
                (dhcp.MessageType.ACK, dhcp.MessageType.NAK), min(wait, deadline - now),
            )  # fmt: skip
            if reply is None:
                continue
            if reply.message_type is dhcp.MessageType.NAK:
                log.warning("dhcp: NAK for %s: %s", lease.address, reply.server_message)
                break
            await self._take(reply, first=False)
        await self._unassign()
        self.network.lost(ClientState.INIT, "lease lost")

    async def _assign(self, lease: Lease) -> None:
        # valid_lft: the kernel drops the address itself if the daemon dies holding it.
        address = f"{lease.address}/{lease.prefix_length}"
        lifetime = str(max(int(lease.expires - time.time()), 1))
        await _ip(
            "address", "replace", address, "broadcast", "+", "dev", self.interface,
            "valid_lft", lifetime, "preferred_lft", lifetime,
        )  # fmt: skip
        self._assigned = address

    async def _unassign(self) -> None:
        if self._assigned is None:
            return
        address, self._assigned = self._assigned, None
        try:
            await _ip("address", "del", address, "dev", self.interface)
        except OSError as exc:
            log.warning("dhcp: %s", exc)


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, client: DhcpClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.client.received(data, (str(addr[0]), addr[1]))

    def error_received(self, exc: Exception) -> None:
        log.warning("dhcp: %s", exc)


def _xid() -> int:
    # RFC 2131 4.4.1: "chosen by the client"; random so that clients on one link differ.
    return random.getrandbits(32)


def _classful_prefix(address: IPv4Address) -> int:
    """RFC 2131 4.4.1 leaves the mask to the client when option 1 is absent: the class's."""
    first = address.packed[0]
    return 8 if first < 128 else 16 if first < 192 else 24


async def _ip(*args: str) -> None:
    """`ip` with the arguments; OSError with its message when it fails."""
    try:
        process = await asyncio.create_subprocess_exec(
            "ip", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
    except FileNotFoundError:
        raise OSError("ip (iproute2) is not installed") from None
    try:
        async with asyncio.timeout(IP_TIMEOUT):
            _, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise OSError(f"ip {' '.join(args)}: timed out") from None
    if process.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {err.decode(errors='replace').strip()}")
