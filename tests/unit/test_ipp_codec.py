"""Unit tests of the IPP codec (RFC 8010 encoding), sans-I/O.

The byte sequences of the first section are RFC 8010 appendix A ("Protocol Examples")
written out octet by octet; A.7 includes the job-attributes-tag the RFC's table omits
(a known erratum: without it the media-col attribute would sit in the operation group).
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.codecs.ipp import (
    Attribute,
    AttributeGroup,
    Collection,
    DelimiterTag,
    IppDecodeError,
    IppEncodeError,
    Limits,
    Message,
    MessageParser,
    NameWithLanguage,
    Operation,
    OutOfBand,
    Range,
    Resolution,
    ResolutionUnits,
    StatusCode,
    TextWithLanguage,
    Value,
    ValueTag,
    decode_message,
    encode_attribute,
    encode_message,
    forget_encoded,
    keep_encoded,
    keep_encoded_group,
    make_request,
    make_response,
)
from mfpd.codecs.ipp.memo import AnswerMemo, RequestMemo
from tests.conftest import requires

BAD = StatusCode.CLIENT_ERROR_BAD_REQUEST
TOO_LONG = StatusCode.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG
TOO_LARGE = StatusCode.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE

OP = DelimiterTag.OPERATION
JOB = DelimiterTag.JOB
PRINTER_URI = "ipp://printer.example.com/ipp/print/pinetree"
JOB_URI = PRINTER_URI + "/147"


# --------------------------------------------------------------------------------------------
# Helpers to write octets the way RFC 8010 appendix A tabulates them
# --------------------------------------------------------------------------------------------


def u1(v: int) -> bytes:
    return bytes((v,))


def u2(v: int) -> bytes:
    return struct.pack(">H", v)


def u4(v: int) -> bytes:
    return struct.pack(">i", v)


def attr(tag: int, name: str, value: bytes) -> bytes:
    """value-tag, name-length, name, value-length, value (RFC 8010 3.1.4)."""
    return u1(tag) + u2(len(name)) + name.encode() + u2(len(value)) + value


def extra(tag: int, value: bytes) -> bytes:
    """An additional value: empty name (RFC 8010 3.1.5)."""
    return u1(tag) + u2(0) + u2(len(value)) + value


def header(code: int, request_id: int = 1, version: int = 0x0101) -> bytes:
    return u2(version) + u2(code) + u4(request_id)


CHARSET_LANG = attr(0x47, "attributes-charset", b"utf-8") + attr(
    0x48, "attributes-natural-language", b"en-us"
)


def a(name: str, tag: ValueTag, *values: Value) -> Attribute:
    return Attribute.of(name, tag, *values)


def op_group(*attrs: Attribute) -> AttributeGroup:
    return AttributeGroup(
        OP,
        (
            a("attributes-charset", ValueTag.CHARSET, "utf-8"),
            a("attributes-natural-language", ValueTag.NATURAL_LANGUAGE, "en-us"),
            *attrs,
        ),
    )


def roundtrip(message: Message) -> Message:
    data = encode_message(message)
    decoded, offset = decode_message(data)
    assert offset == len(data)
    return decoded


# --------------------------------------------------------------------------------------------
# RFC 8010 appendix A
# --------------------------------------------------------------------------------------------

A1_BYTES = (
    header(0x0002)
    + u1(0x01)
    + CHARSET_LANG
    + attr(0x45, "printer-uri", PRINTER_URI.encode())
    + attr(0x42, "job-name", b"foobar")
    + attr(0x22, "ipp-attribute-fidelity", b"\x01")
    + u1(0x02)
    + attr(0x21, "copies", u4(20))
    + attr(0x44, "sides", b"two-sided-long-edge")
    + u1(0x03)
)
A1_MESSAGE = Message(
    (1, 1),
    Operation.PRINT_JOB,
    1,
    (
        op_group(
            a("printer-uri", ValueTag.URI, PRINTER_URI),
            a("job-name", ValueTag.NAME, "foobar"),
            a("ipp-attribute-fidelity", ValueTag.BOOLEAN, True),
        ),
        AttributeGroup(
            JOB,
            (
                a("copies", ValueTag.INTEGER, 20),
                a("sides", ValueTag.KEYWORD, "two-sided-long-edge"),
            ),
        ),
    ),
)


def test_a1_print_job_request_with_document_data() -> None:
    assert len(u2(0x002C)) == 2 and len(PRINTER_URI) == 0x2C  # the RFC's value-length
    assert encode_message(A1_MESSAGE) == A1_BYTES
    message, offset = decode_message(A1_BYTES + b"%!PDF...")
    assert message == A1_MESSAGE
    assert (A1_BYTES + b"%!PDF...")[offset:] == b"%!PDF..."
    assert message.operation is Operation.PRINT_JOB
    assert message.get(JOB, "copies") == a("copies", ValueTag.INTEGER, 20)


def test_a2_print_job_response_successful() -> None:
    data = (
        header(0x0000)
        + u1(0x01)
        + CHARSET_LANG
        + attr(0x41, "status-message", b"successful-ok")
        + u1(0x02)
        + attr(0x21, "job-id", u4(147))
        + attr(0x45, "job-uri", JOB_URI.encode())
        + attr(0x23, "job-state", u4(3))
        + u1(0x03)
    )
    assert len(JOB_URI) == 0x30
    message = Message(
        (1, 1),
        StatusCode.SUCCESSFUL_OK,
        1,
        (
            op_group(a("status-message", ValueTag.TEXT, "successful-ok")),
            AttributeGroup(
                JOB,
                (
                    a("job-id", ValueTag.INTEGER, 147),
                    a("job-uri", ValueTag.URI, JOB_URI),
                    a("job-state", ValueTag.ENUM, 3),
                ),
            ),
        ),
    )
    assert encode_message(message) == data
    assert decode_message(data) == (message, len(data))
    assert message.status is StatusCode.SUCCESSFUL_OK


def _unsupported_response(status: int, with_job: bool) -> tuple[bytes, Message]:
    keyword = StatusCode(status).keyword
    data = (
        header(status)
        + u1(0x01)
        + CHARSET_LANG
        + attr(0x41, "status-message", keyword.encode())
        + u1(0x05)
        + attr(0x21, "copies", u4(20))
        + attr(0x10, "sides", b"")
    )
    groups = [
        op_group(a("status-message", ValueTag.TEXT, keyword)),
        AttributeGroup(
            DelimiterTag.UNSUPPORTED,
            (a("copies", ValueTag.INTEGER, 20), a("sides", ValueTag.UNSUPPORTED)),
        ),
    ]
    if with_job:
        data += (
            u1(0x02)
            + attr(0x21, "job-id", u4(147))
            + attr(0x45, "job-uri", JOB_URI.encode())
            + attr(0x23, "job-state", u4(3))
        )
        groups.append(
            AttributeGroup(
                JOB,
                (
                    a("job-id", ValueTag.INTEGER, 147),
                    a("job-uri", ValueTag.URI, JOB_URI),
                    a("job-state", ValueTag.ENUM, 3),
                ),
            )
        )
    return data + u1(0x03), Message((1, 1), status, 1, tuple(groups))


def test_a3_print_job_response_failure_with_unsupported_group() -> None:
    data, message = _unsupported_response(0x040B, with_job=False)
    assert len("client-error-attributes-or-values-not-supported") == 0x2F
    assert encode_message(message) == data
    decoded, _ = decode_message(data)
    assert decoded == message
    sides = decoded.get(DelimiterTag.UNSUPPORTED, "sides")
    assert sides is not None and sides.values == (OutOfBand(ValueTag.UNSUPPORTED),)
    assert sides.is_out_of_band


def test_a4_print_job_response_success_with_attributes_ignored() -> None:
    data, message = _unsupported_response(0x0001, with_job=True)
    assert encode_message(message) == data
    assert decode_message(data)[0] == message
    assert message.status is StatusCode.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES


def test_a5_print_uri_request() -> None:
    data = (
        header(0x0003)
        + u1(0x01)
        + CHARSET_LANG
        + attr(0x45, "printer-uri", PRINTER_URI.encode())
        + attr(0x45, "document-uri", b"ftp://foo.example.com/foo")
        + attr(0x42, "job-name", b"foobar")
        + u1(0x02)
        + attr(0x21, "copies", u4(1))
        + u1(0x03)
    )
    message = Message(
        (1, 1),
        Operation.PRINT_URI,
        1,
        (
            op_group(
                a("printer-uri", ValueTag.URI, PRINTER_URI),
                a("document-uri", ValueTag.URI, "ftp://foo.example.com/foo"),
                a("job-name", ValueTag.NAME, "foobar"),
            ),
            AttributeGroup(JOB, (a("copies", ValueTag.INTEGER, 1),)),
        ),
    )
    assert encode_message(message) == data
    assert decode_message(data) == (message, len(data))


def test_a6_create_job_request() -> None:
    data = (
        header(0x0005)
        + u1(0x01)
        + CHARSET_LANG
        + attr(0x45, "printer-uri", PRINTER_URI.encode())
        + u1(0x03)
    )
    message = Message(
        (1, 1),
        Operation.CREATE_JOB,
        1,
        (op_group(a("printer-uri", ValueTag.URI, PRINTER_URI)),),
    )
    assert encode_message(message) == data
    assert decode_message(data) == (message, len(data))


def member(tag: int, value: bytes) -> bytes:
    """A member value: value-tag, empty name, value (RFC 8010 3.1.7)."""
    return extra(tag, value)


def member_name(name: str) -> bytes:
    """memberAttrName with the member's name as its value (RFC 8010 3.1.7)."""
    return extra(0x4A, name.encode())


