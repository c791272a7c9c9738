"""Encoding IPP messages (RFC 8010 section 3), and builders for requests and responses.

`encode_message` writes exactly the form `decode_message` reads, so
``decode_message(encode_message(m))[0] == m`` for every message the encoder accepts. It
refuses (`IppEncodeError`) a value whose Python type does not fit its tag, strings that are
not US-ASCII where the syntax is (keyword, uri, ...), lengths the wire cannot carry (32767
octets), an attribute without values and naive datetimes. It does not apply the RFC's
per-syntax maxima (that is `Limits`, on the receiving side).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Final

from mfpd.codecs.ipp.errors import IppEncodeError
from mfpd.codecs.ipp.tags import DelimiterTag, Operation, StatusCode, ValueTag
from mfpd.codecs.ipp.values import (
    Attribute,
    AttributeGroup,
    Collection,
    Message,
    NameWithLanguage,
    OutOfBand,
    Range,
    Resolution,
    TextWithLanguage,
    Value,
)

__all__ = [
    "encode_attribute",
    "encode_message",
    "forget_encoded",
    "keep_encoded",
    "keep_encoded_group",
    "make_request",
    "make_response",
]

_WIRE_MAX: Final = 0x7FFF  # RFC 8010 3.1: lengths are SIGNED-SHORT
_INT_MIN: Final = -(2**31)
_INT_MAX: Final = 2**31 - 1
_END_COLLECTION: Final = b"\x37\x00\x00\x00\x00"  # endCollection, empty name and value
_NO_NAME: Final = b"\x00\x00"

# Encoded forms of token strings (keywords, URIs, charsets, languages) and attribute names
# with their length prefix: they repeat in every response. A bounded memo of a pure
# function, like the decoder's.
_TOKENS: dict[str, bytes] = {}  # the token's octets
_TOKEN_VALUES: dict[str, bytes] = {}  # value-length and the token's octets
_NAMES: dict[str, bytes] = {}  # name-length and name
_MEMBERS: dict[str, bytes] = {}  # memberAttrName tag, empty name, the member name as value
_CACHE_ENTRIES: Final = 8192

# Attributes a server sends again and again, unchanged (its printer description), encoded
# once (`keep_encoded`) and found here by the object's identity. An entry holds the
# attribute itself, so its id cannot be reused while the entry lives; bounded in entries and
# octets (when full it is emptied, and those attributes are simply encoded again).
_KEPT: dict[int, tuple[Attribute, bytes]] = {}
_KEPT_ENTRIES: Final = 4096
_KEPT_OCTETS: Final = 4 << 20
_kept_octets = 0


def _length(n: int, what: str) -> bytes:
    if n > _WIRE_MAX:
        raise IppEncodeError(f"{what} is {n} octets; the wire carries at most {_WIRE_MAX}")
    return n.to_bytes(2, "big")


def _token(value: Value) -> bytes:
    """keyword, uri, uriScheme, charset, naturalLanguage: printable US-ASCII, no spaces."""
    raw = _TOKENS.get(value) if isinstance(value, str) else None
    if raw is not None:
        return raw
    if not isinstance(value, str):
        raise IppEncodeError(f"a keyword/uri/charset/language value must be a str: {value!r}")
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise IppEncodeError(f"{value!r} is not US-ASCII") from None
    if not raw or not value.isprintable() or " " in value:
        raise IppEncodeError(f"{value!r} is empty or not a token (spaces, controls)")
    if len(_TOKENS) < _CACHE_ENTRIES and len(raw) <= 64:
        _TOKENS[value] = raw
        _TOKEN_VALUES[value] = len(raw).to_bytes(2, "big") + raw
    return raw


def _mime(value: Value) -> bytes:
    """mimeMediaType: printable US-ASCII; parameters may hold spaces (RFC 8011 5.1.10)."""
    if not isinstance(value, str):
        raise IppEncodeError(f"mimeMediaType value must be a str: {value!r}")
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise IppEncodeError(f"mimeMediaType {value!r} is not US-ASCII") from None
    if not raw or not value.isprintable():
        raise IppEncodeError(f"mimeMediaType {value!r} is empty or has control characters")
    return raw


def _utf8(value: Value) -> bytes:
    """text and name (RFC 8011 5.1.2/5.1.3): UTF-8."""
    if not isinstance(value, str):
        raise IppEncodeError(f"text/name value must be a str: {value!r}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        raise IppEncodeError(f"{value!r} cannot be encoded in UTF-8") from None


def _int(value: object) -> bytes:
    """integer and enum: 4-octet SIGNED-INTEGER (RFC 8010 3.9)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise IppEncodeError(f"integer/enum value must be an int: {value!r}")
    try:
        return value.to_bytes(4, "big", signed=True)
    except OverflowError:
        raise IppEncodeError(f"integer/enum value {value} is not a 32-bit integer") from None


