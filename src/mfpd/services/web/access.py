"""Who is asking, and whether they may: sessions (cookie), API tokens (RFC 6750 Bearer), CSRF
checks on every state-changing request, the require-login policy, and the security headers of
every page.

Rules:
- A page form (POST to a page) needs the CSRF token of the visitor's session, in the form's
  `csrf` field or the X-CSRF-Token header: missing or wrong is 403.
- The API (/api/v1) is for scripts: a Bearer token authenticates, no CSRF needed. A session
  cookie authenticates an API request only when it is safe (GET) or carries the session's
  X-CSRF-Token header (the pages' own scripts do); otherwise an administrator's cookie on an
  unsafe API request is 403, so a forged cross-site request can never ride on it.
- Unauthenticated visitors see status and jobs read-only, unless web.require_login.
- Roles (security/login.py): a user may look and use (the address book, scanning), an
  operator also acts on the machine and on anybody's job (faults, refills, cancel), the
  administrator also changes settings. An API token is the administrator's.
- eSCL (/eSCL, services/scan/) is a device protocol like IPP, not a page: no session, no
  CSRF token, no login redirect; open unless [scan] require_auth, which asks for HTTP Basic
  (RFC 7617) checked as any login is ([auth] method, security/login.py): any role may scan.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from mfpd.security.audit_events import Actor, AuditFeed
from mfpd.security.auth import Session
from mfpd.security.login import Role, at_least, authenticate
from mfpd.services.web.state import SERVICE, WEB, WebState

COOKIE = "session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
API_PREFIX = "/api/"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# The UPnP description and WS-Discovery's metadata (services/discovery/http_routes.py): read
# by discovery clients, which log in nowhere and post SOAP with no CSRF token.
DISCOVERY_PATHS = ("/upnp/", "/wsd")
# eSCL (services/scan/): its clients (AirScan, Mopria, sane-airscan) keep no session.
ESCL_PREFIX = "/eSCL/"
# Paths open to everybody even when web.require_login is on.
OPEN_PATHS = ("/login", "/static/", "/userpost/", "/api/v1/openapi.json", *DISCOVERY_PATHS)
# Forms that log in: they make their own session, and need no session to post from.
LOGIN_FORMS = ("/userpost/xerox.set",)

_SESSION: web.RequestKey[Session | None] = web.RequestKey("mfpd.session")
_USER: web.RequestKey[str | None] = web.RequestKey("mfpd.user")
_ROLE: web.RequestKey[str | None] = web.RequestKey("mfpd.role")
_VIA = web.RequestKey("mfpd.via", str)
_NEW_COOKIE = web.RequestKey("mfpd.cookie", str)  # "" to forget the session
_NONCE = web.RequestKey("mfpd.nonce", str)
_MULTIPART = web.RequestKey("mfpd.multipart", MultipartReader)
_FIRST_PART: web.RequestKey[object] = web.RequestKey("mfpd.first_part")
# Where IPP is answered (services/ipp/server.py): a POST there is IPP, never a page form.
IPP_PATHS = ("/ipp/print", "/ipp", "/ipp/printer", "/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def web_state(request: web.Request) -> WebState:
    return request.app[WEB]


def session_of(request: web.Request) -> Session | None:
    session: Session | None = request.get(_SESSION)
    return session


def user_of(request: web.Request) -> str | None:
    """The logged-in user's name (whatever the role), else None."""
    user: str | None = request.get(_USER)
    return user


def role_of(request: web.Request) -> str | None:
    """The logged-in user's role (security/login.py Role), None for a visitor."""
    role: str | None = request.get(_ROLE) if user_of(request) is not None else None
    return role


def via(request: web.Request) -> str:
    """How the request authenticated: session, token, or anonymous."""
    return str(request.get(_VIA, "anonymous"))


def request_host(request: web.Request) -> str:
    """The host the client reached us by (its Host header without the port; an IPv6
    address keeps its brackets): the name to put in a link to another of our ports."""
    host = request.host
    if host.endswith("]") or ":" not in host:
        return host
    return host.rsplit(":", 1)[0]


def audit_actor(request: web.Request) -> Actor:
    """Who the audit log names for this request: the user, the peer, the listener."""
    return Actor(
        user=user_of(request) or "anonymous",
        address=request.remote or "",
        interface=str(request.app[SERVICE].name),
    )


