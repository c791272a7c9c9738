"""The address-book picker in Chromium (Playwright): a user logged in from the directory
types in a recipient field (templates/_address_book.html, static/address-book.js) and is
offered the directory's matches; with the directory down the field says so. Any script
error or CSP violation fails the test (test_web_browser.Session)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import jinja2
import pytest

from mfpd.services.web.pages_render import TEMPLATES, static_url
from tests.conftest import Mfpd
from tests.integration.test_directory_logins import config
from tests.integration.test_web_browser import Session, browser, shot  # noqa: F401 - fixture
from tests.ldap_server import Slapd, slapd

pytestmark = pytest.mark.integration

from playwright.sync_api import Browser, expect  # noqa: E402 - after test_web_browser's skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Slapd]:
    with slapd(tmp_path / "slapd") as running:
        yield running


def test_a_recipient_field_offers_the_directory_s_people(
    browser: Browser,  # noqa: F811 - the fixture imported above
    mfpd_factory: Callable[..., Mfpd],
    server: Slapd,
) -> None:
    daemon = mfpd_factory(config(server))
    session = Session(browser, f"http://127.0.0.1:{daemon.port('http')}")
    try:
        session.login("ursula", "ursula-pw")
        page = session.page
        page.goto("/address-book")
        page.locator("#f-q").press_sequentially("ali")
        expect(page.locator("#f-q-book option")).to_have_count(1)
        expect(page.locator("#f-q-book option")).to_have_attribute("value", "alice@example.com")
        expect(page.locator("#f-q-book-status")).to_have_text("1 in the address book")
        page.locator("#f-q").fill("")
        page.locator("#f-q").press_sequentially("*)(uid=*")
        expect(page.locator("#f-q-book-status")).to_have_text("Nobody in the address book matches.")
        page.locator("#f-q").fill("example")
        page.locator("#f-q").press("Enter")
        expect(page.locator("#people tbody tr")).to_have_count(7)  # all but zed, who has no mail
        shot(page, "address-book")
        server.proc.terminate()
        server.proc.wait(timeout=10)
        page.locator("#f-q").fill("")
        page.locator("#f-q").press_sequentially("osc")
        expect(page.locator("#f-q-book-status")).to_contain_text("the directory does not answer")
    finally:
        session.close()


# A scan template's form as the Scan page has it (a destinations textarea, one per line), with
# the picker feeding it: the markup comes from the real macro, the script from the daemon.
TEMPLATE_FORM = """<!doctype html><html><head>{{ ab.script() }}</head><body>
<form method="post" action="/nowhere" id="template-form">
<textarea id="t-destinations" name="destinations">ftp://scans@files.example.com/in</textarea>
{{ ab.recipient_field("pick", "Add an email recipient", append_to="t-destinations",
                      prefix="mailto:") }}
</form></body></html>"""


def _template_form() -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.globals["static"] = static_url
    source = '{% import "_address_book.html" as ab with context %}' + TEMPLATE_FORM
    return env.from_string(source).render()


def test_a_scan_template_picks_an_email_recipient(
    browser: Browser,  # noqa: F811 - the fixture imported above
    mfpd_factory: Callable[..., Mfpd],
    server: Slapd,
) -> None:
    daemon = mfpd_factory(config(server))
    base = f"http://127.0.0.1:{daemon.port('http')}"
    session = Session(browser, base)
    try:
        session.login("oscar", "oscar-pw")
        page = session.page
        page.route(
            f"{base}/template-form",
            lambda route: route.fulfill(
                status=200, content_type="text/html", body=_template_form()
            ),
        )
        page.goto("/template-form")
        assert page.locator("#f-pick").get_attribute("name") is None  # never posted
        page.locator("#f-pick").press_sequentially("alic")
        option = page.locator("#f-pick-book option")
        expect(option).to_have_attribute("value", "alice@example.com")
        page.locator("#f-pick").fill(option.get_attribute("value") or "")
        page.click("button:has-text('Add')")
        destinations = page.locator("#t-destinations")
        expect(destinations).to_have_value(
            "ftp://scans@files.example.com/in\nmailto:alice@example.com"
        )
        page.locator("#f-pick").fill("alice@example.com")
        page.locator("#f-pick").press("Enter")  # adds (once), and does not post the form
        expect(destinations).to_have_value(
            "ftp://scans@files.example.com/in\nmailto:alice@example.com"
        )
        assert page.url == f"{base}/template-form"
    finally:
        session.close()
