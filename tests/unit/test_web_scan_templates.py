"""/api/v1/scan-templates and the [scan] section of /api/v1/config, in-process: the
administrator's list of walk-up templates, passwords sealed at rest and masked in every
answer, a mask sent back keeping the stored password, and the settings machinery keeping the
list (settings.json over the file)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mfpd.config import Config, parse_config
from mfpd.device.identity import EDITABLE
from mfpd.security.secrets import MASK, PREFIX, Secrets
from mfpd.services.web.state import SERVICE, WEB
from mfpd.settings import SettingsError, public_settings, seal_change, validate_change
from mfpd.settings_scan import split_userinfo
from tests.unit.test_web_pages import _app, _csrf, _login

Client = TestClient[web.Request, web.Application]
PATH = "/api/v1/scan-templates"

FILE = """
[[scan.mailboxes]]
name = "finance"
passcode = "4711"

[[scan.templates]]
name = "From the file"
destinations = ["ftp://scan:filepass@files.example.com:21/in", "mailbox:finance"]
"""


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    app = _app(tmp_path, parse_config(FILE))
    _, secret = app[WEB].tokens.create("tests")
    async with TestClient(TestServer(app)) as client:
        yield client, {"Authorization": f"Bearer {secret}"}


def _config(client: Client) -> Config:
    config: Config = client.app[SERVICE].ctx.config
    return config


def _template(**changes: Any) -> dict[str, Any]:
    return {
        "name": "To accounts",
        "destinations": [
            {"uri": "ftps://scan@ftp.example.com:21/in", "password": "s3cret"},
            "smb://bob:hunter2@files.example.com:445/share/scans",
            "mailbox:finance",
        ],
        "resolution": 300,
        "color_mode": "Grayscale8",
        "format": "application/pdf",
        **changes,
    }


def test_split_userinfo() -> None:
    assert split_userinfo("ftp://u:p@h:21/x") == ("ftp://u@h:21/x", "p")
    assert split_userinfo("ftp://u@h/x") == ("ftp://u@h/x", "")
    assert split_userinfo("mailto:a@b.example") == ("mailto:a@b.example", "")
    assert split_userinfo("mailbox:x") == ("mailbox:x", "")


async def test_templates_need_the_administrator(api: tuple[Client, dict[str, str]]) -> None:
    client, _ = api
    for method, path in (
        ("GET", PATH),
        ("POST", PATH),
        ("PUT", f"{PATH}/x"),
        ("DELETE", f"{PATH}/x"),
    ):
        response = await client.request(method, path, json={})
        assert response.status == 401, (method, path)


async def test_passwords_are_masked_sealed_and_kept(
    api: tuple[Client, dict[str, str]], tmp_path: Path
) -> None:
    client, auth = api
    # The file's own password (in the URI) is never shown either.
    listed = await (await client.get(PATH, headers=auth)).json()
    assert listed["templates"][0]["destinations"][0] == f"ftp://scan:{MASK}@files.example.com:21/in"
    assert "filepass" not in json.dumps(listed)

    created = await client.post(PATH, json=_template(), headers=auth)
    assert created.status == 201, await created.text()
    body = await created.json()
    assert created.headers["Location"] == f"{PATH}/To%20accounts"
    assert body["destinations"][0] == {
        "uri": "ftps://scan@ftp.example.com:21/in", "username": "", "password": MASK,
    }  # fmt: skip
    # A URI's password moves into the table, sealed; the URI keeps the user.
    assert body["destinations"][1] == {
        "uri": "smb://bob@files.example.com:445/share/scans", "username": "", "password": MASK,
    }  # fmt: skip
    text = json.dumps(await (await client.get("/api/v1/config", headers=auth)).json())
    assert "s3cret" not in text and "hunter2" not in text and "filepass" not in text
    assert "4711" not in text

    config = _config(client)
    stored = config.scan.templates[1].destinations
    secrets = Secrets(tmp_path)
    assert all(d.password.startswith(PREFIX) for d in stored if not isinstance(d, str))  # type: ignore[union-attr]
    assert [secrets.open(d.password) for d in stored[:2]] == ["s3cret", "hunter2"]  # type: ignore[union-attr]
    # The file's template, copied into the overrides by the change, is sealed there too.
    first = config.scan.templates[0].destinations[0]
    assert not isinstance(first, str) and first.password.startswith(PREFIX)
    assert secrets.open(first.password) == "filepass"

    # PUT what GET answered (masks and all), changed: the stored passwords stay.
    changed = {**body, "resolution": 600}
    put = await client.put(f"{PATH}/To accounts", json=changed, headers=auth)
    assert put.status == 200, await put.text()
    assert (await put.json())["resolution"] == 600
    again = _config(client).scan.templates[1].destinations
    assert [secrets.open(d.password) for d in again[:2]] == ["s3cret", "hunter2"]  # type: ignore[union-attr]

    # A mask for a destination that has no stored password is refused, naming it.
    stranger = {**body, "destinations": [f"ftp://eve:{MASK}@elsewhere.example/x"]}
    refused = await client.put(f"{PATH}/To accounts", json=stranger, headers=auth)
    assert refused.status == 422 and "elsewhere.example" in (await refused.json())["error"]


async def test_templates_are_validated(api: tuple[Client, dict[str, str]]) -> None:
    client, auth = api
    cases = [
        (_template(resolution=301), 422, "XResolution"),
        (_template(duplex=True), 422, "Duplex"),
        (_template(destinations=["gopher://x/"]), 422, "gopher"),
        (_template(destinations=["mailbox:nobody"]), 422, "nobody"),
        (_template(destinations=["ftp://files.example.com:99999/in"]), 422, "port"),
        (_template(destinations=["smb://files.example.com/share"]), 422, "user name"),
        (_template(destinations=["mailto:not an address"]), 422, "mail address"),
        (_template(destinations=[]), 422, "destinations"),
        (_template(name="bad/name"), 422, "name"),
        (_template(color_mode="CMYK"), 422, "color_mode"),
        (_template(extra=1), 422, "extra"),
        (_template(name="from the FILE"), 409, "already"),
    ]
    for template, status, words in cases:
        response = await client.post(PATH, json=template, headers=auth)
        body = await response.json()
        assert response.status == status, (template, body)
        assert words in body["error"], body
    assert (await client.put(f"{PATH}/none", json=_template(), headers=auth)).status == 404
    assert (await client.delete(f"{PATH}/none", headers=auth)).status == 404


async def test_delete_and_the_list_survives_as_an_override(
    api: tuple[Client, dict[str, str]],
) -> None:
    client, auth = api
    assert (await client.post(PATH, json=_template(), headers=auth)).status == 201
    assert (await client.delete(f"{PATH}/From the file", headers=auth)).status == 204
    names = [t["name"] for t in (await (await client.get(PATH, headers=auth)).json())["templates"]]
    assert names == ["To accounts"]
    assert (await client.get(f"{PATH}/To accounts", headers=auth)).status == 200


def test_a_config_patch_keeps_masked_scan_secrets_and_seals_new_ones(tmp_path: Path) -> None:
    config = parse_config(FILE)
    shown = public_settings(config, dict.fromkeys(EDITABLE, ""))
    scan = shown["scan"]
    assert scan["mailboxes"][0]["passcode"] == MASK
    secrets = Secrets(tmp_path)
    patch = seal_change(config, {"scan": scan}, secrets.seal)
    new, overrides, _ = validate_change(config, {}, patch)
    assert secrets.open(new.scan.mailboxes[0].passcode) == "4711"
    dest = new.scan.templates[0].destinations[0]
    assert not isinstance(dest, str) and secrets.open(dest.password) == "filepass"
    assert "4711" not in json.dumps(overrides) and "filepass" not in json.dumps(overrides)
    # validate_change alone (no sealing) still keeps a mask sent back.
    kept, _, _ = validate_change(config, {}, {"scan": scan})
    assert kept.scan.mailboxes[0].passcode == "4711"
    with pytest.raises(SettingsError, match="ghost"):
        validate_change(config, {}, {"scan": {"mailboxes": [{"name": "ghost", "passcode": MASK}]}})


async def test_the_scan_page_adds_and_deletes_templates(
    api: tuple[Client, dict[str, str]], tmp_path: Path
) -> None:
    client, _ = api
    anonymous = await (await client.get("/scan")).text()
    assert 'data-template="From the file"' in anonymous
    assert 'id="template-form"' not in anonymous and "filepass" not in anonymous
    await _login(client)
    page = await (await client.get("/scan")).text()
    form = {
        "csrf": _csrf(page), "name": "Page made", "password": "pw1",
        "destinations": "ftp://u@h.example/x\r\nmailbox:finance\r\n",
        "resolution": "150", "color_mode": "Grayscale8", "format": "image/tiff",
        "source": "Feeder", "duplex": "on",
    }  # fmt: skip
    added = await client.post("/scan/templates", data=form, allow_redirects=False)
    assert added.status == 303, await added.text()
    template = _config(client).scan.templates[-1]
    assert (template.resolution, template.duplex, template.source) == (150, True, "Feeder")
    dest = template.destinations[0]
    assert not isinstance(dest, str) and Secrets(tmp_path).open(dest.password) == "pw1"
    assert template.destinations[1] == "mailbox:finance"
    bad = await client.post("/scan/templates", data={**form, "name": "Other", "resolution": "1"})
    assert bad.status == 422 and "XResolution" in await bad.text()
    gone = await client.post(
        "/scan/templates/delete", data={"csrf": form["csrf"], "name": "Page made"},
        allow_redirects=False,
    )  # fmt: skip
    assert gone.status == 303
    assert [t.name for t in _config(client).scan.templates] == ["From the file"]
