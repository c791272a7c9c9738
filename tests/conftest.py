"""Fixtures that start the real daemon (`mfpd serve`) and drive it like a user would."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from hypothesis import settings

# No timing assertions in tests: Hypothesis's per-example deadline (200 ms by default) is one,
# and it fails on a machine busy with the integration tests' daemons and servers (a 0.3 s
# example of the fax-mail parser did in CI). Tests that set their own settings keep them.
settings.register_profile("mfpd", deadline=None)
settings.load_profile("mfpd")

ROOT = Path(__file__).resolve().parent.parent
MFPD = [sys.executable, "-m", "mfpd"]
ARTIFACTS = ROOT / "test-artifacts"

FAST_CONFIG = """
[engine]
speed_ppm = 0
speed_ppm_color = 0
"""


def _port_free(port: int) -> bool:
    # Both kinds: SNMP listens on UDP, and a UDP client's ephemeral port may hold the number.
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_offset(ports: tuple[int, ...] = (9100, 515, 631, 80, 443, 161, 3003)) -> int:
    """A port offset under which every standard port of ours is free."""
    for _ in range(200):
        offset = random.randrange(10000, 55000, 7)
        if all(_port_free(p + offset) for p in ports):
            return offset
    raise RuntimeError("no free port offset")


def run_cli(
    *args: str, state_dir: Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    cmd = [*MFPD, *args]
    if state_dir is not None:
        cmd += ["--state-dir", str(state_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


class Mfpd:
    """A running `mfpd serve` in its own state dir and port offset."""

    def __init__(self, state_dir: Path, config_text: str = FAST_CONFIG) -> None:
        self.state_dir = state_dir
        self.config = state_dir.parent / f"{state_dir.name}.toml"
        self.config.write_text(config_text)
        self.offset = free_offset()
        self.proc: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}
        self.log = state_dir.parent / f"{state_dir.name}.log"

    def start(self, timeout: float = 30, tries: int = 3) -> Mfpd:
        ports_file = self.state_dir / "ports.json"
        ports_file.unlink(missing_ok=True)
        for attempt in range(1, tries + 1):
            begin = self.log.stat().st_size if self.log.exists() else 0
            with self.log.open("a") as log:
                self.proc = subprocess.Popen(
                    [
                        *MFPD, "serve", "--config", str(self.config), "--state-dir",
                        str(self.state_dir), "--port-offset", str(self.offset),
                    ],
                    stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                )  # fmt: skip
            deadline = time.monotonic() + timeout
            while not ports_file.exists():
                if self.proc.poll() is not None:
                    with self.log.open() as text:
                        text.seek(begin)
                        out = text.read()
                    # Another process took a port between free_offset() and the bind: the
                    # daemon refuses to start (exit 1 naming it); try other ports.
                    if "could not be bound" in out and attempt < tries:
                        self.offset = free_offset()
                        break
                    raise RuntimeError(f"mfpd exited {self.proc.returncode}:\n{out}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mfpd did not start:\n{self.log.read_text()}")
                time.sleep(0.05)
            else:
                break
        rows = json.loads(ports_file.read_text())
        self.ports = {
            row["service"]: row["port"] for row in rows if row["state"] in ("listening", "moved")
        }
        return self

    def port(self, service: str) -> int:
        return self.ports[service]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.proc = None

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, state_dir=self.state_dir)
        if check and result.returncode != 0:
            raise AssertionError(f"mfpd {' '.join(args)} failed: {result.stderr}")
        return result

    def jobs(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads(self.cli("jobs", "--json").stdout)
        return data

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.cli("status", "--json").stdout)
        return data

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs()
            if predicate(jobs):
                return jobs
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; jobs now: {json.dumps(jobs, indent=1)}")
            time.sleep(0.1)

    def wait_jobs_done(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        terminal = ("completed", "canceled", "aborted")
        return self.wait_for(
            lambda jobs: len(jobs) >= count and all(j["state"] in terminal for j in jobs), timeout
        )


@pytest.fixture
def mfpd_factory(tmp_path: Path) -> Iterator[Callable[..., Mfpd]]:
    started: list[Mfpd] = []

    def make(config_text: str = FAST_CONFIG, name: str = "state", start: bool = True) -> Mfpd:
        daemon = Mfpd(tmp_path / name, config_text)
        started.append(daemon)
        return daemon.start() if start else daemon

    yield make
    for daemon in started:
        if daemon.proc is not None:
            daemon.stop(signal.SIGKILL)


@pytest.fixture
def mfpd(mfpd_factory: Callable[..., Mfpd]) -> Mfpd:
    return mfpd_factory()


# Set by .ci/run: there every tool, root and network namespaces are there by construction (make
# test installs them), so a test that would skip for want of one means a broken install step.
REQUIRE_ALL = "MFPD_TESTS_REQUIRE_ALL"


def require_all() -> bool:
    return os.environ.get(REQUIRE_ALL, "") not in ("", "0")


def missing(reason: str) -> NoReturn:
    """This machine lacks what the test needs (a tool, root, a network namespace): skip on a
    developer's machine, fail naming it under MFPD_TESTS_REQUIRE_ALL=1."""
    if require_all():
        pytest.fail(f"{reason} ({REQUIRE_ALL}=1: required, not skipped)", pytrace=False)
    pytest.skip(reason)


