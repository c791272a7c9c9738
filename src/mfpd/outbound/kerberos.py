"""Logins of [auth] method = "kerberos": an AS exchange (RFC 4120 3.1) with the KDC of
[kerberos] kdc for user@realm, through the client policy (the device's source address, the
timeouts, an audit entry for each use of a credential), over UDP (RFC 4120 7.2.1, the
device's 88/udp) and TCP again when the KDC answers RESPONSE_TOO_BIG, or over TCP alone
(7.2.2) with [kerberos] udp = false.

The password never leaves the device: it makes the key (codecs/kerberos.py), the key
encrypts the pre-authentication timestamp, and the proof that the password is right is that
the KDC's reply decrypts with it and carries this request's nonce.

What the AS exchange alone does not prove: that the KDC is the realm's. Whoever answers on
the KDC's address can make a reply that decrypts with any password (the spoofed-KDC attack:
they choose the "user's key" themselves). The WorkCentre's own Kerberos login goes no
further. With [kerberos] keytab set (the device's own service key, e.g. host/mfp@REALM,
exported with kadmin's ktadd) the login also asks the KDC for a ticket to that service
(RFC 4120 3.3) and opens it with the keytab's key: only the real KDC holds that key, as
pam_krb5's "validate" and MIT's krb5_verify_init_creds check. Without a keytab, a network
path to the KDC that nobody else can answer on is what the login relies on."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mfpd.addresses import host_port
from mfpd.codecs.kerberos import (
    AES,
    ErrorCode,
    Issued,
    KdcError,
    KdcReply,
    KerberosCodecError,
    NoAesKey,
    WrongKey,
    as_req,
    enc_timestamp,
    open_reply,
    open_ticket,
    password_key,
    pick_salt,
    principal_parts,
    read_reply,
    read_ticket,
    tgs_req,
)
from mfpd.codecs.kerberos_crypto import EncKey
from mfpd.codecs.keytab import KeytabEntry, KeytabError, read_keytab
from mfpd.outbound.destinations import DeliveryError
from mfpd.outbound.policy import ClientPolicy, client_policy, credential_used

if TYPE_CHECKING:
    from mfpd.config import KerberosConfig
    from mfpd.services.base import ServiceContext

Reason = Literal[
    "ok", "wrong-password", "unknown-principal", "clock-skew", "kdc-unreachable", "kdc-error"
]
Role = Literal["administrator", "operator", "user"]
Clock = Callable[[], datetime.datetime]

KDC_PORT = 88  # RFC 4120 7.2.3
# A reply larger than this is not an AS-REP for a login (AD's, with a large PAC, stay far below).
MAX_REPLY = 256 * 1024
# UDP: how long to wait before sending again (RFC 4120 7.2.1 leaves it to the client; MIT
# waits about a second and backs off). The whole login stays within [kerberos] timeout.
UDP_WAITS = (1.0, 2.0, 4.0)
_MAX_USER = 256


@dataclass(frozen=True)
class KerberosResult:
    ok: bool
    principal: str  # user@REALM, as the KDC was asked
    reason: Reason
    message: str
    # For clock-skew: the KDC's clock minus the device's, in seconds (from the error's stime).
    skew: float | None = None


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def kerberos_login(
    ctx: ServiceContext, user: str, password: str, *, clock: Clock | None = None
) -> KerberosResult:
    """Whether the KDC of [kerberos] accepts `password` for `user` (a bare name, or one in
    the configured realm). `clock` stands in for the device's clock (the tests skew it)."""
    config = ctx.config.kerberos
    realm = config.realm.strip().upper()
    name = user.strip()
    # No KDC to ask, like one that does not answer: kdc-unreachable, which lets the login
    # dispatcher fall back to the local administrator ([auth] local_fallback).
    if not realm or not config.kdc.strip():
        return _result(ctx, config, name, "kdc-unreachable", "no [kerberos] realm or kdc set")
    if "@" in name:
        name, _, their_realm = name.rpartition("@")
        if their_realm.upper() != realm:
            return _result(ctx, config, user, "unknown-principal", f"not in realm {realm}")
    principal = f"{name}@{realm}"
    if not name or len(name) > _MAX_USER or not name.isprintable():
        return _result(ctx, config, principal, "unknown-principal", "not a principal name")
    if not password:
        # An empty password is nobody's: the KDC is not asked (nor a key made from nothing).
        return _result(ctx, config, principal, "wrong-password", "empty password")
    try:
        host, port = kdc_address(config.kdc)
    except ValueError as exc:
        return _result(ctx, config, principal, "kdc-unreachable", str(exc))
    login = _Login(ctx, config, principal_parts(name), realm, password, clock or _utc_now)
    try:
        async with asyncio.timeout(config.timeout):
            policy = await client_policy(ctx, host, port, timeout=config.timeout)
            reason, message, skew = await login.run(policy, port)
    except TimeoutError:
        reason, message, skew = "kdc-unreachable", f"no answer within {config.timeout:g} s", None
    except DeliveryError as exc:
        reason, message, skew = "kdc-unreachable", str(exc), None
    except OSError as exc:
        reason, message, skew = "kdc-unreachable", exc.strerror or type(exc).__name__, None
    except asyncio.IncompleteReadError:
        reason, message, skew = "kdc-error", "the KDC closed the connection mid-reply", None
    except WrongKey as exc:
        reason, message, skew = "wrong-password", str(exc), None
    except NoAesKey as exc:
        reason, message, skew = "kdc-error", f"{exc}: {_no_aes(principal)}", None
    except KerberosCodecError as exc:
        reason, message, skew = "kdc-error", str(exc), None
    return _result(ctx, config, principal, reason, message, skew, server=f"{host}:{port}")


