"""Who may change the device: the administrator's password, login sessions, the slowing of
repeated failed logins, and API tokens for scripts.

Passwords and tokens are stored only as hashes (scrypt, RFC 7914, for the password; SHA-256
for tokens, which are 256 random bits and need no stretching). At first start a random
administrator password is made and printed once; `web.default_credentials` reproduces the
WorkCentre's factory default (admin / 1111) instead, for people testing scanners that look
for it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfpd.config import WebConfig

ADMIN_FILE = "admin.json"
TOKENS_FILE = "tokens.json"
FACTORY_PASSWORD = "1111"  # the WorkCentre 7755's documented factory default
TOKEN_PREFIX = "mfpd_"
# scrypt cost: about 50 ms here, run off the event loop (RFC 7914 section 2; OWASP's
# minimum is N=2^17 with r=8, p=1 for interactive logins; this device favours 2 cores).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def write_private_json(path: Path, data: Any) -> None:
    """JSON only the owner may read, from the moment the file exists; written whole, synced
    and renamed into place, so a crash leaves the old file or the new one."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class Administrator:
    """The administrator account of the embedded web server."""

    def __init__(self, state_dir: Path, config: Callable[[], WebConfig]) -> None:
        self.path = state_dir / ADMIN_FILE
        self._config = config
        self._hash = ""

    @property
    def user(self) -> str:
        return self._config().admin_user

    @property
    def factory_default(self) -> bool:
        return self._config().default_credentials

    def ensure(self) -> str | None:
        """Load the stored hash; at first start make a password, answered to be printed once."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._hash = str(data["password"])
            return None
        except (OSError, ValueError, KeyError, TypeError):
            pass
        password = secrets.token_urlsafe(12)
        self.set_password(password)
        return password

    def set_password(self, password: str) -> None:
        self._hash = hash_password(password)
        write_private_json(self.path, {"password": self._hash, "changed": time.time()})

    def verify(self, user: str, password: str) -> bool:
        """Blocking (scrypt): call it from a thread."""
        if not hmac.compare_digest(user.encode(), self.user.encode()):
            # Same work either way, so timing does not tell a wrong name from a wrong password.
            check_password(password, self._hash or hash_password(""))
            return False
        if self.factory_default:
            return hmac.compare_digest(password.encode(), FACTORY_PASSWORD.encode())
        return check_password(password, self._hash)


@dataclass
class Session:
    id: str
    csrf: str
    user: str | None  # None: a visitor who has not logged in
    created: float
    last_seen: float
    # security/login.py's Role of the user: "administrator", "operator" or "user".
    role: str | None = None


class Sessions:
    """Login sessions, in memory: a restart logs everybody out, as a device reboot does.
    Every visitor gets a session (it carries the CSRF token of the login form); logging in
    replaces it with a new one, so an identifier planted before login is worthless
    (session fixation)."""

    def __init__(self, config: Callable[[], WebConfig], clock: Callable[[], float]) -> None:
        self._config = config
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > self._config().session_idle:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        self._sessions.move_to_end(session_id)
        return session

    def create(self, user: str | None, role: str | None = None) -> Session:
        now = self._clock()
        if user is not None and role is None:
            role = "administrator"  # the one account there was before roles
        session = Session(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, now, now, role
        )
        self._sessions[session.id] = session
        self._evict()
        return session

    def _evict(self) -> None:
        """Over the limit, visitors' sessions go first, oldest first, then the oldest."""
        limit = self._config().max_sessions
        if len(self._sessions) <= limit:
            return
        for key in [k for k, s in self._sessions.items() if s.user is None]:
            if len(self._sessions) <= limit:
                return
            del self._sessions[key]
        while len(self._sessions) > limit:
            self._sessions.popitem(last=False)

    def login(self, old: Session | None, user: str, role: str | None = None) -> Session:
        if old is not None:
            self._sessions.pop(old.id, None)
        return self.create(user, role)

    def logout(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def end_all(self, user: str) -> int:
        """After a password change: every session of `user` ends."""
        ended = [k for k, s in self._sessions.items() if s.user == user]
        for key in ended:
            del self._sessions[key]
        return len(ended)


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginThrottle:
    """Failed logins from one address: after `login_free_attempts`, each attempt waits
    login_delay x 2^(n - free) seconds (at most login_delay_max) before it is answered.
    Forgotten after 15 minutes without a failure, and cleared by a successful login."""

    FORGET = 900.0
    MAX_ADDRESSES = 10000

    def __init__(self, config: Callable[[], WebConfig], clock: Callable[[], float]) -> None:
        self._config = config
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def delay(self, address: str) -> float:
        entry = self._failures.get(address)
        if entry is None:
            return 0.0
        if self._clock() - entry.last > self.FORGET:
            del self._failures[address]
            return 0.0
        config = self._config()
        over = entry.count - config.login_free_attempts
        if over < 0:
            return 0.0
        return float(min(config.login_delay_max, config.login_delay * 2 ** min(over, 30)))

    def failed(self, address: str) -> int:
        entry = self._failures.pop(address, None) or _Failures()
        entry.count += 1
        entry.last = self._clock()
        self._failures[address] = entry
        while len(self._failures) > self.MAX_ADDRESSES:
            self._failures.popitem(last=False)
        return entry.count

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


@dataclass
class ApiToken:
    id: str
    name: str
    digest: str
    created: float
    last_used: float | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created": self.created}


@dataclass
class ApiTokens:
    """Bearer tokens for scripts (RFC 6750), created by the administrator. The token itself
    is shown once, at creation; only its SHA-256 is kept."""

    path: Path
    _tokens: dict[str, ApiToken] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> ApiTokens:
        tokens = cls(state_dir / TOKENS_FILE)
        try:
            data = json.loads(tokens.path.read_text(encoding="utf-8"))
            for item in data:
                token = ApiToken(
                    str(item["id"]), str(item["name"]), str(item["digest"]), float(item["created"])
                )
                tokens._tokens[token.digest] = token
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return tokens

    def _save(self) -> None:
        write_private_json(
            self.path,
            [{**t.public(), "digest": t.digest} for t in self._tokens.values()],
        )

    def list(self) -> list[ApiToken]:
        return sorted(self._tokens.values(), key=lambda t: t.created)

    def create(self, name: str) -> tuple[ApiToken, str]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(secrets.token_hex(6), name, _digest(secret), time.time())
        self._tokens[token.digest] = token
        self._save()
        return token, secret

    def delete(self, token_id: str) -> bool:
        for digest, token in list(self._tokens.items()):
            if token.id == token_id:
                del self._tokens[digest]
                self._save()
                return True
        return False

    def verify(self, secret: str) -> ApiToken | None:
        token = self._tokens.get(_digest(secret))
        if token is not None:
            token.last_used = time.time()
        return token


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
