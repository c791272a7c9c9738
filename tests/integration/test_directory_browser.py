"""The address-book picker in Chromium (Playwright): a user logged in from the directory
types in a recipient field (templates/_address_book.html, static/address-book.js) and is
offered the directory's matches; with the directory down the field says so. Any script
error or CSP violation fails the test (test_web_browser.Session)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
        expect(page.locator("#people tbody tr")).to_have_count(6)  # all but zed, who has no mail
        shot(page, "address-book")
        server.proc.terminate()
        server.proc.wait(timeout=10)
        page.locator("#f-q").fill("")
        page.locator("#f-q").press_sequentially("osc")
        expect(page.locator("#f-q-book-status")).to_contain_text("the directory does not answer")
    finally:
        session.close()
