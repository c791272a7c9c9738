"""codecs/kerberos.py: the keys of RFC 3962's test vectors, AES only (DES, 3DES, RC4 refused),
the PBKDF2 count bounded, an AS-REP opened only with the right key and nonce, any bytes read
without an exception other than KerberosCodecError; and the roles of [kerberos]."""

from __future__ import annotations

import contextlib
import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from minikerberos.protocol.asn1_structs import (
    AS_REP,
    EncASRepPart,
    EncryptedData,
    EncryptionKey,
    PrincipalName,
    Ticket,
    TicketFlags,
)

from mfpd.codecs.kerberos import (
    KdcError,
    KdcReply,
    KerberosCodecError,
    NoAesKey,
    SaltInfo,
    WrongKey,
    as_req,
    open_reply,
    password_key,
    pick_salt,
    read_reply,
    read_ticket,
)
from mfpd.codecs.kerberos_crypto import PROFILES, EncKey
from mfpd.config import parse_config
from mfpd.outbound.kerberos import kdc_address, kerberos_role
from tests.outbound_servers import as_rep_in, preauth_required

PARTS, REALM = ("raeburn",), "ATHENA.MIT.EDU"
NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("etype", "iterations", "expected"),
    [
        (17, 1, "42263c6e89f4fc28b8df68ee09799f15"),
        (18, 1, "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161"),
        (17, 1200, "4c01cd46d632d01e6dbe230a01ed642a"),
        (18, 1200, "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a"),
    ],
)
def test_rfc3962_appendix_b_keys(etype: int, iterations: int, expected: str) -> None:
    info = SaltInfo(etype, b"ATHENA.MIT.EDUraeburn", iterations.to_bytes(4, "big"))
    assert password_key("password", info, PARTS, REALM).contents.hex() == expected


def test_only_aes_keys_are_made() -> None:
    for weak in (1, 3, 16, 23):
        with pytest.raises(KerberosCodecError, match="not AES"):
            password_key("password", SaltInfo(weak, b"salt", None), PARTS, REALM)


def test_pbkdf2_count_bounded() -> None:
    huge = SaltInfo(18, b"salt", (1 << 31).to_bytes(4, "big"))
    with pytest.raises(KerberosCodecError, match="iteration count"):
        password_key("password", huge, PARTS, REALM)
    with pytest.raises(KerberosCodecError, match="iteration count"):
        password_key("password", SaltInfo(18, b"salt", b"\0\0\0\0"), PARTS, REALM)


def test_pick_salt() -> None:
    # The KDC's choice (its first AES entry), past anything else it names.
    salts = (SaltInfo(23, None, None), SaltInfo(17, b"s17", None), SaltInfo(18, b"s18", None))
    assert pick_salt(salts, PARTS, REALM).etype == 17
    with pytest.raises(NoAesKey, match="enctypes 23, 3"):
        pick_salt((SaltInfo(23, None, None), SaltInfo(3, None, None)), PARTS, REALM)
    with pytest.raises(NoAesKey, match="none"):
        pick_salt((), PARTS, REALM)
    # An AS-REP without ETYPE-INFO2 (no pre-authentication): the default salt.
    assert pick_salt((), PARTS, REALM, etype=17) == SaltInfo(17, b"ATHENA.MIT.EDUraeburn", None)
    with pytest.raises(KerberosCodecError, match="not AES"):
        pick_salt((), PARTS, REALM, etype=23)


def test_as_req_offers_aes_only() -> None:
    request = read_request(as_req(("alice",), "TEST.REALM", NOW, 42))
    assert request["req-body"]["etype"] == [20, 18, 19, 17]
    assert request["req-body"]["nonce"] == 42
    assert request["req-body"]["cname"]["name-string"] == ["alice"]
    assert "padata" not in request or not request["padata"]


def read_request(data: bytes) -> dict[str, object]:
    from minikerberos.protocol.asn1_structs import AS_REQ

    native: dict[str, object] = AS_REQ.load(data).native
    return native