def _boolean(value: Value) -> bytes:
    if not isinstance(value, bool):
        raise IppEncodeError(f"boolean value must be a bool: {value!r}")
    return b"\x01" if value else b"\x00"


def _octets(value: Value) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise IppEncodeError(f"octetString value must be bytes: {value!r}")
    return bytes(value)


def _date_time(value: Value) -> bytes:
    """RFC 2579 DateAndTime with the UTC offset (RFC 8010 3.9): local time, then offset."""
    if not isinstance(value, datetime):
        raise IppEncodeError(f"dateTime value must be a datetime: {value!r}")
    offset = value.utcoffset()
    if offset is None:
        raise IppEncodeError("dateTime needs a timezone-aware datetime")
    if offset % timedelta(minutes=1) or abs(offset) >= timedelta(hours=15):
        raise IppEncodeError(f"UTC offset {offset} is not whole minutes within 14 hours")
    minutes = int(offset.total_seconds()) // 60
    h, m = divmod(abs(minutes), 60)
    return value.year.to_bytes(2, "big") + bytes(
        (
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond // 100_000,
            0x2B if minutes >= 0 else 0x2D,  # '+' / '-'
            h,
            m,
        )
    )


def _resolution(value: Value) -> bytes:
    if not isinstance(value, Resolution):
        raise IppEncodeError(f"resolution value must be a Resolution: {value!r}")
    units = int(value.units)
    if units not in (3, 4):
        raise IppEncodeError(f"resolution units {units} are neither 3 nor 4")
    return _int(value.x) + _int(value.y) + bytes((units,))


def _range(value: Value) -> bytes:
    if not isinstance(value, Range):
        raise IppEncodeError(f"rangeOfInteger value must be a Range: {value!r}")
    return _int(value.low) + _int(value.high)


def _with_language(value: TextWithLanguage | NameWithLanguage) -> bytes:
    lang = _token(value.language)
    text = _utf8(value.text)
    return _length(len(lang), "language") + lang + _length(len(text), "text") + text


def _text_with_language(value: Value) -> bytes:
    if not isinstance(value, TextWithLanguage):
        raise IppEncodeError(f"textWithLanguage value must be a TextWithLanguage: {value!r}")
    return _with_language(value)


def _name_with_language(value: Value) -> bytes:
    if not isinstance(value, NameWithLanguage):
        raise IppEncodeError(f"nameWithLanguage value must be a NameWithLanguage: {value!r}")
    return _with_language(value)


def _out_of_band(tag: ValueTag) -> Callable[[Value], bytes]:
    def encode(value: Value) -> bytes:
        # RFC 8010 3.8: no value octets
        if not isinstance(value, OutOfBand) or value.tag is not tag:
            raise IppEncodeError(f"{tag.name.lower()} needs the value OutOfBand({tag.name})")
        return b""

    return encode


