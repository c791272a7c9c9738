"""The web UI in a real browser (Debian's Chromium, driven by Playwright): logging in, reading
the status, printing from the Print page, changing settings and seeing IPP, SNMP and LPD obey
them, operator actions with live updates, secure print, and what anonymous visitors see.

Screenshots of every page go to test-artifacts/web/ for people to look at.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, FAST_CONFIG, Mfpd, need, require_all
from tests.documents import make_pdf, pdf_from_objects
from tests.integration.test_ip_filter import connect_from

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = ARTIFACTS / "web"
WAIT_MS = 15_000  # every browser wait is bounded by this
PASSWORD_LINE = re.compile(r"web administrator: (\S+), password: (\S+) \(shown once")

# Without the browser the module is skipped; under MFPD_TESTS_REQUIRE_ALL=1 each test fails in
# the browser fixture's need() instead, naming it, and the rest of the run goes on.
if not Path(CHROMIUM).exists() and not require_all():
    pytest.skip(f"not installed: {CHROMIUM}", allow_module_level=True)

from playwright.sync_api import (  # noqa: E402 - only where the browser exists
    Browser,
    BrowserContext,
    Page,
    expect,
    sync_playwright,
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    need(CHROMIUM)
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mfpd]:
    """One daemon for the module: the tests put back what they change."""
    mfpd = Mfpd(tmp_path_factory.mktemp("web") / "state", FAST_CONFIG).start()
    yield mfpd
    mfpd.stop()


@pytest.fixture(scope="module")
def admin(daemon: Mfpd) -> tuple[str, str]:
    """The administrator's name and the password printed once at first start."""
    match = PASSWORD_LINE.search(daemon.log.read_text())
    assert match, daemon.log.read_text()[-2000:]
    return match.group(1), match.group(2)


class Session:
    """A browser context (its own cookies) that fails the test on any CSP violation or
    script error."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.base = base
        self.context: BrowserContext = browser.new_context(
            viewport={"width": 1280, "height": 900}, base_url=base
        )
        self.context.set_default_timeout(WAIT_MS)
        self.problems: list[str] = []
        self.context.on("page", self._watch)
        self.page = self.context.new_page()

    def _watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.problems.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )

    def new_page(self) -> Page:
        return self.context.new_page()

    def login(self, user: str, password: str) -> None:
        page = self.page
        page.goto("/login?next=/")
        page.fill("#f-username", user)
        page.fill("#f-password", password)
        page.click("button[type=submit]:has-text('Log in')")
        page.wait_for_url(self.base + "/")

    def close(self) -> None:
        self.context.close()
        assert not self.problems, self.problems


@pytest.fixture
def session(browser: Browser, daemon: Mfpd) -> Iterator[Session]:
    s = Session(browser, f"http://127.0.0.1:{daemon.port('http')}")
    yield s
    s.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def live(page: Page) -> None:
    """Wait for the page's event stream to be open."""
    expect(page.locator("#live")).to_have_attribute("data-state", "on")


