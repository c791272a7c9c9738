"""The address book's LDAP filter (outbound/ldap.py people_filter): whatever a person types,
it stays one value of one substring assertion (RFC 4515 3), checked by parsing the filter
with ldap3's own parser. And the login dispatcher's fallback (security/login.py) when the
configured method cannot answer."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldap3.operation.search import parse_filter
from ldap3.utils.conv import unescape_filter_chars

from mfpd.config import parse_config
from mfpd.device.machine import build_device
from mfpd.outbound.ldap import PEOPLE, people_filter
from mfpd.security.auth import Administrator
from mfpd.security.login import Role, authenticate

CONFIG = parse_config("[ldap]\nname_attribute = 'displayName'\n").ldap
# ldap3's parse_filter tags (ldap3/operation/search.py): AND, OR, equality, substring.
AND, OR, EQUALITY, SUBSTRING = 1, 2, 10, 9
TYPED = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)


def _tree(text: str) -> Any:
    query = people_filter(CONFIG, text)
    return parse_filter(
        query, None, auto_escape=False, auto_encode=True, validator=None, check_names=False
    ).elements[0]


@given(TYPED)
def test_any_text_is_one_substring_value(text: str) -> None:
    if not text.strip():
        assert people_filter(CONFIG, text) == PEOPLE
        return
    root = _tree(text)
    assert root.tag == AND and [c.tag for c in root.elements] == [EQUALITY, OR]
    either = root.elements[1]
    assert [(c.tag, c.assertion["attr"]) for c in either.elements] == [
        (SUBSTRING, "displayName"),
        (SUBSTRING, "mail"),
    ]
    for assertion in either.elements:
        [value] = assertion.assertion["any"]
        assert unescape_filter_chars(value.decode()) == text.strip().encode()


@pytest.mark.parametrize("text", ["*)(uid=*", "*", ")(", "\\2a", "a\x00b"])
def test_filter_syntax_is_escaped(text: str) -> None:
    value = people_filter(CONFIG, text).split("(displayName=*", 1)[1].split("*)", 1)[0]
    assert not set(value) & set("*()\x00")


def _ctx(tmp_path: Path, text: str) -> Any:
    config = parse_config(text)
    admin = Administrator(tmp_path, lambda: config.web)
    admin.set_password("local-secret")
    return SimpleNamespace(
        config=config, web=SimpleNamespace(admin=admin), bind="127.0.0.1", state_dir=tmp_path,
        secrets=None, audit=None, resolver=None, log=logging.getLogger("test"),
        device=build_device(config),
    )  # fmt: skip


DOWN = "[ldap]\nurl = 'ldap://127.0.0.1:1'\nbase = 'dc=example,dc=com'\n"


@pytest.mark.parametrize("method", ["ldap", "kerberos"])
def test_the_local_administrator_when_the_method_cannot_answer(tmp_path: Path, method: str) -> None:
    ctx = _ctx(tmp_path, f"[auth]\nmethod = '{method}'\n{DOWN}")
    result = asyncio.run(authenticate(ctx, "admin", "local-secret"))
    assert (result.ok, result.role, result.source) == (True, Role.ADMINISTRATOR, "local")
    assert f"{method} unavailable" in result.reason
    assert not asyncio.run(authenticate(ctx, "admin", "wrong")).ok
    assert not asyncio.run(authenticate(ctx, "alice", "local-secret")).ok


def test_no_fallback_when_it_is_off(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, f"[auth]\nmethod = 'ldap'\nlocal_fallback = false\n{DOWN}")
    result = asyncio.run(authenticate(ctx, "admin", "local-secret"))
    assert (result.ok, result.role, result.source) == (False, None, "ldap")
    assert "ldap unavailable" in result.reason and "cannot connect" in result.reason


def test_method_local_is_the_administrator_only(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "")
    result = asyncio.run(authenticate(ctx, "admin", "local-secret"))
    assert (result.ok, result.role, result.source) == (True, Role.ADMINISTRATOR, "local")
    assert not asyncio.run(authenticate(ctx, "admin", "x" * 5000)).ok
