"""The [scan] section's secrets in the settings document: destination passwords (a table's
`password`, or the legacy `USER:PASS@` in a URI) and mailbox passcodes.

Every reader of the settings (GET /api/v1/config, /api/v1/scan-templates, the pages) sees the
mask in their place; a change that sends the mask back keeps what is stored; and whatever the
web server stores is sealed (security/secrets.py), so settings.json never holds a password in
clear. Passwords written by hand in the configuration file stay as written there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mfpd.config import Config
from mfpd.security.secrets import MASK


class ScanSecretError(ValueError):
    """A mask sent back where nothing is stored to keep; the message names the place."""


def split_userinfo(uri: str) -> tuple[str, str]:
    """`ftp://u:p@h/x` -> (`ftp://u@h/x`, `p`); a URI without a password comes back as it is,
    with "". mailto: and mailbox: have no userinfo."""
    try:
        parts = urlsplit(uri)
        password = parts.password
    except ValueError:
        return uri, ""
    if password is None or "@" not in parts.netloc:
        return uri, ""
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit(parts._replace(netloc=netloc)), password


def _with_password(uri: str, password: str) -> str:
    parts = urlsplit(uri)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo}:{password}@{hostport}"))


def mask_destination(item: Any) -> Any:
    """One destination as a reader sees it."""
    if isinstance(item, str):
        bare, password = split_userinfo(item)
        return _with_password(bare, MASK) if password else item
    if isinstance(item, dict):
        shown = dict(item)
        bare, password = split_userinfo(str(shown.get("uri", "")))
        if password:
            shown["uri"] = _with_password(bare, MASK)
        if shown.get("password"):
            shown["password"] = MASK
        return shown
    return item


def mask_template(template: dict[str, Any]) -> dict[str, Any]:
    return {
        **template,
        "destinations": [mask_destination(d) for d in template.get("destinations", [])],
    }


def mask_scan(scan: dict[str, Any]) -> dict[str, Any]:
    """The [scan] section (as model_dump(mode="json") gives it) with its secrets masked."""
    shown = dict(scan)
    shown["templates"] = [mask_template(t) for t in scan.get("templates", [])]
    shown["mailboxes"] = [
        {**box, "passcode": MASK if box.get("passcode") else ""}
        for box in scan.get("mailboxes", [])
    ]
    return shown


def _stored_password(item: Any) -> tuple[str, str]:
    """A stored destination's (URI without password, password), whichever form holds it."""
    if isinstance(item, str):
        return split_userinfo(item)
    uri = str(getattr(item, "uri", ""))
    bare, in_uri = split_userinfo(uri)
    return bare, str(getattr(item, "password", "")) or in_uri


def _restore_destination(item: Any, stored: dict[str, str], where: str) -> Any:
    """A destination of a change with its masks replaced by the stored password."""
    if isinstance(item, str):
        bare, password = split_userinfo(item)
        if password != MASK:
            return item
        if bare not in stored:
            raise ScanSecretError(f"{where}: no stored password for {bare!r}: send it")
        return {"uri": bare, "password": stored[bare]}
    if not isinstance(item, dict):
        return item
    item = dict(item)
    bare, in_uri = split_userinfo(str(item.get("uri", "")))
    if in_uri:
        item["uri"] = bare
        if not item.get("password") or item.get("password") == MASK:
            item["password"] = in_uri
    if item.get("password") == MASK:
        if bare not in stored:
            raise ScanSecretError(f"{where}: no stored password for {bare!r}: send it")
        item["password"] = stored[bare]
    return item


def restore_template(config: Config, template: Any, name: str | None = None) -> Any:
    """A template of a change with its masks replaced from the stored template called
    `name` (default: its own name), the one it replaces."""
    if not isinstance(template, dict) or not isinstance(template.get("destinations"), list):
        return template
    key = str(name if name is not None else template.get("name", "")).lower()
    old = next((t for t in config.scan.templates if t.name.lower() == key), None)
    stored: dict[str, str] = {}
    for dest in old.destinations if old is not None else []:
        bare, password = _stored_password(dest)
        if password:
            stored.setdefault(bare, password)
    where = f"scan template {template.get('name')!r}"
    restored = [_restore_destination(d, stored, where) for d in template["destinations"]]
    return {**template, "destinations": restored}


def restore_scan(config: Config, scan: dict[str, Any]) -> dict[str, Any]:
    """The [scan] part of a change with every mask replaced by what is stored."""
    scan = dict(scan)
    templates = scan.get("templates")
    if isinstance(templates, list):
        scan["templates"] = [restore_template(config, t) for t in templates]
    boxes = scan.get("mailboxes")
    if isinstance(boxes, list):
        passcodes = {b.name: b.passcode for b in config.scan.mailboxes}
        restored = []
        for box in boxes:
            if isinstance(box, dict) and box.get("passcode") == MASK:
                name = str(box.get("name"))
                if name not in passcodes or not passcodes[name]:
                    raise ScanSecretError(f"mailbox {name!r}: no stored passcode: send it")
                box = {**box, "passcode": passcodes[name]}
            restored.append(box)
        scan["mailboxes"] = restored
    return scan


def seal_scan(scan: dict[str, Any], seal: Callable[[str], str]) -> dict[str, Any]:
    """The [scan] part of a change with every password and passcode in its stored (sealed)
    form, a URI's password moved into its table (the URI keeps only the user)."""
    scan = dict(scan)
    templates = scan.get("templates")
    if isinstance(templates, list):
        scan["templates"] = [_seal_template(t, seal) for t in templates]
    boxes = scan.get("mailboxes")
    if isinstance(boxes, list):
        scan["mailboxes"] = [
            {**b, "passcode": seal(str(b["passcode"]))}
            if isinstance(b, dict) and b.get("passcode")
            else b
            for b in boxes
        ]
    return scan


def _seal_template(template: Any, seal: Callable[[str], str]) -> Any:
    if not isinstance(template, dict) or not isinstance(template.get("destinations"), list):
        return template
    sealed: list[Any] = []
    for item in template["destinations"]:
        if isinstance(item, str):
            bare, password = split_userinfo(item)
            sealed.append({"uri": bare, "password": seal(password)} if password else item)
        elif isinstance(item, dict):
            item = dict(item)
            bare, in_uri = split_userinfo(str(item.get("uri", "")))
            if in_uri:
                item["uri"] = bare
                item["password"] = item.get("password") or in_uri
            if item.get("password"):
                item["password"] = seal(str(item["password"]))
            sealed.append(item)
        else:
            sealed.append(item)
    return {**template, "destinations": sealed}
