"""IPsec policies: validated as the device's page validates them, secrets masked."""

from __future__ import annotations

import pytest

from mfpd.config import Config, IpsecConfig
from mfpd.settings import SECRET_MASK, SettingsError, needs_tls, public_settings, validate_change

GOOD = {"name": "office", "peers": "192.168.1.0/24", "pre_shared_key": "long enough"}


def test_peers_are_an_address_a_network_or_a_range() -> None:
    for peers, kept in [
        ("10.0.0.5", "10.0.0.5/32"),
        ("192.168.1.7/24", "192.168.1.0/24"),
        ("10.0.0.5 - 10.0.0.9", "10.0.0.5-10.0.0.9"),
        ("2001:db8::/32", "2001:db8::/32"),
    ]:
        config = IpsecConfig.model_validate({"policies": [{**GOOD, "peers": peers}]})
        assert config.policies[0].peers == kept


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"peers": "10.0.0.9-10.0.0.5"}, "low first"),
        ({"peers": "10.0.0.1-2001:db8::1"}, "one family"),
        ({"pre_shared_key": "short"}, "8 characters"),
        ({"authentication": "certificate"}, "peer_certificate"),
        ({"peer_certificate": "abc"}, "64 hex digits"),
        ({"protocols": ["ipp", "gopher"]}, "unknown protocols gopher"),
        ({"ike_lifetime_minutes": 4}, "greater than or equal to 5"),
        ({"ipsec_lifetime_minutes": 3000}, "less than or equal to 2880"),
        ({"dh_group": 5}, "dh_group"),
    ],
)
def test_bad_policies_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IpsecConfig.model_validate({"policies": [{**GOOD, **change}]})


def test_names_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        IpsecConfig.model_validate({"policies": [GOOD, GOOD]})


def test_the_key_is_masked_and_kept_when_the_mask_comes_back() -> None:
    config, _, _ = validate_change(Config(), {}, {"ipsec": {"policies": [GOOD]}})
    shown = public_settings(config, {k: "" for k in ("hostname",)} | _identity())
    assert shown["ipsec"]["policies"][0]["pre_shared_key"] == SECRET_MASK
    again, _, _ = validate_change(config, {}, {"ipsec": shown["ipsec"]})
    assert again.ipsec.policies[0].pre_shared_key == "long enough"
    with pytest.raises(SettingsError, match="pre_shared_key is required"):
        validate_change(Config(), {}, {"ipsec": shown["ipsec"]})


def test_ipsec_and_snmpv3_users_need_tls() -> None:
    assert needs_tls({"ipsec": {"enabled": True}}) == ["ipsec"]
    assert needs_tls({"services": {"snmp": {"users": []}}}) == ["services.snmp.users"]
    assert needs_tls({"services": {"snmp": {"read_community": "x"}}, "web": {}}) == []


def _identity() -> dict[str, str]:
    from mfpd.device.identity import EDITABLE

    return {k: "" for k in EDITABLE}
