"""Logging in and out: the login page, and CentreWare's own login form (POST
/userpost/xerox.set), which tools that look for the WorkCentre's factory password use.

Both check the same way: the failed-login delay first, then security/login.py's
authenticate ([auth] method: the local administrator, the directory or the KDC); a success
makes a new session carrying the user's role (session-fixation defense) and every attempt
goes to the event log and the audit log, with who answered it (local, ldap, kerberos).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from aiohttp import web

from mfpd.security.login import MAX_USER, LoginResult, authenticate
from mfpd.services.web import access
from mfpd.services.web.pages_render import form_of, render, safe_next, see_other
from mfpd.services.web.state import SERVICE

# CentreWare's answer to a wrong password, which scanners look for in the response.
INVALID = "/login.php?invalid=t"
# Where CentreWare's own login form sends the browser after a login.
CENTREWARE_LOGIN = "/properties/authentication/luidLogin.php"


async def check_login(request: web.Request, user: str, password: str) -> LoginResult:
    """The password check every login form shares, slowed after repeated failures."""
    state = access.web_state(request)
    remote = request.remote or "unknown"
    delay = state.throttle.delay(remote)
    if delay > 0:
        await asyncio.sleep(delay)
    result = await authenticate(request.app[SERVICE].ctx, user, password)
    audit = access.audit_feed(request)
    interface = str(request.app[SERVICE].name)
    if result.ok:
        state.throttle.succeeded(remote)
        state.log.record(
            "login", f"{user} logged in from {remote} ({request.path}) as {result.role}, "
            f"{result.source}: {result.reason}", user=user,
        )  # fmt: skip
        if audit is not None:
            audit.log.record(
                "login-success", user=user[:64], address=remote, interface=interface,
                path=request.path, source=result.source, role=str(result.role),
            )  # fmt: skip
    else:
        failures = state.throttle.failed(remote)
        state.log.record(
            "login",
            f"failed login as {user[:64]!r} from {remote} ({request.path}, failure {failures}, "
            f"{result.source}: {result.reason[:300]})",
            "warning",
            remote=remote,
        )
        if audit is not None:
            audit.log.record(
                "login-failure", user=user[:64], address=remote, interface=interface,
                outcome="failure", path=request.path, failures=failures, source=result.source,
                reason=result.reason[:200],
            )  # fmt: skip
    return result


def start_session(request: web.Request, result: LoginResult) -> None:
    """A new session for the user, replacing the visitor's (whose id may have been planted)."""
    state = access.web_state(request)
    session = state.sessions.login(access.session_of(request), result.user, result.role)
    access.remember(request, session)


async def get_login(request: web.Request) -> web.StreamResponse:
    target = safe_next(request.query.get("next"))
    if access.user_of(request) is not None:
        raise see_other(request, target)
    error = "The user name or password is wrong." if request.query.get("invalid") == "t" else ""
    return _login_page(request, target, error=error, status=401 if error else 200)


def _login_page(
    request: web.Request, target: str, *, error: str = "", user: str = "", status: int = 200
) -> web.Response:
    return render(
        request, "login.html", "login", "Log in", status=status, next=target, error=error,
        username=user,
    )  # fmt: skip


async def post_login(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    user = form.get("username", "").strip()
    target = safe_next(form.get("next"))
    result = await check_login(request, user, form.get("password", ""))
    if not result.ok:
        return _login_page(
            request, target, error="The user name or password is wrong.", user=user[:MAX_USER],
            status=401,
        )  # fmt: skip
    start_session(request, result)
    raise see_other(request, target)


async def post_logout(request: web.Request) -> web.StreamResponse:
    session = access.session_of(request)
    if session is not None:
        if session.user:
            access.web_state(request).log.record(
                "login", f"{session.user} logged out from {request.remote}", user=session.user
            )
        access.web_state(request).sessions.logout(session)
    access.remember(request, None)
    raise see_other(request, "/")


def _cross_origin(request: web.Request) -> bool:
    """A browser always sends Origin on a cross-site POST: one naming another host is a
    login-CSRF attempt (logging the victim into the attacker's session)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    return netloc.lower() != request.host.lower()


async def post_xerox_set(request: web.Request) -> web.StreamResponse:
    """CentreWare's login form: fields webUsername, webPassword, NextPage (and _fun_function,
    frmaltDomain, which only say which form it is). No CSRF token, as on the device."""
    if _cross_origin(request):
        access.web_state(request).log.record(
            "login", f"refused a cross-site login from {request.remote} "
            f"(Origin {request.headers.get('Origin', '')[:100]})", "warning",
        )  # fmt: skip
        return web.Response(status=403, text="403 Forbidden: cross-site login\n")
    form = await form_of(request)
    user = form.get("webUsername", "").strip()
    result = await check_login(request, user, form.get("webPassword", ""))
    if not result.ok:
        raise web.HTTPFound(INVALID, text=f"The user name or password is wrong: see {INVALID}\n")
    start_session(request, result)
    raise web.HTTPFound(safe_next(form.get("NextPage"), "/properties"))


async def get_login_php(request: web.Request) -> web.StreamResponse:
    """CentreWare's login page address, kept for bookmarks and for its invalid=t answer."""
    raise see_other(
        request, "/login?invalid=t" if request.query.get("invalid") == "t" else "/login"
    )


async def get_centreware_landing(request: web.Request) -> web.StreamResponse:
    raise see_other(request, "/properties")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/login", get_login)
    r.add_post("/login", post_login)
    r.add_post("/logout", post_logout)
    r.add_post("/userpost/xerox.set", post_xerox_set)
    r.add_get("/login.php", get_login_php)
    r.add_get(CENTREWARE_LOGIN, get_centreware_landing)
