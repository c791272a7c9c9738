"""Which SNMP notifications the device sends, and the variable bindings each one carries.

Free of pysnmp and of sockets: traps.py turns these values into PDUs and sends them.

- coldStart (SNMPv2-MIB, RFC 3418) 1.3.6.1.6.3.1.1.5.1: the agent (re)started.
- authenticationFailure 1.3.6.1.6.3.1.1.5.5: a request with a wrong community or v3
  credentials (the agent publishes "snmp.auth-failure"), sent only while
  snmpEnableAuthenTraps is enabled(1) (`authentication_traps`).
- printerV2Alert (Printer-MIB, RFC 3805) 1.3.6.1.2.1.43.18.2.0.1, "sent whenever a critical
  event is added to the prtAlertTable": with `alert_traps = "critical"`, for every row that
  is critical when it is added or becomes critical later (an empty tray turns critical when
  a job needs it: mib_status.severity), once per row; with "all", also for every other row
  added; with "none", never. These are the events prtAlertCriticalEvents and
  prtAlertAllEvents count (mib_status.AlertCounters). Its OBJECTS are prtAlertIndex,
  prtAlertSeverityLevel, prtAlertGroup, prtAlertGroupIndex, prtAlertLocation and
  prtAlertCode of the row, instance `.hrDeviceIndex.prtAlertIndex`, with the values the
  row has in prtAlertTable when the event happens (mib_printer.alert_varbinds).

Every notification starts with sysUpTime.0 and snmpTrapOID.0 (RFC 3416 4.2.6). The two
generic traps also carry snmpTrapEnterprise.0 = sysObjectID (as net-snmp's agent does), and a
v1 destination gets snmpTrapAddress.0 = the agent's address: pysnmp's RFC 3584 3.2 translation
takes the Trap-PDU's enterprise and agent-addr from those two (printerV2Alert becomes enterprise
printerV1Alert 1.3.6.1.2.1.43.18.2, generic 6, specific 1; coldStart generic 0;
authenticationFailure generic 4) and leaves them out of the v1 varbinds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from mfpd.device.alerts import Alert, AlertSeverity
from mfpd.device.events import Event
from mfpd.device.machine import Device
from mfpd.services.snmp.mib import Oid, Syntax, Value
from mfpd.services.snmp.mib_printer import alert_varbinds
from mfpd.services.snmp.mib_status import severity

SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID: Oid = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
SNMP_TRAP_ENTERPRISE: Oid = (1, 3, 6, 1, 6, 3, 1, 1, 4, 3, 0)
SNMP_TRAP_ADDRESS: Oid = (1, 3, 6, 1, 6, 3, 18, 1, 3, 0)  # SNMP-COMMUNITY-MIB, RFC 3584

SNMP_TRAPS: Oid = (1, 3, 6, 1, 6, 3, 1, 1, 5)
COLD_START: Oid = (*SNMP_TRAPS, 1)
AUTHENTICATION_FAILURE: Oid = (*SNMP_TRAPS, 5)
PRINTER_V1_ALERT: Oid = (1, 3, 6, 1, 2, 1, 43, 18, 2)
PRINTER_V2_ALERT: Oid = (*PRINTER_V1_ALERT, 0, 1)

AlertTraps = Literal["critical", "all", "none"]
Varbinds = tuple[tuple[Oid, Value], ...]
# The printerV2Alert OBJECTS of one alert row, read from the device as it is now.
AlertObjects = Callable[[Device, Alert], Sequence[tuple[Oid, Value]]]


@dataclass(frozen=True)
class Notification:
    """One notification, as it happened: sent alike to every destination."""

    name: str  # the NOTIFICATION-TYPE's descriptor, for log lines
    trap_oid: Oid  # snmpTrapOID.0
    objects: Varbinds  # the OBJECTS of the NOTIFICATION-TYPE, values as they were
    uptime: int  # sysUpTime.0 when it happened, in hundredths of a second
    detail: str = ""  # what it is about, for log lines

    @property
    def generic(self) -> bool:
        """One of the SNMPv1 generic traps (RFC 3584 3.2: snmpTraps.x is generic x-1)."""
        return self.trap_oid[:-1] == SNMP_TRAPS

    def varbinds(
        self, version: str, agent_address: str | None, enterprise: Oid
    ) -> list[tuple[Oid, Value]]:
        """The variable bindings of the PDU for a destination of `version` (v1, v2c, v3)."""
        bindings: list[tuple[Oid, Value]] = [
            (SYS_UPTIME, Value.timeticks(self.uptime)),
            (SNMP_TRAP_OID, Value.object_id(self.trap_oid)),
            *self.objects,
        ]
        if self.generic:
            bindings.append((SNMP_TRAP_ENTERPRISE, Value.object_id(enterprise)))
        if version == "v1":
            bindings.append((SNMP_TRAP_ADDRESS, ip_address_value(agent_address)))
        return bindings


def ip_address_value(address: str | None) -> Value:
    """An IpAddress value; 0.0.0.0 for no address or an IPv6 one (v1 agent-addr is IPv4)."""
    try:
        packed = ipaddress.IPv4Address(address or "0.0.0.0").packed
    except ValueError:
        packed = bytes(4)
    return Value(Syntax.IP_ADDRESS, packed)


def cold_start(uptime: int) -> Notification:
    return Notification("coldStart", COLD_START, (), uptime)


def authentication_failure(uptime: int, peer: str = "", reason: str = "") -> Notification:
    detail = " ".join(part for part in (f"from {peer}" if peer else "", reason) if part)
    return Notification("authenticationFailure", AUTHENTICATION_FAILURE, (), uptime, detail)


def printer_alert(
    device: Device, alert: Alert, uptime: int, objects: AlertObjects = alert_varbinds
) -> Notification:
    level = severity(device, alert)
    detail = (
        f"alert {alert.index} {alert.kind.value}, {level.name.lower()}, "
        f"code {int(alert.info.code)}: {alert.description}"
    )
    objects_now = tuple(objects(device, alert))
    return Notification("printerV2Alert", PRINTER_V2_ALERT, objects_now, uptime, detail)


@dataclass(frozen=True)
class NotifyPolicy:
    """What `[services.snmp]` says to announce."""

    alert_traps: AlertTraps = "critical"
    authentication_traps: bool = True


class NotificationSource:
    """Turns device events into notifications.

    Its only state is which alert rows it has seen and which of them it announced as
    critical, so that a row is announced when it is added ("all") and once more, at most,
    when it is or becomes critical. Rows present when it is created are not announced
    (coldStart tells managers to read the table)."""

    ALERT_EVENTS = ("alert.added", "alert.removed", "printer.state")

    def __init__(
        self,
        device: Device,
        policy: NotifyPolicy,
        uptime: Callable[[], int],
        objects: AlertObjects = alert_varbinds,
    ) -> None:
        self.device = device
        self.policy = policy
        self.uptime = uptime
        self.objects = objects
        self._rows = {alert.index for alert in device.alerts}
        self._critical = {
            alert.index
            for alert in device.alerts
            if severity(device, alert) is AlertSeverity.CRITICAL
        }

    def for_event(self, event: Event) -> list[Notification]:
        """The notifications `event` calls for, in the order they happened."""
        if event.kind == "snmp.auth-failure":
            if not self.policy.authentication_traps:
                return []
            peer = str(event.data.get("peer", ""))
            reason = str(event.data.get("reason", ""))
            user = str(event.data.get("user", "") or "")
            if user:
                reason = f"{reason} {user!r}".strip()
            return [authentication_failure(self.uptime(), peer, reason)]
        if event.kind in self.ALERT_EVENTS:
            return [
                printer_alert(self.device, alert, self.uptime(), self.objects)
                for alert in self.alert_events()
            ]
        return []

    def alert_events(self) -> list[Alert]:
        """The rows to announce now: added since the last call, or newly critical."""
        announce: list[Alert] = []
        alerts = self.device.alerts
        for alert in alerts:
            added = alert.index not in self._rows
            critical = severity(self.device, alert) is AlertSeverity.CRITICAL
            newly_critical = critical and alert.index not in self._critical
            if newly_critical:
                self._critical.add(alert.index)
            if self.policy.alert_traps == "none":
                continue
            if newly_critical or (added and self.policy.alert_traps == "all"):
                announce.append(alert)
        present = {alert.index for alert in alerts}
        self._rows = present
        self._critical &= present
        return announce