def _not_installed(tools: tuple[str, ...]) -> list[str]:
    return [tool for tool in tools if not (shutil.which(tool) or os.path.exists(tool))]


def need(*tools: str) -> None:
    """Skip unless every tool is installed (`make test` installs them when run as root)."""
    absent = _not_installed(tools)
    if absent:
        missing(f"not installed: {', '.join(absent)}")


def has(*tools: str) -> bool:
    """Whether every tool is installed, for a test that checks a little more where it is;
    under MFPD_TESTS_REQUIRE_ALL=1 a missing tool fails the test instead."""
    absent = _not_installed(tools)
    if absent and require_all():
        missing(f"not installed: {', '.join(absent)}")
    return not absent


def need_root(why: str) -> None:
    if os.geteuid() != 0:
        missing(f"needs root: {why}")


@contextlib.contextmanager
def network_namespace(prefix: str, timeout: float = 30) -> Iterator[str]:
    """A network namespace of the test's own (`ip netns add`) with its loopback up, deleted
    afterwards: where multicast and the standard ports can be had without touching the
    machine's interfaces. Needs root and iproute2 (`missing` otherwise)."""
    need_root("network namespaces")
    need("ip")  # iproute2

    def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", *args], capture_output=True, text=True, timeout=timeout, check=check
        )

    name = f"{prefix}-{os.getpid()}"
    ip("netns", "del", name, check=False)  # left over by a killed run of this very pid
    created = ip("netns", "add", name, check=False)
    if created.returncode != 0:
        missing(f"no network namespace: ip netns add failed: {created.stderr.strip()}")
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        ip("netns", "del", name, check=False)


@contextlib.contextmanager
def multicast_namespace(prefix: str, timeout: float = 30) -> Iterator[str]:
    """A network namespace whose loopback carries multicast (issue 13's recipe): where the
    discovery responders and their real clients (avahi, nmap's broadcast scripts, ...) meet
    without a packet on the machine's own interfaces."""
    with network_namespace(prefix, timeout) as name:
        for args in (
            ("link", "set", "lo", "multicast", "on"),
            ("route", "add", "224.0.0.0/4", "dev", "lo"),
        ):
            subprocess.run(
                ["ip", "-n", name, *args], capture_output=True, text=True, timeout=timeout,
                check=True,
            )  # fmt: skip
        yield name


class NamespacedMfpd(Mfpd):
    """`mfpd serve` with port offset 0 inside a network namespace: every service on its
    standard port (SNMP 161, raw 9100, SLP 427, ...). The control socket is a file in the
    state dir, so `mfpd status` works from outside."""

    def __init__(
        self, state_dir: Path, config_text: str, namespace: str, bind: str = "127.0.0.1"
    ) -> None:
        super().__init__(state_dir, config_text)
        self.namespace = namespace
        self.bind = bind
        self.offset = 0
        self.rows: list[dict[str, Any]] = []

    def start(self, timeout: float = 30, tries: int = 1) -> NamespacedMfpd:
        ports_file = self.state_dir / "ports.json"
        ports_file.unlink(missing_ok=True)
        with self.log.open("a") as log:
            # `ip netns exec` execs the command: the process is the daemon itself.
            self.proc = subprocess.Popen(
                [
                    "ip", "netns", "exec", self.namespace, *MFPD, "serve",
                    "--config", str(self.config), "--state-dir", str(self.state_dir),
                    "--port-offset", "0", "--bind", self.bind,
                ],
                stdout=log, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not ports_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"mfpd exited {self.proc.returncode}:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"mfpd did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.rows = json.loads(ports_file.read_text())
        self.ports = {r["service"]: r["port"] for r in self.rows if r["state"] == "listening"}
        return self

    def finish(self, timeout: float = 30) -> None:
        """Stop it (SIGKILL if SIGTERM takes longer than `timeout`) and fail on any traceback
        it logged: what every namespaced test's teardown checks."""
        if self.proc is not None:
            try:
                self.stop(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.stop(signal.SIGKILL)
        log = self.log.read_text()
        assert "Traceback" not in log, log[log.index("Traceback") - 600 :][:4000]

    def run(
        self,
        command: list[str],
        timeout: float = 30,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A client run inside the daemon's namespace, bounded (`timeout -k`)."""
        return run_in_namespace(self.namespace, command, timeout, env, input)


def run_in_namespace(
    namespace: str,
    command: list[str],
    timeout: float = 30,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", namespace, "timeout", "-k", "5", str(timeout), *command],
        capture_output=True, text=True, timeout=timeout + 15, env={**os.environ, **(env or {})},
        input=input, stdin=None if input is not None else subprocess.DEVNULL,
    )  # fmt: skip


def requires(available: bool, reason: str) -> pytest.MarkDecorator:
    """need() as a marker, for tests that decide at import (`@requires(GS is not None, ...)`):
    pytest_runtest_setup below skips, or fails under MFPD_TESTS_REQUIRE_ALL=1."""
    return pytest.mark.requires(available, reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(available, reason): needs what this machine may lack (see need())"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        available, reason = mark.args
        if not available:
            missing(reason)
