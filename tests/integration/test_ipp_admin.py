"""IPP's job and printer administration on the real daemon, driven with ipptool: secure print
(PWG 5100.11 job-password), Print-URI / Send-URI, Set-Job-Attributes and
Set-Printer-Attributes (RFC 3380), Enable/Disable-Printer and Cancel-Current-Job (RFC 3998),
Restart-Job, Purge-Jobs, job-priority."""

from __future__ import annotations

import functools
import http.server
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import FAST_CONFIG, ROOT, Mfpd, need
from tests.documents import make_pdf
from tests.ipp_samples import prepare

SLOW_CONFIG = """
[engine]
speed_ppm = 6
speed_ppm_color = 6
"""


def op(name: str, operation: str, *lines: str, status: str = "successful-ok") -> str:
    """One ipptool test: `lines` are ATTR/GROUP/FILE/EXPECT/DISPLAY lines after the
    operation group's charset, language, printer-uri and requesting-user-name."""
    body = [
        f'NAME "{name}"', f"OPERATION {operation}", "GROUP operation-attributes-tag",
        "ATTR charset attributes-charset utf-8", "ATTR language attributes-natural-language en",
        "ATTR uri printer-uri $uri", "ATTR name requesting-user-name tester",
        *lines, f"STATUS {status}",
    ]  # fmt: skip
    return "{\n " + "\n ".join(body) + "\n}\n"


def ipptool(mfpd: Mfpd, tmp_path: Path, *tests: str, args: tuple[str, ...] = ()) -> str:
    need("ipptool")
    test = tmp_path / "admin.test"
    test.write_text("".join(tests))
    uri = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print"
    result = subprocess.run(
        ["ipptool", "-t", *args, uri, str(test)], capture_output=True, text=True, timeout=120
    )
    assert "[FAIL]" not in result.stdout, result.stdout[-4000:]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def ipptool_dir() -> Path:
    need("ipptool", "gs")
    directory = ROOT / ".cache" / "ipptool"
    prepare(directory, "print-job-password.test", "print-uri.test", "cancel-current-job.test")
    return directory


