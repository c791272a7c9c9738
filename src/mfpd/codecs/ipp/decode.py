"""Decoding application/ipp messages (RFC 8010 section 3), sans-I/O.

Two entry points:

* `decode_message(data)` for a body already in memory: returns the `Message` and the offset
  of the first document octet (RFC 8010 3.10: a request's document data follows the
  end-of-attributes tag).
* `MessageParser` for a body that arrives in pieces: ``feed()`` returns the `Message` as soon
  as the end-of-attributes tag is in, and ``remaining`` then holds the document octets that
  came with that last piece. The document itself is never buffered here, so the server can
  stream it to the spool.

Both validate strictly and raise only `IppDecodeError`, whose ``status`` is the IPP status
the server should answer with. What is checked (RFC 8010 sections 3.1-3.9):

* structure: 8-octet header, at least one group before any attribute, additional values
  (name-length 0) only after a named attribute, the end-of-attributes tag present, reserved
  delimiter and value tags refused (0x7F extension included), SIGNED-SHORT lengths not
  negative and inside the message;
* value lengths per syntax (RFC 8010 3.9): integer and enum 4, boolean 1 (0 or 1 only),
  dateTime 11 (RFC 2579 fields in range), resolution 9 (units 3 or 4), rangeOfInteger 8,
  out-of-band 0, textWithLanguage/nameWithLanguage sub-lengths adding up exactly;
* strings: text and name UTF-8; keyword, uri, uriScheme, charset, naturalLanguage,
  memberAttrName and attribute names printable US-ASCII without spaces; mimeMediaType
  printable US-ASCII (parameters may hold spaces);
* collections (RFC 8010 3.1.6-3.1.7): begCollection and endCollection with empty values,
  members introduced by memberAttrName with an empty name, every member with a value, no
  duplicate member, nesting bounded;
* the configurable `Limits` (sizes, counts, depth, per-syntax maximum lengths), and no
  attribute twice in one group (a repeated attribute makes a request ambiguous; it is
  answered with client-error-bad-request unless `Limits.reject_duplicates` is off).

Value semantics are the server's: a rangeOfInteger with low > high, an unknown enum value,
a request-id of 0 or an unsupported version all decode; the server answers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from mfpd.codecs.ipp.errors import IppDecodeError
from mfpd.codecs.ipp.tags import DelimiterTag, ResolutionUnits, StatusCode, ValueTag
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
    fast_attribute,
)

__all__ = ["WIRE_MAX_LENGTH", "Limits", "MessageParser", "decode_message"]

# RFC 8010 3.1: name-length and value-length are SIGNED-SHORT, so 32767 is the most any
# length field can say.
WIRE_MAX_LENGTH: Final = 0x7FFF

_BAD = StatusCode.CLIENT_ERROR_BAD_REQUEST
_TOO_LONG = StatusCode.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG
_TOO_LARGE = StatusCode.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE


@dataclass(frozen=True, slots=True)
class Limits:
    """What a decoder accepts. The defaults are the maxima of RFC 8010 section 3.9 / RFC 8011
    5.1 per syntax, and sizes generous for any real request; `lenient()` raises the string
    maxima to what the wire can carry, for clients that exceed the RFC."""

    max_message_bytes: int = 1 << 20  # the attribute part: header to end-of-attributes
    max_attributes: int = 4096  # attributes and collection members in one message
    max_values: int = 1024  # values of one attribute (1setOf) or member
    max_groups: int = 1024  # attribute groups in one message
    max_depth: int = 10  # collection nesting (a collection in a collection is depth 2)
    max_attribute_name: int = 255  # attribute names and memberAttrName: keywords (5.1.4)
    max_text: int = 1023  # text(MAX), RFC 8011 5.1.2
    max_name: int = 255  # name(MAX), RFC 8011 5.1.3
    max_keyword: int = 255  # RFC 8011 5.1.4
    max_uri: int = 1023  # RFC 8011 5.1.6
    max_uri_scheme: int = 63  # RFC 8011 5.1.7
    max_charset: int = 63  # RFC 8011 5.1.8
    max_natural_language: int = 63  # RFC 8011 5.1.9
    max_mime_media_type: int = 255  # RFC 8011 5.1.10
    max_octet_string: int = 1023  # octetString(MAX), RFC 8011 5.1.11
    reject_duplicates: bool = True  # the same attribute twice in one group
    _by_tag: tuple[int, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # maximum value length per value tag, indexed by the tag octet (the wire maximum for
        # syntaxes whose length is fixed or checked elsewhere)
        by_tag = [WIRE_MAX_LENGTH] * 256
        for tag, limit in {
            ValueTag.TEXT_WITHOUT_LANGUAGE: self.max_text,
            ValueTag.NAME_WITHOUT_LANGUAGE: self.max_name,
            ValueTag.KEYWORD: self.max_keyword,
            ValueTag.URI: self.max_uri,
            ValueTag.URI_SCHEME: self.max_uri_scheme,
            ValueTag.CHARSET: self.max_charset,
            ValueTag.NATURAL_LANGUAGE: self.max_natural_language,
            ValueTag.MIME_MEDIA_TYPE: self.max_mime_media_type,
            ValueTag.OCTET_STRING: self.max_octet_string,
        }.items():
            # never above the wire maximum: the decoder relies on it to refuse the
            # "negative" SIGNED-SHORT lengths 0x8000-0xFFFF
            by_tag[tag] = min(limit, WIRE_MAX_LENGTH)
        object.__setattr__(self, "_by_tag", tuple(by_tag))

    @classmethod
    def lenient(cls, **overrides: int | bool) -> Limits:
        """Limits whose string maxima are the wire maximum (32767 octets)."""
        wide: dict[str, int | bool] = {
            name: WIRE_MAX_LENGTH
            for name in (
                "max_attribute_name",
                "max_text",
                "max_name",
                "max_keyword",
                "max_uri",
                "max_uri_scheme",
                "max_charset",
                "max_natural_language",
                "max_mime_media_type",
                "max_octet_string",
            )
        }
        wide.update(overrides)
        return cls(**wide)  # type: ignore[arg-type]


_DEFAULT_LIMITS: Final = Limits()

_GROUP_TAGS: Final[dict[int, DelimiterTag]] = {
    t.value: t for t in DelimiterTag if t is not DelimiterTag.END
}
_VALUE_TAGS: Final[dict[int, ValueTag]] = {t.value: t for t in ValueTag}
_OUT_OF_BAND: Final[dict[int, OutOfBand]] = {
    t.value: OutOfBand(t) for t in ValueTag if t.is_out_of_band
}
# Character-string syntaxes that are US-ASCII (RFC 8011 5.1.4-5.1.10); the value must not be
# empty. mimeMediaType may contain spaces (parameters), the others are single tokens.
_TOKEN_TAGS: Final = frozenset(
    {
        ValueTag.KEYWORD,
        ValueTag.URI,
        ValueTag.URI_SCHEME,
        ValueTag.CHARSET,
        ValueTag.NATURAL_LANGUAGE,
    }
)
_BEG: Final = 0x34
_END_COLL: Final = 0x37
_MEMBER: Final = 0x4A
_END: Final = 0x03
_PLUS: Final = 0x2B
_MINUS: Final = 0x2D

_TIMEZONES: dict[int, timezone] = {}  # offset in minutes -> tzinfo (bounded: |offset| < 15 h)

# Attribute names and token values (keywords, charsets, languages, URIs) repeat from one
# request to the next: validated ones are remembered, so most are a dict lookup instead of
# decode-and-check. A pure memo of a function of the bytes, bounded in entry size and count,
# so it holds no state a caller could see and no peer can grow it without limit.
_TOKENS: dict[bytes, str] = {}
_TOKEN_CACHE_ENTRIES: Final = 8192
_TOKEN_CACHE_LENGTH: Final = 64

# Tags as plain ints for the hot loop (comparing with enum members is slower).
_KEYWORD: Final = 0x44
_NATURAL_LANGUAGE: Final = 0x48
_TEXT: Final = 0x41
_NAME: Final = 0x42
_INTEGER: Final = 0x21
_ENUM: Final = 0x23


def _timezone(minutes: int) -> timezone:
    tz = _TIMEZONES.get(minutes)
    if tz is None:
        tz = UTC if minutes == 0 else timezone(timedelta(minutes=minutes))
        _TIMEZONES[minutes] = tz
    return tz


def _token(raw: bytes) -> str | None:
    """``raw`` as a printable US-ASCII token without spaces, or None."""
    try:
        s = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    # isprintable() refuses the control characters (and DEL); spaces are refused apart.
    if not s or not s.isprintable() or " " in s:
        return None
    if len(raw) <= _TOKEN_CACHE_LENGTH and len(_TOKENS) < _TOKEN_CACHE_ENTRIES:
        _TOKENS[raw] = s
    return s


class _Decoder:
    """One decoding pass over the attribute part of a message."""

    __slots__ = ("attributes", "data", "limits", "max_len", "n")

    def __init__(self, data: bytes, limits: Limits) -> None:
        self.data = data
        self.n = len(data)
        self.limits = limits
        self.max_len = limits._by_tag
        self.attributes = 0  # attributes and members so far

    def fail(self, message: str, offset: int, status: StatusCode = _BAD) -> IppDecodeError:
        return IppDecodeError(message, status, offset)

    def truncated(self, offset: int) -> IppDecodeError:
        if self.n >= self.limits.max_message_bytes:
            return self.fail(
                f"attribute part longer than {self.limits.max_message_bytes} octets",
                offset,
                _TOO_LARGE,
            )
        return self.fail("message ends inside the attribute part", offset)

    def too_many_attributes(self, offset: int) -> IppDecodeError:
        return self.fail(f"more than {self.limits.max_attributes} attributes", offset, _TOO_LARGE)

    def name(self, start: int, end: int) -> str:
        """An attribute or member name (RFC 8010 3.7): a keyword, printable ASCII."""
        if end - start > self.limits.max_attribute_name:
            raise self.fail("attribute name too long", start, _TOO_LONG)
        raw = self.data[start:end]
        s = _TOKENS.get(raw)
        if s is None:
            s = _token(raw)
            if s is None:
                raise self.fail("attribute name is not printable US-ASCII without spaces", start)
        return s

    def message(self) -> tuple[Message, int]:
        # The hot loop: one pass, locals only, the frequent syntaxes inline. Negative
        # (>= 0x8000) lengths are caught by the length limits, which never exceed 0x7FFF.
        data = self.data
        n = self.n
        limits = self.limits
        if n < 9:
            raise self.truncated(n)
        version = (data[0], data[1])
        code = (data[2] << 8) | data[3]
        request_id = int.from_bytes(data[4:8], "big", signed=True)

        groups: list[AttributeGroup] = []
        group_tag: DelimiterTag | None = None
        attrs: list[Attribute] = []
        seen: set[str] = set()
        # the attribute being read: its values may continue with additional values
        name: str | None = None
        atag = 0
        values: list[Value] = []
        vtags: list[int] | None = None
        count = 0
        max_values = limits.max_values
        max_attributes = limits.max_attributes
        max_name = min(limits.max_attribute_name, WIRE_MAX_LENGTH)
        reject_duplicates = limits.reject_duplicates
        max_len = self.max_len
        tokens = _TOKENS
        value = self.value
        new_attribute = _new_attribute
        pos = 8
        v: Value
        # Reading past the end raises IndexError: that is the truncation check for every
        # header field (slices do not raise, so value ends are checked explicitly).
        try:
            while True:
                tag = data[pos]
                if tag < 0x10:  # RFC 8010 3.5.1: a delimiter tag ends the attribute and group
                    if name is not None:
                        attrs.append(new_attribute(name, atag, values, vtags))
                        name = None
                    if group_tag is not None:
                        groups.append(AttributeGroup(group_tag, tuple(attrs)))
                    pos += 1
                    if tag == _END:
                        break
                    group_tag = _GROUP_TAGS.get(tag)
                    if group_tag is None:
                        raise self.fail(f"reserved delimiter tag 0x{tag:02x}", pos - 1)
                    if len(groups) >= limits.max_groups:
                        raise self.fail(
                            f"more than {limits.max_groups} groups", pos - 1, _TOO_LARGE
                        )
                    attrs = []
                    seen = set()
                    continue
                nlen = (data[pos + 1] << 8) | data[pos + 2]
                p = pos + 3
                if nlen:
                    q = p + nlen
                    if nlen > max_name:
                        if nlen & 0x8000:
                            raise self.fail("negative name-length", pos + 1)
                        raise self.fail("attribute name too long", p, _TOO_LONG)
                    new_name = tokens.get(data[p:q]) or self.name(p, q)
                    if group_tag is None:
                        raise self.fail("attribute before the first attribute group", pos)
                    if name is not None:
                        attrs.append(new_attribute(name, atag, values, vtags))
                    if new_name in seen and reject_duplicates:
                        raise self.fail(f"attribute {new_name!r} twice in one group", p)
                    seen.add(new_name)
                    count += 1
                    if count > max_attributes:
                        raise self.too_many_attributes(pos)
                    name = new_name
                    atag = tag
                    values = []
                    vtags = None
                    p = q
                else:  # RFC 8010 3.1.5: an additional value of the attribute before
                    if name is None:
                        if group_tag is None:
                            raise self.fail("attribute before the first attribute group", pos)
                        raise self.fail("additional value without an attribute", pos)
                    if len(values) >= max_values:
                        raise self.fail(
                            f"more than {max_values} values in {name!r}", pos, _TOO_LARGE
                        )
                    if vtags is None and tag != atag:
                        vtags = [atag] * len(values)
                vlen = (data[p] << 8) | data[p + 1]
                p += 2
                end = p + vlen
                if end > n:
                    raise self.truncated(p)
                # the frequent syntaxes inline, the others (and every error) in value()
                if _KEYWORD <= tag <= _NATURAL_LANGUAGE and vlen <= max_len[tag]:
                    v = tokens.get(data[p:end]) or value(tag, p, end)
                elif (tag in (_INTEGER, _ENUM)) and vlen == 4:
                    v = int.from_bytes(data[p:end], "big", signed=True)
                elif (tag in (_NAME, _TEXT)) and vlen <= max_len[tag]:
                    try:
                        v = data[p:end].decode("utf-8")
                    except UnicodeDecodeError:
                        raise self.fail("text or name is not UTF-8", p) from None
                elif tag == _BEG and not vlen:
                    self.attributes = count
                    v, end = self.collection(end, 1)
                    count = self.attributes
                else:
                    v = value(tag, p, end)
                values.append(v)
                if vtags is not None:
                    vtags.append(tag)
                pos = end
        except IndexError:
            raise self.truncated(pos) from None
        return Message(version, code, request_id, tuple(groups)), pos

    def collection(self, pos: int, depth: int) -> tuple[Collection, int]:
        """The members of a collection value, up to its endCollection (RFC 8010 3.1.6)."""
        if depth > self.limits.max_depth:
            raise self.fail(
                f"collections nested deeper than {self.limits.max_depth}", pos, _TOO_LARGE
            )
        data = self.data
        n = self.n
        max_values = self.limits.max_values
        max_attributes = self.limits.max_attributes
        max_len = self.max_len
        tokens = _TOKENS
        value = self.value
        members: list[Attribute] = []
        index: dict[str, Attribute] = {}
        name: str | None = None
        mtag = 0
        values: list[Value] = []
        vtags: list[int] | None = None
        v: Value
        while True:  # truncation: IndexError, turned into IppDecodeError by message()
            tag = data[pos]
            if tag < 0x10:
                raise self.fail("collection not ended by endCollection", pos)
            # RFC 8010 3.1.6-3.1.7: inside a collection every name-length is 0; the member
            # name travels as the value of a memberAttrName.
            if data[pos + 1] or data[pos + 2]:
                raise self.fail("named attribute inside a collection", pos + 1)
            vlen = (data[pos + 3] << 8) | data[pos + 4]
            if vlen & 0x8000:
                raise self.fail("negative value-length", pos + 3)
            p = pos + 5
            end = p + vlen
            if end > n:
                raise self.truncated(p)
            if tag in (_MEMBER, _END_COLL):
                if name is not None:
                    if not values:
                        raise self.fail(f"member {name!r} has no value", pos)
                    member = _new_attribute(name, mtag, values, vtags)
                    members.append(member)
                    index[name] = member
                    name = None
                if tag == _END_COLL:
                    if vlen:
                        raise self.fail("endCollection with a value", p)
                    return Collection._trusted(tuple(members), index), end
                if not vlen:
                    raise self.fail("empty memberAttrName", p)
                new_name = tokens.get(data[p:end])
                if new_name is None or vlen > self.limits.max_attribute_name:
                    new_name = self.name(p, end)
                if new_name in index:
                    raise self.fail(f"member {new_name!r} twice in one collection", p)
                self.attributes += 1
                if self.attributes > max_attributes:
                    raise self.too_many_attributes(pos)
                name = new_name
                values = []
                vtags = None
                pos = end
                continue
            if name is None:
                raise self.fail("collection value without a memberAttrName", pos)
            if not values:
                mtag = tag
            else:
                if len(values) >= max_values:
                    raise self.fail(f"more than {max_values} values in {name!r}", pos, _TOO_LARGE)
                if vtags is None and tag != mtag:
                    vtags = [mtag] * len(values)
            if _KEYWORD <= tag <= _NATURAL_LANGUAGE and vlen <= max_len[tag]:
                cached = tokens.get(data[p:end])
                v = value(tag, p, end) if cached is None else cached
            elif (tag in (_INTEGER, _ENUM)) and vlen == 4:
                v = int.from_bytes(data[p:end], "big", signed=True)
            elif tag == _BEG:
                if vlen:
                    raise self.fail("begCollection with a value", p)
                v, end = self.collection(end, depth + 1)
            else:
                v = value(tag, p, end)
            values.append(v)
            if vtags is not None:
                vtags.append(tag)
            pos = end

    def value(self, tag: int, p: int, end: int) -> Value:
        """One value of a non-collection tag (RFC 8010 3.9 table 7)."""
        data = self.data
        vlen = end - p
        if vlen & 0x8000:
            raise self.fail("negative value-length", p - 2)
        if tag == _BEG:
            raise self.fail("begCollection with a value", p)
        max_len = self.max_len[tag]
        if vlen > max_len:
            raise self.fail(
                f"{_VALUE_TAGS[tag].name.lower()} value longer than {max_len} octets",
                p,
                _TOO_LONG,
            )
        # most frequent first: keyword, name/text, integer/enum, other ASCII strings
        if tag == ValueTag.KEYWORD:
            return self.ascii(tag, p, end)
        if tag == ValueTag.NAME or tag == ValueTag.TEXT:
            try:
                return data[p:end].decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail("text or name is not UTF-8", p) from None
        if tag == ValueTag.INTEGER or tag == ValueTag.ENUM:
            if vlen != 4:
                raise self.fail("integer or enum value is not 4 octets", p)
            return int.from_bytes(data[p:end], "big", signed=True)
        if 0x45 <= tag <= 0x49:  # uri, uriScheme, charset, naturalLanguage, mimeMediaType
            return self.ascii(tag, p, end)
        if tag == ValueTag.BOOLEAN:
            if vlen != 1 or data[p] > 1:
                raise self.fail("boolean value is not one octet 0 or 1", p)
            return data[p] == 1
        oob = _OUT_OF_BAND.get(tag)
        if oob is not None:
            # RFC 8010 3.8: an out-of-band value has no value octets
            if vlen:
                raise self.fail("out-of-band value with value octets", p)
            return oob
        if tag == ValueTag.OCTET_STRING:
            return data[p:end]
        if tag == ValueTag.DATE_TIME:
            return self.date_time(p, vlen)
        if tag == ValueTag.RESOLUTION:
            if vlen != 9:
                raise self.fail("resolution value is not 9 octets", p)
            units = data[p + 8]
            if units != 3 and units != 4:
                raise self.fail("resolution units neither 3 (dpi) nor 4 (dpcm)", p + 8)
            return Resolution(
                int.from_bytes(data[p : p + 4], "big", signed=True),
                int.from_bytes(data[p + 4 : p + 8], "big", signed=True),
                ResolutionUnits(units),
            )
        if tag == ValueTag.RANGE_OF_INTEGER:
            if vlen != 8:
                raise self.fail("rangeOfInteger value is not 8 octets", p)
            return Range(
                int.from_bytes(data[p : p + 4], "big", signed=True),
                int.from_bytes(data[p + 4 : end], "big", signed=True),
            )
        if tag == ValueTag.TEXT_WITH_LANGUAGE or tag == ValueTag.NAME_WITH_LANGUAGE:
            return self.with_language(tag, p, end)
        if tag == _END_COLL:
            raise self.fail("endCollection outside a collection", p)
        if tag == _MEMBER:
            raise self.fail("memberAttrName outside a collection", p)
        if tag == ValueTag.EXTENSION:
            raise self.fail("extension value tag 0x7f is not supported", p)
        raise self.fail(f"reserved value tag 0x{tag:02x}", p)

    def ascii(self, tag: int, p: int, end: int) -> str:
        """A US-ASCII string syntax (RFC 8011 5.1.4-5.1.10): not empty, printable."""
        if end == p:
            raise self.fail(f"empty {_VALUE_TAGS[tag].name.lower()} value", p)
        raw = self.data[p:end]
        if tag == ValueTag.MIME_MEDIA_TYPE:
            # RFC 8011 5.1.10: parameters may contain spaces, so not a token
            try:
                s = raw.decode("ascii")
            except UnicodeDecodeError:
                raise self.fail("mimeMediaType value is not US-ASCII", p) from None
            if not s.isprintable():
                raise self.fail("mimeMediaType value has control characters", p)
            return s
        token = _TOKENS.get(raw) or _token(raw)
        if token is None:
            raise self.fail(
                f"{_VALUE_TAGS[tag].name.lower()} value is not printable US-ASCII without spaces",
                p,
            )
        return token

    def date_time(self, p: int, vlen: int) -> datetime:
        """RFC 2579 DateAndTime, the 11-octet form with the UTC offset (RFC 8010 3.9)."""
        if vlen != 11:
            raise self.fail("dateTime value is not 11 octets", p)
        d = self.data
        year = (d[p] << 8) | d[p + 1]
        month, day, hour, minute, second, decis = d[p + 2 : p + 8]
        direction, off_h, off_m = d[p + 8], d[p + 9], d[p + 10]
        # RFC 2579: hours from UTC 0..13 (+14 exists since 1995, so accept it), deci-seconds
        # 0..9, seconds 0..60 (60 is a leap second, which datetime cannot hold: read as 59).
        if (
            hour > 23
            or minute > 59
            or second > 60
            or decis > 9
            or (direction != _PLUS and direction != _MINUS)
            or off_h > 14
            or off_m > 59
        ):
            raise self.fail("dateTime field out of range", p)
        offset = off_h * 60 + off_m
        try:
            return datetime(
                year,
                month,
                day,
                hour,
                minute,
                min(second, 59),
                decis * 100_000,
                _timezone(-offset if direction == _MINUS else offset),
            )
        except ValueError:
            raise self.fail("dateTime is not a valid date", p) from None

    def with_language(self, tag: int, p: int, end: int) -> Value:
        """textWithLanguage / nameWithLanguage (RFC 8010 3.9): two length-prefixed parts
        that must fill the value exactly."""
        d = self.data
        if end - p < 4:
            raise self.fail("with-language value shorter than 4 octets", p)
        llen = (d[p] << 8) | d[p + 1]
        q = p + 2 + llen
        if llen & 0x8000 or q + 2 > end:
            raise self.fail("with-language: language length overruns the value", p)
        tlen = (d[q] << 8) | d[q + 1]
        if tlen & 0x8000 or q + 2 + tlen != end:
            raise self.fail("with-language: text length does not fill the value", q)
        if llen > self.limits.max_natural_language:
            raise self.fail("natural language too long", p + 2, _TOO_LONG)
        language = self.ascii(ValueTag.NATURAL_LANGUAGE, p + 2, q)
        text_tag = tag == ValueTag.TEXT_WITH_LANGUAGE
        limit = self.limits.max_text if text_tag else self.limits.max_name
        if tlen > limit:
            raise self.fail("with-language text longer than its limit", q + 2, _TOO_LONG)
        try:
            text = d[q + 2 : end].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("with-language text is not UTF-8", q + 2) from None
        if text_tag:
            return TextWithLanguage(text, language)
        return NameWithLanguage(text, language)


# value tags by octet, for building attributes (None for reserved octets, which value()
# has refused before any attribute is built)
_TAG_OF: Final[tuple[ValueTag, ...]] = tuple(
    _VALUE_TAGS.get(i, ValueTag.UNSUPPORTED) for i in range(256)
)


def _new_attribute(name: str, tag: int, values: list[Value], vtags: list[int] | None) -> Attribute:
    tag_of = _TAG_OF
    if vtags is None:
        return fast_attribute(name, tag_of[tag], tuple(values), None)
    return fast_attribute(name, tag_of[tag], tuple(values), tuple(tag_of[t] for t in vtags))


def decode_message(
    data: bytes | bytearray | memoryview, limits: Limits = _DEFAULT_LIMITS
) -> tuple[Message, int]:
    """Decode an IPP message; return it and the offset where document data starts.

    Only the first ``limits.max_message_bytes`` octets are looked at: an attribute part that
    does not end within them raises with client-error-request-entity-too-large.
    """
    limit = limits.max_message_bytes
    # The decoder needs the data to end where it may stop reading (it detects truncation
    # by IndexError), so a longer body is cut to the limit; a server streaming a document
    # should use MessageParser, which never holds more than the attribute part.
    if isinstance(data, bytes) and len(data) <= limit:
        return _Decoder(data, limits).message()
    return _Decoder(bytes(data[:limit]), limits).message()


class MessageParser:
    """Incremental decoder for an IPP body that arrives in pieces (h11 style, no I/O).

    ``feed(piece)`` returns None until the attribute part is complete, then the `Message`;
    ``remaining`` holds the octets of that last piece after the end-of-attributes tag (the
    start of the document data). Later document octets are the caller's: feeding after the
    message is complete is a usage error (RuntimeError). ``close()`` at the end of the body
    raises `IppDecodeError` if the attribute part never ended.

    The pieces are scanned as they come (tag and length fields only, so total work is linear
    in the size); the full, validating decode runs once on the complete attribute part and
    gives exactly what `decode_message` gives.
    """

    __slots__ = ("_buf", "_limits", "_message", "_scan", "remaining")

    def __init__(self, limits: Limits = _DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buf = bytearray()
        self._scan = 8  # start of the next unscanned tag (after the 8-octet header)
        self._message: Message | None = None
        self.remaining = b""

    @property
    def message(self) -> Message | None:
        """The decoded message, once complete."""
        return self._message

    @property
    def done(self) -> bool:
        """True once the attribute part has been decoded."""
        return self._message is not None

    def feed(self, data: bytes | bytearray | memoryview) -> Message | None:
        """Take the next piece of the body; the message once its attribute part is in."""
        if self._message is not None:
            raise RuntimeError("the IPP message is complete: the rest is document data")
        buf = self._buf
        buf += data
        end = self._find_end()
        if end is None:
            if len(buf) > self._limits.max_message_bytes:
                raise IppDecodeError(
                    f"attribute part longer than {self._limits.max_message_bytes} octets",
                    _TOO_LARGE,
                    self._limits.max_message_bytes,
                )
            return None
        message, offset = _Decoder(bytes(buf[:end]), self._limits).message()
        if offset != end:  # the scan and the decoder disagree: cannot happen, but be sure
            raise IppDecodeError("inconsistent attribute part", _BAD, offset)
        self.remaining = bytes(buf[end:])
        self._buf = bytearray()
        self._message = message
        return message

    def close(self) -> Message:
        """The body has ended: the message, or IppDecodeError if it is incomplete."""
        if self._message is None:
            raise IppDecodeError("message ends inside the attribute part", _BAD, len(self._buf))
        return self._message

    def _find_end(self) -> int | None:
        """Offset just after the end-of-attributes tag, if it has arrived."""
        buf = self._buf
        n = len(buf)
        if n < 8:
            return None
        pos = self._scan
        limit = self._limits.max_message_bytes
        while pos < n:
            tag = buf[pos]
            if tag < 0x10:
                pos += 1
                if tag == _END:
                    if pos > limit:
                        break  # decode_message would not see the end either
                    return pos
                continue
            if pos + 3 > n:
                break
            q = pos + 3 + ((buf[pos + 1] << 8) | buf[pos + 2])
            if q + 2 > n:
                break
            end = q + 2 + ((buf[q] << 8) | buf[q + 1])
            if end > n:
                break
            pos = end
        self._scan = pos
        if pos > limit:
            raise IppDecodeError(f"attribute part longer than {limit} octets", _TOO_LARGE, limit)
        return None
