"""Typed IPP values, attributes, groups and messages (RFC 8011 section 5.1, RFC 8010 section 3).

Python types per value tag (RFC 8010 3.5.2, RFC 8011 5.1):

=============================================  ================================================
integer, enum                                  `int`
boolean                                        `bool`
textWithoutLanguage, nameWithoutLanguage,      `str`
keyword, uri, uriScheme, charset,
naturalLanguage, mimeMediaType
textWithLanguage / nameWithLanguage            `TextWithLanguage` / `NameWithLanguage`
octetString                                    `bytes`
dateTime                                       timezone-aware `datetime.datetime`, to 1/10 s
resolution                                     `Resolution`
rangeOfInteger                                 `Range`
collection (begCollection)                     `Collection`
out-of-band (unsupported, unknown, no-value,   `OutOfBand`
not-settable, delete-attribute, admin-define)
=============================================  ================================================

Tags per value. An attribute's values usually share one tag (``Attribute.tag``). The wire
format gives every value its own tag (RFC 8010 3.1.5 "additional-value"), and real attributes
do mix them: ``media-supported`` is ``1setOf (type2 keyword | name(MAX))``, a
``notify-lease-duration-supported`` may mix integer and rangeOfInteger, a 1setOf may carry
an out-of-band value. So `Attribute` has ``value_tags``: None when every value has ``tag``
(the common case, and what the decoder produces then), else one tag per value, the first
equal to ``tag``. Use `Attribute.tagged()` to walk (tag, value) pairs without caring.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from mfpd.codecs.ipp.tags import DelimiterTag, Operation, ResolutionUnits, StatusCode, ValueTag

__all__ = [
    "Attribute",
    "AttributeGroup",
    "Collection",
    "Message",
    "NameWithLanguage",
    "OutOfBand",
    "Range",
    "Resolution",
    "TextWithLanguage",
    "Value",
]


@dataclass(frozen=True, slots=True)
class Resolution:
    """A resolution value (RFC 8011 5.1.16): cross-feed and feed direction, and units."""

    x: int
    y: int
    units: ResolutionUnits = ResolutionUnits.DOTS_PER_INCH


@dataclass(frozen=True, slots=True)
class Range:
    """A rangeOfInteger value (RFC 8011 5.1.14): inclusive lower and upper bounds."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class TextWithLanguage:
    """A textWithLanguage value (RFC 8011 5.1.2.2): text and its natural language."""

    text: str
    language: str


@dataclass(frozen=True, slots=True)
class NameWithLanguage:
    """A nameWithLanguage value (RFC 8011 5.1.3.2): name and its natural language."""

    text: str
    language: str


@dataclass(frozen=True, slots=True)
class OutOfBand:
    """An out-of-band value (RFC 8010 3.5.2): no octets, only the tag's meaning."""

    tag: ValueTag


class Collection(Mapping[str, "Attribute"]):
    """A collection value (RFC 8011 5.1.18, RFC 8010 3.1.6): ordered, named member attributes.

    Immutable and hashable. Member names are unique (the constructor refuses duplicates with
    ValueError). Two collections are equal when they hold equal members in the same order,
    which is what a byte-exact round trip needs. The encoder keeps the collection's octets on
    it (``_wire``), so a collection answered again costs nothing to encode.
    """

    __slots__ = ("_hash", "_index", "_members", "_wire")

    def __init__(self, members: Iterable[Attribute] = ()) -> None:
        self._members: tuple[Attribute, ...] = tuple(members)
        self._index: dict[str, Attribute] = {a.name: a for a in self._members}
        self._wire: bytes | None = None
        self._hash: int | None = None
        if len(self._index) != len(self._members):
            raise ValueError("duplicate member attribute in a collection")

    @classmethod
    def _trusted(cls, members: tuple[Attribute, ...], index: dict[str, Attribute]) -> Collection:
        # The decoder has already checked uniqueness: skip the second pass.
        self = cls.__new__(cls)
        self._members = members
        self._index = index
        self._wire = None
        self._hash = None
        return self

    @property
    def members(self) -> tuple[Attribute, ...]:
        """The member attributes in wire order."""
        return self._members

    def __getitem__(self, name: str) -> Attribute:
        return self._index[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Collection):
            return self._members == other._members
        return NotImplemented

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash(self._members)
        return h

    def __repr__(self) -> str:
        return f"Collection({list(self._members)!r})"


