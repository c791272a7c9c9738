"""The web server's security on the real daemon: CSRF, login required for changes, session
fixation, cookie flags, slowed failed logins, the factory-default credentials as nmap's
http-default-accounts sees them, oversized and malformed uploads, and banners."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable

import pytest
import requests

from tests.conftest import FAST_CONFIG, Mfpd, need

pytestmark = pytest.mark.integration

TIMEOUT = 15


def admin_password(mfpd: Mfpd) -> str:
    match = re.search(r"web administrator: admin, password: (\S+)", mfpd.log.read_text())
    assert match, "the first start prints the administrator password"
    return match.group(1)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "every form carries its CSRF token"
    return match.group(1)


def base(mfpd: Mfpd, tls: bool = False) -> str:
    return f"https://127.0.0.1:{mfpd.port('https')}" if tls else (
        f"http://127.0.0.1:{mfpd.port('http')}"
    )  # fmt: skip


def login(mfpd: Mfpd, browser: requests.Session, tls: bool = False) -> requests.Response:
    url = base(mfpd, tls)
    page = browser.get(f"{url}/login", timeout=TIMEOUT, verify=False)
    return browser.post(
        f"{url}/login",
        data={"csrf": csrf_of(page.text), "username": "admin", "password": admin_password(mfpd)},
        allow_redirects=False,
        timeout=TIMEOUT,
        verify=False,
    )


def test_a_form_without_its_csrf_token_is_refused(mfpd: Mfpd) -> None:
    browser = requests.Session()
    url = base(mfpd)
    assert login(mfpd, browser).status_code == 303
    page = browser.get(f"{url}/properties", timeout=TIMEOUT)
    assert page.status_code == 200
    token = csrf_of(page.text)
    form = {"form": "identity", "location": "Forged"}
    forged = browser.post(f"{url}/properties", data=form, timeout=TIMEOUT)
    assert forged.status_code == 403
    wrong = browser.post(f"{url}/properties", data={**form, "csrf": "x" * 43}, timeout=TIMEOUT)
    assert wrong.status_code == 403
    for forged in ("é" * 43, "\x00"):  # not ASCII, not printable: still a plain refusal
        odd = browser.post(f"{url}/properties", data={**form, "csrf": forged}, timeout=TIMEOUT)
        assert odd.status_code == 403
    assert mfpd.status()["identity"]["location"] == ""
    # The administrator's cookie alone does not carry an API change either.
    api = browser.patch(f"{url}/api/v1/config", json={"identity": {"location": "Forged"}},
                        timeout=TIMEOUT)  # fmt: skip
    assert api.status_code == 403
    assert mfpd.status()["identity"]["location"] == ""
    # With the token (as the pages' own scripts send it) both go through.
    done = browser.post(f"{url}/properties", data={**form, "csrf": token}, timeout=TIMEOUT)
    assert done.status_code == 200 and mfpd.status()["identity"]["location"] == "Forged"
    ok = browser.patch(f"{url}/api/v1/config", json={"identity": {"location": "Real"}},
                       headers={"X-CSRF-Token": token}, timeout=TIMEOUT)  # fmt: skip
    assert ok.status_code == 200 and mfpd.status()["identity"]["location"] == "Real"
    # The login form itself needs the token of the visitor's session.
    anonymous = requests.Session()
    refused = anonymous.post(
        f"{url}/login", data={"username": "admin", "password": admin_password(mfpd)},
        allow_redirects=False, timeout=TIMEOUT,
    )  # fmt: skip
    assert refused.status_code == 403
    logs = [e["message"] for e in _logs(mfpd, browser, token)]
    assert any("CSRF" in m for m in logs)


def _logs(mfpd: Mfpd, browser: requests.Session, token: str) -> list[dict[str, str]]:
    answer = browser.get(f"{base(mfpd)}/api/v1/logs", params={"limit": "100"}, timeout=TIMEOUT)
    entries: list[dict[str, str]] = answer.json()["entries"]
    return entries


def test_a_change_needs_a_login(mfpd: Mfpd) -> None:
    url = base(mfpd)
    visitor = requests.Session()
    page = visitor.get(f"{url}/properties", allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == 303 and page.headers["Location"].startswith("/login?next=")
    api = visitor.patch(f"{url}/api/v1/config", json={"services": {"lpd": {"enabled": False}}},
                        timeout=TIMEOUT)  # fmt: skip
    assert api.status_code == 401 and api.headers["WWW-Authenticate"].startswith("Bearer")
    assert visitor.post(f"{url}/api/v1/actions", json={"action": "pause"},
                        timeout=TIMEOUT).status_code == 401  # fmt: skip
    bad_token = visitor.get(f"{url}/api/v1/status", headers={"Authorization": "Bearer nope"},
                            timeout=TIMEOUT)  # fmt: skip
    assert bad_token.status_code == 401
    # Status and jobs stay readable, as on the device.
    assert visitor.get(f"{url}/", timeout=TIMEOUT).status_code == 200
    assert visitor.get(f"{url}/jobs", timeout=TIMEOUT).status_code == 200
    assert mfpd.status()["state"] == "idle"


def test_require_login_closes_status_and_jobs_too(mfpd_factory: Callable[..., Mfpd]) -> None:
    mfpd = mfpd_factory(FAST_CONFIG + "\n[web]\nrequire_login = true\n")
    url = base(mfpd)
    visitor = requests.Session()
    assert visitor.get(f"{url}/", allow_redirects=False, timeout=TIMEOUT).status_code == 303
    assert visitor.get(f"{url}/api/v1/status", timeout=TIMEOUT).status_code == 401
    assert visitor.get(f"{url}/api/v1/openapi.json", timeout=TIMEOUT).status_code == 200
    assert login(mfpd, visitor).status_code == 303
    assert visitor.get(f"{url}/api/v1/status", timeout=TIMEOUT).status_code == 200


def test_login_replaces_the_session_and_sets_safe_cookies(mfpd: Mfpd) -> None:
    browser = requests.Session()
    # A session identifier planted by someone else is not adopted.
    browser.cookies.set("session", "planted-by-attacker", domain="127.0.0.1", path="/")
    page = browser.get(f"{base(mfpd)}/login", timeout=TIMEOUT)
    before = page.cookies.get("session")
    assert before and before != "planted-by-attacker"
    answer = login(mfpd, browser)
    after = answer.cookies.get("session")
    assert answer.status_code == 303 and after and after != before
    header = answer.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert "Secure" not in header  # plain HTTP: a Secure cookie would never come back
    # The session of before the login is worth nothing now.
    stale = requests.Session()
    stale.cookies.set("session", before, domain="127.0.0.1", path="/")
    assert stale.get(f"{base(mfpd)}/properties", allow_redirects=False,
                     timeout=TIMEOUT).status_code == 303  # fmt: skip
    assert browser.get(f"{base(mfpd)}/properties", timeout=TIMEOUT).status_code == 200

    secure = requests.Session()
    answer = login(mfpd, secure, tls=True)
    assert answer.status_code == 303
    assert "Secure" in answer.headers["Set-Cookie"]
    page = secure.get(f"{base(mfpd, True)}/", timeout=TIMEOUT, verify=False)
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"


def test_failed_logins_are_slowed_down_and_logged(mfpd_factory: Callable[..., Mfpd]) -> None:
    mfpd = mfpd_factory(
        FAST_CONFIG + "\n[web]\nlogin_free_attempts = 2\nlogin_delay = 0.4\nlogin_delay_max = 1\n"
    )
    url = base(mfpd)
    browser = requests.Session()
    token = csrf_of(browser.get(f"{url}/login", timeout=TIMEOUT).text)
    took = []
    for _ in range(4):
        start = time.monotonic()
        answer = browser.post(
            f"{url}/login",
            timeout=TIMEOUT,
            allow_redirects=False,
            data={"csrf": token, "username": "admin", "password": "guess"},
        )
        took.append(time.monotonic() - start)  # fmt: skip
        assert answer.status_code == 401
    # The third and fourth wait (0.4 s, then 0.8 s) before they are answered.
    assert took[2] >= 0.4 and took[3] >= 0.8, took
    assert login(mfpd, browser).status_code == 303
    token = csrf_of(browser.get(f"{url}/properties", timeout=TIMEOUT).text)
    failures = [e for e in _logs(mfpd, browser, token) if e["category"] == "login"]
    assert sum("failed" in e["message"].lower() for e in failures) >= 4


@pytest.mark.parametrize("factory_default", [False, True])
def test_nmap_finds_the_factory_credentials_only_when_they_are_on(
    mfpd_factory: Callable[..., Mfpd], factory_default: bool
) -> None:
    need("nmap")
    config = FAST_CONFIG + f"\n[web]\ndefault_credentials = {str(factory_default).lower()}\n"
    mfpd = mfpd_factory(config)
    port = mfpd.port("http")
    result = subprocess.run(
        # "+" runs the script although the port is no well-known HTTP port (port offset).
        ["nmap", "-Pn", "-n", "-p", str(port), "--script", "+http-default-accounts",
         "--script-args", "http-default-accounts.category=printer", "127.0.0.1"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = "admin:1111" in result.stdout
    assert found is factory_default, result.stdout
    if factory_default:
        assert "Xerox WorkCentre" in result.stdout
        page = requests.get(f"{base(mfpd)}/", timeout=TIMEOUT).text
        assert "1111" in page  # the status page warns about it


def test_oversized_and_malformed_uploads_are_refused_cleanly(
    mfpd_factory: Callable[..., Mfpd],
) -> None:
    mfpd = mfpd_factory(FAST_CONFIG + "\n[web]\nmax_upload_bytes = 65536\n")
    url = f"{base(mfpd)}/api/v1/jobs"
    big = requests.post(url, data=b"x" * 300_000, timeout=TIMEOUT)
    assert big.status_code == 413 and "max_upload_bytes" in big.json()["error"]
    jobs = mfpd.jobs()
    assert jobs[-1]["state"] == "aborted" and "job-too-large" in jobs[-1]["state_reasons"]
    garbage = requests.post(
        url, data=b"--b\r\nnonsense\r\n\r\n", timeout=TIMEOUT,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )  # fmt: skip
    assert garbage.status_code == 400
    no_boundary = requests.post(url, data=b"abc", timeout=TIMEOUT,
                                headers={"Content-Type": "multipart/form-data"})  # fmt: skip
    assert no_boundary.status_code == 400
    no_file = requests.post(url, files={"name": (None, "x")}, timeout=TIMEOUT)
    assert no_file.status_code == 400
    # A body that stops half-way: the job is recorded as aborted, never printed.
    with socket.create_connection(("127.0.0.1", mfpd.port("http")), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n"
                     b"Content-Type: text/plain\r\n\r\n" + b"y" * 1000)  # fmt: skip
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while mfpd.jobs()[-1]["state"] != "aborted" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "job-data-insufficient" in mfpd.jobs()[-1]["state_reasons"]
    assert requests.get(f"{base(mfpd)}/api/v1/status", timeout=TIMEOUT).status_code == 200


def test_no_listener_names_the_library_underneath(mfpd: Mfpd) -> None:
    answers = [
        requests.get(f"{base(mfpd)}/", timeout=TIMEOUT),
        requests.get(f"{base(mfpd)}/no/such/page", timeout=TIMEOUT),
        requests.get(f"{base(mfpd, True)}/jobs", timeout=TIMEOUT, verify=False),
        requests.get(f"http://127.0.0.1:{mfpd.port('ipp')}/", timeout=TIMEOUT),
        requests.get(f"http://127.0.0.1:{mfpd.port('status')}/", timeout=TIMEOUT),
    ]
    for answer in answers:
        server = answer.headers.get("Server", "")
        assert server.startswith("Xerox"), server
        assert not re.search(r"python|aiohttp", server + answer.text[:2000], re.I), answer.url
    # A GET on the IPP port serves the same pages, as printers do.
    assert "XEROX WORKCENTRE" in answers[3].text


def test_http_can_be_sent_to_https(mfpd: Mfpd) -> None:
    secret = mfpd.cli("token", "tests").stdout.strip()
    answer = requests.patch(
        f"{base(mfpd)}/api/v1/config", json={"services": {"http": {"redirect_to_https": True}}},
        headers={"Authorization": f"Bearer {secret}"}, timeout=TIMEOUT,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    # The http listener restarts after answering; then its pages move to https.
    deadline = time.monotonic() + 10
    while True:
        page = requests.get(f"{base(mfpd)}/jobs?which=active", allow_redirects=False,
                            timeout=TIMEOUT)  # fmt: skip
        if page.status_code == 301 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    https = mfpd.port("https")
    assert page.status_code == 301
    assert page.headers["Location"] == f"https://127.0.0.1:{https}/jobs?which=active"
    # IPP stays answered on plain HTTP.
    ipp = requests.post(f"{base(mfpd)}/ipp/print", data=b"\x02\x00\x00\x0b\x00\x00\x00\x01\x03",
                        headers={"Content-Type": "application/ipp"}, timeout=TIMEOUT)  # fmt: skip
    assert ipp.status_code == 200 and ipp.headers["Content-Type"] == "application/ipp"
