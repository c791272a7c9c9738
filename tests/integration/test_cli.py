"""The command line as a user meets it: defaults, port table, operator actions, errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import MFPD, ROOT, Mfpd, need, run_cli


def test_ports_plans_without_opening_anything(tmp_path: Path) -> None:
    out = run_cli("ports", "--json", "--port-offset", "10000")
    assert out.returncode == 0, out.stderr
    rows = {row["service"]: row for row in json.loads(out.stdout)}
    assert rows["raw"]["port"] == 19100 and rows["raw"]["state"] == "planned"
    assert rows["lpd"]["port"] == 10515
    assert rows["ipp"]["state"] == "planned" and rows["https"]["state"] == "planned"
    assert rows["http"]["state"] in ("planned", "moved")
    assert rows["slp"]["state"] == "planned" and rows["slp"]["port"] == 10427
    assert rows["status"]["address"] == "127.0.0.1" and rows["status"]["port"] == 13003
    config = tmp_path / "c.toml"
    config.write_text("[services.lpd]\nenabled = false\n[services.http]\nenabled = false\n")
    out = run_cli("ports", "--config", str(config), "--bind", "127.0.0.2")
    table = out.stdout.splitlines()
    assert table[0].split() == ["SERVICE", "PROTO", "ADDRESS:PORT", "STATE", "NOTE"]
    assert any(line.startswith("lpd") and "disabled" in line for line in table)
    # IPP and the status channel live on the web server: off with it.
    for name in ("ipp", "status"):
        assert any(line.startswith(name) and "off while http is off" in line for line in table)
    assert any(line.startswith("raw") and "127.0.0.2:9100" in line for line in table)


def test_actions_without_a_daemon_fail_clearly(tmp_path: Path) -> None:
    for args in (("status",), ("refill", "all"), ("fault", "jam")):
        result = run_cli(*args, state_dir=tmp_path)
        assert result.returncode == 1
        assert f"no mfpd is running with state dir {tmp_path}" in result.stderr
    empty = run_cli("jobs", "--json", state_dir=tmp_path)
    assert empty.returncode == 0 and json.loads(empty.stdout) == []


def test_operator_actions_and_human_output(mfpd: Mfpd) -> None:
    assert "Black Toner at 10%" in mfpd.cli("fault", "toner-low").stdout
    status = mfpd.status()
    assert status["state"] == "idle" and status["state_reasons"] == ["toner-low-warning"]
    assert [a["code"] for a in status["alerts"]] == [1104]
    assert "refilled Black Toner" in mfpd.cli("refill", "black").stdout
    mfpd.cli("fault", "toner-empty", "cyan")
    assert mfpd.status()["state"] == "stopped"
    mfpd.cli("refill", "toner")
    text = mfpd.cli("status").stdout
    assert "state:   idle (none)" in text and "Tray 1" not in text and "tray-1" in text
    bad = mfpd.cli("refill", "tray-9", check=False)
    assert bad.returncode == 1 and "no tray or supply 'tray-9'" in bad.stderr
    assert mfpd.cli("jobs").stdout.strip() == "no jobs"


def test_a_reader_that_leaves_ends_the_output_quietly(tmp_path: Path) -> None:
    """Was: `mfpd ports | head -0` (any reader that leaves early) printed a BrokenPipeError
    traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    try:
        result = subprocess.run(
            [*MFPD, "ports"], stdout=write_end, stderr=subprocess.PIPE, text=True,
            timeout=30, cwd=ROOT,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == 128 + signal.SIGPIPE, result.stderr
    assert result.stderr == "", result.stderr


def test_control_clients_that_leave_mid_answer_cost_a_log_line_each(mfpd: Mfpd) -> None:
    """Clients of the control socket that ask thousands of questions and leave without
    reading: each costs one warning (on uvloop a write to a closed transport raises instead
    of being dropped, so this is where a traceback would show), and the socket still serves."""
    path = str(mfpd.state_dir / "control.sock")
    start = mfpd.log.stat().st_size
    for _ in range(10):
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
            client.sendall(b'{"op": "status"}\n' * 2000)
    assert mfpd.status()["state"] in ("idle", "processing", "stopped")  # answered
    with mfpd.log.open() as log:
        log.seek(start)
        text = log.read()
    assert "Traceback" not in text and "Unhandled" not in text, text[-2000:]
    assert 1 <= text.count("control socket: ") <= 10, text[-2000:]


def test_a_second_daemon_on_the_same_state_dir_is_refused(mfpd: Mfpd) -> None:
    second = subprocess.run(
        [*MFPD, "serve", "--state-dir", str(mfpd.state_dir), "--port-offset", "1"],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip
    assert second.returncode == 1
    assert "another mfpd is running" in second.stderr


def _serve_beside(first: Mfpd, name: str, *extra: str) -> list[str]:
    """`mfpd serve` on a state dir of its own but the ports of a running daemon."""
    return [
        *MFPD, "serve", "--config", str(first.config), "--state-dir",
        str(first.state_dir.parent / name), "--port-offset", str(first.offset), *extra,
    ]  # fmt: skip


def test_a_daemon_that_cannot_bind_its_ports_exits_naming_them(mfpd: Mfpd) -> None:
    """A second daemon on the ports of a running one: exit 1, one message naming every
    port with its error, no ports.json (a script waiting for it must not talk to the
    first daemon), no "ready"."""
    second = subprocess.run(
        _serve_beside(mfpd, "second"), capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert second.returncode == 1, second.stderr
    assert not (mfpd.state_dir.parent / "second" / "ports.json").exists()
    assert "7755 ready" not in second.stderr and "SERVICE" not in second.stdout
    message = second.stderr[second.stderr.index("mfpd: cannot start") :]
    assert "ports could not be bound (--keep-going starts without them)" in message
    for service in ("raw", "lpd", "ipp", "http", "https", "status"):
        port = mfpd.port(service)
        assert f"  {service} tcp 127.0.0.1:{port}: Address already in use" in message
    assert f"  snmp udp 127.0.0.1:{mfpd.port('snmp')}: Address already in use" in message
    # Services off or not in this release are not failures.
    assert "slp" not in message and "mdns" not in message
    assert "Traceback" not in second.stderr


def test_a_daemon_that_cannot_bind_releases_what_it_bound(tmp_path: Path) -> None:
    """One port taken: the daemon names it alone and closes the ports it had opened, so the
    operator can free the one port and start again at once."""
    daemon = Mfpd(tmp_path / "state")
    lpd_port = 515 + daemon.offset
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", lpd_port))
        holder.listen()
        result = subprocess.run(
            [
                *MFPD, "serve", "--config", str(daemon.config), "--state-dir",
                str(daemon.state_dir), "--port-offset", str(daemon.offset),
            ],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "cannot start: 1 port could not be bound" in result.stderr
    assert f"  lpd tcp 127.0.0.1:{lpd_port}: Address already in use" in result.stderr
    assert "raw tcp" not in result.stderr.partition("cannot start")[2]
    assert not (daemon.state_dir / "ports.json").exists()
    # The same daemon starts now that the port is free: nothing of the first try held on.
    daemon.start(tries=1)
    try:
        assert daemon.port("lpd") == lpd_port and daemon.port("raw") == 9100 + daemon.offset
    finally:
        assert daemon.stop() == 0


@pytest.mark.parametrize("how", ["--keep-going", "[daemon] keep_going = true"])
def test_keep_going_runs_as_a_partial_device(mfpd: Mfpd, how: str) -> None:
    extra: list[str] = []
    if how.startswith("--"):
        extra = [how]
    else:
        config = mfpd.state_dir.parent / "keep.toml"
        config.write_text(mfpd.config.read_text() + "\n[daemon]\nkeep_going = true\n")
        extra = ["--config", str(config)]  # the later --config wins
    proc = subprocess.Popen(
        _serve_beside(mfpd, "second", *extra),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        rows = _wait_ports(mfpd.state_dir.parent / "second" / "ports.json", proc)
        states = {str(r["service"]): r["state"] for r in rows}
        assert {states[s] for s in ("raw", "lpd", "ipp", "http", "https", "snmp")} == {"failed"}
        # 427 is a shared port (SO_REUSEADDR/SO_REUSEPORT, as slpd and avahi share theirs).
        assert states["slp"] == "listening"
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "7755 ready" in out and "keep_going: running without raw tcp/" in out
    # The first daemon was not disturbed.
    assert mfpd.status()["state"] == "idle"


def test_a_service_switched_on_later_on_a_taken_port_is_not_fatal(mfpd_factory: object) -> None:
    """Only the start is judged: a service the administrator switches on later whose port is
    taken shows "failed" in the live table, and the daemon keeps serving."""
    assert callable(mfpd_factory)
    daemon: Mfpd = mfpd_factory(
        "[engine]\nspeed_ppm = 0\n[services.lpd]\nenabled = false\n", start=False
    )
    daemon.start()
    lpd_port = 515 + daemon.offset
    token = daemon.cli("token", "tests").stdout.strip()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", lpd_port))
        holder.listen()
        request = urllib.request.Request(
            f"http://127.0.0.1:{daemon.port('http')}/api/v1/config",
            data=json.dumps({"services": {"lpd": {"enabled": True}}}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="PATCH",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        rows = json.loads((daemon.state_dir / "ports.json").read_text())
        lpd = next(r for r in rows if r["service"] == "lpd")
        assert lpd["state"] == "failed" and lpd["note"] == "Address already in use"
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert daemon.status()["state"] == "idle"


def _wait_ports(path: Path, proc: subprocess.Popen[str]) -> list[dict[str, object]]:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no ports.json"
        time.sleep(0.05)
    rows: list[dict[str, object]] = json.loads(path.read_text())
    return rows


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_serve_with_no_arguments_as_an_unprivileged_user(tmp_path: Path) -> None:
    """`mfpd serve` alone: embedded defaults, ./mfpd-data, 515 moves to 8515 without privilege.

    As root (CI) the test takes away what a normal user lacks, the right to bind ports below
    1024 (CAP_NET_BIND_SERVICE), since the interpreter may live where other users cannot read.
    """
    if not all(_free(port) for port in (9100, 8515, 8631, 8443)):
        pytest.skip("ports 9100/8515/8631/8443 are in use on this machine")
    if os.geteuid() == 0:
        need("setpriv")  # util-linux: drops the bind privilege
        prefix = ["setpriv", "--bounding-set", "-net_bind_service"]
    else:
        prefix = []
    env = {k: v for k, v in os.environ.items() if k != "MFPD_STATE_DIR"}
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "mfpd", "serve"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        rows = {r["service"]: r for r in _wait_ports(tmp_path / "mfpd-data" / "ports.json", proc)}
        assert rows["raw"]["port"] == 9100 and rows["raw"]["state"] == "listening"
        assert rows["lpd"]["port"] == 8515 and rows["lpd"]["state"] == "moved"
        assert rows["ipp"]["port"] == 8631 and rows["ipp"]["state"] == "moved"
        assert rows["https"]["port"] == 8443 and rows["https"]["state"] == "moved"
        with socket.create_connection(("127.0.0.1", 8515), timeout=5) as sock:
            sock.sendall(b"\x02lp\n")
            assert sock.recv(1) == b"\0"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "lpd          tcp   127.0.0.1:8515           moved" in out
    assert not (tmp_path / "mfpd-data" / "ports.json").exists()


def test_limits_come_from_the_configuration(mfpd_factory: object) -> None:
    assert callable(mfpd_factory)
    daemon: Mfpd = mfpd_factory(
        "[engine]\nspeed_ppm = 0\n[services.raw]\nmax_connections = 2\nidle_timeout = 1.0\n"
        "[spool]\nmax_job_bytes = 1000\n"
    )
    port = daemon.port("raw")
    first = socket.create_connection(("127.0.0.1", port), timeout=10)
    second = socket.create_connection(("127.0.0.1", port), timeout=10)
    third = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        first.sendall(b"idle job data\n")
        assert third.recv(1) == b""  # refused: two connections already open
        # Silence for longer than idle_timeout ends the job and closes the connection.
        first.settimeout(10)
        assert first.recv(1) == b""
        jobs = daemon.wait_jobs_done(1)
        assert jobs[0]["bytes"] == len(b"idle job data\n") and jobs[0]["state"] == "completed"
    finally:
        for sock in (first, second, third):
            sock.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as big:
        big.sendall(b"x" * 5000)
        big.shutdown(socket.SHUT_WR)
        while big.recv(4096):
            pass
    jobs = daemon.wait_jobs_done(2)
    assert jobs[1]["state"] == "aborted" and "job-too-large" in jobs[1]["state_reasons"]
    log = daemon.log.read_text()
    assert "refused: 2 connections open" in log and "exceeds spool.max_job_bytes" in log


TWO_PAGES = b"Hello\fWorld\n"  # plain text: a form feed ends the first page


@pytest.mark.parametrize("via", ["ipp", "lpd", "raw"])
def test_print_sends_a_job_and_prints_its_id(mfpd: Mfpd, tmp_path: Path, via: str) -> None:
    document = tmp_path / "letter.txt"
    document.write_bytes(TWO_PAGES)
    # A job before ours, so that the id printed is not simply 1.
    assert mfpd.cli("print", str(document), "--via", via, "--user", "bob").stdout.strip()
    result = mfpd.cli("print", str(document), "--via", via, "--copies", "3", "--user", "alice")
    job_id = int(result.stdout.strip())
    jobs = {job["id"]: job for job in mfpd.wait_jobs_done(2)}
    job = jobs[job_id]
    assert (job["source"], job["user"], job["name"]) == (via, "alice", "letter.txt")
    assert (job["copies"], job["pages"], job["bytes"]) == (3, 2, len(TWO_PAGES))
    assert job["state"] == "completed"
    assert jobs[job_id - 1]["user"] == "bob"


def test_print_defaults_to_ipp_and_the_login_name(mfpd: Mfpd, tmp_path: Path) -> None:
    document = tmp_path / "memo.txt"
    document.write_bytes(TWO_PAGES)
    result = mfpd.cli("print", str(document), "--name", "Quarterly memo")
    (job,) = mfpd.wait_jobs_done(1)
    assert job["id"] == int(result.stdout) and job["source"] == "ipp"
    assert job["name"] == "Quarterly memo" and job["copies"] == 1 and job["user"]


def test_print_reaches_a_printer_by_host_and_port(mfpd: Mfpd, tmp_path: Path) -> None:
    """Another printer's address: IPP still answers the job id; LPD has none to give."""
    document = tmp_path / "a.txt"
    document.write_bytes(TWO_PAGES)
    port = str(mfpd.port("ipp"))
    job_id = int(run_cli("print", str(document), "--host", "127.0.0.1", "--port", port).stdout)
    lpd = run_cli(
        "print", str(document), "--via", "lpd", "--host", "127.0.0.1", "--port",
        str(mfpd.port("lpd")), "--user", "carol",
    )  # fmt: skip
    assert lpd.returncode == 0 and lpd.stdout == ""
    assert "lpd has no job id in the protocol (give --state-dir to find it)" in lpd.stderr
    jobs = mfpd.wait_jobs_done(2)
    assert [(j["id"], j["source"]) for j in jobs] == [(job_id, "ipp"), (job_id + 1, "lpd")]


def test_print_failures_name_the_cause(mfpd: Mfpd, tmp_path: Path) -> None:
    document = tmp_path / "a.txt"
    document.write_bytes(TWO_PAGES)
    bogus = mfpd.cli("print", str(document), "--format", "application/x-bogus", check=False)
    assert bogus.returncode == 1 and bogus.stdout == ""
    assert bogus.stderr.startswith("mfpd: IPP: client-error-document-format-not-supported")
    queue = mfpd.cli("print", str(document), "--via", "lpd", "--queue", "nope", check=False)
    assert queue.returncode == 1 and "LPD: the printer refused queue 'nope'" in queue.stderr
    missing = mfpd.cli("print", str(tmp_path / "nothing.pdf"), check=False)
    assert missing.returncode == 1 and "nothing.pdf: no such file" in missing.stderr
    copies = mfpd.cli("print", str(document), "--copies", "0", check=False)
    assert copies.returncode == 2 and "copies is 1 to 999" in copies.stderr
    assert mfpd.jobs() == []
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        for via in ("ipp", "lpd", "raw"):
            refused = run_cli("print", str(document), "--via", via, "--port", str(port))
            assert refused.returncode == 1
            assert f"mfpd: cannot connect to 127.0.0.1:{port} ({via}): Connection refused" in (
                refused.stderr
            )


def test_print_to_a_service_that_is_off_says_so(mfpd_factory: object, tmp_path: Path) -> None:
    assert callable(mfpd_factory)
    daemon: Mfpd = mfpd_factory("[engine]\nspeed_ppm = 0\n[services.lpd]\nenabled = false\n")
    document = tmp_path / "a.txt"
    document.write_bytes(TWO_PAGES)
    result = daemon.cli("print", str(document), "--via", "lpd", check=False)
    assert result.returncode == 1
    assert f"the daemon of {daemon.state_dir} has no lpd listener (disabled)" in result.stderr


def test_print_without_a_daemon_says_so(tmp_path: Path) -> None:
    document = tmp_path / "a.txt"
    document.write_bytes(TWO_PAGES)
    result = run_cli("print", str(document), state_dir=tmp_path / "none")
    assert result.returncode == 1
    assert f"no mfpd is running with state dir {tmp_path / 'none'} (no ports.json)" in (
        result.stderr
    )


def test_the_fixture_moves_off_a_port_taken_after_it_chose_it(tmp_path: Path) -> None:
    """Since a daemon that cannot bind exits, Mfpd.start tries other ports when one of its
    own was taken between free_offset() and the bind (by a test's client, say)."""
    daemon = Mfpd(tmp_path / "state")
    chosen = daemon.offset
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 161 + chosen))
        daemon.start()
    try:
        assert daemon.offset != chosen and daemon.port("snmp") == 161 + daemon.offset
        taken_port = 161 + chosen
        assert f"snmp udp 127.0.0.1:{taken_port}: Address already in use" in daemon.log.read_text()
    finally:
        assert daemon.stop() == 0
