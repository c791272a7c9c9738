"""The conformance sequence: every ipptool file the printer passes, run one after another
against one daemon over ipp://, ipps:// on the IPP port and ipps:// on 443, with `-T 20` as
users pass it. A daemon that has served one transport's sequence must still pass the next:
that is what the per-file tests (one fresh daemon each) cannot see.

Used by tests/integration/test_conformance.py and at the end of bench/soak.py, against a
daemon with a long history. The daemon must take `file:` document URIs (print-uri.test):
add CONFIG to its configuration.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.ipp_samples import prepare

# print-uri.test sends file://$filename, the document named by -f.
CONFIG = """
[ipp]
document_uri_schemes = ["http", "https", "ftp", "file"]
"""

# (name, URI scheme, port-table service): TLS on 631 is told apart by its first byte.
TRANSPORTS = (
    ("ipp", "ipp", "ipp"),
    ("ipps-631", "ipps", "ipp"),
    ("ipps-443", "ipps", "https"),
)

# ipptool's receive/send timeout, as users pass it (-T): a request that stalls fails in 20 s.
# -I goes on past a failed test, so that one run names every failure of a file.
IPPTOOL_TIMEOUT = 20


@dataclass(frozen=True)
class Suite:
    file: str
    args: tuple[str, ...] = ("-f", "document-a4.pdf")


# Not a conformance file: the step before the subscription. A printer that stays busy for the
# whole window (the queue ipp-everywhere.test leaves on a printer with a real speed) changes
# no state, and get-notifications.test then has no event to pull. Up to 60 s.
WAIT_IDLE = Suite("wait-until-idle.test", ())
WAIT_IDLE_TEST = """{
 NAME "Wait until the printer is idle"
 OPERATION Get-Printer-Attributes
 DELAY "0,0.5"
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR naturalLanguage attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR keyword requested-attributes printer-state
 STATUS successful-ok
 EXPECT printer-state OF-TYPE enum WITH-VALUE 3 REPEAT-NO-MATCH REPEAT-LIMIT 120
}
"""


# Not a conformance file either: a pull client polls (RFC 3996 5.2, notify-get-interval)
# until its subscription's first event is there. The event comes from the engine taking up
# print-job-gzip's job, which can still be a moment away when ipptool starts the next file
# (seen once in CI over ipps on 443: get-notifications found no event yet). Up to 10 s; a
# printer that never sends the event fails here.
WAIT_EVENT = Suite("wait-for-an-event.test", ())
WAIT_EVENT_TEST = """{
 NAME "Wait for the subscription's first event"
 OPERATION Get-Notifications
 DELAY "0,0.25"
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR naturalLanguage attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR integer notify-subscription-ids $id
 STATUS successful-ok
 EXPECT notify-event OF-TYPE keyword REPEAT-NO-MATCH REPEAT-LIMIT 40
}
"""
# The last step on each transport: the user's jobs still waiting are canceled (PWG 5100.11
# Cancel-My-Jobs), so the next transport's ipp-1.1 finds no held job of this one: its
# "Get-Job-Attributes Until Job Complete" follows the first job Get-Jobs lists, and a job held
# for ever never completes (seen once in CI over ipps on 443).
CLEAN_UP = Suite("cancel-my-jobs.test", ())
CLEAN_UP_TEST = """{
 NAME "Cancel the jobs left waiting"
 OPERATION Cancel-My-Jobs
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR naturalLanguage attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR name requesting-user-name $user
 STATUS successful-ok
}
"""
_OWN_FILES = {
    WAIT_IDLE.file: WAIT_IDLE_TEST,
    WAIT_EVENT.file: WAIT_EVENT_TEST,
    CLEAN_UP.file: CLEAN_UP_TEST,
}


# In this order on each transport. create-printer-subscription's pull subscription, made on an
# idle printer, takes printer-state-changed events; the first job printed after it makes one
# (idle -> processing), which get-notifications.test pulls by the id the subscription answered.
# print-job-password leaves a job held for its passcode: cancel-current-job.test cancels the
# first not-completed job (it expects one), which is that one only once print-job-hold's
# released job has printed: so print-job-hold comes after it.
SEQUENCE = (
    Suite("ipp-1.1.test"),
    Suite("ipp-2.0.test"),
    Suite("ipp-2.1.test", ("-V", "2.1", "-f", "document-a4.pdf")),
    # PWG 5100.14: the IPP Everywhere file, as its README says to run it.
    Suite("ipp-everywhere.test", ("-V", "2.0", "-f", "onepage-letter.pdf")),
    Suite("get-printer-attributes-suite.test", ()),
    Suite("identify-printer.test", ()),
    WAIT_IDLE,
    Suite("create-printer-subscription.test", ()),
    Suite("print-job-password.test"),
    Suite("cancel-current-job.test", ()),
    Suite("print-job-hold.test"),
    Suite("print-job-gzip.test"),
    WAIT_EVENT,
    Suite("get-notifications.test", ()),
    Suite("print-job-deflate.test"),
    Suite("get-completed-jobs.test", ()),
    Suite("print-job-media-col.test"),
    Suite("print-uri.test"),  # -f becomes an absolute path: file:// needs one
    CLEAN_UP,
)

SUBSCRIPTION_ID = re.compile(r"notify-subscription-id \(integer\) = (\d+)")
TEST_LINE = re.compile(r"^    (\S.*?)\s+\[(PASS|FAIL|SKIP)\]$")


@dataclass
class Run:
    """One ipptool file on one transport."""

    transport: str
    file: str
    command: list[str]
    code: int | None  # None: killed at the time limit
    output: str
    seconds: float

    def counts(self) -> dict[str, int]:
        found = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        for line in self.output.splitlines():
            if match := TEST_LINE.match(line):
                found[match[2]] += 1
        return found

    @property
    def ok(self) -> bool:
        counts = self.counts()
        return self.code == 0 and counts["FAIL"] == 0 and counts["PASS"] > 0

    def failed_tests(self) -> list[str]:
        """Each failed test's line with the EXPECTED/GOT lines ipptool printed under it."""
        failed: list[str] = []
        lines = self.output.splitlines()
        for at, line in enumerate(lines):
            if line.endswith("[FAIL]"):
                detail = [line.strip()]
                for below in lines[at + 1 :]:
                    if TEST_LINE.match(below) or not below.startswith("        "):
                        break
                    detail.append("  " + below.strip())
                failed.append("\n".join(detail))
        return failed

    def describe(self) -> str:
        counts = self.counts()
        state = "timed out" if self.code is None else f"exit {self.code}"
        return (
            f"{self.transport} {self.file}: {counts['PASS']} passed, {counts['FAIL']} failed, "
            f"{counts['SKIP']} skipped, {state}, {self.seconds:.1f} s"
        )


