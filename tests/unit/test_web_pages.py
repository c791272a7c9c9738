"""The web pages rendered in-process (aiohttp's test client, no daemon, no browser): what
every page must hold (one nonce'd script at most, no inline style), the login forms, the
settings forms' validation, and the static files."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer

from mfpd.config import Config, SecurityConfig
from mfpd.device.image_overwrite import ImageOverwriter
from mfpd.device.machine import build_device
from mfpd.device.mailboxes import Mailboxes
from mfpd.device.network import Lease
from mfpd.device.originals import Originals
from mfpd.device.scan_jobs import ScanJobs
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.security.audit import EventLog
from mfpd.security.audit_events import AuditFeed
from mfpd.security.audit_log import AuditLog
from mfpd.security.auth import Administrator, ApiTokens, LoginThrottle, Sessions
from mfpd.security.gate import Gate
from mfpd.security.secrets import Secrets
from mfpd.security.tls import ensure_certificate
from mfpd.services.base import PortEntry
from mfpd.services.web.pages_render import badge, media_text, reason_text, safe_next
from mfpd.services.web.routes import add_web, web_middlewares
from mfpd.services.web.state import SERVICE, WEB, WebState
from mfpd.settings import public_settings, validate_change

PASSWORD = "correct horse battery"
PAGES = ("/", "/jobs", "/print", "/scan", "/mailboxes", "/login")
ADMIN_PAGES = (
    "/properties", "/properties/services", "/properties/snmp", "/properties/security",
    "/properties/tokens", "/properties/operator", "/properties/ip-filter", "/logs",
)  # fmt: skip


def _app(
    tmp_path: Path, config: Config | None = None, ports: list[PortEntry] | None = None
) -> web.Application:
    config = config or Config()
    device = build_device(config)
    spool = Spool(JobStore(tmp_path), tmp_path / "spool", device.events, config.spool)
    audit = AuditFeed(AuditLog(tmp_path, 100), device)
    audit.follow(device.events)
    ctx = SimpleNamespace(
        config=config, device=device, spool=spool, state_dir=tmp_path, audit=audit,
        overwriter=ImageOverwriter(spool, lambda: ctx.config.security, audit.log),
        gate=Gate(), faxes=None, secrets=Secrets(tmp_path),
        originals=Originals(tmp_path, device.scanner),
        mailboxes=Mailboxes(tmp_path, lambda: ctx.config.scan),
        scans=ScanJobs(device, spool.store, tmp_path, lambda: ctx.config),
    )  # fmt: skip
    admin = Administrator(tmp_path, lambda: ctx.config.web)
    admin.set_password(PASSWORD)

    def settings() -> dict[str, Any]:
        return public_settings(ctx.config, vars(ctx.device.identity))

    async def change_settings(
        patch: dict[str, Any], *, carrying: str | None, actor: str, who: Any = None
    ) -> dict[str, Any]:
        new, _, identity = validate_change(ctx.config, {}, patch)
        ctx.config = new
        if identity:
            ctx.device.update_identity(**identity)
        return settings()

    async def restart(names: list[str], carrying: str | None) -> None:
        return None

    state = WebState(
        admin=admin,
        sessions=Sessions(lambda: ctx.config.web, time.monotonic),
        throttle=LoginThrottle(lambda: ctx.config.web, time.monotonic),
        tokens=ApiTokens.load(tmp_path),
        log=EventLog(tmp_path, 100),
        change_settings=change_settings,
        settings=settings,
        ports=lambda: list(ports or []),
        restart=restart,
    )
    ctx.web = state  # as the daemon wires it: logins reach the administrator through it
    # The listener's wiring (services/ipp/server.py) without the IPP routes.
    app = web.Application(middlewares=web_middlewares(state))
    app[SERVICE] = SimpleNamespace(name="http", ctx=ctx)
    add_web(app, app[SERVICE], state)
    return app


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(_app(tmp_path))) as test_client:
        yield test_client


@pytest.fixture
async def tls_client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The same pages over TLS, as the HTTPS listener serves them (with the device's own
    self-signed certificate, which the client does not check)."""
    cert, key = ensure_certificate(tmp_path / "tls", "localhost", "mfpd tests")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # A state dir of its own: a test may run both clients, each device with its own audit log.
    state = tmp_path / "over-tls"
    state.mkdir()
    server = TestServer(_app(state))
    await server.start_server(ssl=context)  # TestClient then finds it started
    async with TestClient(server, connector=aiohttp.TCPConnector(ssl=False)) as test_client:
        yield test_client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field"
    return match.group(1)


