"""Encoding IPP messages (RFC 8010 section 3), and builders for requests and responses.

`encode_message` writes exactly the form `decode_message` reads, so
``decode_message(encode_message(m))[0] == m`` for every message the encoder accepts. It
refuses (`IppEncodeError`) a value whose Python type does not fit its tag, strings that are
not US-ASCII where the syntax is (keyword, uri, ...), lengths the wire cannot carry (32767
octets), an attribute without values and naive datetimes. It does not apply the RFC's
per-syntax maxima (that is `Limits`, on the receiving side).
"""

from __future__ import annotations

from collections.abc import Iterable
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
    "make_request",
    "make_response",
]

_WIRE_MAX: Final = 0x7FFF  # RFC 8010 3.1: lengths are SIGNED-SHORT
_INT_MIN: Final = -(2**31)
_INT_MAX: Final = 2**31 - 1
_ASCII_TAGS: Final = frozenset(
    {
        ValueTag.KEYWORD,
        ValueTag.URI,
        ValueTag.URI_SCHEME,
        ValueTag.CHARSET,
        ValueTag.NATURAL_LANGUAGE,
        ValueTag.MIME_MEDIA_TYPE,
    }
)
_STRUCTURAL: Final = frozenset(
    {ValueTag.END_COLLECTION, ValueTag.MEMBER_ATTR_NAME, ValueTag.EXTENSION}
)
_END_COLLECTION: Final = b"\x37\x00\x00\x00\x00"  # endCollection, empty name and value


def _length(n: int, what: str) -> bytes:
    if n > _WIRE_MAX:
        raise IppEncodeError(f"{what} is {n} octets; the wire carries at most {_WIRE_MAX}")
    return n.to_bytes(2, "big")


def _ascii(s: str, tag: ValueTag) -> bytes:
    try:
        raw = s.encode("ascii")
    except UnicodeEncodeError:
        raise IppEncodeError(f"{tag.name.lower()} value {s!r} is not US-ASCII") from None
    if not raw or not s.isprintable() or (" " in s and tag is not ValueTag.MIME_MEDIA_TYPE):
        raise IppEncodeError(f"{tag.name.lower()} value {s!r} is empty or not a token")
    return raw


def _utf8(s: str) -> bytes:
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        raise IppEncodeError(f"{s!r} cannot be encoded in UTF-8") from None


def _int(value: Value, tag: ValueTag) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise IppEncodeError(f"{tag.name.lower()} value must be an int, not {value!r}")
    if not _INT_MIN <= value <= _INT_MAX:
        raise IppEncodeError(f"{tag.name.lower()} value {value} is not a 32-bit integer")
    return value.to_bytes(4, "big", signed=True)


def _date_time(value: datetime) -> bytes:
    # RFC 2579 DateAndTime with the UTC offset (RFC 8010 3.9): local time, then the offset.
    offset = value.utcoffset()
    if offset is None:
        raise IppEncodeError("dateTime needs a timezone-aware datetime")
    if offset % timedelta(minutes=1) or abs(offset) >= timedelta(hours=15):
        raise IppEncodeError(f"UTC offset {offset} is not whole minutes within 14 hours")
    minutes = int(offset.total_seconds()) // 60
    sign = b"+" if minutes >= 0 else b"-"
    h, m = divmod(abs(minutes), 60)
    return (
        value.year.to_bytes(2, "big")
        + bytes(
            (
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond // 100_000,
            )
        )
        + sign
        + bytes((h, m))
    )