END_COLLECTION = u1(0x37) + u2(0) + u2(0)

A7_MEDIA_COL = (
    attr(0x34, "media-col", b"")
    + member_name("media-size")
    + member(0x34, b"")
    + member_name("x-dimension")
    + member(0x21, u4(21000))
    + member_name("y-dimension")
    + member(0x21, u4(29700))
    + END_COLLECTION
    + member_name("media-type")
    + member(0x44, b"stationery")
    + END_COLLECTION
)
A7_MEDIA_COL_VALUE = Collection(
    [
        a(
            "media-size",
            ValueTag.BEG_COLLECTION,
            Collection(
                [
                    a("x-dimension", ValueTag.INTEGER, 21000),
                    a("y-dimension", ValueTag.INTEGER, 29700),
                ]
            ),
        ),
        a("media-type", ValueTag.KEYWORD, "stationery"),
    ]
)


def test_a7_create_job_request_with_collection() -> None:
    data = (
        header(0x0005)
        + u1(0x01)
        + CHARSET_LANG
        + attr(0x45, "printer-uri", PRINTER_URI.encode())
        + u1(0x02)  # the erratum: the RFC's table lacks this job-attributes-tag
        + A7_MEDIA_COL
        + u1(0x03)
    )
    message = Message(
        (1, 1),
        Operation.CREATE_JOB,
        1,
        (
            op_group(a("printer-uri", ValueTag.URI, PRINTER_URI)),
            AttributeGroup(JOB, (a("media-col", ValueTag.BEG_COLLECTION, A7_MEDIA_COL_VALUE),)),
        ),
    )
    assert encode_message(message) == data
    decoded, _ = decode_message(data)
    assert decoded == message
    media_col = decoded.get(JOB, "media-col")
    assert media_col is not None
    col = media_col.value
    assert isinstance(col, Collection)
    size = col["media-size"].value
    assert isinstance(size, Collection)
    assert size["x-dimension"].value == 21000
    assert list(col) == ["media-size", "media-type"]


def test_a8_get_jobs_request_with_additional_values() -> None:
    data = (
        header(0x000A, 123)
        + u1(0x01)
        + CHARSET_LANG
        + attr(0x45, "printer-uri", PRINTER_URI.encode())
        + attr(0x21, "limit", u4(50))
        + attr(0x44, "requested-attributes", b"job-id")
        + extra(0x44, b"job-name")
        + extra(0x44, b"document-format")
        + u1(0x03)
    )
    message = Message(
        (1, 1),
        Operation.GET_JOBS,
        123,
        (
            op_group(
                a("printer-uri", ValueTag.URI, PRINTER_URI),
                a("limit", ValueTag.INTEGER, 50),
                a(
                    "requested-attributes",
                    ValueTag.KEYWORD,
                    "job-id",
                    "job-name",
                    "document-format",
                ),
            ),
        ),
    )
    assert encode_message(message) == data
    assert decode_message(data) == (message, len(data))


def with_language(language: str, text: str) -> bytes:
    return u2(len(language)) + language.encode() + u2(len(text.encode())) + text.encode()


def test_a9_get_jobs_response_with_empty_group_and_name_with_language() -> None:
    data = (
        header(0x0000, 123)
        + u1(0x01)
        + CHARSET_LANG
        + attr(0x41, "status-message", b"successful-ok")
        + u1(0x02)
        + attr(0x21, "job-id", u4(147))
        + attr(0x36, "job-name", with_language("fr-ca", "fou"))
        + u1(0x02)  # the second job: an empty group
        + u1(0x02)
        + attr(0x21, "job-id", u4(149))
        + attr(0x36, "job-name", with_language("de-CH", "isch guet"))
        + u1(0x03)
    )
    assert with_language("fr-ca", "fou") == u2(5) + b"fr-ca" + u2(3) + b"fou"
    message = Message(
        (1, 1),
        StatusCode.SUCCESSFUL_OK,
        123,
        (
            op_group(a("status-message", ValueTag.TEXT, "successful-ok")),
            AttributeGroup(
                JOB,
                (
                    a("job-id", ValueTag.INTEGER, 147),
                    a("job-name", ValueTag.NAME_WITH_LANGUAGE, NameWithLanguage("fou", "fr-ca")),
                ),
            ),
            AttributeGroup(JOB, ()),
            AttributeGroup(
                JOB,
                (
                    a("job-id", ValueTag.INTEGER, 149),
                    a(
                        "job-name",
                        ValueTag.NAME_WITH_LANGUAGE,
                        NameWithLanguage("isch guet", "de-CH"),
                    ),
                ),
            ),
        ),
    )
    assert encode_message(message) == data
    decoded, _ = decode_message(data)
    assert decoded == message
    assert [len(g) for g in decoded.groups_of(JOB)] == [2, 0, 2]


# --------------------------------------------------------------------------------------------
# Every value tag
# --------------------------------------------------------------------------------------------

