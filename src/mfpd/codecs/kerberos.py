"""The Kerberos 5 messages of a login as bytes and values, sans I/O: the AS exchange (RFC 4120
3.1: the AS-REQ, the KRB-ERROR or AS-REP the KDC answers, the key a password makes, the proof
that the reply decrypts with it), and the TGS exchange and service ticket of the keytab check
(3.3, 5.3). The ASN.1 is minikerberos's; the enctypes kerberos_crypto.py's.

Only the AES enctypes are ever requested or used: aes256/aes128-cts-hmac-sha1-96 (RFC 3962)
and aes256-cts-hmac-sha384-192/aes128-cts-hmac-sha256-128 (RFC 8009). Single DES is
deprecated by RFC 6649 and RC4 (arcfour-hmac) and triple DES by RFC 8429; a principal that
has no AES key cannot log in, and a reply in any other enctype is refused rather than
decrypted."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import Any

from minikerberos.protocol.asn1_structs import (
    AP_REQ,
    AS_REQ,
    ETYPE_INFO2,
    KDC_REQ_BODY,
    METHOD_DATA,
    PA_ENC_TS_ENC,
    TGS_REQ,
    APOptions,
    Authenticator,
    Checksum,
    EncASRepPart,
    EncryptedData,
    EncTGSRepPart,
    EncTicketPart,
    KDCOptions,
    KerberosResponse,
    PrincipalName,
)
from minikerberos.protocol.asn1_structs import Ticket as TicketAsn1

from mfpd.codecs.kerberos_crypto import PROFILES, EncKey, IntegrityError


class ErrorCode(enum.IntEnum):
    """The KRB-ERROR codes a login tells apart (RFC 4120 7.5.9)."""

    C_PRINCIPAL_UNKNOWN = 6
    ETYPE_NOSUPP = 14
    CLIENT_REVOKED = 18
    KEY_EXPIRED = 23
    PREAUTH_FAILED = 24
    PREAUTH_REQUIRED = 25
    BAD_INTEGRITY = 31
    SKEW = 37
    RESPONSE_TOO_BIG = 52


# The enctypes a login offers and accepts, strongest first (kerberos_crypto.PROFILES).
ETYPES = tuple(PROFILES)
AES = frozenset(ETYPES)
# RFC 4120 7.5.2: PA-ENC-TIMESTAMP and PA-ETYPE-INFO2 (the salt and string-to-key parameters).
PA_ENC_TIMESTAMP = 2
PA_ETYPE_INFO2 = 19
# RFC 4120 7.5.1 key usages: the encrypted timestamp, a ticket's encrypted part, the
# AS-REP's, the TGS-REQ authenticator's checksum and the authenticator, the TGS-REP's.
USAGE_PA_ENC_TIMESTAMP = 1
USAGE_TICKET = 2
USAGE_AS_REP_ENC_PART = 3
USAGE_TGS_REQ_CHECKSUM = 6
USAGE_TGS_REQ_AUTHENTICATOR = 7
USAGE_TGS_REP_ENC_PART = 8
PA_TGS_REQ = 1
NT_PRINCIPAL = 1
NT_SRV_INST = 2
# RFC 3962 4, RFC 8009 4: the PBKDF2 iteration count is the s2kparams. A KDC (or one
# pretending to be it) could ask for billions and hold the device for hours: RFC 3962 4 lets
# an implementation refuse counts it finds too large. 2^20 is about a second of one core
# (hashlib's PBKDF2, in a worker thread that the login's timeout cannot stop).
MAX_ITERATIONS = 1 << 20


class KerberosCodecError(ValueError):
    """A message that is not what the exchange expects (malformed, or a refused enctype)."""


class NoAesKey(KerberosCodecError):
    """The KDC holds no AES key for the principal (only DES, triple DES or RC4 ones)."""


class WrongKey(KerberosCodecError):
    """The reply does not decrypt with the password's key (RFC 4120 3.1.5)."""


@dataclass(frozen=True)
class SaltInfo:
    """One ETYPE-INFO2 entry (RFC 4120 5.2.7.5): how the KDC made the principal's key."""

    etype: int
    salt: bytes | None
    s2kparams: bytes | None


@dataclass(frozen=True)
class KdcError:
    code: int
    stime: datetime.datetime  # the KDC's clock when it answered (RFC 4120 5.9.1)
    text: str
    salts: tuple[SaltInfo, ...]  # from e-data, when the error carries METHOD-DATA


