"""Who a login is, whichever form it comes from (the web UI's login page, CentreWare's legacy
form): [auth] method picks the check (the device's own administrator, the directory, the
KDC), and group membership picks the role.

The local administrator is the fallback when [auth] local_fallback is on and the directory
cannot answer (down, misconfigured) or does not know the name. A directory that knows the
user and refuses the password is final: falling back then would let a directory password
change be undone by the device's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from mfpd.outbound.kerberos import kerberos_login, kerberos_role
from mfpd.outbound.ldap import DirectoryError, ldap_login, normalize

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

MAX_USER = 128
MAX_PASSWORD = 1024
# LoginResult.reason of a name the method does not know: the local fallback may answer it.
UNKNOWN = "unknown user"


class Role(StrEnum):
    """The device's roles, least to most (what each may do: services/web/access.py)."""

    USER = "user"
    OPERATOR = "operator"
    ADMINISTRATOR = "administrator"


RANK = {Role.USER: 0, Role.OPERATOR: 1, Role.ADMINISTRATOR: 2}


def at_least(role: str | None, needed: Role) -> bool:
    return role is not None and role in RANK and RANK[Role(role)] >= RANK[needed]


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    user: str
    role: Role | None  # None when refused
    source: str  # "local", "ldap", "kerberos": who said yes or no
    reason: str  # why, for the log and the audit log (never shown to the person logging in)


class _Unavailable(Exception):
    """The configured method cannot answer (down, not configured): the fallback may."""


async def authenticate(ctx: ServiceContext, user: str, password: str) -> LoginResult:
    user, password = user[:MAX_USER], password[:MAX_PASSWORD]
    method = ctx.config.auth.method
    if method == "local":
        return await _local(ctx, user, password)
    try:
        if method == "ldap":
            result = await _ldap(ctx, user, password)
        else:
            result = await _kerberos(ctx, user, password)
    except _Unavailable as exc:
        if not ctx.config.auth.local_fallback:
            return LoginResult(False, user, None, method, f"{method} unavailable: {exc}")
        local = await _local(ctx, user, password)
        return _with_reason(local, f"{method} unavailable: {exc}")
    if result.ok or result.reason != UNKNOWN or not ctx.config.auth.local_fallback:
        return result
    local = await _local(ctx, user, password)
    return _with_reason(local, f"{method}: unknown user")


def _with_reason(result: LoginResult, why: str) -> LoginResult:
    return LoginResult(
        result.ok, result.user, result.role, result.source, f"{why}; {result.reason}"
    )


async def _local(ctx: ServiceContext, user: str, password: str) -> LoginResult:
    """The device's own administrator account (security/auth.py), scrypt off the loop."""
    if ctx.web is None:
        return LoginResult(False, user, None, "local", "no local accounts here")
    ok = await asyncio.to_thread(ctx.web.admin.verify, user, password)
    if ok:
        return LoginResult(True, user, Role.ADMINISTRATOR, "local", "local administrator")
    return LoginResult(False, user, None, "local", "wrong user name or password")


async def _ldap(ctx: ServiceContext, user: str, password: str) -> LoginResult:
    try:
        verdict = await ldap_login(ctx, user, password)
    except DirectoryError as exc:
        raise _Unavailable(str(exc)) from None
    if verdict.outcome == "unknown":
        return LoginResult(False, user, None, "ldap", UNKNOWN)
    if verdict.outcome != "ok":
        return LoginResult(False, user, None, "ldap", f"{verdict.outcome}: {verdict.reason}")
    config = ctx.config.ldap
    role = Role.USER
    if verdict.groups & {normalize(g) for g in config.admin_groups}:
        role = Role.ADMINISTRATOR
    elif verdict.groups & {normalize(g) for g in config.operator_groups}:
        role = Role.OPERATOR
    return LoginResult(True, user, role, "ldap", f"bound as {verdict.dn}")


async def _kerberos(ctx: ServiceContext, user: str, password: str) -> LoginResult:
    """An AS exchange with the KDC (outbound/kerberos.py): an unreachable KDC lets the
    fallback answer, an unknown principal is an unknown user, and the role comes from
    [kerberos] admin_principals / operator_principals."""
    result = await kerberos_login(ctx, user, password)
    if result.reason == "kdc-unreachable":
        raise _Unavailable(result.message)
    if result.reason == "unknown-principal":
        return LoginResult(False, user, None, "kerberos", UNKNOWN)
    if not result.ok:
        return LoginResult(False, user, None, "kerberos", f"{result.reason}: {result.message}")
    role = Role(kerberos_role(ctx.config.kerberos, result.principal))
    return LoginResult(True, user, role, "kerberos", f"ticket for {result.principal}")
