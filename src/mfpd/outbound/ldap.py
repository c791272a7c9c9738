"""The directory ([ldap]): the address book people pick recipients from, and the accounts
behind [auth] method = "ldap".

ldap3 speaks the protocol in a worker thread (its synchronous strategy: one connection per
question, no pool to go stale when the server restarts). Every connection goes through the
client policy (outbound/policy.py): the address resolved once, the device's source address,
its timeouts, and its TLS context (the imported CA bundle, host name checked) for ldaps:// and
StartTLS (RFC 4511 4.14). Referrals (RFC 4511 4.1.10) are followed here, not by ldap3, so that
the referred server is reached under the same policy and the hops stay bounded.

Every value a person typed goes into a filter escaped (RFC 4515 3): `*)(uid=*` is text to
find, not filter syntax."""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from mfpd.config import LdapConfig
from mfpd.outbound.destinations import DeliveryError
from mfpd.outbound.policy import client_policy, credential_used, open_password, tls_context

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

PORTS = {"ldap": 389, "ldaps": 636}
# Who appears in the address book: person is the structural class every schema's people
# derive from (RFC 4519 3.12: inetOrgPerson, organizationalPerson, AD's user).
PEOPLE = "(objectClass=person)"
# RFC 4511 4.1.9 resultCode values the code acts on.
SUCCESS, SIZE_LIMIT_EXCEEDED, REFERRAL, NO_SUCH_OBJECT, INVALID_CREDENTIALS = 0, 4, 10, 32, 49
# Operational attributes that say an account is locked: OpenLDAP's ppolicy overlay
# (draft-behera-ldap-password-policy-11 5.3.3) and 389 DS / FreeIPA's nsAccountLock.
LOCKED_TIME = "pwdAccountLockedTime"
NS_LOCK = "nsAccountLock"
MEMBER_OF = "memberOf"
# Continuation references followed per hop: a directory that answers with hundreds is
# misconfigured or hostile, and each costs a connection.
MAX_REFERRALS = 8
MAX_GROUPS = 500
CACHE_ENTRIES = 128


class DirectoryError(Exception):
    """The directory did not answer the question: not configured, unreachable, TLS refused,
    the service account refused. The message says which, for the log and the user."""


@dataclass(frozen=True)
class Person:
    dn: str
    name: str
    email: str
    fax: str
    home: str
    login: str

    def public(self) -> dict[str, str]:
        """What the address book shows (GET /api/v1/address-book)."""
        return {"name": self.name, "email": self.email, "fax": self.fax}


@dataclass(frozen=True)
class People:
    people: tuple[Person, ...]
    truncated: bool  # the server or our size_limit cut the answer short


@dataclass(frozen=True)
class LdapLogin:
    """What the directory said of a login: outcome "ok", "unknown" (no such login),
    "wrong-password", "disabled" (with the reason why); the groups (cn and DN) on success."""

    outcome: str
    dn: str = ""
    groups: frozenset[str] = frozenset()
    reason: str = ""


@dataclass(frozen=True)
class _Target:
    """One server to talk to, as the client policy placed it."""

    host: str  # as configured: the name the certificate must carry
    port: int
    address: str
    source: str | None
    connect_timeout: float
    io_timeout: float
    tls: ssl.SSLContext | None  # None: no TLS at all (ldap:// without starttls)
    implicit_tls: bool  # ldaps://
    starttls: bool

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class _Hit:
    target: _Target
    dn: str
    attributes: dict[str, list[str]]

    def first(self, name: str) -> str:
        values = self.attributes.get(name.lower(), [])
        return values[0] if values else ""


@dataclass(frozen=True)
class _Answer:
    hits: list[_Hit]
    references: list[str]
    truncated: bool


class _PolicyTls(ldap3.Tls):  # type: ignore[misc]  # ldap3 ships no type information
    """ldap3's TLS wrapper with the device's own context (policy.tls_context) and SNI and
    host name check against the configured name, not the address connected to."""

    def __init__(self, context: ssl.SSLContext, host: str) -> None:
        # validate=CERT_NONE only keeps ldap3 from a second, weaker name check of its own: the
        # context's verify_mode and check_hostname decide.
        super().__init__(validate=ssl.CERT_NONE)
        self._context = context
        self._host = host

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        connection.socket = self._context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=self._host,
        )


def escape(value: str) -> str:
    """A value for an LDAP filter (RFC 4515 3: `*`, `(`, `)`, `\\` and NUL as \\XX)."""
    return str(escape_filter_chars(value))


