"""The daemon: builds the Device and services from a Config, runs them, stops them cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from pathlib import Path
from typing import IO

from mfpd.config import Config
from mfpd.control import ControlServer
from mfpd.device.engine import Engine
from mfpd.device.events import Event
from mfpd.device.machine import Device, build_device
from mfpd.device.spool import Spool
from mfpd.device.store import DEVICE_KEY, JobStore
from mfpd.ports import (
    PORTS_FILE,
    closed_row,
    configured_services,
    format_table,
    write_ports_file,
)
from mfpd.services import service_factory
from mfpd.services.base import PortEntry, Service, ServiceContext
from mfpd.services.ipp.subscriptions import SubscriptionStore

log = logging.getLogger("mfpd")

SNAPSHOT_DELAY = 0.2
# How long SIGTERM waits for in-flight transfers before it checkpoints them.
STOP_GRACE = 5.0


class AlreadyRunning(Exception):
    pass


class Daemon:
    def __init__(
        self,
        config: Config,
        state_dir: Path,
        *,
        bind: str = "127.0.0.1",
        port_offset: int = 0,
        out: IO[str] | None = None,
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self.bind = bind
        self.port_offset = port_offset
        self.out = out or sys.stdout
        self._stop = asyncio.Event()
        self._lock_file: IO[str] | None = None
        self._snapshot_dirty = False

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
        store = JobStore(self.state_dir)
        device = build_device(self.config)
        snapshot = store.get(DEVICE_KEY)
        if isinstance(snapshot, dict):
            device.restore(snapshot)
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
        )
        services: list[Service] = []
        rows: list[PortEntry] = []
        control = ControlServer(self.state_dir, device, spool)
        try:
            for name, svc_config in configured_services(self.config):
                closed = closed_row(name, svc_config, self.bind, self.port_offset)
                if closed is not None:
                    rows.append(closed)
                    continue
                factory = service_factory(name)
                assert factory is not None  # closed_row answered for names not registered
                service = factory(ctx)
                services.append(service)
                rows.extend(await service.start())
            await control.start()
            self._install_signals()
            print(format_table(rows), file=self.out, flush=True)
            write_ports_file(self.state_dir, rows)
            log.info("%s ready", device.identity.make_and_model)
            await self._stop.wait()
            log.info("stopping")
        finally:
            # printer-shutdown to subscribers; Get-Notifications waiting for events answer now.
            ctx.subscriptions.close()
            await control.stop()
            await asyncio.gather(
                *(service.stop(STOP_GRACE) for service in services), return_exceptions=True
            )
            engine.stop()
            for task in (engine_task, saver):
                task.cancel()
            await asyncio.gather(engine_task, saver, return_exceptions=True)
            if engine.current is not None:
                store.checkpoint(engine.current, device.snapshot())
            store.put(DEVICE_KEY, device.snapshot())
            store.close()
            (self.state_dir / PORTS_FILE).unlink(missing_ok=True)
            if self._lock_file is not None:
                self._lock_file.close()
        return 0

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)

    def _on_event(self, event: Event) -> None:
        if event.kind in ("printer.state", "device.levels", "alert.added", "alert.removed"):
            self._snapshot_dirty = True

    async def _save_snapshots(self, store: JobStore, device: Device) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_DELAY)
            if self._snapshot_dirty:
                self._snapshot_dirty = False
                store.put(DEVICE_KEY, device.snapshot())
