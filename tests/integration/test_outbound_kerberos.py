"""Kerberos logins against a real MIT KDC (krb5kdc -n with a realm of the test's own): the
right and the wrong password (with and without pre-authentication), an unknown principal,
the device's clock skewed (kerberos_login's `clock`: the KDC's clock cannot be moved and
Debian's faketime is not installed here), the KDC down or silent, principals with only
triple DES or RC4 keys refused, over TCP and UDP, from the device's source address; then a
stand-in KDC that offers only DES and RC4, whose offer is refused rather than used."""

from __future__ import annotations

import asyncio
import datetime
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from mfpd.outbound.kerberos import kerberos_login
from tests.conftest import requires
from tests.outbound_servers import (
    KRB5KDC,
    Kdc,
    as_rep_in,
    credential_entries,
    free_port,
    krb_error,
    mit_kdc,
    outbound_context,
    preauth_required,
)

HAS_KDC = all(shutil.which(t) for t in (KRB5KDC, "/usr/sbin/kdb5_util", "/usr/sbin/kadmin.local"))
pytestmark = requires(HAS_KDC, "MIT Kerberos (krb5-kdc, krb5-admin-server) is not installed")

ALICE = "alice-Secret-1"  # pre-authentication required (as Active Directory does by default)
BOB = "bob-Secret-2"  # no pre-authentication (MIT's default for addprinc)
OLD = "old-Secret-3"
# What the KDC logs of each AS-REQ: the enctypes the client offered.
OFFERED = (
    "(4 etypes {aes256-cts-hmac-sha384-192(20), aes256-cts-hmac-sha1-96(18), "
    "aes128-cts-hmac-sha256-128(19), aes128-cts-hmac-sha1-96(17)})"
)


@pytest.fixture(scope="module")
def kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kdc]:
    with mit_kdc(tmp_path_factory.mktemp("krb")) as server:
        server.kadmin(f"addprinc -pw {ALICE} +requires_preauth alice")
        server.kadmin(f"addprinc -pw {BOB} bob")
        server.kadmin(f"addprinc -pw {OLD} +requires_preauth -e des3-cbc-sha1:normal old3des")
        server.kadmin(f"addprinc -pw {OLD} +requires_preauth -e rc4-hmac:normal oldrc4")
        server.kadmin(f"addprinc -pw {OLD} -e des3-cbc-sha1:normal old3des-nopreauth")
        yield server


def _ctx(
    tmp: Path, kdc: str, *, udp: bool = False, bind: str = "127.0.0.1", timeout: float = 10
) -> Any:
    text = (
        f'[kerberos]\nrealm = "TEST.REALM"\nkdc = "{kdc}"\n'
        f"udp = {str(udp).lower()}\ntimeout = {timeout}\n"
    )
    return outbound_context(tmp, text, bind=bind)


def _skewed(seconds: float) -> Any:
    return lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("udp", [False, True], ids=["tcp", "udp"])
async def test_right_password(tmp_path: Path, kdc: Kdc, udp: bool) -> None:
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc.port}", udp=udp)
    for user, password in (("alice", ALICE), ("bob", BOB), ("alice@test.realm", ALICE)):
        result = await kerberos_login(ctx, user, password)
        assert (result.ok, result.reason) == (True, "ok"), result
        assert result.principal == f"{user.split('@')[0]}@TEST.REALM"
    issued = [line for line in kdc.log_lines() if ": ISSUE: " in line]
    assert any("alice@TEST.REALM for krbtgt/TEST.REALM@TEST.REALM" in line for line in issued)
    entries = credential_entries(ctx)
    assert [(e.interface, e.user, e.outcome) for e in entries] == [
        ("kerberos", "alice@TEST.REALM", "success"),
        ("kerberos", "bob@TEST.REALM", "success"),
        ("kerberos", "alice@TEST.REALM", "success"),
    ]
    assert ALICE not in str([e.to_dict() for e in ctx.audit.log.entries()])


async def test_only_aes_offered_from_the_source_address(tmp_path: Path, kdc: Kdc) -> None:
    """Every AS-REQ offers the four AES enctypes only (never DES, 3DES or RC4: RFC 6649,
    RFC 8429), and leaves from the daemon's bind address (the client policy)."""
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc.port}", bind="127.0.0.2")
    before = len(kdc.log_lines())
    assert (await kerberos_login(ctx, "alice", ALICE)).ok
    ours = [line for line in kdc.log_lines()[before:] if "AS_REQ" in line]
    assert len(ours) == 2  # NEEDED_PREAUTH, then ISSUE
    assert all(OFFERED in line and " 127.0.0.2: " in line for line in ours), ours


