"""Internet Fax sending end to end: `mfpd ifax send` to the real daemon, which renders the
files with Ghostscript's tiffg3 and mails them through [smtp] to aiosmtpd (STARTTLS, AUTH,
the test CA). The TIFF in the mail is decoded with libtiff's tiffinfo and Pillow and checked
against TIFF Profile S (RFC 3949 4): 1728 pixels wide, 204 x 196 (fine) or 204 x 98
(standard) dpi, one bit, Compression 3 (T.4 MH), WhiteIsZero, a FillOrder."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mfpd.device.fax_jobs import FaxJobs
from mfpd.device.jobs import JobState
from mfpd.device.store import JobStore
from mfpd.outbound.ifax_send import send_fax
from tests.conftest import has, need
from tests.documents import make_pdf
from tests.outbound_servers import free_port, make_pki, outbound_context, smtp_server

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def _tiff(data: bytes, tmp: Path) -> tuple[Any, Path]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    (part,) = [p for p in message.walk() if p.get_content_type() == "image/tiff"]
    path = tmp / "received.tif"
    path.write_bytes(part.get_payload(decode=True))
    return message, path


def _profile_s(path: Path, pages: int, y_dpi: int) -> None:
    """Every page as Profile S wants it, read by Pillow and by libtiff's tiffinfo."""
    with Image.open(path) as image:
        assert image.n_frames == pages
        for index in range(pages):
            image.seek(index)
            tags = image.tag_v2
            assert image.size[0] == 1728 and image.mode == "1"
            assert float(tags[282]) == 204 and float(tags[283]) == y_dpi  # X/YResolution
            assert tags[259] == 3  # Compression: CCITT T.4
            assert tags[262] == 0  # PhotometricInterpretation: WhiteIsZero
            assert tags[266] in (1, 2)  # FillOrder
            assert tags.get(292, 0) & 1 == 0  # T4Options: 1-D coding (MH)
            # The machine that sent it, not the renderer inside it.
            assert tags[305].startswith("Xerox WorkCentre") and "Ghostscript" not in tags[305]
    if has("tiffinfo"):
        info = subprocess.run(
            ["tiffinfo", str(path)], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        assert info.count("Image Width: 1728") == pages
        assert info.count(f"Resolution: 204, {y_dpi} pixels/inch") == pages
        assert info.count("Compression Scheme: CCITT Group 3") == pages
        assert info.count("Photometric Interpretation: min-is-white") == pages


def test_ifax_send_from_the_cli(mfpd_factory: Any, tmp_path: Path) -> None:
    need("gs")
    pki = make_pki(tmp_path / "pki")
    pdf = make_pdf(tmp_path / "report.pdf", 3)
    text = tmp_path / "cover.txt"
    text.write_text("Cover sheet (fax)\n" + "line\n" * 70)  # two pages of 64 lines
    with smtp_server(pki) as server:
        daemon = mfpd_factory(
            f'[engine]\nspeed_ppm = 0\n[tls]\nca_bundle = "{pki.ca}"\n'
            f'[smtp]\nserver = "localhost:{server.port}"\nusername = "{server.user}"\n'
            f'password = "{server.password}"\nfrom = "fax@mfp.example.test"\ntimeout = 10\n'
            "[ifax]\nrequest_mdn = true\n"
        )
        out = daemon.cli(
            "ifax", "send", "--to", "bob@example.test", "--to", "carol@example.test",
            str(pdf), str(text),
        ).stdout  # fmt: skip
        assert "fax job" in out
        jobs = daemon.wait_for(
            lambda js: (
                any(j["kind"] == "fax-send" and j["state"] == "completed" for j in js)
                or any(j["state"] == "aborted" for j in js)
            )
        )
        (job,) = [j for j in jobs if j["kind"] == "fax-send"]
        assert job["state"] == "completed", job
        assert job["pages"] == 5 and job["attributes"]["recipients"] == [
            "bob@example.test", "carol@example.test",
        ]  # fmt: skip
        assert job["documents"] == [] and not any((daemon.state_dir / "fax").iterdir())
        counters = daemon.status()["fax"]
        assert counters["sent"] == 1 and counters["pages_sent"] == 5
        assert "fax:     1 sent (5 pages), 0 received" in daemon.cli("status").stdout
        entries = json.loads(daemon.cli("audit-log", "--json").stdout)["entries"]
        (logged,) = [e for e in entries if e["event"] == "fax-job"]
        assert logged["event_id"] == 8 and logged["outcome"] == "completed"
        assert logged["details"]["direction"] == "sent" and logged["details"]["pages"] == 5
        assert logged["details"]["peers"] == ["bob@example.test", "carol@example.test"]
        refused = daemon.cli("ifax", "send", "--to", "not an address", str(pdf), check=False)
        assert refused.returncode == 1 and "is not an email address" in refused.stderr
    sender, recipients, _mail_options, _rcpt_options, data = server.messages[0]
    assert sender == "fax@mfp.example.test"
    assert recipients == ["bob@example.test", "carol@example.test"]
    assert server.logins == [("PLAIN", True)]
    message, tiff = _tiff(data, tmp_path)
    # RFC 3965 5, RFC 3302 3, RFC 8098 2.1.
    assert message["MIME-Version"] == "1.0" and message["Message-ID"] and message["Date"]
    assert message["From"] == "fax@mfp.example.test"
    assert message["Disposition-Notification-To"] == "fax@mfp.example.test"
    (part,) = [p for p in message.walk() if p.get_content_type() == "image/tiff"]
    assert part.get_param("application") == "faxbw"
    assert part.get_content_disposition() == "attachment"
    _profile_s(tiff, 5, 196)


def _fax_jobs(tmp: Path, config: str) -> tuple[Any, FaxJobs]:
    ctx = outbound_context(tmp, config)
    faxes = FaxJobs(ctx.device, JobStore(ctx.state_dir), ctx.state_dir, lambda: ctx.config)

    async def send(recipients: list[str], tiff: Path, job: int, pages: int, name: str) -> str:
        return await send_fax(ctx, recipients, tiff, job_id=job, pages=pages, name=name)

    faxes.send = send
    return ctx, faxes


async def _send(faxes: FaxJobs, source: Path, tmp: Path) -> Any:
    upload = faxes.new_document(source.name)
    upload.write_bytes(source.read_bytes())
    job = faxes.create(["bob@example.test"], [upload], source="test", user="alice")
    deadline = time.monotonic() + 60
    while not job.state.terminal:
        assert time.monotonic() < deadline, job.to_dict()
        await asyncio.sleep(0.05)
    return job


async def test_ifax_send_standard_resolution_letter_and_failures(tmp_path: Path) -> None:
    need("gs")
    image = tmp_path / "photo.png"
    Image.new("RGB", (900, 600), "orange").save(image)
    with smtp_server(None, auth=False) as server:
        config = (
            f'[smtp]\nserver = "127.0.0.1:{server.port}"\nsecurity = "none"\n'
            '[ifax]\nresolution = "standard"\npaper = "letter"\n'
        )
        _ctx, faxes = _fax_jobs(tmp_path, config)
        job = await _send(faxes, image, tmp_path)
        assert job.state is JobState.COMPLETED, job.to_dict()
        assert job.pages == 1
        message, tiff = _tiff(server.messages[0][-1], tmp_path)
        assert "Disposition-Notification-To" not in message  # request_mdn is off
        _profile_s(tiff, 1, 98)
        with Image.open(tiff) as page:
            assert page.size == (1728, 1078)  # Letter: 11 in at 98 lines per inch

        binary = tmp_path / "firmware.bin"
        binary.write_bytes(bytes(range(256)) * 64)
        refused = await _send(faxes, binary, tmp_path)
    assert refused.state is JobState.ABORTED
    assert refused.state_reasons == ["document-format-error"]
    assert "cannot be sent as a fax" in refused.state_message

    _ctx, down = _fax_jobs(
        tmp_path / "down", f'[smtp]\nserver = "127.0.0.1:{free_port()}"\nsecurity = "none"\n'
    )
    failed = await _send(down, make_pdf(tmp_path / "one.pdf", 1), tmp_path)
    assert failed.state is JobState.ABORTED
    assert failed.state_reasons == ["destination-unreachable"], failed.to_dict()
    assert failed.pages == 1 and failed.documents == []
    assert not any((down.directory).iterdir())  # nothing left behind


def test_ifax_from_the_api_and_the_fax_page(mfpd_factory: Any, tmp_path: Path) -> None:
    """POST /api/v1/ifax (multipart: to, file) with the administrator's token, and the Fax
    page's form in a logged-in browser: each a fax-send job, listed by the API and the Jobs
    page, its counters on the Status page; anonymous callers refused."""
    need("gs")
    import requests

    from tests.integration.test_web_api import Api, token
    from tests.integration.test_web_security import csrf_of, login

    pdf = make_pdf(tmp_path / "memo.pdf", 2)
    with smtp_server(None, auth=False) as server:
        daemon = mfpd_factory(
            f'[engine]\nspeed_ppm = 0\n[smtp]\nserver = "127.0.0.1:{server.port}"\n'
            'security = "none"\n[security]\nimage_overwrite = "immediate"\n'
        )
        files = {"file": ("memo.pdf", pdf.read_bytes(), "application/pdf")}
        anonymous = Api(daemon).post("/ifax", data={"to": "bob@example.test"}, files=files)
        assert anonymous.status_code == 401
        admin = Api(daemon, token(daemon))
        bad = admin.post("/ifax", data={"to": "bob@example.test\r\nBcc: x@y"}, files=files)
        assert bad.status_code == 400 and "not an email address" in bad.json()["error"]
        posted = admin.post("/ifax", data={"to": "bob@example.test", "name": "Memo"}, files=files)
        assert posted.status_code == 201, posted.text
        job = posted.json()
        assert job["kind"] == "fax-send" and job["recipients"] == ["bob@example.test"]
        done = admin.wait_job(job["id"], "completed")
        assert done["pages"] == 2 and done["name"] == "Memo"
        # A fax's files are images of a document: overwritten before they go, as a scan's.
        deadline = time.monotonic() + 30
        while (overwrite := daemon.status()["image_overwrite"].get("last") or {}).get("job") != job[
            "id"
        ]:
            assert time.monotonic() < deadline, overwrite
            time.sleep(0.1)
        assert overwrite["verified"] and overwrite["files"] >= 2
        listed = admin.get("/jobs").json()["jobs"]
        assert [j["kind"] for j in listed if j["id"] == job["id"]] == ["fax-send"]

        browser = requests.Session()
        assert login(daemon, browser).status_code == 303
        url = f"http://127.0.0.1:{daemon.port('http')}"
        page = browser.get(f"{url}/fax", timeout=10)
        assert page.status_code == 200 and 'id="fax-form"' in page.text
        sent = browser.post(
            f"{url}/fax",
            files={
                "csrf": (None, csrf_of(page.text)),
                "to": (None, "carol@example.test, dave@example.test"),
                "file": ("memo.pdf", pdf.read_bytes(), "application/pdf"),
            },
            timeout=10,
            allow_redirects=False,
        )
        assert sent.status_code == 303 and sent.headers["Location"] == "/fax", sent.text
        daemon.wait_for(
            lambda js: sum(j["kind"] == "fax-send" and j["state"] == "completed" for j in js) == 2
        )
        job_page = browser.get(f"{url}/jobs/{job['id']}", timeout=10).text
        assert '<dd id="fax-recipients">bob@example.test</dd>' in job_page
        jobs_page = browser.get(f"{url}/jobs", timeout=10).text
        assert jobs_page.count("Fax sent") >= 2
        status_page = browser.get(f"{url}/", timeout=10).text
        assert 'data-fax-counter="sent">2<' in status_page
        assert 'data-fax-counter="pages_sent">4<' in status_page
    assert [m[1] for m in server.messages] == [
        ["bob@example.test"], ["carol@example.test", "dave@example.test"],
    ]  # fmt: skip


def test_a_directory_user_faxes_to_an_address_book_entry(mfpd_factory: Any, tmp_path: Path) -> None:
    """[auth] method = "ldap" against slapd: ursula (role user) opens the Fax page, which has
    the address book's picker for the recipients, finds Oscar in the address book and faxes
    him; the job is hers. Anonymous visitors are sent to the login page."""
    need("gs", "/usr/sbin/slapd")
    import requests

    from tests.integration.test_directory_logins import config, log_in
    from tests.integration.test_web_security import csrf_of
    from tests.ldap_server import slapd

    pdf = make_pdf(tmp_path / "memo.pdf", 1)
    with slapd(tmp_path / "slapd") as directory, smtp_server(None, auth=False) as server:
        daemon = mfpd_factory(
            config(directory, "address_book_for_users = true\n")
            + f'[smtp]\nserver = "127.0.0.1:{server.port}"\nsecurity = "none"\n'
        )
        url = f"http://127.0.0.1:{daemon.port('http')}"
        anonymous = requests.get(f"{url}/fax", timeout=10, allow_redirects=False)
        assert anonymous.status_code == 303 and "/login" in anonymous.headers["Location"]
        ursula, _ = log_in(daemon, "ursula", "ursula-pw")
        page = ursula.get(f"{url}/fax", timeout=10)
        assert page.status_code == 200 and 'data-address-book-add="f-to"' in page.text
        found = ursula.get(f"{url}/api/v1/address-book", params={"q": "Oscar"}, timeout=10)
        (oscar,) = found.json()["entries"]
        sent = ursula.post(
            f"{url}/fax",
            files={
                "csrf": (None, csrf_of(page.text)),
                "to": (None, oscar["email"] + "\n"),
                "file": ("memo.pdf", pdf.read_bytes(), "application/pdf"),
            },
            timeout=10,
            allow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        (job,) = daemon.wait_for(
            lambda js: any(j["kind"] == "fax-send" and j["state"] == "completed" for j in js)
        )
    assert job["user"] == "ursula" and job["attributes"]["recipients"] == ["oscar@example.com"]
    assert server.messages[0][1] == ["oscar@example.com"]