def _value_bytes(tag: ValueTag, value: Value) -> bytes:
    """The value octets of one non-collection value (RFC 8010 3.9 table 7)."""
    if tag in _ASCII_TAGS:
        if not isinstance(value, str):
            raise IppEncodeError(f"{tag.name.lower()} value must be a str, not {value!r}")
        return _ascii(value, tag)
    if tag is ValueTag.TEXT or tag is ValueTag.NAME:
        if not isinstance(value, str):
            raise IppEncodeError(f"{tag.name.lower()} value must be a str, not {value!r}")
        return _utf8(value)
    if tag is ValueTag.INTEGER or tag is ValueTag.ENUM:
        return _int(value, tag)
    if tag is ValueTag.BOOLEAN:
        if not isinstance(value, bool):
            raise IppEncodeError(f"boolean value must be a bool, not {value!r}")
        return b"\x01" if value else b"\x00"
    if tag.is_out_of_band:
        if not isinstance(value, OutOfBand) or value.tag is not tag:
            raise IppEncodeError(f"{tag.name.lower()} needs the value OutOfBand({tag.name})")
        return b""
    if tag is ValueTag.OCTET_STRING:
        if not isinstance(value, bytes | bytearray):
            raise IppEncodeError(f"octetString value must be bytes, not {value!r}")
        return bytes(value)
    if tag is ValueTag.DATE_TIME:
        if not isinstance(value, datetime):
            raise IppEncodeError(f"dateTime value must be a datetime, not {value!r}")
        return _date_time(value)
    if tag is ValueTag.RESOLUTION:
        if not isinstance(value, Resolution):
            raise IppEncodeError(f"resolution value must be a Resolution, not {value!r}")
        units = int(value.units)
        if units not in (3, 4):
            raise IppEncodeError(f"resolution units {units} are neither 3 nor 4")
        return _int(value.x, tag) + _int(value.y, tag) + bytes((units,))
    if tag is ValueTag.RANGE_OF_INTEGER:
        if not isinstance(value, Range):
            raise IppEncodeError(f"rangeOfInteger value must be a Range, not {value!r}")
        return _int(value.low, tag) + _int(value.high, tag)
    if tag is ValueTag.TEXT_WITH_LANGUAGE or tag is ValueTag.NAME_WITH_LANGUAGE:
        cls = TextWithLanguage if tag is ValueTag.TEXT_WITH_LANGUAGE else NameWithLanguage
        if not isinstance(value, cls):
            raise IppEncodeError(f"{tag.name.lower()} value must be a {cls.__name__}")
        lang = _ascii(value.language, ValueTag.NATURAL_LANGUAGE)
        text = _utf8(value.text)
        return _length(len(lang), "language") + lang + _length(len(text), "text") + text
    if tag in _STRUCTURAL or tag is ValueTag.BEG_COLLECTION:
        raise IppEncodeError(f"{tag.name} is structural, not a value tag of its own")
    raise IppEncodeError(f"cannot encode value tag {tag!r}")  # pragma: no cover


def _encode_values(out: bytearray, attribute: Attribute, name: bytes) -> None:
    """The values of an attribute; ``name`` goes with the first value only (RFC 8010 3.1.3)."""
    if not attribute.values:
        raise IppEncodeError(f"attribute {attribute.name!r} has no value")
    if attribute.value_tags is not None and len(attribute.value_tags) != len(attribute.values):
        raise IppEncodeError(f"attribute {attribute.name!r}: one value tag per value needed")
    header = _length(len(name), "attribute name") + name
    for tag, value in attribute.tagged():
        out.append(tag)
        out += header
        header = b"\x00\x00"  # additional values have an empty name (RFC 8010 3.1.5)
        if tag is ValueTag.BEG_COLLECTION:
            if not isinstance(value, Collection):
                raise IppEncodeError(f"collection value must be a Collection, not {value!r}")
            out += b"\x00\x00"  # begCollection has an empty value (RFC 8010 3.1.6)
            _encode_members(out, value)
            out += _END_COLLECTION
        else:
            raw = _value_bytes(tag, value)
            out += _length(len(raw), f"value of {attribute.name!r}")
            out += raw


def _encode_members(out: bytearray, collection: Collection) -> None:
    # RFC 8010 3.1.7: memberAttrName (empty name, the member name as value), then the
    # member's values, each with an empty name.
    for member in collection.members:
        name = _name(member.name)
        out.append(ValueTag.MEMBER_ATTR_NAME)
        out += b"\x00\x00"
        out += _length(len(name), "member name")
        out += name
        _encode_values(out, member, b"")


def _name(name: str) -> bytes:
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raise IppEncodeError(f"attribute name {name!r} is not US-ASCII") from None
    if not raw or not name.isprintable() or " " in name:
        raise IppEncodeError(f"attribute name {name!r} is empty or not a token")
    return raw


def encode_attribute(attribute: Attribute) -> bytes:
    """One attribute with all its values, as it appears inside a group."""
    out = bytearray()
    _encode_values(out, attribute, _name(attribute.name))
    return bytes(out)


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
        if group.tag is DelimiterTag.END:
            raise IppEncodeError("end-of-attributes is not a group tag")
        out.append(group.tag)
        for attribute in group.attributes:
            _encode_values(out, attribute, _name(attribute.name))
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