async def test_wrong_password(tmp_path: Path, kdc: Kdc) -> None:
    """alice: the KDC says PREAUTH_FAILED. bob (no pre-authentication): the KDC issues a
    reply to anybody, and it is the device that finds it does not decrypt."""
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc.port}")
    for user in ("alice", "bob"):
        result = await kerberos_login(ctx, user, "not-the-password")
        assert (result.ok, result.reason) == (False, "wrong-password"), result
    assert (await kerberos_login(ctx, "alice", "")).reason == "wrong-password"
    entries = credential_entries(ctx)
    assert [(e.user, e.outcome) for e in entries] == [
        ("alice@TEST.REALM", "failure"),
        ("bob@TEST.REALM", "failure"),
    ]  # the empty password never went to the KDC


async def test_unknown_principal(tmp_path: Path, kdc: Kdc) -> None:
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc.port}")
    result = await kerberos_login(ctx, "mallory", "whatever")
    assert (result.ok, result.reason, result.principal) == (
        False,
        "unknown-principal",
        "mallory@TEST.REALM",
    )
    other = await kerberos_login(ctx, "alice@OTHER.REALM", ALICE)
    assert other.reason == "unknown-principal" and "not in realm TEST.REALM" in other.message


@pytest.mark.parametrize("seconds", [-3600, 1800])
async def test_clock_skew(tmp_path: Path, kdc: Kdc, seconds: float) -> None:
    """The device's clock an hour behind, or half an hour ahead (MIT allows 300 s): the KDC
    answers KRB_AP_ERR_SKEW, and the skew its stime shows is reported."""
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc.port}")
    result = await kerberos_login(ctx, "alice", ALICE, clock=_skewed(seconds))
    assert (result.ok, result.reason) == (False, "clock-skew"), result
    assert result.skew is not None and abs(result.skew + seconds) < 60
    assert ("behind" if seconds < 0 else "ahead of") in result.message
    # The same password with the right time: the skew was the only fault.
    assert (await kerberos_login(ctx, "alice", ALICE)).ok


async def test_weak_only_principals_refused(tmp_path: Path, kdc: Kdc) -> None:
    """Principals with only a triple DES or an RC4 key (MIT 1.20 makes no single DES keys at
    all): without pre-authentication the AES-only request gets KDC_ERR_ETYPE_NOSUPP; with it,
    PREAUTH_REQUIRED whose ETYPE-INFO2 names no AES key, and no timestamp is sent. The login
    fails with that reason, though the password is right."""
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc.port}")
    for user in ("old3des", "oldrc4", "old3des-nopreauth"):
        result = await kerberos_login(ctx, user, OLD)
        assert (result.ok, result.reason) == (False, "kdc-error"), result
        assert "has no AES key" in result.message and "RFC 8429" in result.message
    ours = [line for line in kdc.log_lines() if "AS_REQ" in line and " old" in line]
    assert [line.split(": ")[2] for line in ours] == [
        "NEEDED_PREAUTH",
        "NEEDED_PREAUTH",
        "CANT_FIND_CLIENT_KEY",
    ], ours


@pytest.mark.parametrize("udp", [False, True], ids=["tcp", "udp"])
async def test_kdc_down(tmp_path: Path, udp: bool) -> None:
    ctx = _ctx(tmp_path, f"127.0.0.1:{free_port()}", udp=udp, timeout=5)
    result = await kerberos_login(ctx, "alice", ALICE)
    assert (result.ok, result.reason) == (False, "kdc-unreachable"), result
    assert [(e.outcome, e.details["reason"].split(":")[0]) for e in credential_entries(ctx)] == [
        ("failure", "kdc-unreachable")
    ]


async def test_not_configured(tmp_path: Path) -> None:
    """No KDC to ask is reported as one that does not answer (the dispatcher may then fall
    back to the local administrator), and nothing is sent nor audited."""
    for kdc in ("", "kdc.test:eighty-eight"):
        result = await kerberos_login(_ctx(tmp_path, kdc), "alice", ALICE)
        assert (result.ok, result.reason) == (False, "kdc-unreachable"), result
    ctx = outbound_context(tmp_path, '[kerberos]\nkdc = "127.0.0.1:88"\n')
    assert (await kerberos_login(ctx, "alice", ALICE)).reason == "kdc-unreachable"
    assert credential_entries(ctx) == []


