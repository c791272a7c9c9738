"""The agent's view of the MIB modules: a sorted OID index, and the sizes of what it answers.

Free of pysnmp, so that the lookup rules (RFC 3416 4.2.1-4.2.3) and the size arithmetic of
GetBulk can be tested alone. The agent (agent.py) adapts this to pysnmp's engine.

- `OidIndex`: one snapshot of every instance the modules have, sorted for GetNext.
- `LiveMib`: builds that snapshot from the modules, keeps it for `ttl` seconds at most and
  drops it at once when the device announces a change, so a walk sees one consistent picture
  and a poll never sees a stale one for long. Building costs one pass over the modules and a
  sort; a request never pays for more than one build.
- BER sizes: what a varbind and the message around it cost on the wire, so that GetBulk fills
  a 1472-byte UDP payload without encoding anything twice.
- Encoded varbinds (`OidIndex.varbind`): the BER of each instance, made once per snapshot,
  for the agent's fast path (codecs/snmp.py writes them as pyasn1 would).
"""

from __future__ import annotations

import enum
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence

from mfpd.codecs.snmp import (
    INT32_MAX,
    INT32_MIN,
    Tag,
    encode_integer,
    encode_oid,
    encode_tlv,
    encode_varbind,
)
from mfpd.device.events import Event, EventBus
from mfpd.services.snmp.mib import MibModule, Oid, Syntax, Value, Writable

log = logging.getLogger("mfpd.snmp")

# The largest UDP payload that crosses an Ethernet link unfragmented (1500 - 20 - 8).
LOCAL_MAX_MESSAGE = 1472


class Missing(enum.Enum):
    """The SNMPv2 exception values a varbind can carry instead of a value (RFC 3416 3)."""

    NO_SUCH_OBJECT = "noSuchObject"
    NO_SUCH_INSTANCE = "noSuchInstance"
    END_OF_MIB_VIEW = "endOfMibView"


Answer = Value | Missing
# Is this instance in the requester's MIB view? (VACM, called for every variable.)
Allowed = Callable[[Oid, Value | None], bool]


class OidIndex:
    """Every current instance, sorted. Built once, then only read."""

    def __init__(
        self, entries: Iterable[tuple[Oid, Value]], writable: dict[Oid, Writable] | None = None
    ) -> None:
        values: dict[Oid, Value] = {}
        duplicates: list[Oid] = []
        for oid, value in entries:
            if oid in values:
                duplicates.append(oid)
                continue
            values[oid] = value
        self.values = values
        self.oids: list[Oid] = sorted(values)
        self.writable: dict[Oid, Writable] = writable or {}
        self.duplicates = duplicates
        # The encoded VarBind of each instance, made when first asked for: the values of a
        # snapshot never change, so neither do their octets.
        self._encoded: dict[Oid, bytes] = {}

    def __len__(self) -> int:
        return len(self.oids)

    def get(self, oid: Oid, allowed: Allowed) -> Answer:
        """GetRequest for one variable (RFC 3416 4.2.1)."""
        value = self.values.get(oid)
        if not allowed(oid, value):
            return Missing.NO_SUCH_OBJECT
        if value is not None:
            return value
        return Missing.NO_SUCH_INSTANCE if self.object_exists(oid) else Missing.NO_SUCH_OBJECT

    def object_exists(self, oid: Oid) -> bool:
        """Whether `oid` names an instance of an object type that has instances here: the
        object (all arcs but the last) prefixes an existing instance. A scalar's instance is
        its object plus .0, a table's its column plus the index."""
        if len(oid) < 2:
            return False
        prefix = oid[:-1]
        position = bisect_right(self.oids, prefix)
        return position < len(self.oids) and self.oids[position][: len(prefix)] == prefix

    def next(self, oid: Oid, allowed: Allowed, *, v1: bool = False) -> tuple[Oid, Answer]:
        """GetNextRequest for one variable (RFC 3416 4.2.2): the first instance after `oid`
        in the view. SNMPv1 never sees Counter64 (RFC 3584 4.2.2.1): those are skipped."""
        oids = self.oids
        values = self.values
        position = bisect_right(oids, oid)
        while position < len(oids):
            candidate = oids[position]
            value = values[candidate]
            position += 1
            if v1 and value.syntax is Syntax.COUNTER64:
                continue
            if allowed(candidate, value):
                return candidate, value
        return oid, Missing.END_OF_MIB_VIEW

    def varbind(self, oid: Oid, answer: Answer) -> bytes:
        """The BER of the VarBind `oid` = `answer`, as pyasn1 would write it; an instance's
        is made once per snapshot. ValueError when the value has no encoding (out of its
        type's range: pysnmp refuses it too)."""
        if isinstance(answer, Missing):
            return encode_varbind(encode_oid(oid), _MISSING_TLV[answer])
        if self.values.get(oid) is not answer:  # not this snapshot's value: not kept
            return encode_varbind(encode_oid(oid), value_tlv(answer))
        encoded = self._encoded.get(oid)
        if encoded is None:
            encoded = self._encoded[oid] = encode_varbind(encode_oid(oid), value_tlv(answer))
        return encoded

    def varbind_length(self, oid: Oid, answer: Answer) -> int:
        return len(self.varbind(oid, answer))

    def bulk(
        self,
        requested: Sequence[Oid],
        non_repeaters: int,
        max_repetitions: int,
        allowed: Allowed,
        budget: int,
        *,
        hard_limit: int | None = None,
        size: Callable[[Oid, Answer], int] | None = None,
    ) -> list[tuple[Oid, Answer]]:
        """GetBulkRequest (RFC 3416 4.2.3), trimmed to fit: varbinds whose encoded size
        (`size`, by default `varbind_size`) adds up to at most `budget` octets. Trimming
        drops from the end, as the RFC says, never answers tooBig; the first varbind is kept
        even over `budget` when it fits `hard_limit` (the requester's own maximum), so a
        single large value still gets through. An empty answer to a request that asks for
        something (`bulk_count`) means not even that fits (the agent says tooBig)."""
        measure = size or varbind_size
        n, m, _ = bulk_shape(len(requested), non_repeaters, max_repetitions)
        repeaters = list(requested[n:])
        out: list[tuple[Oid, Answer]] = []
        used = 0

        def add(oid: Oid, answer: Answer) -> bool:
            nonlocal used
            octets = measure(oid, answer)
            limit = budget if out else max(budget, hard_limit or budget)
            if used + octets > limit:
                return False
            out.append((oid, answer))
            used += octets
            return True

        for oid in requested[:n]:
            if not add(*self.next(oid, allowed)):
                return out
        for _ in range(m if repeaters else 0):
            ended = 0
            for i, oid in enumerate(repeaters):
                found, answer = self.next(oid, allowed)
                if answer is Missing.END_OF_MIB_VIEW:
                    ended += 1
                if not add(found, answer):
                    return out
                repeaters[i] = found
            if ended == len(repeaters):
                break  # every repeater is past the end of the view: nothing more to say
        return out


