"""Scan to email over [smtp] with aiosmtplib: implicit TLS (RFC 8314 3.3) or STARTTLS
(RFC 3207), AUTH PLAIN (RFC 4616) or LOGIN, the scan's files as attachments of their MIME
type, and a delivery status notification asked for on failure where the server offers DSN
(RFC 3461 4.1 NOTIFY=FAILURE, 4.3 RET=HDRS, 4.4 ENVID).

A scan larger than [smtp] max_message_bytes goes as several messages, "(part 1 of 3)" in the
subject (outbound/mail_plan.py: pages packed into as few messages as fit, a file too large
for one as message/partial fragments, RFC 2046 5.2.2), each made as it is sent."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib

from mfpd.addresses import host_port
from mfpd.outbound.destinations import (
    AUTH_FAILED,
    NOT_CONFIGURED,
    REFUSED,
    TLS_FAILED,
    TOO_LARGE,
    DeliveryError,
    DeliveryInfo,
    Destination,
)
from mfpd.outbound.mail_plan import Envelope, MailPlan
from mfpd.outbound.policy import (
    client_policy,
    connection_failed,
    credential_used,
    open_password,
    open_socket,
    tls_context,
)

if TYPE_CHECKING:
    from mfpd.config import SmtpConfig
    from mfpd.services.base import ServiceContext

DEFAULT_PORTS = {"none": 25, "starttls": 25, "tls": 465}
# RFC 5321 4.5.3.2.6: a message that is too large (552) or too many recipients (452, 552).
_TOO_LARGE = (552, 554)


def server_address(config: SmtpConfig) -> tuple[str, int]:
    """[smtp] server as host and port: `host`, `host:port`, `[v6]` or `[v6]:port`."""
    text = config.server.strip()
    if not text:
        raise DeliveryError(NOT_CONFIGURED, "no [smtp] server is set", retry=False)
    try:
        return host_port(text, DEFAULT_PORTS[config.security])
    except ValueError:
        raise DeliveryError(
            NOT_CONFIGURED, f"[smtp] server {text!r}: not host:port", retry=False
        ) from None


@dataclass
class SmtpSession:
    """A connected, secured and logged-in SMTP client, ready for messages."""

    client: aiosmtplib.SMTP
    where: str  # smtp://host:port, for messages and the log
    sender: str  # the envelope and header sender of [smtp]
    dsn: bool  # the server takes DSN parameters (RFC 3461)


def mail_sender(ctx: ServiceContext) -> str:
    return ctx.config.smtp.from_ or f"scanner@{ctx.device.identity.hostname}"


@contextlib.asynccontextmanager
async def smtp_session(ctx: ServiceContext, job_id: int) -> AsyncIterator[SmtpSession]:
    """The one SMTP client of the device (scan to email, Internet Fax, MDNs): connected
    through the client policy, TLS as [smtp] security says, logged in with the stored
    password. Failures in the session, its own or a send's, come out as DeliveryError."""
    config = ctx.config.smtp
    host, port = server_address(config)
    identity = ctx.device.identity
    policy = await client_policy(ctx, host, port, timeout=config.timeout)
    where = f"smtp://{host}:{port}"
    context = tls_context(ctx, verify=config.verify_tls)
    # Connected here to the address the device's resolver gave; aiosmtplib has the server's
    # name for the certificate check and the TLS server name only. From connect() on, the
    # socket is its transport's, which closes it (also when the connect fails).
    try:
        sock = await open_socket(policy, port)
    except (OSError, TimeoutError) as exc:
        raise connection_failed(where, exc) from None
    try:
        client = aiosmtplib.SMTP(
            hostname=host,
            sock=sock,
            use_tls=config.security == "tls",
            start_tls=False,
            tls_context=context,
            timeout=config.timeout,
            local_hostname=identity.hostname or None,
        )
    except BaseException:
        sock.close()
        raise
    try:
        try:
            await client.connect()
            await client.ehlo()
        except aiosmtplib.SMTPException as exc:
            raise _failure(where, exc) from None
        except ssl.SSLError as exc:
            raise DeliveryError(TLS_FAILED, f"{where}: TLS: {exc}", retry=False) from None
        except (OSError, TimeoutError) as exc:
            raise connection_failed(where, exc) from None
        if config.security == "starttls":
            if not client.supports_extension("starttls"):
                # Credentials and scans are not sent in the clear to a server that should
                # have offered TLS: a downgrade looks exactly like this (RFC 3207 6).
                raise DeliveryError(
                    TLS_FAILED, f"{where}: the server does not offer STARTTLS", retry=False
                )
            await client.starttls()
            await client.ehlo()  # RFC 3207 4.2: what was learnt before TLS is forgotten
        if config.username:
            await _login(ctx, client, config.username, config.password, where, job_id)
        yield SmtpSession(client, where, mail_sender(ctx), client.supports_extension("dsn"))
        with contextlib.suppress(aiosmtplib.SMTPException):
            await client.quit()
    except DeliveryError:
        raise
    except aiosmtplib.SMTPException as exc:
        raise _failure(where, exc) from None
    except ssl.SSLError as exc:
        raise DeliveryError(TLS_FAILED, f"{where}: TLS: {exc}", retry=False) from None
    except (OSError, TimeoutError) as exc:
        raise connection_failed(where, exc) from None
    finally:
        client.close()