EVERY_VALUE: list[tuple[ValueTag, Value, bytes]] = [
    (ValueTag.INTEGER, -5, u4(-5)),
    (ValueTag.INTEGER, 2**31 - 1, u4(2**31 - 1)),
    (ValueTag.BOOLEAN, False, b"\x00"),
    (ValueTag.BOOLEAN, True, b"\x01"),
    (ValueTag.ENUM, 5, u4(5)),
    (ValueTag.OCTET_STRING, b"\x00\xff\x10", b"\x00\xff\x10"),
    (ValueTag.OCTET_STRING, b"", b""),
    (
        ValueTag.DATE_TIME,
        datetime(2024, 2, 29, 23, 59, 58, 700_000, timezone(timedelta(hours=-5, minutes=-30))),
        bytes((0x07, 0xE8, 2, 29, 23, 59, 58, 7)) + b"-" + bytes((5, 30)),
    ),
    (
        ValueTag.DATE_TIME,
        datetime(1999, 12, 31, 0, 0, 0, 0, UTC),
        bytes((0x07, 0xCF, 12, 31, 0, 0, 0, 0)) + b"+" + bytes((0, 0)),
    ),
    (
        ValueTag.RESOLUTION,
        Resolution(600, 1200, ResolutionUnits.DOTS_PER_INCH),
        u4(600) + u4(1200) + b"\x03",
    ),
    (ValueTag.RESOLUTION, Resolution(118, 118, ResolutionUnits.DOTS_PER_CM), u4(118) * 2 + b"\x04"),
    (ValueTag.RANGE_OF_INTEGER, Range(1, 2**31 - 1), u4(1) + u4(2**31 - 1)),
    (ValueTag.RANGE_OF_INTEGER, Range(-3, -3), u4(-3) + u4(-3)),
    (
        ValueTag.TEXT_WITH_LANGUAGE,
        TextWithLanguage("Grüezi", "de-CH"),
        with_language("de-CH", "Grüezi"),
    ),
    (ValueTag.NAME_WITH_LANGUAGE, NameWithLanguage("", "en"), with_language("en", "")),
    (
        ValueTag.TEXT_WITHOUT_LANGUAGE,
        "ünïcödé ✓ text\nwith newline",
        "ünïcödé ✓ text\nwith newline".encode(),
    ),
    (ValueTag.TEXT_WITHOUT_LANGUAGE, "", b""),
    (ValueTag.NAME_WITHOUT_LANGUAGE, "Jöb 1", "Jöb 1".encode()),
    (ValueTag.KEYWORD, "iso_a4_210x297mm", b"iso_a4_210x297mm"),
    (ValueTag.URI, "ipps://h%C3%A9/ipp/print?x=1", b"ipps://h%C3%A9/ipp/print?x=1"),
    (ValueTag.URI_SCHEME, "ipps", b"ipps"),
    (ValueTag.CHARSET, "utf-8", b"utf-8"),
    (ValueTag.NATURAL_LANGUAGE, "zh-Hant-TW", b"zh-Hant-TW"),
    (ValueTag.MIME_MEDIA_TYPE, "text/plain; charset=utf-8", b"text/plain; charset=utf-8"),
    (ValueTag.UNSUPPORTED, OutOfBand(ValueTag.UNSUPPORTED), b""),
    (ValueTag.UNKNOWN, OutOfBand(ValueTag.UNKNOWN), b""),
    (ValueTag.NO_VALUE, OutOfBand(ValueTag.NO_VALUE), b""),
    (ValueTag.NOT_SETTABLE, OutOfBand(ValueTag.NOT_SETTABLE), b""),
    (ValueTag.DELETE_ATTRIBUTE, OutOfBand(ValueTag.DELETE_ATTRIBUTE), b""),
    (ValueTag.ADMIN_DEFINE, OutOfBand(ValueTag.ADMIN_DEFINE), b""),
]


@pytest.mark.parametrize(("tag", "value", "octets"), EVERY_VALUE)
def test_every_value_tag_encodes_exactly_and_round_trips(
    tag: ValueTag, value: Value, octets: bytes
) -> None:
    attribute = Attribute("x-test", tag, (value,))
    assert encode_attribute(attribute) == attr(tag, "x-test", octets)
    message = Message((2, 0), 0x000B, 7, (AttributeGroup(OP, (attribute,)),))
    decoded = roundtrip(message)
    assert decoded == message
    got = decoded.groups[0].attributes[0]
    assert got.tag is tag and type(got.value) is type(value)


def test_every_defined_value_tag_is_covered() -> None:
    structural = {
        ValueTag.BEG_COLLECTION,
        ValueTag.END_COLLECTION,
        ValueTag.MEMBER_ATTR_NAME,
        ValueTag.EXTENSION,
    }
    assert {t for t, _, _ in EVERY_VALUE} == set(ValueTag) - structural


def test_leap_second_reads_as_59() -> None:
    raw = bytes((0x07, 0xE8, 12, 31, 23, 59, 60, 0)) + b"+" + bytes((0, 0))
    data = header(0x000B) + u1(1) + attr(0x31, "printer-current-time", raw) + u1(3)
    value = decode_message(data)[0].groups[0].attributes[0].value
    assert value == datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_utc_plus_14_is_accepted() -> None:
    raw = bytes((0x07, 0xE8, 1, 1, 0, 0, 0, 0)) + b"+" + bytes((14, 0))
    data = header(0x000B) + u1(1) + attr(0x31, "t", raw) + u1(3)
    value = decode_message(data)[0].groups[0].attributes[0].value
    assert isinstance(value, datetime) and value.utcoffset() == timedelta(hours=14)


# --------------------------------------------------------------------------------------------
# 1setOf, mixed tags, collections, out-of-band
# --------------------------------------------------------------------------------------------


def test_mixed_value_tags_round_trip_and_tagged_pairs() -> None:
    mixed = Attribute.mixed(
        "media-supported",
        [(ValueTag.KEYWORD, "iso_a4_210x297mm"), (ValueTag.NAME, "Custom Letterhead")],
    )
    assert mixed.value_tags == (ValueTag.KEYWORD, ValueTag.NAME)
    uniform = Attribute.mixed("sides", [(ValueTag.KEYWORD, "one-sided")] * 2)
    assert uniform.value_tags is None
    oob = Attribute.mixed(
        "notify-lease-duration-supported",
        [(ValueTag.INTEGER, 0), (ValueTag.RANGE_OF_INTEGER, Range(60, 3600))],
    )
    message = Message((2, 0), 0, 1, (AttributeGroup(DelimiterTag.PRINTER, (mixed, uniform, oob)),))
    decoded = roundtrip(message)
    assert decoded == message
    assert list(decoded.groups[0]["media-supported"].tagged()) == [
        (ValueTag.KEYWORD, "iso_a4_210x297mm"),
        (ValueTag.NAME, "Custom Letterhead"),
    ]
    with pytest.raises(ValueError):
        Attribute.mixed("x", [])


def test_decoder_gives_per_value_tags_only_when_they_differ() -> None:
    data = (
        header(0x000B)
        + u1(4)
        + attr(0x44, "job-sheets-supported", b"none")
        + extra(0x42, b"Confidential")
        + extra(0x44, b"standard")
        + u1(3)
    )
    got = decode_message(data)[0].groups[0].attributes[0]
    assert got.tag is ValueTag.KEYWORD
    assert got.value_tags == (ValueTag.KEYWORD, ValueTag.NAME, ValueTag.KEYWORD)
    assert encode_message(decode_message(data)[0]) == data


def test_nested_collections_1setof_members_and_additional_collection_values() -> None:
    inner = Collection(
        [a("x-dimension", ValueTag.INTEGER, 10160), a("y-dimension", ValueTag.INTEGER, 15240)]
    )
    custom = Collection(
        [
            a("x-dimension", ValueTag.RANGE_OF_INTEGER, Range(7620, 21590)),
            a("y-dimension", ValueTag.RANGE_OF_INTEGER, Range(12700, 35560)),
        ]
    )
    entry1 = Collection(
        [
            a("media-size", ValueTag.BEG_COLLECTION, inner),
            a("media-source", ValueTag.KEYWORD, "main"),
            a("media-type", ValueTag.NO_VALUE),
        ]
    )
    entry2 = Collection(
        [
            a("media-size", ValueTag.BEG_COLLECTION, custom),
            Attribute.mixed(
                "media-key", [(ValueTag.KEYWORD, "custom"), (ValueTag.NAME, "Custom size")]
            ),
        ]
    )
    finishings = Collection(
        [
            a(
                "folding",
                ValueTag.BEG_COLLECTION,
                Collection([a("folding-offset", ValueTag.INTEGER, 1)]),
                Collection([a("folding-offset", ValueTag.INTEGER, 2)]),
            )
        ]
    )
    group = AttributeGroup(
        DelimiterTag.PRINTER,
        (
            a("media-col-database", ValueTag.BEG_COLLECTION, entry1, entry2),
            a("finishings-col-default", ValueTag.BEG_COLLECTION, finishings),
        ),
    )
    message = Message((2, 0), 0, 9, (group,))
    decoded = roundtrip(message)
    assert decoded == message
    database = decoded.groups[0]["media-col-database"]
    assert len(database.values) == 2
    first = database.values[0]
    assert isinstance(first, Collection)
    assert first["media-type"].values == (OutOfBand(ValueTag.NO_VALUE),)
    assert hash(first) == hash(entry1)


