"""Logins and the address book through the real daemon, against a real slapd
(tests/ldap_server.py): [auth] method = "ldap" on the login page and CentreWare's form, the
role each directory group gives, disabled accounts refused, the directory down (a clear 503;
the local administrator when the fallback is on, nobody when it is off), and
GET /api/v1/address-book and the Address book page, injection attempt included."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import FAST_CONFIG, Mfpd, requires
from tests.integration.test_web_security import admin_password, base, csrf_of
from tests.ldap_server import BASE, GROUPS, PEOPLE, SLAPD, Slapd, slapd

pytestmark = [pytest.mark.integration, requires(os.path.exists(SLAPD), "slapd not installed")]

TIMEOUT = 15


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Slapd]:
    with slapd(tmp_path / "slapd") as running:
        yield running


def config(server: Slapd, extra: str = "", auth: str = "") -> str:
    return FAST_CONFIG + (
        f'[auth]\nmethod = "ldap"\n{auth}'
        f'[ldap]\nurl = "{server.url}"\nbase = "{BASE}"\nuser_base = "{PEOPLE}"\n'
        f'group_base = "{GROUPS}"\nadmin_groups = ["printer-admins"]\n'
        f'operator_groups = ["cn=printer-operators,{GROUPS}"]\n'
        f'disabled_group = "cn=disabled,{GROUPS}"\n{extra}'
    )


def log_in(daemon: Mfpd, user: str, password: str) -> tuple[requests.Session, int]:
    browser = requests.Session()
    url = base(daemon)
    page = browser.get(f"{url}/login", timeout=TIMEOUT)
    answer = browser.post(
        f"{url}/login",
        data={"csrf": csrf_of(page.text), "username": user, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    return browser, answer.status_code


def status_of(browser: requests.Session, daemon: Mfpd, method: str, path: str, **kw: Any) -> int:
    return browser.request(method, f"{base(daemon)}{path}", timeout=TIMEOUT, **kw).status_code


def audit_logins(daemon: Mfpd) -> list[dict[str, Any]]:
    entries = json.loads(daemon.cli("audit-log", "--json").stdout)["entries"]
    return [e for e in entries if str(e["event"]).startswith("login-")]


def test_directory_users_log_in_with_the_role_of_their_group(
    mfpd_factory: Callable[..., Mfpd], server: Slapd
) -> None:
    daemon = mfpd_factory(config(server))
    alice, status = log_in(daemon, "alice", "alice-pw")
    assert status == 303
    assert status_of(alice, daemon, "GET", "/properties/services") == 200

    oscar, status = log_in(daemon, "oscar", "oscar-pw")
    assert status == 303
    token = csrf_of(oscar.get(f"{base(daemon)}/properties/operator", timeout=TIMEOUT).text)
    headers = {"X-CSRF-Token": token}
    # An operator acts on the machine but changes no setting.
    fault = {"action": "fault", "kind": "jam", "target": "tray-1"}
    assert status_of(oscar, daemon, "POST", "/api/v1/actions", json=fault, headers=headers) == 200
    clear = {"action": "clear"}
    assert status_of(oscar, daemon, "POST", "/api/v1/actions", json=clear, headers=headers) == 200
    patch = {"identity": {"location": "Room 2"}}
    assert status_of(oscar, daemon, "PATCH", "/api/v1/config", json=patch, headers=headers) == 403
    assert status_of(oscar, daemon, "GET", "/properties/services") == 403

    mona, status = log_in(daemon, "mona", "mona-pw")  # an operator by memberOf alone
    assert status == 303
    assert status_of(mona, daemon, "GET", "/properties/operator") == 200
    assert status_of(mona, daemon, "GET", "/properties/services") == 403

    ursula, status = log_in(daemon, "ursula", "ursula-pw")
    assert status == 303
    token = csrf_of(ursula.get(f"{base(daemon)}/address-book", timeout=TIMEOUT).text)
    headers = {"X-CSRF-Token": token}
    assert status_of(ursula, daemon, "POST", "/api/v1/actions", json=clear, headers=headers) == 403
    assert status_of(ursula, daemon, "GET", "/properties/operator") == 403
    found = ursula.get(f"{base(daemon)}/api/v1/address-book?q=ali", timeout=TIMEOUT)
    assert found.json()["entries"] == [
        {"name": "Alice Admin", "email": "alice@example.com", "fax": "+1 555 0100"}
    ]

    logins = audit_logins(daemon)
    roles = {e["user"]: (e["details"]["source"], e["details"]["role"]) for e in logins}
    assert roles == {
        "alice": ("ldap", "administrator"),
        "oscar": ("ldap", "operator"),
        "mona": ("ldap", "operator"),
        "ursula": ("ldap", "user"),
    }


def test_disabled_unknown_and_wrong_passwords_are_refused(
    mfpd_factory: Callable[..., Mfpd], server: Slapd
) -> None:
    daemon = mfpd_factory(config(server, auth="local_fallback = false\n"))
    for user, password in [
        ("dave", "dave-pw"),  # member of the disabled group
        ("lena", "lena-pw"),  # pwdAccountLockedTime
        ("alice", "wrong"),
        ("alice", ""),
        ("mallory", "x"),
    ]:
        assert log_in(daemon, user, password)[1] == 401, user
    failures = [e for e in audit_logins(daemon) if e["event"] == "login-failure"]
    reasons = {e["user"]: e["details"]["reason"] for e in failures}
    assert "disabled group" in reasons["dave"] and "pwdAccountLockedTime" in reasons["lena"]
    assert {e["details"]["source"] for e in failures} == {"ldap"}


def test_the_centreware_form_logs_directory_users_in(
    mfpd_factory: Callable[..., Mfpd], server: Slapd
) -> None:
    daemon = mfpd_factory(config(server))
    browser = requests.Session()
    answer = browser.post(
        f"{base(daemon)}/userpost/xerox.set",
        data={"webUsername": "oscar", "webPassword": "oscar-pw", "NextPage": "/properties"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/properties"
    assert status_of(browser, daemon, "GET", "/properties/operator") == 200
    wrong = requests.post(
        f"{base(daemon)}/userpost/xerox.set",
        data={"webUsername": "oscar", "webPassword": "nope"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert wrong.headers["Location"] == "/login.php?invalid=t"


@pytest.mark.parametrize("fallback", [True, False])
def test_the_directory_down(
    mfpd_factory: Callable[..., Mfpd], server: Slapd, fallback: bool
) -> None:
    """slapd stopped: the address book says so (503 with the reason), directory users
    cannot log in, and the local administrator can only while local_fallback is on."""
    daemon = mfpd_factory(config(server, auth=f"local_fallback = {str(fallback).lower()}\n"))
    server.proc.terminate()
    server.proc.wait(timeout=10)
    assert log_in(daemon, "alice", "alice-pw")[1] == 401
    admin, status = log_in(daemon, "admin", admin_password(daemon))
    assert status == (303 if fallback else 401)
    failure = next(e for e in audit_logins(daemon) if e["user"] == "alice")
    assert "ldap unavailable" in failure["details"]["reason"]
    if fallback:
        answer = admin.get(f"{base(daemon)}/api/v1/address-book?q=ali", timeout=TIMEOUT)
        assert answer.status_code == 503
        assert "the directory does not answer" in answer.json()["error"]
        assert "cannot connect" in answer.json()["error"]
        page = admin.get(f"{base(daemon)}/address-book?q=ali", timeout=TIMEOUT)
        assert page.status_code == 503 and "The directory does not answer" in page.text


def test_the_address_book_over_the_api_and_the_page(
    mfpd_factory: Callable[..., Mfpd], server: Slapd
) -> None:
    daemon = mfpd_factory(config(server, "address_book_for_users = false\n"))
    url = f"{base(daemon)}/api/v1/address-book"
    assert requests.get(url, params={"q": "ali"}, timeout=TIMEOUT).status_code == 401
    ursula, _ = log_in(daemon, "ursula", "ursula-pw")
    assert ursula.get(url, params={"q": "ali"}, timeout=TIMEOUT).status_code == 403
    alice, _ = log_in(daemon, "alice", "alice-pw")
    injected = alice.get(url, params={"q": "*)(uid=*"}, timeout=TIMEOUT)
    assert injected.status_code == 200 and injected.json()["entries"] == []
    fax = alice.get(url, params={"q": "Oscar"}, timeout=TIMEOUT).json()
    assert fax == {
        "entries": [{"name": "Oscar Operator", "email": "oscar@example.com", "fax": "+1 555 0101"}],
        "truncated": False,
    }
    page = alice.get(f"{base(daemon)}/address-book", params={"q": "example.com"}, timeout=TIMEOUT)
    assert page.status_code == 200
    for address in ("alice@example.com", "mona@example.com", "carol@example.com"):
        assert address in page.text
    nobody = alice.get(f"{base(daemon)}/address-book", params={"q": "*)(uid=*"}, timeout=TIMEOUT)
    assert "Nobody matches." in nobody.text and "@example.com" not in nobody.text
    assert "<table" not in nobody.text


def test_a_directory_administrator_changes_the_local_administrator_s_password(
    mfpd_factory: Callable[..., Mfpd], server: Slapd
) -> None:
    """The Security page's password form is the local administrator's, whoever administers:
    alice proves it with that account's current password and stays logged in as herself.
    Fails when the form checks the current password against the logged-in name (alice)."""
    daemon = mfpd_factory(config(server))
    alice, _ = log_in(daemon, "alice", "alice-pw")
    page = alice.get(f"{base(daemon)}/properties/security", timeout=TIMEOUT)
    answer = alice.post(
        f"{base(daemon)}/properties/security",
        data={
            "csrf": csrf_of(page.text), "form": "password",
            "current_password": admin_password(daemon),
            "new_password": "new-local-pw", "confirm_password": "new-local-pw",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text[-500:]
    assert status_of(alice, daemon, "GET", "/properties/services") == 200
    assert "alice" in alice.get(f"{base(daemon)}/", timeout=TIMEOUT).text
    assert log_in(daemon, "admin", "new-local-pw")[1] == 303