# The value octets per value tag (RFC 8010 3.9 table 7). begCollection is written by
# _encode_values; endCollection, memberAttrName and the extension tag are structure, not
# values, so an attribute cannot carry them.
_ENCODERS: Final[dict[int, Callable[[Value], bytes]]] = {
    ValueTag.INTEGER: _int,
    ValueTag.ENUM: _int,
    ValueTag.BOOLEAN: _boolean,
    ValueTag.OCTET_STRING: _octets,
    ValueTag.DATE_TIME: _date_time,
    ValueTag.RESOLUTION: _resolution,
    ValueTag.RANGE_OF_INTEGER: _range,
    ValueTag.TEXT_WITH_LANGUAGE: _text_with_language,
    ValueTag.NAME_WITH_LANGUAGE: _name_with_language,
    ValueTag.TEXT: _utf8,
    ValueTag.NAME: _utf8,
    ValueTag.KEYWORD: _token,
    ValueTag.URI: _token,
    ValueTag.URI_SCHEME: _token,
    ValueTag.CHARSET: _token,
    ValueTag.NATURAL_LANGUAGE: _token,
    ValueTag.MIME_MEDIA_TYPE: _mime,
    **{tag: _out_of_band(tag) for tag in ValueTag if tag.is_out_of_band},
}
_BEG: Final = int(ValueTag.BEG_COLLECTION)
_INT_TAGS: Final = frozenset((int(ValueTag.INTEGER), int(ValueTag.ENUM)))
_OCTET_STRING: Final = int(ValueTag.OCTET_STRING)
_TOKEN_TAGS: Final = frozenset(
    int(t)
    for t in (
        ValueTag.KEYWORD,
        ValueTag.URI,
        ValueTag.URI_SCHEME,
        ValueTag.CHARSET,
        ValueTag.NATURAL_LANGUAGE,
    )
)
_FOUR: Final = b"\x00\x04"  # value-length of an integer or enum


def _encode_value(out: bytearray, tag: int, value: Value, what: str) -> None:
    """One value after its tag and name: value-length and value (RFC 8010 3.1.4)."""
    encoder = _ENCODERS.get(tag)
    if encoder is not None:
        raw = encoder(value)
        n = len(raw)
        if n > _WIRE_MAX:
            raise IppEncodeError(f"value of {what} is {n} octets; at most {_WIRE_MAX} fit")
        out += n.to_bytes(2, "big")
        out += raw
    elif tag == _BEG:
        out += _collection_value(value, what)
    else:
        raise IppEncodeError(f"{ValueTag(tag).name} is structure, not a value tag ({what})")


def _collection_value(value: Value, what: str) -> bytes:
    """A begCollection value after its tag and name: the empty value (RFC 8010 3.1.6), the
    members, endCollection. Kept on the collection (immutable) for the next time."""
    if not isinstance(value, Collection):
        raise IppEncodeError(f"collection value of {what} must be a Collection: {value!r}")
    wire = value._wire
    if wire is None:
        out = bytearray(_NO_NAME)
        stable = _encode_members(out, value)
        out += _END_COLLECTION
        wire = bytes(out)
        if stable:
            value._wire = wire
    return wire


def _encode_values(out: bytearray, attribute: Attribute, header: bytes) -> None:
    """The values of an attribute; ``header`` (name-length and name) goes with the first
    value only, additional values have an empty name (RFC 8010 3.1.3-3.1.5)."""
    values = attribute.values
    if not values:
        raise IppEncodeError(f"attribute {attribute.name!r} has no value")
    value_tags = attribute.value_tags
    if value_tags is None:
        tag = attribute.tag
        # the frequent syntaxes first, without a call per value
        if tag in _INT_TAGS:
            for value in values:
                if type(value) is int and _INT_MIN <= value <= _INT_MAX:
                    raw = value.to_bytes(4, "big", signed=True)
                else:
                    raw = _int(value)  # an int subclass, or the reason it is refused
                out.append(tag)
                out += header
                out += _FOUR
                out += raw
                header = _NO_NAME
            return
        if tag in _TOKEN_TAGS:
            token_values = _TOKEN_VALUES
            for value in values:
                encoded = token_values.get(value) if type(value) is str else None
                if encoded is None:
                    raw = _token(value)
                    encoded = _length(len(raw), f"a value of {attribute.name!r}") + raw
                out.append(tag)
                out += header
                out += encoded
                header = _NO_NAME
            return
        if tag == _BEG:
            what = repr(attribute.name)
            for value in values:
                out.append(tag)
                out += header
                out += _collection_value(value, what)
                header = _NO_NAME
            return
        encoder = _ENCODERS.get(tag)
        if encoder is None:  # structural tags
            for value in values:
                out.append(tag)
                out += header
                header = _NO_NAME
                _encode_value(out, tag, value, repr(attribute.name))
            return
        for value in values:
            raw = encoder(value)
            n = len(raw)
            if n > _WIRE_MAX:
                raise IppEncodeError(f"a value of {attribute.name!r} is {n} octets, too long")
            out.append(tag)
            out += header
            out += n.to_bytes(2, "big")
            out += raw
            header = _NO_NAME
        return
    if len(value_tags) != len(values):
        raise IppEncodeError(f"attribute {attribute.name!r}: one value tag per value needed")
    for tag, value in zip(value_tags, values, strict=True):
        out.append(tag)
        out += header
        header = _NO_NAME
        _encode_value(out, tag, value, repr(attribute.name))