def test_collection_rejects_duplicate_members_and_compares_in_order() -> None:
    with pytest.raises(ValueError):
        Collection([a("m", ValueTag.INTEGER, 1), a("m", ValueTag.INTEGER, 2)])
    one = Collection([a("a", ValueTag.INTEGER, 1), a("b", ValueTag.INTEGER, 2)])
    other = Collection([a("b", ValueTag.INTEGER, 2), a("a", ValueTag.INTEGER, 1)])
    assert one != other
    assert "a" in one and len(one) == 2 and one.members[0].name == "a"
    assert one != {"a": 1}


def test_values_are_frozen() -> None:
    attribute = a("copies", ValueTag.INTEGER, 1)
    with pytest.raises(FrozenInstanceError):
        attribute.name = "x"  # type: ignore[misc]
    decoded = decode_message(A1_BYTES)[0].groups[1].attributes[0]
    with pytest.raises(FrozenInstanceError):
        decoded.name = "x"  # type: ignore[misc]
    assert type(decoded) is Attribute and hash(decoded) == hash(a("copies", ValueTag.INTEGER, 20))


def test_message_helpers() -> None:
    message = decode_message(A1_BYTES)[0]
    assert message.first(JOB) is message.groups[1]
    assert message.first(DelimiterTag.PRINTER) is None
    assert message.get(OP, "missing") is None
    assert message.operation_attributes is message.groups[0]
    assert message.groups[0].names()[:2] == ["attributes-charset", "attributes-natural-language"]
    assert "job-name" in message.groups[0]
    unknown = Message((2, 0), 0x7777, 1)
    assert unknown.operation is None and unknown.status is None
    assert Operation.GET_PRINTER_ATTRIBUTES.label == "Get-Printer-Attributes"
    assert Operation.PRINT_URI.label == "Print-URI"
    assert Operation.CUPS_GET_PPDS.label == "CUPS-Get-PPDs"
    assert StatusCode.CLIENT_ERROR_DOCUMENT_PASSWORD_ERROR.keyword == (
        "client-error-document-password-error"
    )
    assert StatusCode.SUCCESSFUL_OK_CONFLICTING_ATTRIBUTES.is_successful
    assert not StatusCode.SERVER_ERROR_BUSY.is_successful


def test_operation_and_status_numbers_from_the_registry() -> None:
    assert int(Operation.PRINT_JOB) == 0x0002
    assert int(Operation.GET_NOTIFICATIONS) == 0x001C
    assert int(Operation.HOLD_NEW_JOBS) == 0x0025
    assert int(Operation.RELEASE_HELD_NEW_JOBS) == 0x0026
    assert int(Operation.CANCEL_CURRENT_JOB) == 0x002D  # RFC 3998; 0x0022 is Enable-Printer
    assert int(Operation.CANCEL_MY_JOBS) == 0x0039
    assert int(Operation.CLOSE_JOB) == 0x003B
    assert int(Operation.IDENTIFY_PRINTER) == 0x003C
    assert int(StatusCode.CLIENT_ERROR_DOCUMENT_PASSWORD_ERROR) == 0x0418
    assert int(StatusCode.SERVER_ERROR_VERSION_NOT_SUPPORTED) == 0x0503
    assert int(StatusCode.SERVER_ERROR_TOO_MANY_DOCUMENTS) == 0x050C


def test_builders_put_charset_and_language_first() -> None:
    request = make_request(
        Operation.GET_PRINTER_ATTRIBUTES,
        5,
        [a("printer-uri", ValueTag.URI, "ipp://localhost/ipp/print")],
    )
    assert request.version == (2, 0) and request.code == 0x000B
    assert request.groups[0].names() == [
        "attributes-charset",
        "attributes-natural-language",
        "printer-uri",
    ]
    response = make_response(
        StatusCode.CLIENT_ERROR_NOT_FOUND,
        5,
        status_message="no such job",
        groups=[AttributeGroup(DelimiterTag.UNSUPPORTED, (a("foo", ValueTag.UNSUPPORTED),))],
    )
    assert response.groups[0].names()[2] == "status-message"
    assert roundtrip(response) == response
    assert roundtrip(request) == request


# --------------------------------------------------------------------------------------------
# Encoder refusals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attribute",
    [
        Attribute("copies", ValueTag.INTEGER, ()),
        Attribute("copies", ValueTag.INTEGER, (True,)),
        Attribute("copies", ValueTag.INTEGER, (2**31,)),
        Attribute("copies", ValueTag.INTEGER, ("1",)),
        Attribute("flag", ValueTag.BOOLEAN, (1,)),
        Attribute("sides", ValueTag.KEYWORD, ("two sided",)),
        Attribute("sides", ValueTag.KEYWORD, ("",)),
        Attribute("sides", ValueTag.KEYWORD, ("säte",)),
        Attribute("job-name", ValueTag.NAME, ("\ud800",)),
        Attribute("job-name", ValueTag.NAME, ("x" * 40000,)),
        Attribute("t", ValueTag.DATE_TIME, (datetime(2024, 1, 1),)),
        Attribute(
            "t", ValueTag.DATE_TIME, (datetime(2024, 1, 1, tzinfo=timezone(timedelta(seconds=30))),)
        ),
        Attribute("r", ValueTag.RESOLUTION, (Range(1, 2),)),
        Attribute("r", ValueTag.RANGE_OF_INTEGER, (Resolution(1, 2),)),
        Attribute("t", ValueTag.TEXT_WITH_LANGUAGE, (NameWithLanguage("a", "en"),)),
        Attribute("o", ValueTag.NO_VALUE, (OutOfBand(ValueTag.UNKNOWN),)),
        Attribute("o", ValueTag.OCTET_STRING, ("text",)),
        Attribute("c", ValueTag.BEG_COLLECTION, ({"a": 1},)),  # type: ignore[arg-type]
        Attribute("c", ValueTag.END_COLLECTION, (1,)),
        Attribute("c", ValueTag.MEMBER_ATTR_NAME, ("x",)),
        Attribute("c", ValueTag.EXTENSION, (b"",)),
        Attribute("bad name", ValueTag.INTEGER, (1,)),
        Attribute("", ValueTag.INTEGER, (1,)),
        Attribute("x", ValueTag.INTEGER, (1, 2), (ValueTag.INTEGER,)),
    ],
)
def test_encoder_refuses(attribute: Attribute) -> None:
    with pytest.raises(IppEncodeError):
        encode_message(Message((2, 0), 2, 1, (AttributeGroup(OP, (attribute,)),)))


def test_encoder_refuses_bad_header_fields() -> None:
    for message in (
        Message((256, 0), 2, 1),
        Message((2, 0), 0x10000, 1),
        Message((2, 0), 2, 2**31),
        Message((2, 0), 2, 1, (AttributeGroup(DelimiterTag.END, ()),)),
    ):
        with pytest.raises(IppEncodeError):
            encode_message(message)


# --------------------------------------------------------------------------------------------
# Decoder refusals: every malformation and every limit
# --------------------------------------------------------------------------------------------


def body(*parts: bytes) -> bytes:
    return header(0x0002) + b"".join(parts)


def with_op(*parts: bytes) -> bytes:
    return body(u1(1), *parts, u1(3))


