"""mDNS/DNS-SD (RFC 6762, RFC 6763): the printer as AirPrint, Mopria, IPP Everywhere, CUPS
and Android find it, on python-zeroconf's asyncio API.

zeroconf owns its sockets (a group socket on 5353 joined on the --bind address's interface,
and a sender on that address, both SO_REUSEPORT so avahi shares the port), so this service
is not a DatagramResponder; it keeps the same rules: nothing is joined or sent on an
interface the --bind address does not name, and the port table says why when nothing is.

What is advertised (mdns_records.py) follows the live port table: a listener switched off or
moved is withdrawn or re-announced, as the device's identity, state and location change.
The instance name is probed before use, and on a conflict the device takes "NAME (2)", then
"(3)", as RFC 6762 section 9 says; IPP printer-dns-sd-name tells the name held.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

from zeroconf import DNSQuestionType, IPVersion, NonUniqueNameException
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from mfpd.codecs.ipp.values import Attribute
from mfpd.config import ServiceConfig
from mfpd.device.events import Event
from mfpd.services.base import PortEntry, ServiceContext
from mfpd.services.discovery.interfaces import multicast_interfaces, named_by
from mfpd.services.discovery.mdns_records import Advert, adverts, instance_name
from mfpd.services.ipp.printer_attributes import PrinterAttributes, printer_uris

# RFC 6762 section 3: every querier asks on 5353; a responder elsewhere is heard by nobody.
MDNS_PORT = 5353
GROUP = "224.0.0.251"
GROUP_V6 = "ff02::fb"
# The device events that change what the TXT records say or which listeners are up.
WATCHED = (
    "identity.changed",
    "printer.state",
    "device.levels",
    "alert.added",
    "alert.removed",
    "ports.changed",
)
# Several events arrive together (a job's start changes state and levels): one update.
SETTLE = 0.3
# Seconds between two announcements of changed records (with some margin over 1 s).
FLUSH_WINDOW = 1.2
# How long an owner of the instance name has to answer the multicast lookup (milliseconds);
# RFC 6762 6: a responder answers a shared-record query within 20-120 ms.
LOOKUP_MS = 1000
# Renames tried after a conflict before giving up ("NAME (2)" .. "NAME (9)").
MAX_ATTEMPTS = 9
# RFC 6762 10: host records (A, SRV) 120 s, the others 75 minutes; zeroconf's defaults.


class MdnsService:
    name = "mdns"

    def __init__(self, ctx: ServiceContext, config: ServiceConfig | None = None) -> None:
        self.ctx = ctx
        self.config: ServiceConfig = config or ctx.config.services.mdns
        self.log = ctx.log
        self.attributes = PrinterAttributes(ctx.config.ipp)
        self._zc: AsyncZeroconf | None = None
        self._addresses: list[str] = []
        # What is registered now: service type -> (its advert, [the instance, *subtypes]).
        self._held: dict[str, tuple[Advert, list[AsyncServiceInfo]]] = {}
        self._base = ""  # the printer name the instance name was made from
        self._name = ""  # the instance name held ("XRX-WC7755 (2)")
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- service -------------------------------------------------------------------------

    async def start(self) -> list[PortEntry]:
        ctx = self.ctx
        port = self.config.port + ctx.port_offset
        address = ctx.bind

        def row(state: str, note: str) -> list[PortEntry]:
            return [PortEntry(self.name, "udp", address, port, self.config.port, state, note)]

        if port != MDNS_PORT:
            # Queriers ask on 5353 only (RFC 6762 section 3): moved, nobody would hear it.
            return row("unavailable", f"mDNS is on {MDNS_PORT} only; port offset {ctx.port_offset}")
        where = _where(ctx.bind)
        if isinstance(where, str):
            return row("unavailable", f"not listening: {where}")
        interfaces, names, version = where
        try:
            zc = AsyncZeroconf(interfaces=list(interfaces), ip_version=version)
        except (OSError, RuntimeError) as exc:  # RuntimeError: zeroconf found no interface
            # Discovery failing must not keep the device from printing: shown, not fatal.
            self.log.warning("mdns: cannot open %d/udp: %s", MDNS_PORT, exc)
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return row("unavailable", f"cannot open {MDNS_PORT}: {why}")
        self._zc = zc
        self._addresses = list(interfaces)
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = ctx.device.events.subscribe(self._on_event)
        # Probing takes about two seconds (RFC 6762 8.1): the daemon does not wait for it.
        self._task = asyncio.create_task(self._run(), name="mdns")
        group = GROUP_V6 if version is IPVersion.V6Only else GROUP
        return row("listening", f"multicast {group} on {', '.join(names)}")

    async def stop(self, grace: float) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        zc, self._zc = self._zc, None
        if zc is not None:
            try:
                # RFC 6762 10.1: goodbyes (TTL 0) for every record, before the sockets close.
                await zc.async_unregister_all_services()
            except Exception:
                self.log.exception("mdns: goodbye failed")
            await zc.async_close()
        self._held.clear()
        self.ctx.device.set_dns_sd_name("")

    # -- what is advertised --------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if event.kind in WATCHED and self._loop is not None:
            self._loop.call_soon_threadsafe(self._changed.set)

    async def _run(self) -> None:
        try:
            await self._claim()
            while True:
                await self._changed.wait()
                await asyncio.sleep(SETTLE)
                self._changed.clear()
                await self._update()
                # RFC 6762 10.2: records that arrive within a second of a cache-flush record
                # of the same name join its set instead of replacing it, so a TXT record
                # changed twice within a second leaves both in avahi's cache (seen: an
                # idle-paused-idle within 0.7 s, avahi kept showing "stopped").
                await asyncio.sleep(FLUSH_WINDOW)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("mdns: advertising stopped")

    def _wanted(self) -> list[Advert]:
        ctx = self.ctx
        web = ctx.web
        live_port: Callable[[str], int | None] = (
            web.live_port if web is not None else (lambda _service: None)
        )
        host = f"{ctx.device.identity.hostname}.local"
        # The attributes IPP answers a client that found the printer here: printer-more-info
        # is built from the host and port it connects to, as adminurl must be.
        port = live_port("ipp") or live_port("http") or 631
        uris = printer_uris(f"{host}:{port}", secure=False, tls=live_port("https") is not None)
        attrs: dict[str, Attribute] = {
            a.name: a for a in self.attributes(ctx.device, ctx.spool, uris)
        }
        queues = ctx.config.services.lpd.queues
        return adverts(
            attrs, live_port, host=host, lpd_queue=queues[0] if queues else None,
            tls_version=_tls_version(), scan=ctx.config.scan.enabled,
        )  # fmt: skip

    async def _claim(self) -> None:
        """Probe for the instance name on every service type at once, renaming on a
        conflict, then announce them all under the name won."""
        zc = self._zc
        assert zc is not None
        # Probes sent before zeroconf's sockets are up go nowhere, and find no conflict.
        await zc.zeroconf.async_wait_for_start()
        wanted = self._wanted()
        base = self.ctx.device.identity.name
        if not wanted:  # every listener off: nothing to name yet (an update claims later)
            self._name = ""
            self.ctx.device.set_dns_sd_name("")
            return
        for attempt in range(1, MAX_ATTEMPTS + 1):
            name = instance_name(base, attempt)
            infos = {a.service: self._infos(a, name) for a in wanted}
            if await self._answered(zc, [i[0] for i in infos.values()]):
                self.log.warning("mdns: %r is taken on this network; trying another", name)
                continue
            probes = await asyncio.gather(
                *(zc.zeroconf.async_check_service(i[0], False) for i in infos.values()),
                return_exceptions=True,
            )
            conflict = [p for p in probes if isinstance(p, NonUniqueNameException)]
            failed = [p for p in probes if isinstance(p, BaseException) and p not in conflict]
            if failed:
                raise failed[0]
            if conflict:
                self.log.warning("mdns: %r is taken on this network; trying another", name)
                continue
            self._base, self._name = base, name
            await self._announce([(a, infos[a.service]) for a in wanted])
            self.ctx.device.set_dns_sd_name(name)
            self.log.info("mdns: advertising %r (%s)", name, ", ".join(self._held))
            return
        self.log.error("mdns: no free instance name for %r after %d tries", base, MAX_ATTEMPTS)

    async def _answered(self, zc: AsyncZeroconf, infos: list[AsyncServiceInfo]) -> bool:
        """Whether another responder answers for one of these instances already. zeroconf's
        probe asks with the unicast-response bit (RFC 6762 8.1), and on one host, where
        every responder holds 127.0.0.1:5353 with SO_REUSEPORT, the kernel hands such a
        unicast answer to any one of them, often not the prober: a query answered by
        multicast (QM) reaches every responder, so an owner is heard."""
        asks = [AsyncServiceInfo(info.type, info.name) for info in infos]
        await asyncio.gather(
            *(
                a.async_request(zc.zeroconf, LOOKUP_MS, question_type=DNSQuestionType.QM)
                for a in asks
            )
        )
        return any(a.port is not None for a in asks)

    async def _announce(self, adding: list[tuple[Advert, list[AsyncServiceInfo]]]) -> None:
        zc = self._zc
        assert zc is not None
        sent = []
        for advert, infos in adding:
            for info in infos:
                # Probed already (the instance on all types at once, in _claim).
                sent.append(await zc.async_register_service(info, cooperating_responders=True))
            self._held[advert.service] = (advert, infos)
        await asyncio.gather(*sent)

    async def _update(self) -> None:
        zc = self._zc
        assert zc is not None
        if self.ctx.device.identity.name != self._base or not self._name:
            # A new printer name is a new instance: goodbye to the old one, probe the new.
            await self._withdraw(list(self._held))
            await self._claim()
            return
        wanted = {a.service: a for a in self._wanted()}
        await self._withdraw([s for s in self._held if s not in wanted])
        sent = []
        adding = []
        for service, advert in wanted.items():
            held = self._held.get(service)
            if held is None:
                adding.append((advert, self._infos(advert, self._name)))
            elif held[0] != advert:
                # RFC 6762 8.4: changed records are announced again (TXT, or SRV for a port).
                infos = self._infos(advert, self._name)
                for info in infos:
                    sent.append(await zc.async_update_service(info))
                self._held[service] = (advert, infos)
        if adding:
            await self._announce(adding)
        await asyncio.gather(*sent)

    async def _withdraw(self, services: list[str]) -> None:
        zc = self._zc
        assert zc is not None
        sent = []
        for service in services:
            _advert, infos = self._held.pop(service)
            for info in reversed(infos):
                sent.append(await zc.async_unregister_service(info))
        await asyncio.gather(*sent)

    def _infos(self, advert: Advert, name: str) -> list[AsyncServiceInfo]:
        """The instance, then one record set per subtype. zeroconf has no subtypes of its
        own: a subtype is an instance whose type is "_print._sub._ipp._tcp.local." under the
        same name (RFC 6763 7.1), kept apart in zeroconf's registry by its own key."""
        fqdn = f"{name}.{advert.service}.local."
        server = f"{self.ctx.device.identity.hostname}.local."

        def info(type_: str) -> AsyncServiceInfo:
            return AsyncServiceInfo(
                type_, fqdn, port=advert.port, properties=dict(advert.txt), server=server,
                parsed_addresses=self._addresses,
            )  # fmt: skip

        main = info(f"{advert.service}.local.")
        subs = []
        for subtype in advert.subtypes:
            sub = info(f"{subtype}._sub.{advert.service}.local.")
            sub.key = f"{main.key}#{subtype}"
            subs.append(sub)
        return [main, *subs]


def _where(bind: str) -> tuple[list[str], list[str], IPVersion] | str:
    """Where mDNS runs for --bind: (zeroconf's interfaces, their names, the IP version), or
    why it does not (for the port table)."""
    address = bind.strip("[]")
    if ":" in address and address != "::":
        named = named_by(address)
        usable = [i for i in named if i.up and i.multicast]
        if not usable:
            names = ", ".join(i.name for i in named) or address
            return f"{names} carries no multicast"
        return [address], [i.name for i in usable], IPVersion.V6Only
    interfaces, why = multicast_interfaces(bind)
    if not interfaces:
        return why
    return [i.ipv4 for i in interfaces], [i.name for i in interfaces], IPVersion.V4Only


def _tls_version() -> str:
    """The TLS key of _ipps (PWG 5100.14): the highest version the listener speaks."""
    return "1.3" if ssl.HAS_TLSv1_3 else "1.2"
