"""Small helpers the MIB modules share: table rows, bounded strings, TimeTicks, SET checks.

Every module builds its tables the same way: a conceptual row is the entry OID, a column
number and the row index (RFC 2578 section 7.7), so `row()` turns one `{column: Value}` dict
into instances.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable, Iterator, Mapping

from mfpd.device.machine import Device
from mfpd.services.snmp.mib import Oid, Syntax, Value, WriteError

# DisplayString and most Printer MIB strings are SIZE (0..255) (RFC 2579, RFC 3805).
DISPLAY_MAX = 255


def row(entry: Oid, index: Oid, columns: Mapping[int, Value]) -> Iterator[tuple[Oid, Value]]:
    """The instances of one conceptual row: entry.column.index (RFC 2578 7.7)."""
    for column, value in columns.items():
        yield (*entry, column, *index), value


def clip(text: str, limit: int = DISPLAY_MAX) -> bytes:
    """UTF-8 octets of `text`, cut to `limit` octets without splitting a character: an
    agent must never answer beyond an object's SIZE (RFC 2578 7.1.2)."""
    data = text.encode()
    if len(data) <= limit:
        return data
    return data[:limit].decode(errors="ignore").encode()


def text(value: str, limit: int = DISPLAY_MAX) -> Value:
    return Value.string(clip(value, limit))


def truth(flag: bool) -> Value:
    """TruthValue (RFC 2579): true(1), false(2)."""
    return Value.integer(1 if flag else 2)


def ticks(seconds: float) -> Value:
    """TimeTicks: hundredths of a second (RFC 2578 7.1.8), never negative."""
    return Value.timeticks(max(0, int(seconds * 100)))


def date_and_time(moment: float) -> bytes:
    """DateAndTime (RFC 2579), the 11-octet form with the local offset from UTC."""
    local = datetime.datetime.fromtimestamp(moment).astimezone()
    offset = local.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = b"+" if minutes >= 0 else b"-"
    hours_off, minutes_off = divmod(abs(minutes), 60)
    return struct.pack(
        ">HBBBBBBcBB",
        local.year, local.month, local.day, local.hour, local.minute,
        min(local.second, 60), local.microsecond // 100_000,
        sign, hours_off, minutes_off,
    )  # fmt: skip


def string_check(
    limit: int, *, allow_empty: bool = True, what: str = "value"
) -> Callable[[Value], None]:
    """The test phase (RFC 3416 4.2.5) of a SET on a text object of SIZE (0..limit):
    wrongType for anything but an OCTET STRING, wrongLength beyond `limit`, wrongValue for
    octets that are not UTF-8 text (DisplayString allows no control characters, RFC 2579)."""

    def check(value: Value) -> None:
        if value.syntax is not Syntax.OCTET_STRING or not isinstance(value.value, bytes):
            raise WriteError("wrongType", f"{what} must be an OCTET STRING")
        if len(value.value) > limit:
            raise WriteError("wrongLength", f"{what} is at most {limit} octets")
        if not allow_empty and not value.value:
            raise WriteError("wrongLength", f"{what} cannot be empty")
        try:
            decoded = value.value.decode()
        except UnicodeDecodeError:
            raise WriteError("wrongValue", f"{what} must be UTF-8 text") from None
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in decoded):
            raise WriteError("wrongValue", f"{what} must not contain control characters")

    return check


def as_text(value: Value) -> str:
    """The text of a value string_check() has accepted."""
    assert isinstance(value.value, bytes)
    return value.value.decode()


def identity_writer(device: Device, field: str) -> Callable[[Value], None]:
    """The commit phase of a SET of an identity field (sysName, prtGeneralPrinterName, ...):
    the device keeps it, and saves it before the answer goes out."""

    def apply(value: Value) -> None:
        device.update_identity(**{field: as_text(value)})

    return apply