def mark(page: Page) -> None:
    """A note in the page's memory: still there later means the page was never reloaded."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"


def until(condition: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.1)


def report_pdf(path: Path) -> Path:
    """A two-page A4 PDF with a heading, text and a bar chart (make_pdf's pages are blank,
    which makes a dull preview), with a correct xref table."""
    bars = "".join(
        f"{r} {g} {b} rg {72 + i * 90} 430 60 {h} re f\n"
        for i, (r, g, b, h) in enumerate(
            [(0.15, 0.39, 0.92, 120), (0.02, 0.71, 0.83, 180), (0.86, 0.15, 0.47, 150),
             (0.92, 0.7, 0.03, 220), (0.13, 0.55, 0.13, 260)]
        )
    )  # fmt: skip
    lines = "".join(
        f"BT /F1 11 Tf 72 {380 - 18 * i} Td ({text}) Tj ET\n"
        for i, text in enumerate(
            ["Revenue grew in every region this quarter.", "Printing costs fell by 12 percent.",
             "Secure print is now used by every department.", "Next review: first week of January."]
        )
    )  # fmt: skip
    first = (
        "BT /F1 30 Tf 72 760 Td (Quarterly report) Tj ET\n"
        "BT /F1 12 Tf 72 736 Td (Printed from the web page of the WorkCentre 7755) Tj ET\n"
        "0.8 g 72 720 451 1 re f\n" + bars + "0.2 g\n" + lines
    ).encode()
    second = b"BT /F1 18 Tf 72 760 Td (Appendix) Tj ET\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R"
        b" /Resources << /Font << /F1 7 0 R >> >> >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 6 0 R"
        b" /Resources << /Font << /F1 7 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(first) + 1, first),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(second) + 1, second),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    path.write_bytes(pdf_from_objects(objects))
    return path


def job_of(daemon: Mfpd, job_id: int) -> dict[str, Any]:
    return next(j for j in daemon.jobs() if j["id"] == job_id)


def test_log_in_and_read_the_status(session: Session, daemon: Mfpd, admin: tuple[str, str]) -> None:
    page = session.page
    page.goto("/login")
    expect(page).to_have_title("XRX-WC7755 \N{EN DASH} Log in \N{EN DASH} Xerox WorkCentre 7755")
    page.fill("#f-username", admin[0])
    page.fill("#f-password", "not the password")
    page.click("button[type=submit]:has-text('Log in')")
    expect(page.locator("#login-error")).to_contain_text("wrong")
    shot(page, "login")

    session.login(*admin)
    expect(page).to_have_title("XRX-WC7755 \N{EN DASH} Status \N{EN DASH} Xerox WorkCentre 7755")
    # Both attempts are in the security audit log, with who and from where.
    entries = json.loads(daemon.cli("audit-log", "--json").stdout)["entries"]
    failed = [e for e in entries if e["event"] == "login-failure" and e["interface"] == "http"]
    assert failed and (failed[-1]["user"], failed[-1]["address"]) == (admin[0], "127.0.0.1")
    assert any(e["event"] == "login-success" and e["user"] == admin[0] for e in entries)
    live(page)
    expect(page.locator("#state-badge")).to_have_class(re.compile(r"\bbadge-idle\b"))
    expect(page.locator("#state-badge")).to_contain_text("Idle")
    expect(page.locator(".lcd [data-bind=display]")).to_have_text("READY")
    expect(page.locator(".account")).to_contain_text(admin[0])
    # Every supply and tray the device reports, with its level.
    status = daemon.status()
    for supply in status["supplies"]:
        row = page.locator(f"[data-supply='{supply['key']}']")
        expect(row).to_contain_text(supply["name"])
        expect(row.locator("meter")).to_have_attribute("value", str(supply["percent"]))
    expect(page.locator("[data-supply]")).to_have_count(len(status["supplies"]))
    expect(page.locator("[data-tray]")).to_have_count(len(status["trays"]))
    expect(page.locator("[data-counter=impressions]")).to_have_text(
        f"{status['counters']['impressions']:,}"
    )
    shot(page, "status")
    # nmap's http-default-accounts recognizes a WorkCentre by these two strings.
    body = page.request.get("/").text()
    assert "XEROX WORKCENTRE" in body and 'SuppliesType != "InkStick"' in body


def test_print_a_pdf_and_watch_it_complete(
    session: Session, daemon: Mfpd, admin: tuple[str, str], tmp_path: Path
) -> None:
    need("gs")  # the PDF's first-page preview
    session.login(*admin)
    jobs_page = session.new_page()
    jobs_page.goto("/jobs")
    live(jobs_page)
    mark(jobs_page)

    page = session.page
    page.goto("/print")
    page.set_input_files("#f-file", str(report_pdf(tmp_path / "quarterly.pdf")))
    page.fill("#f-name", "Quarterly report")
    page.fill("#f-copies", "2")
    shot(page, "print")
    page.click("#print-submit")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".notice.ok")).to_contain_text(f"Job {job_id}")
    expect(page.locator("h1")).to_contain_text("Quarterly report")

    # The Jobs page, open all along, shows the job arrive and complete by itself.
    row = jobs_page.locator(f"#completed-jobs tr[data-job-id='{job_id}']")
    expect(row.locator("[data-f=state]")).to_have_text("Completed")
    expect(row).to_contain_text("Quarterly report")
    expect(row.locator("[data-f=source]")).to_have_text("Web")
    expect(row.locator("[data-f=pages]")).to_have_text("2")
    assert_not_reloaded(jobs_page)
    jobs_page.goto("/jobs")  # the whole page, rendered again, for the screenshot
    shot(jobs_page, "jobs")

    job = job_of(daemon, job_id)
    assert job["state"] == "completed" and job["name"] == "Quarterly report"
    assert job["copies"] == 2 and job["source"] == "web"

    page.reload()
    expect(page.locator("[data-f=state]").first).to_have_text("Completed")
    page.wait_for_function(
        "() => { const i = document.querySelector('#preview');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=WAIT_MS,
    )
    expect(page.locator("#preview-placeholder")).to_be_hidden()
    shot(page, "job")


def _ipp_location(daemon: Mfpd, tmp_path: Path, expected: str) -> None:
    test = tmp_path / "location.test"
    test.write_text(
        '{\n NAME "printer-location"\n OPERATION Get-Printer-Attributes\n'
        " GROUP operation-attributes-tag\n ATTR charset attributes-charset utf-8\n"
        " ATTR language attributes-natural-language en\n ATTR uri printer-uri $uri\n"
        " ATTR keyword requested-attributes printer-location\n STATUS successful-ok\n"
        f' EXPECT printer-location WITH-VALUE "{expected}"\n}}\n'
    )
    uri = f"ipp://127.0.0.1:{daemon.port('ipp')}/ipp/print"
    result = subprocess.run(
        ["ipptool", "-t", uri, str(test)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def _snmp_location(daemon: Mfpd) -> str:
    result = subprocess.run(
        ["snmpget", "-v2c", "-c", "public", "-m", "", "-On", "-t", "2", "-r", "1",
         f"127.0.0.1:{daemon.port('snmp')}", "1.3.6.1.2.1.1.6.0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_change_the_location_and_see_it_in_ipp_and_snmp(
    session: Session, daemon: Mfpd, admin: tuple[str, str], tmp_path: Path
) -> None:
    need("ipptool", "snmpget")
    session.login(*admin)
    page = session.page
    page.goto("/properties")
    page.fill("#f-location", "Browser Lab 101")
    page.click("button:has-text('Save identity')")
    expect(page.locator(".notice.ok")).to_contain_text("Saved")
    expect(page.locator("#f-location")).to_have_value("Browser Lab 101")
    shot(page, "properties")

    _ipp_location(daemon, tmp_path, "Browser Lab 101")
    assert 'STRING: "Browser Lab 101"' in _snmp_location(daemon)

    # A refused value is shown beside its form, with what was typed kept.
    page.fill("#f-geo_location", "somewhere")
    page.click("button:has-text('Save identity')")
    expect(page.locator("#error-identity")).to_contain_text("geo_location")
    expect(page.locator("#f-geo_location")).to_have_value("somewhere")

    page.goto("/logs")
    expect(page.locator("#log-table")).to_contain_text("logged in")
    shot(page, "logs")
    page.select_option("#f-category", "config")
    page.click("button:has-text('Filter')")
    page.wait_for_url(re.compile(r"category=config"))
    expect(page.locator("#log-table")).to_contain_text("identity changed: location")
    expect(page.locator("#log-table")).not_to_contain_text("logged in")


def _lpd_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except ConnectionRefusedError:
        return False


def test_switch_lpd_off_and_on(session: Session, daemon: Mfpd, admin: tuple[str, str]) -> None:
    port = daemon.port("lpd")
    assert _lpd_open(port)
    session.login(*admin)
    page = session.page
    page.goto("/properties/services")
    # The status channel's live port (3003 + the daemon's offset), not its standard one.
    expect(page.locator("#http-rule")).to_contain_text(
        "Turning HTTP off also turns IPP off and closes the status channel "
        f"(port {daemon.port('status')})"
    )
    lpd = page.locator("#svc-lpd")
    expect(lpd).to_be_checked()
    lpd.uncheck()
    page.click("button:has-text('Save services')")
    expect(page.locator(".notice.ok")).to_contain_text("Saved")
    expect(page.locator("#svc-lpd")).not_to_be_checked()
    expect(page.locator("[data-service-state=lpd]")).not_to_contain_text("Listening")
    until(lambda: not _lpd_open(port), what=f"port {port} to close")
    shot(page, "properties-services")

    page.locator("#svc-lpd").check()
    page.click("button:has-text('Save services')")
    expect(page.locator(".notice.ok")).to_contain_text("Saved")
    expect(page.locator("[data-service-state=lpd]")).to_contain_text(f"Listening on {port}")
    until(lambda: _lpd_open(port), what=f"port {port} to open again")


def test_a_jam_shows_live_and_is_cleared_from_the_page(
    session: Session, daemon: Mfpd, admin: tuple[str, str]
) -> None:
    session.login(*admin)
    page = session.page
    live(page)
    mark(page)
    badge = page.locator("#state-badge")
    expect(badge).to_have_class(re.compile(r"\bbadge-idle\b"))

    daemon.cli("fault", "jam")
    expect(badge).to_have_class(re.compile(r"\bbadge-stopped\b"))
    expect(badge).to_contain_text("Stopped")
    expect(page.locator("#alerts-body")).to_contain_text("jam", ignore_case=True)
    expect(page.locator("#reasons")).to_contain_text("Paper jam")
    expect(page.locator(".lcd [data-bind=display]")).not_to_have_text("READY")
    shot(page, "status-jam")

    page.click("#clear-faults")
    expect(page.locator(".toast")).to_contain_text("cleared")
    expect(badge).to_have_class(re.compile(r"\bbadge-idle\b"))
    expect(page.locator("#alerts-empty")).to_be_visible()
    expect(page.locator(".lcd [data-bind=display]")).to_have_text("READY")
    assert_not_reloaded(page)
    assert daemon.status()["state"] == "idle"


def test_secure_print_is_released_only_with_its_passcode(
    session: Session, daemon: Mfpd, tmp_path: Path
) -> None:
    page = session.page  # not logged in: whoever has the passcode may release the job
    page.goto("/print")
    page.set_input_files("#f-file", str(make_pdf(tmp_path / "payslip.pdf", pages=1)))
    page.fill("#f-name", "Payslip")
    page.fill("#f-passcode", "4711")
    page.click("#print-submit")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    job_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator(".notice.ok")).to_contain_text("passcode")
    expect(page.locator("[data-f=state]").first).to_have_text("Held")
    expect(page.locator("dd[data-f=reasons]")).to_contain_text("Waiting for passcode")
    # Nobody sees a secure job's document before its passcode is given.
    expect(page.locator("#preview-locked")).to_be_visible()
    assert page.locator("#preview").get_attribute("src") is None

    page.goto("/jobs")
    row = page.locator(f"#active-jobs tr[data-job-id='{job_id}']")
    expect(row.locator("[data-f=secure]")).to_be_visible()
    expect(row.locator("[data-f=cancel-form]")).to_be_hidden()  # not the administrator's
    row.locator("input[name=passcode]").fill("1234")
    row.locator("button:has-text('Release')").click()
    expect(page.locator("#job-error")).to_contain_text("wrong passcode")
    assert job_of(daemon, job_id)["state"] == "held"

    row = page.locator(f"#active-jobs tr[data-job-id='{job_id}']")
    row.locator("input[name=passcode]").fill("4711")
    row.locator("button:has-text('Release')").click()
    page.wait_for_url(re.compile(r"/jobs$"))
    expect(page.locator(".notice.ok")).to_contain_text(f"Job {job_id} released")
    expect(page.locator(f"#completed-jobs tr[data-job-id='{job_id}'] [data-f=state]")).to_have_text(
        "Completed"
    )
    until(lambda: job_of(daemon, job_id)["state"] == "completed", what="the job to print")


def test_an_anonymous_visitor_reads_but_does_not_administer(session: Session, daemon: Mfpd) -> None:
    page = session.page
    response = page.goto("/")
    assert response is not None and response.status == 200
    expect(page.locator("#state-badge")).to_be_visible()
    expect(page.locator("[data-supply]").first).to_be_visible()
    expect(page.locator("#clear-faults")).to_have_count(0)
    expect(page.locator(".account")).to_contain_text("Log in")
    shot(page, "status-anonymous")

    response = page.goto("/jobs")
    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text("Jobs")
    expect(page.locator("[data-f=cancel-form]:visible")).to_have_count(0)

    for path in ("/properties", "/properties/services", "/logs"):
        page.goto(path)
        page.wait_for_url(re.compile(r"/login\?next="))
        assert urllib.parse.unquote(page.url.split("next=", 1)[1]) == path
    expect(page.locator("#f-username")).to_be_visible()

    # A forged form without the session's CSRF token is refused.
    refused = page.request.post("/properties/operator", form={"action": "pause"}, max_redirects=0)
    assert refused.status in (401, 403)
    assert daemon.status()["state"] != "stopped"


def _post(daemon: Mfpd, path: str, fields: dict[str, str], **headers: str) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port("http"), timeout=30)
    try:
        conn.request(
            "POST", path, urllib.parse.urlencode(fields),
            {"Content-Type": "application/x-www-form-urlencoded", **headers},
        )  # fmt: skip
        response = conn.getresponse()
        return response.status, response.getheader("Location") or "", response.read().decode()
    finally:
        conn.close()


def test_the_centreware_login_form(daemon: Mfpd, admin: tuple[str, str]) -> None:
    """POST /userpost/xerox.set answers as the WorkCentre does, which is what scanners
    (nmap's http-default-accounts) look for."""
    form = {
        "_fun_function": "HTTP_Authenticate_fn",
        "NextPage": "/properties/authentication/luidLogin.php",
        "webUsername": admin[0],
        "frmaltDomain": "default",
    }
    status, location, body = _post(daemon, "/userpost/xerox.set", {**form, "webPassword": "1111"})
    assert (status, location) == (302, "/login.php?invalid=t")
    assert "/login.php?invalid=t" in body
    status, location, body = _post(
        daemon, "/userpost/xerox.set", {**form, "webPassword": admin[1]},
        Origin="http://evil.example",
    )  # fmt: skip
    assert status == 403
    status, location, body = _post(daemon, "/userpost/xerox.set", {**form, "webPassword": admin[1]})
    assert (status, location) == (302, "/properties/authentication/luidLogin.php")
    assert "invalid=t" not in body


def test_ip_filter_rules_added_reordered_and_guarded(
    session: Session, daemon: Mfpd, admin: tuple[str, str]
) -> None:
    raw = daemon.port("raw")
    session.login(*admin)
    page = session.page
    page.goto("/properties/ip-filter")

    def add(source: str, destination: str, action: str) -> None:
        row = page.locator("tr.new-rule")
        row.locator("select[name^=protocol]").select_option("tcp")
        row.locator("input[name^='source.']").fill(source)
        row.locator("input[name^=destination]").fill(destination)
        row.locator("select[name^=action]").select_option(action)
        page.click("button:has-text('Save rules')")
        expect(page.locator(".notice.ok")).to_contain_text("Saved")

    add("127.0.0.3/32", "raw", "drop")
    add("127.0.0.3/32", "raw", "accept")
    assert connect_from("127.0.0.3", raw) == "closed"  # rule 1, drop, wins
    page.reload()
    expect(page.locator("tr[data-rule='0'] td").nth(6)).to_contain_text("1")  # one hit
    page.click("button[aria-label='Move rule 2 up']")
    expect(page.locator(".notice.ok")).to_contain_text("Saved")
    expect(page.locator("tr[data-rule='0'] select[name^=action]")).to_have_value("accept")
    assert connect_from("127.0.0.3", raw) == "open"  # now the accept comes first
    shot(page, "properties-ip-filter")
    # This browser (127.0.0.1) cannot shut itself out of HTTPS by mistake.
    row = page.locator("tr.new-rule")
    row.locator("input[name^='source.']").fill("127.0.0.0/8")
    row.locator("input[name^=destination]").fill("https")
    row.locator("select[name^=action]").select_option("drop")
    page.click("button:has-text('Save rules')")
    expect(page.locator("#error-ip-filter")).to_contain_text("lock your address 127.0.0.1")
    page.goto("/properties/ip-filter")
    for _ in range(2):
        page.click("button[aria-label='Delete rule 1']")
        expect(page.locator(".notice.ok")).to_contain_text("Saved")
    expect(page.locator("tr[data-rule]")).to_have_count(1)  # the New row alone
