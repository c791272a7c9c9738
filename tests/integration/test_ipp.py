"""IPP on the real daemon with the field's own tools: ipptool's conformance files and CUPS's
ipp backend, over ipp://, ipps:// (on 443 and on 631) and the HTTP Upgrade to TLS."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, Mfpd, need
from tests.documents import make_pdf
from tests.ipp_samples import ipptool, prepare

IPP_BACKEND = "/usr/lib/cups/backend/ipp"


# Debian's ipptool files this printer passes with 0 FAIL (the first five are the big ones);
# the notification, secure-print, Print-URI and Cancel-Current-Job files run in
# test_ipp_notifications.py and test_ipp_admin.py, which set up what they need.
IPPTOOL_FILES = (
    "ipp-1.1.test",
    "ipp-2.0.test",
    "ipp-everywhere.test",
    "ipp-2.1.test",
    "get-printer-attributes-suite.test",
    "print-job-hold.test",
    "identify-printer.test",
    "validate-job.test",
    "get-jobs.test",
    "get-job-template-attributes.test",
    "print-job-gzip.test",
    "print-job-deflate.test",
    "print-job-media-col.test",
    "print-job-password.test",  # the job is then held for its passcode: test_ipp_admin.py
)


@pytest.fixture(scope="session")
def ipptool_dir() -> Path:
    """ipptool's .test files beside every document they name, cached across runs."""
    need("ipptool", "gs")
    directory = ROOT / ".cache" / "ipptool"
    prepare(directory, *IPPTOOL_FILES)
    return directory


# How a client reaches the printer: plain IPP, TLS on 631 (told apart by the first byte),
# IPPS on 443, and an HTTP Upgrade to TLS on 631 (RFC 2817, ipptool -E).
TRANSPORTS = {
    "ipp": ((), "ipp", "ipp"),
    "ipps-631": ((), "ipps", "ipp"),
    "ipps-443": ((), "ipps", "https"),
    "upgrade": (("-E",), "ipp", "ipp"),
}


@pytest.mark.parametrize(
    ("args", "transport", "passes"),
    [
        (("-f", "document-a4.pdf", "ipp-1.1.test"), "ipp", 42),
        (("-f", "document-a4.pdf", "ipp-1.1.test"), "ipps-631", 42),
        (("-f", "document-a4.pdf", "ipp-1.1.test"), "upgrade", 42),
        (("-f", "document-a4.pdf", "ipp-2.0.test"), "ipp", 43),
        # PWG 5100.14: the IPP Everywhere file, as its README says to run it.
        (("-V", "2.0", "-f", "onepage-letter.pdf", "ipp-everywhere.test"), "ipp", 146),
        (("-V", "2.0", "-f", "onepage-letter.pdf", "ipp-everywhere.test"), "ipps-443", 146),
        # PWG 5100.12 IPP/2.1: ipp-2.0 plus subscriptions, Set-*-Attributes, Enable/Disable.
        (("-V", "2.1", "-f", "document-a4.pdf", "ipp-2.1.test"), "ipp", 48),
        (("-V", "2.1", "-f", "document-a4.pdf", "ipp-2.1.test"), "ipps-443", 48),
        (("get-printer-attributes-suite.test",), "ipp", 7),
        (("get-printer-attributes-suite.test",), "ipps-631", 7),
        *((("-f", "document-a4.pdf", name), "ipp", 1) for name in IPPTOOL_FILES[5:]),
        *((("-f", "document-a4.pdf", name), "ipps-443", 1) for name in IPPTOOL_FILES[5:]),
    ],
    ids=[
        "ipp-1.1", "ipp-1.1-ipps", "ipp-1.1-upgrade", "ipp-2.0", "ipp-everywhere",
        "ipp-everywhere-ipps-443", "ipp-2.1", "ipp-2.1-ipps-443", "get-printer-attributes-suite",
        "get-printer-attributes-suite-ipps",
        *(name.removesuffix(".test") for name in IPPTOOL_FILES[5:]),
        *(name.removesuffix(".test") + "-ipps" for name in IPPTOOL_FILES[5:]),
    ],
)  # fmt: skip
def test_ipptool_conformance(
    mfpd: Mfpd, ipptool_dir: Path, args: tuple[str, ...], transport: str, passes: int
) -> None:
    options, scheme, service = TRANSPORTS[transport]
    test = args[-1]
    code, out = ipptool(
        mfpd, ipptool_dir, "-t", "-I", *options, *args, scheme=scheme, service=service
    )
    failures = [line for line in out.splitlines() if "[FAIL]" in line]
    assert failures == [], "\n".join(failures) + out[-3000:]
    assert code == 0, out[-3000:]  # ipptool exits 1 when anything failed
    passed = sum("[PASS]" in line for line in out.splitlines())
    skipped = sum("[SKIP]" in line for line in out.splitlines())
    # Skips are features the printer does not claim (number-up, job-sheets, 4x6 media ...).
    assert passed >= passes, f"{passed} passed, {skipped} skipped"
    print(f"{test}: {passed} passed, 0 failed, {skipped} skipped")


