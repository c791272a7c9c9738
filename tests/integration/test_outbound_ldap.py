"""The directory client (outbound/ldap.py) against a real slapd (tests/ldap_server.py): the
address book over ldap://, StartTLS and ldaps:// (and refused without the CA), a bind user with
a sealed password (audited), filter escaping, referrals, size limits, the cache, and the
account checks behind LDAP logins."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mfpd.outbound.ldap import AddressBookCache, DirectoryError, find_people, ldap_login
from mfpd.security.secrets import Secrets
from tests.conftest import requires
from tests.ldap_server import BASE, GROUPS, PEOPLE, READER_DN, READER_PW, SLAPD, Slapd, slapd
from tests.outbound_servers import credential_entries, outbound_context

pytestmark = [pytest.mark.integration, requires(os.path.exists(SLAPD), "slapd not installed")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Slapd]:
    with slapd(tmp_path / "slapd") as running:
        yield running


def context(tmp: Path, server: Slapd, extra: str = "", *, url: str = "", ca: bool = True) -> Any:
    tls = f'[tls]\nca_bundle = "{server.pki.ca}"\n' if ca else ""
    return outbound_context(
        tmp,
        f'{tls}[ldap]\nurl = "{url or server.url}"\nbase = "{BASE}"\nuser_base = "{PEOPLE}"\n'
        f'group_base = "{GROUPS}"\n{extra}',
    )


def names(people: Any) -> list[str]:
    return [p.name for p in people.people]


async def test_the_address_book_finds_people_by_name_or_email(
    tmp_path: Path, server: Slapd
) -> None:
    ctx = context(tmp_path, server)
    found = await find_people(ctx, "ali")
    assert [p.public() for p in found.people] == [
        {"name": "Alice Admin", "email": "alice@example.com", "fax": "+1 555 0100"}
    ]
    assert found.people[0].home == "/home/alice" and found.people[0].login == "alice"
    assert names(await find_people(ctx, "oscar@example")) == ["Oscar Operator"]
    assert not (await find_people(ctx, "nobody-by-that-name")).people


async def test_filter_syntax_in_the_query_is_text_to_find(tmp_path: Path, server: Slapd) -> None:
    """RFC 4515 escaping: unescaped, `*)(uid=*` would widen the filter to every entry (or
    break it); escaped, nobody's name contains it. Fails with escape() made the identity."""
    ctx = context(tmp_path, server)
    assert (await find_people(ctx, "*)(uid=*")).people == ()
    assert (await find_people(ctx, "*")).people == ()
    assert names(await find_people(ctx, "(Contractor)")) == ["Zed (Contractor)"]
    assert (await find_people(ctx, "\\")).people == ()


async def test_referrals_are_followed_or_ignored_as_configured(
    tmp_path: Path, server: Slapd
) -> None:
    """ou=partners under ou=people refers to ou=contractors: carol is found through it."""
    assert names(await find_people(context(tmp_path, server), "carol")) == ["Carol Contractor"]
    ignored = await find_people(context(tmp_path / "b", server, "referral_hops = 0\n"), "carol")
    assert ignored.people == ()


async def test_the_size_limit_cuts_the_answer_and_says_so(tmp_path: Path, server: Slapd) -> None:
    found = await find_people(context(tmp_path, server, "size_limit = 2\n"), "")
    assert len(found.people) == 2 and found.truncated
    everyone = await find_people(context(tmp_path / "b", server), "")
    assert len(everyone.people) == 8 and not everyone.truncated  # 7 people and carol


async def test_the_server_s_size_limit_cuts_the_answer_too(tmp_path: Path) -> None:
    with slapd(tmp_path / "slapd", size_limit=3) as server:
        found = await find_people(context(tmp_path, server), "")
    assert len(found.people) == 3 and found.truncated


async def test_starttls_and_ldaps_with_the_imported_ca(tmp_path: Path, server: Slapd) -> None:
    starttls = context(tmp_path / "a", server, "starttls = true\n")
    assert names(await find_people(starttls, "ali")) == ["Alice Admin"]
    ldaps = context(tmp_path / "b", server, url=server.tls_url)
    assert names(await find_people(ldaps, "ali")) == ["Alice Admin"]


@pytest.mark.parametrize("how", ["starttls", "ldaps"])
async def test_a_certificate_not_signed_by_an_imported_ca_is_refused(
    tmp_path: Path, server: Slapd, how: str
) -> None:
    url = server.tls_url if how == "ldaps" else ""
    extra = "starttls = true\n" if how == "starttls" else ""
    ctx = context(tmp_path, server, extra, url=url, ca=False)
    with pytest.raises(DirectoryError, match="certificate is not trusted"):
        await find_people(ctx, "ali")