def _reply_data(key_etype: int, key: EncKey, nonce: int) -> bytes:
    sname = PrincipalName({"name-type": 2, "name-string": ["krbtgt", "TEST.REALM"]})
    part = EncASRepPart(
        {
            "key": EncryptionKey({"keytype": key_etype, "keyvalue": b"k" * 32}),
            "last-req": [],
            "nonce": nonce,
            "flags": TicketFlags(set()),
            "authtime": NOW,
            "endtime": NOW + datetime.timedelta(hours=1),
            "srealm": "TEST.REALM",
            "sname": sname,
        }
    ).dump()
    cipher = PROFILES[key_etype].encrypt(key, 3, part)
    blob = EncryptedData({"etype": key_etype, "cipher": cipher})
    ticket = Ticket({"tkt-vno": 5, "realm": "TEST.REALM", "sname": sname, "enc-part": blob})
    data = AS_REP(
        {
            "pvno": 5, "msg-type": 11, "crealm": "TEST.REALM",
            "cname": PrincipalName({"name-type": 1, "name-string": ["alice"]}),
            "ticket": ticket, "enc-part": blob,
        }
    ).dump()  # fmt: skip
    return bytes(data)


def _reply(key_etype: int, key: EncKey, nonce: int) -> KdcReply:
    reply = read_reply(_reply_data(key_etype, key, nonce))
    assert isinstance(reply, KdcReply)
    return reply


def test_open_reply_needs_the_key_and_the_nonce() -> None:
    salt = SaltInfo(18, b"TEST.REALMalice", None)
    key = password_key("right", salt, ("alice",), "TEST.REALM")
    reply = _reply(18, key, 7)
    ticket = open_reply(reply, key, 7)
    assert ticket.authtime == NOW and ticket.nonce == 7
    with pytest.raises(WrongKey):
        open_reply(reply, password_key("wrong", salt, ("alice",), "TEST.REALM"), 7)
    with pytest.raises(KerberosCodecError, match="nonce"):
        open_reply(reply, key, 8)
    aes128 = password_key("right", SaltInfo(17, b"x", None), ("alice",), "TEST.REALM")
    with pytest.raises(KerberosCodecError, match="not the 17 asked"):
        open_reply(reply, aes128, 7)


_KEY = password_key("pw", SaltInfo(18, b"s", None), ("a",), "TEST.REALM")
_VALID = [preauth_required([18, 17, 23]), as_rep_in(18), _reply_data(18, _KEY, 1)]


@given(st.binary(max_size=600))
def test_read_reply_any_bytes(data: bytes) -> None:
    with contextlib.suppress(KerberosCodecError):
        assert isinstance(read_reply(data), (KdcError, KdcReply))
    with contextlib.suppress(KerberosCodecError):
        read_reply(data, "TGS_REP")
    with contextlib.suppress(KerberosCodecError):
        read_ticket(data)


@given(st.data())
def test_read_reply_mutated(data: st.DataObject) -> None:
    """Valid replies with bytes changed, cut or added: read, or KerberosCodecError."""
    original = bytearray(data.draw(st.sampled_from(_VALID)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(original)))
    mutated = bytes(original[:cut]) + data.draw(st.binary(max_size=8))
    with contextlib.suppress(KerberosCodecError):
        reply = read_reply(mutated)
        if isinstance(reply, KdcReply):
            # A reply that still parses, opened with a key: never anything but the codec's
            # own errors (or the values).
            read_ticket(reply.ticket)
            open_reply(reply, _KEY, 1)


def test_kdc_address() -> None:
    assert kdc_address("kdc.example.com") == ("kdc.example.com", 88)
    assert kdc_address("10.0.0.5:750") == ("10.0.0.5", 750)
    assert kdc_address("[2001:db8::5]") == ("2001:db8::5", 88)
    assert kdc_address("[2001:db8::5]:8888") == ("2001:db8::5", 8888)
    for bad in ("host:port", ":88", "host:0", "host:70000"):
        with pytest.raises(ValueError):
            kdc_address(bad)


def test_roles() -> None:
    config = parse_config(
        '[kerberos]\nrealm = "TEST.REALM"\nkdc = "k:88"\n'
        'admin_principals = ["alice", "root@OTHER.REALM"]\n'
        'operator_principals = ["bob@test.realm"]\n'
    ).kerberos
    assert kerberos_role(config, "alice@TEST.REALM") == "administrator"
    assert kerberos_role(config, "bob@TEST.REALM") == "operator"
    assert kerberos_role(config, "carol@TEST.REALM") == "user"
    assert kerberos_role(config, "root@TEST.REALM") == "user"  # another realm's root
    assert kerberos_role(config, "Alice@TEST.REALM") == "user"  # names are case-sensitive