MALFORMED: dict[str, tuple[bytes, StatusCode]] = {
    "empty": (b"", BAD),
    "header only": (header(2), BAD),
    "no end tag": (body(u1(1), attr(0x21, "copies", u4(1))), BAD),
    "truncated value": (body(u1(1), attr(0x21, "copies", u4(1)))[:-2], BAD),
    "truncated name": (body(u1(1), u1(0x21), u2(10), b"cop"), BAD),
    "attribute before group": (body(attr(0x21, "copies", u4(1)), u1(3)), BAD),
    "additional value first": (with_op(extra(0x21, u4(1))), BAD),
    "additional value before group": (body(extra(0x21, u4(1)), u1(3)), BAD),
    "reserved delimiter 0x00": (body(u1(0), u1(3)), BAD),
    "reserved delimiter 0x0f": (body(u1(0x0F), u1(3)), BAD),
    "reserved value tag 0x20": (with_op(attr(0x20, "x", u4(1))), BAD),
    "reserved value tag 0x11 (default)": (with_op(attr(0x11, "x", b"")), BAD),
    "reserved value tag 0x43": (with_op(attr(0x43, "x", b"a")), BAD),
    "value tag 0x80": (with_op(attr(0x80, "x", b"a")), BAD),
    "extension 0x7f": (with_op(attr(0x7F, "x", u4(0x40000000))), BAD),
    "integer of 3 octets": (with_op(attr(0x21, "copies", b"\x00\x00\x01")), BAD),
    "enum of 5 octets": (with_op(attr(0x23, "e", b"\x00" * 5)), BAD),
    "boolean of 2 octets": (with_op(attr(0x22, "b", b"\x00\x01")), BAD),
    "boolean value 2": (with_op(attr(0x22, "b", b"\x02")), BAD),
    "dateTime of 10 octets": (with_op(attr(0x31, "t", b"\x07\xe8" + b"\x01" * 8)), BAD),
    "dateTime month 13": (
        with_op(attr(0x31, "t", bytes((7, 0xE8, 13, 1, 0, 0, 0, 0)) + b"+\x00\x00")),
        BAD,
    ),
    "dateTime February 30": (
        with_op(attr(0x31, "t", bytes((7, 0xE8, 2, 30, 0, 0, 0, 0)) + b"+\x00\x00")),
        BAD,
    ),
    "dateTime bad direction": (
        with_op(attr(0x31, "t", bytes((7, 0xE8, 1, 1, 0, 0, 0, 0)) + b"x\x00\x00")),
        BAD,
    ),
    "dateTime year 0": (
        with_op(attr(0x31, "t", bytes((0, 0, 1, 1, 0, 0, 0, 0)) + b"+\x00\x00")),
        BAD,
    ),
    "resolution of 8 octets": (with_op(attr(0x32, "r", u4(1) + u4(1))), BAD),
    "resolution units 5": (with_op(attr(0x32, "r", u4(1) + u4(1) + b"\x05")), BAD),
    "range of 9 octets": (with_op(attr(0x33, "r", b"\x00" * 9)), BAD),
    "textWithLanguage too short": (with_op(attr(0x35, "t", b"\x00\x00\x00")), BAD),
    "textWithLanguage lengths overrun": (
        with_op(attr(0x35, "t", u2(2) + b"en" + u2(5) + b"abc")),
        BAD,
    ),
    "textWithLanguage lengths underrun": (
        with_op(attr(0x35, "t", u2(2) + b"en" + u2(1) + b"abc")),
        BAD,
    ),
    "textWithLanguage empty language": (with_op(attr(0x35, "t", u2(0) + u2(1) + b"a")), BAD),
    "text not UTF-8": (with_op(attr(0x41, "t", b"\xff\xfe")), BAD),
    "name not UTF-8": (with_op(attr(0x42, "n", b"caf\xe9")), BAD),
    "textWithLanguage not UTF-8": (with_op(attr(0x35, "t", u2(2) + b"en" + u2(1) + b"\x80")), BAD),
    "keyword not ASCII": (with_op(attr(0x44, "k", "säte".encode())), BAD),
    "keyword with space": (with_op(attr(0x44, "k", b"one sided")), BAD),
    "keyword with control": (with_op(attr(0x44, "k", b"one\x00")), BAD),
    "empty keyword": (with_op(attr(0x44, "k", b"")), BAD),
    "charset not ASCII": (with_op(attr(0x47, "attributes-charset", b"utf\xff8")), BAD),
    "uri with space": (with_op(attr(0x45, "printer-uri", b"ipp://a b/")), BAD),
    "mimeMediaType with control": (with_op(attr(0x49, "document-format", b"text/\x01")), BAD),
    "mimeMediaType not ASCII": (with_op(attr(0x49, "document-format", b"text/\xc3\xa9")), BAD),
    "attribute name not ASCII": (with_op(attr(0x21, "cöpies", u4(1))), BAD),
    "attribute name with space": (with_op(attr(0x21, "co pies", u4(1))), BAD),
    "negative name-length": (with_op(u1(0x21), u2(0x8001), b"x" * 0x8001, u2(4), u4(1)), BAD),
    "negative value-length": (with_op(u1(0x41), u2(1), b"t", u2(0x8000), b"x" * 0x8000), BAD),
    "negative value-length integer": (
        with_op(u1(0x21), u2(1), b"c", u2(0x8004), b"x" * 0x8004),
        BAD,
    ),
    "out-of-band with a value": (with_op(attr(0x13, "x", b"\x00")), BAD),
    "duplicate attribute": (with_op(attr(0x21, "copies", u4(1)), attr(0x21, "copies", u4(2))), BAD),
    "endCollection at top level": (with_op(attr(0x37, "x", b"")), BAD),
    "memberAttrName at top level": (with_op(attr(0x4A, "x", b"m")), BAD),
    "begCollection with a value": (with_op(attr(0x34, "c", b"x"), END_COLLECTION), BAD),
    "collection never ended": (
        with_op(attr(0x34, "c", b""), member_name("m"), member(0x21, u4(1))),
        BAD,
    ),
    "collection ended by end tag": (body(u1(1), attr(0x34, "c", b""), u1(3)), BAD),
    "member value without memberAttrName": (
        with_op(attr(0x34, "c", b""), member(0x21, u4(1)), END_COLLECTION),
        BAD,
    ),
    "member without value": (with_op(attr(0x34, "c", b""), member_name("m"), END_COLLECTION), BAD),
    "member without value before next": (
        with_op(
            attr(0x34, "c", b""),
            member_name("m"),
            member_name("n"),
            member(0x21, u4(1)),
            END_COLLECTION,
        ),
        BAD,
    ),
    "empty memberAttrName": (with_op(attr(0x34, "c", b""), member_name(""), END_COLLECTION), BAD),
    "memberAttrName with space": (
        with_op(attr(0x34, "c", b""), member_name("a b"), member(0x21, u4(1)), END_COLLECTION),
        BAD,
    ),
    "duplicate member": (
        with_op(
            attr(0x34, "c", b""),
            member_name("m"),
            member(0x21, u4(1)),
            member_name("m"),
            member(0x21, u4(2)),
            END_COLLECTION,
        ),
        BAD,
    ),
    "named attribute inside a collection": (
        with_op(attr(0x34, "c", b""), attr(0x21, "m", u4(1)), END_COLLECTION),
        BAD,
    ),
    "endCollection with a value": (
        with_op(attr(0x34, "c", b""), u1(0x37), u2(0), u2(1), b"x"),
        BAD,
    ),
    "nested begCollection with a value": (
        with_op(
            attr(0x34, "c", b""),
            member_name("m"),
            member(0x34, b"x"),
            END_COLLECTION,
            END_COLLECTION,
        ),
        BAD,
    ),
    "member value with bad length": (
        with_op(attr(0x34, "c", b""), member_name("m"), member(0x21, b"\x00"), END_COLLECTION),
        BAD,
    ),
    "collection truncated in member header": (body(u1(1), attr(0x34, "c", b""), b"\x4a\x00"), BAD),
    # limits, at their defaults
    "text of 1024 octets": (with_op(attr(0x41, "t", b"t" * 1024)), TOO_LONG),
    "name of 256 octets": (with_op(attr(0x42, "job-name", b"n" * 256)), TOO_LONG),
    "keyword of 256 octets": (with_op(attr(0x44, "k", b"k" * 256)), TOO_LONG),
    "uri of 1024 octets": (with_op(attr(0x45, "printer-uri", b"u" * 1024)), TOO_LONG),
    "uriScheme of 64 octets": (with_op(attr(0x46, "s", b"s" * 64)), TOO_LONG),
    "charset of 64 octets": (with_op(attr(0x47, "c", b"c" * 64)), TOO_LONG),
    "naturalLanguage of 64 octets": (with_op(attr(0x48, "l", b"l" * 64)), TOO_LONG),
    "mimeMediaType of 256 octets": (with_op(attr(0x49, "m", b"m" * 256)), TOO_LONG),
    "octetString of 1024 octets": (with_op(attr(0x30, "o", b"o" * 1024)), TOO_LONG),
    "textWithLanguage text of 1024": (
        with_op(attr(0x35, "t", with_language("en", "t" * 1024))),
        TOO_LONG,
    ),
    "nameWithLanguage name of 256": (
        with_op(attr(0x36, "n", with_language("en", "n" * 256))),
        TOO_LONG,
    ),
    "withLanguage language of 64": (
        with_op(attr(0x36, "n", with_language("l" * 64, "n"))),
        TOO_LONG,
    ),
    "attribute name of 256": (with_op(attr(0x21, "n" * 256, u4(1))), TOO_LONG),
    "member name of 256": (
        with_op(attr(0x34, "c", b""), member_name("m" * 256), member(0x21, u4(1)), END_COLLECTION),
        TOO_LONG,
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_decoder_refuses(case: str) -> None:
    data, status = MALFORMED[case]
    with pytest.raises(IppDecodeError) as caught:
        decode_message(data)
    assert caught.value.status is status, str(caught.value)
    # the streaming parser refuses the same input, fed whole or octet by octet
    for step in (len(data) or 1, 1):
        parser = MessageParser()
        with pytest.raises(IppDecodeError):
            for i in range(0, len(data), step):
                parser.feed(data[i : i + step])
            parser.close()


def nested(depth: int) -> bytes:
    """A collection nested ``depth`` deep."""
    out = attr(0x34, "c", b"")
    for _ in range(depth - 1):
        out += member_name("m") + member(0x34, b"")
    out += member_name("leaf") + member(0x21, u4(1))
    return out + END_COLLECTION * depth


def test_depth_limit() -> None:
    assert decode_message(with_op(nested(10)))[0].groups[0].attributes[0].name == "c"
    with pytest.raises(IppDecodeError) as caught:
        decode_message(with_op(nested(11)))
    assert caught.value.status is TOO_LARGE
    assert decode_message(with_op(nested(11)), Limits(max_depth=11))[1] > 0


def test_attribute_count_limit_counts_members() -> None:
    attributes = b"".join(attr(0x21, f"a{i}", u4(i)) for i in range(5))
    assert decode_message(with_op(attributes), Limits(max_attributes=5))
    with pytest.raises(IppDecodeError) as caught:
        decode_message(with_op(attributes), Limits(max_attributes=4))
    assert caught.value.status is TOO_LARGE
    with pytest.raises(IppDecodeError):  # 1 attribute + 2x10 members would be 21
        decode_message(with_op(nested(10)), Limits(max_attributes=10))


def test_values_limit() -> None:
    values = attr(0x21, "x", u4(0)) + b"".join(extra(0x21, u4(i)) for i in range(1, 10))
    assert (
        len(decode_message(with_op(values), Limits(max_values=10))[0].groups[0]["x"].values) == 10
    )
    with pytest.raises(IppDecodeError) as caught:
        decode_message(with_op(values), Limits(max_values=9))
    assert caught.value.status is TOO_LARGE
    member_values = (
        attr(0x34, "c", b"")
        + member_name("m")
        + member(0x21, u4(0))
        + member(0x21, u4(1))
        + END_COLLECTION
    )
    with pytest.raises(IppDecodeError):
        decode_message(with_op(member_values), Limits(max_values=1))


def test_groups_limit() -> None:
    data = body(u1(2) * 5, u1(3))
    assert len(decode_message(data, Limits(max_groups=5))[0].groups) == 5
    with pytest.raises(IppDecodeError) as caught:
        decode_message(data, Limits(max_groups=4))
    assert caught.value.status is TOO_LARGE


def test_message_size_limit_whole_and_streamed() -> None:
    data = with_op(attr(0x41, "t", b"t" * 1000)) + b"document"
    attribute_part = len(data) - len(b"document")
    assert decode_message(data, Limits(max_message_bytes=attribute_part))[1] == attribute_part
    small = Limits(max_message_bytes=attribute_part - 1)
    with pytest.raises(IppDecodeError) as caught:
        decode_message(data, small)
    assert caught.value.status is TOO_LARGE
    parser = MessageParser(small)
    with pytest.raises(IppDecodeError) as caught:
        for i in range(0, len(data), 100):
            parser.feed(data[i : i + 100])
    assert caught.value.status is TOO_LARGE


def test_limits_above_the_wire_maximum_still_refuse_negative_lengths() -> None:
    huge = Limits(max_text=100_000, max_keyword=100_000, max_attribute_name=100_000)
    for case in ("negative value-length", "negative name-length"):
        with pytest.raises(IppDecodeError) as caught:
            decode_message(MALFORMED[case][0], huge)
        assert caught.value.status is BAD
    keyword = with_op(u1(0x44), u2(1), b"k", u2(0x8000), b"k" * 0x8000)
    with pytest.raises(IppDecodeError):
        decode_message(keyword, huge)


def test_duplicates_allowed_by_config_and_first_wins() -> None:
    data = with_op(attr(0x21, "copies", u4(1)), attr(0x21, "copies", u4(2)))
    group = decode_message(data, Limits(reject_duplicates=False))[0].groups[0]
    assert len(group) == 2 and group["copies"].value == 1


def test_same_name_in_different_groups_is_fine() -> None:
    data = body(u1(2), attr(0x21, "job-id", u4(1)), u1(2), attr(0x21, "job-id", u4(2)), u1(3))
    assert [g["job-id"].value for g in decode_message(data)[0].groups] == [1, 2]


def test_lenient_limits_accept_what_clients_overdo() -> None:
    data = with_op(
        attr(0x42, "job-name", "ü".encode() * 1000), attr(0x45, "printer-uri", b"u" * 5000)
    )
    with pytest.raises(IppDecodeError):
        decode_message(data)
    message, _ = decode_message(data, Limits.lenient())
    assert message.groups[0]["job-name"].value == "ü" * 1000
    assert Limits.lenient(max_depth=3).max_depth == 3
    assert Limits.lenient().max_text == 0x7FFF


# --------------------------------------------------------------------------------------------
# MessageParser
# --------------------------------------------------------------------------------------------


def test_parser_returns_the_message_once_and_keeps_document_start() -> None:
    data = A1_BYTES + b"%PDF-1.7 body"
    parser = MessageParser()
    got: list[Message] = []
    for i in range(0, len(data), 7):
        result = parser.feed(data[i : i + 7])
        if result is not None:
            got.append(result)
            break
    assert got == [A1_MESSAGE]
    assert parser.done and parser.message == A1_MESSAGE
    consumed = (len(A1_BYTES) // 7 + 1) * 7
    assert parser.remaining == data[len(A1_BYTES) : consumed]
    assert parser.close() == A1_MESSAGE
    with pytest.raises(RuntimeError):
        parser.feed(b"more document")


def test_parser_with_everything_in_one_piece_and_empty_pieces() -> None:
    parser = MessageParser()
    assert parser.feed(b"") is None
    assert parser.feed(A1_BYTES + b"doc") == A1_MESSAGE
    assert parser.remaining == b"doc"
    parser = MessageParser()
    assert parser.feed(memoryview(A1_BYTES)) == A1_MESSAGE
    assert parser.remaining == b""


def test_parser_close_before_the_end_is_an_error() -> None:
    parser = MessageParser()
    parser.feed(A1_BYTES[:-1])
    assert not parser.done
    with pytest.raises(IppDecodeError):
        parser.close()


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert decode_message(bytearray(A1_BYTES))[0] == A1_MESSAGE
    assert decode_message(memoryview(A1_BYTES + b"x"))[1] == len(A1_BYTES)


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

_token = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40
)
_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=30)
_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60).filter(
    lambda s: len(s.encode()) <= 255
)
_int32 = st.integers(-(2**31), 2**31 - 1)
_tz = st.integers(-14 * 60 + 1, 14 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
_datetimes = st.builds(
    lambda d, ds, tz: d.replace(microsecond=ds * 100_000, tzinfo=tz),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(0, 9),
    _tz,
)

_SIMPLE: dict[ValueTag, st.SearchStrategy[Value]] = {
    ValueTag.INTEGER: _int32,
    ValueTag.ENUM: _int32,
    ValueTag.BOOLEAN: st.booleans(),
    ValueTag.OCTET_STRING: st.binary(max_size=60),
    ValueTag.DATE_TIME: _datetimes,
    ValueTag.RESOLUTION: st.builds(Resolution, _int32, _int32, st.sampled_from(ResolutionUnits)),
    ValueTag.RANGE_OF_INTEGER: st.builds(Range, _int32, _int32),
    ValueTag.TEXT_WITH_LANGUAGE: st.builds(TextWithLanguage, _text, _token),
    ValueTag.NAME_WITH_LANGUAGE: st.builds(NameWithLanguage, _text, _token),
    ValueTag.TEXT: _text,
    ValueTag.NAME: _text,
    ValueTag.KEYWORD: _token,
    ValueTag.URI: _token,
    ValueTag.URI_SCHEME: _token,
    ValueTag.CHARSET: _token,
    ValueTag.NATURAL_LANGUAGE: _token,
    ValueTag.MIME_MEDIA_TYPE: st.sampled_from(
        ["application/pdf", "image/pwg-raster", "text/plain; charset=utf-8", 'a/b; x="y z"']
    ),
}
for _oob in (t for t in ValueTag if t.is_out_of_band):
    _SIMPLE[_oob] = st.just(OutOfBand(_oob))

_tagged_simple = st.one_of([st.tuples(st.just(tag), strategy) for tag, strategy in _SIMPLE.items()])


def _attributes(values: st.SearchStrategy[tuple[ValueTag, Value]]) -> st.SearchStrategy[Attribute]:
    def build(
        name: str, first: tuple[ValueTag, Value], more: list[tuple[ValueTag, Value]], same: bool
    ) -> Attribute:
        if same:  # most attributes have one tag for all values
            more = [(first[0], v) for t, v in more if t == first[0]]
        return Attribute.mixed(name, [first, *more])

    return st.builds(build, _names, values, st.lists(values, max_size=2), st.booleans())


def _collections(
    children: st.SearchStrategy[tuple[ValueTag, Value]],
) -> st.SearchStrategy[tuple[ValueTag, Value]]:
    members = st.lists(_attributes(children), max_size=3, unique_by=lambda m: m.name)
    return st.tuples(st.just(ValueTag.BEG_COLLECTION), members.map(Collection))


_tagged_values = st.recursive(_tagged_simple, _collections, max_leaves=5)
_groups = st.builds(
    lambda tag, attrs: AttributeGroup(tag, tuple(attrs)),
    st.sampled_from([t for t in DelimiterTag if t is not DelimiterTag.END]),
    st.lists(_attributes(_tagged_values), max_size=4, unique_by=lambda x: x.name),
)
_messages = st.builds(
    Message,
    st.tuples(st.integers(0, 255), st.integers(0, 255)),
    st.integers(0, 0xFFFF),
    _int32,
    st.lists(_groups, max_size=3).map(tuple),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages, st.binary(max_size=20))
def test_property_round_trip(message: Message, document: bytes) -> None:
    data = encode_message(message)
    decoded, offset = decode_message(data + document, Limits.lenient())
    assert decoded == message
    assert offset == len(data)
    assert encode_message(decoded) == data


def _decode_or_refuse(data: bytes) -> tuple[Message, int] | None:
    try:
        return decode_message(data)
    except IppDecodeError:
        return None


def _parse_in_chunks(data: bytes, sizes: list[int]) -> tuple[Message, int] | None:
    parser = MessageParser()
    pos = 0
    try:
        for size in [*sizes, len(data)]:
            piece = data[pos : pos + size]
            pos += len(piece)
            message = parser.feed(piece)
            if message is not None:
                return message, pos - len(parser.remaining)
            if pos >= len(data):
                break
        parser.close()
    except IppDecodeError:
        return None
    raise AssertionError("close() without a message must raise")  # pragma: no cover


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_property_arbitrary_bytes_raise_only_the_codec_error(data: bytes) -> None:
    _decode_or_refuse(data)
    _decode_or_refuse(header(2) + b"\x01" + data)
    _parse_in_chunks(data, [3, 1, 5])


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    message = draw(_messages)
    data = bytearray(encode_message(message))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 4))]
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated(), st.lists(st.integers(1, 64), max_size=20))
def test_property_mutated_messages_raise_only_the_codec_error(
    data: bytes, sizes: list[int]
) -> None:
    whole = _decode_or_refuse(data)
    streamed = _parse_in_chunks(data, sizes)
    assert (whole is None) == (streamed is None)
    if whole is not None:
        assert whole == streamed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages, st.binary(max_size=50), st.lists(st.integers(1, 50), max_size=40))
