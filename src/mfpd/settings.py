"""Settings an administrator changes while the device runs (web UI, PATCH /api/v1/config).

They are kept as a JSON merge patch (RFC 7396) over the configuration file, in
STATE_DIR/settings.json, so they survive a restart and the file stays the administrator's
own. Identity edits are not here: they travel with the device snapshot (device.update_identity),
the same NVRAM that IPP Set-Printer-Attributes and SNMP SETs write.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mfpd.config import Config, ConfigError
from mfpd.device.identity import EDITABLE
from mfpd.security.auth import write_private_json
from mfpd.settings_scan import ScanSecretError, mask_scan, restore_scan, seal_scan

SETTINGS_FILE = "settings.json"
# The sections of the configuration the web server may change at runtime.
EDITABLE_SECTIONS = ("services", "web", "ip_filter", "ipsec", "tls", "scan")


def needs_tls(patch: Any) -> list[str]:
    """The parts of a change a client may make over HTTPS only: IPsec settings and SNMPv3
    users (the disclosure paper: HTTPS must be on before SNMPv3, IPsec or the audit-log
    download); the web server refuses them over plain HTTP."""
    if not isinstance(patch, dict):
        return []
    found = ["ipsec"] if "ipsec" in patch else []
    services = patch.get("services")
    snmp = services.get("snmp") if isinstance(services, dict) else None
    if isinstance(snmp, dict) and "users" in snmp:
        found.append("services.snmp.users")
    return found


# Secrets shown masked; a PATCH that sends the mask back keeps the stored value.
SECRET_MASK = "********"
_SECRET_KEYS = ("auth_key", "priv_key")

log = logging.getLogger("mfpd.settings")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 section 2: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def load_overrides(state_dir: Path) -> dict[str, Any]:
    path = state_dir / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.error("%s: unreadable, the configuration file alone applies: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def save_overrides(state_dir: Path, overrides: dict[str, Any]) -> None:
    # Private: SNMP keys and communities.
    write_private_json(state_dir / SETTINGS_FILE, overrides)


def apply_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """The configuration file's settings with the administrator's changes over them."""
    data = config.model_dump(mode="json")
    merged = merge_patch(data, {k: v for k, v in overrides.items() if k in EDITABLE_SECTIONS})
    try:
        return Config.model_validate(merged)
    except ValueError as exc:
        raise ConfigError(f"{SETTINGS_FILE}: {_first_error(exc)}") from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        if first["type"] == "extra_forbidden":
            return f"unknown key {key!r}"
        return f"bad value for {key!r}: {first['msg']}"
    return str(exc)


def public_settings(config: Config, identity: dict[str, Any]) -> dict[str, Any]:
    """The document GET /api/v1/config returns and PATCH changes: the editable identity
    fields and sections, secrets masked."""
    data = config.model_dump(mode="json", include=set(EDITABLE_SECTIONS))
    for user in data["services"]["snmp"]["users"]:
        for key in _SECRET_KEYS:
            if user.get(key):
                user[key] = SECRET_MASK
    for policy in data["ipsec"]["policies"]:
        if policy.get("pre_shared_key"):
            policy["pre_shared_key"] = SECRET_MASK
    data["scan"] = mask_scan(data["scan"])
    return {"identity": {k: identity[k] for k in EDITABLE}, **data}


class SettingsError(ValueError):
    """A change that cannot be made; the message names the key."""


def validate_change(
    config: Config, overrides: dict[str, Any], patch: dict[str, Any]
) -> tuple[Config, dict[str, Any], dict[str, str]]:
    """A PATCH checked as a whole: the new configuration, the new overrides to keep, and
    the identity changes for the device. Nothing is applied when any part is wrong."""
    if not isinstance(patch, dict):
        raise SettingsError("a change is a JSON object (RFC 7396 merge patch)")
    unknown = set(patch) - {"identity", *EDITABLE_SECTIONS}
    if unknown:
        raise SettingsError(f"not editable: {', '.join(sorted(unknown))}")
    identity = patch.get("identity") or {}
    if not isinstance(identity, dict):
        raise SettingsError("identity must be an object")
    bad = set(identity) - set(EDITABLE)
    if bad:
        raise SettingsError(f"identity: not editable: {', '.join(sorted(bad))}")
    for key, value in identity.items():
        if not isinstance(value, str):
            raise SettingsError(f"identity.{key} must be a string")
    # A copy: stored secrets go in place of their masks, and the caller may show its patch
    # again (with the masks) when it is refused.
    sections = copy.deepcopy({k: v for k, v in patch.items() if k in EDITABLE_SECTIONS})
    sections = _keep_masked_secrets(config, sections)
    new_overrides = merge_patch(overrides, sections)
    # Validate against what the section looks like now (file + earlier changes + this one).
    current = config.model_dump(mode="json")
    merged = merge_patch(current, sections)
    merged["identity"] = {**merged["identity"], **identity}
    try:
        new_config = Config.model_validate(merged)
    except ValueError as exc:
        raise SettingsError(_first_error(exc)) from None
    services = new_config.services
    if not services.http.enabled and not services.https.enabled:
        raise SettingsError(
            "services: http and https cannot both be off: the web server would be unreachable"
        )
    # Identity is the device's own; the config keeps the file's values.
    new_config = new_config.model_copy(update={"identity": config.identity})
    return new_config, new_overrides, {k: str(v) for k, v in identity.items()}


def seal_change(config: Config, patch: Any, seal: Callable[[str], str]) -> Any:
    """A change as the web server passes it on: the [scan] part's masks replaced by what is
    stored and every password sealed, so that settings.json holds none in clear (a PATCH of
    the same list the file has copies the file's passwords into the overrides)."""
    if not isinstance(patch, dict) or not isinstance(patch.get("scan"), dict):
        return patch
    try:
        return {**patch, "scan": seal_scan(restore_scan(config, patch["scan"]), seal)}
    except ScanSecretError as exc:
        raise SettingsError(str(exc)) from None


def _keep_masked_secrets(config: Config, sections: dict[str, Any]) -> dict[str, Any]:
    if isinstance(sections.get("scan"), dict):
        try:
            sections["scan"] = restore_scan(config, sections["scan"])
        except ScanSecretError as exc:
            raise SettingsError(str(exc)) from None
    ipsec = sections.get("ipsec")
    policies = ipsec.get("policies") if isinstance(ipsec, dict) else None
    if isinstance(policies, list):
        keys = {p.name: p.pre_shared_key for p in config.ipsec.policies}
        for policy in policies:
            if isinstance(policy, dict) and policy.get("pre_shared_key") == SECRET_MASK:
                name = str(policy.get("name"))
                if name not in keys:
                    raise SettingsError(f"ipsec policy {name!r}: pre_shared_key is required")
                policy["pre_shared_key"] = keys[name]
    users = sections.get("services", {}).get("snmp", {}).get("users")
    if not isinstance(users, list):
        return sections
    stored = {user.name: user for user in config.services.snmp.users}
    for user in users:
        if not isinstance(user, dict):
            continue
        old = stored.get(str(user.get("name")))
        for key in _SECRET_KEYS:
            if user.get(key) == SECRET_MASK:
                if old is None:
                    raise SettingsError(f"snmp user {user.get('name')!r}: {key} is required")
                user[key] = getattr(old, key)
    return sections
