"""SNMP notifications from the real daemon to Debian's real snmptrapd (net-snmp 5.9).

snmptrapd runs in the foreground on a free loopback port with its own configuration:
`format1`/`format2` print each notification on one line, and `createUser` lines hold the v3
users: one localized to our engine ID (`-e`, for traps, where we are authoritative) and one
without (for informs, where snmptrapd is). The daemon sends coldStart at start,
authenticationFailure when snmpget uses a wrong community, and printerV2Alert when
`mfpd fault jam` raises a critical alert. Every wait is bounded; "does not block" is shown by
the order of events, not by durations.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mfpd.config import parse_config
from mfpd.device.machine import build_device
from mfpd.services.snmp.engine_id import engine_id
from mfpd.services.snmp.mib_system import SYS_OBJECT_ID
from tests.conftest import FAST_CONFIG, Mfpd, need

SNMPTRAPD = "/usr/sbin/snmptrapd"
pytestmark = pytest.mark.integration

COLD_START = "1.3.6.1.6.3.1.1.5.1"
AUTH_FAILURE = "1.3.6.1.6.3.1.1.5.5"
PRINTER_V2_ALERT = "1.3.6.1.2.1.43.18.2.0.1"
PRINTER_V1_ALERT = "1.3.6.1.2.1.43.18.2"
ALERT_ENTRY = "1.3.6.1.2.1.43.18.1.1"
SYS_OBJECT = ".".join(map(str, SYS_OBJECT_ID))
# printerV2Alert's OID as BER content octets: what a datagram carrying one contains.
PRINTER_V2_ALERT_BER = bytes([0x2B, 6, 1, 2, 1, 0x2B, 0x12, 2, 0, 1])

TRAP_USER = ("trapper", "sha256", "SHA-256", "trapper-auth", "aes", "AES", "trapper-priv")
INFORM_USER = ("informer", "sha", "SHA", "informer-auth", "aes", "AES", "informer-priv")
COMMUNITY = "mfp-traps"
WAIT = 30.0


@dataclass
class Trap:
    """One notification as snmptrapd printed it."""

    version: str  # v1, v2c, v3
    pdu: str  # TRAP (v1), TRAP2, INFORM
    security: str  # "community X" or "user X"
    trap_oid: str
    varbinds: dict[str, str] = field(default_factory=dict)
    enterprise: str = ""  # v1 only
    agent: str = ""
    generic: int = -1
    specific: int = -1

    @property
    def kind(self) -> tuple[str, str]:
        return self.version, self.pdu

    def integer(self, column: int) -> int:
        """A prtAlertEntry column carried by a printerV2Alert, whatever its instance."""
        prefix = f"{ALERT_ENTRY}.{column}.1."
        values = [v for k, v in self.varbinds.items() if k.startswith(prefix)]
        assert len(values) == 1, (column, self.varbinds)
        return int(values[0].removeprefix("INTEGER: "))


def _varbinds(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in filter(None, text.split("\t")):
        name, _, value = item.partition(" = ")
        found[name.strip().lstrip(".")] = value.strip()
    return found


def parse_line(line: str) -> Trap | None:
    """`format1 V1|%a|%N|%w|%q|%P|%v` and `format2 V2|%B|%P|%v` lines."""
    if line.startswith("V1|"):
        _, agent, enterprise, generic, specific, security, varbinds = line.split("|", 6)
        enterprise = enterprise.lstrip(".")
        generic_number, specific_number = int(generic), int(specific.lstrip("."))
        # RFC 3584 3.1: a v1 trap's SNMPv2 identity.
        if generic_number == 6:
            trap_oid = f"{enterprise}.0.{specific_number}"
        else:
            trap_oid = f"1.3.6.1.6.3.1.1.5.{generic_number + 1}"
        pdu, version, who = (part.strip() for part in security.split(",", 2))
        return Trap(
            "v1", pdu, who, trap_oid, _varbinds(varbinds), enterprise, agent,
            generic_number, specific_number,
        )  # fmt: skip
    if line.startswith("V2|"):
        _, source, security, varbinds = line.split("|", 3)
        parts = [part.strip() for part in security.split(",")]
        pdu, version, who = parts[0], parts[1].removeprefix("SNMP "), parts[2]
        bindings = _varbinds(varbinds)
        trap_oid = bindings.get("1.3.6.1.6.3.1.1.4.1.0", "").removeprefix("OID: ").lstrip(".")
        return Trap(version, pdu, who, trap_oid, bindings, agent=source)
    return None


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TrapReceiver:
    """Debian's snmptrapd on a loopback port, printing one line per notification."""

    def __init__(self, directory: Path, engine: bytes, *, debug: str = "") -> None:
        need(SNMPTRAPD)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_udp_port()
        self.output = directory / "snmptrapd.out"
        name, _, auth, auth_key, _, priv, priv_key = TRAP_USER
        inform_name, _, inform_auth, inform_key, _, inform_priv, inform_priv_key = INFORM_USER
        conf = directory / "snmptrapd.conf"
        conf.write_text(
            "disableAuthorization yes\n"
            f"authCommunity log,execute,net {COMMUNITY}\n"
            # Traps: we are authoritative, the keys are localized to our engine ID.
            f"createUser -e 0x{engine.hex()} {name} {auth} {auth_key} {priv} {priv_key}\n"
            # Informs: snmptrapd is authoritative; we discover its engine ID.
            f"createUser {inform_name} {inform_auth} {inform_key} {inform_priv} "
            f"{inform_priv_key}\n"
            "format1 V1|%a|%N|%w|%q|%P|%v\\n\n"
            "format2 V2|%B|%P|%v\\n\n"
        )
        persist = directory / "persist"
        persist.mkdir(exist_ok=True)
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "SNMPCONFPATH": str(persist)}
        command = [SNMPTRAPD, "-f", "-Lo", "-C", "-c", str(conf), "-n", "-m", "", "-On"]
        if debug:
            command.append(f"-D{debug}")
        command.append(f"udp:127.0.0.1:{self.port}")
        with self.output.open("w") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.wait_text(lambda text: "NET-SNMP version" in text, "snmptrapd to start")

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def traps(self) -> list[Trap]:
        parsed = (parse_line(line) for line in self.text().splitlines())
        return [trap for trap in parsed if trap is not None]

    def wait_text(self, predicate: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            text = self.text()
            if predicate(text):
                return text
            if self.proc.poll() is not None:
                raise AssertionError(f"snmptrapd exited {self.proc.returncode}:\n{text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; snmptrapd printed:\n{text}")
            time.sleep(0.1)

    def wait(self, predicate: Callable[[list[Trap]], bool], what: str) -> list[Trap]:
        deadline = time.monotonic() + WAIT
        while True:
            traps = self.traps()
            if predicate(traps):
                return traps
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; snmptrapd printed:\n{self.text()}"
                )
            time.sleep(0.1)

    def of(self, trap_oid: str) -> list[Trap]:
        return [trap for trap in self.traps() if trap.trap_oid == trap_oid]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Callable[..., TrapReceiver]]:
    started: list[TrapReceiver] = []

    def make(engine: bytes, name: str = "trapd", debug: str = "") -> TrapReceiver:
        receiver = TrapReceiver(tmp_path / name, engine, debug=debug)
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


