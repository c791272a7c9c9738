"""The soak: one daemon for a bounded run of many jobs over raw 9100, LPD, IPP and the web API
from several clients at once, with IPP and SNMP polling alongside, faults raised and cleared
every few hundred jobs, and a kill -9 and restart in the middle. Then the checks: every job a
client saw accepted is accounted for, the page counter adds up, RSS after warm-up stays flat,
the spool holds only the listed jobs' files, and the conformance sequence still passes.

Retention: the daemon keeps the last KEEP finished jobs (not all of them: a job's record costs
memory, and a history of 20,000 would grow the RSS by tens of MB that are not a leak). A
scanner reads `mfpd jobs --json` every few seconds, while a job is still in the window, and
records each job's final state and impressions the first time it sees it finished; the checks
then run on what it saw. Jobs are named `soak-<protocol>-<client>-<n>`, so raw and LPD jobs
are found by name; IPP and API jobs also by the job-id the daemon answered.

Usage: python bench/soak.py [--minutes 20] [--jobs 20000] [--clients 2] [--fault-every 300]
Every loop is bounded in count and time; the exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import ROOT, free_offset, rss_kib

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from mfpd.codecs.ipp import (
    Attribute,
    DelimiterTag,
    Operation,
    ValueTag,
    decode_message,
    encode_message,
    make_request,
)
from tests import conformance
from tests.documents import pdf_bytes

KEEP = 3000
CONFIG = (
    f"""
[engine]
speed_ppm = 0
speed_ppm_color = 0
[spool]
keep_completed = {KEEP}
keep_completed_hours = 0
"""
    + conformance.CONFIG
)
PROTOCOLS = ("raw", "lpd", "ipp", "api")
TERMINAL = ("completed", "canceled", "aborted")
SOCKET_TIMEOUT = 30.0
RSS_EVERY = 3.0
SCAN_EVERY = 5.0
MAX_ATTEMPTS = 1_000_000  # per client: the time bound ends a run long before
FAULTS = (("jam",), ("tray-empty",), ("offline",))


def text_pages(pages: int, tag: str) -> bytes:
    """Plain text of `pages` pages (form feeds between them)."""
    return "\f".join(f"{tag} page {n + 1}\n" for n in range(pages)).encode()


# -- the daemon --------------------------------------------------------------------------


class Daemon:
    """`mfpd serve` in a state dir that survives restarts, on one port offset."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.state = work / "state"
        self.config = work / "mfpd.toml"
        self.config.write_text(CONFIG)
        self.offset = free_offset()
        self.log = (work / "mfpd.log").open("a")
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}

    def start(self) -> None:
        ports = self.state / "ports.json"
        ports.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mfpd",
                "serve",
                "--config",
                str(self.config),
                "--state-dir",
                str(self.state),
                "--port-offset",
                str(self.offset),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while not ports.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mfpd did not start: see {self.log.name}")
            time.sleep(0.05)
        rows = json.loads(ports.read_text())
        self.ports = {r["service"]: r["port"] for r in rows if r["state"] == "listening"}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mfpd", *args, "--state-dir", str(self.state)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def jobs(self) -> list[dict[str, Any]]:
        result = self.cli("jobs", "--json")
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        data: list[dict[str, Any]] = json.loads(result.stdout)
        return data

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.cli("status", "--json").stdout)
        return data


# -- what the clients saw ----------------------------------------------------------------