def kerberos_role(config: KerberosConfig, principal: str) -> Role:
    """The device role of a principal the KDC accepted: [kerberos] admin_principals and
    operator_principals (entries with or without the realm), anyone else a user."""
    name, _, realm = principal.rpartition("@")
    realm = realm or config.realm.upper()
    if not name:
        name = principal

    def listed(entries: list[str]) -> bool:
        for entry in entries:
            their, _, their_realm = entry.strip().rpartition("@")
            if not their:
                their, their_realm = entry.strip(), ""
            if their == name and (their_realm or config.realm).upper() == realm.upper():
                return True
        return False

    if listed(config.admin_principals):
        return "administrator"
    if listed(config.operator_principals):
        return "operator"
    return "user"


def kdc_address(text: str) -> tuple[str, int]:
    """[kerberos] kdc as host and port: `host`, `host:port`, `[v6]` or `[v6]:port`."""
    text = text.strip()
    try:
        return host_port(text, KDC_PORT)
    except ValueError:
        raise ValueError(f"[kerberos] kdc {text!r}: not host:port") from None


class _Login:
    """One AS exchange: the request without pre-authentication, then, when the KDC asks for
    it (KDC_ERR_PREAUTH_REQUIRED with ETYPE-INFO2), the one with PA-ENC-TIMESTAMP."""

    def __init__(
        self,
        ctx: ServiceContext,
        config: KerberosConfig,
        parts: tuple[str, ...],
        realm: str,
        password: str,
        clock: Clock,
    ) -> None:
        self.ctx, self.config, self.parts, self.realm = ctx, config, parts, realm
        self.password, self.clock = password, clock

    async def run(self, policy: ClientPolicy, port: int) -> tuple[Reason, str, float | None]:
        sent = self.clock()
        nonce = secrets.randbits(31)
        reply = read_reply(
            await self.send(policy, port, as_req(self.parts, self.realm, sent, nonce))
        )
        if isinstance(reply, KdcError):
            if reply.code != ErrorCode.PREAUTH_REQUIRED:
                return _refused(reply, sent, self.principal)
            info = pick_salt(reply.salts, self.parts, self.realm)
            key = await asyncio.to_thread(password_key, self.password, info, self.parts, self.realm)
            sent = self.clock()
            nonce = secrets.randbits(31)
            padata = [enc_timestamp(key, sent)]
            request = as_req(self.parts, self.realm, sent, nonce, padata)
            reply = read_reply(await self.send(policy, port, request))
            if isinstance(reply, KdcError):
                return _refused(reply, sent, self.principal)
        else:
            # No pre-authentication for this principal: the reply itself, encrypted in its
            # key, is the test of the password (RFC 4120 3.1.5).
            info = pick_salt(reply.salts, self.parts, self.realm, etype=reply.etype)
            key = await asyncio.to_thread(password_key, self.password, info, self.parts, self.realm)
        issued = open_reply(reply, key, nonce)
        self.check_client(reply)
        if not self.config.keytab:
            return "ok", "the KDC issued a ticket", None
        service = await self.validate(policy, port, issued)
        return "ok", f"the KDC issued a ticket, and proved itself with {service}", None

    async def validate(self, policy: ClientPolicy, port: int, tgt: Issued) -> str:
        """Ask for a ticket to the device's own service and open it with the keytab's key:
        the proof that the KDC that said yes is the realm's (module docstring). Any failure
        is KerberosCodecError: the login is refused (kdc-error), whatever the password."""
        entries = await asyncio.to_thread(_service_keys, Path(self.config.keytab), self.realm)
        service = entries[0].name
        named = "/".join(service) + "@" + self.realm
        sent, nonce = self.clock(), secrets.randbits(31)
        request = tgs_req(tgt, self.parts, self.realm, service, sent, nonce)
        reply = read_reply(await self.send(policy, port, request), "TGS_REP")
        if isinstance(reply, KdcError):
            raise KerberosCodecError(f"the KDC gave no ticket for {named}: error {reply.code}")
        try:
            ticket = read_ticket(open_reply(reply, tgt.session_key, nonce).ticket)
            key = next(
                EncKey(e.etype, e.key)
                for e in entries
                if e.name == ticket.sname and e.etype == ticket.etype
                and ticket.kvno in (None, e.kvno)
            )  # fmt: skip
        except StopIteration:
            raise KerberosCodecError(
                f"[kerberos] keytab has no key {ticket.etype} kvno {ticket.kvno} for {named}"
                " (a key changed since the keytab was exported?)"
            ) from None
        except WrongKey:
            raise KerberosCodecError("the TGS-REP does not decrypt with the session key") from None
        try:
            cname, crealm = open_ticket(ticket, key)
        except WrongKey:
            raise KerberosCodecError(
                f"the ticket for {named} does not open with the keytab's key: the KDC that "
                "answered is not the realm's, or the keytab is stale"
            ) from None
        if cname != self.parts or crealm.upper() != self.realm:
            raise KerberosCodecError(f"the ticket for {named} names another client")
        return named

    @property
    def principal(self) -> str:
        return "/".join(self.parts) + "@" + self.realm

    def check_client(self, reply: KdcReply) -> None:
        # RFC 4120 3.1.5: the reply names the client asked for (no canonicalization asked).
        if reply.cname != self.parts or reply.crealm.upper() != self.realm:
            named = "/".join(reply.cname) + "@" + reply.crealm
            raise KerberosCodecError(f"the AS-REP is for {named}, not {self.principal}")

    async def send(self, policy: ClientPolicy, port: int, message: bytes) -> bytes:
        if self.config.udp:
            data = await _udp_exchange(policy, port, message)
            with contextlib.suppress(KerberosCodecError):
                answer = read_reply(data)
                if isinstance(answer, KdcError) and answer.code == ErrorCode.RESPONSE_TOO_BIG:
                    return await _tcp_exchange(policy, port, message)
            return data
        return await _tcp_exchange(policy, port, message)


