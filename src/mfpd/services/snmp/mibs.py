"""The MIB modules the agent serves, in one list.

Each module reads the device live (mib.py's MibModule); the agent merges them into one sorted
OID index (index.py). When two modules claim the same OID, the one listed first wins. The
agent adds its own objects (agent_mib.py: snmpEngine group, snmpEnableAuthenTraps) first.
"""

from __future__ import annotations

from mfpd.services.base import ServiceContext
from mfpd.services.snmp.mib import MibModule
from mfpd.services.snmp.mib_channels import Channels
from mfpd.services.snmp.mib_host import HostResourcesMib
from mfpd.services.snmp.mib_printer import PrinterMib
from mfpd.services.snmp.mib_pwg import JobMonitoringMib, PortMonitorMib
from mfpd.services.snmp.mib_status import AlertCounters
from mfpd.services.snmp.mib_system import SystemMib


def modules(ctx: ServiceContext) -> list[MibModule]:
    """Every MIB module of the device, built from the service context."""
    device = ctx.device
    # One set of alert counters (prtAlert*Events, hrDeviceErrors) and one channel list
    # (prtChannelTable, ppmPortTable) for every module that reports them.
    counters = AlertCounters(device)
    channels = Channels(ctx.config, ctx.state_dir, ctx.bind, ctx.port_offset, device.started_at)
    return [
        SystemMib(device),
        HostResourcesMib(device, ctx.state_dir, counters),
        PrinterMib(device, ctx.config, channels, ctx.spool, counters),
        PortMonitorMib(device, ctx.config, channels),
        JobMonitoringMib(ctx.spool),
    ]