async def _login(client: TestClient[web.Request, web.Application]) -> None:
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={"csrf": _csrf(await page.text()), "username": "admin", "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()


def _check_page(html: str, csp: str) -> None:
    """What the Content-Security-Policy allows: no inline style, one script with its nonce."""
    assert not re.search(r"<[^>]+\sstyle=", html), "an inline style attribute"
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
    inline = re.findall(r"<script(?![^>]*\ssrc=)([^>]*)>", html)
    assert len(inline) <= 1
    for attributes in inline:
        nonce = re.search(r'nonce="([^"]+)"', attributes)
        assert nonce and f"'nonce-{nonce.group(1)}'" in csp


async def test_every_page_keeps_to_the_content_security_policy(
    client: TestClient[web.Request, web.Application],
) -> None:
    await _login(client)
    for path in PAGES[:-1] + ADMIN_PAGES:
        response = await client.get(path)
        assert response.status == 200, path
        _check_page(await response.text(), response.headers["Content-Security-Policy"])


async def test_the_status_page_is_recognized_as_a_workcentre(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert "XEROX WORKCENTRE 7755" in html
    assert 'SuppliesType != "InkStick"' in html
    assert "<title>XRX-WC7755 \N{EN DASH} Status \N{EN DASH} Xerox WorkCentre 7755</title>" in html
    assert "factory default" not in html
    # Reading the status makes no session: no cookie for a visitor with nothing to post.
    assert "Set-Cookie" not in response.headers


async def test_administrator_pages_send_visitors_to_the_login(
    client: TestClient[web.Request, web.Application],
) -> None:
    for path in ADMIN_PAGES:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"].startswith("/login?next=")


async def test_login_makes_a_new_session(
    client: TestClient[web.Request, web.Application],
) -> None:
    page = await client.get("/login")
    visitor = page.cookies["session"].value
    wrong = await client.post(
        "/login", data={"csrf": _csrf(await page.text()), "username": "admin", "password": "x"}
    )
    assert wrong.status == 401
    assert "wrong" in await wrong.text()
    right = await client.post(
        "/login",
        data={"csrf": _csrf(await page.text()), "username": "admin", "password": PASSWORD,
              "next": "//evil.example/"},
        allow_redirects=False,
    )  # fmt: skip
    assert right.status == 303 and right.headers["Location"] == "/"
    assert right.cookies["session"].value not in ("", visitor)


async def test_the_centreware_login_form(
    client: TestClient[web.Request, web.Application],
) -> None:
    form = {"webUsername": "admin", "NextPage": "/jobs", "_fun_function": "HTTP_Authenticate_fn"}
    wrong = await client.post(
        "/userpost/xerox.set", data={**form, "webPassword": "1111"}, allow_redirects=False
    )
    assert wrong.status == 302 and wrong.headers["Location"] == "/login.php?invalid=t"
    assert "/login.php?invalid=t" in await wrong.text()
    forged = await client.post(
        "/userpost/xerox.set", data={**form, "webPassword": PASSWORD},
        headers={"Origin": "http://evil.example"}, allow_redirects=False,
    )  # fmt: skip
    assert forged.status == 403
    right = await client.post(
        "/userpost/xerox.set", data={**form, "webPassword": PASSWORD, "NextPage": "http://x/"},
        allow_redirects=False,
    )  # fmt: skip
    assert right.status == 302 and right.headers["Location"] == "/properties"
    assert right.cookies["session"].value
    login_php = await client.get("/login.php?invalid=t", allow_redirects=False)
    assert login_php.headers["Location"] == "/login?invalid=t"


async def test_a_refused_setting_is_shown_beside_its_form(
    client: TestClient[web.Request, web.Application],
) -> None:
    await _login(client)
    page = await client.get("/properties")
    csrf = _csrf(await page.text())
    refused = await client.post(
        "/properties", data={"csrf": csrf, "form": "identity", "geo_location": "nowhere"}
    )
    assert refused.status == 422
    html = await refused.text()
    assert 'id="error-identity"' in html and "geo_location" in html
    assert 'value="nowhere"' in html
    saved = await client.post(
        "/properties", data={"csrf": csrf, "form": "identity", "location": "Room 7"},
        allow_redirects=False,
    )  # fmt: skip
    assert saved.status == 303
    assert client.app is not None
    assert client.app[SERVICE].ctx.device.identity.location == "Room 7"
    port = await client.post(
        "/properties/services",
        data={"csrf": csrf, "form": "services", "lpd.enabled": "on", "lpd.port": "x"},
    )
    assert port.status == 422 and "services.lpd.port" in await port.text()


async def test_the_print_page_needs_a_file(
    client: TestClient[web.Request, web.Application],
) -> None:
    page = await client.get("/print")
    form = FormData()
    form.add_field("csrf", _csrf(await page.text()))
    form.add_field("copies", "1")
    form.add_field("file", b"", filename="", content_type="application/octet-stream")
    response = await client.post("/print", data=form)
    assert response.status == 400
    assert "Choose a file" in await response.text()


async def test_static_files(client: TestClient[web.Request, web.Application]) -> None:
    css = await client.get("/static/mfpd.css")
    assert css.status == 200 and css.content_type == "text/css"
    again = await client.get("/static/mfpd.css", headers={"If-None-Match": css.headers["ETag"]})
    assert again.status == 304
    js = await client.get("/static/live.js")
    assert js.content_type == "text/javascript"
    for path in ("/static/..%2Fpages.py", "/static/.hidden", "/static/nothing.css"):
        assert (await client.get(path)).status == 404


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/jobs", "/jobs"), ("/jobs?x=1", "/jobs?x=1"), ("//evil.example", "/"),
        ("/\\evil.example", "/"), ("https://evil.example/", "/"), ("jobs", "/"), ("", "/"),
        ("/a\nb", "/"),
    ],
)  # fmt: skip
def test_safe_next(value: str, expected: str) -> None:
    assert safe_next(value) == expected


