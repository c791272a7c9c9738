"""The one policy every outbound connection of the device takes (SMTP, FTP, SMB, and later
LDAP, POP3, ...): which local address it leaves from, how long it may wait, which
certificates it trusts, and an audit entry for each use of a stored credential.

A client asks `client_policy(ctx, host, port)` before it connects and uses what it answers;
it never builds a TLS context, picks a timeout or opens a password on its own."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mfpd.outbound.destinations import AUTH_FAILED, TIMEOUT, UNREACHABLE, DeliveryError
from mfpd.outbound.dns import resolver_of
from mfpd.security.audit_log import CREDENTIAL_USE
from mfpd.security.secrets import SecretError, Secrets
from mfpd.security.tls import TLS_DIR, client_context

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

# How long a client waits for a connection (TCP and TLS handshake), and for any one read or
# write after it. SMTP takes both from [smtp] timeout; the others have no setting of their
# own and use these.
CONNECT_TIMEOUT = 15.0
IO_TIMEOUT = 30.0
# The audit log's event for a stored credential sent to a server (security/audit_log.py).
CREDENTIAL_EVENT = "credential-use"
_WILDCARDS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class ClientPolicy:
    address: str  # the server's address, resolved once: every connection goes there
    source: str | None  # the local address to bind, None: the kernel's choice
    connect_timeout: float
    io_timeout: float

    @property
    def local_addr(self) -> tuple[str, int] | None:
        return (self.source, 0) if self.source else None


async def client_policy(
    ctx: ServiceContext, host: str, port: int, *, timeout: float | None = None
) -> ClientPolicy:
    """Where and how to connect to `host`:`port`: its address through the device's resolver
    ([dns], outbound/dns.py; an IP literal as it is). DeliveryError (unreachable) when the
    name does not resolve."""
    connect = min(timeout, CONNECT_TIMEOUT) if timeout else CONNECT_TIMEOUT
    try:
        async with asyncio.timeout(connect):
            addresses = await resolver_of(ctx).addresses(host)
    except TimeoutError:
        raise DeliveryError(UNREACHABLE, f"{host}: cannot resolve: timed out", retry=True) from None
    address = addresses[0]
    return ClientPolicy(
        address=address,
        source=source_address(ctx.bind, address),
        connect_timeout=connect,
        io_timeout=timeout or IO_TIMEOUT,
    )


async def open_socket(policy: ClientPolicy, port: int) -> socket.socket:
    """A TCP socket connected to the policy's address from its source, for a client library
    that takes a socket (it then uses the server's name only for TLS): the library never
    resolves the name itself, past the configured resolver."""
    family = socket.AF_INET6 if ":" in policy.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if policy.source:
            sock.bind((policy.source, 0))
        async with asyncio.timeout(policy.connect_timeout):
            await asyncio.get_running_loop().sock_connect(sock, (policy.address, port))
    except BaseException:
        sock.close()
        raise
    return sock


def source_address(bind: str, peer: str) -> str | None:
    """The daemon's bind address, so a scan leaves from the address the device is known by
    (and that an IP filter or a firewall on the server's side expects); the kernel's choice
    when the daemon listens on a wildcard, when the families differ, or when it listens on
    loopback and the server is elsewhere (a loopback source cannot reach it)."""
    if bind in _WILDCARDS:
        return None
    try:
        ours, theirs = ipaddress.ip_address(bind), ipaddress.ip_address(peer)
    except ValueError:
        return None
    if ours.version != theirs.version or (ours.is_loopback and not theirs.is_loopback):
        return None
    return bind


def tls_context(ctx: ServiceContext, *, verify: bool = True) -> ssl.SSLContext:
    """The device's client context (security/tls.py: the CAs of [tls] ca_bundle and the
    uploaded bundle, else the system's; host names checked). `verify` False only where a
    setting says so ([smtp] verify_tls): encrypted, but anybody's certificate taken."""
    context = client_context(ctx.state_dir / TLS_DIR, ctx.config.tls)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def open_password(ctx: ServiceContext, stored: str) -> str:
    """The password a stored value holds (sealed ones opened with the state dir's key)."""
    try:
        return (ctx.secrets or Secrets(ctx.state_dir)).open(stored)
    except SecretError as exc:
        raise DeliveryError(AUTH_FAILED, str(exc), retry=False) from None


def credential_used(
    ctx: ServiceContext,
    *,
    service: str,
    user: str,
    server: str,
    outcome: str,
    job_id: int = 0,
    reason: str = "",
) -> None:
    """The audit entry for a stored credential sent to `server` (never the password)."""
    if ctx.audit is None:
        return
    extra = {"reason": reason} if reason else {}
    ctx.audit.log.record(
        CREDENTIAL_EVENT, user=user, address=server, interface=service, outcome=outcome,
        event_id=CREDENTIAL_USE, server=server, job=job_id, **extra,
    )  # fmt: skip


def connection_failed(what: str, exc: BaseException) -> DeliveryError:
    """A failure to connect or a silent server (refused, unreachable, timed out): a retry
    later may help."""
    if isinstance(exc, TimeoutError):
        return DeliveryError(TIMEOUT, f"{what}: timed out", retry=True)
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return DeliveryError(UNREACHABLE, f"{what}: {detail or type(exc).__name__}", retry=True)
