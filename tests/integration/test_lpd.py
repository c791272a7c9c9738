"""LPD (RFC 1179) against the real daemon: CUPS's lpd backend, rlpr/rlpq/rlprm, LPRng's lpr,
and hand-made exchanges for the quirks real senders have.

rlpr's tools run with -N: as root they otherwise bind source ports 721-731, eleven ports that
TIME_WAIT exhausts within one test run. The reserved-port case is CUPS's `reserve=rfc1179`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, Mfpd, missing, need, need_root
from tests.documents import make_pdf, make_postscript

LPD_BACKEND = "/usr/lib/cups/backend/lpd"
LPRNG = ROOT / ".tools" / "lprng" / "usr" / "bin"
TEXT = b"line\n" * 100  # two pages at 60 lines per page


def lpd_backend(
    uri: str, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    need(LPD_BACKEND)
    need_root("CUPS's lpd backend runs as root only (mode 0744)")
    if stdin is None:
        return subprocess.run(
            [LPD_BACKEND, *args], env={"DEVICE_URI": uri}, capture_output=True, timeout=60
        )
    # From stdin the backend first waits on side-channel fd 4: give it /dev/null there.
    return subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" 4</dev/null', LPD_BACKEND, *args],
        env={"DEVICE_URI": uri}, input=stdin, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    "options",
    ["", "?order=data,control", "?mode=stream", "?reserve=rfc1179", "?format=o", "?banner=on"],
)
def test_cups_lpd_backend(mfpd: Mfpd, tmp_path: Path, options: str) -> None:
    pdf = make_pdf(tmp_path / "doc.pdf", pages=3)
    uri = f"lpd://127.0.0.1:{mfpd.port('lpd')}/lp{options}"
    result = lpd_backend(uri, "42", "alice", "Test job", "1", "", str(pdf))
    assert result.returncode == 0, result.stderr.decode()
    job = mfpd.wait_jobs_done(1)[0]
    assert (job["source"], job["user"], job["name"]) == ("lpd", "alice", "Test job")
    # Whatever the format letter claims, the data is sniffed: a PDF counts as a PDF.
    assert job["format"] == "application/pdf"
    assert job["pages"] == 3 and job["bytes"] == pdf.stat().st_size
    assert job["state"] == "completed"


def test_cups_lpd_backend_streams_stdin_without_final_nul(mfpd: Mfpd) -> None:
    uri = f"lpd://127.0.0.1:{mfpd.port('lpd')}/lp?mode=stream"
    result = lpd_backend(uri, "43", "bob", "From stdin", "1", "", stdin=TEXT)
    assert result.returncode == 0, result.stderr.decode()
    job = mfpd.wait_jobs_done(1)[0]
    assert (job["user"], job["format"], job["pages"], job["bytes"]) == (
        "bob", "text/plain", 2, len(TEXT),
    )  # fmt: skip


def rlp(tool: str, port: int, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """rlpr, rlpq or rlprm against queue lp of the daemon (-N: see the module docstring)."""
    cmd = [tool, "-N", "-H127.0.0.1", f"--port={port}", "-Plp", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=check)


def test_rlpr_copies_and_queue_tools(mfpd: Mfpd, tmp_path: Path) -> None:
    need("rlpr", "rlpq", "rlprm")
    port = mfpd.port("lpd")
    doc = tmp_path / "notes for the meeting.txt"
    doc.write_bytes(TEXT)
    mfpd.cli("fault", "offline")  # keep the jobs in the queue while we look at it
    assert "no entries" in rlp("rlpq", port).stdout
    result = rlp("rlpr", port, "-Ualice", "-JMyJob", "-#3", str(doc))
    assert result.returncode == 0, result.stderr
    job = mfpd.wait_for(
        lambda jobs: len(jobs) == 1 and "job-incoming" not in jobs[0]["state_reasons"]
    )[0]
    assert (job["name"], job["user"], job["copies"], job["pages"]) == ("MyJob", "alice", 3, None)
    listing = rlp("rlpq", port).stdout
    assert "alice" in listing and str(job["id"]) in listing and "MyJob" in listing
    # Another user may not remove it (rlprm as root always sends agent "root": send by hand).
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x05lp mallory %d\n" % job["id"])
        refusal = sock.recv(4096)
    assert b"not its owner" in refusal
    assert mfpd.jobs()[0]["state"] == "pending"
    mfpd.cli("fault", "offline", "--clear")
    done = mfpd.wait_jobs_done(1)[0]
    assert done["state"] == "completed" and done["impressions_completed"] == 6


def test_rlprm_as_root_removes_a_job(mfpd: Mfpd, tmp_path: Path) -> None:
    need("rlpr", "rlprm")
    port = mfpd.port("lpd")
    mfpd.cli("fault", "offline")
    doc = tmp_path / "a.txt"
    doc.write_bytes(TEXT)
    rlp("rlpr", port, "-Ucarol", str(doc), check=True)
    job_id = mfpd.wait_for(lambda jobs: len(jobs) == 1)[0]["id"]
    # "root" from an unreserved port is anybody: refused (rlprm -N binds no reserved port).
    out = rlp("rlprm", port, "-Uroot", str(job_id))
    assert "not its owner" in out.stdout + out.stderr
    # From a reserved source port, as rlprm binds when run by root, it is believed.
    cmd = ["rlprm", "-H127.0.0.1", f"--port={port}", "-Plp", str(job_id)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert f"job {job_id} dequeued" in out.stdout + out.stderr
    job = mfpd.wait_jobs_done(1)[0]
    assert job["state"] == "canceled" and job["state_reasons"] == ["job-canceled-by-user"]


@pytest.fixture
def lprng() -> Iterator[Path]:
    lpr = LPRNG / "lpr"
    if not lpr.exists():
        missing("LPRng's lpr is not unpacked in .tools (make test does it as root)")
    need_root("LPRng needs /etc/lprng, writable by root only")
    etc = Path("/etc/lprng")
    existed = etc.exists()
    etc.mkdir(exist_ok=True)
    created = []
    for name, text in (
        ("printcap", ""),
        ("lpd.conf", "printcap_path=/etc/lprng/printcap\nmc=10\n"),
    ):
        path = etc / name
        if not path.exists():
            path.write_text(text)
            created.append(path)
    yield lpr
    for path in created:
        path.unlink()
    if not existed:
        shutil.rmtree(etc, ignore_errors=True)


def test_lprng_lpr(mfpd: Mfpd, tmp_path: Path, lprng: Path) -> None:
    ps = make_postscript(tmp_path / "slides.ps", pages=4)
    queue = f"lp@127.0.0.1%{mfpd.port('lpd')}"
    result = subprocess.run([str(lprng), "-P", queue, "-U", "dave", "-J", "Slides", "-#2", str(ps)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    job = mfpd.wait_jobs_done(1)[0]
    assert (job["name"], job["user"], job["format"]) == ("Slides", "dave", "application/postscript")
    assert (job["pages"], job["copies"]) == (4, 2)


def _exchange(port: int, messages: list[bytes], *, close_early: bool = False) -> bytes:
    answers = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for n, message in enumerate(messages):
            sock.sendall(message)
            if close_early and n == len(messages) - 1:
                break
            answers += sock.recv(1)
    return answers


def test_unknown_queue_gets_a_nak(mfpd: Mfpd) -> None:
    assert _exchange(mfpd.port("lpd"), [b"\x02nosuchqueue\n"]) == b"\x01"


def test_windows_huge_count_and_several_files(mfpd: Mfpd) -> None:
    """Windows with byte counting off announces an impossible size and closes at the end."""
    control = (
        b"Hwinpc\nPerin\nJC:\\Users\\erin\\My Documents\\two files.txt\n"
        b"ldfA001winpc\nldfB001winpc\nNa.txt\n"
    )
    port = mfpd.port("lpd")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for message in (b"\x02lp\n", b"\x02%d cfA001winpc\n" % len(control), control + b"\0",
                        b"\x03%d dfA001winpc\n" % len(TEXT), TEXT + b"\0"):  # fmt: skip
            sock.sendall(message)
            assert sock.recv(1) == b"\0"
        sock.sendall(b"\x03125899906843000 dfB001winpc\n")
        assert sock.recv(1) == b"\0"
        sock.sendall(b"%PDF-1.4 not really\n" * 10)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)
    job = mfpd.wait_jobs_done(1)[0]
    assert job["state"] == "completed"
    assert job["name"] == "C:\\Users\\erin\\My Documents\\two files.txt"
    assert (job["user"], job["bytes"]) == ("erin", len(TEXT) + 200)
    assert len(job["documents"]) == 2


def test_stray_nul_after_the_control_file_keeps_the_job(mfpd: Mfpd) -> None:
    """A PLP-era sender ends the control file with two zero octets; the job still prints."""
    control = b"Hplp\nPgrace\nJTwo NULs\nfdfA003plp\nUdfA003plp\nNnotes.txt\n"
    answers = _exchange(
        mfpd.port("lpd"),
        [b"\x02lp\n", b"\x02%d cfA003plp\n" % len(control), control + b"\0\0",
         b"\x03%d dfA003plp\n" % len(TEXT), TEXT + b"\0"],
    )  # fmt: skip
    assert answers == b"\0" * 5  # the data file's subcommand is ACKed, not NAKed
    job = mfpd.wait_jobs_done(1)[0]
    assert (job["state"], job["name"], job["user"]) == ("completed", "Two NULs", "grace")
    assert (job["bytes"], job["pages"]) == (len(TEXT), 2)
    assert "protocol error" not in mfpd.log.read_text()


def test_half_received_job_is_recorded_not_dropped(mfpd: Mfpd) -> None:
    control = b"Hpc\nPfrank\nJCut short\nldfA002pc\n"
    port = mfpd.port("lpd")
    answers = _exchange(
        port,
        [b"\x02lp\n", b"\x02%d cfA002pc\n" % len(control), control + b"\0",
         b"\x03100000 dfA002pc\n", b"only part of it"],
        close_early=True,
    )  # fmt: skip
    assert answers == b"\0" * 4
    job = mfpd.wait_jobs_done(1)[0]
    assert job["state"] == "aborted"
    assert "job-data-insufficient" in job["state_reasons"]
    assert job["name"] == "Cut short" and job["bytes"] == len(b"only part of it")
    # ... and the service still works.
    assert _exchange(port, [b"\x02lp\n"]) == b"\0"


def test_garbage_gets_a_nak_and_the_service_keeps_serving(mfpd: Mfpd) -> None:
    port = mfpd.port("lpd")
    assert _exchange(port, [b"\x09\xff\xfe garbage\n"]) == b"\x01"
    assert _exchange(port, [b"\x02" + b"q" * 5000 + b"\n"]) in (b"\x01", b"")
    assert _exchange(port, [b"\x02lp\n"]) == b"\0"


def test_print_waiting_jobs_command_is_answered_by_closing(mfpd: Mfpd) -> None:
    with socket.create_connection(("127.0.0.1", mfpd.port("lpd")), timeout=10) as sock:
        sock.sendall(b"\x01lp\n")
        assert sock.recv(10) == b""  # RFC 1179 5.1: no answer; the server closes