def people_filter(config: LdapConfig, text: str) -> str:
    """People whose name or email contains `text` (everyone when it is empty)."""
    text = text.strip()
    if not text:
        return PEOPLE
    value = escape(text)
    return f"(&{PEOPLE}(|({config.name_attribute}=*{value}*)({config.email_attribute}=*{value}*)))"


def _parse_url(url: str) -> tuple[str, str, int, str]:
    """scheme, host, port and the DN of an LDAP URL (RFC 4516 2)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in PORTS or not parts.hostname:
        raise DirectoryError(f"{url!r} is not an ldap:// or ldaps:// URL")
    try:
        port = parts.port or PORTS[scheme]
    except ValueError:
        raise DirectoryError(f"{url!r}: bad port") from None
    return scheme, parts.hostname, port, unquote(parts.path.lstrip("/"))


async def _target(ctx: ServiceContext, url: str) -> _Target:
    config = ctx.config.ldap
    scheme, host, port, _ = _parse_url(url)
    try:
        policy = await client_policy(ctx, host, port, timeout=config.timeout)
    except DeliveryError as exc:
        raise DirectoryError(f"the directory is unreachable: {exc}") from None
    implicit = scheme == "ldaps"
    return _Target(
        host=host,
        port=port,
        address=policy.address,
        source=policy.source,
        connect_timeout=policy.connect_timeout,
        io_timeout=policy.io_timeout,
        tls=tls_context(ctx) if implicit or config.starttls else None,
        implicit_tls=implicit,
        starttls=config.starttls and not implicit,
    )


def _open(target: _Target, user: str, password: str) -> Any:
    """A bound connection (blocking). DirectoryError when the server cannot be reached or
    TLS fails; an LDAPBindError-free answer otherwise: the caller reads conn.result."""
    server = ldap3.Server(
        target.address,
        port=target.port,
        use_ssl=target.implicit_tls,
        tls=_PolicyTls(target.tls, target.host) if target.tls is not None else None,
        get_info=ldap3.NONE,
        connect_timeout=target.connect_timeout,
    )
    conn = ldap3.Connection(
        server,
        user=user or None,
        password=password or None,
        authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
        # Whole seconds: ldap3 packs it into SO_RCVTIMEO's struct timeval.
        receive_timeout=max(1, math.ceil(target.io_timeout)),
        source_address=target.source,
        auto_referrals=False,
        raise_exceptions=False,
        read_only=True,
    )
    try:
        conn.open()
        if target.starttls and not conn.start_tls():
            raise DirectoryError(
                f"{target.label}: StartTLS refused: {conn.result.get('description', '')}"
            )
        conn.bind()
    except (LDAPException, OSError, DirectoryError) as exc:
        with contextlib.suppress(LDAPException, OSError):
            conn.unbind()  # closes the socket, whatever state the exchange stopped in
        if isinstance(exc, DirectoryError):
            raise
        raise DirectoryError(f"{target.label}: {_reason(exc)}") from None
    return conn


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS: the server's certificate is not trusted (import its CA in the CA bundle)"
    if "timed out" in text or isinstance(exc, TimeoutError):
        return "timed out"
    return f"cannot connect: {text[:300]}"


def _decode(values: Sequence[bytes]) -> list[str]:
    return [v.decode("utf-8", "replace") for v in values]


def _search(
    target: _Target,
    user: str,
    password: str,
    base: str,
    query: str,
    attributes: list[str],
    limit: int,
) -> _Answer:
    """One search on one server, bound as `user` (blocking)."""
    conn = _open(target, user, password)
    try:
        if conn.result.get("result") != SUCCESS:
            raise DirectoryError(
                f"{target.label}: the directory refused the bind as {user or 'anonymous'}: "
                f"{conn.result.get('description', '')}"
            )
        try:
            conn.search(
                base,
                query,
                search_scope=ldap3.SUBTREE,
                attributes=attributes,
                size_limit=limit,
                time_limit=max(1, int(target.io_timeout)),
            )
        except (LDAPException, OSError) as exc:
            raise DirectoryError(f"{target.label}: {_reason(exc)}") from None
        code = conn.result.get("result")
        hits: list[_Hit] = []
        references: list[str] = []
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                raw = item.get("raw_attributes", {})
                hits.append(
                    _Hit(target, str(item["dn"]), {k.lower(): _decode(v) for k, v in raw.items()})
                )
            elif item.get("type") == "searchResRef":
                references.extend(str(uri) for uri in item.get("uri", []))
        if code == REFERRAL:
            references.extend(str(uri) for uri in conn.result.get("referrals") or [])
        elif code not in (SUCCESS, SIZE_LIMIT_EXCEEDED, NO_SUCH_OBJECT):
            raise DirectoryError(
                f"{target.label}: search failed: {conn.result.get('description', '')} "
                f"{conn.result.get('message', '')}".rstrip()
            )
        return _Answer(hits, references, code == SIZE_LIMIT_EXCEEDED)
    finally:
        conn.unbind()


async def _service_credentials(ctx: ServiceContext) -> tuple[str, str]:
    config = ctx.config.ldap
    if not config.bind_dn:
        return "", ""
    try:
        return config.bind_dn, open_password(ctx, config.bind_password)
    except DeliveryError as exc:
        raise DirectoryError(f"[ldap] bind_password: {exc}") from None


async def search(
    ctx: ServiceContext,
    base: str,
    query: str,
    attributes: list[str],
    limit: int,
    *,
    hops: int | None = None,
) -> _Answer:
    """`query` under `base` on the configured server, bound as [ldap] bind_dn (or
    anonymous), following referrals up to `hops` ([ldap] referral_hops)."""
    config = ctx.config.ldap
    if not config.url:
        raise DirectoryError("no directory is configured ([ldap] url)")
    hops = config.referral_hops if hops is None else hops
    own_user, own_password = await _service_credentials(ctx)
    _, own_host, own_port, _ = _parse_url(config.url)
    pending = [(config.url, base, 0)]
    hits: list[_Hit] = []
    truncated = False
    seen: set[str] = set()
    while pending and len(hits) < limit:
        url, where, hop = pending.pop(0)
        target = await _target(ctx, url)
        # The service account's password goes to the configured server only: a referral is
        # data in the directory, and naming another host must not make us send it there.
        # Elsewhere the search is anonymous.
        own = (target.host.lower(), target.port) == (own_host.lower(), own_port)
        user, password = (own_user, own_password) if own else ("", "")
        try:
            answer = await asyncio.to_thread(
                _search, target, user, password, where, query, attributes, limit - len(hits)
            )
        except DirectoryError as exc:
            if user:
                credential_used(
                    ctx, service="ldap", user=user, server=target.label, outcome="failure",
                    reason=str(exc)[:200],
                )  # fmt: skip
            if hop:
                # A referred server that is down loses its part of the answer, not the rest.
                ctx.log.warning("ldap: referral %s not followed: %s", url, exc)
                continue
            raise
        if user:
            credential_used(ctx, service="ldap", user=user, server=target.label, outcome="success")
        hits.extend(answer.hits)
        truncated = truncated or answer.truncated
        if hop >= hops:
            truncated = truncated or bool(answer.references)
            continue
        for reference in answer.references[:MAX_REFERRALS]:
            if reference in seen:
                continue
            seen.add(reference)
            try:
                _, _, _, dn = _parse_url(reference)
            except DirectoryError:
                continue
            pending.append((reference, dn or where, hop + 1))
    return _Answer(hits[:limit], [], truncated or bool(pending) or len(hits) > limit)


def _person(config: LdapConfig, hit: _Hit) -> Person:
    return Person(
        dn=hit.dn,
        name=hit.first(config.name_attribute),
        email=hit.first(config.email_attribute),
        fax=hit.first(config.fax_attribute),
        home=hit.first(config.home_attribute),
        login=hit.first(config.login_attribute),
    )


class AddressBookCache:
    """Answers of the address book, reused for [ldap] cache_seconds: a person typing in a
    recipient field asks the same few questions in a row. Bounded in entries."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._answers: OrderedDict[tuple[str, ...], tuple[float, People]] = OrderedDict()

    def get(self, key: tuple[str, ...], max_age: float) -> People | None:
        found = self._answers.get(key)
        if found is None or self._clock() - found[0] > max_age:
            return None
        return found[1]

    def put(self, key: tuple[str, ...], people: People) -> None:
        self._answers[key] = (self._clock(), people)
        self._answers.move_to_end(key)
        while len(self._answers) > CACHE_ENTRIES:
            self._answers.popitem(last=False)


