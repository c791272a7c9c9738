"""Scan to email's splitting (outbound/mail_plan.py): for any pages and any limit, every
message fits the limit, the subjects count "(part i of n)", and the attachments, with the
message/partial fragments put back together (RFC 2046 5.2.2), are the files, in order."""

from __future__ import annotations

import email
import email.policy
import os
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mfpd.outbound.destinations import DeliveryInfo
from mfpd.outbound.mail_plan import Envelope, MailPlan

INFO = DeliveryInfo(3, "Split me", "u", "image/jpeg", "", time.time())


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _payloads(message: EmailMessage) -> list[bytes]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append(payload)
    return found


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(
        st.one_of(st.integers(0, 200), st.integers(0, 150_000), st.sampled_from([57, 57 * 1024])),
        min_size=1,
        max_size=5,
    ),
    limit=st.integers(16 * 1024, 256 * 1024),
)
def test_split_fits_and_reassembles(sizes: list[int], limit: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for n, size in enumerate(sizes):
            path = Path(tmp) / f"p{n}.jpg"
            path.write_bytes(os.urandom(size))
            files.append(path)
        envelope = Envelope(
            "mfp@example.test", ("bob@example.test",), "Scan", "body\n", "mfp.example.test"
        )
        plan = MailPlan(envelope, files, INFO, limit)
        mails = list(plan.messages())
        assert len(mails) == plan.count
        got: list[bytes] = []
        pending = b""
        total = len(mails)
        for number, data in enumerate(mails, start=1):
            assert len(data) <= limit
            message = _parse(data)
            subject = str(message["Subject"])
            assert (
                subject.endswith(f"(part {number} of {total})") if total > 1 else subject == "Scan"
            )
            if message.get_content_type() == "message/partial":
                params = message["Content-Type"].params
                pending += data.split(b"\r\n\r\n", 1)[1]
                if params["number"] == params["total"]:
                    got += _payloads(_parse(pending))
                    pending = b""
            else:
                got += _payloads(message)
        assert pending == b""
        assert got == [f.read_bytes() for f in files]