def users_toml() -> str:
    text = ""
    for name, auth, _, auth_key, priv, _, priv_key in (TRAP_USER, INFORM_USER):
        text += f"""
[[services.snmp.users]]
name = "{name}"
auth_protocol = "{auth}"
auth_key = "{auth_key}"
priv_protocol = "{priv}"
priv_key = "{priv_key}"
"""
    return text


def destination(port: int, version: str, *, inform: bool = False, **extra: object) -> str:
    user = INFORM_USER[0] if inform else TRAP_USER[0]
    lines = [
        "[[services.snmp.traps]]",
        f'address = "{extra.pop("address", "127.0.0.1")}"',
        f"port = {port}",
        f'version = "{version}"',
        f'community = "{COMMUNITY}"',
        f"inform = {'true' if inform else 'false'}",
    ]
    if version == "v3":
        lines.append(f'user = "{user}"')
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


# A configured UUID: the engine ID (made from it) must be known before the daemon starts,
# to localize the trap receiver's keys; a state dir's own UUID is made at first start.
IDENTITY = '[identity]\nuuid = "6d0b5fa8-8a3c-4c1e-9d55-775500000001"\n'


def config(*destinations: str, snmp: str = "") -> str:
    return f"{FAST_CONFIG}\n{IDENTITY}\n[services.snmp]\n{snmp}\n{users_toml()}\n" + "".join(
        destinations
    )


