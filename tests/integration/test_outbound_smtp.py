"""Scan to email: deliver() against aiosmtpd on loopback with STARTTLS (or implicit TLS) and
AUTH; the attachments decoded and compared byte for byte, splitting over several messages and
message/partial, DSN, and each failure: wrong password, server down, TLS refused."""

from __future__ import annotations

import email
import email.policy
import os
import re
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mfpd.outbound.destinations import DeliveryError, DeliveryInfo, deliver, parse_destination
from mfpd.security.secrets import Secrets
from tests.outbound_servers import (
    credential_entries,
    free_port,
    make_pki,
    outbound_context,
    smtp_server,
)

INFO = DeliveryInfo(41, "Quarterly report", "alice", "application/pdf", "Email me", time.time())
TO = "mailto:bob@example.test"


def _config(pki: Any, port: int, *, security: str = "starttls", password: str = "",
            user: str = "scanner@example.test", limit: int = 10 * 1024 * 1024,
            verify: bool = True) -> str:  # fmt: skip
    return (
        f'[tls]\nca_bundle = "{pki.ca}"\n'
        f'[smtp]\nserver = "localhost:{port}"\nsecurity = "{security}"\n'
        f'username = "{user}"\npassword = "{password}"\nfrom = "mfp@example.test"\n'
        f"max_message_bytes = {limit}\ntimeout = 10\nverify_tls = {str(verify).lower()}\n"
    )


def _scan(tmp: Path, count: int, size: int) -> list[Path]:
    files = []
    for n in range(count):
        path = tmp / f"page{n}.pdf"
        path.write_bytes(b"%PDF-1.4\n" + os.urandom(size) + b"\n%%EOF\n")
        files.append(path)
    return files


def _parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _attachments(message: EmailMessage) -> list[tuple[str, str, bytes]]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append((part.get_filename() or "", part.get_content_type(), payload))
    return found


async def test_starttls_auth_attachment_byte_for_byte(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    files = _scan(tmp_path, 2, 20_000)
    with smtp_server(pki) as server:
        # The password as the web UI stores it: sealed with the state dir's key.
        ctx = outbound_context(tmp_path, _config(pki, server.port))
        ctx.config.smtp.password = Secrets(ctx.state_dir).seal(server.password)
        line = await deliver(ctx, parse_destination(TO), files, INFO)
    assert "2 file(s) in 1 message(s) to bob@example.test" in line
    assert server.logins == [("PLAIN", True)]
    (sender, rcpts, mail_options, rcpt_options, data) = server.messages[0]
    assert (sender, rcpts) == ("mfp@example.test", ["bob@example.test"])
    # No DSN offered: none asked for (SIZE, RFC 1870, as aiosmtplib always sends it).
    assert [o for o in mail_options if not o.startswith("SIZE=")] == [] and rcpt_options == []
    message = _parsed(data)
    assert message["Subject"].startswith("Scan from ") and "Quarterly report" in message["Subject"]
    assert "part" not in message["Subject"]
    body = message.get_body(("plain",))
    assert body is not None and "Job 41: Quarterly report" in body.get_content()
    got = _attachments(message)
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(INFO.when))
    assert [name for name, _, _ in got] == [
        f"Quarterly_report_{stamp}_001.pdf",
        f"Quarterly_report_{stamp}_002.pdf",
    ]
    assert all(kind == "application/pdf" for _, kind, _ in got)
    assert [payload for _, _, payload in got] == [f.read_bytes() for f in files]
    # The use of the stored password is audited; the password itself appears nowhere.
    entries = credential_entries(ctx)
    assert [(e.interface, e.user, e.outcome) for e in entries] == [
        ("smtp", "scanner@example.test", "success")
    ]
    assert server.password not in str([e.to_dict() for e in ctx.audit.log.entries()])


async def test_split_over_messages_and_message_partial(tmp_path: Path) -> None:
    """Three 30 kB pages with a 64 kB limit: one per message, "(part i of 3)"; then one
    200 kB document: message/partial fragments that put back together give the file."""
    pki = make_pki(tmp_path / "pki")
    pages = _scan(tmp_path, 3, 30_000)
    limit = 64 * 1024
    with smtp_server(pki) as server:
        ctx = outbound_context(tmp_path, _config(pki, server.port, password="x", limit=limit))
        ctx.config.smtp.password = server.password
        await deliver(ctx, parse_destination(TO), pages, INFO)
        assert len(server.messages) == 3
        got = []
        for number, (*_, data) in enumerate(server.messages, start=1):
            assert len(data) <= limit
            message = _parsed(data)
            assert message["Subject"].endswith(f"(part {number} of 3)")
            got += [payload for _, _, payload in _attachments(message)]
        assert got == [p.read_bytes() for p in pages]

        server.messages.clear()
        document = _scan(tmp_path / "doc", 1, 200_000) if (tmp_path / "doc").mkdir() is None else []
        await deliver(ctx, parse_destination(TO), document, INFO)
    assert len(server.messages) >= 4
    whole = b""
    total = len(server.messages)
    for number, (*_, data) in enumerate(server.messages, start=1):
        assert len(data) <= limit
        fragment = _parsed(data)
        assert fragment["Subject"].endswith(f"(part {number} of {total})")
        assert fragment.get_content_type() == "message/partial"
        params = fragment["Content-Type"].params
        assert (int(params["number"]), int(params["total"])) == (number, total)
        whole += data.split(b"\r\n\r\n", 1)[1]
    inner = _parsed(whole)
    assert [payload for _, _, payload in _attachments(inner)] == [document[0].read_bytes()]


