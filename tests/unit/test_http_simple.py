"""The fast path's HTTP/1.1 recogniser: it takes exactly the plain complete POST, and leaves
everything else (which it answers NOT_SIMPLE) to the full HTTP implementation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpd.codecs.http_simple import (
    NOT_SIMPLE,
    DateHeader,
    SimpleRequest,
    parse_simple,
    response_head,
)

PATHS = ("/ipp/print", "/")
BODY = b"\x02\x00\x00\x0b\x00\x00\x00\x01\x03"


def post(*headers: bytes, body: bytes = BODY, line: bytes = b"POST /ipp/print HTTP/1.1") -> bytes:
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


PLAIN = (b"Host: printer:631", b"Content-Type: application/ipp", b"Content-Length: 9")


def test_a_plain_post_is_taken_whole() -> None:
    data = post(*PLAIN) + b"POST / HTTP/1.1\r\n"  # the start of a pipelined next request
    request = parse_simple(data, PATHS, 1024)
    assert isinstance(request, SimpleRequest)
    assert (request.path, request.content_type, request.host) == ("/ipp/print", "application/ipp",
                                                                  "printer:631")  # fmt: skip
    assert request.body == BODY and not request.close
    assert data[request.size :] == b"POST / HTTP/1.1\r\n"
    closing = parse_simple(
        post(b"content-type: Application/IPP; charset=x", b"Connection: Close",
             b"CONTENT-LENGTH:9"), PATHS, 1024,
    )  # fmt: skip
    assert isinstance(closing, SimpleRequest) and closing.close
    assert closing.content_type == "application/ipp" and closing.host == ""


@pytest.mark.parametrize(
    "data",
    [
        post(*PLAIN, body=BODY[:5]),  # the body still arriving
        post(*PLAIN)[:20],  # the head still arriving
        post(*PLAIN, line=b"POST /ipp/print HTTP/1.0"),
        post(*PLAIN, line=b"GET /ipp/print HTTP/1.1"),
        post(*PLAIN, line=b"POST /admin HTTP/1.1"),
        post(*PLAIN, line=b"POST /ipp/print?x HTTP/1.1"),
        post(*PLAIN, line=b"POST  /ipp/print HTTP/1.1"),
        post(b"Content-Type: application/ipp", b"Transfer-Encoding: chunked", body=b""),
        post(*PLAIN, b"Expect: 100-continue", body=BODY[:5]),  # the client may wait for 100
        post(*PLAIN, b"Expect: 100-continue")[:-9],  # ... or send the body later
        post(*PLAIN, b"Expect: 100-continue", b"Expect: 100-continue"),
        post(*PLAIN, b"Expect: 100-continue, foo"),
        post(*PLAIN, b"Expect: foo"),  # an expectation not known: 417, by the full stack
        post(*PLAIN, b"Content-Encoding: gzip"),
        post(*PLAIN, b"Upgrade: TLS/1.2"),
        post(*PLAIN, b"Content-Length: 9"),  # twice
        post(b"Content-Type: application/ipp", b"Content-Length: +9"),
        post(b"Content-Type: application/ipp", b"Content-Length: 0x9"),
        post(b"Content-Type: application/ipp"),  # no length
        post(*PLAIN, b" folded"),
        post(*PLAIN, b"Bad Name: x"),
        post(*PLAIN, b"X: a\x00b"),
        post(*PLAIN, b"Host: other"),  # two Hosts
        post(b"Content-Type: application/ipp", b"Content-Length: 2000", body=b"x" * 2000),
    ],
)
def test_anything_else_goes_to_the_full_implementation(data: bytes) -> None:
    assert parse_simple(data, PATHS, 1024) is NOT_SIMPLE


def test_expect_100_continue_with_the_body_in_hand_is_taken() -> None:
    """RFC 9110 10.1.1: the body is here, so the 100 (Continue) may be left out. The head
    CUPS 2.4's HTTP library sends, as ipptool sent it (captured)."""
    data = post(
        b"Content-Length: 9", b"Content-Type: application/ipp",
        b"Date: Mon, 07 Dec 2026 16:04:19 GMT", b"Host: localhost:631",
        b"User-Agent: CUPS/2.4.2 (Linux 6.1.0; x86_64) IPP/2.0",
        b"Accept-Encoding: deflate, gzip, identity", b"Expect: 100-Continue",
    )  # fmt: skip
    request = parse_simple(data, PATHS, 1024)
    assert isinstance(request, SimpleRequest)
    assert (request.body, request.size, request.host) == (BODY, len(data), "localhost:631")


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    result = parse_simple(data, PATHS, 1024)
    assert result is NOT_SIMPLE or isinstance(result, SimpleRequest)


@settings(max_examples=200)
@given(st.binary(max_size=200), st.sampled_from([b"\r\n", b"\n", b": ", b"\x00"]))
def test_a_plain_post_with_junk_inserted_is_never_misread(junk: bytes, glue: bytes) -> None:
    data = post(*PLAIN).replace(b"\r\nContent-Type", b"\r\n" + junk + glue + b"Content-Type", 1)
    result = parse_simple(data, PATHS, 1024)
    if isinstance(result, SimpleRequest):
        assert result.body == BODY and result.size == len(data)


def test_the_response_head() -> None:
    date = DateHeader().value()
    assert date.endswith(b" GMT")
    head = response_head(200, "OK", "application/ipp", 9, "Xerox WorkCentre 7755", date, True)
    assert head.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\n")
    assert b"Content-Length: 9\r\n" in head and head.endswith(b"Connection: close\r\n\r\n")


def test_a_head_read_before_is_judged_again_on_its_body_and_limit() -> None:
    data = post(*PLAIN)
    for _ in range(2):  # the second time the head comes from memory
        assert isinstance(parse_simple(data, PATHS, 1024), SimpleRequest)
        assert parse_simple(data, PATHS, 8) is NOT_SIMPLE  # over this caller's limit
        assert parse_simple(data[:-1], PATHS, 1024) is NOT_SIMPLE  # the body still arriving
        assert parse_simple(data, ("/ipp",), 1024) is NOT_SIMPLE  # not one of these paths
        assert parse_simple(post(*PLAIN[:2], b"Expect: foo", PLAIN[2]), PATHS, 1024) is NOT_SIMPLE
    other = parse_simple(post(*PLAIN[:2], b"Content-Length: 4", body=b"abcd"), PATHS, 1024)
    assert isinstance(other, SimpleRequest) and other.body == b"abcd"


def test_ok_heads_are_those_response_head_makes_and_follow_the_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mfpd.codecs import http_simple

    now = [1_795_660_000.2]
    monkeypatch.setattr(http_simple.time, "time", lambda: now[0])
    heads = http_simple.OkHeads("application/ipp", "Xerox WorkCentre 7755")
    for length, close in ((9, False), (9, True), (19_800, False), (9, False)):
        made = response_head(200, "OK", "application/ipp", length, "Xerox WorkCentre 7755",
                             b"Thu, 26 Nov 2026 02:26:40 GMT", close)  # fmt: skip
        assert heads.head(length, close) == made
    now[0] += 1
    assert b"Date: Thu, 26 Nov 2026 02:26:41 GMT\r\n" in heads.head(9, False)