def our_engine_id(config_text: str) -> bytes:
    """The snmpEngineID the daemon derives from its identity (engine_id.py)."""
    return engine_id(build_device(parse_config(config_text)).identity)


def snmpget(daemon: Mfpd, community: str, oid: str) -> subprocess.CompletedProcess[str]:
    need("snmpget")
    address = f"127.0.0.1:{daemon.port('snmp')}"
    return subprocess.run(
        ["snmpget", "-v2c", "-c", community, "-m", "", "-On", "-r0", "-t2", address, oid],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def wrong_community(daemon: Mfpd) -> None:
    """A GET with a community the agent does not know: no answer, an auth failure."""
    result = snmpget(daemon, "not-the-community", "1.3.6.1.2.1.1.5.0")
    assert result.returncode != 0 and "Timeout" in result.stdout + result.stderr


def log_lines(daemon: Mfpd, pattern: str) -> list[str]:
    return [line for line in daemon.log.read_text().splitlines() if re.search(pattern, line)]


def wait_log(daemon: Mfpd, pattern: str, count: int) -> list[str]:
    """The daemon's log lines matching `pattern`, once there are `count` of them."""
    deadline = time.monotonic() + WAIT
    while len(lines := log_lines(daemon, pattern)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(lines) == count, (pattern, daemon.log.read_text())
    return lines


def alert_objects(trap: Trap) -> tuple[int, ...]:
    """(prtAlertIndex, SeverityLevel, Group, GroupIndex, Code), each from its column."""
    index = trap.integer(1)
    for column in (1, 2, 4, 5, 6, 7):
        names = [k for k in trap.varbinds if k.startswith(f"{ALERT_ENTRY}.{column}.1.")]
        assert names == [f"{ALERT_ENTRY}.{column}.1.{index}"], trap.varbinds
    trap.integer(6)  # prtAlertLocation: present, an INTEGER
    return index, trap.integer(2), trap.integer(4), trap.integer(5), trap.integer(7)


ALL_KINDS = {("v1", "TRAP"), ("v2c", "TRAP2"), ("v2c", "INFORM"), ("v3", "TRAP2"), ("v3", "INFORM")}


def test_cold_start_auth_failure_and_alert_over_every_version_and_informs(
    mfpd_factory: Callable[..., Mfpd], receivers: Callable[..., TrapReceiver]
) -> None:
    receiver = receivers(our_engine_id(config()))
    port = receiver.port
    text = config(
        destination(port, "v1"),
        destination(port, "v2c"),
        destination(port, "v2c", inform=True),
        destination(port, "v3"),
        destination(port, "v3", inform=True),
    )
    daemon = mfpd_factory(text)

    # coldStart, once per destination.
    receiver.wait(lambda _: {t.kind for t in receiver.of(COLD_START)} >= ALL_KINDS, "coldStart")
    cold = {trap.kind: trap for trap in receiver.of(COLD_START)}
    assert len(receiver.of(COLD_START)) == 5
    v1 = cold["v1", "TRAP"]
    assert (v1.enterprise, v1.generic, v1.specific, v1.agent) == (SYS_OBJECT, 0, 0, "127.0.0.1")
    assert v1.security == f"community {COMMUNITY}"
    assert cold["v2c", "TRAP2"].security == f"community {COMMUNITY}"
    assert cold["v3", "TRAP2"].security == f"user {TRAP_USER[0]}"
    assert cold["v3", "INFORM"].security == f"user {INFORM_USER[0]}"
    for trap in cold.values():
        if trap.version != "v1":
            assert trap.varbinds["1.3.6.1.6.3.1.1.4.3.0"] == f"OID: .{SYS_OBJECT}"
            assert trap.varbinds["1.3.6.1.2.1.1.3.0"].startswith("Timeticks:")

    # authenticationFailure, after a request with a wrong community.
    wrong_community(daemon)
    receiver.wait(
        lambda _: {t.kind for t in receiver.of(AUTH_FAILURE)} >= ALL_KINDS, "authenticationFailure"
    )
    auth_v1 = next(t for t in receiver.of(AUTH_FAILURE) if t.version == "v1")
    assert (auth_v1.enterprise, auth_v1.generic, auth_v1.specific) == (SYS_OBJECT, 4, 0)

    # printerV2Alert, when a jam is added to the alert table.
    daemon.cli("fault", "jam")
    receiver.wait(
        lambda _: {t.kind for t in receiver.of(PRINTER_V2_ALERT)} >= ALL_KINDS, "printerV2Alert"
    )
    alerts = receiver.of(PRINTER_V2_ALERT)
    assert len(alerts) == 5
    objects = {alert_objects(trap) for trap in alerts}
    assert len(objects) == 1, objects  # every version carries the same row
    index, severity, group, group_index, code = objects.pop()
    assert (severity, group, group_index, code) == (3, 5, -1, 8)  # critical generalPrinter jam
    assert index >= 1
    # ... the row the agent serves in prtAlertTable, object for object.
    v2c_alert = next(t for t in alerts if t.kind == ("v2c", "TRAP2"))
    for name, value in v2c_alert.varbinds.items():
        if name.startswith(ALERT_ENTRY + "."):
            served = snmpget(daemon, "public", name)
            assert served.returncode == 0, served
            assert served.stdout.strip() == f".{name} = {value}", (served.stdout, value)
    v1_alert = next(t for t in alerts if t.version == "v1")
    assert (v1_alert.enterprise, v1_alert.generic, v1_alert.specific) == (PRINTER_V1_ALERT, 6, 1)
    assert v1_alert.agent == "127.0.0.1"

    # snmptrapd acknowledged every inform, and the daemon saw the acknowledgements.
    for version in ("v2c", "v3"):
        for name in ("coldStart", "authenticationFailure", "printerV2Alert"):
            pattern = rf"inform {name}\b.* acknowledged by 127\.0\.0\.1:{port} \({version}\)"
            wait_log(daemon, pattern, 1)
    # One log line per notification and destination: 3 notifications x 5 destinations.
    wait_log(daemon, r"snmp: (trap .* sent to|inform .* acknowledged by)", 15)


def test_v3_traps_carry_our_engine_and_a_boots_count_that_goes_up(
    mfpd_factory: Callable[..., Mfpd], receivers: Callable[..., TrapReceiver]
) -> None:
    """A receiver accepts our v3 traps after a restart only if snmpEngineBoots went up
    (RFC 3414 3.2 7b); snmptrapd's lcd_set_enginetime debug line shows what it recorded."""
    engine = our_engine_id(config())
    receiver = receivers(engine, debug="lcd_set_enginetime")
    daemon = mfpd_factory(config(destination(receiver.port, "v3")))
    receiver.wait(lambda _: len(receiver.of(COLD_START)) == 1, "the first coldStart")
    daemon.stop()
    daemon.start()
    receiver.wait(lambda _: len(receiver.of(COLD_START)) == 2, "coldStart after the restart")

    ours = " ".join(f"{octet:02X}" for octet in engine)
    recorded = [
        (int(boots), int(seconds))
        for hexes, boots, seconds in re.findall(
            r"engineID ((?:[0-9A-F]{2}\s+)+): boots=(\d+), time=(\d+)", receiver.text()
        )
        # (snmptrapd first records 0/0 for an engine it is about to check: not a message's)
        if " ".join(hexes.split()) == ours and int(boots) > 0
    ]
    assert len(recorded) == 2, receiver.text()
    (first_boots, _), (second_boots, second_time) = recorded
    assert first_boots >= 1
    assert second_boots == first_boots + 1
    assert second_time < 600  # snmpEngineTime counts from the new boot


def test_switches_leave_out_auth_failures_and_non_critical_alerts(
    mfpd_factory: Callable[..., Mfpd], receivers: Callable[..., TrapReceiver]
) -> None:
    receiver = receivers(our_engine_id(config()))
    daemon = mfpd_factory(
        config(destination(receiver.port, "v2c"), snmp="authentication_traps = false\n")
    )
    receiver.wait(lambda _: len(receiver.of(COLD_START)) == 1, "coldStart")
    wrong_community(daemon)
    daemon.cli("fault", "toner-low")  # a warning: not announced under "critical"
    daemon.cli("fault", "jam")
    receiver.wait(lambda _: len(receiver.of(PRINTER_V2_ALERT)) >= 1, "printerV2Alert")
    # One destination's notifications arrive in order: had the authentication failure or the
    # toner warning been sent, they would be here before the jam.
    assert receiver.of(AUTH_FAILURE) == []
    assert [alert_objects(t)[-1] for t in receiver.of(PRINTER_V2_ALERT)] == [8]


def test_all_announces_warnings_too(
    mfpd_factory: Callable[..., Mfpd], receivers: Callable[..., TrapReceiver]
) -> None:
    receiver = receivers(our_engine_id(config()))
    daemon = mfpd_factory(config(destination(receiver.port, "v2c"), snmp='alert_traps = "all"\n'))
    receiver.wait(lambda _: len(receiver.of(COLD_START)) == 1, "coldStart")
    daemon.cli("fault", "toner-low")
    receiver.wait(lambda _: len(receiver.of(PRINTER_V2_ALERT)) == 1, "printerV2Alert")
    _, severity, group, group_index, code = alert_objects(receiver.of(PRINTER_V2_ALERT)[0])
    black = 1  # the black toner is the first supply
    assert (severity, group, group_index, code) == (4, 11, black, 1104)


def test_a_dead_destination_delays_neither_the_others_nor_the_agent(
    mfpd_factory: Callable[..., Mfpd], receivers: Callable[..., TrapReceiver]
) -> None:
    """First in the list: an inform to a port that takes datagrams and never answers (its
    coldStart alone keeps it busy 5 + 10 + 20 + 40 + 60 s), then a host name that does not
    resolve; last, snmptrapd. The last one gets coldStart and the jam's printerV2Alert, and the
    agent answers, while the first is still on its first notification."""
    receiver = receivers(our_engine_id(config()))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent.settimeout(WAIT)
    dead = silent.getsockname()[1]
    try:
        daemon = mfpd_factory(
            config(
                destination(dead, "v2c", inform=True, timeout=5, retries=4),
                destination(162, "v2c", address="mfpd-trap-test.invalid"),
                destination(receiver.port, "v2c"),
            )
        )
        first = silent.recv(65535)  # the dead destination's coldStart inform
        assert PRINTER_V2_ALERT_BER not in first
        receiver.wait(lambda _: len(receiver.of(COLD_START)) == 1, "coldStart")
        daemon.cli("fault", "jam")
        receiver.wait(lambda _: len(receiver.of(PRINTER_V2_ALERT)) == 1, "printerV2Alert")
        # The agent answers meanwhile (snmpEngineID.0 is always served).
        answer = snmpget(daemon, "public", "1.3.6.1.6.3.10.2.1.1.0")
        assert answer.returncode == 0 and "Hex-STRING" in answer.stdout, answer
        assert daemon.status()["alerts"]
        # The unresolvable one failed, one line per notification, without holding anyone up.
        unresolvable = r"trap (coldStart|printerV2Alert) to mfpd-trap-test\.invalid:162 .*failed"
        wait_log(daemon, unresolvable, 2)
        # ... and the dead one is still on its first notification: no outcome logged, and
        # nothing but coldStart (retransmitted) has reached its port.
        assert log_lines(daemon, rf"127\.0\.0\.1:{dead} ") == [], daemon.log.read_text()
        silent.setblocking(False)
        later = []
        while True:
            try:
                later.append(silent.recv(65535))
            except BlockingIOError:
                break
        assert all(PRINTER_V2_ALERT_BER not in datagram for datagram in later)
    finally:
        silent.close()
