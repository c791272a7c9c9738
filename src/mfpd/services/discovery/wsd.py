"""The WS-Discovery responder on UDP 3702: Hello at start, Bye at stop, ProbeMatches and
ResolveMatches to the sender of a matching Probe or Resolve, in the version (2005/04 or
2009/01) of the request. The metadata the answers point to (XAddrs) is served by the web
listener (http_routes.py, POST /wsd).

SOAP-over-UDP retransmits a message with the same MessageID (nmap sends every Probe twice):
a MessageID seen lately is not answered again. A multicast Probe or Resolve is answered after
a random delay of up to APP_MAX_DELAY (WS-Discovery section 3, 500 ms), a directed one at
once. Every answer is charged to the reply budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import OrderedDict
from collections.abc import Callable

from mfpd.codecs import wsd
from mfpd.device.events import Event
from mfpd.log_limit import LogLimit
from mfpd.services.base import ServiceContext
from mfpd.services.discovery import advertised
from mfpd.services.discovery.boot_counter import metadata_version, next_start_number
from mfpd.services.discovery.interfaces import Interface
from mfpd.services.discovery.responder import DatagramResponder, Peer

INSTANCE_FILE = "wsd-instance-id"
METADATA_FILE = "wsd-metadata-version.json"
APP_MAX_DELAY = 0.5
# SOAP-over-UDP (2004/09) appendix I: MULTICAST_UDP_REPEAT 1, UDP_MIN_DELAY 50 ms,
# UDP_MAX_DELAY 250 ms: Hello and Bye go out twice.
MULTICAST_REPEAT = 1
UDP_MIN_DELAY, UDP_MAX_DELAY = 0.05, 0.25
REMEMBERED_IDS = 512
MAX_WAITING = 256


class WsdResponder(DatagramResponder):
    name = "wsd"
    group = wsd.GROUP
    ttl = 1  # SOAP-over-UDP: multicast stays on the link

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        self.instance_id = 0
        self.message_number = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._waiting: set[asyncio.TimerHandle] = set()
        self._hello: asyncio.Task[None] | None = None
        self._metadata = ("", 0)  # fingerprint and MetadataVersion, kept in the state dir
        self._unsubscribe: Callable[[], None] | None = None
        self._xaddrs = ""  # the XAddrs last announced (for self.address)
        self.unanswerable = LogLimit("probes left unanswered", log=ctx.log, prefix=self.name)

    def sequence(self) -> wsd.Sequence:
        self.message_number += 1
        return wsd.Sequence(self.instance_id, self.message_number)

    def endpoint(self, host: str) -> wsd.Endpoint:
        identity = self.ctx.device.identity
        fingerprint = advertised.metadata_fingerprint(identity)
        if fingerprint != self._metadata[0]:
            version = metadata_version(self.ctx.state_dir, METADATA_FILE, fingerprint)
            self._metadata = (fingerprint, version)
        return wsd.Endpoint(
            advertised.wsd_endpoint(identity), advertised.xaddrs(self.ctx, host), self._metadata[1]
        )

    @staticmethod
    def message_id() -> str:
        return f"urn:uuid:{uuid.uuid4()}"

    # -- requests ------------------------------------------------------------------------

    def datagram(self, data: bytes, peer: Peer, multicast: bool) -> None:
        try:
            message = wsd.parse(data)
        except wsd.WsdError as exc:
            self.reject(peer, str(exc))
            return
        if message.kind is wsd.Kind.PROBE:
            if not wsd.probe_matches(message):
                return
        elif message.kind is wsd.Kind.RESOLVE:
            if not wsd.resolve_matches(message, advertised.wsd_endpoint(self.ctx.device.identity)):
                return
        else:
            return  # Hello, Bye and matches of other devices (and our own, looped back)
        if self._seen_lately(message.message_id):
            return
        if not multicast:
            self._answer(message, peer, len(data))
            return
        if len(self._waiting) >= MAX_WAITING:
            if self.unanswerable.allow():
                self.log.warning("%s: %d probes waiting; %s:%d not answered", self.name,
                                 len(self._waiting), *peer)  # fmt: skip
            return

        def answer() -> None:
            self._waiting.discard(handle)
            self._answer(message, peer, len(data))

        handle = asyncio.get_running_loop().call_later(random.uniform(0, APP_MAX_DELAY), answer)
        self._waiting.add(handle)

    def _seen_lately(self, message_id: str) -> bool:
        if message_id in self._seen:
            self._seen.move_to_end(message_id)
            return True
        self._seen[message_id] = None
        if len(self._seen) > REMEMBERED_IDS:
            self._seen.popitem(last=False)
        return False

    def _answer(self, message: wsd.Message, peer: Peer, request_size: int) -> None:
        endpoint = self.endpoint(advertised.reply_address(self.ctx.bind, peer[0]))
        build = (
            wsd.probe_matches_message
            if message.kind is wsd.Kind.PROBE
            else wsd.resolve_matches_message
        )
        self.reply(build(message, endpoint, self.message_id(), self.sequence()), peer, request_size)

    # -- announcements -------------------------------------------------------------------

    def _announcements(self, hello: bool) -> list[tuple[Interface, bytes]]:
        messages = []
        for interface in self.joined:
            host = interface.ipv4 if advertised.is_wildcard(self.ctx.bind) else self.address
            endpoint = self.endpoint(host)
            for version in wsd.Version:
                build = wsd.hello if hello else wsd.bye
                data = build(version, endpoint, self.message_id(), self.sequence())
                messages.append((interface, data))
        return messages

    def _send(self, messages: list[tuple[Interface, bytes]]) -> None:
        for interface, data in messages:
            self.multicast(data, interfaces=[interface])

    async def _hellos(self) -> None:
        # WS-Discovery (both versions) section 4.1: Hello when the device joins; the same
        # message again after UDP_MIN_DELAY to UDP_MAX_DELAY (SOAP-over-UDP's repeat).
        await asyncio.sleep(random.uniform(0, APP_MAX_DELAY / 5))
        messages = self._announcements(hello=True)
        for repeat in range(1 + MULTICAST_REPEAT):
            if repeat:
                await asyncio.sleep(random.uniform(UDP_MIN_DELAY, UDP_MAX_DELAY))
            self._send(messages)

    def _on_event(self, event: Event) -> None:
        if not self.listening:
            return
        if event.kind == "identity.changed":
            asyncio.get_running_loop().call_soon(self._metadata_changed)
        elif event.kind == "ports.changed":
            asyncio.get_running_loop().call_soon(self._xaddrs_changed)

    def _xaddrs_changed(self) -> None:
        """The web server moved, went or came back: a Hello with the new XAddrs (or none),
        as at a start, so that clients send the next Get to where it is answered."""
        xaddrs = advertised.xaddrs(self.ctx, self.address)
        if xaddrs != self._xaddrs and self.listening:
            self._xaddrs = xaddrs
            self._send(self._announcements(hello=True))

    def _metadata_changed(self) -> None:
        """WS-Discovery (both versions) section 4.1: a Hello, with the new MetadataVersion,
        when the metadata changes: clients fetch it again."""
        fingerprint = advertised.metadata_fingerprint(self.ctx.device.identity)
        if fingerprint != self._metadata[0] and self.listening:
            self._send(self._announcements(hello=True))

    async def announce_start(self) -> None:
        self.instance_id = next_start_number(self.ctx.state_dir, INSTANCE_FILE)
        self.message_number = 0
        self.endpoint(self.address)  # MetadataVersion as of this start
        self._xaddrs = advertised.xaddrs(self.ctx, self.address)
        self._unsubscribe = self.ctx.device.events.subscribe(self._on_event)
        if self.joined:
            self._hello = asyncio.create_task(self._hellos(), name="wsd-hello")

    async def announce_stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._hello is not None:
            self._hello.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._hello
            self._hello = None
        for handle in self._waiting:
            handle.cancel()
        self._waiting.clear()
        messages = self._announcements(hello=False)
        for _ in range(1 + MULTICAST_REPEAT):
            self._send(messages)