async def test_kdc_silent(tmp_path: Path) -> None:
    """A KDC that accepts the connection and never answers: the login ends at [kerberos]
    timeout as kdc-unreachable."""
    held: list[asyncio.StreamWriter] = []

    async def mute(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        ctx = _ctx(tmp_path, f"127.0.0.1:{port}", timeout=1)
        result = await kerberos_login(ctx, "alice", ALICE)
    finally:
        server.close()
        for writer in held:
            writer.close()
    assert (result.reason, result.message) == ("kdc-unreachable", "no answer within 1 s")


# --- a stand-in KDC that offers what must be refused ----------------------------------------


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A TCP "KDC" that answers each request with the next reply of the list the test puts
    in (RFC 4120 7.2.2 framing)."""
    replies: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size = int.from_bytes(await reader.readexactly(4), "big")
        await reader.readexactly(size)
        reply = replies.pop(0)
        writer.write(len(reply).to_bytes(4, "big") + reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], replies
    finally:
        server.close()


@pytest.mark.parametrize("etypes", [[3, 1], [23], [16, 23, 3]], ids=["des", "rc4", "3des-rc4-des"])
async def test_weak_offer_refused(
    tmp_path: Path, stand_in: tuple[int, list[bytes]], etypes: list[int]
) -> None:
    """A KDC that asks for pre-authentication in DES, triple DES or RC4 only gets none: no
    such key is made, no second request is sent."""
    port, replies = stand_in
    replies.append(preauth_required(etypes))
    result = await kerberos_login(_ctx(tmp_path, f"127.0.0.1:{port}"), "alice", ALICE)
    assert (result.ok, result.reason) == (False, "kdc-error"), result
    assert "and no AES" in result.message and "has no AES key" in result.message
    assert replies == []  # exactly one request was answered


async def test_udp_too_big_then_tcp(tmp_path: Path, stand_in: tuple[int, list[bytes]]) -> None:
    """Over UDP the stand-in answers KRB_ERR_RESPONSE_TOO_BIG; the login asks again over TCP
    on the same port (RFC 4120 7.2.1), where the answer (DES only) is the one it acts on."""
    port, replies = stand_in
    replies.append(preauth_required([3]))
    loop = asyncio.get_running_loop()
    heard: list[bytes] = []

    class TooBig(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport  # asyncio's datagram transport (no DatagramTransport)

        def datagram_received(self, data: bytes, addr: Any) -> None:
            heard.append(data)
            self.transport.sendto(krb_error(52), addr)

    transport, _ = await loop.create_datagram_endpoint(TooBig, local_addr=("127.0.0.1", port))
    try:
        result = await kerberos_login(_ctx(tmp_path, f"127.0.0.1:{port}", udp=True), "alice", ALICE)
    finally:
        transport.close()
    assert len(heard) == 1 and replies == []
    assert (
        result.reason == "kdc-error" and "the KDC offers enctypes 3, and no AES" in result.message
    )


async def test_reply_in_rc4_refused(tmp_path: Path, stand_in: tuple[int, list[bytes]]) -> None:
    port, replies = stand_in
    replies.append(as_rep_in(23))
    result = await kerberos_login(_ctx(tmp_path, f"127.0.0.1:{port}"), "alice", ALICE)
    assert (result.ok, result.reason) == (False, "kdc-error"), result
    assert "enctype 23 is not AES" in result.message


async def test_garbage_reply(tmp_path: Path, stand_in: tuple[int, list[bytes]]) -> None:
    port, replies = stand_in
    replies.append(b"\x30\x03\x02\x01\x05 not kerberos")
    result = await kerberos_login(_ctx(tmp_path, f"127.0.0.1:{port}"), "alice", ALICE)
    assert (result.ok, result.reason) == (False, "kdc-error"), result


# --- [kerberos] keytab: the KDC proves itself ------------------------------------------------

SERVICE = "host/mfp.test.realm"


def _keytab(kdc: Kdc, path: Path, service: str = SERVICE) -> Path:
    """A new service principal (kvno 1) and its keys exported as they are (-norandkey)."""
    kdc.kadmin(f"addprinc -randkey {service}")
    kdc.kadmin(f"ktadd -norandkey -k {path} {service}")
    return path


async def test_keytab_proves_the_kdc(tmp_path: Path, kdc: Kdc) -> None:
    """With the device's service key the login also gets a ticket for it (TGS exchange)
    and opens it: the KDC holds the key, so it is the realm's. A wrong password stays
    wrong-password."""
    service = "host/proof.test.realm"
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc.port}")
    ctx.config.kerberos.keytab = str(_keytab(kdc, tmp_path / "mfp.keytab", service))
    result = await kerberos_login(ctx, "alice", ALICE)
    assert (result.ok, result.reason) == (True, "ok"), result
    assert f"proved itself with {service}@TEST.REALM" in result.message
    tgs = [line for line in kdc.log_lines() if "TGS_REQ" in line and "alice@" in line]
    assert len(tgs) == 1 and f"for {service}@TEST.REALM" in tgs[0], tgs
    assert (await kerberos_login(ctx, "bob", "wrong")).reason == "wrong-password"

    # The service key changed at the KDC since the keytab was exported (kvno 2): refused.
    kdc.kadmin(f"ktadd -k {tmp_path / 'newer.keytab'} {service}")
    stale = await kerberos_login(ctx, "alice", ALICE)
    assert (stale.ok, stale.reason) == (False, "kdc-error"), stale
    assert "has no key" in stale.message and "kvno" in stale.message


async def test_keytab_refuses_a_rogue_kdc(tmp_path: Path, kdc: Kdc) -> None:
    """A second KDC for the same realm name, run by somebody else, who made an alice whose
    password they chose: without a keytab the device believes it (the risk the module
    names); with the real realm's keytab the login is refused."""
    keytab = _keytab(kdc, tmp_path / "real.keytab")
    with mit_kdc(tmp_path / "rogue") as rogue:
        rogue.kadmin("addprinc -pw chosen-by-the-attacker +requires_preauth alice")
        rogue.kadmin(f"addprinc -randkey {SERVICE}")  # kvno 1, as the real one: another key
        ctx = _ctx(tmp_path, f"127.0.0.1:{rogue.port}")
        fooled = await kerberos_login(ctx, "alice", "chosen-by-the-attacker")
        assert fooled.ok
        ctx.config.kerberos.keytab = str(keytab)
        result = await kerberos_login(ctx, "alice", "chosen-by-the-attacker")
    assert (result.ok, result.reason) == (False, "kdc-error"), result
    assert "not the realm's" in result.message


async def test_keytab_unreadable_refuses(tmp_path: Path, kdc: Kdc) -> None:
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc.port}")
    ctx.config.kerberos.keytab = str(tmp_path / "absent.keytab")
    result = await kerberos_login(ctx, "alice", ALICE)
    assert (result.ok, result.reason) == (False, "kdc-error") and "keytab" in result.message


