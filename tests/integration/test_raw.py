"""Raw 9100 + PJL against the real daemon, with CUPS's socket backend, nmap and raw sockets."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Mfpd, need
from tests.documents import make_pdf, make_postscript

UEL = b"\x1b%-12345X"
SOCKET_BACKEND = "/usr/lib/cups/backend/socket"


def send_raw(port: int, data: bytes, *, read_reply: bool = True, timeout: float = 10) -> bytes:
    """Send, half-close, and read whatever the printer answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while read_reply and (chunk := sock.recv(65536)):
            reply += chunk
        return reply


def pjl_query(port: int, *commands: str) -> bytes:
    body = b"".join(f"@PJL {c}\r\n".encode() for c in commands)
    return send_raw(port, UEL + body + UEL)


def test_cups_socket_backend_prints_a_pdf(mfpd: Mfpd, tmp_path: Path) -> None:
    need(SOCKET_BACKEND)
    pdf = make_pdf(tmp_path / "three.pdf", pages=3)
    result = subprocess.run(
        [SOCKET_BACKEND, "7", "alice", "Quarterly report", "2", "", str(pdf)],
        env={"DEVICE_URI": f"socket://127.0.0.1:{mfpd.port('raw')}/?waiteof=false&contimeout=5"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "INFO: Print file sent." in result.stderr
    # COPIES=2 with a file: the backend sends the file twice back to back, one connection.
    jobs = mfpd.wait_jobs_done(1)
    assert len(jobs) == 1
    job = jobs[0]
    assert job["source"] == "raw"
    assert job["format"] == "application/pdf"
    assert job["bytes"] == 2 * pdf.stat().st_size
    assert job["state"] == "completed"
    assert job["pages"] >= 3


def test_pjl_jobs_on_one_connection_become_separate_jobs(mfpd: Mfpd, tmp_path: Path) -> None:
    ps = make_postscript(tmp_path / "two.ps", pages=2)
    stream = (
        UEL + b'@PJL JOB NAME="First job"\r\n@PJL SET USERNAME="alice"\r\n'
        b"@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" + ps.read_bytes()
        + UEL + b"@PJL EOJ\r\n"
        + UEL + b'@PJL JOB NAME="Second job"\r\n@PJL SET USERNAME="bob"\r\n'
        b"@PJL SET COPIES=3\r\n@PJL ENTER LANGUAGE=PCL\r\n" + b"\x1bEpage one\x0cpage two\x1bE"
        + UEL + b"@PJL EOJ\r\n" + UEL
    )  # fmt: skip
    send_raw(mfpd.port("raw"), stream)
    jobs = mfpd.wait_jobs_done(2)
    assert [(j["name"], j["user"]) for j in jobs] == [("First job", "alice"), ("Second job", "bob")]
    assert jobs[0]["format"] == "application/postscript" and jobs[0]["pages"] == 2
    assert jobs[1]["format"] == "application/vnd.hp-pcl"
    assert jobs[1]["copies"] == 3
    assert mfpd.status()["counters"]["impressions"] == 2 + 3 * jobs[1]["pages"]


def test_pjl_only_connection_creates_no_job(mfpd: Mfpd) -> None:
    reply = pjl_query(mfpd.port("raw"), "INFO ID", "INFO STATUS", "ECHO hello there")
    assert reply.startswith(b'@PJL INFO ID\r\n"Xerox WorkCentre 7755"\r\n\x0c')
    assert b'CODE=10001\r\nDISPLAY="READY"\r\nONLINE=TRUE\r\n\x0c' in reply
    assert reply.endswith(b"@PJL ECHO hello there\r\n\x0c")
    time.sleep(0.3)
    assert mfpd.jobs() == []


def test_info_status_and_pagecount_follow_the_device(mfpd: Mfpd) -> None:
    port = mfpd.port("raw")
    send_raw(port, b"one page of text\n")
    mfpd.wait_jobs_done(1)
    assert pjl_query(port, "INFO PAGECOUNT") == b"@PJL INFO PAGECOUNT\r\n1\r\n\x0c"
    mfpd.cli("fault", "jam")
    assert b'CODE=40022\r\nDISPLAY="PAPER JAM"' in pjl_query(port, "INFO STATUS")
    mfpd.cli("fault", "jam", "--clear")
    mfpd.cli("fault", "tray-empty", "tray-2")
    status = pjl_query(port, "INFO STATUS")
    # Tray 2 (A3) is empty but nothing waits for it: background paper mount 11xyy, online.
    assert b"CODE=11207" in status and b"ONLINE=TRUE" in status
    mfpd.cli("fault", "offline")
    assert b"ONLINE=FALSE" in pjl_query(port, "INFO STATUS")


def test_ustatus_device_reports_changes_while_connected(mfpd: Mfpd) -> None:
    with socket.create_connection(("127.0.0.1", mfpd.port("raw")), timeout=10) as sock:
        sock.sendall(UEL + b"@PJL USTATUS DEVICE=ON\r\n")
        first = _read_until(sock, b"\x0c")
        assert first.startswith(b"@PJL USTATUS DEVICE\r\nCODE=10001")
        mfpd.cli("fault", "door-open")
        update = _read_until(sock, b"\x0c")
        assert b"CODE=40021" in update and b"CLOSE FRONT DOOR" in update
        sock.sendall(b"@PJL USTATUSOFF\r\n" + UEL)


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def test_pjl_file_system_is_sandboxed(mfpd: Mfpd, tmp_path: Path) -> None:
    port = mfpd.port("raw")
    payload = b"secret settings\n"
    reply = send_raw(
        port,
        UEL + b'@PJL FSMKDIR NAME="0:\\webApps"\r\n'
        + b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=%d NAME="0:\\webApps\\conf.txt"\r\n' % len(payload)
        + payload + b'@PJL FSDIRLIST NAME="0:\\webApps" ENTRY=1 COUNT=10\r\n'
        + b'@PJL FSUPLOAD NAME="0:\\webApps\\conf.txt" OFFSET=0 SIZE=100\r\n'
        + b'@PJL FSUPLOAD NAME="0:/../../etc/passwd" OFFSET=0 SIZE=100\r\n' + UEL,
    )  # fmt: skip
    assert b"conf.txt TYPE=FILE SIZE=16" in reply
    assert b"SIZE=16\r\n" + payload + b"\x0c" in reply
    assert re.search(rb"FSUPLOAD NAME=\"0:/\.\./\.\./etc/passwd\"\r\nFILEERROR=\d+", reply)
    assert b"root:" not in reply
    assert (mfpd.state_dir / "pjl-volume").is_dir()
    assert mfpd.jobs() == []


def test_bad_pjl_and_garbage_do_not_stop_the_service(mfpd: Mfpd) -> None:
    port = mfpd.port("raw")
    send_raw(port, UEL + b"@PJL " + b"X" * 20000 + b"\r\n@PJL SET =\r\n" + UEL)
    send_raw(port, UEL + bytes(range(256)) * 4)
    reply = pjl_query(port, "INFO ID")
    assert b"WorkCentre 7755" in reply
    jobs = mfpd.wait_jobs_done(1)
    assert len(jobs) == 1 and jobs[0]["bytes"] == 1024


def test_empty_trays_stop_a_job_and_refill_resumes_it(mfpd: Mfpd) -> None:
    mfpd.cli("fault", "tray-empty")
    send_raw(mfpd.port("raw"), b"page\n")
    mfpd.wait_for(lambda jobs: bool(jobs) and jobs[0]["state"] == "stopped")
    status = mfpd.status()
    assert status["state"] == "stopped" and "media-empty-error" in status["state_reasons"]
    assert b"CODE=41104" in pjl_query(mfpd.port("raw"), "INFO STATUS")  # load tray 1, A4
    mfpd.cli("refill", "all")
    jobs = mfpd.wait_jobs_done(1)
    assert jobs[0]["state"] == "completed" and jobs[0]["impressions_completed"] == 1


@pytest.mark.parametrize("script_args", [None, 'pjl_ready_message="MFPD TEST"'])
def test_nmap_identifies_the_printer(mfpd: Mfpd, tmp_path: Path, script_args: str | None) -> None:
    need("nmap")
    probes = tmp_path / "pjl-probes"
    probes.write_text(
        "Probe TCP NULL q||\ntotalwaitms 1000\n"
        "Probe TCP hp-pjl q|\\x1b%-12345X@PJL INFO ID\\x0d\\x0a\\x1b%-12345X\\x0d\\x0a|\n"
        "rarity 1\ntotalwaitms 3000\n"
        'match hp-pjl m|^@PJL INFO ID\\r?\\n\\"([^"]+)\\"\\r?\\n| p/$1/ d/printer/\n'
    )
    port = mfpd.port("raw")
    cmd = ["nmap", "-n", "-Pn", "-sT", "-sV", "--versiondb", str(probes), "-p", str(port),
           "--script", "+pjl-ready-message", "127.0.0.1"]  # fmt: skip
    if script_args:
        cmd[-1:-1] = ["--script-args", script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    assert re.search(rf"^{port}/tcp\s+open\s+hp-pjl\s+Xerox WorkCentre 7755$", out, re.M), out
    assert "Service Info: Device: printer" in out
    if script_args:
        assert '|_pjl-ready-message: "READY" changed to "MFPD TEST"' in out
        assert mfpd.status()["display"] == "MFPD TEST"
    else:
        assert re.search(r'^\|_pjl-ready-message: "READY"$', out, re.M), out


def test_pjl_environment_set_default_inquire(mfpd: Mfpd) -> None:
    port = mfpd.port("raw")
    reply = pjl_query(
        port,
        "SET COPIES=4",
        "INQUIRE COPIES",
        "DINQUIRE COPIES",
        "DEFAULT PAPER=LETTER",
        "DINQUIRE PAPER",
        "SET RESOLUTION=7",  # not a value the printer offers: ignored (PJLTRM 6)
        "INQUIRE RESOLUTION",
        "INQUIRE NOSUCHVAR",
    )
    assert b"@PJL INQUIRE COPIES\r\n4\r\n\x0c" in reply
    assert b"@PJL DINQUIRE COPIES\r\n1\r\n\x0c" in reply
    assert b"@PJL DINQUIRE PAPER\r\nLETTER\r\n\x0c" in reply
    assert b"@PJL INQUIRE RESOLUTION\r\n600\r\n\x0c" in reply
    assert b"@PJL INQUIRE NOSUCHVAR\r\n?\r\n\x0c" in reply
    # SET lasts for one job; DEFAULT survives connections and restarts; INITIALIZE resets.
    assert b"\r\n1\r\n" in pjl_query(port, "INQUIRE COPIES")
    mfpd.stop()
    mfpd.start()
    port = mfpd.port("raw")
    assert b"LETTER" in pjl_query(port, "DINQUIRE PAPER")
    assert b"\r\nA4\r\n" in pjl_query(port, "INITIALIZE", "DINQUIRE PAPER")


@pytest.mark.parametrize("category", ["CONFIG", "VARIABLES", "USTATUS", "MEMORY", "FILESYS"])
def test_info_categories_are_well_formed(mfpd: Mfpd, category: str) -> None:
    reply = pjl_query(mfpd.port("raw"), f"INFO {category}")
    assert reply.startswith(f"@PJL INFO {category}".encode()) and reply.endswith(b"\r\n\x0c")
    lines = reply[:-1].split(b"\r\n")
    assert len(lines) > 2
    for line in lines[1:-1]:
        # Each line is NAME=VALUE [n TYPE], a tab-indented choice, or a table row.
        assert re.match(
            rb"^(\t.*|[A-Z][A-Z ]*(=\S+)?( \[\d+ (ENUMERATED|RANGE|TABLE)\])?)$", line
        ), line
    if category == "VARIABLES":
        assert b"COPIES=1 [2 RANGE]\r\n\t1\r\n\t999" in reply
    if category == "CONFIG":
        assert b"IN TRAYS [6 ENUMERATED]" in reply


def test_ustatus_job_and_page_follow_the_jobs_of_the_connection(mfpd: Mfpd) -> None:
    with socket.create_connection(("127.0.0.1", mfpd.port("raw")), timeout=10) as sock:
        sock.sendall(
            UEL + b"@PJL USTATUS JOB=ON\r\n@PJL USTATUS PAGE=ON\r\n"
            b'@PJL JOB NAME="tracked"\r\n@PJL ENTER LANGUAGE=PCL\r\n'
            b"\x1bEone\x0ctwo\x1bE" + UEL + b"@PJL EOJ\r\n" + UEL
        )
        seen = b""
        while b"END\r\n" not in seen:
            seen += _read_until(sock, b"\x0c")
    assert seen.startswith(b'@PJL USTATUS JOB\r\nSTART\r\nNAME="tracked"\r\n\x0c')
    assert b"@PJL USTATUS PAGE\r\n1\r\n\x0c" in seen
    assert b"@PJL USTATUS PAGE\r\n2\r\n\x0c" in seen
    assert seen.endswith(b'@PJL USTATUS JOB\r\nEND\r\nNAME="tracked"\r\nPAGES=2\r\n\x0c')
