"""The SNMP agent on the real daemon, driven with net-snmp's own tools (Debian `snmp`):
SNMPv1, v2c and v3 (USM authPriv with HMAC-SHA-96 and HMAC-SHA-256, AES), VACM, GetBulk
sizes, SETs, engine boots. Numeric OIDs only: Debian ships no IETF MIB files."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import FAST_CONFIG, Mfpd, need

CONFIG = (
    FAST_CONFIG
    + """
[services.snmp]
write_community = "private"

[[services.snmp.users]]
name = "admin"
auth_protocol = "sha"
auth_key = "admin-auth-key"
priv_protocol = "aes"
priv_key = "admin-priv-key"
access = "write"

[[services.snmp.users]]
name = "monitor"
auth_protocol = "sha256"
auth_key = "monitor-auth-key"
priv_protocol = "aes"
priv_key = "monitor-priv-key"
"""
)

SYSTEM = ".1.3.6.1.2.1.1"
SYS_DESCR = ".1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = ".1.3.6.1.2.1.1.2.0"
SYS_CONTACT = ".1.3.6.1.2.1.1.4.0"
SYS_NAME = ".1.3.6.1.2.1.1.5.0"
SYS_LOCATION = ".1.3.6.1.2.1.1.6.0"
ENGINE_ID = ".1.3.6.1.6.3.10.2.1.1.0"
ENGINE_BOOTS = ".1.3.6.1.6.3.10.2.1.2.0"
USM_USER_STATUS = ".1.3.6.1.6.3.15.1.2.2.1.13"
# SNMP-USER-BASED-SM-MIB, SNMP-VIEW-BASED-ACM-MIB, SNMP-COMMUNITY-MIB, SNMP-TARGET-MIB,
# SNMP-NOTIFICATION-MIB, SNMP-MPD-MIB: configuration an agent must never show.
HIDDEN = (
    "1.3.6.1.6.3.15.", "1.3.6.1.6.3.16.", "1.3.6.1.6.3.18.", "1.3.6.1.6.3.12.",
    "1.3.6.1.6.3.13.", "1.3.6.1.6.3.11.",
)  # fmt: skip

ADMIN = ["-v3", "-l", "authPriv", "-u", "admin", "-a", "SHA", "-A", "admin-auth-key",
         "-x", "AES", "-X", "admin-priv-key"]  # fmt: skip
MONITOR = ["-v3", "-l", "authPriv", "-u", "monitor", "-a", "SHA-256", "-A", "monitor-auth-key",
           "-x", "AES", "-X", "monitor-priv-key"]  # fmt: skip
V1 = ["-v1", "-c", "public"]
V2C = ["-v2c", "-c", "public"]
V2C_WRITE = ["-v2c", "-c", "private"]


def snmp(
    mfpd: Mfpd, tool: str, auth: list[str], *args: str, timeout: float = 2
) -> subprocess.CompletedProcess[str]:
    """One net-snmp command against the daemon: numeric output, no MIB files, one try."""
    need(tool)
    command = [
        tool, *auth, "-m", "", "-On", "-t", str(timeout), "-r", "0",
        f"127.0.0.1:{mfpd.port('snmp')}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def values(output: str) -> dict[str, str]:
    """`.1.3.6... = TYPE: value` lines (a Hex-STRING may continue on the next lines)."""
    found: dict[str, str] = {}
    last = None
    for line in output.splitlines():
        match = re.match(r"^(\.[0-9.]+) = (.*)$", line)
        if match:
            last = match.group(1)
            found[last] = match.group(2)
        elif last is not None:
            found[last] += " " + line.strip()
    return found


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mfpd]:
    need("snmpget")
    mfpd = Mfpd(tmp_path_factory.mktemp("snmp") / "state", CONFIG).start()
    yield mfpd
    mfpd.stop()


def test_the_port_table_row_is_udp(daemon: Mfpd) -> None:
    rows = {
        row["service"]: row for row in json.loads((daemon.state_dir / "ports.json").read_text())
    }
    assert rows["snmp"]["protocol"] == "udp" and rows["snmp"]["state"] == "listening"
    assert rows["snmp"]["standard_port"] == 161 and rows["snmp"]["port"] == daemon.offset + 161


def test_v1_and_v2c_walk_the_system_group(daemon: Mfpd) -> None:
    for auth in (V1, V2C):
        walked = values(ok(snmp(daemon, "snmpwalk", auth, SYSTEM)))
        assert "WorkCentre 7755" in walked[SYS_DESCR]
        assert walked[SYS_OBJECT_ID].startswith("OID: .1.3.6.1.4.1.253.")
        assert walked[SYS_NAME] == 'STRING: "XRX-WC7755"'
        assert list(walked) == sorted(walked, key=lambda o: tuple(map(int, o[1:].split("."))))
    # v1 turns a missing instance into noSuchName; v2c answers noSuchInstance.
    v1 = snmp(daemon, "snmpget", V1, ".1.3.6.1.2.1.1.1.1")
    assert "noSuchName" in v1.stdout + v1.stderr
    v2 = ok(snmp(daemon, "snmpget", V2C, ".1.3.6.1.2.1.1.1.1", SYS_DESCR))
    assert "No Such Instance" in v2 and "WorkCentre" in v2


@pytest.mark.parametrize("auth", [ADMIN, MONITOR], ids=["SHA-AES", "SHA256-AES"])
def test_v3_authpriv_reads(daemon: Mfpd, auth: list[str]) -> None:
    got = values(ok(snmp(daemon, "snmpget", auth, SYS_DESCR, ENGINE_ID, ENGINE_BOOTS)))
    assert "WorkCentre 7755" in got[SYS_DESCR]
    # snmpEngineID: RFC 3411 format, enterprise 253 (Xerox), format 5, the device UUID (made
    # at first start and kept in the state dir).
    device_uuid = (daemon.state_dir / "device-uuid").read_text().strip().replace("-", "")
    expected = f"Hex-STRING:800000FD05{device_uuid.upper()}"
    assert re.sub(r"\s", "", got[ENGINE_ID]) == expected
    assert got[ENGINE_BOOTS] == "INTEGER: 1"
    walked = values(ok(snmp(daemon, "snmpwalk", auth, SYSTEM)))
    assert SYS_LOCATION in walked


def test_a_wrong_community_gets_no_answer(daemon: Mfpd) -> None:
    result = snmp(daemon, "snmpget", ["-v2c", "-c", "not-the-community"], SYS_DESCR, timeout=1)
    assert result.returncode != 0
    assert "Timeout: No Response" in result.stdout + result.stderr
    result = snmp(daemon, "snmpget", ["-v1", "-c", "nope"], SYS_DESCR, timeout=1)
    assert "Timeout: No Response" in result.stdout + result.stderr
    log = daemon.log.read_text()
    assert re.search(r"snmp: 127\.0\.0\.1:\d+: v2c unknown community: no answer", log)
    assert "not-the-community" not in log  # a mistyped secret is not written down


def test_v3_with_a_wrong_key_fails(daemon: Mfpd) -> None:
    wrong_auth = [*ADMIN[:8], "not-the-auth-key", *ADMIN[9:]]
    result = snmp(daemon, "snmpget", wrong_auth, SYS_DESCR)
    assert result.returncode != 0
    assert "Authentication failure" in result.stderr, result.stderr
    unknown = ["-v3", "-l", "authNoPriv", "-u", "mallory", "-a", "SHA", "-A", "whatever1"]
    result = snmp(daemon, "snmpget", unknown, SYS_DESCR)
    assert result.returncode != 0 and "Unknown user name" in result.stderr, result.stderr
    log = daemon.log.read_text()
    assert "v3 wrong authentication digest 'admin'" in log
    assert "v3 unknown user 'mallory'" in log


def test_less_security_than_the_user_has_sees_nothing(daemon: Mfpd) -> None:
    no_priv = ["-v3", "-l", "authNoPriv", "-u", "admin", "-a", "SHA", "-A", "admin-auth-key"]
    result = snmp(daemon, "snmpget", no_priv, SYS_DESCR)
    assert "WorkCentre" not in result.stdout


def test_usm_vacm_and_target_tables_are_invisible(daemon: Mfpd) -> None:
    for auth in (V2C, ADMIN):
        walked = values(ok(snmp(daemon, "snmpwalk", auth, ".1.3.6.1.6.3")))
        assert walked and all(o.startswith(".1.3.6.1.6.3.10.2.1.") for o in walked), walked
        got = ok(snmp(daemon, "snmpget", auth, f"{USM_USER_STATUS}.21.128.0.0.253"))
        assert "No Such Object" in got
    everything = values(ok(snmp(daemon, "snmpbulkwalk", ADMIN, "-Cr50", ".1")))
    assert len(everything) > 40
    assert not [o for o in everything if o[1:].startswith(HIDDEN)]


def test_getbulk_answers_at_least_50_varbinds_in_one_datagram(daemon: Mfpd) -> None:
    for auth in (V2C, ADMIN):
        for repetitions in (60, 200):
            result = snmp(
                daemon, "snmpbulkget", [*auth, "-d"], "-Cn0", f"-Cr{repetitions}", ".1.3.6.1.2.1"
            )
            answers = values(ok(result))
            assert len(answers) >= 50, result.stdout
            sizes = [int(n) for n in re.findall(r"Received (\d+) byte packet", result.stderr)]
            assert sizes and sizes[-1] <= 1472, result.stderr[-2000:]
        # 200 do not fit in 1472 octets: trimmed from the end, not refused with tooBig.
        assert len(answers) < 200 and sizes[-1] > 1300
    # A walk in 50s gets the same objects as one by one.
    bulk = values(ok(snmp(daemon, "snmpbulkwalk", V2C, "-Cr50", ".1.3.6.1.2.1")))
    walk = values(ok(snmp(daemon, "snmpwalk", V2C, ".1.3.6.1.2.1")))
    assert list(bulk) == list(walk)


def test_set_with_the_write_community_refused_with_the_read_one(daemon: Mfpd) -> None:
    got = ok(snmp(daemon, "snmpset", V2C_WRITE, SYS_LOCATION, "s", "Room 42, 3rd floor"))
    assert 'STRING: "Room 42, 3rd floor"' in got
    assert 'STRING: "Room 42, 3rd floor"' in ok(snmp(daemon, "snmpget", V1, SYS_LOCATION))
    assert daemon.status()["identity"]["location"] == "Room 42, 3rd floor"
    # The read community may not write: noAccess (v2c), noSuchName (v1, RFC 3584 4.4).
    refused = snmp(daemon, "snmpset", V2C, SYS_LOCATION, "s", "elsewhere")
    assert refused.returncode != 0 and "noAccess" in refused.stderr, refused.stderr
    refused = snmp(daemon, "snmpset", V1, SYS_LOCATION, "s", "elsewhere")
    assert refused.returncode != 0 and "noSuchName" in refused.stderr, refused.stderr
    # A read-only v3 user neither; a write user may.
    refused = snmp(daemon, "snmpset", MONITOR, SYS_CONTACT, "s", "eve")
    assert refused.returncode != 0 and "noAccess" in refused.stderr, refused.stderr
    ok(snmp(daemon, "snmpset", ADMIN, SYS_CONTACT, "s", "helpdesk@example.com"))
    assert daemon.status()["identity"]["contact"] == "helpdesk@example.com"
    # Test phase first: a bad second varbind leaves the first unapplied, and says which.
    refused = snmp(daemon, "snmpset", V2C_WRITE, SYS_LOCATION, "s", "x", SYS_CONTACT, "i", "5")
    assert "wrongType" in refused.stderr and f"Failed object: {SYS_CONTACT}" in refused.stderr
    assert daemon.status()["identity"]["location"] == "Room 42, 3rd floor"
    refused = snmp(daemon, "snmpset", V2C_WRITE, SYS_DESCR, "s", "mine")
    assert "notWritable" in refused.stderr, refused.stderr


def test_engine_boots_count_restarts(mfpd_factory: Callable[..., Mfpd], tmp_path: Path) -> None:
    need("snmpget")
    daemon = mfpd_factory(CONFIG)
    first = values(ok(snmp(daemon, "snmpget", ADMIN, ENGINE_BOOTS, ENGINE_ID)))
    assert first[ENGINE_BOOTS] == "INTEGER: 1"
    assert daemon.stop() == 0
    daemon.start()
    second = values(ok(snmp(daemon, "snmpget", ADMIN, ENGINE_BOOTS, ENGINE_ID)))
    assert second[ENGINE_BOOTS] == "INTEGER: 2"
    assert second[ENGINE_ID] == first[ENGINE_ID]


def test_v3_only_refuses_communities(mfpd_factory: Callable[..., Mfpd]) -> None:
    need("snmpget")
    daemon = mfpd_factory(CONFIG.replace('write_community = "private"', "v3_only = true"))
    result = snmp(daemon, "snmpget", V2C, SYS_DESCR, timeout=1)
    assert "Timeout: No Response" in result.stdout + result.stderr
    assert "WorkCentre" in ok(snmp(daemon, "snmpget", MONITOR, SYS_DESCR))
