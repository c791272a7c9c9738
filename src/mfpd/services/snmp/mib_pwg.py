"""The PWG's printing MIBs: Printer Port Monitor (PWG 5107.1) and Job Monitoring (RFC 2707).

Port Monitor is what CUPS's SNMP discovery reads besides Host Resources: the IEEE 1284 device
ID (ppmPrinterIEEE1284DeviceId.1, the same string IPP and PJL give) and the device URI
(ppmPortServiceNameOrURI.1.1, used as-is). Its ports are mib_channels' list, the same rows
as prtChannelTable, with ppmPortPrtChannelIndex pointing there.

Job Monitoring: the general row of the one job set, and the job table (active jobs, plus
finished ones for jmGeneralJobPersistence seconds, RFC 2707 3.2). Its state enum is IPP's
(RFC 2707 JmJobStateTC was IPP's model), so JobState.ipp is the value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from mfpd.config import Config
from mfpd.device.jobs import Job
from mfpd.device.machine import Device
from mfpd.device.spool import INCOMING, Spool
from mfpd.services.snmp.mib import Oid, Value, Writable
from mfpd.services.snmp.mib_channels import Channels, ChannelType
from mfpd.services.snmp.mib_values import row, text, truth

PPM = (1, 3, 6, 1, 4, 1, 2699, 1, 2, 1)  # ppmMIBObjects
PPM_GENERAL = (*PPM, 1)
PPM_PRINTER_ENTRY = (*PPM, 2, 1, 1)
PPM_PORT_ENTRY = (*PPM, 3, 1, 1)
PPM_PRINTER = 1  # ppmPrinterIndex: "SHOULD be" the hrDeviceIndex
HR_DEVICE = 1

JOBMON = (1, 3, 6, 1, 4, 1, 2699, 1, 1, 1)  # jobmonMIBObjects
JM_GENERAL_ENTRY = (*JOBMON, 1, 1, 1)
JM_JOB_ENTRY = (*JOBMON, 3, 1, 1)
JOB_SET = 1  # jmGeneralJobSetIndex: one job set, the printer's queue
# Seconds a finished job stays in jmJobTable (RFC 2707: at least 15; 60 is its recommended).
JOB_PERSISTENCE = 60
UNKNOWN = -2

# JmJobStateReasons1TC (RFC 2707), by the IPP job-state-reasons keyword it came from.
STATE_REASONS_1 = {
    "job-incoming": 0x4,
    "submission-interrupted": 0x8,
    "job-outgoing": 0x10,
    "job-hold-until-specified": 0x20,
    "resources-are-not-ready": 0x40,
    "printer-stopped-partly": 0x80,
    "printer-stopped": 0x100,
    "job-interpreting": 0x200,
    "job-printing": 0x400,
    "job-canceled-by-user": 0x800,
    "job-canceled-by-operator": 0x1000,
    "job-canceled-at-device": 0x2000,
    "aborted-by-system": 0x4000,
    "processing-to-stop-point": 0x8000,
    "service-off-line": 0x10000,
    "job-completed-successfully": 0x20000,
    "job-completed-with-warnings": 0x40000,
    "job-completed-with-errors": 0x80000,
    "job-restartable": 0x100000,
    "queued-in-device": 0x200000,
}


class PortMonitorMib:
    """PRINTER-PORT-MONITOR-MIB (PWG 5107.1), ppmMIB 1.3.6.1.4.1.2699.1.2."""

    def __init__(self, device: Device, config: Config, channels: Channels) -> None:
        self.device = device
        self.config = config
        self.channels = channels

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        identity = self.device.identity
        ports = self.channels.current()
        snmp = self.config.services.snmp
        yield (*PPM_GENERAL, 1, 0), text("en-US", 63)
        yield (*PPM_GENERAL, 2, 0), Value.gauge32(1)
        yield (*PPM_GENERAL, 3, 0), Value.gauge32(len(ports))
        yield from row(
            PPM_PRINTER_ENTRY,
            (PPM_PRINTER,),
            {
                2: text(identity.name, 127),
                3: text(identity.device_id, 1023),
                4: Value.gauge32(len(ports)),
                5: Value.integer(ports[0].index if ports else 0),
                6: Value.integer(HR_DEVICE),
                # The community is a credential: the MIB allows the empty string, and a
                # read of this table must not hand it to whoever could read it.
                7: text("", 255),
                8: truth(snmp.enabled and bool(snmp.read_community) and not snmp.v3_only),
            },
        )
        for port in ports:
            lpd = port.type is ChannelType.LPD_SERVER
            yield from row(
                PPM_PORT_ENTRY,
                (PPM_PRINTER, port.index),
                {
                    2: truth(port.listening),
                    3: text(port.name, 127),
                    4: text(port.uri, 255),
                    5: Value.integer(int(port.type)),
                    6: Value.integer(port.port),
                    # LPD accepts jobs from any source port (not only RFC 1179's 721-731).
                    7: truth(lpd),
                    8: Value.integer(port.index),
                    # It also takes a zero or oversized byte count, so senders need not count.
                    9: truth(False),
                },
            )

    def writable(self) -> dict[Oid, Writable]:
        return {}


class JobMonitoringMib:
    """Job-Monitoring-MIB (RFC 2707), jobmonMIB 1.3.6.1.4.1.2699.1.1: jmGeneral and jmJob."""

    def __init__(self, spool: Spool, *, clock: Callable[[], float] = time.time) -> None:
        self.spool = spool
        self.clock = clock

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        active = self.spool.active()
        ids = [job.id for job in active]
        yield from row(
            JM_GENERAL_ENTRY,
            (JOB_SET,),
            {
                2: Value.integer(len(active)),
                3: Value.integer(min(ids, default=0)),
                4: Value.integer(max(ids, default=0)),
                5: Value.integer(JOB_PERSISTENCE),
                6: Value.integer(JOB_PERSISTENCE),
                7: text("default", 63),
            },
        )
        since = self.clock() - JOB_PERSISTENCE
        finished = [
            job
            for job in self.spool
            if job.state.terminal and (job.completed_at or job.created_at) >= since
        ]
        waiting = 0
        for job in sorted([*active, *finished], key=lambda j: j.id):
            yield from row(JM_JOB_ENTRY, (JOB_SET, job.id), self._job(job, waiting))
            if not job.state.terminal and INCOMING not in job.state_reasons:
                waiting += 1

    def _job(self, job: Job, ahead: int) -> dict[int, Value]:
        reasons = 0
        for keyword in job.state_reasons:
            reasons |= STATE_REASONS_1.get(keyword, 0)
        kilo = (job.bytes + 1023) // 1024
        received = INCOMING not in job.state_reasons
        done = job.state.terminal
        return {
            2: Value.integer(job.state.ipp),
            3: Value.integer(reasons),
            # Jobs ahead of this one in the queue (RFC 2707 jmNumberOfInterveningJobs).
            4: Value.integer(0 if done else ahead),
            5: Value.integer(kilo if received else UNKNOWN),
            6: Value.integer(kilo * job.copies if done and received else 0),
            7: Value.integer(job.pages if job.pages is not None else UNKNOWN),
            8: Value.integer(job.impressions_completed),
            9: text(job.user, 63),
        }

    def writable(self) -> dict[Oid, Writable]:
        return {}