Value: TypeAlias = (
    int
    | bool
    | str
    | bytes
    | datetime
    | Resolution
    | Range
    | TextWithLanguage
    | NameWithLanguage
    | Collection
    | OutOfBand
)


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute: a name and one or more values (RFC 8010 3.1.3, RFC 8011 5.1).

    ``value_tags`` is None when all values have ``tag``; otherwise it holds one tag per value
    and ``value_tags[0] == tag`` (see the module docstring). Values are not type-checked
    here (the decoder makes them right, the encoder checks what it is given).
    """

    name: str
    tag: ValueTag
    values: tuple[Value, ...]
    value_tags: tuple[ValueTag, ...] | None = None

    @property
    def value(self) -> Value:
        """The first value (most attributes have exactly one)."""
        return self.values[0]

    def tagged(self) -> Iterator[tuple[ValueTag, Value]]:
        """(tag, value) for every value, whether or not the tags are mixed."""
        if self.value_tags is None:
            tag = self.tag
            for v in self.values:
                yield tag, v
        else:
            yield from zip(self.value_tags, self.values, strict=True)

    @property
    def is_out_of_band(self) -> bool:
        """True when the (first) value is an out-of-band value such as no-value."""
        return self.tag.is_out_of_band

    @classmethod
    def of(cls, name: str, tag: ValueTag, *values: Value) -> Attribute:
        """An attribute whose values all have ``tag``; an out-of-band tag needs no value."""
        if not values and tag.is_out_of_band:
            values = (OutOfBand(tag),)
        return cls(name, tag, values)

    @classmethod
    def mixed(cls, name: str, tagged: Iterable[tuple[ValueTag, Value]]) -> Attribute:
        """An attribute from (tag, value) pairs, normalising ``value_tags`` to None if uniform."""
        pairs = list(tagged)
        if not pairs:
            raise ValueError(f"attribute {name!r} needs at least one value")
        tags = tuple(t for t, _ in pairs)
        values = tuple(v for _, v in pairs)
        uniform = all(t == tags[0] for t in tags)
        return cls(name, tags[0], values, None if uniform else tags)


@dataclass(frozen=True, slots=True)
class AttributeGroup:
    """An attribute group (RFC 8010 3.1.2): a begin-attribute-group tag and its attributes.

    Attributes keep wire order. A group may be empty (RFC 8010 appendix A.9 answers a job the
    client may not see with an empty job group). The index by name is built at the first
    lookup, as most groups of an answer are only ever encoded; `keep_encoded_group` keeps a
    group's octets on it (``_wire``), for a group a server sends again and again.
    """

    tag: DelimiterTag
    attributes: tuple[Attribute, ...] = ()
    _index: dict[str, Attribute] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )
    _wire: bytes | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def _names(self) -> dict[str, Attribute]:
        index = self._index
        if index is None:
            index = {}
            for a in self.attributes:
                index.setdefault(a.name, a)  # first occurrence wins, like a CUPS lookup
            object.__setattr__(self, "_index", index)
        return index

    @property
    def kept_encoded(self) -> bool:
        """Whether `keep_encoded_group` kept the group's octets (its values are immutable)."""
        return self._wire is not None

    def get(self, name: str) -> Attribute | None:
        """The attribute called ``name``, or None."""
        return self._names().get(name)

    def __getitem__(self, name: str) -> Attribute:
        return self._names()[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.attributes)

    def __len__(self) -> int:
        return len(self.attributes)

    def names(self) -> list[str]:
        """Attribute names in wire order."""
        return [a.name for a in self.attributes]


@dataclass(frozen=True, slots=True)
class Message:
    """An IPP request or response (RFC 8010 3.1.1).

    ``code`` is the operation-id of a request or the status-code of a response (RFC 8010
    3.4.2/3.4.3): the bytes do not say which, the direction does. ``version`` is
    (major, minor) as sent (RFC 8010 3.4.1); accepting it is the server's decision.
    """

    version: tuple[int, int]
    code: int
    request_id: int
    groups: tuple[AttributeGroup, ...] = ()

    @property
    def operation(self) -> Operation | None:
        """``code`` as a known operation, or None."""
        try:
            return Operation(self.code)
        except ValueError:
            return None

    @property
    def status(self) -> StatusCode | None:
        """``code`` as a known status code, or None."""
        try:
            return StatusCode(self.code)
        except ValueError:
            return None

    def first(self, tag: DelimiterTag) -> AttributeGroup | None:
        """The first group with this tag, or None."""
        for g in self.groups:
            if g.tag == tag:
                return g
        return None

    def groups_of(self, tag: DelimiterTag) -> list[AttributeGroup]:
        """Every group with this tag, in order (e.g. one job group per job in Get-Jobs)."""
        return [g for g in self.groups if g.tag == tag]

    def get(self, tag: DelimiterTag, name: str) -> Attribute | None:
        """The attribute ``name`` from the first group with this tag that has it."""
        for g in self.groups:
            if g.tag == tag:
                a = g.get(name)
                if a is not None:
                    return a
        return None

    @property
    def operation_attributes(self) -> AttributeGroup | None:
        """The (first) operation attributes group."""
        return self.first(DelimiterTag.OPERATION)


class _AttributeShell:
    """`Attribute`'s slot layout without the frozen ``__setattr__``: the decoder fills one
    and turns it into an `Attribute` by assigning ``__class__`` (CPython checks the layouts
    match). A frozen dataclass ``__init__`` costs about twice as much, and a request holds
    dozens of attributes; the result is an ordinary, immutable `Attribute`."""

    __slots__ = ("name", "tag", "value_tags", "values")

    def __init__(
        self,
        name: str,
        tag: ValueTag,
        values: tuple[Value, ...],
        value_tags: tuple[ValueTag, ...] | None,
    ) -> None:
        self.name = name
        self.tag = tag
        self.values = values
        self.value_tags = value_tags


def _fast_attribute(
    name: str, tag: ValueTag, values: tuple[Value, ...], value_tags: tuple[ValueTag, ...] | None
) -> Attribute:
    shell = _AttributeShell(name, tag, values, value_tags)
    shell.__class__ = Attribute  # type: ignore[assignment]
    return shell  # type: ignore[return-value]


def _shell_works() -> bool:
    # An interpreter that refuses the __class__ assignment, or lays the slots out otherwise,
    # gets the plain constructor.
    try:
        probe = _fast_attribute("n", ValueTag.INTEGER, (1,), (ValueTag.INTEGER,))
    except TypeError:
        return False
    expected = Attribute("n", ValueTag.INTEGER, (1,), (ValueTag.INTEGER,))
    return type(probe) is Attribute and probe == expected and probe.values == (1,)


#: ``Attribute(name, tag, values, value_tags)``, built the fast way (codec internal).
fast_attribute = _fast_attribute if _shell_works() else Attribute