def audit_feed(request: web.Request) -> AuditFeed | None:
    feed: AuditFeed | None = request.app[SERVICE].ctx.audit
    return feed


def https_link(request: web.Request, path: str) -> str | None:
    """`path` on this device's HTTPS listener, as the client reached us; None when off."""
    port = web_state(request).live_port("https")
    if port is None:
        return None
    return f"https://{request_host(request)}{'' if port == 443 else f':{port}'}{path}"


def is_admin(request: web.Request) -> bool:
    return at_least(role_of(request), Role.ADMINISTRATOR)


def is_operator(request: web.Request) -> bool:
    """An operator or the administrator: may act on the machine and on anybody's job."""
    return at_least(role_of(request), Role.OPERATOR)


def script_nonce(request: web.Request) -> str:
    """The CSP nonce of this page's inline script (there is at most one)."""
    nonce: str | None = request.get(_NONCE)
    if nonce is None:
        nonce = secrets.token_urlsafe(12)
        request[_NONCE] = nonce
    return nonce


def visitor_session(request: web.Request) -> Session:
    """The session of this visitor, made (and its cookie set) when there is none yet."""
    session = session_of(request)
    if session is None:
        session = web_state(request).sessions.create(None)
        remember(request, session)
    return session


def remember(request: web.Request, session: Session | None) -> None:
    """Make `session` this visitor's (None: forget it) and send its cookie."""
    request[_SESSION] = session
    request[_USER] = session.user if session is not None else None
    request[_ROLE] = session.role if session is not None else None
    request[_VIA] = "session" if session is not None and session.user else "anonymous"
    request[_NEW_COOKIE] = session.id if session is not None else ""


def csrf_token(request: web.Request) -> str:
    return visitor_session(request).csrf


def is_api(request: web.Request) -> bool:
    return request.path.startswith(API_PREFIX)