def test_names_people_read() -> None:
    assert media_text("iso_a4_210x297mm") == "A4 (210 \N{MULTIPLICATION SIGN} 297 mm)"
    assert media_text("na_letter_8.5x11in") == "Letter (8.5 \N{MULTIPLICATION SIGN} 11 in)"
    assert reason_text("media-jam-error") == "Paper jam"
    assert reason_text("some-new-thing-warning") == "Some new thing"
    assert badge({"state": "idle", "state_reasons": ["none"]}) == ("idle", "Idle")
    assert badge({"state": "idle", "state_reasons": ["toner-low-warning"]})[0] == "warning"
    assert badge({"state": "processing", "state_reasons": ["media-jam-error"]})[0] == "stopped"


async def test_an_api_token_is_shown_once_and_can_be_revoked(
    client: TestClient[web.Request, web.Application],
) -> None:
    await _login(client)
    page = await client.get("/properties/tokens")
    csrf = _csrf(await page.text())
    created = await client.post(
        "/properties/tokens", data={"csrf": csrf, "form": "create", "name": "monitoring"}
    )
    html = await created.text()
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', html)
    assert secret and secret.group(1).startswith("mfpd_")
    again = await (await client.get("/properties/tokens")).text()
    assert secret.group(1) not in again and "monitoring" in again
    assert client.app is not None
    state: WebState = client.app[WEB]
    (token,) = state.tokens.list()
    revoked = await client.post(
        "/properties/tokens", data={"csrf": csrf, "form": "revoke", "id": token.id}
    )
    assert revoked.status == 200 and f"Token {token.id} is revoked" in await revoked.text()
    assert state.tokens.list() == []


async def test_a_password_change_keeps_this_session_and_ends_the_others(
    client: TestClient[web.Request, web.Application],
) -> None:
    await _login(client)
    assert client.app is not None
    state: WebState = client.app[WEB]
    other = state.sessions.create("admin")
    page = await client.get("/properties/security")
    csrf = _csrf(await page.text())
    fields = {"csrf": csrf, "form": "password", "new_password": "a new secret"}
    wrong = await client.post(
        "/properties/security",
        data={**fields, "current_password": "nope", "confirm_password": "a new secret"},
    )
    assert wrong.status == 422 and "current password is wrong" in await wrong.text()
    changed = await client.post(
        "/properties/security",
        data={**fields, "current_password": PASSWORD, "confirm_password": "a new secret"},
    )
    assert changed.status == 200 and "password is changed" in await changed.text()
    assert state.sessions.get(other.id) is None
    assert (await client.get("/properties/security", allow_redirects=False)).status == 200
    assert await asyncio.to_thread(state.admin.verify, "admin", "a new secret")