def _immutable(attribute: Attribute) -> bool:
    """Whether the octets of ``attribute`` can be kept: every value is immutable. The types
    of `Value` are, but the encoder also takes a bytearray for an octetString; collections
    whose encoding was not kept hold one somewhere."""
    tag = attribute.tag
    if attribute.value_tags is None and tag != _OCTET_STRING and tag != _BEG:
        return True
    return not any(
        isinstance(v, bytearray) or (isinstance(v, Collection) and v._wire is None)
        for v in attribute.values
    )


def _encode_members(out: bytearray, collection: Collection) -> bool:
    """The members of a collection; whether all their values are immutable."""
    # RFC 8010 3.1.7: memberAttrName (empty name, the member name as value), then the
    # member's values, each with an empty name.
    stable = True
    for member in collection.members:
        prefix = _MEMBERS.get(member.name)
        if prefix is None:
            prefix = bytes((ValueTag.MEMBER_ATTR_NAME,)) + _NO_NAME + _name_header(member.name)
            if len(_MEMBERS) < _CACHE_ENTRIES and len(prefix) <= 70:
                _MEMBERS[member.name] = prefix
        out += prefix
        _encode_values(out, member, _NO_NAME)
        if stable:
            tag = member.tag
            if tag == _BEG and member.value_tags is None:
                # a member collection kept its octets exactly when it is immutable
                for v in member.values:
                    if v._wire is None:  # type: ignore[union-attr]
                        stable = False
            elif tag == _OCTET_STRING or member.value_tags is not None:
                stable = _immutable(member)
    return stable


def _name_header(name: str) -> bytes:
    """name-length and name (RFC 8010 3.6-3.7): a keyword, printable US-ASCII."""
    header = _NAMES.get(name)
    if header is not None:
        return header
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raise IppEncodeError(f"attribute name {name!r} is not US-ASCII") from None
    if not raw or not name.isprintable() or " " in name:
        raise IppEncodeError(f"attribute name {name!r} is empty or not a token")
    header = _length(len(raw), "attribute name") + raw
    if len(_NAMES) < _CACHE_ENTRIES and len(raw) <= 64:
        _NAMES[name] = header
    return header


def encode_attribute(attribute: Attribute) -> bytes:
    """One attribute with all its values, as it appears inside a group."""
    entry = _KEPT.get(id(attribute))
    if entry is not None and entry[0] is attribute:
        return entry[1]
    out = bytearray()
    _encode_values(out, attribute, _name_header(attribute.name))
    return bytes(out)


def keep_encoded(attributes: Iterable[Attribute]) -> None:
    """Encode ``attributes`` now and keep their octets: `encode_message` then copies them
    whenever these very objects are sent again. For attributes that do not change, such as
    a printer's description; an attribute holding a bytearray is encoded every time. Raises
    IppEncodeError as `encode_message` would."""
    global _kept_octets
    for attribute in attributes:
        if id(attribute) in _KEPT:
            continue
        out = bytearray()
        _encode_values(out, attribute, _name_header(attribute.name))
        if not _immutable(attribute):
            continue
        if len(_KEPT) >= _KEPT_ENTRIES or _kept_octets + len(out) > _KEPT_OCTETS:
            _KEPT.clear()
            _kept_octets = 0
        _KEPT[id(attribute)] = (attribute, bytes(out))
        _kept_octets += len(out)


def forget_encoded(attributes: Iterable[Attribute]) -> None:
    """Let go of the octets `keep_encoded` kept for ``attributes`` (they are being replaced,
    and would otherwise hold their place until the store is emptied)."""
    global _kept_octets
    for attribute in attributes:
        entry = _KEPT.get(id(attribute))
        if entry is not None and entry[0] is attribute:
            del _KEPT[id(attribute)]
            _kept_octets -= len(entry[1])


