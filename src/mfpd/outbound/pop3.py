"""The POP3 client of Internet Fax reception (RFC 1939): poplib in a worker thread, over
POP3S (RFC 8314 3.3, implicit TLS, port 995) or POP3 with STLS (RFC 2595 4), connected
through the client policy (source address, timeouts, CA bundle) and logging in with the
stored password (audited as a credential use).

One session per poll: LIST, then for each message RETR into a file with a byte cap (a
message over [ifax] max_message_bytes is not kept, whatever LIST claimed), the caller's
verdict (taken on the event loop), DELE for what the caller is done with, QUIT (which
commits the deletions, RFC 1939 6). A message the caller could not handle stays on the
server for the next poll."""

from __future__ import annotations

import asyncio
import concurrent.futures
import poplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from mfpd.outbound.destinations import (
    AUTH_FAILED,
    NOT_CONFIGURED,
    TLS_FAILED,
    DeliveryError,
)
from mfpd.outbound.policy import (
    ClientPolicy,
    client_policy,
    connection_failed,
    credential_used,
    open_password,
    tls_context,
)

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

DEFAULT_PORTS = {"pop3": 110, "pop3s": 995}
# How long the event loop may take over one message (printing it, sending its MDN).
HANDLE_TIMEOUT = 300.0
CHUNK = 64 * 1024
# How often a worker thread waiting on the event loop looks whether the daemon is stopping.
STOP_CHECK = 0.5
# The header block of a message too large to read, kept to name its sender.
HEADER_CAP = 64 * 1024


@dataclass(frozen=True)
class Mailbox:
    scheme: str  # pop3 or pop3s
    user: str
    host: str
    port: int

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{self.user}@{host}:{self.port}"


def parse_mailbox(url: str) -> Mailbox:
    """[ifax] pop3 as a mailbox: pop3://USER@HOST[:PORT] or pop3s://..."""
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or not parts.username:
        raise DeliveryError(
            NOT_CONFIGURED, f"[ifax] pop3 {url!r}: not pop3://USER@HOST:PORT", retry=False
        )
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise DeliveryError(NOT_CONFIGURED, f"[ifax] pop3 {url!r}: bad port", retry=False) from None
    return Mailbox(parts.scheme, unquote(parts.username), parts.hostname, port)


@dataclass(frozen=True)
class Fetched:
    number: int
    size: int  # as LIST gave it
    path: Path | None  # the message's bytes; None when it was over the cap
    headers: Path | None = None  # then its header block alone, when that was small


# The caller's verdict on one message: True to delete it from the server.
Handle = Callable[[Fetched], Coroutine[Any, Any, bool]]


class _Connect:
    """poplib's socket made through the policy: the resolved address, the source address,
    the connect timeout, then the I/O timeout for every read."""

    policy: ClientPolicy
    host: str
    port: int

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = socket.create_connection(
            (self.policy.address, self.port), self.policy.connect_timeout,
            source_address=self.policy.local_addr,
        )  # fmt: skip
        sock.settimeout(self.policy.io_timeout)
        return sock


class _Pop3(_Connect, poplib.POP3):
    def __init__(self, host: str, port: int, policy: ClientPolicy) -> None:
        self.policy = policy
        super().__init__(host, port, timeout=policy.connect_timeout)


class _Pop3s(_Connect, poplib.POP3_SSL):
    def __init__(self, host: str, port: int, policy: ClientPolicy, context: ssl.SSLContext):
        self.policy = policy
        self.tls = context
        super().__init__(host, port, timeout=policy.connect_timeout, context=context)

    def _create_socket(self, timeout: float) -> socket.socket:
        # The policy's connection, then TLS from the first byte, the name checked.
        return self.tls.wrap_socket(super()._create_socket(timeout), server_hostname=self.host)


class Stopped(Exception):
    """The daemon is stopping: the session ends without QUIT, so nothing is deleted that
    was not dealt with (RFC 1939 6: deletions happen only in the UPDATE state)."""


async def poll(
    ctx: ServiceContext, handle: Handle, spool_dir: Path, stopping: threading.Event
) -> tuple[int, int]:
    """One session with [ifax] pop3: each message handed to `handle`; (messages seen,
    messages deleted). DeliveryError when the session fails, Stopped when `stopping` is
    set meanwhile (the worker thread does not outlive the event loop by more than a read)."""
    config = ctx.config.ifax
    box = parse_mailbox(config.pop3)
    policy = await client_policy(ctx, box.host, box.port)
    context = tls_context(ctx, verify=config.verify_tls)
    password = open_password(ctx, config.password)
    loop = asyncio.get_running_loop()

    def on_loop(fetched: Fetched) -> bool:
        if stopping.is_set():
            raise Stopped()
        future = asyncio.run_coroutine_threadsafe(handle(fetched), loop)
        deadline = time.monotonic() + HANDLE_TIMEOUT
        while True:
            try:
                return bool(future.result(STOP_CHECK))
            except concurrent.futures.TimeoutError:
                if stopping.is_set() or time.monotonic() > deadline:
                    future.cancel()
                    raise Stopped() from None

    def audit(outcome: str, reason: str = "") -> None:
        def record() -> None:
            credential_used(
                ctx, service="pop3", user=box.user, server=box.where, outcome=outcome,
                reason=reason,
            )  # fmt: skip

        loop.call_soon_threadsafe(record)

    return await asyncio.to_thread(
        _session, box, policy, context, password, config.starttls,
        config.max_message_bytes, spool_dir, on_loop, audit,
    )  # fmt: skip


