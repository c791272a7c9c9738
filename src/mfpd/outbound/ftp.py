"""Scan to FTP and FTPS: aioftp for the control connection (RFC 959, explicit FTPS with AUTH
TLS, PBSZ 0 and PROT P: RFC 4217 sections 4, 8, 9), our own passive data connection for
the upload.

Why our own data connection: aioftp 0.28.3 opens the data connection with TLS already on, so
the TLS handshake must finish before it sends STOR. RFC 4217 section 7 (figure: "the client
and server negotiate TLS on the data connection" after the transfer command) and vsftpd expect
the other order: vsftpd accepts the data connection and starts TLS only once STOR has arrived,
so aioftp's ClientHello waits for a server that waits for STOR, for ever. pyftpdlib takes
either order. Here the data connection is opened in the clear, STOR sent, its 150 read, and
only then TLS started on it, resuming the control connection's TLS session (RFC 4217 10.2;
vsftpd's require_ssl_reuse, on by default, refuses a data connection that does not).

Each file goes up under a temporary name and is renamed when complete (outbound/naming.py),
so a folder watcher never picks up half a scan."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aioftp
from aioftp.common import SSLSessionBoundContext

from mfpd.outbound.destinations import (
    AUTH_FAILED,
    REFUSED,
    TLS_FAILED,
    DeliveryError,
    DeliveryInfo,
    Destination,
)
from mfpd.outbound.naming import file_name, temporary_name
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

BLOCK = 64 * 1024
# RFC 959 4.2: 530 not logged in (and 430/331-then-530 variants); 532 needs an account.
_LOGIN_REFUSED = ("530", "430", "532")


async def upload_ftp(
    ctx: ServiceContext, dest: Destination, files: list[Path], info: DeliveryInfo
) -> str:
    ep = dest.endpoint()
    secure = ep.scheme == "ftps"
    policy = await client_policy(ctx, ep.host, ep.port)
    user = dest.username or "anonymous"
    password = open_password(ctx, dest.password) if dest.password else ""
    where = f"{ep.scheme}://{ep.host}:{ep.port}"
    extra: dict[str, Any] = {"local_addr": policy.local_addr} if policy.local_addr else {}
    client = aioftp.Client(
        socket_timeout=policy.io_timeout,
        connection_timeout=policy.connect_timeout,
        **extra,
    )
    names: list[str] = []
    reused: list[bool] = []
    try:
        try:
            # To the address the policy chose the source address for; the name stays the
            # one TLS checks the certificate against (aioftp takes it from server_host).
            await client.connect(policy.address, ep.port)
            client.server_host = ep.host
        except (OSError, TimeoutError) as exc:
            raise connection_failed(where, exc) from None
        tls: ssl.SSLContext | None = None
        if secure:
            tls = tls_context(ctx)
            await _start_tls(client, tls, where)
        await _login(ctx, client, user, password, where, info.job_id)
        await client.command("TYPE I", "200")
        if ep.path:
            await _enter(client, ep.path, where)
        for number, path in enumerate(files, start=1):
            final = file_name(info.job_name, info.when, number, info.format)
            reused.append(
                await _store(
                    client, policy, path, temporary_name(final, info.job_id), final, ep.host, tls
                )
            )
            names.append(final)
        with contextlib.suppress(Exception):
            await client.quit()
    except DeliveryError:
        raise
    except aioftp.StatusCodeError as exc:
        # RFC 959 4.2: 4yz is a transient negative reply (421 closing, 450/451/452 busy or
        # out of space for now), worth another try; 5yz is permanent.
        transient = any(str(code).startswith("4") for code in exc.received_codes)
        raise DeliveryError(REFUSED, f"{where}: {_reply(exc)}", retry=transient) from None
    except ssl.SSLError as exc:
        raise DeliveryError(TLS_FAILED, f"{where}: TLS: {exc.reason or exc}", retry=False) from None
    except (OSError, TimeoutError, ConnectionError) as exc:
        raise connection_failed(where, exc) from None
    finally:
        client.close()
    folder = f"/{ep.path}" if ep.path else ""
    how = ""
    if secure:
        how = " (TLS, data protected, session reused)" if all(reused) else " (TLS, data protected)"
    return f"{len(names)} file(s) to {where}{folder}{how}: {', '.join(names)}"


async def _start_tls(client: aioftp.Client, context: ssl.SSLContext, where: str) -> None:
    """AUTH TLS (RFC 4217 4), the handshake, then PBSZ 0 and PROT P (sections 8, 9): every
    data connection protected too."""
    try:
        await client.upgrade_to_tls(context)
    except aioftp.StatusCodeError as exc:
        raise DeliveryError(
            TLS_FAILED, f"{where}: the server refused AUTH TLS: {_reply(exc)}", retry=False
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(
            TLS_FAILED, f"{where}: certificate not trusted: {exc.verify_message}", retry=False
        ) from None
    except ssl.SSLError as exc:
        raise DeliveryError(TLS_FAILED, f"{where}: TLS: {exc.reason or exc}", retry=False) from None


async def _login(
    ctx: ServiceContext, client: aioftp.Client, user: str, password: str, where: str, job: int
) -> None:
    def audit(outcome: str, reason: str = "") -> None:
        # Only a stored password is a credential; an anonymous login uses none.
        if password:
            credential_used(
                ctx, service="ftp", user=user, server=where, outcome=outcome, job_id=job,
                reason=reason,
            )  # fmt: skip

    try:
        await client.login(user, password)
    except aioftp.StatusCodeError as exc:
        audit("failure", _reply(exc))
        if any(code in _LOGIN_REFUSED for code in map(str, exc.received_codes)):
            raise DeliveryError(
                AUTH_FAILED, f"{where}: login refused for {user}: {_reply(exc)}", retry=False
            ) from None
        raise
    audit("success")


async def _enter(client: aioftp.Client, folder: str, where: str) -> None:
    """Make the folder (each level; one that exists answers 550, which is fine) and go in."""
    parts = folder.split("/")
    for depth in range(1, len(parts) + 1):
        await client.command("MKD " + "/".join(parts[:depth]), ("257", "550", "521"))
    try:
        await client.command("CWD " + folder, "250")
    except aioftp.StatusCodeError as exc:
        raise DeliveryError(
            REFUSED, f"{where}: no folder {folder}: {_reply(exc)}", retry=False
        ) from None


async def _store(
    client: aioftp.Client,
    policy: ClientPolicy,
    path: Path,
    temporary: str,
    final: str,
    host: str,
    tls: ssl.SSLContext | None,
) -> bool:
    """Upload one file; whether its data connection resumed the control connection's TLS
    session."""
    reused = False
    reader, writer = await _passive(client, policy)
    try:
        await client.command("STOR " + temporary, "1xx")
        if tls is not None:
            # After the 150: the server starts TLS on the data connection now (RFC 4217 7).
            control = client.stream.writer.transport.get_extra_info("ssl_object")
            context: ssl.SSLContext = tls
            if control is not None and control.session is not None:
                context = SSLSessionBoundContext(
                    ssl.PROTOCOL_TLS_CLIENT, context=tls, session=control.session
                )
            await writer.start_tls(
                context, server_hostname=host, ssl_handshake_timeout=policy.connect_timeout
            )
            data = writer.transport.get_extra_info("ssl_object")
            reused = bool(data is not None and data.session_reused)
        with path.open("rb") as source:
            while block := source.read(BLOCK):
                writer.write(block)
                async with asyncio.timeout(policy.io_timeout):
                    await writer.drain()
        writer.close()
        async with asyncio.timeout(policy.io_timeout):
            await writer.wait_closed()
    except BaseException:
        writer.close()
        with contextlib.suppress(Exception):
            await client.command("DELE " + temporary)
        raise
    del reader
    try:
        await client.command(None, "2xx", "1xx")  # 226: the server has the whole file
        await client.rename(temporary, final)
    except aioftp.StatusCodeError:
        with contextlib.suppress(Exception):
            await client.command("DELE " + temporary, "2xx")
        raise
    return reused


async def _passive(
    client: aioftp.Client, policy: ClientPolicy
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """EPSV (RFC 2428 3), else PASV; always to the control connection's address (the address
    in a PASV answer is ignored: RFC 2577 section 3, no bounce)."""
    try:
        _code, lines = await client.command("EPSV", "229")
        _ip, port = client.parse_epsv_response(lines[-1])
    except aioftp.StatusCodeError:
        _code, lines = await client.command("PASV", "227")
        _ip, port = client.parse_pasv_response(lines[-1])
    async with asyncio.timeout(policy.connect_timeout):
        return await asyncio.open_connection(policy.address, port, local_addr=policy.local_addr)


def _reply(exc: aioftp.StatusCodeError) -> str:
    codes = ",".join(str(code) for code in exc.received_codes)
    text = " ".join(line.strip() for line in exc.info)[:200]
    return f"{codes} {text}".strip()
