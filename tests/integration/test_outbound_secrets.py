"""No password in any log line, at DEBUG, of any library the outbound clients use (aioftp,
aiosmtplib, smbprotocol, spnego), in success and in failure; and the mailbox destination."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from mfpd.outbound.destinations import DeliveryError, DeliveryInfo, deliver, parse_destination
from tests.conftest import need_root, requires
from tests.outbound_servers import SMBD, make_pki, outbound_context, pyftpd, smbd, smtp_server

INFO = DeliveryInfo(5, "Secret test", "eve", "application/pdf", "", time.time())
pytestmark = pytest.mark.filterwarnings(
    "ignore:The (asyncore|asynchat) module is deprecated:DeprecationWarning"
)


def _file(tmp: Path) -> list[Path]:
    path = tmp / "scan.pdf"
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(5000))
    return [path]


async def _both(ctx: object, good: str, bad: str, files: list[Path]) -> None:
    await deliver(ctx, parse_destination(good), files, INFO)  # type: ignore[arg-type]
    with pytest.raises(DeliveryError):
        await deliver(ctx, parse_destination(bad), files, INFO)  # type: ignore[arg-type]


async def test_ftp_and_smtp_log_no_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pki = make_pki(tmp_path / "pki")
    files = _file(tmp_path)
    with pyftpd(tmp_path / "ftp", pki) as server:
        ctx = outbound_context(tmp_path, f'[tls]\nca_bundle = "{pki.ca}"\n')
        base = f"ftps://{server.user}:%s@localhost:{server.port}/x"
        await _both(ctx, base % server.password, base % "Wrong-Pw-1", files)
        ours = server.password
    with smtp_server(pki) as mail:
        config = (
            f'[tls]\nca_bundle = "{pki.ca}"\n[smtp]\nserver = "localhost:{mail.port}"\n'
            f'username = "{mail.user}"\npassword = "{mail.password}"\ntimeout = 10\n'
        )
        ctx = outbound_context(tmp_path / "m", config)
        await deliver(ctx, parse_destination("mailto:x@example.test"), files, INFO)
        ctx.config.smtp.password = "Wrong-Pw-2"
        with pytest.raises(DeliveryError):
            await deliver(ctx, parse_destination("mailto:x@example.test"), files, INFO)
    assert "PASS" in caplog.text or "AUTH" in caplog.text  # the exchanges were logged
    for secret in (ours, "Wrong-Pw-1", mail.password, "Wrong-Pw-2"):
        assert secret not in caplog.text


@requires(os.path.exists(SMBD), "Samba (smbd) is not installed")
async def test_smb_logs_no_password(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    need_root("smbd maps the share's user to a Unix account")
    caplog.set_level(logging.DEBUG)
    files = _file(tmp_path)
    with smbd(tmp_path) as server:
        ctx = outbound_context(tmp_path)
        base = f"smb://{server.user}:%s@127.0.0.1:{server.port}/{server.share}"
        await _both(ctx, base % server.password, base % "Wrong-Pw-3", files)
    assert caplog.text
    for secret in (server.password, "Wrong-Pw-3"):
        assert secret not in caplog.text


async def test_mailbox(tmp_path: Path) -> None:
    config = '[[scan.mailboxes]]\nname = "Legal"\ndelete_after_retrieval = true\n'
    ctx = outbound_context(tmp_path, config)
    files = [*_file(tmp_path), tmp_path / "two.pdf"]
    files[1].write_bytes(b"%PDF-1.4 two")
    line = await deliver(ctx, parse_destination("mailbox:Legal"), files, INFO)
    assert line.startswith("2 file(s) to mailbox Legal: Secret_test_")
    from mfpd.device.mailboxes import Mailboxes

    boxes = Mailboxes(ctx.state_dir, lambda: ctx.config.scan)
    docs = sorted(boxes.documents("Legal"), key=lambda d: d.filename)
    assert [d.filename.rsplit("_", 1)[1] for d in docs] == ["001.pdf", "002.pdf"]
    for doc, source in zip(docs, files, strict=True):
        assert boxes.document("Legal", doc.id)[1].read_bytes() == source.read_bytes()
        assert (doc.format, doc.job_id) == ("application/pdf", 5)
    with pytest.raises(DeliveryError) as caught:
        await deliver(ctx, parse_destination("mailbox:Nobody"), files, INFO)
    assert caught.value.reason == "destination-not-configured" and not caught.value.retry


async def test_destinations_as_templates_hold_them(tmp_path: Path) -> None:
    """The runner hands deliver() a template's items as they are (a URI or a table) through
    deliverer(ctx); one that does not parse is a DeliveryError without retry, not a crash."""
    from mfpd.config import DestinationConfig
    from mfpd.device.scan_jobs import DeliveryInfo as RunnerInfo
    from mfpd.outbound.destinations import deliverer

    ctx = outbound_context(tmp_path, '[[scan.mailboxes]]\nname = "Box"\n')
    send = deliverer(ctx)
    info = RunnerInfo(8, "Raw", "u", "image/png", "T", time.time())
    files = _file(tmp_path)
    assert (await send("mailbox:Box", files, info)).startswith("1 file(s) to mailbox Box")
    assert "mailbox Box" in await send(DestinationConfig(uri="mailbox:Box"), tuple(files), info)
    for bad in ("ftp://u:pw@bad host/x", DestinationConfig(uri="gopher://x")):
        with pytest.raises(DeliveryError) as caught:
            await send(bad, files, info)
        assert caught.value.reason == "destination-uri-invalid" and not caught.value.retry
        assert "pw@" not in str(caught.value)
