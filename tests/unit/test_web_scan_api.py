"""POST /api/v1/scans, /api/v1/originals and scan jobs in the job list, in-process with the real
scan runner (device/scan_jobs.py) behind the web server: the answers the brief maps
(202, 404, 409 with the AdfState, 503 with Retry-After, 413, 422), and a walk-up scan's job
listed with its kind and thumbnail."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from mfpd.config import parse_config
from mfpd.services.web.state import SERVICE, WEB
from tests.unit.test_web_pages import _app

Client = TestClient[web.Request, web.Application]

CONFIG = """
[web]
max_upload_bytes = 200000

[scan]
retries = 0  # no delivery is wired in-process: the job ends at once

[[scan.mailboxes]]
name = "inbox"

[[scan.templates]]
name = "Feeder to inbox"
destinations = ["mailbox:inbox"]
resolution = 75
color_mode = "Grayscale8"
source = "Feeder"

[[scan.templates]]
name = "Glass"
destinations = ["mailbox:inbox"]
resolution = 75
"""


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    app = _app(tmp_path, parse_config(CONFIG))
    _, secret = app[WEB].tokens.create("tests")
    async with TestClient(TestServer(app)) as client:
        yield client, {"Authorization": f"Bearer {secret}"}


def _ctx(client: Client) -> Any:
    return client.app[SERVICE].ctx


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(out, "PNG")
    return out.getvalue()


def _upload(files: list[tuple[str, bytes]], to: str | None = None) -> FormData:
    form = FormData()
    if to is not None:
        form.add_field("to", to)
    for name, data in files:
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def _settled(client: Client, job_id: int) -> dict[str, Any]:
    """The job once the runner is done with it (bounded: 200 polls of the job)."""
    for _ in range(200):
        job: dict[str, Any] = await (await client.get(f"/api/v1/jobs/{job_id}")).json()
        if job["state"] in ("completed", "aborted", "canceled"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end: {job}")


async def test_a_walk_up_scan_is_a_job(api: tuple[Client, dict[str, str]]) -> None:
    client, auth = api
    empty = await client.post("/api/v1/scans", json={"template": "Feeder to inbox"})
    body = await empty.json()
    assert empty.status == 409 and body["reason"] == "ScannerAdfEmpty", body
    nothing = await client.post("/api/v1/scans", json={"template": "nobody"})
    assert nothing.status == 404 and "no scan template" in (await nothing.json())["error"]
    for bad in ({}, {"template": 1}, {"template": "Glass", "x": 1}):
        assert (await client.post("/api/v1/scans", json=bad)).status == 400

    loaded = await client.post(
        "/api/v1/originals", data=_upload([("a.png", _png()), ("b.png", _png())]), headers=auth
    )
    assert loaded.status == 200, await loaded.text()
    assert (await loaded.json())["scanner"]["feeder_sheets"] == 2

    # Anybody who reaches the web server starts a walk-up scan, as at the panel.
    started = await client.post("/api/v1/scans", json={"template": "feeder to INBOX"})
    answer = await started.json()
    assert started.status == 202, answer
    assert started.headers["Location"] == answer["url"] == f"/api/v1/jobs/{answer['id']}"
    assert answer["job"]["kind"] == "scan" and answer["job"]["source"] == "web"
    job = await _settled(client, answer["id"])
    assert job["pages"] == 2 and job["kind"] == "scan"
    assert job["destinations"] == ["mailbox:inbox"]
    listed = (await (await client.get("/api/v1/jobs")).json())["jobs"]
    assert [j["id"] for j in listed if j["kind"] == "scan"] == [answer["id"]]
    assert _ctx(client).device.scanner.images == {"Grayscale8": 2}

    thumb = await client.get(job["thumbnail"])
    assert thumb.status == 200 and thumb.content_type == "image/png"
    assert Image.open(io.BytesIO(await thumb.read())).size[1] <= 160
    assert (await client.get("/api/v1/jobs/999/thumbnail")).status == 404
    page = await (await client.get("/jobs")).text()
    assert f'src="/api/v1/jobs/{answer["id"]}/thumbnail"' in page
    detail = await client.get(f"/jobs/{answer['id']}")
    assert detail.status == 200 and "mailbox:inbox" in await detail.text()
    status = await (await client.get("/")).text()
    assert 'data-scan-counter="Grayscale8">2<' in status


async def test_a_busy_scanner_answers_503_with_retry_after(
    api: tuple[Client, dict[str, str]],
) -> None:
    client, _ = api
    ctx = _ctx(client)
    ctx.config = ctx.config.model_copy(
        update={"scan": ctx.config.scan.model_copy(update={"enabled": False})}
    )
    busy = await client.post("/api/v1/scans", json={"template": "Glass"})
    assert busy.status == 503 and busy.headers["Retry-After"] == "5"


async def test_originals_upload_limits_and_clear(
    api: tuple[Client, dict[str, str]], tmp_path: Path
) -> None:
    client, auth = api
    scanner = _ctx(client).device.scanner
    assert (await client.post("/api/v1/originals", data=_upload([("a.png", _png())]))).status == 401
    too_big = await client.post(
        "/api/v1/originals", data=_upload([("big.png", b"\0" * 300_000)]), headers=auth
    )
    assert too_big.status == 413
    junk = await client.post(
        "/api/v1/originals", data=_upload([("a.png", _png()), ("x.pdf", b"")]), headers=auth
    )
    assert junk.status == 422 and "x.pdf" in (await junk.json())["error"]
    assert scanner.feeder_sheets == 0  # refused whole
    glass = await client.post(
        "/api/v1/originals?to=glass", data=_upload([("a.png", _png())]), headers=auth
    )
    assert glass.status == 200 and (await glass.json())["scanner"]["glass"] == "a.png page 1"
    two = await client.post(
        "/api/v1/originals", data=_upload([("a.png", _png()), ("b.png", _png())], "glass"),
        headers=auth,
    )  # fmt: skip
    assert two.status == 400
    roof = await client.post(
        "/api/v1/originals?to=roof", data=_upload([("a.png", _png())]), headers=auth
    )
    assert roof.status == 400
    # A form with no file is no multipart upload at all.
    assert (await client.post("/api/v1/originals", data=_upload([]), headers=auth)).status == 415
    nothing = FormData()
    nothing.add_field("to", "feeder")
    nothing.add_field("other", b"x", filename="x.bin")
    assert (await client.post("/api/v1/originals", data=nothing, headers=auth)).status == 400
    cleared = await client.delete("/api/v1/originals", headers=auth)
    assert cleared.status == 200 and scanner.glass.chart
    # Nothing of the uploads is left behind.
    assert list((tmp_path / "uploads").iterdir()) == []
