"""Destination URIs (parse_destinations), the file-naming rule, the client policy's source
address and [smtp] server parsing; hypothesis for odd URIs."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpd.config import DestinationConfig, SmtpConfig
from mfpd.outbound.destinations import (
    DeliveryError,
    Destination,
    parse_destination,
    parse_destinations,
)
from mfpd.outbound.naming import file_name, safe_name
from mfpd.outbound.policy import source_address
from mfpd.outbound.smtp import server_address
from mfpd.security.secrets import Secrets


def test_each_scheme() -> None:
    found = parse_destinations(
        [
            "mailto:bob@example.com",
            "ftp://scan@files.example.com/in",
            "ftps://scan:pa%3Ass@10.0.0.5:2121/a/b",
            "smb://CORP;carol@[fd00::5]/Scans/2026/q4",
            "mailbox:Legal",
            DestinationConfig(uri="smb://fs/Public", username="dave", password="enc:xyz"),
        ]
    )
    assert [d.scheme for d in found] == ["mailto", "ftp", "ftps", "smb", "mailbox", "smb"]
    mail, ftp, ftps, smb, box, table = found
    assert mail.endpoint().addresses == ("bob@example.com",)
    assert (ftp.username, ftp.password, ftp.endpoint().port, ftp.endpoint().path) == (
        "scan", "", 21, "in",
    )  # fmt: skip
    # The password out of the URI: kept apart, and the URI safe to show.
    assert ftps == Destination("ftps://scan@10.0.0.5:2121/a/b", "scan", "pa:ss")
    ep = smb.endpoint()
    assert (ep.host, ep.port, ep.share, ep.path) == ("fd00::5", 445, "Scans", "2026/q4")
    assert smb.username == "CORP;carol"
    assert box.endpoint().mailbox == "Legal"
    assert (table.username, table.password, table.endpoint().share) == ("dave", "enc:xyz", "Public")


def test_table_overrides_and_several_addresses() -> None:
    (dest,) = parse_destinations(
        [DestinationConfig(uri="ftp://old:oldpw@h/x", username="new", password="newpw")]
    )
    assert (dest.uri, dest.username, dest.password) == ("ftp://new@h/x", "new", "newpw")
    many = parse_destination("mailto:a@example.com,b@example.org")
    assert many.endpoint().addresses == ("a@example.com", "b@example.org")


@pytest.mark.parametrize(
    "uri",
    [
        "http://example.com/",
        "ftp://",
        "ftp://host:0/x",
        "ftp://host:99999/x",
        "ftp://host/../etc",
        "ftp://host/a/./b",
        "ftp://host/x?type=a",
        "ftp://host/x%0d%0aDELE%20y",
        "ftp://bad_host!/x",
        "smb://user@host",
        "smb://host/share",
        "mailto:",
        "mailto:not an address",
        "mailto:a@b.example?subject=hi",
        "mailbox:../../etc",
        "mailbox:",
        "ftp://us%0aer@host/x",
        "ftp://host/x\r\nDELE y",
        "ftp://host/x/%2F..%2F..%2Fy",
    ],
)
def test_refused(uri: str) -> None:
    with pytest.raises(ValueError):
        parse_destinations([uri])


def test_error_names_the_destination_without_its_password() -> None:
    with pytest.raises(ValueError) as caught:
        parse_destinations(["mailto:a@b.example", "ftp://u:hunter2@bad host/x"])
    assert "ftp://u:********@bad host/x" in str(caught.value)
    assert "hunter2" not in str(caught.value)


_text = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(scheme=st.sampled_from(["ftp", "ftps", "smb", "mailto", "mailbox", "FTP", "x"]),
       user=_text, password=_text, host=_text, path=_text)  # fmt: skip
def test_odd_uris(scheme: str, user: str, password: str, host: str, path: str) -> None:
    """Whatever the parts, a URI is refused with ValueError or parsed into a destination
    whose URI holds no password and whose parts hold no control character (nothing that
    could end a command line of FTP or SMTP), and which parses again to itself."""
    uri = f"{scheme}://{user}:{password}@{host}/{path}"
    try:
        dest = parse_destination(uri)
    except ValueError:
        return
    if dest.scheme not in ("mailto", "mailbox"):
        assert urlsplit(dest.uri).password is None  # the password never in the URI
    ep = dest.endpoint()
    for part in (dest.uri, dest.username, dest.password, ep.host, ep.path, ep.share):
        assert not any(ord(c) < 32 or ord(c) == 127 for c in part)
    assert ".." not in ep.path.split("/")
    again = parse_destination(dest.uri, dest.username, dest.password)
    assert again == dest


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    try:
        dest = parse_destination(text)
    except ValueError:
        return
    assert dest.scheme in ("mailto", "ftp", "ftps", "smb", "mailbox")


def test_naming_rule() -> None:
    when = time.mktime((2026, 12, 7, 22, 47, 5, 0, 0, -1))
    assert file_name("Invoices", when, 1, "application/pdf") == "Invoices_20261207_224705_001.pdf"
    assert file_name("a/b\\c: d", when, 12, "image/jpeg") == "a_b_c_d_20261207_224705_012.jpg"
    assert file_name("", when, 2, "image/tiff").startswith("Scan_")
    assert file_name("x", when, 1, "image/png").endswith(".png")
    assert safe_name("../..") == "Scan" and len(safe_name("x" * 500)) == 64


@pytest.mark.parametrize(
    ("bind", "peer", "source"),
    [
        ("0.0.0.0", "192.0.2.7", None),
        ("::", "2001:db8::7", None),
        ("192.0.2.10", "192.0.2.7", "192.0.2.10"),
        ("127.0.0.1", "127.0.0.1", "127.0.0.1"),
        ("127.0.0.1", "192.0.2.7", None),  # a loopback source cannot reach the server
        ("192.0.2.10", "2001:db8::7", None),  # another family
        ("2001:db8::10", "2001:db8::7", "2001:db8::10"),
    ],
)
def test_source_address(bind: str, peer: str, source: str | None) -> None:
    assert source_address(bind, peer) == source


def test_smtp_server_setting() -> None:
    assert server_address(SmtpConfig(server="mail.example.com")) == ("mail.example.com", 25)
    assert server_address(SmtpConfig(server="mail:2525")) == ("mail", 2525)
    assert server_address(SmtpConfig(server="[2001:db8::1]:587")) == ("2001:db8::1", 587)
    assert server_address(SmtpConfig(server="smtp.example", security="tls")) == (
        "smtp.example",
        465,
    )
    with pytest.raises(DeliveryError) as caught:
        server_address(SmtpConfig(server=""))
    assert caught.value.reason == "destination-not-configured" and not caught.value.retry


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["ftp", "ftps", "smb"]),
    user=st.text(st.characters(codec="utf-8"), min_size=1, max_size=20),
    password=st.text(st.characters(codec="utf-8"), max_size=20),
    host=st.lists(_label, min_size=1, max_size=3).map(".".join),
    port=st.integers(1, 65535),
    segments=st.lists(
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=12), min_size=1, max_size=4
    ),
)
def test_encoded_parts_round_trip(
    scheme: str, user: str, password: str, host: str, port: int, segments: list[str]
) -> None:
    """Percent-encoded user, password and path come back decoded, exactly; or the URI is
    refused, and then only for a control character, '.', '..', '/' or '\\' in a part."""
    enc = "/".join(quote(s, safe="") for s in segments)
    uri = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{enc}"
    bad = any(ord(c) < 32 or ord(c) == 127 for c in user + password + "".join(segments)) or any(
        s in (".", "..") or "\\" in s or "/" in s for s in segments
    )
    try:
        dest = parse_destination(uri)
    except ValueError:
        assert bad
        return
    assert not bad
    ep = dest.endpoint()
    assert (dest.username, dest.password, ep.host, ep.port) == (user, password, host, port)
    if scheme == "smb":
        assert [ep.share, *([ep.path] if ep.path else [])] == [segments[0], "/".join(segments[1:])][
            : 1 + bool(ep.path)
        ]
    else:
        assert ep.path == "/".join(segments)
    assert parse_destination(dest.uri, dest.username, dest.password) == dest


def test_public_and_sealed(tmp_path: Path) -> None:
    """A password from the URI's userinfo is never shown back and is stored encrypted."""
    dest = parse_destination("ftps://scan:s3cret@files.example/in")
    assert dest.public() == {
        "uri": "ftps://scan@files.example/in", "username": "scan", "password": "********",
    }  # fmt: skip
    secrets = Secrets(tmp_path)
    table = dest.sealed(secrets)
    assert table.uri == dest.uri and table.password.startswith("enc:")
    assert "s3cret" not in table.model_dump_json()
    (again,) = parse_destinations([table])
    assert secrets.open(again.password) == "s3cret"
    assert again.sealed(secrets).password == table.password  # sealed once, not twice
    assert parse_destination("mailbox:Legal").public()["password"] == ""
