"""Message Disposition Notifications (RFC 8098) for received Internet Faxes: what RFC 4142
full mode's sender asks for with Disposition-Notification-To, sent through the one SMTP
client.

Sent only when [ifax] send_mdn allows it and the request names the message's Return-Path
(RFC 8098 2.1: a notification to another address needs the user's consent, and a device
has no user to ask; it would make the device a reflector of mail to third parties). The
disposition is "processed" for a fax that printed and "deleted" for one the device refused
(RFC 8098 3.2.6.2), both "automatic-action/MDN-sent-automatically" (3.2.6.1); the envelope
sender is null (RFC 8098 3: no notification answers a notification)."""

from __future__ import annotations

import email.utils
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP as SMTP_POLICY
from typing import TYPE_CHECKING

from mfpd.outbound.smtp import mail_sender, smtp_session

if TYPE_CHECKING:
    from mfpd.documents.fax_mail import ReceivedFax
    from mfpd.services.base import ServiceContext

PROCESSED = "processed"
DELETED = "deleted"


def wanted(fax: ReceivedFax, allowed: bool) -> bool:
    """An MDN is asked for, allowed by [ifax] send_mdn, goes to the Return-Path (which the
    receiving server wrote: no Return-Path, no automatic MDN), and does not answer a report
    (RFC 8098 2.1: never an MDN for an MDN, or two devices would answer each other)."""
    return (
        allowed
        and bool(fax.mdn_to)
        and bool(fax.return_path)
        and fax.return_path.lower() == fax.mdn_to.lower()
        and not fax.is_report
    )


def mdn_message(
    ctx: ServiceContext, fax: ReceivedFax, mailbox: str, disposition: str, note: str
) -> bytes:
    identity = ctx.device.identity
    report = MIMEMultipart("report", report_type="disposition-notification")
    report["From"] = mail_sender(ctx)
    report["To"] = fax.mdn_to
    report["Subject"] = f"Disposition notification: {fax.subject or 'Internet Fax'}"[:200]
    report["Date"] = email.utils.formatdate(localtime=True)
    report["Message-ID"] = email.utils.make_msgid("mdn", domain=identity.hostname or None)
    report["Auto-Submitted"] = "auto-replied"  # RFC 3834 5
    if fax.message_id:
        report["In-Reply-To"] = fax.message_id
        report["References"] = fax.message_id
    human = (
        f"The Internet Fax {fax.message_id or ''} received by {identity.name} was printed "
        f"({fax.pages} page(s)).\n"
        if disposition == PROCESSED
        else f"The Internet Fax {fax.message_id or ''} received by {identity.name} was not "
        f"printed: {note}\n"
    )
    report.attach(MIMEText(human, "plain", "utf-8"))
    # RFC 8098 3.1: the machine-readable part, one field a line.
    fields = [
        f"Reporting-UA: {identity.hostname or 'localhost'}; {identity.make_and_model}",
        f"Final-Recipient: rfc822;{mailbox}",
    ]
    if fax.message_id:
        fields.append(f"Original-Message-ID: {fax.message_id}")
    fields.append(f"Disposition: automatic-action/MDN-sent-automatically; {disposition}")
    status = MIMEBase("message", "disposition-notification")
    status.set_payload("\r\n".join(fields) + "\r\n")
    report.attach(status)
    return report.as_bytes(policy=SMTP_POLICY)


async def send_mdn(
    ctx: ServiceContext, fax: ReceivedFax, mailbox: str, disposition: str, note: str = ""
) -> str:
    """Send the notification; a line for the log, or DeliveryError."""
    data = mdn_message(ctx, fax, mailbox, disposition, note)
    async with smtp_session(ctx, 0) as session:
        # RFC 8098 3: the null reverse-path.
        await session.client.sendmail("", [fax.mdn_to], data)
    return f"MDN ({disposition}) to {fax.mdn_to} via {session.where}"