def _refused(
    error: KdcError, sent: datetime.datetime, principal: str
) -> tuple[Reason, str, float | None]:
    code = error.code
    detail = f" ({error.text})" if error.text else ""
    if code in (ErrorCode.PREAUTH_FAILED, ErrorCode.BAD_INTEGRITY):
        return "wrong-password", f"the KDC refused the password{detail}", None
    if code == ErrorCode.C_PRINCIPAL_UNKNOWN:
        return "unknown-principal", f"the KDC does not know {principal}{detail}", None
    if code == ErrorCode.SKEW:
        skew = (error.stime - sent).total_seconds()
        way = "behind" if skew > 0 else "ahead of"
        return (
            "clock-skew",
            f"the device's clock is {abs(skew):.0f} s {way} the KDC's: set the time (NTP)",
            skew,
        )
    if code == ErrorCode.ETYPE_NOSUPP:
        return "kdc-error", f"the KDC has no AES key: {_no_aes(principal)}", None
    if code == ErrorCode.CLIENT_REVOKED:
        return "kdc-error", f"{principal} is disabled or locked out{detail}", None
    if code == ErrorCode.KEY_EXPIRED:
        return "kdc-error", f"the password of {principal} has expired{detail}", None
    return "kdc-error", f"KDC error {code}{detail}", None