def test_property_chunked_parser_matches_decode_message(
    message: Message, document: bytes, sizes: list[int]
) -> None:
    data = encode_message(message) + document
    limits = Limits.lenient()
    expected = decode_message(data, limits)
    parser = MessageParser(limits)
    pos = 0
    result = None
    for size in [*sizes, len(data)]:
        piece = data[pos : pos + size]
        pos += len(piece)
        result = parser.feed(piece)
        if result is not None:
            break
    assert result == expected[0]
    assert pos - len(parser.remaining) == expected[1]
    assert parser.remaining + data[pos:] == document


# --------------------------------------------------------------------------------------------
# A real client: the bytes ipptool (cups-ipp-utils) sends
# --------------------------------------------------------------------------------------------

IPPTOOL = shutil.which("ipptool")
TESTS = Path("/usr/share/cups/ipptool")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every IPP POST with successful-ok and keeps the request bodies."""

    bodies: list[bytes]
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    break
                body += chunk
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.bodies.append(body)
        request, _ = decode_message(body)
        response = encode_message(
            make_response(
                StatusCode.SUCCESSFUL_OK,
                request.request_id,
                groups=[
                    AttributeGroup(
                        JOB,
                        (a("job-id", ValueTag.INTEGER, 1), a("job-uri", ValueTag.URI, "ipp://x/1")),
                    )
                ],
                version=request.version,
            )
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/ipp")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[bytes]]]:
    bodies: list[bytes] = []
    handler = type("Handler", (_Recorder,), {"bodies": bodies})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], bodies
    finally:
        server.shutdown()
        server.server_close()


@requires(IPPTOOL is not None and TESTS.is_dir(), "ipptool not installed")
@pytest.mark.parametrize("mode", ["-C", "-L"])  # chunked and Content-Length requests
def test_ipptool_requests_decode(
    recorder: tuple[int, list[bytes]], tmp_path: Path, mode: str
) -> None:
    port, bodies = recorder
    document = tmp_path / "hello.txt"
    document.write_bytes(b"hello from ipptool\n" * 50)
    assert IPPTOOL is not None
    uri = f"ipp://127.0.0.1:{port}/ipp/print"
    for test in ("get-printer-attributes.test", "print-job-media-col.test"):
        subprocess.run(
            [IPPTOOL, mode, "-T", "10", "-f", str(document), uri, str(TESTS / test)],
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert len(bodies) == 2, bodies
    gpa, _ = decode_message(bodies[0])
    assert gpa.operation is Operation.GET_PRINTER_ATTRIBUTES
    assert gpa.version == (2, 0)
    ops = gpa.operation_attributes
    assert ops is not None
    assert ops.names()[:3] == ["attributes-charset", "attributes-natural-language", "printer-uri"]
    assert ops["requested-attributes"].values == ("all", "media-col-database")
    assert ops["printer-uri"].value == uri

    print_job, offset = decode_message(bodies[1])
    assert print_job.operation is Operation.PRINT_JOB
    assert bodies[1][offset:] == document.read_bytes()
    media_col = print_job.get(JOB, "media-col")
    assert media_col is not None and isinstance(media_col.value, Collection)
    size = media_col.value["media-size"].value
    assert isinstance(size, Collection) and size["x-dimension"].value == 10160
    quality = print_job.get(JOB, "print-quality")
    assert quality is not None and quality.tag is ValueTag.ENUM
    # what we decode we encode back octet for octet
    assert encode_message(print_job) == bodies[1][:offset]
    assert encode_message(gpa) == bodies[0]
    # and the streaming parser agrees, fed in pieces
    parser = MessageParser()
    for i in range(0, len(bodies[1]), 13):
        if parser.feed(bodies[1][i : i + 13]) is not None:
            break
    assert parser.message == print_job


# --------------------------------------------------------------------------------------------
# Kept encodings: the same octets, and nothing kept that could change
# --------------------------------------------------------------------------------------------


def test_kept_attributes_encode_as_before() -> None:
    size = Collection(
        (
            Attribute("x-dimension", ValueTag.INTEGER, (21000,)),
            Attribute("y-dimension", ValueTag.INTEGER, (29700,)),
        )
    )
    media = Collection(
        (
            Attribute("media-size", ValueTag.BEG_COLLECTION, (size,)),
            Attribute("media-type", ValueTag.KEYWORD, ("stationery",)),
        )
    )
    attrs = (
        Attribute("media-col-default", ValueTag.BEG_COLLECTION, (media,)),
        Attribute("copies-supported", ValueTag.RANGE_OF_INTEGER, (Range(1, 99),)),
        Attribute("printer-name", ValueTag.NAME, ("mfp",)),
    )
    message = make_response(
        StatusCode.SUCCESSFUL_OK, 7, groups=[AttributeGroup(DelimiterTag.PRINTER, attrs)]
    )
    before = encode_message(message)
    keep_encoded(attrs)
    assert encode_message(message) == before
    assert encode_message(message) == before  # the collection's own octets, kept on it
    assert b"".join(encode_attribute(a) for a in attrs) in before
    assert decode_message(before)[0] == message
    assert Collection(media.members) == media and hash(Collection(media.members)) == hash(media)


def test_an_attribute_holding_a_bytearray_is_encoded_each_time() -> None:
    raw = bytearray(b"level=50;")
    supply = Attribute("printer-supply", ValueTag.OCTET_STRING, (raw,))
    collection = Attribute("c", ValueTag.BEG_COLLECTION, (Collection((supply,)),))
    keep_encoded([supply, collection])
    encode_attribute(collection)
    raw[6:8] = b"10"
    assert encode_attribute(supply).endswith(b"level=10;")
    assert encode_attribute(collection).count(b"level=10;") == 1


def test_a_kept_group_encodes_as_before_and_a_mutable_one_is_not_kept() -> None:
    attrs = (
        Attribute("printer-name", ValueTag.NAME, ("mfp",)),
        Attribute("copies-supported", ValueTag.RANGE_OF_INTEGER, (Range(1, 99),)),
    )
    group = AttributeGroup(DelimiterTag.PRINTER, attrs)
    message = make_response(StatusCode.SUCCESSFUL_OK, 3, groups=[group])
    before = encode_message(message)
    keep_encoded_group(group)
    assert group._wire is not None and group._wire in before
    assert encode_message(message) == before
    assert decode_message(before)[0] == message
    # a bytearray may change after the group is made: such a group is encoded every time
    raw = bytearray(b"level=50;")
    changing = AttributeGroup(
        DelimiterTag.PRINTER, (Attribute("printer-supply", ValueTag.OCTET_STRING, (raw,)),)
    )
    keep_encoded_group(changing)
    assert changing._wire is None
    raw[6:8] = b"10"
    answer = encode_message(make_response(StatusCode.SUCCESSFUL_OK, 1, groups=[changing]))
    assert answer.count(b"level=10;") == 1
    with pytest.raises(IppEncodeError):
        keep_encoded_group(AttributeGroup(DelimiterTag.END, ()))


def test_forgotten_attributes_are_encoded_from_their_values_again() -> None:
    from mfpd.codecs.ipp import encode

    attribute = Attribute("printer-up-time", ValueTag.INTEGER, (42,))
    keep_encoded([attribute])
    assert id(attribute) in encode._KEPT
    kept_octets = encode._kept_octets
    forget_encoded([attribute, Attribute("never-kept", ValueTag.INTEGER, (1,))])
    assert id(attribute) not in encode._KEPT
    assert encode._kept_octets == kept_octets - len(encode_attribute(attribute))
    assert encode_attribute(attribute).endswith(u2(4) + u4(42))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages, st.lists(_int32, min_size=1, max_size=4), st.binary(max_size=20))
def test_property_a_remembered_request_is_what_decoding_gives(
    message: Message, request_ids: list[int], document: bytes
) -> None:
    memo = RequestMemo(Limits.lenient(), entries=4, max_octets=1 << 16)
    data = encode_message(message)
    for request_id in request_ids:  # the same request again, renumbered as a client does
        again = encode_message(Message(message.version, message.code, request_id, message.groups))
        expected = decode_message(again + document, Limits.lenient())
        assert memo.decode(again + document) == expected
        assert memo.decode(again + document) == expected
    assert len(memo._known) <= (0 if document else 1)
    assert memo.decode(data) == decode_message(data, Limits.lenient())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages, st.lists(st.integers(-(2**32), 2**32), min_size=1, max_size=4))
def test_property_a_remembered_answer_is_what_encoding_gives(
    message: Message, request_ids: list[int]
) -> None:
    memo = AnswerMemo()
    for group in message.groups:
        with contextlib.suppress(IppEncodeError):
            keep_encoded_group(group)
    for request_id in request_ids:  # the same groups again, for each request of a client
        again = Message(message.version, message.code, request_id, message.groups)
        for _ in range(2):
            try:
                expected = encode_message(again)
            except IppEncodeError:
                with pytest.raises(IppEncodeError):
                    memo.encode(again)
            else:
                assert memo.encode(again) == expected


def test_the_answer_memo_takes_only_the_same_kept_groups() -> None:
    memo = AnswerMemo()
    kept = AttributeGroup(DelimiterTag.PRINTER, (a("printer-state", ValueTag.ENUM, 3),))
    keep_encoded_group(kept)
    first = memo.encode(Message((2, 0), 0, 1, (kept,)))
    assert memo._last is not None and memo._last[2][0] is kept
    assert memo.encode(Message((2, 0), 0, 7, (kept,))) == first[:4] + u4(7) + first[8:]
    assert memo.encode(Message((1, 1), 0, 7, (kept,)))[:2] == b"\x01\x01"  # version differs
    # an equal group that is another object, and one whose octets are not kept: encoded
    other = AttributeGroup(DelimiterTag.PRINTER, (a("printer-state", ValueTag.ENUM, 5),))
    assert memo.encode(Message((1, 1), 0, 7, (other,))) == encode_message(
        Message((1, 1), 0, 7, (other,))
    )
    assert memo._last is not None and memo._last[2][0] is kept  # `other` is not remembered


def test_the_request_memo_is_bounded_and_remembers_no_refusal() -> None:
    memo = RequestMemo(Limits(reject_duplicates=False), entries=3, max_octets=512)
    requests = [
        encode_message(make_request(Operation.GET_JOBS, 1, [a("limit", ValueTag.INTEGER, n)]))
        for n in range(10)
    ]
    for data in requests:
        assert memo.decode(data) == decode_message(data)
        assert memo.decode(data)[0].groups is memo.decode(data)[0].groups  # from memory
    assert len(memo._known) == 3
    # not kept: over max_octets, or with document data after the attributes
    big = encode_message(
        make_request(Operation.GET_JOBS, 1, [a("job-name", ValueTag.NAME, "u" * 200)] * 3)
    )
    assert len(big) > 512
    assert memo.decode(big) == decode_message(big, Limits(reject_duplicates=False))
    assert memo.decode(requests[0] + b"%PDF") == decode_message(requests[0] + b"%PDF")
    assert len(memo._known) == 3 and all(len(k) < 512 for k in memo._known)
    # a refusal is made again each time, never taken from memory
    bad = requests[1][:-1]  # no end-of-attributes
    for _ in range(2):
        with pytest.raises(IppDecodeError):
            memo.decode(bad)
    # a request-id of 0 is decoded as sent (the server answers it with bad-request)
    zero = bytearray(requests[9])
    zero[4:8] = u4(0)
    assert memo.decode(bytes(zero))[0].request_id == 0