def prepare_directory(directory: Path) -> Path:
    """The sequence's .test files beside the documents they name (cached across runs)."""
    prepare(directory, *(suite.file for suite in SEQUENCE if suite.file not in _OWN_FILES))
    for name, text in _OWN_FILES.items():
        (directory / name).write_text(text)
    return directory


def run_sequence(
    ports: Mapping[str, int],
    directory: Path,
    *,
    host: str = "127.0.0.1",
    transports: tuple[tuple[str, str, str], ...] = TRANSPORTS,
    file_timeout: float = 60,
) -> list[Run]:
    """Every file of SEQUENCE on each transport in turn, against the daemon at `ports` (its
    port table: service -> port). A file that outlives `file_timeout` is killed and ends its
    transport's sequence (the next files would wait the same way)."""
    runs: list[Run] = []
    for transport, scheme, service in transports:
        uri = f"{scheme}://{host}:{ports[service]}/ipp/print"
        subscription: str | None = None
        for suite in SEQUENCE:
            args = list(suite.args)
            if suite.file == "print-uri.test":
                args[-1] = str(directory / args[-1])
            if suite.file in ("get-notifications.test", WAIT_EVENT.file) and subscription:
                args = ["-d", f"id={subscription}", *args]
            run = _ipptool(transport, suite.file, uri, args, directory, file_timeout)
            runs.append(run)
            if suite.file == "create-printer-subscription.test":
                found = SUBSCRIPTION_ID.findall(run.output)
                subscription = found[0] if found else None
            if run.code is None:
                break
    return runs


def _ipptool(
    transport: str, file: str, uri: str, args: list[str], directory: Path, timeout: float
) -> Run:
    command = ["ipptool", "-t", "-I", "-T", str(IPPTOOL_TIMEOUT), *args, uri, file]
    start = time.monotonic()
    try:
        result = subprocess.run(
            command, cwd=directory, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as expired:
        partial = _text(expired.stdout) + _text(expired.stderr)
        return Run(transport, file, command, None, partial, time.monotonic() - start)
    output = result.stdout + result.stderr
    return Run(transport, file, command, result.returncode, output, time.monotonic() - start)


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def report(runs: list[Run], transports: tuple[tuple[str, str, str], ...] = TRANSPORTS) -> str:
    """One line per file run, then each failure with its failed tests and ipptool's output
    (the last 3,000 characters), then the files a timeout left unrun."""
    lines = [run.describe() for run in runs]
    for run in runs:
        if run.ok:
            continue
        lines += ["", f"FAILED: {run.describe()}", "$ " + " ".join(run.command)]
        lines += run.failed_tests()
        lines += ["--- ipptool output (tail) ---", run.output[-3000:]]
    done = {(run.transport, run.file) for run in runs}
    unrun = [
        f"{name} {suite.file}"
        for name, _, _ in transports
        for suite in SEQUENCE
        if (name, suite.file) not in done
    ]
    if unrun:
        lines += ["", "NOT RUN (after a timeout): " + ", ".join(unrun)]
    return "\n".join(lines)


def passed(runs: list[Run], transports: tuple[tuple[str, str, str], ...] = TRANSPORTS) -> bool:
    return len(runs) == len(SEQUENCE) * len(transports) and all(run.ok for run in runs)
