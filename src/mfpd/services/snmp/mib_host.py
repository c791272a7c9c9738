"""Host Resources MIB (RFC 2790): the controller as a host, and the printer as its device 1.

CUPS's SNMP discovery broadcasts a GET of hrDeviceType.1 and keeps only answers that are
hrDevicePrinter, then reads hrDeviceDescr.1 (backend/snmp.c), so the printer is hrDeviceIndex
1. hrDeviceStatus, hrPrinterStatus and hrPrinterDetectedErrorState come from mib_status, the
mapping the Printer MIB's alert table shares.

Devices: 1 the printer, 2 the network interface (hrNetworkIfIndex -> ifIndex 1), 3 the disk
holding the job spool (the state directory's file system, hrStorage row 2).
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mfpd.device.machine import Device
from mfpd.services.snmp.mib import Oid, Value, Writable
from mfpd.services.snmp.mib_status import AlertCounters, host_status
from mfpd.services.snmp.mib_system import IF_INDEX
from mfpd.services.snmp.mib_values import date_and_time, row, text, ticks

HOST = (1, 3, 6, 1, 2, 1, 25)
HR_SYSTEM = (*HOST, 1)
HR_STORAGE_ENTRY = (*HOST, 2, 3, 1)
HR_DEVICE_ENTRY = (*HOST, 3, 2, 1)
HR_NETWORK_ENTRY = (*HOST, 3, 4, 1)
HR_PRINTER_ENTRY = (*HOST, 3, 5, 1)
HR_DISK_STORAGE_ENTRY = (*HOST, 3, 6, 1)

# hrStorageTypes and hrDeviceTypes (RFC 2790 HOST-RESOURCES-TYPES).
HR_STORAGE_RAM = (*HOST, 2, 1, 2)
HR_STORAGE_FIXED_DISK = (*HOST, 2, 1, 4)
HR_DEVICE_NETWORK = (*HOST, 3, 1, 4)
HR_DEVICE_PRINTER = (*HOST, 3, 1, 5)
HR_DEVICE_DISK_STORAGE = (*HOST, 3, 1, 6)
UNKNOWN_PRODUCT = (0, 0)  # ProductID "unknownProduct" (RFC 2790)

PRINTER_DEVICE = 1
NETWORK_DEVICE = 2
DISK_DEVICE = 3
RAM_STORAGE = 1
SPOOL_STORAGE = 2

INT32_MAX = 2**31 - 1
DEVICE_DESCR_MAX = 64  # hrDeviceDescr is DisplayString (SIZE (0..64))


def _physical_ram_kib() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1024
    except (ValueError, OSError):
        return 0


class HostResourcesMib:
    """hrSystem, hrStorage, hrDevice (with hrPrinterTable) of RFC 2790."""

    def __init__(
        self,
        device: Device,
        state_dir: Path,
        counters: AlertCounters | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self.state_dir = state_dir
        self.counters = counters or AlertCounters(device)
        self.clock = clock
        self.memory_kib = _physical_ram_kib()

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        now = self.clock()
        disk = self._disk()
        yield from self._system(now)
        yield (*HOST, 2, 2, 0), Value.integer(min(self.memory_kib, INT32_MAX))  # hrMemorySize
        yield from self._storage(disk)
        yield from self._devices(disk)

    def writable(self) -> dict[Oid, Writable]:
        return {}

    def _system(self, now: float) -> Iterator[tuple[Oid, Value]]:
        yield (*HR_SYSTEM, 1, 0), ticks(now - self.device.started_at)
        yield (*HR_SYSTEM, 2, 0), Value.string(date_and_time(now))
        # The controller boots from its disk, with no parameters an operator could see.
        yield (*HR_SYSTEM, 3, 0), Value.integer(DISK_DEVICE)
        yield (*HR_SYSTEM, 4, 0), Value.string(b"")
        # No interactive sessions on a printer controller.
        yield (*HR_SYSTEM, 5, 0), Value.gauge32(0)
        # The controller's process contexts are the daemon's threads.
        yield (*HR_SYSTEM, 6, 0), Value.gauge32(threading.active_count())
        yield (*HR_SYSTEM, 7, 0), Value.integer(0)  # no fixed maximum (RFC 2790)

    def _disk(self) -> tuple[int, int, int]:
        """(allocation unit, blocks, free blocks) of the spool's file system: real numbers,
        one statvfs per walk."""
        try:
            fs = os.statvfs(self.state_dir)
        except OSError:
            return 4096, 0, 0
        return fs.f_frsize or fs.f_bsize, fs.f_blocks, fs.f_bfree

    def _storage(self, disk: tuple[int, int, int]) -> Iterator[tuple[Oid, Value]]:
        # RAM used: the controller's resident set (peak, the one number getrusage gives
        # without reading /proc), in KiB on Linux.
        used_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        yield from self._storage_row(
            RAM_STORAGE, HR_STORAGE_RAM, "Controller RAM", 1024, self.memory_kib, used_kib
        )
        unit, size, free = disk
        yield from self._storage_row(
            SPOOL_STORAGE, HR_STORAGE_FIXED_DISK, "Job spool disk", unit, size, size - free
        )

    def _storage_row(
        self, index: int, kind: Oid, descr: str, unit: int, size: int, used: int
    ) -> Iterator[tuple[Oid, Value]]:
        # hrStorageSize and Used are Integer32 counts of allocation units: a disk too big for
        # them is described in bigger units rather than clipped (RFC 2790 hrStorageSize).
        while size > INT32_MAX:
            unit, size, used = unit * 2, size // 2, used // 2
        yield from row(
            HR_STORAGE_ENTRY,
            (index,),
            {
                1: Value.integer(index),
                2: Value.object_id(kind),
                3: text(descr),
                4: Value.integer(unit),
                5: Value.integer(size),
                6: Value.integer(max(0, min(used, size))),
                7: Value.counter32(0),  # hrStorageAllocationFailures
            },
        )

    def _devices(self, disk: tuple[int, int, int]) -> Iterator[tuple[Oid, Value]]:
        status = host_status(self.device)
        identity = self.device.identity
        devices = (
            (PRINTER_DEVICE, HR_DEVICE_PRINTER, identity.make_and_model, status.device_status,
             self.counters.critical_events),
            (NETWORK_DEVICE, HR_DEVICE_NETWORK, "Ethernet interface", 2, 0),
            (DISK_DEVICE, HR_DEVICE_DISK_STORAGE, "Job spool disk", 2, 0),
        )  # fmt: skip
        for index, kind, descr, device_status, errors in devices:
            yield from row(
                HR_DEVICE_ENTRY,
                (index,),
                {
                    1: Value.integer(index),
                    2: Value.object_id(kind),
                    3: text(descr, DEVICE_DESCR_MAX),
                    4: Value.object_id(UNKNOWN_PRODUCT),
                    5: Value.integer(int(device_status)),
                    6: Value.counter32(errors),  # hrDeviceErrors: critical alerts raised
                },
            )
        yield (*HR_NETWORK_ENTRY, 1, NETWORK_DEVICE), Value.integer(IF_INDEX)
        yield (*HR_PRINTER_ENTRY, 1, PRINTER_DEVICE), Value.integer(int(status.printer_status))
        yield (*HR_PRINTER_ENTRY, 2, PRINTER_DEVICE), Value.string(status.error_state)
        yield from row(
            HR_DISK_STORAGE_ENTRY,
            (DISK_DEVICE,),
            {
                1: Value.integer(1),  # hrDiskStorageAccess readWrite
                2: Value.integer(3),  # hrDiskStorageMedia hardDisk
                3: Value.integer(2),  # hrDiskStorageRemoveble false
                4: Value.integer(min(disk[0] * disk[1] // 1024, INT32_MAX)),  # KBytes
            },
        )
