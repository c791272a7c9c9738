"""The daemon: builds the Device and services from a Config, runs them, stops them cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from mfpd import __version__
from mfpd.config import Config, ConfigError
from mfpd.control import ControlServer
from mfpd.device.engine import Engine
from mfpd.device.events import Event
from mfpd.device.fax_jobs import FaxJobs
from mfpd.device.identity import installation_uuid
from mfpd.device.image_overwrite import ImageOverwriter
from mfpd.device.machine import Device, build_device
from mfpd.device.mailboxes import Mailboxes
from mfpd.device.originals import Originals
from mfpd.device.scan_jobs import ScanJobs
from mfpd.device.scanner import ScannerError
from mfpd.device.spool import Spool
from mfpd.device.store import DEVICE_KEY, JobStore
from mfpd.outbound.ddns import DynamicDns
from mfpd.outbound.destinations import deliverer
from mfpd.outbound.ifax_send import send_fax
from mfpd.ports import PORTS_FILE, configured_services, format_table
from mfpd.security.audit import EventLog
from mfpd.security.audit_events import Actor, AuditFeed
from mfpd.security.audit_log import AuditLog
from mfpd.security.auth import Administrator, ApiTokens, LoginThrottle, Sessions
from mfpd.security.gate import Gate, rules_of
from mfpd.security.nftables import Listener, NftTable, table_name
from mfpd.security.secrets import Secrets
from mfpd.security.tls import TLS_DIR, certificate_expiry, log_certificate_expiry
from mfpd.service_manager import ServiceManager
from mfpd.services import PROTOCOLS
from mfpd.services.base import PortEntry, ServiceContext
from mfpd.services.dhcp_client import DhcpClient
from mfpd.services.ifax_receive import FaxReceiver
from mfpd.services.ipp.subscriptions import SubscriptionStore
from mfpd.services.web.state import WebState
from mfpd.settings import (
    apply_overrides,
    load_overrides,
    public_settings,
    save_overrides,
    validate_change,
)

log = logging.getLogger("mfpd")

SNAPSHOT_DELAY = 0.2
# How often the audit log's per-minute summaries (IP-filter drops, SNMP authentication
# failures past their budget) are checked for a minute that is over.
DROP_FLUSH = 15.0
# How long SIGTERM waits for in-flight transfers before it checkpoints them.
STOP_GRACE = 5.0
# How often the device certificate's expiry is looked at again while the daemon runs.
CERTIFICATE_CHECK = 24 * 3600.0


class AlreadyRunning(Exception):
    pass


class BindFailed(Exception):
    """Ports the daemon could not open at start; it stops rather than run as a partial
    device that a script waiting for ports.json would take for a working one."""

    def __init__(self, rows: list[PortEntry]) -> None:
        self.rows = rows
        lines = [
            f"  {row.service} {row.protocol} {row.address}:{row.port}: {row.note}" for row in rows
        ]
        count = f"{len(rows)} port{'s' if len(rows) != 1 else ''}"
        super().__init__(
            f"cannot start: {count} could not be bound (--keep-going starts without them):\n"
            + "\n".join(lines)
        )


class Daemon:
    def __init__(
        self,
        config: Config,
        state_dir: Path,
        *,
        bind: str = "127.0.0.1",
        port_offset: int = 0,
        out: IO[str] | None = None,
        keep_going: bool = False,
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self.bind = bind
        self.port_offset = port_offset
        self.out = out or sys.stdout
        self.keep_going = keep_going
        self._stop = asyncio.Event()
        self._lock_file: IO[str] | None = None
        self._snapshot_dirty = False
        self._overrides: dict[str, object] = {}

    def _lock(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.state_dir / "mfpd.lock", "w")  # noqa: SIM115 (held for the run)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise AlreadyRunning(
                f"another mfpd is running with state dir {self.state_dir}"
            ) from None
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock_file = lock

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        self._lock()
        loop = type(asyncio.get_running_loop())
        log.info("event loop: %s (%s)", loop.__module__.partition(".")[0], loop.__name__)
        store = JobStore(self.state_dir)
        self._overrides = load_overrides(self.state_dir)
        try:
            self.config = apply_overrides(self.config, self._overrides)
        except ConfigError as exc:
            # The file changed under the saved settings: the file alone applies, and says so.
            log.error("%s; the web UI's saved settings are ignored", exc)
        if not self.config.identity.uuid:
            identity = self.config.identity.model_copy(
                update={"uuid": installation_uuid(self.state_dir)}
            )
            self.config = self.config.model_copy(update={"identity": identity})
        device = build_device(self.config)
        snapshot = store.get(DEVICE_KEY)
        if isinstance(snapshot, dict):
            device.restore(snapshot)
        audit_log = AuditLog(self.state_dir, self.config.security.audit_log_entries)
        audit = AuditFeed(audit_log, device)
        audit.follow(device.events)
        audit_log.record(
            "startup", interface="device", version=__version__, bind=self.bind,
            port_offset=self.port_offset, image_overwrite=self.config.security.image_overwrite,
        )  # fmt: skip
        spool = Spool(store, self.state_dir / "spool", device.events, self.config.spool)
        for note in spool.recover():
            log.warning("recovery: %s", note)
        device.events.subscribe(self._on_event)

        # An administrator's change (IPP Set-Printer-Attributes, SNMP SET) is on disk before
        # the request is answered, as a device's NVRAM write is: a crash right after loses
        # nothing the client was told succeeded.
        def save_identity(event: Event) -> None:
            if event.kind == "identity.changed":
                store.put(DEVICE_KEY, device.snapshot())

        device.events.subscribe(save_identity)
        engine = Engine(device, spool, self.config.engine)
        engine_task = asyncio.create_task(engine.run(), name="engine")
        saver = asyncio.create_task(self._save_snapshots(store, device), name="snapshot")

        ctx = ServiceContext(
            config=self.config,
            device=device,
            spool=spool,
            state_dir=self.state_dir,
            bind=self.bind,
            port_offset=self.port_offset,
            log=logging.getLogger("mfpd.services"),
            subscriptions=SubscriptionStore(device, self.config.ipp.notifications),
            gate=Gate(
                rules_of(self.config.ip_filter),
                {
                    name: (PROTOCOLS[name], svc.port)
                    for name, svc in configured_services(self.config)
                },
                logging.getLogger("mfpd.gate"),
                on_block=lambda rule, service, protocol, address: audit.drops.drop(
                    rule.number, address, service, protocol, rule.action.value
                ),
            ),
            audit=audit,
        )
        overwriter = ImageOverwriter(spool, lambda: ctx.config.security, audit_log)
        overwriter.follow(device.events)
        ctx.overwriter = overwriter
        scans = self._scanner(ctx, store)
        scans.erase = overwriter.erase
        overwriter.other_leftovers = scans.leftovers
        faxes, receiver = self._fax(ctx, store)
        faxes.erase = overwriter.erase
        # Files of jobs that ended while the daemon was down, before anything new arrives.
        await overwriter.sweep()
        flusher = asyncio.create_task(self._flush_summaries(audit), name="audit-summaries")
        if ctx.config.dns.ddns:
            ctx.ddns = DynamicDns(ctx)
            ctx.ddns.follow(device.events)
        manager = ServiceManager(ctx)
        nft = NftTable(table_name(self.state_dir))

        def kernel_filter(rows: list[PortEntry]) -> None:
            if ctx.config.ip_filter.backend == "nftables":
                listeners = [
                    Listener(r.service, r.protocol, r.standard_port, r.port)
                    for r in rows
                    if r.listening
                ]
                nft.apply(ctx.gate.rules, listeners, self.port_offset)
                ctx.gate.backend_state = f"the in-process gate and nftables: {nft.state}"
            else:
                nft.remove()
                ctx.gate.backend_state = "the in-process gate"

        manager.on_table = kernel_filter
        ctx.web = self._web_state(ctx, manager)

        def certificate() -> dict[str, object]:
            return certificate_expiry(self.state_dir / TLS_DIR, ctx.config.tls.expiry_warning_days)

        control = ControlServer(
            self.state_dir, device, spool, ctx.web, overwriter, audit, certificate, faxes,
            receiver, ctx,
        )  # fmt: skip
        tasks = [engine_task, saver, flusher]
        # The device's address first, as a device takes it at power-on; the listeners do
        # not wait for it (they listen on the bind address, usually the wildcard).
        dhcp = DhcpClient(ctx) if self.config.network.dhcp else None
        try:
            if dhcp is not None:
                await dhcp.start()
            await scans.start()
            await receiver.start()
            await manager.start_all()
            # Only the start is judged: a service switched on later from the web UI whose port
            # is taken shows "failed" in the port table and leaves the daemon running.
            failed = [row for row in manager.table() if row.state == "failed"]
            if failed and not self.keep_going:
                raise BindFailed(failed)
            if failed:
                log.warning(
                    "keep_going: running without %s",
                    ", ".join(f"{r.service} {r.protocol}/{r.port}" for r in failed),
                )
            await control.start()
            self._install_signals()
            print(format_table(manager.table()), file=self.out, flush=True)
            manager.write_table()
            log.info("%s ready", device.identity.make_and_model)
            # The name and address the device starts with; with DHCP, the address comes
            # with the lease, and the client publishes it then.
            if ctx.ddns is not None and dhcp is None:
                ctx.ddns.schedule()
            tasks.append(
                asyncio.create_task(self._watch_certificate(certificate, device), name="cert")
            )
            await self._stop.wait()
            log.info("stopping")
        finally:
            # printer-shutdown to subscribers; Get-Notifications waiting for events answer now.
            ctx.subscriptions.close()
            await control.stop()
            if ctx.ddns is not None:
                await ctx.ddns.stop()
            await manager.stop_all(STOP_GRACE)
            if dhcp is not None:
                await dhcp.stop()
            await scans.stop()
            await receiver.stop()
            await faxes.stop()
            nft.remove()
            engine.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if engine.current is not None:
                store.checkpoint(engine.current, device.snapshot())
            store.put(DEVICE_KEY, device.snapshot())
            store.close()
            await overwriter.drain()
            audit.flush(everything=True)
            audit_log.record("shutdown", interface="device")
            audit.close()
            audit_log.close()
            (self.state_dir / PORTS_FILE).unlink(missing_ok=True)
            if self._lock_file is not None:
                self._lock_file.close()
        return 0

    def _scanner(self, ctx: ServiceContext, store: JobStore) -> ScanJobs:
        """The scanner's parts on the context: jobs, originals, mailboxes, secrets; the
        originals directory of the configuration goes in the feeder at the first start."""
        ctx.secrets = Secrets(self.state_dir)
        ctx.mailboxes = Mailboxes(self.state_dir, lambda: ctx.config.scan)
        ctx.originals = Originals(self.state_dir, ctx.device.scanner)
        scans = ScanJobs(ctx.device, store, self.state_dir, lambda: ctx.config)
        scans.after_job = ctx.originals.prune
        scans.deliver = deliverer(ctx)
        ctx.scans = scans
        directory = ctx.config.scan.originals
        if directory and not ctx.device.scanner.feeder:
            try:
                log.info("scan: %s", ctx.originals.load_directory(Path(directory)))
            except (OSError, ScannerError) as exc:
                log.error("scan: [scan] originals = %s: %s", directory, exc)
        return scans

    def _fax(self, ctx: ServiceContext, store: JobStore) -> tuple[FaxJobs, FaxReceiver]:
        """Internet Fax: fax-send jobs mailed through [smtp], and the POP3 poller, which
        polls only while [ifax] pop3 is set (a change from the web UI applies at the next
        interval)."""
        faxes = FaxJobs(ctx.device, store, self.state_dir, lambda: ctx.config)

        async def send(recipients: list[str], tiff: Path, job: int, pages: int, name: str) -> str:
            return await send_fax(ctx, recipients, tiff, job_id=job, pages=pages, name=name)

        faxes.send = send
        ctx.faxes = faxes
        ctx.fax_receiver = FaxReceiver(ctx)
        return faxes, ctx.fax_receiver

    def _web_state(self, ctx: ServiceContext, manager: ServiceManager) -> WebState:
        """The web server's shared state; at first start, the administrator's password,
        printed once (only its hash is kept)."""
        admin = Administrator(self.state_dir, lambda: ctx.config.web)
        password = admin.ensure()
        if password is not None and not ctx.config.web.default_credentials:
            print(
                f"web administrator: {admin.user}, password: {password} "
                "(shown once; only its hash is kept)",
                file=self.out,
                flush=True,
            )
        events = EventLog(self.state_dir, ctx.config.web.log_entries)
        events.follow(ctx.device.events)
        clock = asyncio.get_running_loop().time

        def settings() -> dict[str, object]:
            return public_settings(ctx.config, dataclasses.asdict(ctx.device.identity))

        async def change_settings(
            patch: dict[str, object],
            *,
            carrying: str | None,
            actor: str,
            who: Actor | None = None,
        ) -> dict[str, object]:
            # Validated, saved and made current before the first await: a second change
            # arriving meanwhile builds on this one (manager.reconfigure applies both).
            new, overrides, identity = validate_change(ctx.config, self._overrides, patch)
            before = settings()
            save_overrides(self.state_dir, overrides)
            self._overrides = overrides
            old_filter, ctx.config = ctx.config.ip_filter, new
            if new.ip_filter != old_filter:
                ctx.gate.replace(rules_of(new.ip_filter))
                manager.write_table()  # the nftables backend follows the new rules
            who = who or Actor(interface="web")
            audit = ctx.audit
            assert audit is not None
            if identity:
                with audit.acting(who):
                    ctx.device.update_identity(**identity)
            # Identity edits were recorded as the bus reported them; the sections here.
            after = settings()
            audit.settings_changed(
                who,
                {k: v for k, v in before.items() if k != "identity"},
                {k: v for k, v in after.items() if k != "identity"},
            )
            restarted = await manager.reconfigure(new, carrying=carrying)
            keys = _changed_keys(patch)
            events.record(
                "config", f"settings changed by {actor}: {', '.join(keys) or 'nothing'}",
                keys=keys, restarted=restarted,
            )  # fmt: skip
            for name in restarted:
                events.record("service", f"service {name} restarted for new settings")
            return settings()

        async def restart(names: list[str], carrying: str | None) -> None:
            await manager.restart(names, carrying=carrying)

        return WebState(
            admin=admin,
            sessions=Sessions(lambda: ctx.config.web, clock),
            throttle=LoginThrottle(lambda: ctx.config.web, clock),
            tokens=ApiTokens.load(self.state_dir),
            log=events,
            change_settings=change_settings,
            settings=settings,
            ports=manager.table,
            restart=restart,
        )

    async def _watch_certificate(
        self, certificate: Callable[[], dict[str, object]], device: Device
    ) -> None:
        """The expiry warning in the log at start, then once a day: a device that runs for
        months crosses the warning threshold while it runs."""
        while True:
            expiry = certificate()
            log_certificate_expiry(expiry)
            device.certificate_expiring(bool(expiry.get("warning")))
            await asyncio.sleep(CERTIFICATE_CHECK)

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)

    def _on_event(self, event: Event) -> None:
        if event.kind in (
            "printer.state", "device.levels", "alert.added", "alert.removed", "scanner.state"
        ):  # fmt: skip
            self._snapshot_dirty = True

    async def _flush_summaries(self, audit: AuditFeed) -> None:
        while True:
            await asyncio.sleep(DROP_FLUSH)
            audit.flush()

    async def _save_snapshots(self, store: JobStore, device: Device) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_DELAY)
            if self._snapshot_dirty:
                self._snapshot_dirty = False
                store.put(DEVICE_KEY, device.snapshot())


def _changed_keys(patch: dict[str, object], prefix: str = "") -> list[str]:
    """The dotted keys a merge patch touches (services.lpd.enabled, ...), for the log."""
    keys: list[str] = []
    for key, value in patch.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            keys.extend(_changed_keys(value, f"{name}."))
        else:
            keys.append(name)
    return keys
