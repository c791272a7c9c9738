"""Internet Fax reception end to end: the real daemon polls a real dovecot POP3 server (POP3S
with the test CA; STLS in the second test), prints each fax as a job of kind fax-receive
with source ifax and the sender as its user, with exact page counts, deletes what it dealt
with from the server, and answers MDN requests through aiosmtpd. Hostile mail (a TIFF bomb,
a zip bomb in a TIFF and one posing as a TIFF, a 100 MB attachment, a PDF instead of a TIFF,
a broken MIME tree) each becomes a failed job saying why, the daemon serving on with its
memory bounded."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import json
import re
import struct
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mfpd.device.events import EventBus
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.documents import fax_tiff
from mfpd.security.secrets import Secrets
from mfpd.services.ifax_receive import FaxReceiver
from tests.conftest import has, need, requires
from tests.documents import make_pdf, pdf_bytes
from tests.outbound_servers import (
    DOVECOT,
    credential_entries,
    dovecot,
    make_pki,
    outbound_context,
    smtp_server,
)

pytestmark = [
    requires(has(DOVECOT), "dovecot (dovecot-pop3d) is not installed"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
SENDER = "alice@example.test"
# The daemon's peak resident memory after all of it: a 100 MB message read whole, or a
# bomb decoded, would be far above.
MAX_RSS_KB = 160 * 1024


def _mail(
    subject: str, *, sender: str = SENDER, mdn: str = "", return_path: str = SENDER
) -> EmailMessage:
    message = EmailMessage()
    if return_path:
        message["Return-Path"] = f"<{return_path}>"
    message["From"] = sender
    message["To"] = "fax@mfp.example.test"
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@example.test>"
    if mdn:
        message["Disposition-Notification-To"] = mdn
    message.set_content("Internet Fax\n")
    return message


def _with_tiff(message: EmailMessage, data: bytes, name: str = "fax.tif") -> bytes:
    message.add_attachment(
        data, maintype="image", subtype="tiff", filename=name, params={"application": "faxbw"}
    )
    return message.as_bytes()


def _tiff_header(width: int, length: int, compression: int, strip: bytes) -> bytes:
    """A one-page little-endian TIFF (TIFF 6.0 section 2) claiming what the test says."""
    entries = [
        (256, 4, 1, width), (257, 4, 1, length), (258, 3, 1, 1), (259, 3, 1, compression),
        (262, 3, 1, 0), (273, 4, 1, 0), (278, 4, 1, length), (279, 4, 1, len(strip)),
    ]  # fmt: skip
    ifd_size = 2 + 12 * len(entries) + 4
    strip_at = 8 + ifd_size
    out = bytearray(b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, kind, count, value in entries:
        value = strip_at if tag == 273 else value
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    out += struct.pack("<I", 0)
    return bytes(out) + strip


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("page.tif", b"\0" * (100 * 1024 * 1024))
    return buffer.getvalue()


def _huge_message(path: Path, size: int) -> None:
    """A message of `size` bytes whose attachment is base64, written a block at a time."""
    head = (
        _mail("Huge")
        .as_bytes()
        .split(b"\n\n", 1)[0]
        .replace(b"Content-Type: text/plain", b"X-Old-Type: text/plain")
    )
    head += (
        b"\nContent-Type: image/tiff; application=faxbw\nContent-Transfer-Encoding: base64\n"
        b'Content-Disposition: attachment; filename="huge.tif"\n\n'
    )
    line = b"A" * 76 + b"\n"
    block = line * 10_000
    with path.open("wb") as file:
        file.write(head)
        written = len(head)
        while written < size:
            file.write(block)
            written += len(block)


def _hostile(pop: Any, tmp: Path) -> None:
    bomb = _tiff_header(100_000, 100_000, 4, b"\0" * 64)
    pop.deliver(_with_tiff(_mail("TIFF bomb", mdn="boss@elsewhere.test"), bomb), "bomb")
    deflated = _tiff_header(1728, 20_000, 8, zlib.compress(b"\0" * (100 * 1024 * 1024), 9))
    pop.deliver(_with_tiff(_mail("Deflate bomb"), deflated), "deflate")
    pop.deliver(_with_tiff(_mail("Zip bomb"), _zip_bomb(), "fax.tif"), "zip")
    pdf = _mail("A PDF", mdn=SENDER)
    pdf.add_attachment(pdf_bytes(1), maintype="application", subtype="pdf", filename="x.pdf")
    pop.deliver(pdf.as_bytes(), "pdf")
    pop.deliver(
        b"From: mallory@example.test\r\nSubject: Broken\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed\r\n\r\n--x\r\nContent-Type: image/tiff\r\n\r\nII*\0"
        + b"--nested\r\nContent-Type: multipart/mixed; boundary=nested\r\n"
        * 2000,
        "broken",
    )
    huge = tmp / "huge.eml"
    _huge_message(huge, 100 * 1024 * 1024)
    pop.deliver(huge.read_bytes(), "huge")
    huge.unlink()


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_ifax_receive_from_dovecot(mfpd_factory: Any, tmp_path: Path) -> None:
    need("gs")
    pki = make_pki(tmp_path / "pki")
    fax = tmp_path / "fax.tif"
    pages = fax_tiff.render(
        [make_pdf(tmp_path / "two.pdf", 2)], fax, resolution="fine", paper="a4", timeout=60
    )
    assert pages == 2
    with dovecot(pki) as pop, smtp_server(None, auth=False) as smtp:
        pop.deliver(_with_tiff(_mail("Quarterly figures", mdn=SENDER), fax.read_bytes()), "good")
        # Faxes whose MDN request is not answered: no Return-Path to check it against; a
        # report (RFC 8098 2.1: no MDN for an MDN), which is no fax either.
        pop.deliver(
            _with_tiff(_mail("No return path", mdn=SENDER, return_path=""), fax.read_bytes()),
            "noreturn",
        )
        report = _mail("A report", mdn=SENDER)
        report.replace_header("Content-Type", "multipart/report; report-type=x; boundary=r")
        pop.deliver(report.as_bytes(), "report")
        _hostile(pop, tmp_path)
        assert len(pop.messages()) == 9
        daemon = mfpd_factory(
            f'[engine]\nspeed_ppm = 0\n[tls]\nca_bundle = "{pki.ca}"\n'
            f'[smtp]\nserver = "127.0.0.1:{smtp.port}"\nsecurity = "none"\n'
            f'from = "fax@mfp.example.test"\n[ifax]\npop3 = "pop3s://{pop.user}@localhost:'
            f'{pop.pop3s_port}"\npassword = "{pop.password}"\npoll_interval = 0.5\n'
        )
        jobs = daemon.wait_for(
            lambda js: sum(j["kind"] == "fax-receive" and j["state"] in ("completed", "aborted")
                           for j in js) == 9,
            timeout=120,
        )  # fmt: skip
        daemon.wait_for(lambda _: not pop.messages(), timeout=30)
        assert daemon.proc is not None
        peak = _peak_rss_kb(daemon.proc.pid)
        status = daemon.status()  # the daemon still serves
        assert status["fax"]["last_poll"]["outcome"] == "ok"
        shown = daemon.cli("status").stdout
        assert re.search(r"last poll of the mailbox: \d+ message\(s\), \d+ deleted", shown)
        assert daemon.stop(timeout=15) == 0  # and stops cleanly, the poller with it
        audit = json.loads(daemon.cli("audit-log", "--json").stdout)["entries"]
    faxes = {j["name"]: j for j in jobs if j["kind"] == "fax-receive"}
    good = faxes["Quarterly figures"]
    assert good["state"] == "completed", good
    assert good["source"] == "ifax" and good["user"] == SENDER and good["format"] == "image/tiff"
    assert good["pages"] == 2 and good["impressions_completed"] == 2
    assert faxes["No return path"]["state"] == "completed"
    assert faxes["No return path"]["pages"] == 2
    printed = ("Quarterly figures", "No return path")
    refused = {name: job for name, job in faxes.items() if name not in printed}
    assert all(j["state"] == "aborted" for j in refused.values()), refused
    assert all(j["state_reasons"] == ["document-format-error"] for j in refused.values())
    said = {name: job["state_message"] for name, job in refused.items()}
    assert "100000 x 100000 pixels is not a fax page" in said["TIFF bomb"]
    assert "compression 8 is not a fax coding" in said["Deflate bomb"]
    assert "not a TIFF image (a ZIP archive)" in said["Zip bomb"]
    assert "not TIFF: application/pdf" in said["A PDF"]
    assert "over [ifax] max_message_bytes" in said["Huge"]
    assert refused["Huge"]["user"] == SENDER  # named from its header block alone
    assert "malformed MIME structure: NoBoundaryInMultipartDefect" in said["Broken"]
    assert status["fax"]["received"] == 2 and status["fax"]["pages_received"] == 4
    assert status["fax"]["receive_failed"] == 7
    assert peak < MAX_RSS_KB, f"peak RSS {peak} kB"
    logged = [e for e in audit if e["event"] == "fax-job"]
    assert len(logged) == 9 and all(e["details"]["direction"] == "received" for e in logged)
    assert [e["details"]["pages"] for e in logged if e["outcome"] == "completed"] == [2, 2]
    # MDNs (RFC 8098): to the good fax's sender (processed) and the PDF's (deleted); not to
    # the bomb's, whose request named another address than its Return-Path.
    notes = {}
    for sender, recipients, _, _, data in smtp.messages:
        assert sender == "<>" or sender == ""  # the null reverse-path
        report = email.message_from_bytes(data, policy=email.policy.default)
        assert report.get_content_type() == "multipart/report"
        assert report.get_param("report-type") == "disposition-notification"
        (part,) = [p for p in report.walk() if p.get_content_type().endswith("notification")]
        text = part.get_payload(decode=False)
        body = text if isinstance(text, str) else str(text[0])
        notes[report["In-Reply-To"]] = (recipients, body)
    assert set(notes) == {"<Quarterly-figures@example.test>", "<A-PDF@example.test>"}
    recipients, body = notes["<Quarterly-figures@example.test>"]
    assert recipients == [SENDER]
    assert "Disposition: automatic-action/MDN-sent-automatically; processed" in body
    assert "Final-Recipient: rfc822;fax@localhost" in body
    assert "; deleted" in notes["<A-PDF@example.test>"][1]


async def test_ifax_receive_stls_sealed_password_and_wrong_one(tmp_path: Path) -> None:
    need("gs")
    pki = make_pki(tmp_path / "pki")
    fax = tmp_path / "fax.tif"
    fax_tiff.render(
        [make_pdf(tmp_path / "three.pdf", 3)], fax, resolution="standard", paper="letter",
        timeout=60,
    )  # fmt: skip
    with dovecot(pki) as pop:
        pop.deliver(_with_tiff(_mail("Three pages"), fax.read_bytes()), "good")
        state = tmp_path / "state"
        state.mkdir()
        sealed = Secrets(state).seal(pop.password)
        base = f'[tls]\nca_bundle = "{pki.ca}"\n[ifax]\npop3 = "pop3://{pop.user}@localhost:{pop.pop3_port}"\n'
        ctx = outbound_context(tmp_path, base + 'password = "wrong-password"\n')
        ctx.spool = Spool(
            JobStore(ctx.state_dir), ctx.state_dir / "spool", EventBus(), ctx.config.spool
        )
        receiver = FaxReceiver(ctx)
        await receiver.start()
        try:
            await _until(lambda: bool(receiver.last_poll))
            assert receiver.last_poll["reason"] == "destination-auth-failed", receiver.last_poll
            assert len(pop.messages()) == 1 and not list(ctx.spool)

            ctx.config = ctx.config.model_copy(
                update={"ifax": ctx.config.ifax.model_copy(update={"password": sealed})}
            )
            receiver.last_poll = {}
            receiver.poll_now()
            await _until(lambda: receiver.last_poll.get("outcome") == "ok")
            assert receiver.last_poll["deleted"] == 1 and not pop.messages()
        finally:
            await receiver.stop()
        log = pop.log.read_text()
    (job,) = list(ctx.spool)
    assert job.kind == "fax-receive" and job.source == "ifax" and job.user == SENDER
    assert job.format == "image/tiff" and job.state.value == "pending"
    assert [e.outcome for e in credential_entries(ctx)] == ["failure", "success"]
    assert all(
        e.details.get("server", "").startswith("pop3://fax@") for e in credential_entries(ctx)
    )
    assert "TLS" in log.split("user=<fax>, method=PLAIN")[1].splitlines()[0]  # STLS was used


async def _until(condition: Any, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)