@pytest.mark.parametrize("transport", ["ipps-631", "ipps-443"])
def test_ipptool_with_a_timeout_over_tls(mfpd: Mfpd, ipptool_dir: Path, transport: str) -> None:
    """`ipptool -T 5` over TLS 1.3 reconnected for ever while the server sent session tickets
    after the handshake (CUPS's GnuTLS client with a timeout reads them as the answer, then as
    a close): about 600 connections a second and never a result. The subprocess timeout makes
    that a failure, not a hang."""
    options, scheme, service = TRANSPORTS[transport]
    test = "/usr/share/cups/ipptool/get-printer-attributes.test"
    code, out = ipptool(
        mfpd, ipptool_dir, "-t", "-T", "5", *options, test, scheme=scheme, service=service,
        timeout=60,
    )  # fmt: skip
    assert code == 0 and "[PASS]" in out, out[-3000:]
    assert "connection closed inside a request head" not in mfpd.log.read_text()


# ipp-1.1.test's own job checks, in an order that leaves jobs uncounted: one waiting, one
# canceled before its data was in, one canceled after (job ids 1, 2 and 3). The first test
# defines what the printer supports (Create-Job), as it does in the whole file.
UNCOUNTED_JOBS = (
    "RFC 8011 section 4.2.5: Get-Printer-Attributes Operation (default)",
    "RFC 8011 section 4.2.1: Print-Job Operation",
    "RFC 8011 section 4.2.4: Create-Job Operation",
    "RFC 8011 section 4.3.3: Cancel-Job Operation (pending/processing job)",
    "RFC 8011 section 4.2.1: Print-Job Operation",
    "RFC 8011 section 4.3.3: Cancel-Job Operation (pending/processing job)",
    "RFC 8011 section 4.3.4: Get-Job-Attributes Operation",
    "RFC 8011 section 4.2.6: Get-Jobs Operation (requested-attributes)",
    "RFC 8011 section 4.2.6: Get-Jobs Operation (which-jobs, requested-attributes)",
)
NO_DOCUMENT_YET = """
{
 NAME "Get-Job-Attributes of a job canceled before any document"
 OPERATION Get-Job-Attributes
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR naturalLanguage attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR integer job-id 2
 ATTR keyword requested-attributes all
 STATUS successful-ok
 EXPECT number-of-documents OF-TYPE integer WITH-VALUE 0
 EXPECT job-k-octets OF-TYPE integer WITH-VALUE 0
 EXPECT !job-impressions
 EXPECT !document-format-detected
}
"""


def _ipptool_blocks(text: str, *names: str) -> str:
    """The tests of a .test file named `names`, in that order (each `{ ... }` block)."""
    blocks: dict[str, str] = {}
    body: list[str] | None = None
    for line in text.splitlines():
        if line == "{":
            body = []
        elif line == "}" and body is not None:
            name = next(entry.strip()[5:] for entry in body if entry.strip().startswith("NAME "))
            blocks.setdefault(name.strip('"'), "\n".join(body))
            body = None
        elif body is not None:
            body.append(line)
    return "".join("{\n" + blocks[name] + "\n}\n" for name in names)