def test_secure_print_waits_for_its_passcode(mfpd: Mfpd, ipptool_dir: Path, tmp_path: Path) -> None:
    uri = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print"
    result = subprocess.run(
        ["ipptool", "-t", "-f", "document-a4.pdf", uri, "print-job-password.test"],
        cwd=ipptool_dir, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and "[FAIL]" not in result.stdout, result.stdout
    job = mfpd.wait_for(lambda jobs: len(jobs) == 1 and jobs[0]["state"] == "held")[0]
    assert "job-password-wait" in job["state_reasons"]
    # Release-Job cannot release it: the passcode is typed at the device.
    ipptool(mfpd, tmp_path, op("release", "Release-Job", f"ATTR integer job-id {job['id']}",
                               status="client-error-not-authorized"))  # fmt: skip
    wrong = mfpd.cli("release", str(job["id"]), "--passcode", "9999", check=False)
    assert wrong.returncode != 0 and "wrong passcode" in wrong.stderr
    assert mfpd.jobs()[0]["state"] == "held"
    mfpd.cli("release", str(job["id"]), "--passcode", "1234")
    assert mfpd.wait_jobs_done(1)[0]["state"] == "completed"
    assert "1234" not in mfpd.log.read_text()
    # Longer than job-password-supported: refused with the attribute returned.
    out = ipptool(mfpd, tmp_path, op(
        "too long", "Validate-Job", "ATTR octetString job-password " + "7" * 40,
        "EXPECT job-password IN-GROUP unsupported-attributes-tag",
        status="client-error-attributes-or-values-not-supported",
    ))  # fmt: skip
    assert "[PASS]" in out


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on loopback for the printer to fetch documents from."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_print_uri_and_send_uri_fetch_the_document(
    mfpd_factory: Callable[..., Mfpd],
    ipptool_dir: Path,
    web_root: tuple[str, Path],
    tmp_path: Path,
) -> None:
    base, root = web_root
    make_pdf(root / "report.pdf", pages=3)
    make_pdf(root / "memo.pdf", pages=2)
    mfpd = mfpd_factory(FAST_CONFIG + '\n[ipp]\ndocument_uri_schemes = ["http", "file"]\n')
    ipptool(
        mfpd, tmp_path,
        op("Print-URI http", "Print-URI", f"ATTR uri document-uri {base}/report.pdf",
           "ATTR name job-name fetched", "EXPECT job-id"),
        op("missing", "Print-URI", f"ATTR uri document-uri {base}/missing.pdf",
           status="client-error-document-access-error"),
        op("ftp is off", "Print-URI", "ATTR uri document-uri ftp://127.0.0.1/x.pdf",
           "EXPECT document-uri IN-GROUP unsupported-attributes-tag",
           status="client-error-uri-scheme-not-supported"),
        op("Create-Job", "Create-Job", "ATTR name job-name sent", "EXPECT job-id"),
        op("Send-URI", "Send-URI", "ATTR integer job-id $job-id",
           f"ATTR uri document-uri {base}/memo.pdf", "ATTR boolean last-document true"),
    )  # fmt: skip
    jobs = {job["name"]: job for job in mfpd.wait_jobs_done(3)}
    assert (jobs["fetched"]["state"], jobs["fetched"]["pages"]) == ("completed", 3)
    assert (jobs["sent"]["state"], jobs["sent"]["pages"]) == ("completed", 2)
    missing = [job for name, job in jobs.items() if name not in ("fetched", "sent")]
    assert missing[0]["state"] == "aborted"
    assert "document-access-error" in missing[0]["state_reasons"]
    # Debian's file with a file: URI (absolute, as a file URI must be).
    result = subprocess.run(
        ["ipptool", "-t", "-f", str(ipptool_dir / "document-a4.pdf"),
         f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print", "print-uri.test"],
        cwd=ipptool_dir, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and "[FAIL]" not in result.stdout, result.stdout
    assert mfpd.wait_jobs_done(4)[-1]["state"] == "completed"


def test_set_printer_attributes_persist_across_restarts(mfpd: Mfpd, tmp_path: Path) -> None:
    ipptool(
        mfpd, tmp_path,
        op("set", "Set-Printer-Attributes", "GROUP printer-attributes-tag",
           'ATTR text printer-location "Room 42, second floor"',
           r"ATTR uri printer-geo-location geo:52.5200\,13.4050",  # ipptool splits at commas
           'ATTR text printer-organization "Example Corp"'),
        op("not settable", "Set-Printer-Attributes", "GROUP printer-attributes-tag",
           'ATTR text printer-location "Elsewhere"', "ATTR name printer-name other",
           "EXPECT printer-name IN-GROUP unsupported-attributes-tag",
           status="client-error-attributes-not-settable"),
        op("supported values", "Get-Printer-Supported-Values",
           "EXPECT printer-location IN-GROUP printer-attributes-tag"),
        op("seen at once", "Get-Printer-Attributes",
           'EXPECT printer-location WITH-VALUE "Room 42, second floor"'),
    )  # fmt: skip
    mfpd.kill9()  # the change was on disk before the answer: a crash does not lose it
    mfpd.start()
    out = ipptool(
        mfpd, tmp_path,
        op("read back", "Get-Printer-Attributes",
           "ATTR keyword requested-attributes printer-location,printer-geo-location,"
           "printer-organization,printer-config-change-time",
           'EXPECT printer-location WITH-VALUE "Room 42, second floor"',
           'EXPECT printer-geo-location WITH-VALUE "/^geo:52.5200,13.4050$/"',
           'EXPECT printer-organization WITH-VALUE "Example Corp"'),
    )  # fmt: skip
    assert "[PASS]" in out
    assert mfpd.status()["identity"]["location"] == "Room 42, second floor"


def test_set_job_attributes_restart_job_and_priority(mfpd: Mfpd, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "two.pdf", pages=2)
    ipptool(
        mfpd, tmp_path,
        op("held", "Print-Job", "ATTR mimeMediaType document-format application/pdf",
           "GROUP job-attributes-tag", "ATTR keyword job-hold-until indefinite",
           f"FILE {pdf}", "EXPECT job-id"),
        op("set", "Set-Job-Attributes", "ATTR integer job-id $job-id",
           "GROUP job-attributes-tag", 'ATTR name job-name "Renamed"',
           "ATTR integer copies 3", "ATTR integer job-priority 90"),
        op("not settable", "Set-Job-Attributes", "ATTR integer job-id $job-id",
           "GROUP job-attributes-tag", "ATTR enum job-state 9",
           status="client-error-attributes-not-settable"),
        op("read", "Get-Job-Attributes", "ATTR integer job-id $job-id",
           "EXPECT job-name WITH-VALUE Renamed", "EXPECT job-priority WITH-VALUE 90",
           "EXPECT copies WITH-VALUE 3"),
        op("release", "Set-Job-Attributes", "ATTR integer job-id $job-id",
           "GROUP job-attributes-tag", "ATTR keyword job-hold-until no-hold"),
    )  # fmt: skip
    job = mfpd.wait_jobs_done(1)[0]
    assert (job["name"], job["copies"], job["impressions_completed"]) == ("Renamed", 3, 6)
    before = mfpd.status()["counters"]["impressions"]
    ipptool(
        mfpd, tmp_path,
        op("finished", "Set-Job-Attributes", f"ATTR integer job-id {job['id']}",
           "GROUP job-attributes-tag", 'ATTR name job-name "Late"',
           status="client-error-not-possible"),
        op("restart", "Restart-Job", f"ATTR integer job-id {job['id']}"),
    )  # fmt: skip
    mfpd.wait_for(lambda jobs: jobs[0]["state"] == "completed" and jobs[0]["completed_at"])
    assert mfpd.status()["counters"]["impressions"] == before + 6
    # job-priority: with the printer paused, the urgent job queued last prints first.
    ipptool(mfpd, tmp_path, op("pause", "Pause-Printer"))
    for name, priority in (("routine", 10), ("urgent", 95)):
        lines = ("GROUP job-attributes-tag", f"ATTR integer job-priority {priority}")
        ipptool(mfpd, tmp_path, op(name, "Print-Job", f"ATTR name job-name {name}", *lines,
                                   f"FILE {pdf}"))  # fmt: skip
    ipptool(mfpd, tmp_path, op("resume", "Resume-Printer"))
    done = {job["name"]: job for job in mfpd.wait_jobs_done(3)}
    assert done["urgent"]["completed_at"] < done["routine"]["completed_at"]


def test_disable_enable_and_purge(mfpd: Mfpd, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "one.pdf", pages=1)
    print_job = op("print", "Print-Job", f"FILE {pdf}", "EXPECT job-id")
    ipptool(
        mfpd, tmp_path,
        op("disable", "Disable-Printer"),
        op("state", "Get-Printer-Attributes",
           "ATTR keyword requested-attributes printer-is-accepting-jobs",
           "EXPECT printer-is-accepting-jobs WITH-VALUE false"),
        op("refused", "Print-Job", f"FILE {pdf}", status="server-error-not-accepting-jobs"),
    )  # fmt: skip
    # Disabled is disabled for every protocol: LPD refuses the job too (RFC 1179 NAK).
    with socket.create_connection(("127.0.0.1", mfpd.port("lpd")), timeout=10) as sock:
        sock.sendall(b"\x02lp\n")
        assert sock.recv(1) not in (b"", b"\x00")
    ipptool(
        mfpd, tmp_path,
        op("enable", "Enable-Printer"),
        op("held", "Print-Job", "GROUP job-attributes-tag",
           "ATTR keyword job-hold-until indefinite", f"FILE {pdf}"),
        op("held", "Print-Job", "GROUP job-attributes-tag",
           "ATTR keyword job-hold-until indefinite", f"FILE {pdf}"),
        op("purge", "Purge-Jobs"),
        print_job,
    )  # fmt: skip
    jobs = mfpd.wait_jobs_done(3)
    assert [job["state"] for job in jobs] == ["canceled", "canceled", "completed"]


def test_cancel_current_job(
    mfpd_factory: Callable[..., Mfpd], ipptool_dir: Path, tmp_path: Path
) -> None:
    mfpd = mfpd_factory(SLOW_CONFIG)  # 10 s a page: the job is still printing when canceled
    pdf = make_pdf(tmp_path / "long.pdf", pages=5)
    ipptool(mfpd, tmp_path, op("idle", "Cancel-Current-Job", status="client-error-not-possible"))
    ipptool(mfpd, tmp_path, op("print", "Print-Job", f"FILE {pdf}"))
    mfpd.wait_for(lambda jobs: jobs[0]["state"] == "processing")
    ipptool(mfpd, tmp_path, op("cancel", "Cancel-Current-Job"))
    job = mfpd.wait_jobs_done(1)[0]
    assert job["state"] == "canceled" and job["impressions_completed"] < 5
    # Debian's cancel-current-job.test: the first not-completed job, canceled.
    ipptool(mfpd, tmp_path, op("print", "Print-Job", f"FILE {pdf}"))
    uri = f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print"
    result = subprocess.run(["ipptool", "-t", uri, "cancel-current-job.test"], cwd=ipptool_dir,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0 and "[FAIL]" not in result.stdout, result.stdout
    assert [job["state"] for job in mfpd.wait_jobs_done(2)] == ["canceled", "canceled"]


# What CUPS 2.4's HTTP library sends before each request (tests/integration/test_ipp.py).
CUPS_HEAD = (
    "POST /ipp/print HTTP/1.1\r\nContent-Length: {length}\r\nContent-Type: application/ipp\r\n"
    "Date: Mon, 07 Dec 2026 16:04:19 GMT\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: CUPS/2.4.2 "
    "(Linux 6.1.0; x86_64) IPP/2.0\r\nAccept-Encoding: deflate, gzip, identity\r\n"
    "Expect: 100-continue\r\n\r\n"
)


def test_a_connection_asking_the_same_again_sees_each_change(mfpd: Mfpd, tmp_path: Path) -> None:
    """A keep-alive connection sending the same Get-Printer-Attributes again and again, as a
    CUPS client polls, is given its last answer again (the request-id put in) while nothing
    has changed; each change made over other connections meanwhile (Set-Printer-Attributes,
    a fault, Pause-Printer, a queued job) shows in its very next answer."""
    from mfpd.codecs.ipp.decode import decode_message
    from mfpd.codecs.ipp.encode import encode_message, make_request
    from mfpd.codecs.ipp.tags import DelimiterTag, Operation
    from mfpd.services.ipp import build as b

    port = mfpd.port("ipp")
    octets = encode_message(
        make_request(
            Operation.GET_PRINTER_ATTRIBUTES,
            1,
            [b.uri("printer-uri", f"ipp://127.0.0.1:{port}/ipp/print"),
             b.keyword("requested-attributes", "all")],
        )
    )  # fmt: skip
    head = CUPS_HEAD.format(length=len(octets), port=port).encode()
    ids = iter(range(2, 1000))

    def ask(sock: socket.socket) -> dict[str, tuple[object, ...]]:
        request_id = next(ids)
        sock.sendall(head + octets[:4] + request_id.to_bytes(4, "big") + octets[8:])
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        answer_head, _, body = data.partition(b"\r\n\r\n")
        length = int(answer_head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(65536)
        assert len(body) == length
        message, _ = decode_message(body)
        assert (message.code, message.request_id) == (0, request_id)
        group = message.first(DelimiterTag.PRINTER)
        assert group is not None
        return {a.name: a.values for a in group}

    location = 'ATTR text printer-location "Room 7, by the stairs"'
    changes: list[tuple[Callable[[], object], Callable[[dict[str, tuple[object, ...]]], bool]]] = [
        (lambda: ipptool(mfpd, tmp_path, op("set", "Set-Printer-Attributes",
                                            "GROUP printer-attributes-tag", location)),
         lambda p: p["printer-location"] == ("Room 7, by the stairs",)),
        (lambda: mfpd.cli("fault", "jam"),
         lambda p: "media-jam-error" in p["printer-state-reasons"]),
        (lambda: ipptool(mfpd, tmp_path, op("pause", "Pause-Printer")),
         lambda p: "paused-report" in p["printer-state-reasons"]),
        (lambda: ipptool(mfpd, tmp_path, op("job", "Create-Job", "ATTR name job-name waits")),
         lambda p: p["queued-job-count"] == (1,)),
    ]  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for change, shows in changes:
            ask(sock)
            assert not shows(ask(sock))
            change()
            assert shows(ask(sock))
    assert "Traceback" not in mfpd.log.read_text()