async def test_snmp_users_are_changed_over_https_only(
    client: TestClient[web.Request, web.Application],
) -> None:
    await _login(client)
    csrf = _csrf(await (await client.get("/properties/snmp")).text())
    refused = await client.post(
        "/properties/snmp",
        data={"csrf": csrf, "form": "users", "user0.name": "monitor", "user0.access": "read",
              "user0.auth_protocol": "sha256", "user0.auth_key": "stored-auth-key",
              "user0.priv_protocol": "aes", "user0.priv_key": "stored-priv-key"},
    )  # fmt: skip
    assert refused.status == 403
    assert "services.snmp.users can be changed over HTTPS only" in await refused.text()


async def test_snmp_keys_stay_masked_even_in_a_refusal(
    tls_client: TestClient[web.Request, web.Application],
) -> None:
    client = tls_client
    await _login(client)
    csrf = _csrf(await (await client.get("/properties/snmp")).text())
    user = {"user0.name": "monitor", "user0.auth_protocol": "sha256", "user0.access": "read",
            "user0.priv_protocol": "aes"}  # fmt: skip
    added = await client.post(
        "/properties/snmp",
        data={"csrf": csrf, "form": "users", **user, "user0.auth_key": "stored-auth-key",
              "user0.priv_key": "stored-priv-key"},
    )  # fmt: skip
    assert added.status == 200
    page = await added.text()
    assert "stored-auth-key" not in page and 'value="********"' in page
    refused = await client.post(
        "/properties/snmp",
        data={"csrf": csrf, "form": "users", **user, "user0.auth_key": "********",
              "user0.priv_key": "********", "user1.name": "bad", "user1.auth_key": "short"},
    )  # fmt: skip
    assert refused.status == 422
    page = await refused.text()
    assert "users.1.auth_key" in page
    assert "stored-auth-key" not in page and "stored-priv-key" not in page


