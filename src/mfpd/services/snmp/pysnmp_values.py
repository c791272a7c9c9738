"""The one mapping between the neutral MIB values (mib.py) and pysnmp's SMIv2 types
(RFC 2578), shared by the agent and the notification originator."""

from __future__ import annotations

from typing import Any

from pysnmp.proto import rfc1902  # type: ignore[import-untyped]

from mfpd.services.snmp.mib import Syntax, Value

PYSNMP_TYPES: dict[Syntax, Any] = {
    Syntax.INTEGER: rfc1902.Integer32,
    Syntax.OCTET_STRING: rfc1902.OctetString,
    Syntax.OBJECT_IDENTIFIER: rfc1902.ObjectIdentifier,
    Syntax.IP_ADDRESS: rfc1902.IpAddress,
    Syntax.COUNTER32: rfc1902.Counter32,
    Syntax.GAUGE32: rfc1902.Gauge32,
    Syntax.TIMETICKS: rfc1902.TimeTicks,
    Syntax.COUNTER64: rfc1902.Counter64,
}


def pysnmp_value(value: Value) -> Any:
    """A neutral MIB value as the pysnmp object that encodes it."""
    return PYSNMP_TYPES[value.syntax](value.value)
