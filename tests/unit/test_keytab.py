"""codecs/keytab.py: MIT's keytab format (0x502) read entry by entry, holes skipped, the
32-bit kvno taken, and any bytes read without an exception other than KeytabError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfpd.codecs.keytab import KeytabEntry, KeytabError, read_keytab


def _counted(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _entry(name: tuple[str, ...], kvno: int, etype: int, key: bytes, kvno32: int | None) -> bytes:
    body = len(name).to_bytes(2, "big") + _counted(b"TEST.REALM")
    body += b"".join(_counted(part.encode()) for part in name)
    body += (1).to_bytes(4, "big") + (1_796_685_241).to_bytes(4, "big")
    body += (kvno % 256).to_bytes(1, "big") + etype.to_bytes(2, "big") + _counted(key)
    if kvno32 is not None:
        body += kvno32.to_bytes(4, "big")
    return len(body).to_bytes(4, "big", signed=True) + body


def test_entries_holes_and_the_32_bit_kvno() -> None:
    hole = (-12).to_bytes(4, "big", signed=True) + b"\0" * 12
    data = (
        b"\x05\x02"
        + _entry(("host", "mfp.test.realm"), 3, 18, b"k" * 32, None)
        + hole
        + _entry(("host", "mfp.test.realm"), 300, 17, b"j" * 16, 300)
    )
    assert read_keytab(data) == [
        KeytabEntry(("host", "mfp.test.realm"), "TEST.REALM", 3, 18, b"k" * 32),
        KeytabEntry(("host", "mfp.test.realm"), "TEST.REALM", 300, 17, b"j" * 16),
    ]


def test_refused() -> None:
    with pytest.raises(KeytabError, match="version 2"):
        read_keytab(b"\x05\x01")
    whole = b"\x05\x02" + _entry(("a",), 1, 18, b"k" * 32, None)
    with pytest.raises(KeytabError, match="past the end"):
        read_keytab(whole[:-1])
    lying = b"\x05\x02" + (8).to_bytes(4, "big") + b"\x00\x05" + b"\x00" * 6
    with pytest.raises(KeytabError, match="ends early"):
        read_keytab(lying)


@given(st.binary(max_size=300))
def test_any_bytes(data: bytes) -> None:
    with contextlib.suppress(KeytabError):
        read_keytab(b"\x05\x02" + data)