async def find_people(
    ctx: ServiceContext, text: str, cache: AddressBookCache | None = None
) -> People:
    """The address book: people whose name or email contains `text`, at most [ldap]
    size_limit of them, sorted by name."""
    config = ctx.config.ldap
    key = (config.url, config.base, config.user_base, config.bind_dn, text.strip().lower())
    if cache is not None and config.cache_seconds > 0:
        cached = cache.get(key, config.cache_seconds)
        if cached is not None:
            return cached
    attributes = [
        config.name_attribute,
        config.email_attribute,
        config.fax_attribute,
        config.home_attribute,
        config.login_attribute,
    ]
    answer = await search(
        ctx, config.user_base or config.base, people_filter(config, text), attributes,
        config.size_limit,
    )  # fmt: skip
    people = sorted(
        (_person(config, hit) for hit in answer.hits), key=lambda p: (p.name.lower(), p.email)
    )
    result = People(tuple(people), answer.truncated)
    if cache is not None and config.cache_seconds > 0:
        cache.put(key, result)
    return result


def disabled_reason(
    config: LdapConfig, hit_attributes: dict[str, list[str]], groups: set[str]
) -> str:
    """Why the account may not log in, "" when it may."""
    if hit_attributes.get(LOCKED_TIME.lower()):
        return f"account locked ({LOCKED_TIME})"
    if any(v.strip().upper() == "TRUE" for v in hit_attributes.get(NS_LOCK.lower(), [])):
        return f"account locked ({NS_LOCK})"
    if config.disabled_group and normalize(config.disabled_group) in groups:
        return f"member of the disabled group {config.disabled_group}"
    return ""


