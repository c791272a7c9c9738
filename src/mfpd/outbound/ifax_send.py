"""Internet Fax sent over [smtp]: the TIFF-F of a fax-send job as one message (RFC 3965
simple mode), through the device's one SMTP client (outbound/smtp.py).

The message (RFC 3965 section 5, RFC 3302): multipart/mixed of a short text/plain cover and
the image as `image/tiff; application=faxbw` (the Profile S/F parameter of RFC 3302 3),
base64. With [ifax] request_mdn, a Disposition-Notification-To naming the device's sender
(RFC 8098 2.1) asks the receiver for an MDN, RFC 4142's confirmation of delivery. A fax is
never split into message/partial: no fax receiver joins the parts again, so a TIFF larger
than [smtp] max_message_bytes fails the job instead."""

from __future__ import annotations

import asyncio
import email.utils
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import TYPE_CHECKING

from mfpd.outbound.destinations import NOT_CONFIGURED, TOO_LARGE, DeliveryError
from mfpd.outbound.smtp import mail_sender, smtp_session

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

FAX_TYPE = ("image", "tiff")
# RFC 3302 3: the black-and-white profiles (S and F of RFC 3949).
FAX_APPLICATION = "faxbw"


def fax_message(
    ctx: ServiceContext,
    recipients: list[str],
    tiff: Path,
    *,
    job_id: int,
    pages: int,
    name: str,
) -> bytes:
    """The fax as RFC 5322 bytes (blocking: reads and encodes the TIFF)."""
    identity = ctx.device.identity
    sender = mail_sender(ctx)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"Internet Fax from {identity.name}: {_oneline(name) or 'Fax'}"
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid("fax", domain=identity.hostname or None)
    if ctx.config.ifax.request_mdn:
        message["Disposition-Notification-To"] = sender
    message.set_content(
        f"Internet Fax from {identity.name} ({identity.make_and_model}): job {job_id}, "
        f"{pages} page(s).\n"
    )
    message.add_attachment(
        tiff.read_bytes(),
        maintype=FAX_TYPE[0],
        subtype=FAX_TYPE[1],
        filename=f"fax-{job_id}.tif",
        params={"application": FAX_APPLICATION},
    )
    return message.as_bytes(policy=SMTP_POLICY)


async def send_fax(
    ctx: ServiceContext,
    recipients: list[str],
    tiff: Path,
    *,
    job_id: int,
    pages: int,
    name: str,
) -> str:
    """Mail the fax to every recipient in one message; a line for the log, or DeliveryError."""
    if not ctx.config.smtp.server:
        raise DeliveryError(NOT_CONFIGURED, "no [smtp] server is set", retry=False)
    data = await asyncio.to_thread(
        fax_message, ctx, recipients, tiff, job_id=job_id, pages=pages, name=name
    )
    limit = ctx.config.smtp.max_message_bytes
    if len(data) > limit:
        raise DeliveryError(
            TOO_LARGE,
            f"the fax is {len(data)} bytes as mail, over [smtp] max_message_bytes ({limit})",
            retry=False,
        )
    async with smtp_session(ctx, job_id) as session:
        await session.client.sendmail(
            session.sender,
            recipients,
            data,
            mail_options=[f"ENVID=mfpd-fax-{job_id}"] if session.dsn else [],
            rcpt_options=["NOTIFY=FAILURE"] if session.dsn else [],
        )
    mdn = ", MDN requested" if ctx.config.ifax.request_mdn else ""
    return f"{pages} page(s) to {', '.join(recipients)} via {session.where}{mdn}"


def _oneline(text: str) -> str:
    return " ".join(text.split())[:100]