async def _presented_csrf(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type == "multipart/form-data":
        # The pages put the token first, before any file: reading that part here leaves the
        # upload unread, and the handler goes on with the same reader (multipart_of).
        try:
            reader = await request.multipart()
            part = await reader.next()
        except (ValueError, AssertionError, HttpProcessingError, web.HTTPException):
            return ""
        request[_MULTIPART] = reader
        if isinstance(part, BodyPartReader) and part.name == CSRF_FIELD:
            return (await part.read(decode=False))[:256].decode("utf-8", "replace")
        request[_FIRST_PART] = part
        return ""
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def multipart_of(request: web.Request) -> tuple[MultipartReader, object | None]:
    """The multipart reader of a form, and a part the CSRF check read already (or None)."""
    reader: MultipartReader | None = request.get(_MULTIPART)
    if reader is None:
        return await request.multipart(), None
    return reader, request.get(_FIRST_PART)


def forbidden(request: web.Request, message: str) -> web.Response:
    if is_api(request):
        return web.json_response({"error": message, "status": 403}, status=403)
    return web.Response(status=403, text=f"403 Forbidden: {message}\n")


def unauthorized(request: web.Request, message: str = "log in first") -> web.StreamResponse:
    if is_api(request):
        response = web.json_response({"error": message, "status": 401}, status=401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if request.method in SAFE:
        raise web.HTTPSeeOther(f"/login?next={_quote_next(request.path_qs)}")
    return web.Response(status=401, text=f"401 Unauthorized: {message}\n")


def _quote_next(path: str) -> str:
    from urllib.parse import quote

    return quote(path if path.startswith("/") and not path.startswith("//") else "/", safe="")


def require_admin(request: web.Request) -> web.StreamResponse | None:
    """None when the request is the administrator's; else the answer to give."""
    return require_role(request, Role.ADMINISTRATOR)


def require_role(request: web.Request, needed: Role) -> web.StreamResponse | None:
    """None when the request's role is `needed` or above; else the answer to give: 403 to
    someone logged in with a lesser role (logging in again would not help), 401 otherwise."""
    if at_least(role_of(request), needed):
        return None
    if user_of(request) is not None:
        return forbidden(request, f"{needed} role required")
    return unauthorized(request, f"{needed} login required")


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    """user and password of an RFC 7617 Basic Authorization header, else None."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 1024:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


async def _device_protocol(request: web.Request, handler: Handler) -> web.StreamResponse:
    """eSCL: open by default; with [scan] require_auth, HTTP Basic checked as the login page
    checks a password (any role may scan), failures slowed per address and logged as the
    login page's are. A success is not logged: a client sends its credentials with every
    request of a job, dozens per scan."""
    ctx = request.app[SERVICE].ctx
    if not ctx.config.scan.require_auth:
        return await handler(request)
    state = web_state(request)
    address = request.remote or ""
    credentials = _basic_credentials(request.headers.get("Authorization", ""))
    if credentials is not None:
        delay = state.throttle.delay(address)
        if delay > 0:
            await asyncio.sleep(min(delay, 5.0))
        result = await authenticate(ctx, *credentials)
        if result.ok:
            state.throttle.succeeded(address)
            request[_USER] = result.user
            request[_ROLE] = result.role
            request[_VIA] = "basic"
            return await handler(request)
        failures = state.throttle.failed(address)
        state.log.record(
            "login", f"refused eSCL {request.method} {request.path} from {address} as "
            f"{result.user[:64]!r} (failure {failures}, {result.source}: {result.reason[:300]})",
            "warning",
        )  # fmt: skip
        feed = audit_feed(request)
        if feed is not None:
            feed.log.record(
                "login-failure", user=result.user[:64], address=address,
                interface=str(request.app[SERVICE].name), outcome="failure", path=request.path,
                failures=failures, source=result.source, reason=result.reason[:200],
            )  # fmt: skip
    await request.release()
    return web.Response(
        status=401,
        text="401 Unauthorized: eSCL needs a user name and password of the device\n",
        headers={"WWW-Authenticate": 'Basic realm="eSCL", charset="UTF-8"'},
    )


@web.middleware
async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ESCL_PREFIX):
        return await _device_protocol(request, handler)
    if request.method == "POST" and (
        request.path in IPP_PATHS or request.path.startswith(DISCOVERY_PATHS)
    ):
        # IPP (on its paths, whatever the Content-Type says): the printer's own operations
        # and policy; a POST that is no IPP is answered 400 there. SOAP to the discovery
        # paths likewise: no session, nothing it may change.
        return await handler(request)
    state = web_state(request)
    request[_SESSION] = None
    request[_USER] = None
    request[_ROLE] = None
    request[_VIA] = "anonymous"
    unsafe = request.method not in SAFE
    api = is_api(request)
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        token = state.tokens.verify(secret.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            return unauthorized(request, "unknown or revoked token")
        request[_USER] = state.admin.user
        request[_ROLE] = Role.ADMINISTRATOR
        request[_VIA] = "token"
    else:
        session = state.sessions.get(request.cookies.get(COOKIE))
        if session is not None:
            request[_SESSION] = session
            if session.user and (not api or not unsafe):
                request[_USER] = session.user
                request[_ROLE] = session.role
                request[_VIA] = "session"
        if unsafe and not request.path.startswith(LOGIN_FORMS):
            logged_in = session is not None and session.user is not None
            if not api or logged_in or request.headers.get(CSRF_HEADER):
                presented = await _presented_csrf(request)
                # Bytes: compare_digest refuses str that is not ASCII (a forged token may be).
                if session is None or not hmac.compare_digest(
                    presented.encode(), session.csrf.encode()
                ):
                    state.log.record(
                        "login", f"refused {request.method} {request.path} from "
                        f"{request.remote}: CSRF token missing or wrong", "warning",
                    )  # fmt: skip
                    return forbidden(request, "CSRF token missing or wrong")
                if session.user:
                    request[_USER] = session.user
                    request[_ROLE] = session.role
                    request[_VIA] = "session"
    config = request.app[SERVICE].ctx.config.web
    if config.require_login and request[_USER] is None and not request.path.startswith(OPEN_PATHS):
        return unauthorized(request)
    # The cookie of a session made or ended while answering goes on the response here:
    # aiohttp writes cookies out before on_response_prepare runs.
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _send_cookie(request, exc)
        raise
    _send_cookie(request, response)
    return response


def _send_cookie(request: web.Request, response: web.StreamResponse) -> None:
    new = request.get(_NEW_COOKIE)
    if new:
        # HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it;
        # Secure on HTTPS, so that once set over TLS it never travels in clear.
        response.set_cookie(
            COOKIE, new, httponly=True, samesite="Strict", secure=request.secure, path="/"
        )
    elif new == "":
        response.del_cookie(COOKIE, path="/")


async def set_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every page's security headers."""
    if response.content_type == "text/html":
        nonce = request.get(_NONCE)
        scripts = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