async def test_with_require_login_a_visitor_sees_only_the_login(tmp_path: Path) -> None:
    config = Config.model_validate({"web": {"require_login": True}})
    async with TestClient(TestServer(_app(tmp_path, config))) as client:
        response = await client.get("/", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/login?")
        page = await (await client.get("/login")).text()
        assert 'id="state-badge"' not in page and 'href="/jobs"' not in page
        assert 'data-live="off"' in page
        await _login(client)
        assert (await client.get("/jobs")).status == 200


OFFSET = 10000


def _table(off: tuple[str, ...] = ()) -> list[PortEntry]:
    """The live port table of a daemon run as a normal user with --port-offset 10000:
    the standard ports below 1024 moved up by 8000 first, then the offset."""
    rows = []
    for service, protocol, standard in (
        ("raw", "tcp", 9100), ("lpd", "tcp", 515), ("http", "tcp", 80), ("https", "tcp", 443),
        ("ipp", "tcp", 631), ("status", "tcp", 3003), ("snmp", "udp", 161),
    ):  # fmt: skip
        port = standard + OFFSET
        if service in off:
            rows.append(PortEntry(service, protocol, "127.0.0.1", port, standard, "disabled"))
        elif port < 1024 + OFFSET:
            rows.append(PortEntry(service, protocol, "127.0.0.1", port + 8000, standard, "moved"))
        else:
            rows.append(PortEntry(service, protocol, "127.0.0.1", port, standard, "listening"))
    return rows


async def _print_ways(tmp_path: Path, table: list[PortEntry], config: Config | None = None) -> str:
    async with TestClient(TestServer(_app(tmp_path, config, table))) as client:
        html = await (await client.get("/print", headers={"Host": "mfp.example:18080"})).text()
    match = re.search(r'<li id="print-ways">(.*?)</li>', html, re.S)
    assert match, html
    return " ".join(match.group(1).split())


async def test_the_print_page_names_the_ports_the_device_listens_on(tmp_path: Path) -> None:
    """It said ipp://HOST/ipp/print, LPD queue lp and raw TCP on port 9100 whatever the port
    table said: as a normal user or with --port-offset, none of that is where the device is."""
    ways = await _print_ways(tmp_path, _table())
    assert ways == (
        "<strong>Other ways to print.</strong> "
        "IPP at <code>ipp://mfp.example:18631/ipp/print</code>, "
        "IPPS at <code>ipps://mfp.example:18443/ipp/print</code>, "
        "LPD queue <code>lp</code> on port <code>18515</code> "
        "or raw TCP (AppSocket) on port <code>19100</code>."
    )
    # The queue is the configuration's; the standard ports need no port in the URIs.
    standard = [PortEntry(r.service, r.protocol, r.address, r.standard_port, r.standard_port,
                          "listening") for r in _table()]  # fmt: skip
    config = Config.model_validate({"services": {"lpd": {"queues": ["PORT1", "lp"]}}})
    ways = await _print_ways(tmp_path, standard, config)
    assert "<code>ipp://mfp.example/ipp/print</code>" in ways
    assert "<code>ipps://mfp.example/ipp/print</code>" in ways
    assert "LPD queue <code>PORT1</code> on port <code>515</code>" in ways


async def test_the_print_page_does_not_offer_a_service_that_is_off(tmp_path: Path) -> None:
    ways = await _print_ways(tmp_path, _table(off=("raw", "https")))
    assert "raw TCP" not in ways and "IPPS" not in ways and "19100" not in ways
    assert "IPP at <code>ipp://mfp.example:18631/ipp/print</code> or LPD queue" in ways
    ways = await _print_ways(tmp_path, _table(off=("raw", "lpd", "ipp", "https")))
    assert ways.endswith("None right now: the printer's other print services are off.")
    # An LPD service without a queue takes no job.
    config = Config.model_validate({"services": {"lpd": {"queues": []}}})
    assert "LPD" not in await _print_ways(tmp_path, _table(), config)


async def test_the_services_page_names_the_live_status_port(tmp_path: Path) -> None:
    async with TestClient(TestServer(_app(tmp_path, ports=_table()))) as client:
        await _login(client)
        html = await (await client.get("/properties/services")).text()
    assert "closes the status channel (port 13003)" in html
    assert "3003)" not in html.replace("13003)", "")
    # The hints name no port (the standard one is in its field, the live one beside it).
    assert "Port 9100" not in html and "on 631" not in html
    assert "Listening on 19100/tcp" in html and "Listening on 18631/tcp" in html


async def test_pages_go_to_https_only_while_it_listens(tmp_path: Path) -> None:
    """services.http.redirect_to_https sent pages to the https row's port even when https
    was switched off (its row says "disabled"): a redirect to a closed port."""
    config = Config.model_validate({"services": {"http": {"redirect_to_https": True}}})
    async with TestClient(TestServer(_app(tmp_path, config, _table(off=("https",))))) as client:
        response = await client.get("/", allow_redirects=False)
        assert response.status == 200
    async with TestClient(TestServer(_app(tmp_path, config, _table()))) as client:
        response = await client.get(
            "/jobs?x=1", headers={"Host": "mfp.example:18080"}, allow_redirects=False
        )
        assert response.status == 301
        assert response.headers["Location"] == "https://mfp.example:18443/jobs?x=1"


async def test_ipsec_policies_recorded_over_https_only_and_said_not_enforced(
    client: TestClient[web.Request, web.Application],
    tls_client: TestClient[web.Request, web.Application],
) -> None:
    policy = {"form": "add", "name": "office", "peers": "192.168.1.0/24",
              "authentication": "pre-shared-key", "pre_shared_key": "a shared secret",
              "protocols": "ipp, lpd", "mode": "transport", "ike_lifetime_minutes": "480",
              "ipsec_lifetime_minutes": "60", "dh_group": "14"}  # fmt: skip
    await _login(client)
    csrf = _csrf(await (await client.get("/properties/ipsec")).text())
    refused = await client.post("/properties/ipsec", data={"csrf": csrf, **policy})
    assert refused.status == 403 and "over HTTPS only" in await refused.text()

    await _login(tls_client)
    page = await (await tls_client.get("/properties/ipsec")).text()
    assert "Recorded, not enforced" in page and "No policies." in page
    added = await tls_client.post("/properties/ipsec", data={"csrf": _csrf(page), **policy})
    assert added.status == 200
    page = await added.text()
    assert 'data-policy="office"' in page and "ipp, lpd" in page and "192.168.1.0/24" in page
    assert "a shared secret" not in page
    bad = await tls_client.post(
        "/properties/ipsec", data={"csrf": _csrf(page), **policy, "name": "b", "peers": "x"}
    )
    assert bad.status == 422 and "peers" in await bad.text()
    gone = await tls_client.post(
        "/properties/ipsec", data={"csrf": _csrf(page), "form": "delete", "name": "office"}
    )
    assert "No policies." in await gone.text()


async def test_the_audit_log_is_shown_over_https_only_and_the_overwrite_button_works(
    tmp_path: Path,
) -> None:
    config = Config(security=SecurityConfig(overwrite_free_bytes=0))
    async with TestClient(TestServer(_app(tmp_path, config))) as client:
        await _login(client)
        logs = await (await client.get("/logs")).text()
        assert "The audit log is shown over HTTPS only." in logs
        assert 'id="audit-table"' not in logs
        page = await client.get("/properties/security")
        html = await page.text()
        assert 'id="overwrite-now"' in html and "Immediate overwrite is <strong>off" in html
        response = await client.post(
            "/properties/security",
            data={"csrf": _csrf(html), "form": "overwrite"},
            allow_redirects=False,
        )
        assert response.status == 303, await response.text()
        html = await (await client.get("/properties/security")).text()
        assert "Image overwrite done and verified" in html
        assert "Last on-demand overwrite: on-demand" in html
        feed = client.server.app[SERVICE].ctx.audit
        events = [(e.event, e.event_id, e.user) for e in feed.log.entries()]
        assert events[:3] == [
            ("image-overwrite", 4, "admin"), ("image-overwrite", 3, "admin"),
            ("login-success", 30, "admin"),
        ]  # fmt: skip


async def test_the_tls_policy_and_the_ca_bundle_from_the_security_page(
    client: TestClient[web.Request, web.Application],
) -> None:
    await _login(client)
    assert client.app is not None
    ctx = client.app[SERVICE].ctx
    page = await client.get("/properties/security")
    html = await page.text()
    assert 'name="minimum_version"' in html and "ECDHE+AESGCM" in html
    csrf = _csrf(html)
    fields = {
        "csrf": csrf, "form": "tls", "minimum_version": "1.3", "hsts_max_age": "600",
        "expiry_warning_days": "30", "ciphers": ctx.config.tls.ciphers,
    }  # fmt: skip
    refused = await client.post("/properties/security", data={**fields, "ciphers": "NOPE"})
    assert refused.status == 422 and "tls.ciphers" in await refused.text()
    saved = await client.post("/properties/security", data=fields, allow_redirects=False)
    assert saved.status == 303, await saved.text()
    assert (ctx.config.tls.minimum_version, ctx.config.tls.hsts_max_age) == ("1.3", 600)
    junk = await client.post(
        "/properties/security", data={"csrf": csrf, "form": "ca_bundle", "bundle": "junk"}
    )
    assert junk.status == 422 and "not a list of PEM certificates" in await junk.text()
    assert not (ctx.state_dir / "tls" / "ca-bundle.pem").exists()


async def test_the_dhcp_lease_on_status_and_properties(
    client: TestClient[web.Request, web.Application],
) -> None:
    """The lease the DHCP client holds, on the Status page and Properties > General; no
    card while the client is off."""
    html = await (await client.get("/")).text()
    assert 'id="dhcp-lease"' not in html
    network = client.app[SERVICE].ctx.device.network
    now = time.time()
    lease = Lease(
        interface="veth0", address="10.77.0.56", prefix_length=24, server="10.77.0.1",
        routers=("10.77.0.1",), dns_servers=("10.77.0.53", "10.77.0.54"),
        domain="office.test", host_name="", lease_time=120, obtained=now,
        expires=now + 120, renew_at=now + 60, rebind_at=now + 105,
    )  # fmt: skip
    network.bound(lease)
    await _login(client)
    for path in ("/", "/properties"):
        response = await client.get(path)
        html = await response.text()
        _check_page(html, response.headers["Content-Security-Policy"])
        assert "DHCP client: bound" in html
        assert '<dd data-lease="address">10.77.0.56/24 on veth0</dd>' in html
        assert '<dd data-lease="dns_servers">10.77.0.53, 10.77.0.54</dd>' in html
        assert '<dd data-lease="domain">office.test</dd>' in html
    status = await (await client.get("/api/v1/status")).json()
    assert status["network"]["lease"]["routers"] == ["10.77.0.1"]