async def send_mail(
    ctx: ServiceContext, dest: Destination, files: list[Path], info: DeliveryInfo
) -> str:
    config = ctx.config.smtp
    recipients = list(dest.endpoint().addresses)
    identity = ctx.device.identity
    sender = mail_sender(ctx)
    plan = MailPlan(
        Envelope(
            sender=sender,
            recipients=tuple(recipients),
            subject=f"Scan from {identity.name}: {_oneline(info.job_name) or 'Scan'}",
            body=_body(identity.name, identity.make_and_model, info, len(files)),
            domain=identity.hostname or "localhost",
        ),
        files,
        info,
        config.max_message_bytes,
    )
    async with smtp_session(ctx, info.job_id) as session:
        dsn = session.dsn
        envid = f"mfpd-{info.job_id}-{uuid.uuid4().hex[:12]}"
        messages = plan.messages()
        # Each message made in a worker thread: reading and encoding megabytes would hold up
        # every other client of the daemon meanwhile.
        while (data := await asyncio.to_thread(next, messages, None)) is not None:
            await session.client.sendmail(
                sender,
                recipients,
                data,
                # RFC 3461 4.3, 4.4 (MAIL) and 4.1 (RCPT): a report only when it fails, with
                # the headers, so the user learns that the scan did not arrive.
                mail_options=["RET=HDRS", f"ENVID={envid}"] if dsn else [],
                rcpt_options=["NOTIFY=FAILURE"] if dsn else [],
            )
    dsn_note = ", DSN on failure" if dsn else ""
    return (
        f"{len(files)} file(s) in {plan.count} message(s) to {', '.join(recipients)} "
        f"via {session.where}{dsn_note}"
    )


async def _login(
    ctx: ServiceContext, client: aiosmtplib.SMTP, user: str, stored: str, where: str, job: int
) -> None:
    password = open_password(ctx, stored)
    methods = client.server_auth_methods
    if "plain" in methods:
        login = client.auth_plain
    elif "login" in methods:
        login = client.auth_login
    else:
        raise DeliveryError(
            AUTH_FAILED, f"{where}: the server offers no AUTH PLAIN or LOGIN", retry=False
        )
    try:
        await login(user, password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        credential_used(
            ctx, service="smtp", user=user, server=where, outcome="failure", job_id=job,
            reason=f"{exc.code} {exc.message}"[:200],
        )  # fmt: skip
        raise DeliveryError(
            AUTH_FAILED, f"{where}: login refused for {user}: {exc.code} {exc.message}",
            retry=False,
        ) from None  # fmt: skip
    credential_used(ctx, service="smtp", user=user, server=where, outcome="success", job_id=job)


def _failure(where: str, exc: aiosmtplib.SMTPException) -> DeliveryError:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return DeliveryError(TLS_FAILED, f"{where}: TLS: {cause}", retry=False)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return connection_failed(where, TimeoutError())
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return connection_failed(where, exc)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        transient = all(400 <= r.code < 500 for r in exc.recipients)
        return DeliveryError(REFUSED, f"{where}: recipients refused: {refused}", retry=transient)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{where}: {exc.code} {exc.message}"
        if exc.code in _TOO_LARGE and "size" in exc.message.lower():
            return DeliveryError(TOO_LARGE, text, retry=False)
        # RFC 5321 4.2.1: 4yz is a transient failure, 5yz a permanent one.
        return DeliveryError(REFUSED, text, retry=400 <= exc.code < 500)
    return DeliveryError(REFUSED, f"{where}: {exc}", retry=False)


def _body(name: str, model: str, info: DeliveryInfo, count: int) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.when))
    lines = [
        f"Scanned on {name} ({model}) at {when}.",
        f"Job {info.job_id}: {_oneline(info.job_name) or 'Scan'}",
    ]
    if info.template:
        lines.append(f"Template: {info.template}")
    if info.user:
        lines.append(f"User: {info.user}")
    lines.append(f"Attachments: {count} ({info.format})")
    return "\n".join(lines) + "\n"


def _oneline(text: str) -> str:
    """A job name as a header may hold it: no line break (a header injection otherwise, and
    the email package refuses it), at most 100 characters."""
    return " ".join(text.split())[:100]