def test_jobs_not_yet_counted_pass_ipptools_job_checks(
    mfpd: Mfpd, ipptool_dir: Path, tmp_path: Path
) -> None:
    """Jobs whose pages were never counted (waiting, or canceled before their turn) used to
    report job-impressions as the out-of-band 'unknown', and ipptool failed every Get-Jobs
    and Get-Job-Attributes after them: ipp-2.0 after ipp-1.1 on one daemon did."""
    mfpd.cli("fault", "offline")  # nothing is printed, so nothing is counted
    test = ipptool_dir / "uncounted-jobs.test"
    text = (ipptool_dir / "ipp-1.1.test").read_text()
    test.write_text(_ipptool_blocks(text, *UNCOUNTED_JOBS) + NO_DOCUMENT_YET)
    code, out = ipptool(mfpd, ipptool_dir, "-t", "-I", "-f", "document-a4.pdf", test.name)
    assert "[FAIL]" not in out and code == 0, out[-3000:]
    assert sum("[PASS]" in line for line in out.splitlines()) == len(UNCOUNTED_JOBS) + 1, out
    jobs = {job["id"]: job for job in mfpd.jobs()}
    assert [jobs[i]["state"] for i in (1, 2, 3)] == ["pending", "canceled", "canceled"]
    assert all(jobs[i]["pages"] is None for i in (1, 2, 3))