async def test_a_bind_user_with_a_sealed_password_is_audited(tmp_path: Path, server: Slapd) -> None:
    (tmp_path / "state").mkdir()
    sealed = Secrets(tmp_path / "state").seal(READER_PW)
    assert sealed.startswith("enc:")
    extra = f'bind_dn = "{READER_DN}"\nbind_password = "{sealed}"\n'
    ctx = context(tmp_path, server, extra)
    assert names(await find_people(ctx, "ali")) == ["Alice Admin"]
    entries = credential_entries(ctx)
    # Two binds: the search, and the referral it followed (ou=partners), each audited.
    assert [(e.user, e.outcome, e.interface) for e in entries] == [
        (READER_DN, "success", "ldap")
    ] * 2
    wrong = context(tmp_path / "b", server, f'bind_dn = "{READER_DN}"\nbind_password = "no"\n')
    with pytest.raises(DirectoryError, match="refused the bind"):
        await find_people(wrong, "ali")
    assert [e.outcome for e in credential_entries(wrong)] == ["failure"]


async def test_answers_are_cached_for_cache_seconds(tmp_path: Path, server: Slapd) -> None:
    """The second question within cache_seconds is answered with the server stopped."""
    cache = AddressBookCache()
    ctx = context(tmp_path, server)
    uncached = context(tmp_path / "b", server, "cache_seconds = 0\n")
    assert names(await find_people(ctx, "ali", cache)) == ["Alice Admin"]
    server.proc.terminate()
    server.proc.wait(timeout=10)
    assert names(await find_people(ctx, "ali", cache)) == ["Alice Admin"]
    with pytest.raises(DirectoryError, match="cannot connect"):
        await find_people(uncached, "ali", cache)
    with pytest.raises(DirectoryError):
        await find_people(ctx, "oscar", cache)


async def test_accounts_their_groups_and_locks(tmp_path: Path, server: Slapd) -> None:
    ctx = context(tmp_path, server, f'disabled_group = "cn=disabled,{GROUPS}"\n')
    alice = await ldap_login(ctx, "alice", "alice-pw")
    assert alice.outcome == "ok" and alice.dn == f"uid=alice,{PEOPLE}"
    assert {"printer-admins", f"cn=printer-admins,{GROUPS}"} <= alice.groups
    oscar = await ldap_login(ctx, "oscar", "oscar-pw")  # a posixGroup's memberUid
    assert oscar.outcome == "ok" and "printer-operators" in oscar.groups
    mona = await ldap_login(ctx, "mona", "mona-pw")  # memberOf on her entry only
    assert mona.outcome == "ok" and {"printer-operators", f"cn=printer-operators,{GROUPS}"} <= (
        mona.groups
    )
    assert (await ldap_login(ctx, "alice", "wrong")).outcome == "wrong-password"
    # RFC 4513 5.1.2: an empty password would be an unauthenticated bind, which succeeds.
    assert (await ldap_login(ctx, "alice", "")).outcome == "wrong-password"
    assert (await ldap_login(ctx, "mallory", "x")).outcome == "unknown"
    assert (await ldap_login(ctx, "*", "x")).outcome == "unknown"
    dave = await ldap_login(ctx, "dave", "dave-pw")
    assert dave.outcome == "disabled" and "disabled group" in dave.reason
    lena = await ldap_login(ctx, "lena", "lena-pw")
    assert lena.outcome == "disabled" and "pwdAccountLockedTime" in lena.reason


async def test_the_bind_password_goes_to_the_configured_server_only(
    tmp_path: Path, server: Slapd
) -> None:
    """Configured as localhost, the referral (to 127.0.0.1, the same slapd under another name)
    is followed anonymously: one credential-use, and carol still found. Fails when the
    service account's password goes to every referred server (two entries)."""
    if socket.getaddrinfo("localhost", server.port, type=socket.SOCK_STREAM)[0][4][0] != (
        "127.0.0.1"
    ):
        pytest.skip("localhost does not resolve to 127.0.0.1 first here")
    extra = f'bind_dn = "{READER_DN}"\nbind_password = "{READER_PW}"\n'
    ctx = context(tmp_path, server, extra, url=f"ldap://localhost:{server.port}")
    assert names(await find_people(ctx, "carol")) == ["Carol Contractor"]
    assert [(e.address, e.outcome) for e in credential_entries(ctx)] == [
        (f"localhost:{server.port}", "success")
    ]