# --- RFC 8009: a realm whose keys are aes*-cts-hmac-sha2 only ----------------------------------

SHA2 = "aes256-cts-hmac-sha384-192:normal aes128-cts-hmac-sha256-128:normal"


@pytest.fixture(scope="module")
def kdc_sha2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kdc]:
    with mit_kdc(tmp_path_factory.mktemp("krb-sha2"), enctypes=SHA2) as server:
        server.kadmin(f"addprinc -pw {ALICE} +requires_preauth alice")
        server.kadmin(f"addprinc -pw {BOB} bob")
        server.kadmin(
            f"addprinc -pw {OLD} +requires_preauth -e aes128-cts-hmac-sha256-128:normal carol"
        )
        yield server


async def test_sha2_realm(tmp_path: Path, kdc_sha2: Kdc) -> None:
    """Keys, pre-authentication, replies and (with a keytab) the TGS exchange in RFC 8009's
    enctypes, against MIT's implementation: right passwords in, wrong ones out."""
    ctx = _ctx(tmp_path, f"127.0.0.1:{kdc_sha2.port}")
    for user, password in (("alice", ALICE), ("bob", BOB), ("carol", OLD)):
        assert (await kerberos_login(ctx, user, password)).ok, user
        assert (await kerberos_login(ctx, user, "wrong")).reason == "wrong-password", user
    issued = [line for line in kdc_sha2.log_lines() if ": ISSUE: " in line]
    assert any("rep=aes256-cts-hmac-sha384-192(20)" in line for line in issued), issued
    assert any("rep=aes128-cts-hmac-sha256-128(19)" in line for line in issued), issued
    ctx.config.kerberos.keytab = str(_keytab(kdc_sha2, tmp_path / "sha2.keytab"))
    result = await kerberos_login(ctx, "alice", ALICE)
    assert result.ok and "proved itself" in result.message, result


def test_sha2_string_to_key_as_mit(tmp_path: Path, kdc_sha2: Kdc) -> None:
    """The keys RFC 8009 4 makes of a password are MIT's (kadmin.local ktadd -norandkey)."""
    from mfpd.codecs.kerberos import SaltInfo, password_key
    from mfpd.codecs.keytab import read_keytab

    kdc_sha2.kadmin(f"addprinc -pw {OLD} dave")
    kdc_sha2.kadmin(f"ktadd -norandkey -k {tmp_path / 'dave.keytab'} dave")
    entries = read_keytab((tmp_path / "dave.keytab").read_bytes())
    assert sorted(e.etype for e in entries) == [19, 20]
    for entry in entries:
        ours = password_key(
            OLD, SaltInfo(entry.etype, b"TEST.REALMdave", None), ("dave",), "TEST.REALM"
        )
        assert ours.contents == entry.key, entry.etype