def _service_keys(path: Path, realm: str) -> list[KeytabEntry]:
    """The keytab's AES keys in `realm`, those of its first principal; KerberosCodecError
    when there are none (the login cannot be checked, so it is refused)."""
    try:
        entries = read_keytab(path.read_bytes())
    except (OSError, KeytabError) as exc:
        raise KerberosCodecError(f"[kerberos] keytab {path}: {exc}") from None
    ours = [e for e in entries if e.realm.upper() == realm and e.etype in AES]
    if not ours:
        raise KerberosCodecError(f"[kerberos] keytab {path} has no AES key in {realm}")
    return [e for e in ours if e.name == ours[0].name]


def _no_aes(principal: str) -> str:
    return (
        f"{principal} has no AES key, and DES, triple DES and RC4 are refused (RFC 6649, "
        "RFC 8429): the administrator must set the password again with AES keys"
    )


async def _tcp_exchange(policy: ClientPolicy, port: int, message: bytes) -> bytes:
    """RFC 4120 7.2.2: each message preceded by its length in 4 bytes, one per connection."""
    async with asyncio.timeout(policy.connect_timeout):
        reader, writer = await asyncio.open_connection(
            policy.address, port, local_addr=policy.local_addr
        )
    try:
        writer.write(len(message).to_bytes(4, "big") + message)
        await writer.drain()
        size = int.from_bytes(await reader.readexactly(4), "big")
        # The high bit is reserved for extensions this client never asked for (7.2.2).
        if size & 0x8000_0000 or size > MAX_REPLY:
            raise KerberosCodecError(f"the KDC announced a reply of {size} bytes")
        return await reader.readexactly(size)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self, answer: asyncio.Future[bytes]) -> None:
        self.answer = answer

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # A connected socket hears ICMP port unreachable: the KDC is not there.
        if not self.answer.done():
            self.answer.set_exception(exc)


async def _udp_exchange(policy: ClientPolicy, port: int, message: bytes) -> bytes:
    """RFC 4120 7.2.1: one datagram each way, sent again when no answer comes."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Datagram(answer), remote_addr=(policy.address, port), local_addr=policy.local_addr
    )
    try:
        for wait in UDP_WAITS:
            transport.sendto(message)
            done, _ = await asyncio.wait({answer}, timeout=wait)
            if done:
                return answer.result()
        raise TimeoutError
    finally:
        transport.close()


def _result(
    ctx: ServiceContext,
    config: KerberosConfig,
    principal: str,
    reason: Reason,
    message: str,
    skew: float | None = None,
    *,
    server: str = "",
) -> KerberosResult:
    ok = reason == "ok"
    if server:
        # A login's password is a credential used against a server: audited as the stored
        # ones are (issue 16 item 7), with the user and the KDC, never the password.
        why = "" if ok else f"{reason}: {message}"[:200]
        outcome = "success" if ok else "failure"
        credential_used(
            ctx, service="kerberos", user=principal, server=server, outcome=outcome, reason=why
        )
    level = ctx.log.info if ok else ctx.log.warning
    level("kerberos login of %s at %s: %s (%s)", principal, server or config.kdc, reason, message)
    return KerberosResult(ok, principal, reason, message, skew)