def _session(
    box: Mailbox,
    policy: ClientPolicy,
    context: ssl.SSLContext,
    password: str,
    starttls: bool,
    cap: int,
    spool_dir: Path,
    on_loop: Callable[[Fetched], bool],
    audit: Callable[..., None],
) -> tuple[int, int]:
    where = box.where
    try:
        if box.scheme == "pop3s":
            client: poplib.POP3 = _Pop3s(box.host, box.port, policy, context)
        else:
            client = _Pop3(box.host, box.port, policy)
    except ssl.SSLError as exc:
        raise DeliveryError(TLS_FAILED, f"{where}: TLS: {exc}", retry=True) from None
    except (OSError, TimeoutError) as exc:
        raise connection_failed(where, exc) from None
    try:
        if box.scheme == "pop3" and starttls:
            try:
                client.stls(context)
            except poplib.error_proto as exc:
                # RFC 2595 4: no STLS offered; the password is not sent in the clear to a
                # server that should have offered it (a downgrade looks exactly like this).
                raise DeliveryError(
                    TLS_FAILED, f"{where}: STLS refused or not offered: {_text(exc)}", retry=True
                ) from None
        try:
            client.user(box.user)
            client.pass_(password)
        except poplib.error_proto as exc:
            audit("failure", _text(exc)[:200])
            raise DeliveryError(
                AUTH_FAILED, f"{where}: login refused for {box.user}: {_text(exc)}", retry=True
            ) from None
        audit("success")
        listing = _listing(client)
        deleted = 0
        for number, size in listing:
            fetched = _retrieve(client, number, size, cap, spool_dir)
            try:
                if on_loop(fetched):
                    client.dele(number)
                    deleted += 1
            finally:
                for path in (fetched.path, fetched.headers):
                    if path is not None:
                        path.unlink(missing_ok=True)
        client.quit()
        return len(listing), deleted
    except (DeliveryError, Stopped):
        client.close()
        raise
    except ssl.SSLError as exc:
        client.close()
        raise DeliveryError(TLS_FAILED, f"{where}: TLS: {exc}", retry=True) from None
    except (OSError, TimeoutError) as exc:
        client.close()
        raise connection_failed(where, exc) from None
    except poplib.error_proto as exc:
        client.close()
        raise DeliveryError("pop3-error", f"{where}: {_text(exc)}", retry=True) from None


def _listing(client: poplib.POP3) -> list[tuple[int, int]]:
    """LIST (RFC 1939 5): message numbers and sizes, bounded to what one poll takes."""
    _, lines, _ = client.list()
    found = []
    for line in lines[:1000]:
        fields = line.split()
        if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
            found.append((int(fields[0]), int(fields[1])))
    return found


def _retrieve(client: poplib.POP3, number: int, size: int, cap: int, spool_dir: Path) -> Fetched:
    """RETR into a file; a message over `cap` bytes (by LIST, or as it arrives) is not kept:
    only its header block (TOP n 0, RFC 1939 7), so the failed job can name its sender."""
    path = spool_dir / f"pop3-{number}-{id(client)}.eml"
    if size <= cap:
        total, kept = _read_into(client, f"RETR {number}", path, cap)
        if kept:
            return Fetched(number, size, path)
        size = total
    _, kept = _read_into(client, f"TOP {number} 0", path, HEADER_CAP)
    return Fetched(number, size, None, headers=path if kept else None)


def _read_into(client: poplib.POP3, command: str, path: Path, cap: int) -> tuple[int, bool]:
    """A multi-line answer (RFC 1939 3) into `path`, dot-unstuffed, read to its end whatever
    its size so that the session goes on; (its size, whether it was kept: at most `cap`)."""
    raw: Any = client  # poplib keeps its reader private; RETR needs it one line at a time
    raw._putcmd(command)
    raw._getresp()
    total = 0
    kept = True
    line_start = True
    with path.open("wb") as file:
        while True:
            # Pieces of at most CHUNK bytes: a line of megabytes (base64 without breaks, or
            # hostile) is read in bounded memory, where poplib's reader would give up.
            piece: bytes = raw.file.readline(CHUNK)
            if not piece:
                raise poplib.error_proto("-ERR the server closed during " + command)
            if line_start and piece in (b".\r\n", b".\n"):
                break
            if line_start and piece.startswith(b".."):
                piece = piece[1:]
            line_start = piece.endswith(b"\n")
            total += len(piece)
            if total > cap:
                kept = False
            if kept:
                file.write(piece)
    if not kept:
        path.unlink(missing_ok=True)
    return total, kept


def _text(exc: BaseException) -> str:
    value = exc.args[0] if exc.args else exc
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
