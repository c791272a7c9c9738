"""The MIT keytab file (version 0x502, as ktutil and kadmin's ktadd write it; the format is
MIT's own, described in its source tree's doc/formats/keytab_file_format.rst): the service
keys a [kerberos] keytab holds, read without trusting the lengths it claims."""

from __future__ import annotations

from dataclasses import dataclass

MAGIC_V2 = b"\x05\x02"  # version 2: names carry their name type; integers big-endian
MAX_FILE = 1 << 20  # a device's keytab holds a handful of keys


class KeytabError(ValueError):
    pass


@dataclass(frozen=True)
class KeytabEntry:
    name: tuple[str, ...]
    realm: str
    kvno: int
    etype: int
    key: bytes


def read_keytab(data: bytes) -> list[KeytabEntry]:
    if len(data) > MAX_FILE:
        raise KeytabError(f"keytab of {len(data)} bytes: not a device's")
    if data[:2] != MAGIC_V2:
        raise KeytabError("not a version 2 keytab (0x0502)")
    entries = []
    at = 2
    while at + 4 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big", signed=True)
        at += 4
        if size == 0:
            break
        if size < 0:  # a hole left by a removed entry
            at += -size
            continue
        if at + size > len(data):
            raise KeytabError("an entry runs past the end of the file")
        entries.append(_entry(data[at : at + size]))
        at += size
    return entries


def _entry(data: bytes) -> KeytabEntry:
    reader = _Reader(data)
    count = reader.int(2)
    realm = reader.text()
    name = tuple(reader.text() for _ in range(count))
    reader.int(4)  # name type
    reader.int(4)  # timestamp
    kvno = reader.int(1)
    etype = reader.int(2)
    key = reader.counted()
    if reader.left() >= 4:
        # The 32-bit kvno that follows, where the 8-bit one had to wrap.
        kvno = reader.int(4) or kvno
    return KeytabEntry(name, realm, kvno, etype, key)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def left(self) -> int:
        return len(self.data) - self.at

    def take(self, count: int) -> bytes:
        if count > self.left():
            raise KeytabError("an entry ends early")
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def int(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def counted(self) -> bytes:
        return self.take(self.int(2))

    def text(self) -> str:
        try:
            return self.counted().decode()
        except UnicodeDecodeError:
            raise KeytabError("a name that is not UTF-8") from None