async def test_dsn_asked_for_where_offered(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    with smtp_server(pki, dsn=True) as server:
        ctx = outbound_context(tmp_path, _config(pki, server.port, password="x"))
        ctx.config.smtp.password = server.password
        line = await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100), INFO)
    assert "DSN on failure" in line
    _sender, _rcpts, mail_options, rcpt_options, _data = server.messages[0]
    assert "RET=HDRS" in mail_options and any(o.startswith("ENVID=MFPD-41-") for o in mail_options)
    assert rcpt_options == ["NOTIFY=FAILURE"]


async def test_implicit_tls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    files = _scan(tmp_path, 1, 5000)
    with smtp_server(pki, implicit=True) as server:
        ctx = outbound_context(tmp_path, _config(pki, server.port, security="tls", password="x"))
        ctx.config.smtp.password = server.password
        await deliver(ctx, parse_destination("mailto:a@example.test,b@example.test"), files, INFO)
    _sender, rcpts, *_rest, data = server.messages[0]
    assert rcpts == ["a@example.test", "b@example.test"]
    assert [p for _, _, p in _attachments(_parsed(data))] == [files[0].read_bytes()]


async def test_wrong_password(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    with smtp_server(pki) as server:
        ctx = outbound_context(tmp_path, _config(pki, server.port, password="not-it"))
        with pytest.raises(DeliveryError) as caught:
            await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100), INFO)
    assert caught.value.reason == "destination-auth-failed" and not caught.value.retry
    assert "not-it" not in str(caught.value)
    assert server.messages == []
    assert [e.outcome for e in credential_entries(ctx)] == ["failure"]


async def test_server_down(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    ctx = outbound_context(tmp_path, _config(pki, free_port(), password="x"))
    with pytest.raises(DeliveryError) as caught:
        await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100), INFO)
    assert caught.value.reason == "destination-unreachable" and caught.value.retry


async def test_tls_refused(tmp_path: Path) -> None:
    """A server that offers no STARTTLS gets neither the password nor the scan; one whose
    certificate no trusted CA signed neither (and with [smtp] verify_tls = false it does)."""
    pki = make_pki(tmp_path / "pki")
    with smtp_server(None, auth=False) as plain:
        ctx = outbound_context(tmp_path, _config(pki, plain.port, password="x"))
        with pytest.raises(DeliveryError) as caught:
            await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100), INFO)
        assert caught.value.reason == "destination-tls-failed" and not caught.value.retry
        assert "STARTTLS" in str(caught.value)
        assert plain.messages == []
    other = make_pki(tmp_path / "other")
    with smtp_server(other) as server:
        ctx = outbound_context(tmp_path, _config(pki, server.port, password="x"))
        ctx.config.smtp.password = server.password
        with pytest.raises(DeliveryError) as caught:
            await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100), INFO)
        assert caught.value.reason == "destination-tls-failed"
        assert re.search(r"certificate verify failed", str(caught.value))
        assert server.messages == [] and server.logins == []
        ctx.config.smtp.verify_tls = False
        await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100), INFO)
        assert len(server.messages) == 1


async def test_leaves_from_the_bind_address(tmp_path: Path) -> None:
    """The client policy: a daemon bound to 127.0.0.2 sends from 127.0.0.2 (the server on
    127.0.0.1 sees it so); bound to a wildcard, the kernel chooses (127.0.0.1 here)."""
    pki = make_pki(tmp_path / "pki")
    with smtp_server(pki) as server:
        for bind, seen in (("127.0.0.2", "127.0.0.2"), ("0.0.0.0", "127.0.0.1")):
            ctx = outbound_context(
                tmp_path / bind, _config(pki, server.port, password="x"), bind=bind
            )
            ctx.config.smtp.password = server.password
            await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100), INFO)
            assert server.peers[-1] == seen


async def test_job_name_cannot_add_headers(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    info = DeliveryInfo(9, "Memo\r\nBcc: eve@example.test", "x", "image/png", "", time.time())
    with smtp_server(pki) as server:
        ctx = outbound_context(tmp_path, _config(pki, server.port, password="x"))
        ctx.config.smtp.password = server.password
        await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100), info)
    _sender, rcpts, *_rest, data = server.messages[0]
    message = _parsed(data)
    assert rcpts == ["bob@example.test"] and message["Bcc"] is None
    assert message["Subject"].endswith("Memo Bcc: eve@example.test")
    assert _attachments(message)[0][0].startswith("Memo_Bcc_eve_example.test_")
    assert _attachments(message)[0][1] == "image/png"


async def test_auth_login_and_a_server_smaller_than_our_limit(tmp_path: Path) -> None:
    """AUTH LOGIN where PLAIN is not offered; a server whose SIZE is below a message (552,
    RFC 1870 6.1) is destination-too-large, not retried."""
    pki = make_pki(tmp_path / "pki")
    with smtp_server(pki, mechanisms=("LOGIN",), size_limit=50_000) as server:
        ctx = outbound_context(tmp_path, _config(pki, server.port, password="x"))
        ctx.config.smtp.password = server.password
        await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 1000), INFO)
        assert server.logins == [("LOGIN", True)] and len(server.messages) == 1
        with pytest.raises(DeliveryError) as caught:
            await deliver(ctx, parse_destination(TO), _scan(tmp_path, 1, 100_000), INFO)
    assert caught.value.reason == "destination-too-large" and not caught.value.retry
    assert "552" in str(caught.value)