def keep_encoded_group(group: AttributeGroup) -> None:
    """Encode ``group`` now and keep its octets on it, when every value is immutable:
    `encode_message` then copies them whenever this very group is sent again (a printer's
    answer to the same Get-Printer-Attributes). Raises IppEncodeError as `encode_message`
    would."""
    if group._wire is not None:
        return
    out = bytearray()
    if _encode_group(out, group, stable_only=True):
        object.__setattr__(group, "_wire", bytes(out))


def _encode_group(out: bytearray, group: AttributeGroup, stable_only: bool = False) -> bool:
    """The group's tag and attributes, kept octets where there are; with ``stable_only``,
    stops (False) at the first attribute whose octets could not be kept."""
    if group.tag is DelimiterTag.END:
        raise IppEncodeError("end-of-attributes is not a group tag")
    out.append(group.tag)
    kept = _KEPT
    for attribute in group.attributes:
        entry = kept.get(id(attribute))
        if entry is not None and entry[0] is attribute:
            out += entry[1]
            continue
        _encode_values(out, attribute, _name_header(attribute.name))
        if stable_only and not _immutable(attribute):
            return False
    return True


def encode_message(message: Message) -> bytes:
    """The application/ipp octets of ``message`` (RFC 8010 3.1.1), without document data."""
    major, minor = message.version
    if not (0 <= major <= 255 and 0 <= minor <= 255):
        raise IppEncodeError(f"version {message.version} does not fit two octets")
    if not 0 <= message.code <= 0xFFFF:
        raise IppEncodeError(f"operation-id/status-code {message.code} does not fit 16 bits")
    if not _INT_MIN <= message.request_id <= _INT_MAX:
        raise IppEncodeError(f"request-id {message.request_id} is not a 32-bit integer")
    out = bytearray((major, minor))
    out += message.code.to_bytes(2, "big")
    out += message.request_id.to_bytes(4, "big", signed=True)
    for group in message.groups:
        wire = group._wire
        if wire is not None:
            out += wire
        else:
            _encode_group(out, group)
    out.append(DelimiterTag.END)
    return bytes(out)


def _operation_group(
    charset: str,
    natural_language: str,
    first: Iterable[Attribute],
    rest: Iterable[Attribute],
) -> AttributeGroup:
    # RFC 8011 4.1.4: attributes-charset then attributes-natural-language come first in
    # the operation attributes of every request and response.
    return AttributeGroup(
        DelimiterTag.OPERATION,
        (
            Attribute("attributes-charset", ValueTag.CHARSET, (charset,)),
            Attribute(
                "attributes-natural-language", ValueTag.NATURAL_LANGUAGE, (natural_language,)
            ),
            *first,
            *rest,
        ),
    )


def make_request(
    operation: Operation | int,
    request_id: int,
    operation_attributes: Iterable[Attribute] = (),
    *,
    groups: Iterable[AttributeGroup] = (),
    version: tuple[int, int] = (2, 0),
    charset: str = "utf-8",
    natural_language: str = "en",
) -> Message:
    """A request whose operation group starts with charset and natural language."""
    op_group = _operation_group(charset, natural_language, (), operation_attributes)
    return Message(version, int(operation), request_id, (op_group, *groups))


def make_response(
    status: StatusCode | int,
    request_id: int,
    operation_attributes: Iterable[Attribute] = (),
    *,
    groups: Iterable[AttributeGroup] = (),
    status_message: str | None = None,
    version: tuple[int, int] = (2, 0),
    charset: str = "utf-8",
    natural_language: str = "en",
) -> Message:
    """A response: charset, natural language, then ``status-message`` if given (RFC 8011
    4.1.6.2), then ``operation_attributes``; ``groups`` follow the operation group."""
    first = (
        ()
        if status_message is None
        else (Attribute("status-message", ValueTag.TEXT, (status_message,)),)
    )
    op_group = _operation_group(charset, natural_language, first, operation_attributes)
    return Message(version, int(status), request_id, (op_group, *groups))
