"""Unit tests of the IPP attribute registry (IANA IPP registry syntaxes)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mfpd.codecs.ipp import (
    REGISTRY,
    Attribute,
    AttributeGroup,
    Collection,
    DelimiterTag,
    Message,
    NameWithLanguage,
    OutOfBand,
    Range,
    Resolution,
    TextWithLanguage,
    ValueTag,
    attribute,
    decode_message,
    encode_message,
    names_of_kind,
    syntax_for,
)
from mfpd.codecs.ipp.registry import KINDS
from tests.conftest import requires

V = ValueTag


def test_registry_covers_every_section() -> None:
    counts = {kind: len(names_of_kind(kind)) for kind in KINDS}
    assert counts["operation"] >= 50
    assert counts["job-template"] >= 70
    assert counts["job-description"] >= 60
    assert counts["printer-description"] >= 300
    assert counts["document-description"] >= 35
    assert counts["subscription-template"] >= 9
    assert counts["subscription-description"] >= 10
    assert counts["event-notification"] >= 20
    assert len(REGISTRY) >= 530


@pytest.mark.parametrize(
    ("name", "tag", "set_of"),
    [
        # enums, not integers (IANA registry "type1/type2 enum")
        ("printer-state", V.ENUM, False),
        ("job-state", V.ENUM, False),
        ("operations-supported", V.ENUM, True),
        ("finishings", V.ENUM, True),
        ("finishings-default", V.ENUM, True),
        ("finishings-supported", V.ENUM, True),
        ("orientation-requested", V.ENUM, False),
        ("orientation-requested-supported", V.ENUM, True),
        ("print-quality", V.ENUM, False),
        ("print-quality-supported", V.ENUM, True),
        ("document-state", V.ENUM, False),
        ("notify-status-code", V.ENUM, False),
        # keywords, not names or text
        ("sides", V.KEYWORD, False),
        ("printer-state-reasons", V.KEYWORD, True),
        ("job-state-reasons", V.KEYWORD, True),
        ("media", V.KEYWORD, False),
        ("media-supported", V.KEYWORD, True),
        ("ipp-versions-supported", V.KEYWORD, True),
        ("requested-attributes", V.KEYWORD, True),
        ("which-jobs", V.KEYWORD, False),
        ("overrides-supported", V.KEYWORD, True),
        ("job-password-encryption", V.KEYWORD, False),
        ("uri-security-supported", V.KEYWORD, True),
        ("urf-supported", V.KEYWORD, True),
        # octetString (PWG 5100.9, 5100.11)
        ("printer-input-tray", V.OCTET_STRING, True),
        ("printer-output-tray", V.OCTET_STRING, True),
        ("printer-supply", V.OCTET_STRING, True),
        ("printer-alert", V.OCTET_STRING, True),
        ("job-password", V.OCTET_STRING, False),
        ("document-password", V.OCTET_STRING, False),
        ("notify-user-data", V.OCTET_STRING, False),
        # the other syntaxes
        ("attributes-charset", V.CHARSET, False),
        ("attributes-natural-language", V.NATURAL_LANGUAGE, False),
        ("printer-uri", V.URI, False),
        ("printer-uri-supported", V.URI, True),
        ("reference-uri-schemes-supported", V.URI_SCHEME, True),
        ("document-format-supported", V.MIME_MEDIA_TYPE, True),
        ("copies-supported", V.RANGE_OF_INTEGER, False),
        ("printer-resolution-supported", V.RESOLUTION, True),
        ("printer-current-time", V.DATE_TIME, False),
        ("printer-is-accepting-jobs", V.BOOLEAN, False),
        ("printer-name", V.NAME, False),
        ("printer-info", V.TEXT, False),
        ("job-id", V.INTEGER, False),
        ("media-col", V.BEG_COLLECTION, False),
        ("media-col-database", V.BEG_COLLECTION, True),
        ("finishings-col", V.BEG_COLLECTION, True),
        ("overrides", V.BEG_COLLECTION, True),
        ("printer-icc-profiles", V.BEG_COLLECTION, True),
    ],
)
def test_syntax_of(name: str, tag: ValueTag, set_of: bool) -> None:
    syntax = syntax_for(name)
    assert syntax is not None, name
    assert syntax.tag is tag
    assert syntax.set_of is set_of


def test_alternatives_and_lengths() -> None:
    media = REGISTRY["media-supported"]
    assert media.tags == (V.KEYWORD, V.NAME)
    assert REGISTRY["printer-geo-location"].tags == (V.URI, V.UNKNOWN)
    assert REGISTRY["media-col-default"].tags == (V.BEG_COLLECTION, V.NO_VALUE)
    assert REGISTRY["number-up-supported"].tags == (V.INTEGER, V.RANGE_OF_INTEGER)
    assert REGISTRY["printer-name"].max_length == 127
    assert REGISTRY["job-password"].max_length == 255
    assert REGISTRY["status-message"].max_length == 255
    assert REGISTRY["printer-state-message"].max_length is None
    assert REGISTRY["printer-state"].kinds == frozenset(
        {"printer-description", "event-notification"}
    )
    assert syntax_for("no-such-attribute") is None
    assert REGISTRY["media-col"].is_collection and not REGISTRY["media"].is_collection


def test_collection_members() -> None:
    media_col = REGISTRY["media-col"].members
    assert media_col is not None
    for member in (
        "media-size",
        "media-type",
        "media-source",
        "media-top-margin",
        "media-bottom-margin",
        "media-left-margin",
        "media-right-margin",
        "media-size-name",
        "media-source-properties",
    ):
        assert member in media_col, member
    size = media_col["media-size"].members
    assert size is not None and set(size) == {"x-dimension", "y-dimension"}
    assert size["x-dimension"].tags == (V.INTEGER, V.RANGE_OF_INTEGER)
    # the same members wherever media-col is reused
    for name in ("media-col-default", "media-col-ready", "media-col-database"):
        members = REGISTRY[name].members
        assert members is not None and set(members) == set(media_col)
    supported_size = REGISTRY["media-size-supported"].members
    assert supported_size is not None and set(supported_size) == {"x-dimension", "y-dimension"}
    finishings = REGISTRY["finishings-col"].members
    assert finishings is not None and finishings["folding"].set_of
    assert finishings["media-size"].members is not None
    assert set(REGISTRY["cover-front"].members or {}) == {"cover-type", "media", "media-col"}


def test_overrides_members_hold_page_selectors_and_every_job_template_attribute() -> None:
    members = REGISTRY["overrides"].members
    assert members is not None
    # PWG 5100.6 says document-numbers, the Debian ipp-everywhere.test asks for document-number
    for name in ("document-number", "document-numbers", "pages", "document-copies"):
        assert members[name].tag is V.RANGE_OF_INTEGER and members[name].set_of
    for name in names_of_kind("job-template"):
        if name != "overrides":
            assert name in members, name
    assert "overrides" not in members
    assert "resolver-name" in (REGISTRY["job-resolvers-supported"].members or {})


def test_attribute_picks_registered_tags() -> None:
    assert attribute("printer-state", 3) == Attribute("printer-state", V.ENUM, (3,))
    assert attribute("copies", 2) == Attribute("copies", V.INTEGER, (2,))
    assert attribute("sides", "one-sided").tag is V.KEYWORD
    assert attribute("printer-name", "mfp").tag is V.NAME
    assert attribute("printer-info", "desk").tag is V.TEXT
    assert attribute("printer-uri-supported", "ipp://a/", "ipps://a/").values == (
        "ipp://a/",
        "ipps://a/",
    )
    assert (
        attribute("printer-input-tray", b"type=sheetFeedAutoRemovableTray;").tag is V.OCTET_STRING
    )
    assert attribute("printer-is-accepting-jobs", True).tag is V.BOOLEAN
    assert attribute("copies-supported", Range(1, 99)).tag is V.RANGE_OF_INTEGER
    assert attribute("printer-resolution-default", Resolution(600, 600)).tag is V.RESOLUTION
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert attribute("printer-current-time", now).tag is V.DATE_TIME
    assert attribute("printer-location", TextWithLanguage("Büro", "de")).tag is V.TEXT_WITH_LANGUAGE
    assert attribute("job-name", NameWithLanguage("x", "fr")).tag is V.NAME_WITH_LANGUAGE


def test_attribute_out_of_band_and_mixed() -> None:
    unknown = attribute("printer-geo-location", OutOfBand(V.UNKNOWN))
    assert unknown.tag is V.UNKNOWN and unknown.values == (OutOfBand(V.UNKNOWN),)
    assert attribute("media-default", OutOfBand(V.NO_VALUE)).tag is V.NO_VALUE
    mixed = attribute("notify-lease-duration-supported", 0, Range(60, 3600))
    assert mixed.value_tags == (V.INTEGER, V.RANGE_OF_INTEGER)
    names = attribute("job-sheets-supported", "none", NameWithLanguage("Secret", "en"))
    assert names.value_tags == (V.KEYWORD, V.NAME_WITH_LANGUAGE)


def test_attribute_builds_collections_from_dicts() -> None:
    built = attribute(
        "media-col-database",
        {"media-size": {"x-dimension": 21000, "y-dimension": 29700}, "media-type": "stationery"},
        {"media-size": {"x-dimension": Range(7620, 21590), "y-dimension": Range(12700, 35560)}},
    )
    assert built.tag is V.BEG_COLLECTION and len(built.values) == 2
    first = built.values[0]
    assert isinstance(first, Collection)
    size = first["media-size"].value
    assert isinstance(size, Collection) and size["y-dimension"] == Attribute(
        "y-dimension", V.INTEGER, (29700,)
    )
    second = built.values[1]
    assert isinstance(second, Collection)
    custom = second["media-size"].value
    assert isinstance(custom, Collection) and custom["x-dimension"].tag is V.RANGE_OF_INTEGER
    folding = attribute(
        "finishings-col", {"folding": [{"folding-direction": "inward"}, {"folding-offset": 1}]}
    )
    col = folding.value
    assert isinstance(col, Collection) and len(col["folding"].values) == 2
    overrides = attribute("overrides", {"pages": [Range(1, 1)], "media": "na_letter_8.5x11in"})
    assert isinstance(overrides.value, Collection)
    assert list(overrides.value) == ["pages", "media"]
    # built values travel: encode and decode give them back
    message = Message((2, 0), 0, 1, (_group(built, folding, overrides),))
    assert decode_message(encode_message(message))[0] == message


def _group(*attributes: Attribute) -> AttributeGroup:
    return AttributeGroup(DelimiterTag.PRINTER, attributes)


def test_attribute_refuses_what_the_syntax_does_not_allow() -> None:
    with pytest.raises(KeyError):
        attribute("x-vendor-thing", 1)
    with pytest.raises(TypeError):
        attribute("printer-state", "idle")
    with pytest.raises(TypeError):
        attribute("copies", True)
    with pytest.raises(TypeError):
        attribute("printer-name", 5)
    with pytest.raises(TypeError):
        attribute("media-col", [1, 2])
    with pytest.raises(TypeError):
        attribute("copies", object())
    with pytest.raises(ValueError):
        attribute("printer-state", 3, 4)
    with pytest.raises(ValueError):
        attribute("copies")
    with pytest.raises(KeyError):
        attribute("media-col", {"no-such-member": 1})
    with pytest.raises(TypeError):
        attribute("media-col", {"media-size": {"x-dimension": "wide"}})


def test_attribute_with_explicit_tag_skips_the_registry() -> None:
    vendor = attribute("com.example.thing", 7, tag=V.INTEGER)
    assert vendor == Attribute("com.example.thing", V.INTEGER, (7,))
    assert attribute("x", tag=V.NO_VALUE).values == (OutOfBand(V.NO_VALUE),)


_TESTS = Path("/usr/share/cups/ipptool")
_EXPECT = re.compile(r"EXPECT [!?]*([a-z0-9-]+) OF-TYPE ([A-Za-z|]+)")
_IPPTOOL_TYPES = {
    "charset": V.CHARSET,
    "boolean": V.BOOLEAN,
    "keyword": V.KEYWORD,
    "integer": V.INTEGER,
    "rangeOfInteger": V.RANGE_OF_INTEGER,
    "mimeMediaType": V.MIME_MEDIA_TYPE,
    "enum": V.ENUM,
    "naturalLanguage": V.NATURAL_LANGUAGE,
    "name": V.NAME,
    "collection": V.BEG_COLLECTION,
    "text": V.TEXT,
    "uri": V.URI,
    "octetString": V.OCTET_STRING,
    "dateTime": V.DATE_TIME,
    "resolution": V.RESOLUTION,
    "uriScheme": V.URI_SCHEME,
}
# names the test files get wrong (typos of notify-events and page-ranges-supported), syntaxes
# they disagree with the IANA registry on (media-info-supported is boolean there), and an
# attribute no standard defines
_IPPTOOL_DISAGREES = {
    "notify-event",
    "pages-ranges",
    "pages-ranges-supported",
    "media-info-supported",
    "printer-icc-profiles-supported",
}


@requires(_TESTS.is_dir(), "cups-ipp-utils test files not installed")
def test_registry_agrees_with_the_ipptool_conformance_files() -> None:
    """The usual tag of every attribute that ipptool's test files check with OF-TYPE is one
    of the types they accept: what `attribute` sends passes their EXPECT lines."""
    checked = 0
    for path in sorted(_TESTS.glob("*.test")):
        for name, types in _EXPECT.findall(path.read_text(errors="replace")):
            if name in _IPPTOOL_DISAGREES:
                continue
            syntax = syntax_for(name)
            assert syntax is not None, f"{path.name}: {name} is not registered"
            accepted = {_IPPTOOL_TYPES[t] for t in types.split("|") if t in _IPPTOOL_TYPES}
            if accepted:
                assert syntax.tag in accepted, f"{path.name}: {name} {types} vs {syntax.text}"
                checked += 1
    assert checked > 150
