"""The running services: started from the configuration, restarted when an administrator
changes it, and the live port table (STATE_DIR/ports.json) kept true all the while.

A change takes effect without restarting the daemon, as on a real device: a service switched
off closes its port, one switched on opens it, one whose settings changed is restarted. The
listener that carries the administrator's own request is restarted once that request is
answered, so the answer is never cut off by the change it reports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mfpd.config import Config
from mfpd.outbound.ports import client_rows
from mfpd.ports import closed_row, configured_services, refused_rows, write_ports_file
from mfpd.services import service_factory
from mfpd.services.base import PortEntry, Service, ServiceContext

log = logging.getLogger("mfpd")

# How long a service being restarted gives its in-flight requests.
RESTART_GRACE = 2.0
# The listeners that serve TLS with the [tls] policy: restarted when it changes.
TLS_LISTENERS = ("https", "ipp")
# Services whose answers describe the other services (SNMP's channel table lists the
# print channels): restarted whenever any service's settings change.
DESCRIBES_SERVICES = ("snmp",)


class ServiceManager:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.running: dict[str, Service] = {}
        self.rows: dict[str, list[PortEntry]] = {}
        self._lock = asyncio.Lock()
        self._deferred: set[asyncio.Task[None]] = set()
        # The configuration the running services were last brought in line with; ctx.config
        # may already be newer (a second change made while the first was being applied).
        self._applied = ctx.config
        # Told of every new port table (the nftables backend matches on the live ports).
        self.on_table: Callable[[list[PortEntry]], None] | None = None

    def table(self) -> list[PortEntry]:
        order = [name for name, _ in configured_services(self.ctx.config)]
        rows = [row for name in order for row in self.rows.get(name, [])]
        ctx = self.ctx
        return (
            rows
            + refused_rows(ctx.bind, ctx.port_offset)
            + client_rows(ctx.config, ctx.bind, ctx.port_offset)
        )

    async def start_all(self) -> None:
        for name, _ in configured_services(self.ctx.config):
            await self._start(name)

    async def stop_all(self, grace: float) -> None:
        for task in list(self._deferred):
            task.cancel()
        services = list(self.running.values())
        self.running.clear()
        await asyncio.gather(*(s.stop(grace) for s in services), return_exceptions=True)

    async def _start(self, name: str) -> None:
        ctx = self.ctx
        closed = closed_row(ctx.config, name, ctx.bind, ctx.port_offset)
        if closed is not None:
            self.rows[name] = [closed]
            return
        factory = service_factory(name)
        assert factory is not None  # closed_row answered for names not registered
        service = factory(ctx)
        self.rows[name] = await service.start()
        self.running[name] = service

    async def _stop(self, name: str) -> None:
        service = self.running.pop(name, None)
        if service is not None:
            await service.stop(RESTART_GRACE)

    def write_table(self) -> None:
        rows = self.table()
        # The filter first: a script that waits for ports.json finds it in force.
        if self.on_table is not None:
            self.on_table(rows)
        write_ports_file(self.ctx.state_dir, rows)

    async def reconfigure(self, new: Config, *, carrying: str | None = None) -> list[str]:
        """Bring the services in line with `new` (already ctx.config, set by the caller
        before its first await, so that changes made one after the other build on each
        other); answer the services restarted. `carrying` names the listener the request for
        the change came in on: it restarts after a moment, in the background, so that its
        answer goes out first."""
        self.ctx.config = new
        async with self._lock:
            old, new = self._applied, self.ctx.config
            self._applied = new
            changed = [
                name
                for name, svc in configured_services(new)
                if svc != getattr(old.services, name)
                or new.services.effective(name) != old.services.effective(name)
                or (name in TLS_LISTENERS and new.tls != old.tls)
            ]
            if changed:
                for name in DESCRIBES_SERVICES:
                    if name not in changed and new.services.effective(name):
                        changed.append(name)
            now = [name for name in changed if name != carrying]
            for name in now:
                await self._stop(name)
            for name in now:
                await self._start(name)
            if now:
                self._report(now)
        if carrying in changed:
            task = asyncio.create_task(self._restart_later(carrying), name=f"restart-{carrying}")
            self._deferred.add(task)
            task.add_done_callback(self._deferred.discard)
        return changed

    async def restart(self, names: list[str], *, carrying: str | None = None) -> None:
        """Restart running services with unchanged settings (a new TLS certificate)."""
        async with self._lock:
            now = [n for n in names if n in self.running and n != carrying]
            for name in now:
                await self._stop(name)
                await self._start(name)
            if now:
                self._report(now)
        if carrying in names and carrying in self.running:
            task = asyncio.create_task(self._restart_later(carrying), name=f"restart-{carrying}")
            self._deferred.add(task)
            task.add_done_callback(self._deferred.discard)

    async def _restart_later(self, name: str) -> None:
        await asyncio.sleep(0.2)
        async with self._lock:
            await self._stop(name)
            await self._start(name)
            self._report([name])

    def _report(self, names: list[str]) -> None:
        self.write_table()
        # Services that hand out other services' ports or URLs (mDNS's records, SSDP's
        # LOCATION, WS-Discovery's XAddrs) follow the live table from this event.
        self.ctx.device.events.publish("ports.changed", services=list(names))
        rows = [row for name in names for row in self.rows.get(name, [])]
        for row in rows:
            log.info(
                "service %s: %s %s:%d/%s %s",
                row.service, row.state, row.address, row.port, row.protocol, row.note,
            )  # fmt: skip
