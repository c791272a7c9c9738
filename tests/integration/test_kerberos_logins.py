"""Web UI logins with [auth] method = "kerberos" through the real daemon, against a real MIT
KDC (tests/outbound_servers.py mit_kdc): the role [kerberos] admin_principals and
operator_principals give, CentreWare's legacy form, a wrong password, an unknown principal and
a principal with only triple DES keys refused (audited with the reason), and the KDC down: the
local administrator when [auth] local_fallback is on, nobody when it is off.

Needs security/login.py (the directory branch's login dispatcher) with its Kerberos hook
wired to outbound/kerberos.py: skipped where the dispatcher is not in the tree yet."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.conftest import FAST_CONFIG, Mfpd, requires
from tests.integration.test_web_security import admin_password, base, csrf_of
from tests.outbound_servers import KRB5KDC, Kdc, free_port, mit_kdc

HAS_KDC = all(shutil.which(t) for t in (KRB5KDC, "/usr/sbin/kdb5_util", "/usr/sbin/kadmin.local"))
HAS_DISPATCHER = importlib.util.find_spec("mfpd.security.login") is not None
pytestmark = [
    pytest.mark.integration,
    requires(HAS_KDC, "MIT Kerberos (krb5-kdc, krb5-admin-server) is not installed"),
    pytest.mark.skipif(not HAS_DISPATCHER, reason="security/login.py is not merged yet"),
]
TIMEOUT = 15
PASSWORDS = {"alice": "alice-Krb-1", "oscar": "oscar-Krb-2", "ursula": "ursula-Krb-3"}


@pytest.fixture(scope="module")
def kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kdc]:
    with mit_kdc(tmp_path_factory.mktemp("krb-web")) as server:
        for user, password in PASSWORDS.items():
            server.kadmin(f"addprinc -pw {password} +requires_preauth {user}")
        server.kadmin("addprinc -pw old-Krb-4 +requires_preauth -e des3-cbc-sha1:normal olga")
        yield server


def config(kdc_address: str, auth: str = "") -> str:
    return FAST_CONFIG + (
        f'[auth]\nmethod = "kerberos"\n{auth}'
        f'[kerberos]\nrealm = "TEST.REALM"\nkdc = "{kdc_address}"\ntimeout = 5\n'
        'admin_principals = ["alice"]\noperator_principals = ["oscar@TEST.REALM"]\n'
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


def test_principals_log_in_with_their_roles(mfpd_factory: Callable[..., Mfpd], kdc: Kdc) -> None:
    daemon = mfpd_factory(config(f"127.0.0.1:{kdc.port}"))
    alice, status = log_in(daemon, "alice", PASSWORDS["alice"])
    assert status == 303
    assert status_of(alice, daemon, "GET", "/properties/services") == 200

    oscar, status = log_in(daemon, "oscar", PASSWORDS["oscar"])
    assert status == 303
    token = csrf_of(oscar.get(f"{base(daemon)}/properties/operator", timeout=TIMEOUT).text)
    headers = {"X-CSRF-Token": token}
    fault = {"action": "fault", "kind": "jam", "target": "tray-1"}
    assert status_of(oscar, daemon, "POST", "/api/v1/actions", json=fault, headers=headers) == 200
    assert status_of(oscar, daemon, "GET", "/properties/services") == 403

    ursula, status = log_in(daemon, "ursula", PASSWORDS["ursula"])
    assert status == 303
    assert status_of(ursula, daemon, "GET", "/properties/operator") == 403

    # CentreWare's own form takes the same path.
    legacy = requests.Session()
    answer = legacy.post(
        f"{base(daemon)}/userpost/xerox.set",
        data={"webUsername": "alice", "webPassword": PASSWORDS["alice"], "NextPage": "/properties"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/properties"

    roles = {
        e["user"]: (e["details"]["source"], e["details"]["role"]) for e in audit_logins(daemon)
    }
    assert roles == {
        "alice": ("kerberos", "administrator"),
        "oscar": ("kerberos", "operator"),
        "ursula": ("kerberos", "user"),
    }
    # Each AS exchange is on record as a credential use at the KDC, with no password.
    entries = json.loads(daemon.cli("audit-log", "--json").stdout)["entries"]
    used = [e for e in entries if e["event"] == "credential-use" and e["interface"] == "kerberos"]
    assert {e["user"] for e in used} == {
        "alice@TEST.REALM",
        "oscar@TEST.REALM",
        "ursula@TEST.REALM",
    }
    assert not any(p in json.dumps(entries) for p in PASSWORDS.values())


def test_refusals_say_why(mfpd_factory: Callable[..., Mfpd], kdc: Kdc) -> None:
    daemon = mfpd_factory(config(f"127.0.0.1:{kdc.port}", auth="local_fallback = false\n"))
    for user, password in [
        ("alice", "wrong"),
        ("alice", ""),
        ("mallory", "whatever"),
        ("olga", "old-Krb-4"),  # the right password, but only a triple DES key
    ]:
        assert log_in(daemon, user, password)[1] == 401, user
    reasons = {e["user"]: e["details"]["reason"] for e in audit_logins(daemon)}
    assert reasons["alice"].startswith("wrong-password")
    assert reasons["mallory"] == "unknown user"
    assert reasons["olga"].startswith("kdc-error") and "no AES key" in reasons["olga"]


@pytest.mark.parametrize("fallback", [True, False])
def test_the_kdc_down(mfpd_factory: Callable[..., Mfpd], fallback: bool) -> None:
    auth = f"local_fallback = {str(fallback).lower()}\n"
    daemon = mfpd_factory(config(f"127.0.0.1:{free_port()}", auth=auth))
    assert log_in(daemon, "alice", PASSWORDS["alice"])[1] == 401
    expected = 303 if fallback else 401
    assert log_in(daemon, "admin", admin_password(daemon))[1] == expected
    logins = audit_logins(daemon)
    reasons = [e["details"]["reason"] for e in logins if e["event"] == "login-failure"]
    assert reasons and all("kerberos unavailable" in r for r in reasons), reasons
    succeeded = [
        (e["user"], e["details"]["source"]) for e in logins if e["event"] == "login-success"
    ]
    assert succeeded == ([("admin", "local")] if fallback else [])