@dataclass(frozen=True)
class KdcReply:
    """An AS-REP or a TGS-REP (RFC 4120 5.4.2), its encrypted part not yet opened."""

    kind: str  # "AS_REP" or "TGS_REP"
    etype: int
    cipher: bytes
    salts: tuple[SaltInfo, ...]  # the reply's own padata (RFC 4120 3.1.3)
    cname: tuple[str, ...]
    crealm: str
    ticket: bytes  # the Ticket as sent (DER), for a TGS-REQ or for its service to open


@dataclass(frozen=True)
class Issued:
    """What the decrypted part of a KDC reply says (RFC 4120 5.4.2): the session key and the
    times, with the ticket it goes with."""

    nonce: int
    authtime: datetime.datetime
    endtime: datetime.datetime
    session_key: EncKey
    ticket: bytes


def principal_parts(user: str) -> tuple[str, ...]:
    """`alice` or `svc/host` as name components (RFC 1964 2.1.1 syntax, no escapes)."""
    return tuple(user.split("/"))


def as_req(
    parts: tuple[str, ...],
    realm: str,
    now: datetime.datetime,
    nonce: int,
    padata: list[dict[str, Any]] | None = None,
) -> bytes:
    """An AS-REQ for the realm's TGT (RFC 4120 5.4.1) offering the AES enctypes only."""
    body = {
        "kdc-options": KDCOptions(set()),
        "cname": PrincipalName({"name-type": NT_PRINCIPAL, "name-string": list(parts)}),
        "realm": realm,
        "sname": PrincipalName({"name-type": NT_SRV_INST, "name-string": ["krbtgt", realm]}),
        "till": (now + datetime.timedelta(hours=1)).replace(microsecond=0),
        "nonce": nonce,
        "etype": list(ETYPES),
    }
    request: dict[str, Any] = {"pvno": 5, "msg-type": 10, "req-body": KDC_REQ_BODY(body)}
    if padata:
        request["padata"] = padata
    return bytes(AS_REQ(request).dump())


def enc_timestamp(key: EncKey, now: datetime.datetime) -> dict[str, Any]:
    """PA-ENC-TIMESTAMP (RFC 4120 5.2.7.2): the client's clock under the password's key."""
    stamp = PA_ENC_TS_ENC({"patimestamp": now.replace(microsecond=0), "pausec": now.microsecond})
    cipher = PROFILES[key.etype].encrypt(key, USAGE_PA_ENC_TIMESTAMP, stamp.dump())
    value = EncryptedData({"etype": key.etype, "cipher": cipher})
    return {"padata-type": PA_ENC_TIMESTAMP, "padata-value": value.dump()}


