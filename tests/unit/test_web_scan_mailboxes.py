"""/api/v1/mailboxes in-process: folders, passcodes (header or form field, 403 when wrong,
sealed ones too), a streamed download that removes the document when the folder says so, and
DELETE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mfpd.config import parse_config
from mfpd.device.mailboxes import Mailboxes
from mfpd.security.secrets import Secrets
from tests.unit.test_web_pages import _app, _csrf

Client = TestClient[web.Request, web.Application]
PATH = "/api/v1/mailboxes"


def _config(sealed: str) -> str:
    return f"""
[[scan.mailboxes]]
name = "open"
delete_after_retrieval = true

[[scan.mailboxes]]
name = "finance"
passcode = "4711"

[[scan.mailboxes]]
name = "sealed"
passcode = "{sealed}"
"""


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[Client, Mailboxes]]:
    config = parse_config(_config(Secrets(tmp_path).seal("2468")))
    boxes = Mailboxes(tmp_path, lambda: config.scan)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4000 + b"\n%%EOF\n")
    for name in ("open", "finance", "sealed"):
        boxes.put(name, scan, "Scan 2026-12-07 1.pdf", "application/pdf", 7)
    async with TestClient(TestServer(_app(tmp_path, config))) as test_client:
        yield test_client, boxes


async def test_folders_and_passcodes(client: tuple[Client, Mailboxes]) -> None:
    http, _ = client
    folders = (await (await http.get(PATH)).json())["mailboxes"]
    assert folders == [
        {"name": "open", "protected": False, "delete_after_retrieval": True, "documents": 1},
        {"name": "finance", "protected": True, "delete_after_retrieval": False, "documents": None},
        {"name": "sealed", "protected": True, "delete_after_retrieval": False, "documents": None},
    ]
    assert (await http.get(f"{PATH}/nobody")).status == 404
    assert (await http.get(f"{PATH}/open")).status == 200
    for headers in ({}, {"X-Mailbox-Passcode": "0000"}):
        refused = await http.get(f"{PATH}/finance", headers=headers)
        assert refused.status == 403, await refused.text()
    listed = await http.get(f"{PATH}/finance", headers={"X-Mailbox-Passcode": "4711"})
    assert listed.status == 200
    (doc,) = (await listed.json())["documents"]
    assert doc["filename"] == "Scan 2026-12-07 1.pdf" and doc["job_id"] == 7
    # A form field opens it as well; a passcode sealed by the web UI opens with its key.
    form = await http.post(f"{PATH}/sealed", data={"passcode": "2468"})
    assert form.status == 200, await form.text()
    assert (await http.post(f"{PATH}/sealed", data={"passcode": "enc:x"})).status == 403


async def test_download_streams_and_removes_when_the_folder_says_so(
    client: tuple[Client, Mailboxes], tmp_path: Path
) -> None:
    http, boxes = client
    expected = (tmp_path / "scan.pdf").read_bytes()
    (doc,) = boxes.documents("finance")
    refused = await http.get(f"{PATH}/finance/{doc.id}")
    assert refused.status == 403
    got = await http.get(f"{PATH}/finance/{doc.id}", headers={"X-Mailbox-Passcode": "4711"})
    assert got.status == 200 and await got.read() == expected
    assert got.headers["Content-Type"] == "application/pdf"
    assert 'filename="Scan 2026-12-07 1.pdf"' in got.headers["Content-Disposition"]
    assert len(boxes.documents("finance")) == 1  # this folder keeps what was retrieved

    (doc,) = boxes.documents("open")
    got = await http.get(f"{PATH}/open/{doc.id}")
    assert got.status == 200 and await got.read() == expected
    assert boxes.documents("open") == []  # ... this one does not
    assert (await http.get(f"{PATH}/open/{doc.id}")).status == 404


async def test_delete(client: tuple[Client, Mailboxes]) -> None:
    http, boxes = client
    (doc,) = boxes.documents("finance")
    assert (await http.delete(f"{PATH}/finance/{doc.id}")).status == 403
    gone = await http.delete(f"{PATH}/finance/{doc.id}", headers={"X-Mailbox-Passcode": "4711"})
    assert gone.status == 204
    assert boxes.documents("finance") == []
    again = await http.delete(f"{PATH}/finance/{doc.id}", headers={"X-Mailbox-Passcode": "4711"})
    assert again.status == 404


async def test_the_mailbox_pages_ask_for_the_passcode_once_per_session(
    client: tuple[Client, Mailboxes], tmp_path: Path
) -> None:
    http, boxes = client
    listing = await http.get("/mailboxes")
    assert listing.status == 200
    assert 'href="/mailboxes/finance"' in await listing.text()
    (doc,) = boxes.documents("finance")
    page = await http.get("/mailboxes/finance")
    html = await page.text()
    assert 'id="passcode-form"' in html and doc.id not in html
    assert (await http.get(f"/mailboxes/finance/{doc.id}")).status == 403
    csrf = _csrf(html)
    wrong = await http.post("/mailboxes/finance", data={"csrf": csrf, "passcode": "1"})
    assert wrong.status == 403 and "Wrong passcode" in await wrong.text()
    right = await http.post(
        "/mailboxes/finance", data={"csrf": csrf, "passcode": "4711"}, allow_redirects=False
    )
    assert right.status == 303
    opened = await (await http.get("/mailboxes/finance")).text()
    assert f'href="/mailboxes/finance/{doc.id}"' in opened
    got = await http.get(f"/mailboxes/finance/{doc.id}")
    assert got.status == 200 and await got.read() == (tmp_path / "scan.pdf").read_bytes()
    deleted = await http.post(
        f"/mailboxes/finance/{doc.id}/delete", data={"csrf": csrf}, allow_redirects=False
    )
    assert deleted.status == 303 and boxes.documents("finance") == []
    # Another visitor (no session) has to type it again.
    http.session.cookie_jar.clear()
    assert 'id="passcode-form"' in await (await http.get("/mailboxes/finance")).text()