@dataclass
class Ledger:
    """Jobs the clients sent: accepted (name -> (protocol, job id or None, impressions)) and
    attempts that failed (name -> error), shared by every thread under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[str, tuple[str, int | None, int]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    polls: Counter[str] = field(default_factory=Counter)
    poll_errors: Counter[str] = field(default_factory=Counter)

    def accept(self, name: str, protocol: str, job_id: int | None, impressions: int) -> None:
        with self.lock:
            self.accepted[name] = (protocol, job_id, impressions)

    def fail(self, name: str, error: str) -> None:
        with self.lock:
            self.failed[name] = error

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


class Client(threading.Thread):
    """One sender of one protocol, paced at `rate` jobs/s until `stop` is set."""

    def __init__(self, protocol: str, index: int, run: Run) -> None:
        super().__init__(name=f"{protocol}-{index}", daemon=True)
        self.protocol, self.index, self.run_ = protocol, index, run
        self.ipp: http.client.HTTPConnection | None = None
        self.request_id = 0

    def run(self) -> None:
        run = self.run_
        start = time.monotonic()
        for n in range(MAX_ATTEMPTS):
            if run.stop.is_set():
                break
            due = start + n / run.client_rate
            if (wait := due - time.monotonic()) > 0 and run.stop.wait(wait):
                break
            name = f"soak-{self.protocol}-{self.index}-{n}"
            pages = 1 + n % 3
            try:
                job_id = getattr(self, f"_{self.protocol}")(name, pages)
            except (OSError, RuntimeError, http.client.HTTPException) as exc:
                run.ledger.fail(name, f"{type(exc).__name__}: {exc}")
                self._close()
                run.stop.wait(0.2)  # the daemon may be restarting
                continue
            run.ledger.accept(name, self.protocol, job_id, pages)

    def _close(self) -> None:
        if self.ipp is not None:
            self.ipp.close()
            self.ipp = None

    def _raw(self, name: str, pages: int) -> None:
        pjl = (
            f'\x1b%-12345X@PJL JOB NAME="{name}"\r\n@PJL ENTER LANGUAGE=PLAINTEXT\r\n'.encode()
            + text_pages(pages, name)
            + f'\x1b%-12345X@PJL EOJ NAME="{name}"\r\n\x1b%-12345X'.encode()
        )
        with socket.create_connection(("127.0.0.1", self.run_.port("raw")), SOCKET_TIMEOUT) as s:
            s.sendall(pjl)
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):  # the daemon closes once the job is committed
                pass

    def _lpd(self, name: str, pages: int) -> None:
        number = f"{self.index}{self.request_id % 100:02d}"
        self.request_id += 1
        data = text_pages(pages, name)
        control = f"Hsoak\nPsoak\nJ{name}\nldfA{number}soak\nUdfA{number}soak\nN{name}\n".encode()
        with socket.create_connection(("127.0.0.1", self.run_.port("lpd")), SOCKET_TIMEOUT) as s:
            for step in (
                b"\x02lp\n",
                f"\x02{len(control)} cfA{number}soak\n".encode(),
                control + b"\0",
                f"\x03{len(data)} dfA{number}soak\n".encode(),
                data + b"\0",
            ):
                s.sendall(step)
                if s.recv(1) != b"\0":
                    raise RuntimeError("LPD NAK")

    def _ipp(self, name: str, pages: int) -> int:
        port = self.run_.port("ipp")
        if self.ipp is None:
            self.ipp = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCKET_TIMEOUT)
        self.request_id += 1
        uri = f"ipp://127.0.0.1:{port}/ipp/print"
        request = make_request(
            Operation.PRINT_JOB,
            self.request_id,
            [
                Attribute("printer-uri", ValueTag.URI, (uri,)),
                Attribute("requesting-user-name", ValueTag.NAME, ("soak",)),
                Attribute("job-name", ValueTag.NAME, (name,)),
                Attribute("document-format", ValueTag.MIME_MEDIA_TYPE, ("application/pdf",)),
            ],
        )
        body = encode_message(request) + self.run_.pdfs[pages]
        self.ipp.request("POST", "/ipp/print", body, {"Content-Type": "application/ipp"})
        response = self.ipp.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        message, _ = decode_message(answer)
        job_id = message.get(DelimiterTag.JOB, "job-id")
        if message.code >= 0x0100 or job_id is None or not isinstance(job_id.value, int):
            raise RuntimeError(f"IPP status 0x{message.code:04x}")
        return job_id.value

    def _api(self, name: str, pages: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.run_.port("http"), SOCKET_TIMEOUT)
        try:
            conn.request(
                "POST",
                f"/api/v1/jobs?name={name}&user=soak",
                text_pages(pages, name),
                {"Content-Type": "text/plain", "Authorization": f"Bearer {self.run_.token}"},
            )
            response = conn.getresponse()
            answer = response.read()
        finally:
            conn.close()
        if response.status != 201:
            raise RuntimeError(f"HTTP {response.status}: {answer[:200]!r}")
        job_id: int = json.loads(answer)["id"]
        return job_id


# -- the run -----------------------------------------------------------------------------


class Run:
    def __init__(self, args: argparse.Namespace, daemon: Daemon) -> None:
        self.args = args
        self.daemon = daemon
        self.stop = threading.Event()
        self.done = threading.Event()  # the pollers, scanner and sampler stop at the very end
        self.ledger = Ledger()
        seconds = args.minutes * 60
        self.client_rate = args.jobs / seconds / (len(PROTOCOLS) * args.clients) * 1.05
        self.pdfs = {pages: pdf_bytes(pages) for pages in (1, 2, 3)}
        self.token = ""
        self.rss: list[tuple[float, int, int]] = []  # (seconds, segment, KiB)
        self.segment = 1
        self.t0 = time.monotonic()
        self.seen: dict[int, dict[str, Any]] = {}  # job id -> the job when first seen finished
        self.scan_lock = threading.Lock()
        self.events: list[str] = []
        self.faults = 0
        self.load_end = float("inf")

    def port(self, service: str) -> int:
        return self.daemon.ports[service]

    def note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.t0:7.1f} s] {text}"
        self.events.append(line)
        print(line, flush=True)

    # -- background threads --

    def sample_rss(self) -> None:
        for _ in range(1_000_000):
            if self.done.wait(RSS_EVERY):
                return
            pid = self.daemon.pid
            if pid is not None:
                try:
                    kib = rss_kib(pid)
                except (OSError, RuntimeError):
                    continue
                self.rss.append((time.monotonic() - self.t0, self.segment, kib))

    def scan(self) -> None:
        for _ in range(1_000_000):
            if self.done.wait(SCAN_EVERY):
                return
            self.scan_once()

    def scan_once(self) -> list[dict[str, Any]]:
        with self.scan_lock:
            try:
                jobs = self.daemon.jobs()
            except (RuntimeError, ValueError, subprocess.TimeoutExpired):
                return []
            for job in jobs:
                if job["state"] in TERMINAL and job["id"] not in self.seen:
                    self.seen[job["id"]] = job
            return jobs

    def poll_ipp(self) -> None:
        request_id = 0
        conn: http.client.HTTPConnection | None = None
        for _ in range(10_000_000):
            if self.done.wait(0.25):
                return
            for operation, extra in (
                (Operation.GET_PRINTER_ATTRIBUTES, ()),
                (Operation.GET_JOBS, (Attribute("limit", ValueTag.INTEGER, (20,)),)),
            ):
                request_id += 1
                try:
                    port = self.port("ipp")
                    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    uri = f"ipp://127.0.0.1:{port}/ipp/print"
                    message = make_request(
                        operation,
                        request_id,
                        [Attribute("printer-uri", ValueTag.URI, (uri,)), *extra],
                    )
                    conn.request(
                        "POST",
                        "/ipp/print",
                        encode_message(message),
                        {"Content-Type": "application/ipp"},
                    )
                    response = conn.getresponse()
                    answer, _ = decode_message(response.read())
                    if response.status != 200 or answer.code >= 0x0100:
                        raise RuntimeError(f"status {answer.code:#06x}")
                    self.ledger.polls[operation.name] += 1
                except (OSError, RuntimeError, ValueError, http.client.HTTPException):
                    self.ledger.poll_errors[operation.name] += 1
                    if conn is not None:
                        conn.close()
                    conn = None

    def poll_snmp(self) -> None:
        for n in range(1_000_000):
            if self.done.wait(2.0):
                return
            tool, oid = (("snmpbulkwalk", "1.3.6.1.2.1.43"), ("snmpwalk", "1.3.6.1.2.1.25.3"))[
                n % 2
            ]
            try:
                result = subprocess.run(
                    [
                        tool,
                        "-v2c",
                        "-c",
                        "public",
                        "-On",
                        "-t",
                        "5",
                        "-r",
                        "1",
                        f"127.0.0.1:{self.port('snmp')}",
                        oid,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                ok = result.returncode == 0 and result.stdout.count("\n") > 10
            except subprocess.TimeoutExpired:
                ok = False
            self.ledger.polls[tool] += ok
            self.ledger.poll_errors[tool] += not ok

    def operate(self) -> None:
        """Faults raised and cleared every `fault_every` accepted jobs, paper refilled."""
        next_at = self.args.fault_every
        for n in range(1_000_000):
            if self.stop.wait(0.5):
                return
            if self.ledger.count() < next_at:
                continue
            next_at += self.args.fault_every
            (kind,) = FAULTS[n % len(FAULTS)]
            raised = self.daemon.cli("fault", kind)
            if self.stop.wait(random.uniform(0.5, 2.0)):
                pass
            cleared = (
                self.daemon.cli("refill", "all")
                if kind == "tray-empty"
                else self.daemon.cli("fault", kind, "--clear")
            )
            self.daemon.cli("refill", "all")
            self.faults += 1
            if raised.returncode or cleared.returncode:
                self.note(f"fault {kind}: {raised.stderr.strip()} {cleared.stderr.strip()}")

    # -- the phases --

    def load(self) -> float:
        seconds = self.args.minutes * 60
        clients = [
            Client(protocol, index, self)
            for protocol in PROTOCOLS
            for index in range(self.args.clients)
        ]
        helpers = [
            threading.Thread(target=fn, daemon=True)
            for fn in (self.sample_rss, self.scan, self.poll_ipp, self.poll_snmp, self.operate)
        ]
        for thread in (*helpers, *clients):
            thread.start()
        start = time.monotonic()
        killed = False
        for _ in range(1_000_000):
            elapsed = time.monotonic() - start
            accepted = self.ledger.count()
            if elapsed > seconds or (accepted >= self.args.jobs and elapsed > seconds * 0.5):
                break
            if not killed and elapsed > seconds / 2:
                self.note(f"kill -9 after {accepted} accepted jobs")
                in_flight = self.start_in_flight()
                self.daemon.kill9()
                for sock in in_flight:
                    sock.close()
                self.segment = 2
                self.daemon.start()
                self.note("restarted")
                killed = True
            time.sleep(0.5)
        self.stop.set()
        for thread in clients:
            thread.join(SOCKET_TIMEOUT + 10)
        took = time.monotonic() - start
        self.load_end = time.monotonic() - self.t0
        self.note(f"load over: {self.ledger.count()} accepted in {took:.0f} s")
        return took

    def start_in_flight(self) -> list[socket.socket]:
        """A raw and an LPD job half sent when the kill -9 comes: they must come back as
        aborted with job-data-insufficient (README: nothing accepted is lost, a job still
        arriving is listed as such)."""
        raw = socket.create_connection(("127.0.0.1", self.port("raw")), SOCKET_TIMEOUT)
        raw.sendall(b'\x1b%-12345X@PJL JOB NAME="soak-inflight-raw"\r\n' + b"half a job\n" * 100)
        lpd = socket.create_connection(("127.0.0.1", self.port("lpd")), SOCKET_TIMEOUT)
        control = b"Hsoak\nPsoak\nJsoak-inflight-lpd\nldfA999soak\nNsoak-inflight-lpd\n"
        for step in (b"\x02lp\n", b"\x02%d cfA999soak\n" % len(control), control + b"\0",
                     b"\x03100000 dfA999soak\n"):  # fmt: skip
            lpd.sendall(step)
            if lpd.recv(1) != b"\0":
                raise RuntimeError("LPD NAK")
        lpd.sendall(b"half a job\n" * 100)
        # Until the daemon has recorded both as arriving (state pending, job-incoming).
        for _ in range(100):
            names = {job["name"] for job in self.daemon.jobs() if job["state"] == "pending"}
            if {"soak-inflight-raw", "soak-inflight-lpd"} <= names:
                break
            time.sleep(0.1)
        return [raw, lpd]

    def settle(self, limit: float = 180) -> list[dict[str, Any]]:
        """Faults cleared, paper in, and every job finished (at most `limit` seconds)."""
        for kind in ("jam", "offline"):
            self.daemon.cli("fault", kind, "--clear")
        self.daemon.cli("refill", "all")
        deadline = time.monotonic() + limit
        while True:
            jobs = self.scan_once()
            live = [j for j in jobs if j["state"] not in TERMINAL]
            if not live or time.monotonic() > deadline:
                return jobs
            time.sleep(1)


# -- the checks --------------------------------------------------------------------------


def check_jobs(run: Run, jobs: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    by_name: dict[str, dict[str, Any]] = {}
    for job in [*run.seen.values(), *jobs]:
        by_name.setdefault(job["name"], job)
    for name, (protocol, job_id, _pages) in run.ledger.accepted.items():
        job = by_name.get(name)
        if job is None:
            problems.append(f"accepted {protocol} job {name} (id {job_id}) was never listed")
        elif job_id is not None and job["id"] != job_id:
            problems.append(f"{name}: the client was told job {job_id}, the list has {job['id']}")
        elif job["id"] not in run.seen:
            problems.append(f"{name} (job {job['id']}) never finished: {job['state']}")
        elif run.seen[job["id"]]["state"] != "completed":
            seen = run.seen[job["id"]]
            problems.append(f"accepted {name} ended {seen['state']} {seen['state_reasons']}")
    for name in ("soak-inflight-raw", "soak-inflight-lpd"):
        job = by_name.get(name)
        if job is None or job["state"] != "aborted":
            problems.append(f"{name}, in flight at the kill -9: {job and job['state']}")
        elif "job-data-insufficient" not in job["state_reasons"]:
            problems.append(f"{name} aborted with {job['state_reasons']}")
        else:
            run.note(f"{name}: aborted {job['state_reasons']}, {job['bytes']} bytes")
    for job in run.seen.values():
        if job["name"].startswith("soak-inflight-"):
            continue
        if job["name"] in run.ledger.accepted or not job["name"].startswith("soak-"):
            continue
        # Not confirmed to its client: in flight at the kill -9, or refused (fault, restart).
        reasons = job["state_reasons"]
        if job["state"] == "aborted" and "job-data-insufficient" not in reasons:
            problems.append(f"unconfirmed {job['name']} aborted without job-data-insufficient")
        if job["name"] not in run.ledger.failed:
            problems.append(f"{job['name']} listed ({job['state']}) but its client never sent it")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=2, help="per protocol")
    parser.add_argument("--fault-every", type=int, default=300)
    parser.add_argument("--warmup", type=float, default=0.2, help="share of each segment")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mfpd-soak-"))
    daemon = Daemon(work)
    daemon.start()
    run = Run(args, daemon)
    problems: list[str] = []
    try:
        token = daemon.cli("token", "soak").stdout.split()
        run.token = token[-1] if token else ""
        directory = conformance.prepare_directory(ROOT / ".cache" / "ipptool")
        took = run.load()
        jobs = run.settle()
        problems += check_jobs(run, jobs)
        status = daemon.status()
        # The conformance sequence on the daemon with its history and after the kill -9.
        runs = conformance.run_sequence(daemon.ports, directory)
        conformance_ok = conformance.passed(runs)
        if not conformance_ok:
            problems.append("conformance sequence failed:\n" + conformance.report(runs))
        jobs = run.settle()
        run.done.set()
        final = daemon.status()
        problems += check_counters(run, jobs, final)
        problems += check_spool(daemon, jobs)
        rss_problems, rss_table = check_rss(run, args.warmup)
        problems += rss_problems
        report(run, took, status, final, runs, rss_table, problems, work)
    finally:
        run.done.set()
        run.stop.set()
        daemon.stop()
    return 1 if problems else 0


def check_counters(run: Run, jobs: list[dict[str, Any]], status: dict[str, Any]) -> list[str]:
    problems = []
    listed = {job["id"] for job in jobs}
    unseen = [j for j in jobs if j["id"] not in run.seen]
    if unseen:
        problems.append(f"{len(unseen)} jobs never finished, e.g. {unseen[0]}")
    printed = sum(job["impressions_completed"] for job in run.seen.values())
    counter = status["counters"]["impressions"]
    if counter != printed:
        problems.append(f"page counter {counter} != {printed} impressions of the jobs seen")
    completed = sum(job["state"] == "completed" for job in run.seen.values())
    if status["counters"]["jobs_completed"] != completed:
        problems.append(
            f"jobs_completed counter {status['counters']['jobs_completed']} != {completed} seen"
        )
    # Job ids are given in order: one never seen finished vanished (or left the window unseen).
    gaps = sorted(set(range(1, max(run.seen, default=0) + 1)) - set(run.seen))
    if gaps:
        problems.append(f"{len(gaps)} job ids never seen finished: {gaps[:20]}")
    purged = len(set(run.seen) - listed)
    run.note(f"{len(run.seen)} jobs seen finished, {purged} purged since; {printed} impressions")
    return problems


def check_spool(daemon: Daemon, jobs: list[dict[str, Any]]) -> list[str]:
    documents = {name for job in jobs for name in job["documents"]}
    files = {path.name for path in (daemon.state / "spool").iterdir()}
    extra = sorted(files - documents)
    if extra:
        return [f"{len(extra)} spool files belong to no listed job, e.g. {extra[:5]}"]
    return []


def check_rss(run: Run, warmup: float) -> tuple[list[str], list[str]]:
    problems, table = [], []
    for segment in (1, 2):
        # The load phase: the conformance run after it is another kind of work (big Get-Jobs
        # answers over a full history, raster jobs), shown in the curve but not judged here.
        samples = [(t, kib) for t, s, kib in run.rss if s == segment and t <= run.load_end]
        if len(samples) < 4:
            continue
        first, last = samples[0][0], samples[-1][0]
        after = [kib for t, kib in samples if t >= first + (last - first) * warmup]
        base, end = after[0], statistics.median(kib for _, kib in samples[-3:])
        growth = (end - base) / 1024
        table.append(
            f"segment {segment}: after warm-up {base / 1024:.1f} MiB, end {end / 1024:.1f}"
            f" MiB, growth {growth:+.1f} MiB, peak {max(after) / 1024:.1f} MiB"
        )
        if growth >= 20:
            problems.append(f"RSS of segment {segment} grew {growth:.1f} MiB after warm-up")
    return problems, table


def report(
    run: Run,
    took: float,
    status: dict[str, Any],
    final: dict[str, Any],
    runs: list[conformance.Run],
    rss_table: list[str],
    problems: list[str],
    work: Path,
) -> None:
    ledger = run.ledger
    per = Counter(protocol for protocol, _, _ in ledger.accepted.values())
    print("\n## soak result")
    print(f"command: python bench/soak.py {' '.join(sys.argv[1:])}")
    print(
        f"accepted {len(ledger.accepted)} jobs in {took:.0f} s "
        f"({len(ledger.accepted) / took:.1f} jobs/s): "
        + ", ".join(f"{p} {per[p]}" for p in PROTOCOLS)
    )
    print(
        f"failed attempts: {len(ledger.failed)} "
        f"({Counter(e.split(':')[0] for e in ledger.failed.values()).most_common(4)})"
    )
    print(f"polls: {dict(ledger.polls)}; poll errors: {dict(ledger.poll_errors)}")
    print(f"faults raised and cleared: {run.faults}")
    print(f"counters before the conformance run: {status['counters']}")
    print(f"counters at the end: {final['counters']}")
    states = Counter((j["state"], tuple(j["state_reasons"])) for j in run.seen.values())
    print(f"jobs seen finished: {dict(states)}")
    print(f"conformance: {sum(r.ok for r in runs)}/{len(runs)} files passed")
    every = max(30.0, took / 20)
    marks, shown = [], -every
    for t, segment, kib in run.rss:
        if t - shown >= every:
            shown = t
            phase = ("*" if segment == 2 else "") + ("c" if t > run.load_end else "")
            marks.append(f"{t:.0f}s:{kib / 1024:.0f}{phase}")
    print(f"RSS (MiB) every ~{every:.0f} s (* restarted, c after the load): " + " ".join(marks))
    for line in rss_table:
        print(line)
    print("\n".join(run.events))
    print("RESULT: " + ("PASS" if not problems else "FAIL"))
    for problem in problems[:50]:
        print("  - " + problem)
    print(f"state, log: {work}")
    (work / "soak.json").write_text(
        json.dumps(
            {
                "rss": run.rss,
                "accepted": len(ledger.accepted),
                "per": per,
                "problems": problems,
                "took": took,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