def read_reply(data: bytes, kind: str = "AS_REP") -> KdcError | KdcReply:
    """The KDC's answer: a KRB-ERROR or the reply of `kind` (AS_REP, TGS_REP);
    KerberosCodecError for anything else."""
    try:
        message = KerberosResponse.load(data, strict=True)
        name = message.name
        native = message.native
    except (ValueError, TypeError, KeyError) as exc:
        raise KerberosCodecError(f"not a Kerberos reply: {exc}") from None
    try:
        if name == "KRB_ERROR":
            return KdcError(
                code=int(native["error-code"]),
                stime=_aware(native["stime"]),
                text=str(native.get("e-text") or ""),
                salts=_salts_from_method_data(native.get("e-data")),
            )
        if name != kind:
            raise KerberosCodecError(f"a {name} where an {kind} was due")
        part = native["enc-part"]
        return KdcReply(
            kind=name,
            etype=int(part["etype"]),
            cipher=bytes(part["cipher"]),
            salts=_salts(native.get("padata") or []),
            cname=tuple(native["cname"]["name-string"]),
            crealm=str(native["crealm"]),
            # The field's own context tag [5] off: the Ticket as its service reads it.
            ticket=bytes(message.chosen["ticket"].untag().dump()),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise KerberosCodecError(f"malformed {name}: {exc}") from None


def pick_salt(
    salts: tuple[SaltInfo, ...], parts: tuple[str, ...], realm: str, *, etype: int | None = None
) -> SaltInfo:
    """For pre-authentication (`etype` None): the first AES entry of the KDC's ETYPE-INFO2,
    which names the key the KDC chose among those asked for (RFC 4120 5.2.7.5); NoAesKey
    when it names none: DES, triple DES and RC4 are never used (RFC 6649, RFC 8429). For a
    reply in `etype`: its entry, else the default salt, the realm and the name's components
    (RFC 4120 4)."""
    if etype is not None and etype not in AES:
        raise KerberosCodecError(f"enctype {etype} is not AES: refused")
    ours = [s for s in salts if s.etype in AES and etype in (None, s.etype)]
    if ours:
        return ours[0]
    if etype is None:
        named = ", ".join(str(s.etype) for s in salts) or "none"
        raise NoAesKey(f"the KDC offers enctypes {named}, and no AES")
    return SaltInfo(etype, (realm + "".join(parts)).encode(), None)


def password_key(password: str, info: SaltInfo, parts: tuple[str, ...], realm: str) -> EncKey:
    """The principal's long-term key for `info` (RFC 3962 4, RFC 8009 4: PBKDF2 and a key
    derivation). Slow by design: call it in a worker thread."""
    if info.etype not in AES:
        raise KerberosCodecError(f"enctype {info.etype} is not AES: refused")
    params = info.s2kparams
    if params is not None:
        if len(params) != 4:
            raise KerberosCodecError("AES string-to-key parameters are 4 bytes")
        # RFC 3962 4, RFC 8009 4: the count is the parameter.
        if not 0 < int.from_bytes(params, "big") <= MAX_ITERATIONS:
            raise KerberosCodecError(f"PBKDF2 iteration count beyond {MAX_ITERATIONS}")
    salt = info.salt if info.salt is not None else (realm + "".join(parts)).encode()
    return PROFILES[info.etype].string_to_key(password.encode(), salt, params)


def open_reply(reply: KdcReply, key: EncKey, nonce: int) -> Issued:
    """Decrypt a reply's encrypted part (the password's key for an AS-REP, the TGT's session
    key for a TGS-REP) and check its nonce (RFC 4120 3.1.5, 3.3.4). WrongKey when it does
    not decrypt: for an AS-REP, the password is not the one the KDC holds."""
    if reply.etype != key.etype:
        if reply.etype not in AES:
            raise KerberosCodecError(f"{reply.kind} in enctype {reply.etype} is not AES: refused")
        raise KerberosCodecError(
            f"{reply.kind} in enctype {reply.etype}, not the {key.etype} asked"
        )
    usage = USAGE_AS_REP_ENC_PART if reply.kind == "AS_REP" else USAGE_TGS_REP_ENC_PART
    try:
        plain = PROFILES[key.etype].decrypt(key, usage, reply.cipher)
    except IntegrityError:
        raise WrongKey("the reply does not decrypt with this password") from None
    except ValueError as exc:
        raise KerberosCodecError(f"{reply.kind} encrypted part: {exc}") from None
    part = _enc_part(plain)
    try:
        session = part["key"]
        issued = Issued(
            nonce=int(part["nonce"]),
            authtime=_aware(part["authtime"]),
            endtime=_aware(part["endtime"]),
            session_key=_session_key(int(session["keytype"]), bytes(session["keyvalue"])),
            ticket=reply.ticket,
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise KerberosCodecError(f"{reply.kind} encrypted part: {exc}") from None
    if issued.nonce != nonce:
        # RFC 4120 3.1.5: a reply to another request (a replay) is not this login's proof.
        raise KerberosCodecError(f"the {reply.kind} answers another request (nonce differs)")
    return issued


def tgs_req(
    tgt: Issued,
    parts: tuple[str, ...],
    realm: str,
    service: tuple[str, ...],
    now: datetime.datetime,
    nonce: int,
) -> bytes:
    """A TGS-REQ (RFC 4120 3.3.1, 5.4.1) for `service`@realm with the TGT: an AP-REQ whose
    authenticator, under the TGT's session key, carries a checksum of the request body."""
    body = KDC_REQ_BODY(
        {
            "kdc-options": KDCOptions(set()),
            "realm": realm,
            "sname": PrincipalName({"name-type": NT_PRINCIPAL, "name-string": list(service)}),
            "till": (now + datetime.timedelta(hours=1)).replace(microsecond=0),
            "nonce": nonce,
            "etype": list(ETYPES),
        }
    )
    key = tgt.session_key
    profile = PROFILES[key.etype]
    checksum = profile.checksum(key, USAGE_TGS_REQ_CHECKSUM, body.dump())
    cksumtype = profile.checksum_type
    authenticator = Authenticator(
        {
            "authenticator-vno": 5,
            "crealm": realm,
            "cname": PrincipalName({"name-type": NT_PRINCIPAL, "name-string": list(parts)}),
            "cksum": Checksum({"cksumtype": cksumtype, "checksum": checksum}),
            "cusec": now.microsecond,
            "ctime": now.replace(microsecond=0),
        }
    )
    sealed = profile.encrypt(key, USAGE_TGS_REQ_AUTHENTICATOR, authenticator.dump())
    ap_req = AP_REQ(
        {
            "pvno": 5,
            "msg-type": 14,
            "ap-options": APOptions(set()),
            "ticket": TicketAsn1.load(tgt.ticket),
            "authenticator": EncryptedData({"etype": key.etype, "cipher": sealed}),
        }
    )
    padata = [{"padata-type": PA_TGS_REQ, "padata-value": ap_req.dump()}]
    return bytes(TGS_REQ({"pvno": 5, "msg-type": 12, "padata": padata, "req-body": body}).dump())


@dataclass(frozen=True)
class SealedTicket:
    """A service ticket's encrypted part as the service sees it (RFC 4120 5.3)."""

    sname: tuple[str, ...]
    etype: int
    kvno: int | None
    cipher: bytes


def read_ticket(data: bytes) -> SealedTicket:
    try:
        native = TicketAsn1.load(data).native
        part = native["enc-part"]
        return SealedTicket(
            sname=tuple(native["sname"]["name-string"]),
            etype=int(part["etype"]),
            kvno=None if part.get("kvno") is None else int(part["kvno"]),
            cipher=bytes(part["cipher"]),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise KerberosCodecError(f"malformed ticket: {exc}") from None


def open_ticket(ticket: SealedTicket, key: EncKey) -> tuple[tuple[str, ...], str]:
    """The client a service ticket was issued to (cname, crealm), read with the service's
    key (RFC 4120 5.3). WrongKey when it does not decrypt: whoever issued it does not hold
    the service's key."""
    if ticket.etype != key.etype or ticket.etype not in AES:
        raise KerberosCodecError(f"ticket in enctype {ticket.etype}, not the key's {key.etype}")
    try:
        plain = PROFILES[key.etype].decrypt(key, USAGE_TICKET, ticket.cipher)
    except IntegrityError:
        raise WrongKey("the ticket does not decrypt with the service's key") from None
    except ValueError as exc:
        raise KerberosCodecError(f"ticket: {exc}") from None
    try:
        part = EncTicketPart.load(plain).native
        return tuple(part["cname"]["name-string"]), str(part["crealm"])
    except (ValueError, TypeError, KeyError) as exc:
        raise KerberosCodecError(f"ticket's encrypted part: {exc}") from None


def _session_key(etype: int, value: bytes) -> EncKey:
    if etype not in AES:
        raise KerberosCodecError(f"session key of enctype {etype}: refused")
    if len(value) != PROFILES[etype].key_size:
        raise KerberosCodecError(f"session key of {len(value)} bytes for enctype {etype}")
    return EncKey(etype, value)


def _enc_part(plain: bytes) -> dict[str, Any]:
    # RFC 4120 5.4.2 says EncASRepPart; MIT (and RFC 4120's own note) also sends the
    # EncTGSRepPart tag, and clients take either.
    for spec in (EncASRepPart, EncTGSRepPart):
        try:
            native: dict[str, Any] = spec.load(plain, strict=False).native
            return native
        except (ValueError, TypeError):
            continue
    raise KerberosCodecError("the encrypted part is not an EncKDCRepPart")


def _salts_from_method_data(e_data: bytes | None) -> tuple[SaltInfo, ...]:
    if not e_data:
        return ()
    try:
        return _salts(METHOD_DATA.load(e_data).native)
    except (ValueError, TypeError):
        return ()  # e-data of another kind (RFC 4120 5.9.1 leaves it open)


def _salts(padata: list[dict[str, Any]]) -> tuple[SaltInfo, ...]:
    found: list[SaltInfo] = []
    for entry in padata:
        if entry.get("padata-type") != PA_ETYPE_INFO2:
            continue
        for info in ETYPE_INFO2.load(entry["padata-value"]).native:
            salt = info.get("salt")
            found.append(
                SaltInfo(
                    etype=int(info["etype"]),
                    salt=salt.encode() if isinstance(salt, str) else salt,
                    s2kparams=info.get("s2kparams"),
                )
            )
    return tuple(found)


def _aware(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
