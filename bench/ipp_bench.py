"""IPP against CUPS's ippeveprinter, side by side in one run.

On each server: Get-Printer-Attributes requests/s (what CUPS asks when it builds a driverless
queue, "all" and "media-col-database", on one connection; "all" alone and
"printer-description" alone, sent as CUPS's clients send them, on one connection; and what
its ipp backend polls, over N connections), Validate-Job requests/s and Print-Job jobs/s of a
one-page PDF over N concurrent keep-alive HTTP/1.1 connections (8 by default), and the wall
time of ipptool's `ipp-everywhere.test` run as its README says. The reference is
`ippeveprinter -c /bin/true` (the fastest way to run it: each job runs /bin/true instead of a
simulated engine), which needs a system D-Bus even with `-r off`: one is started, and
stopped after, when /run/dbus/system_bus_socket is missing.

Two things about the reference shape the method. ippeveprinter takes one job at a time and
answers the others server-error-busy: a client sends such a job again 1 ms later and only
accepted jobs count. And ippeveprinter (CUPS 2.4.2) loses requests when two clients at once
ask for collection-valued attributes (the connection waits forever for its answer), so the
Get-Printer-Attributes figures of everything use a single connection for both servers.

The client is the same for every server: one process per connection (blocking sockets, no
event loop), requests encoded once with the project's codec (`encode_message`), each
answer's HTTP status, IPP status and request-id checked, and the first answer on each
connection decoded whole (`MessageParser`). An error never counts as speed. Most figures
send the plainest request (Content-Length, nothing else). The two "as CUPS" figures send
what ipptool, driverless and CUPS's ipp backend send (captured through a socat relay): the
head CUPS 2.4's HTTP library writes, with `Date`, `User-Agent`, `Accept-Encoding` (ipptool's)
and `Expect: 100-continue`, head and body in one segment, and the IPP body of ipptool's
get-printer-attributes.test (charset, language, printer-uri, requested-attributes; no
requesting-user-name). The clients' CPU time per request is printed beside the server's,
and the same clients are first run against a responder that answers every request at once
with a fixed successful-ok (the "client ceiling": what the clients can drive on this
machine). Clients and server share the machine's cores: on 2 cores a server as fast as the
ceiling is measured at the ceiling.
Usage: python bench/ipp_bench.py [--seconds 5] [--clients 8] [--runs 3] [--ipptool-runs 1]
                                 [--skip-ipptool] [--event-loop auto|uvloop|asyncio]
                                 [--figures KIND,...]
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import multiprocessing as mp
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from common import BENCH_CONFIG, ROOT, Daemon, filter_rules, free_port, percentile

sys.path.insert(0, str(ROOT))  # tests.ipp_samples renders the documents ipptool prints
sys.path.insert(0, str(ROOT / "src"))

from mfpd.codecs.ipp import (
    Attribute,
    AttributeGroup,
    DelimiterTag,
    MessageParser,
    Operation,
    StatusCode,
    ValueTag,
    encode_message,
    make_request,
    make_response,
)
from tests.documents import pdf_bytes, postscript_bytes
from tests.ipp_samples import prepare

IPPTOOL_DIR = ROOT / ".cache" / "ipptool"
SYSTEM_BUS = Path("/run/dbus/system_bus_socket")
# What CUPS asks a driverless printer when it builds a queue (lpadmin -m everywhere) ...
QUEUE_SETUP = ("all", "media-col-database")
# ... and what its ipp backend asks before and while it prints (backend/ipp.c, pattrs).
BACKEND_POLL = (
    "compression-supported", "copies-supported", "cups-version", "document-format-supported",
    "marker-colors", "marker-high-levels", "marker-levels", "marker-low-levels",
    "marker-message", "marker-names", "marker-types", "media-col-supported",
    "multiple-document-handling-supported", "operations-supported",
    "print-color-mode-supported", "printer-alert", "printer-alert-description",
    "printer-is-accepting-jobs", "printer-mandatory-job-attributes", "printer-state",
    "printer-state-message", "printer-state-reasons",
)  # fmt: skip
# The HTTP head CUPS 2.4.2's HTTP library sends (ipptool, driverless and the ipp backend
# alike; Accept-Encoding is ipptool's alone), field for field in its order.
CUPS_HEAD = (
    "POST /ipp/print HTTP/1.1\r\nContent-Length: %d\r\nContent-Type: application/ipp\r\n"
    "Date: %s\r\nHost: localhost:{port}\r\nUser-Agent: CUPS/2.4.2 ({system} {release}; "
    "{machine}) IPP/2.0\r\nAccept-Encoding: deflate, gzip, identity\r\n"
    "Expect: 100-continue\r\n\r\n"
)
WARMUP = 20  # requests per connection before the clock starts
TIMEOUT = 5.0  # seconds without an answer: counted as an error, the client reconnects
BUSY = 0x0507  # server-error-busy: ippeveprinter takes one job at a time ...
RETRY_AFTER = 0.001  # ... so a client sends the job again 1 ms later (CUPS waits longer)
MAX_REQUESTS = 200_000  # per connection: every loop is bounded in count as well as time


# -- requests ------------------------------------------------------------------------------


def _operation(uri: str, *extra: Attribute) -> list[Attribute]:
    return [
        Attribute("printer-uri", ValueTag.URI, (uri,)),
        Attribute("requesting-user-name", ValueTag.NAME, ("bench",)),
        *extra,
    ]


def _job_template() -> AttributeGroup:
    # Values both servers support, so that either answers successful-ok.
    return AttributeGroup(
        DelimiterTag.JOB,
        (
            Attribute("media", ValueTag.KEYWORD, ("iso_a4_210x297mm",)),
            Attribute("sides", ValueTag.KEYWORD, ("one-sided",)),
            Attribute("copies", ValueTag.INTEGER, (1,)),
        ),
    )


# Requests sent as CUPS's clients send them (CUPS_HEAD), and what they ask for: ipptool's
# get-printer-attributes.test with one value of requested-attributes.
AS_CUPS = {
    "get-printer-attributes-all-cups": "all",
    "get-printer-attributes-description-cups": "printer-description",
}


def ipp_request(kind: str, uri: str) -> bytes:
    """The application/ipp octets of one request (request-id 1; the client renumbers)."""
    if kind in AS_CUPS:
        message = make_request(
            Operation.GET_PRINTER_ATTRIBUTES,
            1,
            [
                Attribute("printer-uri", ValueTag.URI, (uri,)),
                Attribute("requested-attributes", ValueTag.KEYWORD, (AS_CUPS[kind],)),
            ],
        )
    elif kind.startswith("get-printer-attributes"):
        wanted = QUEUE_SETUP if kind.endswith("all") else BACKEND_POLL
        message = make_request(
            Operation.GET_PRINTER_ATTRIBUTES,
            1,
            _operation(uri, Attribute("requested-attributes", ValueTag.KEYWORD, wanted)),
        )
    else:
        operation = Operation.VALIDATE_JOB if kind == "validate-job" else Operation.PRINT_JOB
        message = make_request(
            operation,
            1,
            _operation(
                uri,
                Attribute("job-name", ValueTag.NAME, ("onepage.pdf",)),
                Attribute("document-format", ValueTag.MIME_MEDIA_TYPE, ("application/pdf",)),
            ),
            groups=(_job_template(),),
        )
    return encode_message(message)


def one_page_pdf(directory: Path) -> bytes:
    """A one-page PDF made by Ghostscript from one page of text (make_pdf's if gs is absent)."""
    if shutil.which("gs") is None:
        return pdf_bytes(1)
    source, out = directory / "onepage.ps", directory / "onepage.pdf"
    source.write_bytes(postscript_bytes(1))
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", "-sPAPERSIZE=a4",
         "-o", str(out), str(source)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return out.read_bytes()


# -- the client ----------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs application/ipp and reads the answer;
    `as_cups`: with the head CUPS's HTTP library sends (CUPS_HEAD), else the plainest one."""

    def __init__(self, port: int, as_cups: bool = False) -> None:
        self.port = port
        self.head = (
            f"POST /ipp/print HTTP/1.1\r\nHost: localhost:{port}\r\n"
            "Content-Type: application/ipp\r\nContent-Length: "
        ).encode()
        uname = os.uname()
        self.cups_head = (
            CUPS_HEAD.format(
                port=port, system=uname.sysname, release=uname.release, machine=uname.machine
            ).encode()
            if as_cups
            else None
        )
        self._second = -1
        self._date = b""
        self.sock = self._connect()
        self.buf = b""
        self.reconnects = 0

    def _head(self, length: int) -> bytes:
        if self.cups_head is None:
            return b"%s%d\r\n\r\n" % (self.head, length)
        now = int(time.time())
        if now != self._second:  # CUPS sends the Date of each request
            self._second = now
            self._date = email.utils.formatdate(now, usegmt=True).encode()
        return self.cups_head % (length, self._date)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one request; the HTTP status and the response body."""
        self.sock.sendall(self._head(len(body)) + body)
        while True:
            end = self.buf.find(b"\r\n\r\n")
            while end < 0:
                self._fill()
                end = self.buf.find(b"\r\n\r\n")
            head = self.buf[:end].lower()
            self.buf = self.buf[end + 4 :]
            status = int(head[9:12])
            if status != 100:  # 100 Continue: the real answer follows
                break
        if b"\ntransfer-encoding: chunked" in head:
            data = self._read_chunked()
        else:
            at = head.find(b"\ncontent-length:")
            stop = head.find(b"\r", at + 1)
            data = self._read(int(head[at + 16 : stop if stop > 0 else None]) if at > 0 else 0)
        if b"\nconnection: close" in head:
            self.reconnect()
        return status, data

    def reconnect(self) -> None:
        self.sock.close()
        self.sock = self._connect()
        self.buf = b""
        self.reconnects += 1

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line, self.buf = self.buf[:end], self.buf[end + 2 :]
        return line

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._read_line().split(b";")[0], 16):
            parts.append(self._read(size))
            self._read_line()
        while self._read_line():  # trailer
            pass
        return b"".join(parts)

    def close(self) -> None:
        self.sock.close()


def _check(status: int, body: bytes, request_id: int, full: bool) -> str:
    """What an answer was: ok (HTTP 200, successful-ok, our request-id), busy
    (server-error-busy) or what was wrong with it."""
    if status != 200:
        return f"HTTP {status}"
    if len(body) < 9:
        return "short IPP response"
    code = int.from_bytes(body[2:4], "big")
    if code == BUSY:
        return "busy"
    if code != 0:
        return f"IPP status 0x{code:04x}"
    if int.from_bytes(body[4:8], "big") != request_id:
        return "request-id not echoed"
    if full:
        parser = MessageParser()
        if parser.feed(body) is None or parser.remaining:
            return "IPP response not decodable"
    return "ok"


def _worker(
    port: int,
    request: bytes,
    document: bytes,
    seconds: float,
    barrier: Barrier,
    out: Any,
    as_cups: bool,
) -> None:
    """One client connection: warm up, wait for the others, then loop until the deadline."""
    try:
        conn = Connection(port, as_cups)
        tally: dict[str, int] = {}
        request_id = 1

        def attempt(full: bool) -> str:
            nonlocal request_id
            request_id += 1
            body = request[:4] + request_id.to_bytes(4, "big") + request[8:] + document
            try:
                return _check(*conn.post(body), request_id, full)
            except TimeoutError:
                conn.reconnect()
                return f"no answer in {TIMEOUT:g} s"

        def once(full: bool, deadline: float) -> bool:
            """One request, sent again while the server is busy; True once it succeeded."""
            while True:
                outcome = attempt(full)
                if outcome != "ok":
                    tally[outcome] = tally.get(outcome, 0) + 1
                if outcome != "busy" or time.monotonic() >= deadline:
                    return outcome == "ok"
                time.sleep(RETRY_AFTER)

        warmup_end = time.monotonic() + 30
        for n in range(WARMUP):
            once(full=n == 0, deadline=warmup_end)  # one whole decode: the answer is real IPP
        tally.clear()
        barrier.wait(60)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        deadline = start + seconds
        latencies: list[float] = []
        ok = 0
        while len(latencies) < MAX_REQUESTS:
            t0 = time.monotonic()
            success = once(full=False, deadline=deadline)
            t1 = time.monotonic()
            if success:
                ok += 1
                latencies.append(t1 - t0)
            if t1 >= deadline:
                break
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
        conn.close()
        sample = latencies[:: max(1, len(latencies) // 2000)]
        out.put((start, t1, ok, tally, cpu, sample, conn.reconnects))
    except Exception as exc:  # reported to the parent, which fails the run
        barrier.abort()
        out.put(exc)


def _server_cpu(pid: int) -> float:
    """utime + stime of the process and its reaped children (ippeveprinter's commands)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Figure:
    rate: float  # successful requests per second, all clients together
    ok: int
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    server_us: float  # server CPU per successful request
    client_us: float  # client CPU per successful request (all client processes)
    reconnects: int


def measure(
    pid: int,
    port: int,
    request: bytes,
    document: bytes,
    clients: int,
    seconds: float,
    as_cups: bool = False,
) -> Figure:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    out = ctx.SimpleQueue()
    procs = [
        ctx.Process(target=_worker, args=(port, request, document, seconds, barrier, out, as_cups))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    try:
        try:
            barrier.wait(120)
        except threading.BrokenBarrierError:
            failures = {repr(out.get()) for _ in procs}
            raise RuntimeError(f"clients failed: {', '.join(sorted(failures))}") from None
        cpu_before = _server_cpu(pid)
        results = [out.get() for _ in procs]
        cpu_after = _server_cpu(pid)
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    for result in results:
        if isinstance(result, Exception):
            raise RuntimeError(f"client failed: {result!r}") from result
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    ok = sum(r[2] for r in results)
    errors: dict[str, int] = {}
    for r in results:
        for reason, count in r[3].items():
            errors[reason] = errors.get(reason, 0) + count
    latencies = [lat for r in results for lat in r[5]]
    return Figure(
        rate=ok / (end - start),
        ok=ok,
        errors=errors,
        p50_ms=1000 * percentile(latencies, 50),
        p99_ms=1000 * percentile(latencies, 99),
        server_us=1e6 * (cpu_after - cpu_before) / max(1, ok),
        client_us=1e6 * sum(r[4] for r in results) / max(1, ok),
        reconnects=sum(r[6] for r in results),
    )


# -- the servers ---------------------------------------------------------------------------


class SystemBus:
    """A system D-Bus for ippeveprinter, started only if none is running."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        if SYSTEM_BUS.exists():
            return
        if shutil.which("dbus-daemon") is None:
            raise SystemExit("ippeveprinter needs a system D-Bus: apt-get install dbus-daemon")
        SYSTEM_BUS.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(["dbus-daemon", "--system", "--nofork", "--nopidfile"])
        deadline = time.monotonic() + 10
        while not SYSTEM_BUS.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("dbus-daemon --system did not start")
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            SYSTEM_BUS.unlink(missing_ok=True)


class Ippeveprinter:
    """`ippeveprinter -c /bin/true` on a free port, its spool in a temp dir."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="ippeve-bench-")
        self.port = free_port()
        spool = Path(self.tmp.name) / "spool"
        spool.mkdir()
        self.log = open(Path(self.tmp.name) / "ippeveprinter.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["ippeveprinter", "-c", "/bin/true", "-r", "off", "-p", str(self.port),
             "-d", str(spool), "-f", "application/pdf,image/pwg-raster,image/urf,image/jpeg",
             "-n", "localhost", "ippeve-bench"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait_for(self.port, self.proc, "ippeveprinter")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()
        self.tmp.cleanup()


_ANSWER = encode_message(make_response(StatusCode.SUCCESSFUL_OK, 1))


class _Responder(asyncio.Protocol):
    """The clients' ceiling: answers each POST, once its body is in, with a fixed
    successful-ok echoing the request-id (no IPP decoding, no state)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = self.buf[:end].lower()
            at = head.find(b"\ncontent-length:")
            stop = head.find(b"\r", at + 1)
            length = int(head[at + 16 : stop if stop > 0 else None]) if at > 0 else 0
            if len(self.buf) < end + 4 + length:
                return
            answer = _ANSWER[:4] + self.buf[end + 8 : end + 12] + _ANSWER[8:]
            self.buf = self.buf[end + 4 + length :]
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
            )


async def _respond(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Responder, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


class Responder:
    """`python ipp_bench.py --responder PORT`: what the clients can drive on this machine."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--responder", str(self.port)], cwd=Path(__file__).parent
        )
        _wait_for(self.port, self.proc, "the responder")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _wait_for(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


def queued_jobs(port: int, uri: str) -> int:
    """queued-job-count of a printer (jobs not yet completed)."""
    request = make_request(
        Operation.GET_PRINTER_ATTRIBUTES,
        1,
        _operation(uri, Attribute("requested-attributes", ValueTag.KEYWORD, ("queued-job-count",))),
    )
    conn = Connection(port)
    try:
        status, body = conn.post(encode_message(request))
    finally:
        conn.close()
    parser = MessageParser()
    message = parser.feed(body)
    attr = message.get(DelimiterTag.PRINTER, "queued-job-count") if message else None
    if status != 200 or attr is None or not isinstance(attr.value, int):
        raise RuntimeError("no queued-job-count")
    return attr.value


def drain(port: int, uri: str, limit: float = 60, refill: Callable[[], None] | None = None) -> str:
    """How long until every job has completed (waiting at most `limit` seconds). `refill`
    loads paper again while jobs wait: a 5 s Print-Job figure can queue more sheets than the
    trays hold, and a backlog left over would print during the next figures."""
    start = last_refill = time.monotonic()
    while queued := queued_jobs(port, uri):
        now = time.monotonic()
        if now - start > limit:
            return f"{queued} jobs still queued after {limit:g} s"
        if refill is not None and now - last_refill > 1:
            refill()
            last_refill = now
        time.sleep(0.1)
    return f"every job completed {time.monotonic() - start:.1f} s later"


def refill(daemon: Daemon) -> None:
    """Paper and toner for the next jobs: a few thousand pages empty the WorkCentre's trays,
    and the engine then waits for paper, as the real one does."""
    subprocess.run(
        [sys.executable, "-m", "mfpd", "refill", "all", "--state-dir", str(daemon.state)],
        cwd=ROOT, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def ipptool_everywhere(port: int) -> tuple[float, int, int, int]:
    """Wall seconds of ipp-everywhere.test, and its PASS, FAIL and SKIP counts."""
    uri = f"ipp://127.0.0.1:{port}/ipp/print"
    start = time.monotonic()
    result = subprocess.run(
        ["ipptool", "-t", "-I", "-V", "2.0", "-f", "onepage-letter.pdf", uri,
         "ipp-everywhere.test"],
        cwd=IPPTOOL_DIR, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    seconds = time.monotonic() - start
    lines = result.stdout.splitlines()
    counts = [sum(f"[{word}]" in line for line in lines) for word in ("PASS", "FAIL", "SKIP")]
    return seconds, counts[0], counts[1], counts[2]


# -- the run -------------------------------------------------------------------------------

# (request, label, unit, clients): None is --clients. Get-Printer-Attributes of everything
# runs on one connection: ippeveprinter (CUPS 2.4.2) loses requests when two clients at once
# ask for collection-valued attributes (media-col-database, media-col-default): the
# connection gets no answer, its thread waits in httpWait.
KINDS: tuple[tuple[str, str, str, int | None], ...] = (
    ("get-printer-attributes-all", "Get-Printer-Attributes all", "req/s", 1),
    ("get-printer-attributes-all-cups", "GPA all, as CUPS", "req/s", 1),
    ("get-printer-attributes-description-cups", "GPA description, as CUPS", "req/s", 1),
    ("get-printer-attributes-poll", "Get-Printer-Attributes poll", "req/s", None),
    ("validate-job", "Validate-Job", "req/s", None),
    ("print-job", "Print-Job 1-page PDF", "jobs/s", None),
)


def report(label: str, name: str, unit: str, clients: int, fig: Figure) -> None:
    busy = fig.errors.pop("busy", 0)
    errors = ", ".join(f"{k}: {v}" for k, v in fig.errors.items()) or "none"
    print(
        f"{label:<28} {name:<14} {fig.rate:7.0f} {unit:<6} {clients} client(s)  "
        f"p50 {fig.p50_ms:6.2f} ms  p99 {fig.p99_ms:6.2f} ms  "
        f"CPU/req server {fig.server_us:4.0f} us, clients {fig.client_us:4.0f} us  "
        f"errors: {errors}"
        + (f"  busy answers (sent again): {busy}" if busy else "")
        + (f"  reconnects: {fig.reconnects}" if fig.reconnects else ""),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--skip-ipptool", action="store_true")
    parser.add_argument(
        "--filter-rules", type=int, default=0, metavar="N",
        help="load N IP filter rules that the client passes through (the gate's cost)",
    )  # fmt: skip
    parser.add_argument(
        "--ipptool-runs", type=int, default=1, help="runs that also time ipp-everywhere.test"
    )
    parser.add_argument(
        "--event-loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="mfpd's event loop ([daemon] event_loop; auto is uvloop where installed)",
    )
    parser.add_argument(
        "--figures",
        type=lambda text: text.split(","),
        default=[kind for kind, *_ in KINDS],
        help="the request rates to measure (default all): " + ",".join(k for k, *_ in KINDS),
    )
    parser.add_argument("--responder", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = set(args.figures) - {kind for kind, *_ in KINDS}
    if unknown:
        parser.error(f"no such figure: {', '.join(sorted(unknown))}")
    if args.responder:
        asyncio.run(_respond(args.responder))
        return
    for tool in ("ippeveprinter", "ipptool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install cups-ipp-utils)")
    if not args.skip_ipptool:
        prepare(IPPTOOL_DIR, "ipp-everywhere.test")
    print(f"{os.cpu_count()} CPUs shared by the server under test and the {args.clients} "
          f"client processes; {args.seconds:g} s per figure, {args.runs} run(s)")  # fmt: skip

    bus = SystemBus()
    servers: dict[str, tuple[int, int]] = {}
    responder = eve = daemon = None
    try:
        responder = Responder()
        eve = Ippeveprinter()
        daemon = Daemon(
            BENCH_CONFIG + f'[daemon]\nevent_loop = "{args.event_loop}"\n'
            + filter_rules(args.filter_rules)
        )  # fmt: skip
        servers = {
            "client ceiling": (responder.proc.pid, responder.port),
            "ippeveprinter": (eve.proc.pid, eve.port),
            "mfpd": (daemon.proc.pid, daemon.ports["ipp"]),
        }
        with tempfile.TemporaryDirectory() as tmp:
            pdf = one_page_pdf(Path(tmp))
        rates: dict[tuple[str, str], list[float]] = {}
        for run in range(1, args.runs + 1):
            print(f"run {run}")
            for kind, label, unit, fixed in KINDS:
                if kind not in args.figures:
                    continue
                clients = fixed or args.clients
                for name, (pid, port) in servers.items():
                    uri = f"ipp://localhost:{port}/ipp/print"
                    document = pdf if kind == "print-job" else b""
                    request = ipp_request(kind, uri)
                    if kind == "print-job" and name == "mfpd":
                        refill(daemon)
                    fig = measure(
                        pid, port, request, document, clients, args.seconds, kind in AS_CUPS
                    )
                    report(label, name, unit, clients, fig)
                    rates.setdefault((kind, name), []).append(fig.rate)
                    if kind == "print-job" and name != "client ceiling":
                        again = (lambda: refill(daemon)) if name == "mfpd" else None
                        if again is not None:
                            again()
                        print(f"{'':<28} {name:<14} {drain(port, uri, refill=again)}", flush=True)
            if not args.skip_ipptool and run <= args.ipptool_runs:
                for name, (_, port) in list(servers.items())[1:]:
                    seconds, passed, failed, skipped = ipptool_everywhere(port)
                    rates.setdefault(("ipptool", name), []).append(seconds)
                    print(f"{'ipp-everywhere.test':<28} {name:<14} {seconds:7.1f} s      "
                          f"{passed} PASS, {failed} FAIL, {skipped} SKIP", flush=True)  # fmt: skip
        print(f"medians of {args.runs} run(s)")
        for kind, label, unit, _ in (*KINDS, ("ipptool", "ipp-everywhere.test", "s", 1)):
            if (kind, "mfpd") not in rates:
                continue
            eve_v = statistics.median(rates[(kind, "ippeveprinter")])
            ours = statistics.median(rates[(kind, "mfpd")])
            # for the wall time lower is better: the ratio is ippeveprinter's time over ours
            ratio = eve_v / ours if kind == "ipptool" else ours / eve_v
            ceiling = rates.get((kind, "client ceiling"))
            limit = f"  (client ceiling {statistics.median(ceiling):.0f})" if ceiling else ""
            print(f"  {label:<28} ippeveprinter {eve_v:8.1f} {unit:<6}  mfpd {ours:8.1f} "
                  f"{unit:<6}  mfpd/ippeveprinter {100 * ratio:4.0f} %{limit}")  # fmt: skip
    finally:
        for server in (daemon, eve, responder):
            if server is not None:
                server.close()
        bus.close()


if __name__ == "__main__":
    main()
