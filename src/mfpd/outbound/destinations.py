"""Where a walk-up scan goes: the destination URIs of [[scan.templates]] (mailto:, ftp://,
ftps://, smb://, mailbox:), parsed once, and `deliver()`, which hands the scan's files to the
client of the URI's scheme under the one client policy (outbound/policy.py).

A password may sit in a URI's userinfo (`USER:PASS@`), as the device's legacy configuration
files allow (RFC 3986 3.2.1 deprecates it; we accept it and never show it back): the parsed
Destination keeps it apart from the URI, which is then safe to log and to show."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from mfpd.config import DestinationConfig

# What the clients name the files and write in the message after: the scan runner's record
# (job id and name, user, MIME type, template, start time), one definition for both.
from mfpd.device.scan_jobs import DeliveryInfo as DeliveryInfo
from mfpd.security.secrets import Secrets, masked

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

SCHEMES = ("mailto", "ftp", "ftps", "smb", "mailbox")
DEFAULT_PORTS = {"ftp": 21, "ftps": 21, "smb": 445}
# A mailbox name as [[scan.mailboxes]] allows it (config.MailboxConfig).
_MAILBOX = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# An addr-spec without comments or quoting (RFC 5321 4.1.2 Mailbox, the dot-atom form).
_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,253}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$")
# Characters that would end or split a command line of FTP (RFC 959 4.1.3), SMTP or a path.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DeliveryError(Exception):
    """A destination did not take the scan. `reason` is the job-state-reasons keyword the
    runner shows on the job; `retry` says whether trying again later may help (the server was
    down or slow) or not (wrong password, certificate refused, the server said no)."""

    def __init__(self, reason: str, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry = retry


# The reasons, as job-state-reasons keywords. PWG 5100.17 (IPP Scan) 5.3.6 has only the one
# "destination-uri-failed"; these say which way it failed, so the user knows what to fix.
UNREACHABLE = "destination-unreachable"  # refused, no route, name unknown: retried
TIMEOUT = "destination-timeout"  # connected, then silence: retried
AUTH_FAILED = "destination-auth-failed"  # wrong user or password
TLS_FAILED = "destination-tls-failed"  # no TLS offered, or a certificate we do not trust
REFUSED = "destination-refused"  # the server said no (no such share or folder, full, ...)
TOO_LARGE = "destination-too-large"  # one part is over what the server takes
NOT_CONFIGURED = "destination-not-configured"  # [smtp] server empty, no such mailbox
INVALID = "destination-uri-invalid"  # a destination that does not parse


@dataclass(frozen=True)
class Destination:
    """One destination: `uri` without any password, the user name, and the password as
    stored (plain from a hand-written file, or sealed by security/secrets.py)."""

    uri: str
    username: str = ""
    password: str = ""

    @property
    def scheme(self) -> str:
        return self.uri.split(":", 1)[0].lower()

    def endpoint(self) -> Endpoint:
        return _endpoint(self.uri)

    def public(self) -> dict[str, str]:
        """As the UI and the API show it: the password masked (security/secrets.py)."""
        return {"uri": self.uri, "username": self.username, "password": masked(self.password)}

    def sealed(self, secrets: Secrets) -> DestinationConfig:
        """As [[scan.templates]] keeps it once set through the UI or the API: a table, the
        password encrypted at rest (a password that came in the URI's userinfo too)."""
        return DestinationConfig(
            uri=self.uri, username=self.username, password=secrets.seal(self.password)
        )


@dataclass(frozen=True)
class Endpoint:
    """What a destination URI names, decoded: where to connect and where the files go."""

    scheme: str
    host: str = ""
    port: int = 0
    # ftp: the directory; smb: the path inside the share; both "/"-separated, no leading "/".
    path: str = ""
    share: str = ""  # smb
    addresses: tuple[str, ...] = ()  # mailto
    mailbox: str = ""


def parse_destinations(items: Sequence[str | DestinationConfig]) -> list[Destination]:
    """The destinations of a template; ValueError naming the first bad one (without its
    password)."""
    found = []
    for item in items:
        if isinstance(item, DestinationConfig):
            uri, username, password = item.uri, item.username, item.password
        else:
            uri, username, password = item, "", ""
        try:
            found.append(parse_destination(uri, username, password))
        except ValueError as exc:
            raise ValueError(f"destination {_shown(uri)!r}: {exc}") from None
    return found


def parse_destination(uri: str, username: str = "", password: str = "") -> Destination:
    if _CONTROL.search(uri) or _CONTROL.search(username) or _CONTROL.search(password):
        raise ValueError("control characters are not allowed")
    scheme, sep, rest = uri.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise ValueError(f"the scheme must be one of {', '.join(SCHEMES)}")
    if scheme in ("mailto", "mailbox"):
        if username or password:
            raise ValueError(f"{scheme}: takes no user name or password")
        clean = f"{scheme}:{rest}"
        _endpoint(clean)
        return Destination(clean)
    parts = urlsplit(uri)
    if parts.query or parts.fragment:
        raise ValueError("a query or fragment is not allowed")
    userinfo, _at, hostport = parts.netloc.rpartition("@")
    user, colon, secret = userinfo.partition(":")
    user, secret = unquote(user), unquote(secret)
    if colon and not password:
        password = secret
    username = username or user
    if _CONTROL.search(username) or _CONTROL.search(password):
        raise ValueError("control characters are not allowed")
    clean_user = quote(username, safe=";") + "@" if username else ""
    clean = f"{scheme}://{clean_user}{hostport}{parts.path}"
    _endpoint(clean)
    if scheme == "smb" and not username:
        raise ValueError("smb: needs a user name (USER@HOST)")
    return Destination(clean, username, password)


def _endpoint(uri: str) -> Endpoint:
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "mailto":
        # RFC 6068 2: addresses separated by commas; headers (?subject=) are the template's.
        if "?" in rest or not rest:
            raise ValueError("mailto: needs one or more addresses and nothing else")
        addresses = tuple(unquote(a).strip() for a in rest.split(","))
        for address in addresses:
            if not _ADDRESS.match(address):
                raise ValueError(f"not a mail address: {address!r}")
        return Endpoint(scheme, addresses=addresses)
    if scheme == "mailbox":
        if not _MAILBOX.match(rest):
            raise ValueError("a mailbox name is letters, digits, '.', '_' and '-'")
        return Endpoint(scheme, mailbox=rest)
    parts = urlsplit(uri)
    try:
        port = DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    if not 0 < port < 65536:
        raise ValueError("the port must be a number from 1 to 65535")
    host = parts.hostname or ""
    if not host:
        raise ValueError("a host is needed")
    if not _HOST.match(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"not a host name or address: {host!r}") from None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    for segment in segments:
        # An encoded "/" (%2F) would make two segments of one, and "%2F..%2F" a way up.
        if segment in (".", "..") or _CONTROL.search(segment) or "\\" in segment or "/" in segment:
            raise ValueError("a path segment may not be '.', '..' or hold '/' or '\\'")
    if scheme == "smb":
        if not segments:
            raise ValueError("smb: needs a share (smb://USER@HOST/SHARE/PATH)")
        return Endpoint(scheme, host, port, "/".join(segments[1:]), share=segments[0])
    return Endpoint(scheme, host, port, "/".join(segments))


def _shown(uri: str) -> str:
    """A URI as a log line or an error may show it: any password in the userinfo masked."""
    return re.sub(r"^([A-Za-z]+://[^/@:]*):[^/@]*@", r"\1:********@", uri)


async def deliver(
    ctx: ServiceContext,
    dest: Destination | str | DestinationConfig,
    files: Sequence[Path],
    info: DeliveryInfo,
) -> str:
    """Send `files` (one scan: its pages, or its one document) to `dest`; answer a line for
    the log. DeliveryError when it did not arrive (whatever arrived before that is left for
    the server's owner: a retry sends everything again, under new temporary names). A
    destination as a template holds it (a URI or a table) is parsed here."""
    if not isinstance(dest, Destination):
        try:
            (dest,) = parse_destinations([dest])
        except ValueError as exc:
            raise DeliveryError(INVALID, str(exc), retry=False) from None
    if not files:
        raise DeliveryError(REFUSED, "nothing to deliver", retry=False)
    paths = list(files)
    scheme = dest.scheme
    if scheme == "mailto":
        from mfpd.outbound.smtp import send_mail

        return await send_mail(ctx, dest, paths, info)
    if scheme in ("ftp", "ftps"):
        from mfpd.outbound.ftp import upload_ftp

        return await upload_ftp(ctx, dest, paths, info)
    if scheme == "smb":
        from mfpd.outbound.smb import upload_smb

        return await upload_smb(ctx, dest, paths, info)
    if scheme == "mailbox":
        from mfpd.outbound.mailbox import file_in_mailbox

        return await file_in_mailbox(ctx, dest, paths, info)
    raise DeliveryError(INVALID, f"no client for {scheme}:", retry=False)


def deliverer(ctx: ServiceContext) -> Callable[[Any, Sequence[Path], DeliveryInfo], Awaitable[str]]:
    """deliver() bound to the daemon's context, as the scan runner takes it
    (`ctx.scans.deliver = deliverer(ctx)`)."""

    async def bound(dest: Any, files: Sequence[Path], info: DeliveryInfo) -> str:
        return await deliver(ctx, dest, files, info)

    return bound
