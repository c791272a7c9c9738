"""The neutral shape of a MIB, between the device model and the SNMP engine.

A MIB module (mib_system, mib_host, mib_printer, ...) knows the device and RFC texts, not
pysnmp: it yields `(oid, Value)` pairs for every object instance it currently has, and names
the instances an administrator may write. The agent turns those into a sorted OID index and
pysnmp values, and is the only place that knows the engine.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

Oid = tuple[int, ...]


def oid(text: str) -> Oid:
    """ "1.3.6.1.2.1.1.1.0" -> (1, 3, 6, 1, 2, 1, 1, 1, 0)."""
    return tuple(int(part) for part in text.strip(".").split("."))


class Syntax(enum.Enum):
    """SMIv2 base types (RFC 2578 section 7.1) an object instance can have."""

    INTEGER = "Integer32"  # also enumerations and TruthValue
    OCTET_STRING = "OctetString"  # DisplayString, bit maps, MAC addresses, DateAndTime
    OBJECT_IDENTIFIER = "ObjectIdentifier"
    IP_ADDRESS = "IpAddress"
    COUNTER32 = "Counter32"
    GAUGE32 = "Gauge32"  # also Unsigned32
    TIMETICKS = "TimeTicks"
    COUNTER64 = "Counter64"  # skipped by v1 (RFC 3584 4.2.2.1)


@dataclass(frozen=True, slots=True)
class Value:
    syntax: Syntax
    value: int | bytes | Oid  # IpAddress: 4 bytes

    @classmethod
    def integer(cls, value: int) -> Value:
        return cls(Syntax.INTEGER, value)

    @classmethod
    def string(cls, value: str | bytes) -> Value:
        return cls(Syntax.OCTET_STRING, value.encode() if isinstance(value, str) else value)

    @classmethod
    def object_id(cls, value: Oid | str) -> Value:
        return cls(Syntax.OBJECT_IDENTIFIER, oid(value) if isinstance(value, str) else value)

    @classmethod
    def counter32(cls, value: int) -> Value:
        return cls(Syntax.COUNTER32, value & 0xFFFFFFFF)

    @classmethod
    def gauge32(cls, value: int) -> Value:
        return cls(Syntax.GAUGE32, max(0, min(value, 0xFFFFFFFF)))

    @classmethod
    def timeticks(cls, hundredths: int) -> Value:
        return cls(Syntax.TIMETICKS, hundredths & 0xFFFFFFFF)


class WriteError(Exception):
    """A refused SET. `status` is the SNMPv2 error-status name (RFC 3416 4.2.5):
    wrongType, wrongLength, wrongValue, inconsistentValue, notWritable, ..."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Writable:
    """An instance an administrator may SET: `check` raises WriteError (test phase of RFC 3416
    4.2.5), `apply` makes the change (commit phase); both get the new value."""

    syntax: Syntax
    check: Callable[[Value], None]
    apply: Callable[[Value], None]


class MibModule(Protocol):
    """One MIB's objects, read live from the device at each call."""

    def objects(self) -> Iterable[tuple[Oid, Value]]: ...

    def writable(self) -> dict[Oid, Writable]: ...