def normalize(name: str) -> str:
    """A group's cn or DN for comparison: case and the spaces around RDN separators do not
    matter (RFC 4514 2 is stricter; directories are not)."""
    return ",".join(part.strip() for part in name.lower().split(","))


def _bind_as(target: _Target, dn: str, password: str) -> int:
    """The resultCode of a simple bind as `dn` (blocking)."""
    conn = _open(target, dn, password)
    try:
        return int(conn.result.get("result", -1))
    finally:
        conn.unbind()


async def ldap_login(ctx: ServiceContext, login: str, password: str) -> LdapLogin:
    """Look the login up (as the service account), then bind as the account with the
    password (RFC 4513 5.1.3). DirectoryError when the directory cannot say."""
    config = ctx.config.ldap
    if not password:
        # RFC 4513 5.1.2: a simple bind with a DN and no password is an unauthenticated
        # bind, which many servers answer with success. Never ask it.
        return LdapLogin("wrong-password", reason="empty password")
    attributes = [config.login_attribute, MEMBER_OF, LOCKED_TIME, NS_LOCK]
    query = f"({config.login_attribute}={escape(login)})"
    # No referrals: the user's password is bound only at the configured server.
    answer = await search(ctx, config.user_base or config.base, query, attributes, 2, hops=0)
    if not answer.hits:
        return LdapLogin("unknown", reason=f"no entry with {config.login_attribute}={login}")
    if len(answer.hits) > 1:
        return LdapLogin("unknown", reason=f"{len(answer.hits)} entries match {login}")
    hit = answer.hits[0]
    groups = await _groups(ctx, hit, login)
    reason = disabled_reason(config, hit.attributes, groups)
    if reason:
        return LdapLogin("disabled", dn=hit.dn, reason=reason)
    code = await asyncio.to_thread(_bind_as, hit.target, hit.dn, password)
    if code == INVALID_CREDENTIALS:
        return LdapLogin("wrong-password", dn=hit.dn, reason="invalid credentials")
    if code != SUCCESS:
        return LdapLogin("disabled", dn=hit.dn, reason=f"the directory refused the bind ({code})")
    return LdapLogin("ok", dn=hit.dn, groups=frozenset(groups))


async def _groups(ctx: ServiceContext, hit: _Hit, login: str) -> set[str]:
    """The account's groups, as normalized cn and DN: memberOf on the entry, and the groups
    naming it as member / uniqueMember (RFC 4519) or memberUid (RFC 2307)."""
    config = ctx.config.ldap
    names = {normalize(dn) for dn in hit.attributes.get(MEMBER_OF.lower(), [])}
    names |= {normalize(dn.split(",", 1)[0].partition("=")[2]) for dn in names}
    dn = escape(hit.dn)
    query = f"(|(member={dn})(uniqueMember={dn})(memberUid={escape(login)}))"
    answer = await search(ctx, config.group_base or config.base, query, ["cn"], MAX_GROUPS, hops=0)
    for group in answer.hits:
        names.add(normalize(group.dn))
        names.update(normalize(cn) for cn in group.attributes.get("cn", []))
    return names
