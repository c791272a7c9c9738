"""The SSDP responder on UDP 1900 (UPnP Device Architecture 1.1 section 1): answers M-SEARCH
for the printer's targets and announces it with NOTIFY ssdp:alive / ssdp:byebye.

The description the answers point to (LOCATION) is served by the web listener
(http_routes.py). A multicast M-SEARCH is answered after a random delay of up to MX seconds
(1.3.3), so that a network's devices do not all answer at once; a unicast one at once (nmap's
upnp-info sends unicast). Every answer is charged to the reply budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
from collections.abc import Callable
from typing import cast

from mfpd.codecs import ssdp
from mfpd.config import SsdpConfig
from mfpd.device.events import Event
from mfpd.log_limit import LogLimit
from mfpd.services.base import ServiceContext
from mfpd.services.discovery import advertised
from mfpd.services.discovery.boot_counter import next_start_number
from mfpd.services.discovery.interfaces import Interface
from mfpd.services.discovery.responder import DatagramResponder, Peer

BOOT_ID_FILE = "ssdp-boot-id"
# UDA 1.1 1.2.2: wait 0-100 ms before the first set, send each set more than once, a few
# hundred milliseconds apart.
FIRST_DELAY = 0.1
REPEATS = 3
REPEAT_GAP = 0.3
# Searches waiting out their MX delay: a flood of multicast M-SEARCH must not pile up timers.
MAX_WAITING = 256


class SsdpResponder(DatagramResponder):
    name = "ssdp"
    group = ssdp.GROUP
    ttl = 2  # UDA 1.1 1.1.2: the TTL of multicast messages should default to 2

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        self.settings = cast(SsdpConfig, self.config)
        self.boot_id = 0
        self._waiting: set[asyncio.TimerHandle] = set()
        self._announcer: asyncio.Task[None] | None = None
        self._config_id = 0  # the CONFIGID last announced
        self._location: str | None = None  # the LOCATION last announced (for self.address)
        self._unsubscribe: Callable[[], None] | None = None
        self.unanswerable = LogLimit("searches left unanswered", log=ctx.log, prefix=self.name)

    def device(self, host: str) -> ssdp.Device | None:
        """What the answers say, for a client that reaches us at `host`; None while the web
        server has no port to serve the description from."""
        location = advertised.description_url(self.ctx, host)
        return None if location is None else self._device(location, host)

    def _device(self, location: str, host: str) -> ssdp.Device:
        identity = self.ctx.device.identity
        return ssdp.Device(
            uuid=identity.uuid,
            location=location,
            server=advertised.server_token(identity),
            max_age=self.settings.max_age,
            boot_id=self.boot_id,
            config_id=advertised.upnp_description(self.ctx, host).config_id,
        )

    # -- searches ------------------------------------------------------------------------

    def datagram(self, data: bytes, peer: Peer, multicast: bool) -> None:
        try:
            message = ssdp.parse(data)
        except ssdp.SsdpError as exc:
            self.reject(peer, str(exc))
            return
        if message.kind is not ssdp.Kind.SEARCH:
            return  # other devices' NOTIFY and answers (and our own NOTIFY, looped back)
        mx = message.mx
        if not multicast:
            # UDA 1.1 1.3.2: a unicast M-SEARCH has no MX and is answered at once.
            self._answer(message.target, peer, len(data))
            return
        if mx is None:
            self.reject(peer, "multicast M-SEARCH without MX")
            return
        if len(self._waiting) >= MAX_WAITING:
            if self.unanswerable.allow():
                self.log.warning("%s: %d searches waiting; %s:%d not answered", self.name,
                                 len(self._waiting), *peer)  # fmt: skip
            return
        loop = asyncio.get_running_loop()

        def answer() -> None:
            self._waiting.discard(handle)
            self._answer(message.target, peer, len(data))

        handle = loop.call_later(random.uniform(0, mx), answer)
        self._waiting.add(handle)

    def _answer(self, target: str, peer: Peer, request_size: int) -> None:
        device = self.device(advertised.reply_address(self.ctx.bind, peer[0]))
        if device is None:
            if self.unanswerable.allow():
                self.log.info("%s: no HTTP listener for the description; %s:%d not answered",
                              self.name, *peer)  # fmt: skip
            return
        date = email.utils.formatdate(usegmt=True)
        # The request pays for the first answer's bytes only: ssdp:all's four answers draw
        # the rest from the budget.
        credit = request_size
        for st, usn in device.matching(target):
            data = ssdp.response(device, st, usn, date)
            if not self.reply(data, peer, credit):
                break
            credit = max(0, credit - len(data))

    # -- announcements -------------------------------------------------------------------

    def _notify(self, *, alive: bool) -> None:
        for interface in self.joined:
            host = self._announced_host(interface)
            # byebye names no LOCATION: it goes out even once the web server is gone.
            device = self.device(host) if alive else self._device("", host)
            if device is None:
                continue
            for target, usn in device.targets():
                data = (ssdp.alive if alive else ssdp.byebye)(device, target, usn)
                self.multicast(data, interfaces=[interface])

    def _announced_host(self, interface: Interface) -> str:
        return interface.ipv4 if advertised.is_wildcard(self.ctx.bind) else self.address

    async def _announce(self) -> None:
        await asyncio.sleep(random.uniform(0, FIRST_DELAY))
        for _ in range(REPEATS):
            self._notify(alive=True)
            await asyncio.sleep(REPEAT_GAP)
        while True:
            # UDA 1.1 1.2.2: again before half of max-age has passed, at a random moment.
            await asyncio.sleep(self.settings.max_age / 2 * random.uniform(0.8, 1.0))
            self._notify(alive=True)

    def _on_event(self, event: Event) -> None:
        if not self.listening:
            return
        if event.kind == "identity.changed":
            asyncio.get_running_loop().call_soon(self._description_changed)
        elif event.kind == "ports.changed":
            asyncio.get_running_loop().call_soon(self._location_changed)

    def _location_changed(self) -> None:
        """The web server moved, went or came back: the old LOCATION is withdrawn (byebye)
        and the new one announced (alive), so that no control point keeps a dead URL."""
        location = advertised.description_url(self.ctx, self.address)
        if location == self._location or not self.listening:
            return
        if self._location is not None:
            self._notify(alive=False)
        self._location = location
        if location is not None:
            self._notify(alive=True)

    def _description_changed(self) -> None:
        """A new name in the description means a new CONFIGID: announced at once, so that
        control points read the description again (UDA 1.1 1.2.2)."""
        config_id = advertised.upnp_description(self.ctx, self.address).config_id
        if config_id != self._config_id and self.listening:
            self._config_id = config_id
            self._notify(alive=True)

    async def announce_start(self) -> None:
        self.boot_id = next_start_number(self.ctx.state_dir, BOOT_ID_FILE)
        self._config_id = advertised.upnp_description(self.ctx, self.address).config_id
        self._location = advertised.description_url(self.ctx, self.address)
        self._unsubscribe = self.ctx.device.events.subscribe(self._on_event)
        if self.joined:
            self._announcer = asyncio.create_task(self._announce(), name="ssdp-alive")

    async def announce_stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._announcer is not None:
            self._announcer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._announcer
            self._announcer = None
        for handle in self._waiting:
            handle.cancel()
        self._waiting.clear()
        # Twice, as UDP may lose one (UDA 1.1 1.2.2 asks the same of ssdp:alive).
        for _ in range(2):
            self._notify(alive=False)