@pytest.mark.parametrize("waitjob", [False, True])
def test_cups_ipp_backend(mfpd: Mfpd, tmp_path: Path, waitjob: bool) -> None:
    need(IPP_BACKEND)
    pdf = make_pdf(tmp_path / "report.pdf", pages=3)
    uri = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print" + ("" if waitjob else "?waitjob=false")
    result = subprocess.run(
        [IPP_BACKEND, "9", "alice", "Quarterly", "2", "media=iso_a4_210x297mm sides=one-sided",
         str(pdf)],
        env={"DEVICE_URI": uri, "CONTENT_TYPE": "application/pdf"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ATTR: marker-names=" in result.stderr  # supplies read back over IPP
    job = mfpd.wait_jobs_done(1)[0]
    assert (job["source"], job["user"], job["name"]) == ("ipp", "alice", "Quarterly")
    assert (job["format"], job["pages"], job["copies"]) == ("application/pdf", 3, 2)
    assert job["state"] == "completed"


def _post(mfpd: Mfpd, body: bytes, content_type: str = "application/ipp") -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", mfpd.port("ipp"), timeout=10)
    try:
        conn.request("POST", "/ipp/print", body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Server") or ""
    finally:
        conn.close()


def _request(version: bytes, request_id: int, attributes: bytes) -> bytes:
    return version + b"\x00\x0b" + request_id.to_bytes(4, "big") + attributes + b"\x03"


CHARSET = b"\x01\x47\x00\x12attributes-charset\x00\x05utf-8"
LANGUAGE = b"\x48\x00\x1battributes-natural-language\x00\x02en"


def _uri(mfpd: Mfpd) -> bytes:
    value = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print".encode()
    return b"\x45\x00\x0bprinter-uri" + len(value).to_bytes(2, "big") + value


def test_bad_requests_get_ipp_statuses_and_the_printer_keeps_serving(mfpd: Mfpd) -> None:
    status, body, server = _post(mfpd, _request(b"\x03\x00", 7, CHARSET + LANGUAGE + _uri(mfpd)))
    assert status == 200 and body[2:4] == b"\x05\x03"  # server-error-version-not-supported
    assert body[4:8] == (7).to_bytes(4, "big")
    assert "WorkCentre 7755" in server and "aiohttp" not in server and "Python" not in server
    _, body, _ = _post(mfpd, _request(b"\x02\x00", 0, CHARSET + LANGUAGE + _uri(mfpd)))
    assert body[2:4] == b"\x04\x00"  # request-id 0: client-error-bad-request
    _, body, _ = _post(mfpd, _request(b"\x02\x00", 8, LANGUAGE.replace(b"\x48", b"\x01\x48", 1)
                                      + CHARSET[1:] + _uri(mfpd)))  # fmt: skip
    assert body[2:4] == b"\x04\x00"  # natural-language before charset
    _, body, _ = _post(mfpd, _request(b"\x01\x00", 9, CHARSET + LANGUAGE + _uri(mfpd)))
    assert body[:2] == b"\x01\x00" and body[2:4] == b"\x00\x00"  # IPP/1.0 (Windows) answered
    _, body, _ = _post(mfpd, b"\x02\x00\x00\x0b\x00\x00\x00\x0a\x01\x47\xff\xff garbage")
    assert body[2:4] == b"\x04\x00"
    status, _, _ = _post(mfpd, b"not ipp at all", content_type="text/plain")
    assert status == 400
    _, body, _ = _post(mfpd, _request(b"\x02\x00", 11, CHARSET + LANGUAGE + _uri(mfpd)))
    assert body[2:4] == b"\x00\x00"
    assert "Traceback" not in mfpd.log.read_text()


def test_printer_state_follows_the_device(mfpd: Mfpd, tmp_path: Path) -> None:
    need("ipptool")
    test = tmp_path / "state.test"
    test.write_text(
        "{\n OPERATION Get-Printer-Attributes\n GROUP operation-attributes-tag\n"
        " ATTR charset attributes-charset utf-8\n ATTR language attributes-natural-language en\n"
        " ATTR uri printer-uri $uri\n"
        " ATTR keyword requested-attributes printer-state,printer-state-reasons,marker-levels\n"
        " STATUS successful-ok\n DISPLAY printer-state\n DISPLAY printer-state-reasons\n}\n"
    )
    uri = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print"

    def state() -> str:
        return subprocess.run(["ipptool", "-t", uri, str(test)], capture_output=True,
                              text=True, timeout=60).stdout  # fmt: skip

    assert "printer-state (enum) = idle" in state()
    mfpd.cli("fault", "jam")
    out = state()
    assert "printer-state (enum) = stopped" in out and "media-jam-error" in out
    mfpd.cli("fault", "jam", "--clear")
    mfpd.cli("fault", "toner-low")
    assert "toner-low-warning" in state()


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_upload_cut_short_is_recorded_not_printed(mfpd: Mfpd, framing: str) -> None:
    value = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print".encode()
    attributes = (
        CHARSET + LANGUAGE + b"\x45\x00\x0bprinter-uri" + len(value).to_bytes(2, "big") + value
        + b"\x42\x00\x14requesting-user-name\x00\x04carl"
    )  # fmt: skip
    body = b"\x02\x00\x00\x02\x00\x00\x00\x05" + attributes + b"\x03" + b"%PDF-1.4 partial"
    head = b"POST /ipp/print HTTP/1.1\r\nHost: x\r\nContent-Type: application/ipp\r\n"
    if framing == "length":
        data = head + b"Content-Length: 100000\r\n\r\n" + body
    else:
        data = head + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n"
    with socket.create_connection(("127.0.0.1", mfpd.port("ipp")), timeout=10) as sock:
        sock.sendall(data)
        mfpd.wait_for(lambda jobs: len(jobs) == 1)  # the upload has begun
    job = mfpd.wait_jobs_done(1)[0]
    assert job["state"] == "aborted" and "job-data-insufficient" in job["state_reasons"]
    assert job["user"] == "carl"
    assert "Traceback" not in mfpd.log.read_text()


def test_printer_icon_is_served_on_the_ipp_port(mfpd: Mfpd) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", mfpd.port("ipp"), timeout=10)
    try:
        conn.request("GET", "/icon.png")
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200 and response.getheader("Content-Type") == "image/png"
    assert body.startswith(b"\x89PNG\r\n\x1a\n") and b"IHDR" in body[:16]
    assert "WorkCentre" in (response.getheader("Server") or "")


PRINTER_CONTROL_TEST = """
{{
 NAME "{op}"
 OPERATION {op}
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR language attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR name requesting-user-name root
 STATUS successful-ok
}}
{{
 NAME "state after {op}"
 OPERATION Get-Printer-Attributes
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR language attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR keyword requested-attributes printer-state,printer-state-reasons
 STATUS successful-ok
 DISPLAY printer-state
 DISPLAY printer-state-reasons
}}
"""


def test_pause_resume_and_hold_new_jobs(mfpd: Mfpd, tmp_path: Path) -> None:
    need("ipptool")
    uri = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print"

    def run(op: str) -> str:
        test = tmp_path / f"{op}.test"
        test.write_text(PRINTER_CONTROL_TEST.format(op=op))
        out = subprocess.run(["ipptool", "-t", uri, str(test)], capture_output=True,
                             text=True, timeout=60).stdout  # fmt: skip
        assert "[FAIL]" not in out, out
        return out

    assert "printer-state (enum) = stopped" in run("Pause-Printer")
    assert mfpd.status()["state"] == "stopped"
    assert "printer-state (enum) = idle" in run("Resume-Printer")
    assert "hold-new-jobs-report" in run("Hold-New-Jobs")
    pdf = make_pdf(tmp_path / "held.pdf", 1)
    send = subprocess.run(
        [IPP_BACKEND, "1", "dana", "Held", "1", "", str(pdf)],
        env={"DEVICE_URI": uri + "?waitjob=false", "CONTENT_TYPE": "application/pdf"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert send.returncode == 0, send.stderr[-2000:]
    job = mfpd.wait_for(lambda jobs: len(jobs) == 1 and jobs[0]["state"] == "held")[0]
    assert "job-held-on-create" in job["state_reasons"]
    run("Release-Held-New-Jobs")
    assert mfpd.wait_jobs_done(1)[0]["state"] == "completed"


# What CUPS 2.4's HTTP library sends before every request (ipptool, driverless and the ipp
# backend alike, captured through a socat relay): Expect: 100-continue, head and body together.
CUPS_FIELDS = (
    "Date: Mon, 07 Dec 2026 16:04:19 GMT\r\nUser-Agent: CUPS/2.4.2 (Linux 6.1.0; x86_64) "
    "IPP/2.0\r\nAccept-Encoding: deflate, gzip, identity\r\nExpect: 100-continue\r\n"
)


@pytest.mark.parametrize("fields", ["", CUPS_FIELDS], ids=["plain", "as-cups"])
def test_the_fast_path_answers_as_the_full_http_stack_does(mfpd: Mfpd, fields: str) -> None:
    """A request sent whole is answered without aiohttp (codecs/http_simple.py); the same
    request sent head first, body later, goes through aiohttp. The answers must agree. With
    Expect: 100-continue, the request sent whole is answered at once (RFC 9110 10.1.1: the
    body is in, the 100 may be left out), and aiohttp sends the 100 the split one waits for."""
    from mfpd.codecs.ipp.decode import decode_message

    request = _request(b"\x02\x00", 5, CHARSET + LANGUAGE + _uri(mfpd))
    head = (
        f"POST /ipp/print HTTP/1.1\r\nHost: 127.0.0.1:{mfpd.port('ipp')}\r\n{fields}"
        f"Content-Type: application/ipp\r\nContent-Length: {len(request)}\r\n\r\n"
    ).encode()

    def exchange(pieces: list[bytes]) -> tuple[bytes, bytes, bytes]:
        with socket.create_connection(("127.0.0.1", mfpd.port("ipp")), timeout=10) as sock:
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(0.2)
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        interim = b""
        if data.startswith(b"HTTP/1.1 100 "):
            interim, _, data = data.partition(b"\r\n\r\n")
        answer_head, _, body = data.partition(b"\r\n\r\n")
        return interim, answer_head, body

    whole_interim, whole_head, whole = exchange([head + request])
    split_interim, split_head, split = exchange([head, request])
    assert whole_interim == b""  # the fast path: the body was in hand
    if fields:
        assert split_interim == b"HTTP/1.1 100 Continue"
    for answer_head in (whole_head, split_head):
        lines = answer_head.decode().lower().split("\r\n")
        assert lines[0] == "http/1.1 200 ok"
        assert "content-type: application/ipp" in lines
        assert any(line.startswith("server: xerox workcentre 7755") for line in lines)
        assert any(line.startswith("date: ") for line in lines)
    changing = {"printer-up-time", "printer-current-time", "printer-state-change-time",
                "printer-state-change-date-time", "printer-config-change-time"}  # fmt: skip
    answers = [decode_message(body)[0] for body in (whole, split)]
    assert answers[0].code == answers[1].code == 0
    printers = [
        {a.name: a.values for g in m.groups for a in g.attributes if a.name not in changing}
        for m in answers
    ]
    assert printers[0] == printers[1]
    assert len(printers[0]) > 100
