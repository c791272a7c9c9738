"""MIB-II system and interfaces groups (RFC 1213, RFC 3418 SNMPv2-MIB, RFC 2863 IF-MIB).

The Printer MIB's compliance statement requires both groups (RFC 3805 section 2.2.1). The
system group is who the device is; sysContact, sysName and sysLocation are writable and
persist through the device identity (the same fields IPP's printer-location and the port
table show). snmpEnableAuthenTraps and the snmpEngine group are the agent's (agent_mib.py).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator

from mfpd.device.identity import Identity
from mfpd.device.machine import Device
from mfpd.services.snmp.mib import Oid, Syntax, Value, Writable
from mfpd.services.snmp.mib_values import identity_writer, row, string_check, text, ticks

SYSTEM = (1, 3, 6, 1, 2, 1, 1)
SYS_OR_ENTRY = (*SYSTEM, 9, 1)
INTERFACES = (1, 3, 6, 1, 2, 1, 2)
IF_ENTRY = (*INTERFACES, 2, 1)

# Xerox's product arc (IANA enterprise 253): Xerox printers' sysObjectIDs sit under
# 1.3.6.1.4.1.253.8.62.1, and fleet tools (LibreNMS, Open-AudIT, PaperCut) recognise a Xerox
# printer by that prefix. WorkCentres are .20; the WorkCentre 7665, the 7755's predecessor on
# the same chassis, is .20.1.29.1 (Open-AudIT's table). .20.1.30.1 is the next leaf of that
# series: Xerox-shaped without claiming another model's number.
SYS_OBJECT_ID = (1, 3, 6, 1, 4, 1, 253, 8, 62, 1, 20, 1, 30, 1)

# sysServices (RFC 3418): 8 (end-to-end, layer 4) + 64 (applications, layer 7), what hosts and
# printers report.
SYS_SERVICES = 72

# The capabilities the agent implements (RFC 3418 sysORTable): the MODULE-IDENTITY of each MIB.
SYS_OR_ROWS = (
    ((1, 3, 6, 1, 6, 3, 1), "The MIB module for SNMP entities (RFC 3418)"),
    ((1, 3, 6, 1, 2, 1, 25, 7, 1), "Host Resources MIB (RFC 2790)"),
    ((1, 3, 6, 1, 2, 1, 43), "Printer MIB v2 (RFC 3805)"),
    ((1, 3, 6, 1, 4, 1, 2699, 1, 2), "PWG Printer Port Monitor MIB (PWG 5107.1)"),
    ((1, 3, 6, 1, 4, 1, 2699, 1, 1), "Job Monitoring MIB (RFC 2707)"),
)

ETHERNET_CSMACD = 6  # IANAifType
IF_SPEED = 1_000_000_000  # the WorkCentre 7755's 10/100/1000 port, at gigabit
IF_MTU = 1500
IF_INDEX = 1  # the one interface; prtChannelIfIndex and hrNetworkIfIndex point here

# The identity fields behind the writable system objects, and their SIZE (RFC 3418:
# DisplayString (SIZE (0..255))).
WRITABLE_FIELDS = {4: "contact", 5: "hostname", 6: "location"}


def mac_address(identity: Identity) -> bytes:
    """A stable MAC for the virtual NIC: derived from the device UUID (which survives host
    name edits and restarts), unicast, with the locally administered bit set (IEEE 802,
    RFC 7042 2.1) so it can never be a real vendor's address."""
    digest = hashlib.sha256(f"mfpd-ifPhysAddress:{identity.uuid}".encode()).digest()
    return bytes([(digest[0] & 0xFC) | 0x02]) + digest[1:6]


def sys_descr(identity: Identity) -> str:
    """What a Xerox controller puts in sysDescr: model, then software versions."""
    return f"{identity.make_and_model} Multifunction System; System Software {identity.firmware}"


class SystemMib:
    """system (1.3.6.1.2.1.1) and interfaces (1.3.6.1.2.1.2)."""

    def __init__(self, device: Device, *, clock: Callable[[], float] = time.time) -> None:
        self.device = device
        self.clock = clock

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        identity = self.device.identity
        uptime = ticks(self.clock() - self.device.started_at)
        yield (*SYSTEM, 1, 0), text(sys_descr(identity))
        yield (*SYSTEM, 2, 0), Value.object_id(SYS_OBJECT_ID)
        yield (*SYSTEM, 3, 0), uptime
        yield (*SYSTEM, 4, 0), text(identity.contact)
        yield (*SYSTEM, 5, 0), text(identity.hostname)
        yield (*SYSTEM, 6, 0), text(identity.location)
        yield (*SYSTEM, 7, 0), Value.integer(SYS_SERVICES)
        # The capability rows never change after start: sysORLastChange is 0.
        yield (*SYSTEM, 8, 0), Value.timeticks(0)
        for number, (module, description) in enumerate(SYS_OR_ROWS, 1):
            yield from row(
                SYS_OR_ENTRY,
                (number,),
                {2: Value.object_id(module), 3: text(description), 4: Value.timeticks(0)},
            )
        yield (*INTERFACES, 1, 0), Value.integer(1)
        yield from row(IF_ENTRY, (IF_INDEX,), self._interface(identity))

    def _interface(self, identity: Identity) -> dict[int, Value]:
        zero = Value.counter32(0)
        return {
            1: Value.integer(IF_INDEX),
            2: text(f"{identity.make} Ethernet Interface Controller, 10/100/1000 Mbps"),
            3: Value.integer(ETHERNET_CSMACD),
            4: Value.integer(IF_MTU),
            5: Value.gauge32(IF_SPEED),
            6: Value.string(mac_address(identity)),
            7: Value.integer(1),  # ifAdminStatus up
            8: Value.integer(1),  # ifOperStatus up
            9: Value.timeticks(0),  # ifLastChange: up since the agent started
            # The controller does not count frames of a virtual NIC; zero is the honest count.
            10: zero, 11: zero, 12: zero, 13: zero, 14: zero, 15: zero,
            16: zero, 17: zero, 18: zero, 19: zero, 20: zero,
            21: Value.gauge32(0),  # ifOutQLen
            22: Value.object_id((0, 0)),  # ifSpecific: none (RFC 1213)
        }  # fmt: skip

    def writable(self) -> dict[Oid, Writable]:
        table: dict[Oid, Writable] = {}
        for column, field in WRITABLE_FIELDS.items():
            table[(*SYSTEM, column, 0)] = Writable(
                Syntax.OCTET_STRING,
                # An empty sysName would leave IPP's printer-name and mDNS without a name.
                string_check(255, allow_empty=field != "hostname", what=f"sys {field}"),
                identity_writer(self.device, field),
            )
        return table
