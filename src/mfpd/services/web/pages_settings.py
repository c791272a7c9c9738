"""The Properties forms as changes: each form's fields become an RFC 7396 merge patch of the
settings document (what GET /api/v1/config returns), holding only what the form changed, so
the page's change goes through the same validation as PATCH /api/v1/config.

Values are passed on as typed where they are not what they should be (a port that is not a
number): the validation then refuses them with a message naming the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mfpd.device.identity import EDITABLE

Form = dict[str, str]
PatchBuilder = Callable[[Form, dict[str, Any]], dict[str, Any]]


class FormError(ValueError):
    """A form that cannot become a change (shown beside it, like a SettingsError)."""


def _checked(form: Form, name: str) -> bool:
    return form.get(name, "") in ("on", "1", "true", "yes")


def _number(value: str) -> int | str:
    """An integer field; anything else goes to the validation as typed, which names it."""
    try:
        return int(value.strip())
    except ValueError:
        return value


def _identity_patch(form: Form, settings: dict[str, Any]) -> dict[str, Any]:
    current = settings["identity"]
    changed = {
        key: form[key].strip()
        for key in EDITABLE
        if key in form and form[key].strip() != current.get(key, "")
    }
    return {"identity": changed} if changed else {}


def _services_patch(form: Form, settings: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, current in settings["services"].items():
        if f"{name}.port" not in form:
            continue  # not on the form (a service added after the page was made)
        change: dict[str, Any] = {}
        enabled = _checked(form, f"{name}.enabled")
        if enabled != current["enabled"]:
            change["enabled"] = enabled
        port = _number(form[f"{name}.port"])
        if port != current["port"]:
            change["port"] = port
        if change:
            changes[name] = change
    return {"services": changes} if changes else {}


def _lpd_patch(form: Form, settings: dict[str, Any]) -> dict[str, Any]:
    text = form.get("queues", "").replace(",", " ")
    queues = list(dict.fromkeys(text.split()))
    if not queues:
        raise FormError("services.lpd.queues: name at least one queue")
    if queues == settings["services"]["lpd"]["queues"]:
        return {}
    return {"services": {"lpd": {"queues": queues}}}


def _snmp_patch(form: Form, settings: dict[str, Any]) -> dict[str, Any]:
    current = settings["services"]["snmp"]
    new: dict[str, Any] = {
        "read_community": form.get("read_community", ""),
        "write_community": form.get("write_community", ""),
        "v3_only": _checked(form, "v3_only"),
        "allow_md5_des": _checked(form, "allow_md5_des"),
        "authentication_traps": _checked(form, "authentication_traps"),
        "alert_traps": form.get("alert_traps", current["alert_traps"]),
    }
    changed = {k: v for k, v in new.items() if v != current.get(k)}
    return {"services": {"snmp": changed}} if changed else {}


def _rows(form: Form, prefix: str) -> list[tuple[int, dict[str, str]]]:
    """`user3.name`-style fields grouped by row number, in order."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in form.items():
        head, _, field = key.partition(".")
        if head.startswith(prefix) and head[len(prefix) :].isdigit() and field:
            rows.setdefault(int(head[len(prefix) :]), {})[field] = value
    return sorted(rows.items())


def _users_patch(form: Form, settings: dict[str, Any]) -> dict[str, Any]:
    current = settings["services"]["snmp"]["users"]
    users: list[dict[str, Any]] = []
    for _, row in _rows(form, "user"):
        name = row.get("name", "").strip()
        if not name or _checked(row, "delete"):
            continue
        users.append(
            {
                "name": name,
                "auth_protocol": row.get("auth_protocol", "sha256"),
                "auth_key": row.get("auth_key", ""),
                "priv_protocol": row.get("priv_protocol", "aes"),
                "priv_key": row.get("priv_key", ""),
                "access": row.get("access", "read"),
            }
        )
    if users == current:
        return {}
    return {"services": {"snmp": {"users": users}}}


_TRAP_FIELDS = ("address", "port", "version", "community", "user", "inform")


def _shown(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{k: row.get(k) for k in fields} for row in rows]


def _traps_patch(form: Form, settings: dict[str, Any]) -> dict[str, Any]:
    current = settings["services"]["snmp"]["traps"]
    traps: list[dict[str, Any]] = []
    for index, row in _rows(form, "trap"):
        address = row.get("address", "").strip()
        if not address or _checked(row, "delete"):
            continue
        # Retries and timeout are not on the form: an edited row keeps its own.
        old = current[index] if index < len(current) else {}
        trap = {k: v for k, v in old.items() if k in ("retries", "timeout")}
        trap.update(
            address=address,
            port=_number(row.get("port", "162") or "162"),
            version=row.get("version", "v2c"),
            community=row.get("community", ""),
            user=row.get("user", "").strip(),
            inform=_checked(row, "inform"),
        )
        traps.append(trap)
    if _shown(traps, _TRAP_FIELDS) == _shown(current, _TRAP_FIELDS):
        return {}
    return {"services": {"snmp": {"traps": traps}}}


def _web_patch(form: Form, settings: dict[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    web_changes = {
        key: _checked(form, key)
        for key in ("require_login", "default_credentials")
        if _checked(form, key) != settings["web"][key]
    }
    if web_changes:
        patch["web"] = web_changes
    redirect = _checked(form, "redirect_to_https")
    if redirect != settings["services"]["http"]["redirect_to_https"]:
        patch["services"] = {"http": {"redirect_to_https": redirect}}
    return patch


def _tls_patch(form: Form, settings: dict[str, Any]) -> dict[str, Any]:
    current = settings["tls"]
    fields = {
        "minimum_version": form.get("minimum_version", "").strip(),
        "ciphers": form.get("ciphers", "").strip(),
        "hsts_max_age": _number(form.get("hsts_max_age", "")),
        "expiry_warning_days": _number(form.get("expiry_warning_days", "")),
    }
    changed = {k: v for k, v in fields.items() if v != current[k]}
    return {"tls": changed} if changed else {}


PATCHES: dict[tuple[str, str], PatchBuilder] = {
    ("general", "identity"): _identity_patch,
    ("services", "services"): _services_patch,
    ("services", "lpd"): _lpd_patch,
    ("snmp", "snmp"): _snmp_patch,
    ("snmp", "users"): _users_patch,
    ("snmp", "traps"): _traps_patch,
    ("security", "web"): _web_patch,
    ("security", "tls"): _tls_patch,
}
