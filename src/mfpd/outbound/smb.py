"""Scan to SMB with smbprotocol's smbclient (SMB 2/3, NTLM through SPNEGO, signing required),
run in a worker thread: smbclient blocks. Each delivery has its own connection cache, so the
connection and its session are the delivery's alone and closed after it, whatever happened
(nothing of one user's session is reused by the next scan, or kept open between scans).

The folder is made as needed; each file goes up under a temporary name and is renamed when
complete (outbound/naming.py), as over FTP.

Not under the policy's source address: smbprotocol opens its socket itself
(socket.create_connection without a source address), so an SMB connection leaves from the
kernel's choice of address. Timeouts are the policy's: the connection's, and the whole
delivery bounded, its connection closed under the worker when it runs out."""

from __future__ import annotations

import asyncio
import contextlib
import errno
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfpd.outbound.destinations import (
    AUTH_FAILED,
    REFUSED,
    DeliveryError,
    DeliveryInfo,
    Destination,
)
from mfpd.outbound.naming import file_name, temporary_name
from mfpd.outbound.policy import client_policy, connection_failed, credential_used, open_password

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

BLOCK = 1024 * 1024


def _user(username: str) -> str:
    """DOMAIN;user (the smb URI's form) as NTLM takes it: DOMAIN\\user."""
    return username.replace(";", "\\", 1)


async def upload_smb(
    ctx: ServiceContext, dest: Destination, files: list[Path], info: DeliveryInfo
) -> str:
    ep = dest.endpoint()
    policy = await client_policy(ctx, ep.host, ep.port)
    password = open_password(ctx, dest.password) if dest.password else ""
    where = f"smb://{ep.host}:{ep.port}/{ep.share}"
    user = _user(dest.username)

    def audit(outcome: str, reason: str = "") -> None:
        credential_used(
            ctx, service="smb", user=user, server=where, outcome=outcome,
            job_id=info.job_id, reason=reason,
        )  # fmt: skip

    cache: dict[str, Any] = {}
    # The session and the paths name the server by the address the device's resolver gave
    # ([dns]): smbprotocol would otherwise resolve the name itself, past those servers.
    names = [file_name(info.job_name, info.when, n, info.format) for n in range(1, len(files) + 1)]
    # The files' bound: each at no worse than 64 KiB/s, and the policy's I/O timeout.
    budget = policy.io_timeout * len(files) + sum(p.stat().st_size for p in files) / 65536
    try:
        try:
            await _bounded(
                cache, policy.connect_timeout * 2,
                _login, policy.address, ep.port, user, password, policy.connect_timeout, cache,
            )  # fmt: skip
        except _Login as exc:
            audit("failure", str(exc))
            raise DeliveryError(
                AUTH_FAILED, f"login refused for {user}: {exc}", retry=False
            ) from None
        audit("success")
        await _bounded(
            cache, budget,
            _store, policy.address, ep.port, ep.share, ep.path, files, names, info.job_id, cache,
        )  # fmt: skip
    except DeliveryError as exc:
        raise DeliveryError(exc.reason, f"{where}: {exc}", retry=exc.retry) from None
    except TimeoutError:
        raise connection_failed(where, TimeoutError()) from None
    finally:
        await asyncio.to_thread(_close, cache)
    folder = f"/{ep.path}" if ep.path else ""
    return f"{len(names)} file(s) to {where}{folder}: {', '.join(names)}"


async def _bounded(cache: dict[str, Any], seconds: float, work: Any, *args: Any) -> None:
    """`work(*args)` in a worker thread, for at most `seconds`: then its connection is
    closed under it (which ends its blocking reads) and TimeoutError raised."""
    worker = asyncio.ensure_future(asyncio.to_thread(work, *args))
    try:
        async with asyncio.timeout(seconds):
            await asyncio.shield(worker)
    except TimeoutError:
        await asyncio.to_thread(_close, cache)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(worker, 10)
        raise


class _Login(Exception):
    """The server refused the user name or password (NTLM)."""


def _login(
    host: str, port: int, user: str, password: str, timeout: float, cache: dict[str, Any]
) -> None:
    import smbclient
    from smbprotocol import exceptions as smb_errors

    try:
        smbclient.register_session(
            host, username=user, password=password, port=port,
            connection_timeout=timeout, connection_cache=cache, auth_protocol="ntlm",
        )  # fmt: skip
    except (smb_errors.LogonFailure, smb_errors.WrongPassword) as exc:
        raise _Login("STATUS_LOGON_FAILURE") from exc
    except smb_errors.SMBAuthenticationError as exc:
        raise _Login(str(exc)[:200]) from exc
    except ValueError as exc:
        # smbprotocol's way of saying that the TCP connection failed.
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        error = connection_failed("connect", cause)
        raise DeliveryError(error.reason, str(error), retry=True) from exc
    except smb_errors.SMBConnectionClosed as exc:
        error = connection_failed("the server closed the connection", exc)
        raise DeliveryError(error.reason, str(error), retry=True) from exc
    except (OSError, smb_errors.SMBException) as exc:
        raise DeliveryError(REFUSED, str(exc)[:300], retry=False) from exc


def _store(
    host: str,
    port: int,
    share: str,
    folder: str,
    files: list[Path],
    names: list[str],
    job_id: int,
    cache: dict[str, Any],
) -> None:
    import smbclient
    from smbprotocol import exceptions as smb_errors

    kw: dict[str, Any] = {"port": port, "connection_cache": cache}
    target = f"\\\\{host}\\{share}" + ("\\" + folder.replace("/", "\\") if folder else "")
    try:
        try:
            smbclient.stat(f"\\\\{host}\\{share}", **kw)
        except (OSError, smb_errors.SMBException) as exc:
            raise DeliveryError(REFUSED, f"share {share!r}: {exc}"[:300], retry=False) from None
        # Level by level: smbclient.makedirs climbs to the share's root and, when the share
        # does not exist, round and round there for ever.
        made = f"\\\\{host}\\{share}"
        for part in folder.split("/") if folder else []:
            made += "\\" + part
            try:
                smbclient.mkdir(made, **kw)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
        for path, name in zip(files, names, strict=True):
            temporary = f"{target}\\{temporary_name(name, job_id)}"
            try:
                with (
                    path.open("rb") as source,
                    smbclient.open_file(temporary, mode="wb", **kw) as out,
                ):
                    while block := source.read(BLOCK):
                        out.write(block)
                smbclient.rename(temporary, f"{target}\\{name}", **kw)
            except BaseException:
                with contextlib.suppress(Exception):
                    smbclient.remove(temporary, **kw)
                raise
    except DeliveryError:
        raise
    except smb_errors.SMBConnectionClosed as exc:
        error = connection_failed("the server closed the connection", exc)
        raise DeliveryError(error.reason, str(error), retry=True) from exc
    except (OSError, smb_errors.SMBException) as exc:
        raise DeliveryError(REFUSED, str(exc)[:300], retry=False) from None


def _close(cache: dict[str, Any]) -> None:
    import smbclient

    with contextlib.suppress(Exception):
        smbclient.reset_connection_cache(fail_on_error=False, connection_cache=cache)
