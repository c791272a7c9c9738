"""Settings changes (RFC 7396 merge patches, validation, persistence) and the web server's
accounts: password hashes, sessions, the login throttle, API tokens; the status channel's
notion of a local caller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mfpd.config import Config, WebConfig
from mfpd.ports import service_bind
from mfpd.security.auth import (
    FACTORY_PASSWORD,
    Administrator,
    ApiTokens,
    LoginThrottle,
    Sessions,
    check_password,
    hash_password,
)
from mfpd.services.web.status_channel import _local
from mfpd.settings import (
    SECRET_MASK,
    SettingsError,
    apply_overrides,
    load_overrides,
    merge_patch,
    public_settings,
    save_overrides,
    validate_change,
)

# RFC 7396 Appendix A: target, patch, result.
RFC_7396_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_7396_EXAMPLES)
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


def test_a_change_is_validated_whole_and_kept_as_an_override(tmp_path: Path) -> None:
    config = Config()
    new, overrides, identity = validate_change(
        config, {}, {"services": {"lpd": {"enabled": False}}, "identity": {"location": "Hall"}}
    )
    assert new.services.lpd.enabled is False and identity == {"location": "Hall"}
    assert overrides == {"services": {"lpd": {"enabled": False}}}
    assert new.identity == config.identity  # identity travels with the device snapshot
    save_overrides(tmp_path, overrides)
    assert (tmp_path / "settings.json").stat().st_mode & 0o777 == 0o600
    again = apply_overrides(Config(), load_overrides(tmp_path))
    assert again.services.lpd.enabled is False
    # null puts the file's value back (RFC 7396 removes the override).
    restored, kept, _ = validate_change(new, overrides, {"services": {"lpd": None}})
    assert restored.services.lpd.enabled is True and kept == {"services": {}}

    for patch, words in [
        ({"engine": {"speed_ppm": 1}}, "not editable"),
        ({"identity": {"make": "Canon"}}, "not editable"),
        ({"services": {"raw": {"port": 0}}}, "services.raw.port"),
        ({"services": {"lpd": {"colour": True}}}, "unknown key"),
        ({"services": {"http": {"enabled": False}, "https": {"enabled": False}}}, "unreachable"),
        ({"identity": {"geo_location": "Paris"}}, "geo_location"),
    ]:
        with pytest.raises(SettingsError, match=words):
            validate_change(config, {}, patch)


def test_snmp_keys_are_masked_and_a_mask_sent_back_keeps_them() -> None:
    user = {"name": "ops", "auth_key": "authpass123", "priv_key": "privpass123"}
    config, overrides, _ = validate_change(Config(), {}, {"services": {"snmp": {"users": [user]}}})
    shown = public_settings(config, {"location": ""} | dict.fromkeys(_identity_keys(), ""))
    masked = shown["services"]["snmp"]["users"][0]
    assert masked["auth_key"] == SECRET_MASK and masked["priv_key"] == SECRET_MASK
    assert "authpass123" not in json.dumps(shown)
    renamed = {**masked, "access": "write"}
    new, _, _ = validate_change(config, overrides, {"services": {"snmp": {"users": [renamed]}}})
    kept = new.services.snmp.users[0]
    assert (kept.auth_key, kept.priv_key, kept.access) == ("authpass123", "privpass123", "write")
    stranger = {**masked, "name": "nobody"}
    with pytest.raises(SettingsError, match="required"):
        validate_change(config, overrides, {"services": {"snmp": {"users": [stranger]}}})


def _identity_keys() -> list[str]:
    from mfpd.device.identity import EDITABLE

    return list(EDITABLE)


def test_passwords_are_kept_as_scrypt_hashes(tmp_path: Path) -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert check_password("correct horse", stored)
    assert not check_password("correct hors", stored)
    assert not check_password("x", "garbage") and not check_password("x", "md5$1$2$3$4$5")

    config = WebConfig()
    admin = Administrator(tmp_path, lambda: config)
    first = admin.ensure()
    assert first is not None and len(first) >= 16
    assert first not in (tmp_path / "admin.json").read_text()
    assert admin.ensure() is None  # printed once: the next start only loads the hash
    assert admin.verify("admin", first) and not admin.verify("root", first)
    assert not admin.verify("admin", FACTORY_PASSWORD)
    config = WebConfig(default_credentials=True)
    assert admin.verify("admin", FACTORY_PASSWORD) and not admin.verify("admin", first)


def test_sessions_expire_and_visitors_go_first(tmp_path: Path) -> None:
    now = [0.0]
    config = WebConfig(session_idle=60, max_sessions=3)
    sessions = Sessions(lambda: config, lambda: now[0])
    visitor = sessions.create(None)
    admin = sessions.login(visitor, "admin")
    assert sessions.get(visitor.id) is None and sessions.get(admin.id) is admin
    assert admin.id != visitor.id and admin.csrf != visitor.csrf
    others = [sessions.create(None) for _ in range(3)]
    assert sessions.get(admin.id) is admin  # over the limit, visitors' sessions went first
    assert len(sessions) == 3 and sessions.get(others[-1].id) is not None
    now[0] = 61
    assert sessions.get(admin.id) is None


def test_the_throttle_doubles_the_wait_and_forgets(tmp_path: Path) -> None:
    now = [0.0]
    config = WebConfig(login_free_attempts=2, login_delay=1, login_delay_max=5)
    throttle = LoginThrottle(lambda: config, lambda: now[0])
    delays = []
    for _ in range(6):
        delays.append(throttle.delay("10.0.0.1"))
        throttle.failed("10.0.0.1")
    assert delays == [0, 0, 1, 2, 4, 5]
    assert throttle.delay("10.0.0.2") == 0
    now[0] = LoginThrottle.FORGET + 1
    assert throttle.delay("10.0.0.1") == 0
    throttle.failed("10.0.0.3")
    throttle.succeeded("10.0.0.3")
    assert throttle.delay("10.0.0.3") == 0


def test_api_tokens_are_stored_as_digests(tmp_path: Path) -> None:
    tokens = ApiTokens.load(tmp_path)
    token, secret = tokens.create("monitoring")
    assert secret.startswith("mfpd_") and secret not in (tmp_path / "tokens.json").read_text()
    again = ApiTokens.load(tmp_path)
    assert again.verify(secret) is not None and again.verify(secret + "x") is None
    assert again.delete(token.id) and not again.delete(token.id)
    assert ApiTokens.load(tmp_path).verify(secret) is None


def test_the_status_channel_is_for_local_callers_only() -> None:
    assert service_bind("status", "0.0.0.0") == "127.0.0.1"
    assert service_bind("status", "::") == "::1"
    assert service_bind("ipp", "0.0.0.0") == "0.0.0.0"
    assert _local("127.0.0.1") and _local("127.8.9.10") and _local("::1")
    assert _local("::ffff:127.0.0.1")
    assert not _local("10.1.2.3") and not _local("::ffff:10.1.2.3") and not _local("fe80::1%eth0")
    assert not _local("") and not _local("garbage")
