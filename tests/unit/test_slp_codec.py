"""The SLPv2 codec (RFC 2608): requests read, replies built and cut at the MTU, attribute
list escapes (section 5), LDAPv3 predicates (8.1), and a bounded fuzz of the parser.

The requests are built by tests/slp_client.py, which is written from the RFC with struct
alone, so a shared misreading of the RFC would have to be made twice."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.codecs import slp
from tests import slp_client as ua

ATTRS: dict[str, list[slp.Value]] = {
    "printer-name": ["XRX-WC7755"],
    "printer-location": ["Room 101 (1st floor), B"],
    "color-supported": [True],
    "pages-per-minute": [55],
    "sides-supported": ["one-sided", "two-sided-long-edge"],
}


def test_srvrqst_is_read_as_nmap_sends_it() -> None:
    # nmap's svrloc probe, byte for byte (nmap-service-probes): MCAST flag set, "default".
    probe = (
        b"\x02\x01\x00\x006 \x00\x00\x00\x00\x00\x01\x00\x02en\x00\x00\x00\x15"
        b"service:service-agent\x00\x07default\x00\x00\x00\x00"
    )
    request = slp.parse(probe)
    assert isinstance(request, slp.SrvRqst)
    assert request.service_type == "service:service-agent"
    assert request.scopes == ("default",) and request.header.multicast
    assert request.header.xid == 1 and request.header.lang == "en"


def test_requests_of_the_independent_client_are_read() -> None:
    rq = slp.parse(ua.srvrqst("service:printer:ipp", "DEFAULT, other", "(a=b)", "10.0.0.1"))
    assert isinstance(rq, slp.SrvRqst)
    assert rq.scopes == ("DEFAULT", "other") and rq.responders == ("10.0.0.1",)
    assert rq.predicate == "(a=b)"
    attr = slp.parse(ua.attrrqst("service:printer", "printer-name,*supported"))
    assert isinstance(attr, slp.AttrRqst) and attr.tags == ("printer-name", "*supported")
    types = slp.parse(ua.srvtyperqst())
    assert isinstance(types, slp.SrvTypeRqst) and types.naming_authority is None
    reg = slp.parse(ua.srvreg("service:x://1.2.3.4", "service:x", "(a=1)"))
    assert isinstance(reg, slp.Refused) and reg.header.function == slp.Function.SRV_REG


def test_replies_decode_with_the_independent_client() -> None:
    header = slp.parse(ua.srvrqst("service:printer")).header
    urls = [slp.UrlEntry(f"service:printer:ipp://10.0.0.{i}:631/ipp/print", 10800) for i in (1, 2)]
    reply = ua.decode(slp.encode_srv_rply(header, urls, 1400))
    assert reply["function"] == 2 and reply["xid"] == header.xid and reply["lang"] == "en"
    assert reply["urls"] == [u.url for u in urls] and reply["flags"] == 0
    assert reply["length"] == reply["size"]
    advert = ua.decode(slp.encode_sa_advert(header, "service:service-agent://10.0.0.1",
                                            ["DEFAULT"], ""))  # fmt: skip
    assert advert["function"] == 11 and advert["scopes"] == "DEFAULT"
    types = ua.decode(slp.encode_srv_type_rply(header, ["service:printer:ipp", "x"], 1400))
    assert types["types"] == "service:printer:ipp,x"


def test_replies_are_cut_at_the_mtu_with_overflow_set() -> None:
    header = slp.parse(ua.attrrqst("service:printer")).header
    attributes = [slp.encode_attribute(f"a{i}", ["v" * 40]) for i in range(40)]
    whole = slp.encode_attr_rply(header, attributes, 65000)
    assert len(whole) > 1400 and ua.decode(whole)["flags"] == 0
    cut = slp.encode_attr_rply(header, attributes, 1400)
    decoded = ua.decode(cut)
    assert len(cut) <= 1400 and decoded["flags"] & ua.OVERFLOW
    assert decoded["length"] == len(cut)
    # Whole attributes only: the list still reads.
    assert len(slp.parse_attribute_list(decoded["attributes"])) == decoded["attributes"].count("(")
    urls = [slp.UrlEntry("service:printer:raw-tcp://10.0.0.1:" + str(p), 1) for p in range(60)]
    rply = slp.encode_srv_rply(header, urls, 512)
    assert len(rply) <= 512 and ua.decode(rply)["flags"] & ua.OVERFLOW
    assert len(ua.decode(rply)["urls"]) < 60


def test_attribute_list_escapes_reserved_characters() -> None:
    text = slp.encode_attribute("printer-location", ["Room 101 (1st floor), B"])
    assert text == "(printer-location=Room 101 \\28" + "1st floor\\29\\2C B)"
    assert slp.encode_attribute("color-supported", [True]) == "(color-supported=true)"
    assert slp.encode_attribute("pages-per-minute", [55]) == "(pages-per-minute=55)"
    assert slp.encode_attribute("x-keyword", []) == "x-keyword"
    assert slp.escape("a*b_c", tag=True) == "a\\2Ab\\5Fc" and slp.escape("a*b") == "a*b"
    joined = ",".join(slp.encode_attribute(n, v) for n, v in ATTRS.items())
    parsed = slp.parse_attribute_list(joined)
    assert parsed["printer-location"] == ["Room 101 (1st floor), B"]
    assert parsed["sides-supported"] == ["one-sided", "two-sided-long-edge"]


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        ("", True),
        ("(printer-name=XRX-WC7755)", True),
        ("(printer-name=xrx-wc7755)", True),  # RFC 2608 6.4: case-insensitive
        ("(printer-name=XRX*)", True),
        ("(printer-name=*7755)", True),
        ("(printer-name=HP*)", False),
        ("(printer-location=room  101 \\28" + "1st floor\\29\\2C b)", True),
        ("(color-supported=true)", True),
        ("(color-supported=false)", False),
        ("(pages-per-minute>=50)", True),
        ("(pages-per-minute<=50)", False),
        ("(sides-supported=two-sided-long-edge)", True),
        ("(printer-name=*)", True),
        ("(no-such=*)", False),
        ("(&(color-supported=true)(pages-per-minute>=40))", True),
        ("(&(color-supported=true)(pages-per-minute>=60))", False),
        ("(|(printer-name=HP*)(printer-name=XRX*))", True),
        ("(!(printer-name=HP*))", True),
        ("(&(printer-name~=xrx-wc7755)(!(color-supported=false)))", True),
    ],
)
def test_predicates(predicate: str, expected: bool) -> None:
    assert slp.predicate_matches(predicate, ATTRS) is expected


@pytest.mark.parametrize(
    "predicate", ["(printer-name=x", "printer-name=x", "(&)", "((a=b))", "(a=b))", "(" * 40]
)
def test_unreadable_predicates_raise(predicate: str) -> None:
    with pytest.raises(slp.PredicateError):
        slp.predicate_matches(predicate, ATTRS)


def test_tag_wildcards() -> None:
    assert slp.tag_matches("*supported", "sides-supported")
    assert slp.tag_matches("PRINTER-*", "printer-name")
    assert not slp.tag_matches("printer-name", "printer-name-x")


def test_bad_headers_carry_the_error_to_answer() -> None:
    request = ua.srvrqst("service:printer")
    with pytest.raises(slp.SlpError) as short:
        slp.parse(request[:10])
    assert short.value.header is None
    with pytest.raises(slp.SlpError) as v1:
        slp.parse(b"\x01" + request[1:])
    assert v1.value.header is None  # SLPv1: another layout, nothing to answer with
    with pytest.raises(slp.SlpError) as cut:
        slp.parse(request[:-3])
    assert cut.value.header is not None and cut.value.code == slp.ErrorCode.PARSE_ERROR
    # A mandatory extension (RFC 2608 9.1): OPTION_NOT_UNDERSTOOD.
    ext_at = len(request)
    with_ext = bytearray(request + struct.pack("!H3s", 0x4001, b"\0\0\0"))
    with_ext[2:5] = len(with_ext).to_bytes(3, "big")
    with_ext[7:10] = ext_at.to_bytes(3, "big")
    with pytest.raises(slp.SlpError) as ext:
        slp.parse(bytes(with_ext))
    assert ext.value.code == slp.ErrorCode.OPTION_NOT_UNDERSTOOD
    error = slp.error_reply(ext.value.header, ext.value.code)  # type: ignore[arg-type]
    assert ua.decode(error)["error"] == 12 and ua.decode(error)["function"] == 2


def test_srvack_refusing_a_registration_is_smaller_than_any_srvreg() -> None:
    reg = ua.srvreg("service:x://1", "service:x", "")
    request = slp.parse(reg)
    ack = slp.error_reply(request.header, slp.ErrorCode.MSG_NOT_SUPPORTED)
    assert ua.decode(ack) == {**ua.decode(ack), "function": 5, "error": 14}
    assert len(ack) < len(reg)


VALID = [
    ua.srvrqst("service:printer", predicate="(&(a=b)(c=*))"),
    ua.attrrqst("service:printer:ipp://10.0.0.1:631/ipp/print", "printer-*"),
    ua.srvtyperqst(),
    ua.srvreg("service:x://1", "service:x", "(a=1)"),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=200),
        st.tuples(
            st.sampled_from(VALID), st.integers(0, 120), st.binary(min_size=1, max_size=4)
        ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]),
    ),
    st.text(max_size=60),
)
def test_fuzz_parser_and_predicates(data: bytes, predicate: str) -> None:
    """Any datagram: a Request or an SlpError, nothing else; any predicate: a bool or a
    PredicateError."""
    try:
        request = slp.parse(data)
    except slp.SlpError as exc:
        if exc.header is not None:
            assert slp.error_reply(exc.header, exc.code)[:2] in {
                b"\x02\x02", b"\x02\x05", b"\x02\x07", b"\x02\x0a",
            }  # fmt: skip
    else:
        assert isinstance(request, slp.SrvRqst | slp.AttrRqst | slp.SrvTypeRqst | slp.Refused)
    with contextlib.suppress(slp.PredicateError):
        assert slp.predicate_matches(predicate, ATTRS) in (True, False)


def test_wildcards_take_linear_time() -> None:
    """A predicate of many `*` against a long value: a backtracking regular expression
    would take longer than the test suite; the piecewise match answers at once."""
    value = "a" * 3000 + "b"
    predicate = "(printer-name=" + "a*" * 600 + "c*b)"
    assert slp.predicate_matches(predicate, {"printer-name": [value]}) is False
    assert slp.wildcard_matches(["a", "", "b"], "axxb")
    assert not slp.wildcard_matches(["ab", "ba"], "aba")


def test_long_runs_of_white_space_are_read_in_linear_time() -> None:
    predicate = "(a" + " " * 60000 + "x)"
    with pytest.raises(slp.PredicateError):
        slp.predicate_matches(predicate, ATTRS)
    assert slp.predicate_matches("(printer-name" + " " * 60000 + "=XRX*)", ATTRS)
