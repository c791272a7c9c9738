"""Small constructors for IPP attributes, each naming its RFC 8011 5.1 syntax."""

from __future__ import annotations

import datetime

from mfpd.codecs.ipp.tags import ValueTag
from mfpd.codecs.ipp.values import Attribute, Collection, Range, Resolution, Value


def _of(name: str, tag: ValueTag, values: tuple[Value, ...]) -> Attribute:
    if not values:
        return Attribute.of(name, ValueTag.NO_VALUE)
    return Attribute(name, tag, values)


def keyword(name: str, *values: str) -> Attribute:
    return _of(name, ValueTag.KEYWORD, values)


def enum(name: str, *values: int) -> Attribute:
    return _of(name, ValueTag.ENUM, values)


def integer(name: str, *values: int) -> Attribute:
    return _of(name, ValueTag.INTEGER, values)


def boolean(name: str, value: bool) -> Attribute:
    return Attribute(name, ValueTag.BOOLEAN, (value,))


def text(name: str, *values: str) -> Attribute:
    return _of(name, ValueTag.TEXT, values)


def name_(name: str, *values: str) -> Attribute:
    return _of(name, ValueTag.NAME, values)


def uri(name: str, *values: str) -> Attribute:
    return _of(name, ValueTag.URI, values)


def uri_scheme(name: str, *values: str) -> Attribute:
    return _of(name, ValueTag.URI_SCHEME, values)


def charset(name: str, *values: str) -> Attribute:
    return _of(name, ValueTag.CHARSET, values)


def language(name: str, *values: str) -> Attribute:
    return _of(name, ValueTag.NATURAL_LANGUAGE, values)


def mime(name: str, *values: str) -> Attribute:
    return _of(name, ValueTag.MIME_MEDIA_TYPE, values)


def octets(name: str, *values: bytes) -> Attribute:
    return _of(name, ValueTag.OCTET_STRING, values)


def range_(name: str, low: int, high: int) -> Attribute:
    return Attribute(name, ValueTag.RANGE_OF_INTEGER, (Range(low, high),))


def resolution(name: str, *dpi: int) -> Attribute:
    return _of(name, ValueTag.RESOLUTION, tuple(Resolution(d, d) for d in dpi))


def collection(name: str, *values: Collection) -> Attribute:
    return _of(name, ValueTag.BEG_COLLECTION, values)


def members(*attributes: Attribute) -> Collection:
    return Collection(attributes)


def date(name: str, when: float) -> Attribute:
    moment = datetime.datetime.fromtimestamp(when, datetime.UTC).replace(microsecond=0)
    return Attribute(name, ValueTag.DATE_TIME, (moment,))


def unknown(name: str) -> Attribute:
    return Attribute.of(name, ValueTag.UNKNOWN)


def no_value(name: str) -> Attribute:
    return Attribute.of(name, ValueTag.NO_VALUE)
