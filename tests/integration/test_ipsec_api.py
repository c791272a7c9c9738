"""IPsec policies through the API of the real daemon: HTTPS only, masked, kept across a
restart, and said plainly not to be enforced."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.conftest import Mfpd

pytestmark = pytest.mark.integration

POLICY = {"name": "print servers", "peers": "10.1.2.0/24", "pre_shared_key": "k3y-of-the-day",
          "protocols": ["ipp", "lpd"], "pfs": True}  # fmt: skip


def test_ipsec_settings_over_https_only_masked_and_kept(mfpd_factory: Callable[..., Mfpd]) -> None:
    daemon = mfpd_factory()
    head = {"Authorization": f"Bearer {daemon.cli('token', 'tests').stdout.strip()}"}
    http = f"http://127.0.0.1:{daemon.port('http')}/api/v1"
    https = f"https://127.0.0.1:{daemon.port('https')}/api/v1"
    change = {"ipsec": {"enabled": True, "policies": [POLICY]}}
    plain = requests.patch(f"{http}/config", json=change, headers=head, timeout=10)
    assert plain.status_code == 403 and "over HTTPS only" in plain.json()["error"]
    bad = {"ipsec": {"policies": [{**POLICY, "peers": "10.1.2.9-10.1.2.1"}]}}
    refused = requests.patch(f"{https}/config", json=bad, headers=head, verify=False, timeout=10)
    assert refused.status_code == 422 and "low first" in refused.json()["error"]
    done = requests.patch(f"{https}/config", json=change, headers=head, verify=False, timeout=10)
    assert done.status_code == 200, done.text
    shown = requests.get(f"{https}/ipsec", headers=head, verify=False, timeout=10).json()
    assert shown["enforced"] is False and "not enforced" in shown["note"]
    (policy,) = shown["policies"]
    assert policy["pre_shared_key"] == "********" and policy["peers"] == "10.1.2.0/24"
    assert "k3y-of-the-day" not in daemon.log.read_text()
    daemon.stop()
    daemon.start()
    again = requests.get(f"{http}/ipsec", headers=head, timeout=10).json()
    assert again["enabled"] is True and again["policies"][0]["name"] == "print servers"
    # The key was kept, not the mask: sending the document back changes nothing.
    back = requests.patch(
        f"{https}/config", json={"ipsec": again | {"enabled": False}} | {},
        headers=head, verify=False, timeout=10,
    )  # fmt: skip
    assert back.status_code == 422  # enforced/note/tunnel_life are not settings
    back = requests.patch(
        f"{https}/config",
        json={"ipsec": {"enabled": False, "policies": again["policies"]}},
        headers=head, verify=False, timeout=10,
    )  # fmt: skip
    assert back.status_code == 200, back.text
    settings = (daemon.state_dir / "settings.json").read_text()
    assert "k3y-of-the-day" in settings and "********" not in settings