def bulk_shape(count: int, non_repeaters: int, max_repetitions: int) -> tuple[int, int, int]:
    """N, M and R of a GetBulk request of `count` varbinds (RFC 3416 4.2.3): a negative
    non-repeaters or max-repetitions "is set to zero"; N is at most `count`; R the rest."""
    n = max(0, min(non_repeaters, count))
    return n, max(0, max_repetitions), count - n


def bulk_count(count: int, non_repeaters: int, max_repetitions: int) -> int:
    """How many varbinds a GetBulk request asks for, N + M * R (RFC 3416 4.2.3). Zero is
    a question too: its answer is a Response without varbinds (as net-snmp's), not tooBig."""
    n, m, r = bulk_shape(count, non_repeaters, max_repetitions)
    return n + m * r


class LiveMib:
    """The index of the modules' current instances, rebuilt when stale or invalidated."""

    def __init__(
        self,
        modules: Sequence[MibModule],
        events: EventBus | None = None,
        *,
        ttl: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.modules = list(modules)
        self.ttl = ttl
        self._clock = clock
        self._index: OidIndex | None = None
        self._built_at = 0.0
        self.builds = 0
        self._reported: set[str] = set()
        self._unsubscribe = events.subscribe(self._on_event) if events is not None else None

    def _on_event(self, event: Event) -> None:
        # Any change of the device may change an object; the agent's own events do not.
        if not event.kind.startswith("snmp."):
            self._index = None

    def invalidate(self) -> None:
        self._index = None

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def index(self) -> OidIndex:
        now = self._clock()
        index = self._index
        if index is None or now - self._built_at > self.ttl:
            index = self._build()
            self._index = index
            self._built_at = now
        return index

    def _build(self) -> OidIndex:
        entries: list[tuple[Oid, Value]] = []
        writable: dict[Oid, Writable] = {}
        for module in self.modules:
            name = type(module).__name__
            try:
                entries.extend(module.objects())
                for oid, spec in module.writable().items():
                    writable.setdefault(oid, spec)
            except Exception:
                # One broken module must not take the agent down; say so once.
                if name not in self._reported:
                    self._reported.add(name)
                    log.exception("snmp: MIB module %s failed; serving the others", name)
        index = OidIndex(entries, writable)
        if index.duplicates and "duplicates" not in self._reported:
            self._reported.add("duplicates")
            shown = ", ".join(".".join(map(str, o)) for o in index.duplicates[:5])
            log.warning("snmp: %d OIDs served by two modules (first kept): %s",
                        len(index.duplicates), shown)  # fmt: skip
        self.builds += 1
        return index


# -- BER sizes (X.690 definite length, as pyasn1 encodes) ------------------------------------


def length_octets(length: int) -> int:
    """Octets of a BER length field: short form below 128, else 0x8n and n octets."""
    return 1 if length < 0x80 else 1 + (length.bit_length() + 7) // 8


def tlv(content: int) -> int:
    """Octets of a TLV whose tag is one octet and whose content is `content` octets."""
    return 1 + length_octets(content) + content


def integer_content(value: int) -> int:
    """Content octets of a BER INTEGER as pyasn1 writes it; also Counter32, Gauge32,
    TimeTicks and Counter64, which are INTEGERs with an application tag. Two's complement,
    minimal except for negative powers of two, which pyasn1 writes one octet longer (-128 as
    ff 80): counting |value| covers both."""
    return abs(value).bit_length() // 8 + 1


def oid_content(oid: Oid) -> int:
    """Content octets of a BER OBJECT IDENTIFIER: the first two arcs make one subidentifier,
    each subidentifier is base 128, seven bits an octet."""
    if not oid:
        return 0
    first = oid[0] * 40 + (oid[1] if len(oid) > 1 else 0)
    size = 0
    for arc in (first, *oid[2:]):
        size += max(1, (arc.bit_length() + 6) // 7)
    return size


def value_content(value: Answer) -> int:
    if isinstance(value, Missing):
        return 0  # NULL-like exception values: tag, length 0
    syntax = value.syntax
    raw = value.value
    if syntax is Syntax.OCTET_STRING or syntax is Syntax.IP_ADDRESS:
        assert isinstance(raw, bytes)
        return len(raw)
    if syntax is Syntax.OBJECT_IDENTIFIER:
        assert isinstance(raw, tuple)
        return oid_content(raw)
    assert isinstance(raw, int)
    return integer_content(raw)


_MISSING_TLV = {
    Missing.NO_SUCH_OBJECT: bytes((Tag.NO_SUCH_OBJECT, 0)),
    Missing.NO_SUCH_INSTANCE: bytes((Tag.NO_SUCH_INSTANCE, 0)),
    Missing.END_OF_MIB_VIEW: bytes((Tag.END_OF_MIB_VIEW, 0)),
}
_UNSIGNED: dict[Syntax, tuple[int, int]] = {
    Syntax.COUNTER32: (Tag.COUNTER32, 0xFFFFFFFF),
    Syntax.GAUGE32: (Tag.GAUGE32, 0xFFFFFFFF),
    Syntax.TIMETICKS: (Tag.TIMETICKS, 0xFFFFFFFF),
    Syntax.COUNTER64: (Tag.COUNTER64, 0xFFFFFFFFFFFFFFFF),
}


def value_tlv(value: Value) -> bytes:
    """The BER of a value with its SMIv2 type (RFC 2578 7.1, RFC 3416 3), within the ranges
    pysnmp's types enforce (Integer32, SIZE (0..65535), IpAddress of 4 octets, unsigned
    32 and 64 bits); ValueError outside them."""
    syntax, raw = value.syntax, value.value
    if syntax is Syntax.INTEGER:
        if isinstance(raw, int) and INT32_MIN <= raw <= INT32_MAX:
            return encode_integer(raw)
    elif syntax is Syntax.OCTET_STRING:
        if isinstance(raw, bytes) and len(raw) <= 0xFFFF:
            return encode_tlv(Tag.OCTET_STRING, raw)
    elif syntax is Syntax.OBJECT_IDENTIFIER:
        if isinstance(raw, tuple):
            return encode_oid(raw)
    elif syntax is Syntax.IP_ADDRESS:
        if isinstance(raw, bytes) and len(raw) == 4:
            return encode_tlv(Tag.IP_ADDRESS, raw)
    else:
        tag, high = _UNSIGNED[syntax]
        if isinstance(raw, int) and 0 <= raw <= high:
            return encode_integer(raw, tag)
    raise ValueError(f"no encoding of {value!r}")


def varbind_size(oid: Oid, value: Answer) -> int:
    """Encoded octets of one VarBind: SEQUENCE { name, value }."""
    return tlv(tlv(oid_content(oid)) + tlv(value_content(value)))


# Upper bounds of what surrounds the varbinds in a Response-PDU (RFC 3416 3): the PDU's own
# tag and length (4), request-id (an Integer32, 7: pyasn1 writes -2**31 in 5 octets),
# error-status and error-index (3 each for the values a GetBulk response carries), the
# varbind list's tag and length (4).
PDU_OVERHEAD = 4 + 7 + 3 + 3 + 4


def community_message_overhead(community_length: int) -> int:
    """SNMPv1/v2c Message (RFC 1901): SEQUENCE { version, community, PDU } minus the PDU."""
    return 4 + 3 + tlv(community_length)


def usm_message_overhead(
    engine_id_length: int, user_length: int, context_engine_length: int, context_name_length: int
) -> int:
    """SNMPv3 message (RFC 3412 6, RFC 3414 2.4) minus the PDU, at its largest: msgGlobalData
    with 4-octet integers, USM parameters with a 48-octet HMAC-SHA-512 digest and 8 octets of
    privacy salt, the encryptedPDU wrapper with 8 octets of DES padding, the ScopedPDU header."""
    global_data = tlv(6 + 6 + 3 + 3)
    usm = tlv(tlv(engine_id_length) + 6 + 6 + tlv(user_length) + tlv(48) + tlv(8))
    security_parameters = 4 + usm  # OCTET STRING wrapping the USM SEQUENCE
    scoped_header = 4 + tlv(context_engine_length) + tlv(context_name_length)
    encryption = 4 + 8
    return 4 + 3 + global_data + security_parameters + encryption + scoped_header
