"""`mfpd print`: a file sent to a printer the way a real client sends it, and the job id the
device gave it.

IPP is a Print-Job request (RFC 8011 4.2.1) over HTTP POST, its answer carrying the job-id.
LPD is an RFC 1179 receive-job: the data file, then a control file naming the host, the user,
the job and the file, with the print line repeated once per copy (section 7), as BSD lpr and
Windows' LPR port send it. Raw 9100 is what a JetDirect driver sends: the document between
UELs, opened by PJL JOB with the job's name, SET USERNAME and SET COPIES, closed by EOJ (PJL
Technical Reference Manual 5 and 10). LPD and raw have no job id in the protocol: the id is
found in the job list of the state dir of the daemon that was targeted (a job of that source,
name and user, newer than any listed before sending).

Standard library and the project's codecs only, so that the command starts fast.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mfpd.codecs import lpd

VIAS = ("ipp", "lpd", "raw")
CHUNK = 64 * 1024
# IPP: the printer's URI path (services/ipp); the rest of the device answers there too.
IPP_PATH = "/ipp/print"
UEL = b"\x1b%-12345X"
# How long a job sent over LPD or raw may take to appear in the daemon's job list.
FIND_TIMEOUT = 10.0


class SubmitError(Exception):
    """Why a job could not be sent (connection refused, an IPP error status, an LPD NAK)."""


@dataclass(frozen=True)
class PrintRequest:
    path: Path
    via: str
    host: str
    port: int
    user: str
    copies: int = 1
    name: str = ""
    document_format: str = "application/octet-stream"
    queue: str = "lp"
    timeout: float = 30.0

    @property
    def job_name(self) -> str:
        return self.name or self.path.name


def live_port(state_dir: Path, via: str) -> tuple[str, int]:
    """The address and port the daemon of `state_dir` listens on for `via`, from its live port
    table (STATE_DIR/ports.json, written once every service is up)."""
    table = state_dir / "ports.json"
    try:
        rows = json.loads(table.read_text())
    except FileNotFoundError:
        raise SubmitError(
            f"no mfpd is running with state dir {state_dir} (no ports.json); give --host and --port"
        ) from None
    for row in rows:
        if row.get("service") == via:
            if row.get("state") not in ("listening", "moved"):
                why = ": ".join(str(x) for x in (row.get("state"), row.get("note")) if x)
                raise SubmitError(f"the daemon of {state_dir} has no {via} listener ({why})")
            address = str(row["address"]).strip("[]")
            # A daemon listening on every address is reached on the loopback.
            address = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
            return address, int(row["port"])
    raise SubmitError(f"{state_dir / 'ports.json'} has no {via} row")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _connect(request: PrintRequest) -> socket.socket:
    try:
        return socket.create_connection((request.host, request.port), timeout=request.timeout)
    except OSError as exc:
        raise SubmitError(_cannot_connect(request, exc)) from None


def _cannot_connect(request: PrintRequest, exc: OSError) -> str:
    where = f"[{request.host}]" if ":" in request.host else request.host
    return f"cannot connect to {where}:{request.port} ({request.via}): {exc.strerror or exc}"


# -- IPP ---------------------------------------------------------------------------------


def send_ipp(request: PrintRequest) -> int:
    """Print-Job; the job-id of the answer."""
    from mfpd.codecs.ipp import (
        AttributeGroup,
        DelimiterTag,
        IppDecodeError,
        Operation,
        StatusCode,
        attribute,
        decode_message,
        encode_message,
        make_request,
    )

    host = f"[{request.host}]" if ":" in request.host else request.host
    uri = f"ipp://{host}:{request.port}{IPP_PATH}"
    message = make_request(
        Operation.PRINT_JOB,
        1,
        [
            attribute("printer-uri", uri),
            attribute("requesting-user-name", request.user),
            attribute("job-name", request.job_name),
            attribute("document-format", request.document_format),
        ],
        groups=[AttributeGroup(DelimiterTag.JOB, (attribute("copies", request.copies),))],
    )
    head = encode_message(message)
    size = len(head) + request.path.stat().st_size
    connection = http.client.HTTPConnection(request.host, request.port, timeout=request.timeout)
    try:
        with request.path.open("rb") as document:

            def body() -> Iterator[bytes]:
                yield head
                yield from _chunks(document)

            try:
                connection.request(
                    "POST",
                    IPP_PATH,
                    body=body(),
                    headers={"Content-Type": "application/ipp", "Content-Length": str(size)},
                )
                answer = connection.getresponse()
                data = answer.read()
            except OSError as exc:
                raise SubmitError(_cannot_connect(request, exc)) from None
            except http.client.HTTPException as exc:
                raise SubmitError(f"IPP: the printer's answer is not HTTP: {exc!r}") from None
    finally:
        connection.close()
    if answer.status != 200:
        raise SubmitError(f"IPP: HTTP {answer.status} {answer.reason}")
    try:
        reply, _ = decode_message(data)
    except IppDecodeError as exc:
        raise SubmitError(f"IPP: the printer's answer does not decode: {exc}") from None
    status = reply.status
    text = reply.get(DelimiterTag.OPERATION, "status-message")
    detail = f" ({text.value})" if text is not None and isinstance(text.value, str) else ""
    if status is None or not status.is_successful:
        name = status.keyword if isinstance(status, StatusCode) else f"0x{reply.code:04x}"
        raise SubmitError(f"IPP: {name}{detail}")
    job_id = reply.get(DelimiterTag.JOB, "job-id")
    if job_id is None or not isinstance(job_id.value, int):
        raise SubmitError(f"IPP: {status.keyword}, but the answer has no job-id")
    return job_id.value


# -- LPD ---------------------------------------------------------------------------------


def _expect_ack(sock: socket.socket, what: str) -> None:
    """RFC 1179 6: each command and file is acknowledged by one zero octet."""
    try:
        ack = sock.recv(1)
    except OSError as exc:
        raise SubmitError(f"LPD: no acknowledgement of {what}: {exc.strerror or exc}") from None
    if ack != b"\0":
        refusal = "the connection closed" if not ack else f"octet {ack[0]}"
        raise SubmitError(f"LPD: the printer refused {what} ({refusal})")


def lpd_control_file(request: PrintRequest, host: str, data_name: str) -> bytes:
    """The control file (RFC 1179 7): H host, P user, J job name, N source file name, and one
    `l` line (print, control characters kept: the device senses the language) per copy."""
    lines = [
        f"H{host}",
        f"P{request.user}",
        f"J{request.job_name}",
        f"N{request.path.name}",
        *[f"l{data_name}"] * request.copies,
    ]
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def send_lpd(request: PrintRequest) -> None:
    host = socket.gethostname().split(".")[0][:31] or "localhost"  # RFC 1179 7.2: 31 octets
    number = os.getpid() % 1000  # RFC 1179 6.2: a three-digit job number
    data_name = f"dfA{number:03d}{host}"
    control = lpd_control_file(request, host, data_name)
    size = request.path.stat().st_size
    with _connect(request) as sock:
        sock.sendall(lpd.encode_command(lpd.Command.RECEIVE_JOB, request.queue))
        _expect_ack(sock, f"queue {request.queue!r}")
        # Data first, control last, as BSD lpr: the job is whole when its control file comes.
        sock.sendall(b"\3%d %s\n" % (size, data_name.encode()))
        _expect_ack(sock, "the data file")
        with request.path.open("rb") as document:
            for chunk in _chunks(document):
                sock.sendall(chunk)
        sock.sendall(b"\0")
        _expect_ack(sock, "the data")
        sock.sendall(b"\2%d cfA%03d%s\n" % (len(control), number, host.encode()))
        _expect_ack(sock, "the control file")
        sock.sendall(control + b"\0")
        _expect_ack(sock, "the control file's contents")


# -- raw 9100 ----------------------------------------------------------------------------


def _pjl_string(text: str) -> str:
    """A PJL quoted string holds no quote and no line end (PJLTRM 2)."""
    return "".join(c for c in text if c not in '"\r\n')


def raw_header(request: PrintRequest) -> bytes:
    name = _pjl_string(request.job_name)
    lines = [
        f'@PJL JOB NAME="{name}"',
        f'@PJL SET USERNAME="{_pjl_string(request.user)}"',
        f"@PJL SET COPIES={request.copies}",
    ]
    return UEL + "".join(f"{line}\r\n" for line in lines).encode("utf-8")


def raw_trailer(request: PrintRequest) -> bytes:
    return UEL + f'@PJL EOJ NAME="{_pjl_string(request.job_name)}"\r\n'.encode() + UEL


def send_raw(request: PrintRequest) -> None:
    with _connect(request) as sock:
        try:
            sock.sendall(raw_header(request))
            with request.path.open("rb") as document:
                for chunk in _chunks(document):
                    sock.sendall(chunk)
            sock.sendall(raw_trailer(request))
            sock.shutdown(socket.SHUT_WR)
            # A JetDirect card closes once it has the job; wait for that, as CUPS's socket
            # backend does, so that the job is in the list when we look for it.
            while sock.recv(4096):
                pass
        except OSError as exc:
            raise SubmitError(f"raw: the connection failed: {exc.strerror or exc}") from None


# -- the job id of LPD and raw -----------------------------------------------------------


def last_job_id(state_dir: Path) -> int:
    from mfpd.device.store import read_jobs

    return max((job.id for job in read_jobs(state_dir)), default=0)


def find_job(state_dir: Path, request: PrintRequest, after: int) -> int | None:
    """The first job newer than `after` that this request made, polled for FIND_TIMEOUT."""
    from mfpd.device.store import read_jobs

    deadline = time.monotonic() + FIND_TIMEOUT
    while True:
        for job in read_jobs(state_dir):
            if (
                job.id > after
                and job.source == request.via
                and job.user == request.user
                and job.name == request.job_name
            ):
                return job.id
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def submit(request: PrintRequest, state_dir: Path | None) -> int | None:
    """Send the job; its id, or None when the protocol has none and no state dir tells it."""
    if not request.path.is_file():
        raise SubmitError(f"{request.path}: no such file")
    if request.via == "ipp":
        return send_ipp(request)
    before = last_job_id(state_dir) if state_dir is not None else 0
    if request.via == "lpd":
        send_lpd(request)
    else:
        send_raw(request)
    if state_dir is None:
        return None
    return find_job(state_dir, request, before)
