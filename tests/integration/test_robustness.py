"""A security tester's robustness suite against the live daemon (raw 9100 + PJL, LPD 515).

Hostile byte streams (Hypothesis, derandomized, bounded), path traversal and planted symlinks
against the PJL file system, lying FSDOWNLOAD sizes, LPD count and control file abuse,
pipelining, RST mid-transfer, connection storms against a small `max_connections`, idle, slow
and non-reading clients, an endless PJL line against the daemon's memory, and the same PJL
questions cut at every byte. After every batch the daemon must be alive, both ports must
answer, no file may appear outside its PJL volume, the job list must parse with every job in a
valid state (aborted ones with a reason), and its log must hold no traceback.

The end of this file holds one minimal reproducer per bug the suite found, each now a
regression test: non-ASCII digits in PJL numbers, an LPD command cut by EOF, replies to a
client that never reads, control characters in the log, a receive job of thousands of data
files, and PJL volume entries that escaped the quota.
"""

from __future__ import annotations

import errno
import os
import re
import select
import signal
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, Mfpd

UEL = b"\x1b%-12345X"
MODEL = b'"Xerox WorkCentre 7755"'
INFO_ID_REPLY = b"@PJL INFO ID\r\n" + MODEL + b"\r\n\x0c"
MARK = "mfpdrbx"  # in every hostile file name: nothing with it may appear outside the volume
IO_TIMEOUT = 10.0  # a daemon that keeps a half-closed connection open longer than this hangs
TERMINAL = ("completed", "canceled", "aborted")
VALID_STATES = ("pending", "held", "processing", "stopped", *TERMINAL)
QUOTA = 8 * 1024 * 1024

# Every PJL paper has a tray (a fuzzed SET PAPER=A6 must not leave a job waiting for paper
# forever), trays and bins never run out, no supplies to run empty: jobs always finish.
_MEDIA = (
    "iso_a4_210x297mm", "na_letter_8.5x11in", "na_legal_8.5x14in", "iso_a3_297x420mm",
    "iso_a5_148x210mm", "na_executive_7.25x10.5in", "na_ledger_11x17in", "iso_a6_105x148mm",
)  # fmt: skip
ROBUST_CONFIG = (
    "supplies = []\n\n[engine]\nspeed_ppm = 0\nspeed_ppm_color = 0\n"
    + "".join(
        f'\n[[trays]]\nname = "Tray {n}"\nmedia = "{media}"\n'
        "capacity = 1000000000\nlevel = 1000000000\n"
        for n, media in enumerate(_MEDIA, 1)
    )
    + '\n[[bins]]\nname = "Center Tray"\ncapacity = 1000000000\n'
    + f"\n[services.raw]\nidle_timeout = 5.0\npjl_fs_quota = {QUOTA}\n"
    + "\n[services.lpd]\nidle_timeout = 5.0\n"
)


def limited_config(max_connections: int, idle_timeout: float) -> str:
    return (
        "[engine]\nspeed_ppm = 0\nspeed_ppm_color = 0\n"
        f"\n[services.raw]\nmax_connections = {max_connections}\nidle_timeout = {idle_timeout}\n"
        f"\n[services.lpd]\nmax_connections = {max_connections}\nidle_timeout = {idle_timeout}\n"
    )


# ---------------------------------------------------------------------------------------------
# Sockets


def _connect(port: int, timeout: float = IO_TIMEOUT) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _rst(sock: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN (SO_LINGER on, timeout 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _read_to_eof(sock: socket.socket, timeout: float = IO_TIMEOUT) -> bytes:
    """Everything the daemon sends until it closes; a daemon that never closes is a hang."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"hang: no EOF within {timeout} s; last bytes {data[-200:]!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def _read_until(sock: socket.socket, end: bytes, timeout: float = IO_TIMEOUT) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while end not in data:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {end!r} within {timeout} s; got {data[-200:]!r}"
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data[-200:]!r}"
        data += chunk
    return data


def _deliver(port: int, pieces: list[bytes], ending: str) -> bytes:
    """Send `pieces` one `sendall` each, then end with a FIN (and read the replies to EOF),
    a plain close, or an RST."""
    try:
        sock = _connect(port)
    except OSError as exc:  # the port itself must always accept
        raise AssertionError(f"cannot connect to port {port}: {exc}") from None
    try:
        for piece in pieces:
            sock.sendall(piece)
    except (BrokenPipeError, ConnectionResetError):
        sock.close()  # the daemon may close on a protocol error: LPD does
        return b""
    if ending == "rst":
        _rst(sock)
        return b""
    if ending == "close":
        sock.close()
        return b""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:  # ENOTCONN: the daemon reset the connection already
        sock.close()
        return b""
    try:
        return _read_to_eof(sock)
    finally:
        sock.close()


def _chunked(data: bytes, size: int, most: int = 400) -> list[bytes]:
    """`data` in pieces of `size` bytes (0: whole), never more than `most` pieces."""
    if size <= 0 or size >= len(data):
        return [data]
    size = max(size, -(-len(data) // most))
    return [data[i : i + size] for i in range(0, len(data), size)]


def pjl_exchange(port: int, body: bytes) -> bytes:
    return _deliver(port, [UEL + body + UEL], "fin")


def lpd_receive_ack(port: int) -> bytes:
    with _connect(port) as sock:
        sock.sendall(b"\x02lp\n")
        sock.settimeout(IO_TIMEOUT)
        return sock.recv(1)


# ---------------------------------------------------------------------------------------------
# The invariants checked after every batch


def log_size(daemon: Mfpd) -> int:
    return daemon.log.stat().st_size if daemon.log.exists() else 0


def log_since(daemon: Mfpd, offset: int) -> str:
    with daemon.log.open("rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", errors="replace")


def volume_dir(daemon: Mfpd) -> Path:
    return daemon.state_dir / "pjl-volume"


def _shallow_roots(daemon: Mfpd) -> set[Path]:
    return {
        Path("/"), Path("/etc"), Path(tempfile.gettempdir()), Path("/tmp"), ROOT, ROOT.parent,
        Path.cwd(), daemon.state_dir, daemon.state_dir.parent,
    }  # fmt: skip


def escaped_files(daemon: Mfpd) -> list[Path]:
    """Files or directories named with MARK anywhere but inside a PJL volume: the test's whole
    tmp tree deeply, and shallowly every place a traversal could land."""
    found: list[Path] = []
    deep = daemon.state_dir.parent.parent  # the pytest base temp (or a scratch dir)
    for dirpath, dirnames, filenames in os.walk(deep):
        dirnames[:] = [d for d in dirnames if d != "pjl-volume"]
        found += [Path(dirpath, n) for n in dirnames + filenames if MARK in n.lower()]
    for root in _shallow_roots(daemon):
        try:
            names = os.listdir(root)
        except OSError:
            continue
        found += [root / n for n in names if MARK in n.lower()]
    return sorted(set(found))


def _volume_usage(daemon: Mfpd) -> tuple[int, list[Path]]:
    """Bytes of the regular files in the volume, and leftover download temporaries."""
    total, temporaries = 0, []
    for dirpath, _dirs, files in os.walk(volume_dir(daemon)):
        for name in files:
            path = Path(dirpath, name)
            try:
                st_ = path.lstat()
            except OSError:
                continue
            if name.startswith(" pjltmp-"):
                temporaries.append(path)
            if path.is_file() and not path.is_symlink():
                total += st_.st_size
    return total, temporaries


def _filesys_free(port: int) -> tuple[int, int] | None:
    reply = pjl_exchange(port, b"@PJL INFO FILESYS\r\n")
    m = re.search(rb"\r\n\t0:\t(\d+)\t(\d+)\t", reply)
    return (int(m.group(1)), int(m.group(2))) if m else None


def assert_volume_consistent(daemon: Mfpd, timeout: float = 5.0) -> None:
    """Once every connection is gone: no download temporaries, and the quota accounting
    (INFO FILESYS free space) matches the bytes really on disk."""
    deadline = time.monotonic() + timeout
    while True:
        used, temporaries = _volume_usage(daemon)
        table = _filesys_free(daemon.port("raw"))
        ok = not temporaries and table is not None and table[1] == max(0, table[0] - used)
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not temporaries, f"download temporaries left behind: {temporaries}"
    assert table is not None, "INFO FILESYS has no 0: row"
    assert table[1] == max(0, table[0] - used), (
        f"quota accounting drifted: INFO FILESYS says {table[1]} free of {table[0]}, "
        f"but {used} bytes are on disk"
    )


def assert_healthy(daemon: Mfpd, log_from: int = 0) -> None:
    """Alive, both ports answer, nothing escaped the volume, no traceback in the log."""
    assert daemon.proc is not None
    if daemon.proc.poll() is not None:
        raise AssertionError(f"daemon exited {daemon.proc.returncode}:\n{log_since(daemon, 0)}")
    reply = pjl_exchange(daemon.port("raw"), b"@PJL INFO ID\r\n")
    assert reply.startswith(INFO_ID_REPLY), f"raw port answers {reply[:200]!r}"
    assert lpd_receive_ack(daemon.port("lpd")) == b"\0", "LPD port does not ACK \\x02lp"
    escaped = escaped_files(daemon)
    assert not escaped, f"files outside the PJL volume: {escaped}"
    text = log_since(daemon, log_from)
    assert "Traceback" not in text, text[max(0, text.index("Traceback") - 600) :][:4000]


def assert_jobs_sane(daemon: Mfpd, timeout: float = 30) -> list[dict[str, Any]]:
    """`mfpd jobs --json` parses; every job ends (none stuck job-incoming) in a valid state,
    and every aborted job says why."""
    jobs = daemon.wait_for(lambda js: all(j["state"] in TERMINAL for j in js), timeout)
    for job in jobs:
        assert job["state"] in VALID_STATES, job
        assert isinstance(job["state_reasons"], list) and job["state_reasons"], job
        assert "job-incoming" not in job["state_reasons"], job
        if job["state"] == "aborted":
            assert job["state_message"], f"aborted without a message: {job}"
            assert job["state_reasons"] != ["none"], job
    return jobs


def reset_device(daemon: Mfpd) -> None:
    """Undo what a fuzzed stream may have changed for the next ones (OPMSG takes the printer
    offline; DEFAULT changes persist)."""
    pjl_exchange(
        daemon.port("raw"),
        b'@PJL INITIALIZE\r\n@PJL OPMSG DISPLAY=""\r\n@PJL STMSG DISPLAY=""\r\n'
        b'@PJL RDYMSG DISPLAY=""\r\n',
    )


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mfpd]:
    """One daemon for the whole barrage, so that abuse accumulates as it would in the field."""
    daemon = Mfpd(tmp_path_factory.mktemp("robustness") / "state", ROBUST_CONFIG).start()
    yield daemon
    if daemon.proc is not None:
        daemon.stop(signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# Strategies: hostile raw/PJL streams

HOSTILE_NAMES = [
    "0:/../{m}", "0:\\..\\..\\{m}", "0:/../../../../../../../tmp/{m}", "0:..%2f..%2f{m}",
    "0:%2e%2e%2f{m}", "0:/a/../../{m}", "0:/./.././{m}", "0:\\\\..\\\\{m}", "0:/..\\../{m}",
    "0:/.../../../{m}", "/tmp/{m}", "/etc/{m}", "{m}", "../{m}", "C:\\{m}", "1:\\{m}",
    "0:/tmp/{m}", "0:/proc/self/cwd/{m}", "0:/" + "a/" * 12 + "{m}", "0:/" + "x" * 120 + "/{m}",
    "0:/" + "A" * 300 + "{m}", "0:\x00/../{m}", "0:/{m}\x00.txt", "0:/ ../{m}", "0:/.. /{m}",
    "0:/\xe5../{m}", "0:/%00/../{m}", "0:/{m}/..", "0:/{m}/../..", "0: /../{m}",
    "0:/{m}:$DATA", "\\\\?\\0:\\..\\{m}", "0:/" + "../" * 40 + "{m}", "0:/\t../{m}",
    "0:/a/b/c/../../../../{m}", "0:/..;/{m}", "0:/{m}", "0:\\{m}\\sub",
]  # fmt: skip
PLAIN_NAMES = ["0:\\rb\\one", "0:/two", "0:", "0:/", "0:\\rb", ""]


def hostile_name(index: int) -> str:
    return HOSTILE_NAMES[index].format(m=f"{MARK}{index}")


_name_text = st.one_of(
    st.integers(0, len(HOSTILE_NAMES) - 1).map(hostile_name),
    st.sampled_from(PLAIN_NAMES),
).map(lambda s: s.encode("latin-1"))
_name_value = st.one_of(
    _name_text.map(lambda b: b'"' + b + b'"'),  # as PJLTRM wants it
    _name_text,  # unquoted: upper-cased by the parser
    _name_text.map(lambda b: b'"' + b),  # no closing quote
)
EDGE_NUMBERS = [
    "0", "-1", "1", "9", "00000000001", "2147483647", "2147483648", "4294967296",
    "18446744073709551616", "1e9", "0x10", "+5", "-0", "9" * 400, "1" * 4100, "", " ",
]  # fmt: skip
PJL_KEYS = [
    "NAME", "SIZE", "OFFSET", "ENTRY", "COUNT", "COPIES", "QTY", "PAPER", "TIMED", "DEVICE",
    "JOB", "PAGE", "DISPLAY", "LANGUAGE", "JOBNAME", "USERNAME", "JOBATTR", "VOLUME", "ID",
    "STATUS", "CONFIG", "VARIABLES", "FILESYS", "MEMORY", "PAGECOUNT", "USTATUS", "PRODINFO",
    "DUPLEX", "RENDERMODE", "MEDIASOURCE", "TIMEOUT", "FORMAT:BINARY", "LPARM:PCL", "", "=",
    ":", '"',
]  # fmt: skip
PJL_COMMANDS = [
    "INFO", "INQUIRE", "DINQUIRE", "ECHO", "SET", "DEFAULT", "INITIALIZE", "RESET", "JOB",
    "EOJ", "ENTER", "USTATUS", "USTATUSOFF", "RDYMSG", "OPMSG", "STMSG", "FSQUERY",
    "FSDIRLIST", "FSUPLOAD", "FSDELETE", "FSMKDIR", "FSINIT", "FSDOWNLOAD", "FSAPPEND",
    "COMMENT", "XYZZY", "info", "", "9LIVES",
]  # fmt: skip
_numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(1000, 10**40).map(str),
    st.integers(-(10**40), -1).map(str),
    st.integers(0, 9).map(str),  # in range: COPIES=9 of a small job still prints fast
).map(str.encode)
_latin1 = st.characters(max_codepoint=255, exclude_characters='"\r\n')
_values = st.one_of(
    _numbers,
    st.text(_latin1, max_size=40).map(lambda s: b'"' + s.encode("latin-1") + b'"'),
    st.text(_latin1, max_size=20).map(lambda s: b'"' + s.encode("latin-1")),
    st.text("AZaz09=:\"'\t ._-\\/@", max_size=12).map(str.encode),
    st.binary(max_size=16),
    _name_value,
)
_keys = st.one_of(
    st.sampled_from(PJL_KEYS),
    st.binary(min_size=1, max_size=8),
).map(lambda k: k if isinstance(k, bytes) else k.encode())
_commands = st.one_of(
    st.sampled_from(PJL_COMMANDS),
    st.binary(max_size=8),
).map(lambda c: c if isinstance(c, bytes) else c.encode())
_ws = st.sampled_from([b" ", b"  ", b"\t", b"", b" \t "])
_line_ends = st.sampled_from([b"\r\n", b"\n", b"\r", b"", UEL, b"\r\r\n", b"\x0c\n", b"\n\n"])
_prefixes = st.sampled_from([b"@PJL ", b"@pjl ", b"  @PJL ", b"@PJL", b"@PJ", b"@PJLX ", b"@PJL\t"])


@st.composite
def _option(draw: st.DrawFn) -> bytes:
    key = draw(_keys)
    if draw(st.booleans()):
        return key
    return key + draw(_ws) + b"=" + draw(_ws) + draw(_values)


@st.composite
def pjl_line(draw: st.DrawFn) -> bytes:
    options = draw(st.lists(_option(), max_size=5))
    body = b"".join(draw(_ws) + opt for opt in options)
    return draw(_prefixes) + draw(_commands) + body + draw(_line_ends)


@st.composite
def fs_transfer(draw: st.DrawFn) -> bytes:
    """FSDOWNLOAD/FSAPPEND whose SIZE may lie about the bytes that follow."""
    verb = draw(st.sampled_from([b"FSDOWNLOAD", b"FSAPPEND"]))
    modifier = draw(
        st.sampled_from([b" FORMAT:BINARY", b"", b" FORMAT:ASCII", b" FORMAT : BINARY"])
    )
    payload = draw(st.binary(max_size=300))
    n = len(payload)
    size = draw(
        st.one_of(
            st.just(b"%d" % n),
            st.integers(1, 4096).map(lambda k: b"%d" % (n + k)),  # more promised than sent
            st.integers(1, 64).map(lambda k: b"%d" % max(0, n - k)),  # less promised
            _numbers,
        )
    )
    size_opt = b" SIZE=" + size if draw(st.integers(0, 9)) else b""
    name_opt = b" NAME=" + draw(_name_value)
    options = size_opt + name_opt if draw(st.booleans()) else name_opt + size_opt
    return b"@PJL " + verb + modifier + options + draw(_line_ends) + payload


@st.composite
def fs_command(draw: st.DrawFn) -> bytes:
    verb = draw(
        st.sampled_from([b"FSQUERY", b"FSDIRLIST", b"FSUPLOAD", b"FSDELETE", b"FSMKDIR", b"FSINIT"])
    )
    extra = draw(st.lists(st.sampled_from([b"ENTRY", b"COUNT", b"OFFSET", b"SIZE"]), max_size=3))
    options = b"".join(b" " + key + b"=" + draw(_numbers) for key in extra)
    name = b' VOLUME="0:"' if verb == b"FSINIT" else b" NAME=" + draw(_name_value)
    return b"@PJL " + verb + name + options + draw(_line_ends)


_uels = st.sampled_from(
    [UEL, UEL * 3, b"\x1b%-12345", b"\x1b%-", b"\x1b", b"\x1b%-12345x", b"\x1b%-12345X@PJL",
     b"@PJL " + UEL, b"@PJL INFO " + UEL + b"ID\r\n", b"\x1b\x1b%-12345X"]
)  # fmt: skip
_languages = st.sampled_from(
    [b"PCL", b"POSTSCRIPT", b"PDF", b"PCLXL", b"URF", b"XYZ", b"", b'"PCL"', b"pcl"]
)
_small_data = st.one_of(
    st.binary(max_size=400),
    st.sampled_from([b"%!PS-Adobe-3.0\nshowpage\n", b"%PDF-1.4\n", b"\x1bE text\x0c\x1bE"]),
)


@st.composite
def enter_language(draw: st.DrawFn) -> bytes:
    return b"@PJL ENTER LANGUAGE=" + draw(_languages) + draw(_line_ends) + draw(_small_data)


_canned = st.sampled_from(
    [b'@PJL JOB NAME="rb"\r\n', b"@PJL EOJ\r\n", b"@PJL JOB\r\n" * 5, b"@PJL EOJ NAME=x\r\n",
     b"@PJL USTATUS DEVICE=VERBOSE\r\n", b"@PJL USTATUS JOB=ON PAGE=ON TIMED=5\r\n",
     b"@PJL USTATUSOFF\r\n", b"@PJL ECHO " + b"e" * 4200 + b"\r\n", b"@PJL " + b"A" * 4095,
     b"@PJL " + b"B" * 5000 + b"\r\n", b"\r\n" * 3000, b" " * 5000, b"@PJL\r\n" * 50,
     b"@PJL INFO FILESYS\r\n", b"@PJL FSINIT VOLUME=0:\r\n", b"\x00" * 64]
)  # fmt: skip
raw_segment = st.one_of(
    pjl_line(),
    fs_transfer(),
    fs_command(),
    _uels,
    st.binary(min_size=1, max_size=300),
    enter_language(),
    _canned,
)
_separators = st.sampled_from([UEL, UEL, b"", b"\r\n"])

# Questions whose answers cannot change between two identical streams (no defaults, no
# status that printing changes, no unsolicited status).
QUERIES = [
    b"INFO ID", b"INFO CONFIG", b"INFO MEMORY", b"INFO VARIABLES", b"INFO USTATUS",
    b"INFO PRODINFO", b"INFO NOSUCH", b"INQUIRE COPIES", b"DINQUIRE PAPER", b"ECHO",
    b"INQUIRE JOBNAME", b"SET COPIES=3", b'SET JOBNAME="q"', b"RESET", b"XYZZY A=B",
    b"COMMENT", b"INFO", b"INQUIRE",
]  # fmt: skip
_queries = st.one_of(
    st.sampled_from(QUERIES),
    st.sampled_from(QUERIES),
    st.tuples(st.sampled_from([b"ECHO ", b"COMMENT ", b"INQUIRE ", b"INFO "]), _values).map(
        b"".join
    ),
)
_query_line = st.tuples(
    st.sampled_from([b"@PJL ", b"@pjl ", b"  @PJL\t", b"@PJL"]),
    _queries,
    st.sampled_from([b"\r\n", b"\r\n", b"\n", UEL, b"\r\n\r\n"]),
).map(b"".join)
query_segment = st.one_of(
    *[_query_line] * 6,
    _uels,
    st.sampled_from([b"\r\n" * 20, b" \t", b"@PJL " + b"L" * 5000 + b"\r\n"]),
)
_endings = st.sampled_from(["fin", "fin", "fin", "rst", "close"])
_chunk_sizes = st.sampled_from([0, 0, 0, 1, 7, 64, 1000])


@st.composite
def raw_connection(draw: st.DrawFn) -> tuple[list[bytes], str]:
    segments = draw(st.lists(raw_segment, min_size=1, max_size=10))
    # Separators: any non-PJL byte starts print data up to the next UEL, so a UEL between
    # segments often brings the stream back to PJL, where the interesting parsing is.
    separators = draw(st.lists(_separators, min_size=len(segments), max_size=len(segments)))
    data = b"".join(sep + seg for sep, seg in zip(separators, segments, strict=True))
    return _chunked(data, draw(_chunk_sizes)), draw(_endings)


# ---------------------------------------------------------------------------------------------
# Strategies: hostile LPD exchanges (a list of messages; a careful client waits for one
# acknowledgement octet after each, a pipelining one sends them all at once)

LPD_NAMES = [
    b"cfA001rb", b"dfA001rb", b"dfB001rb", b"", b"x" * 900, b"../../etc/" + MARK.encode(),
    b"dfA001rb dfB001rb", b"\xff\xfe",
]  # fmt: skip
LPD_BAD_COUNTS = [
    b"0", b"-5", b"+5", b"", b"0x10", b"1e3", b" ", b"9" * 30, b"999999999999",
    b"125899906843000", b"18446744073709551616", b"0" * 40 + b"5", b"65537", b"\xff",
]  # fmt: skip
_lpd_names = st.one_of(
    st.sampled_from(LPD_NAMES),
    st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")),
)
_ctl_operands = st.one_of(
    st.sampled_from([b"dfA001rb", b"dfB001rb", b"rb-user", b"", b"x" * 3000, b"\x00\xff"]),
    _numbers,
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
)
_ctl_line = st.tuples(
    st.sampled_from([bytes([c]) for c in b"HPJCLTNMIWUSlfpodcgnrtv1234AZ\x00\xff\x01\r "]),
    _ctl_operands,
).map(lambda t: t[0] + t[1] + b"\n")
_control_body = st.lists(_ctl_line, max_size=12).map(b"".join)
_data_body = st.one_of(
    st.binary(max_size=500),
    st.sampled_from([b"line\n" * 30, b"%!PS-Adobe-3.0\nshowpage\n", b"%PDF-1.4\n"]),
)


def _counts(actual: int) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.just(b"%d" % actual),
        st.just(b"%d" % actual),
        st.integers(1, 2000).map(lambda k: b"%d" % (actual + k)),
        st.integers(1, 50).map(lambda k: b"%d" % max(0, actual - k)),
        st.sampled_from(LPD_BAD_COUNTS),
    )


@st.composite
def lpd_file(draw: st.DrawFn) -> list[bytes]:
    control = draw(st.booleans())
    body = draw(_control_body if control else _data_body)
    count = draw(_counts(len(body)))
    code = b"\x02" if control else b"\x03"
    line = code + count + draw(st.sampled_from([b" ", b" ", b"  ", b"\t", b""])) + draw(_lpd_names)
    trailer = draw(st.sampled_from([b"\0", b"\0", b"\0", b"", b"\x01", b"\0\0", b"\xff"]))
    return [line + draw(st.sampled_from([b"\n", b"\n", b"\n", b"\r\n", b""])), body + trailer]


_subcommand = st.one_of(
    lpd_file(),
    lpd_file(),
    st.sampled_from(
        [b"\x01\n", b"\x07 junk\n", b"\n", b"\x02\n", b"\x03 abc dfA\n", b"\x00\n"]
    ).map(lambda m: [m]),
)
_queues = st.one_of(
    st.just(b"lp"),
    st.sampled_from([b"raw", b"PORT1", b"nosuch", b"", b"q" * 2000, b"lp lp", b"\xff"]),
    st.binary(max_size=10).map(lambda b: b.replace(b"\n", b"")),
)


@st.composite
def lpd_mutated_job(draw: st.DrawFn) -> list[bytes]:
    """A well-formed receive job (control file first or last, copies, two data files), then
    broken in at most one place: cut short, a lying count, a bad trailer, garbage inserted."""
    bodies = draw(st.lists(_data_body, min_size=1, max_size=2))
    names = [b"dfA001rb", b"dfB001rb"][: len(bodies)]
    copies = draw(st.integers(1, 3))
    control = (
        b"Hrb\nPfuzz\nJfuzzed job\n"
        + b"".join(draw(st.sampled_from([b"l", b"f", b"o", b"p"])) + name + b"\n" for name in names)
        * copies
        + b"".join(b"N" + name + b"\n" for name in names)
    )
    files = [(b"\x02", b"cfA001rb", control)] + [
        (b"\x03", name, body) for name, body in zip(names, bodies, strict=True)
    ]
    if draw(st.booleans()):
        files.append(files.pop(0))  # control file last, as BSD lpr sends it
    messages = [b"\x02lp\n"]
    for code, name, body in files:
        messages += [code + b"%d " % len(body) + name + b"\n", body + b"\0"]
    mutation = draw(st.sampled_from(["none", "cut", "count", "trailer", "insert"]))
    index = draw(st.integers(1, len(messages) - 1))
    if mutation == "cut":
        messages = [*messages[:index], messages[index][: draw(st.integers(0, 40))]]
    elif mutation == "count" and index % 2:
        code, name = messages[index][:1], messages[index].split(b" ", 1)[1]
        messages[index] = code + draw(_counts(len(messages[index + 1]) - 1)) + b" " + name
    elif mutation == "trailer" and not index % 2:
        messages[index] = messages[index][:-1] + draw(st.binary(min_size=1, max_size=2))
    elif mutation == "insert":
        messages.insert(index, draw(st.one_of(_subcommand.map(b"".join), st.binary(max_size=40))))
    return messages


@st.composite
def lpd_exchange(draw: st.DrawFn) -> list[bytes]:
    kind = draw(st.sampled_from(["mutated", "mutated", "receive", "receive", "command", "garbage"]))
    if kind == "mutated":
        return draw(lpd_mutated_job())
    if kind == "garbage":
        return [draw(st.binary(max_size=2000))]
    queue = draw(_queues)
    if kind == "command":
        code = draw(st.sampled_from([1, 3, 4, 5, 0, 6, 0xFF]))
        operands = draw(st.lists(st.one_of(_numbers, _lpd_names), max_size=6))
        end = draw(st.sampled_from([b"\n", b"\r\n", b"\n\n", b""]))
        return [bytes([code]) + queue + b"".join(b" " + op for op in operands) + end]
    messages = [b"\x02" + queue + b"\n"]
    for sub in draw(st.lists(_subcommand, max_size=6)):
        messages += sub
    return messages


def _lpd_talk(port: int, messages: list[bytes], pipelined: bool, ending: str) -> None:
    data = b"".join(messages)
    if pipelined:
        _deliver(port, [data], ending)
        return
    sock = _connect(port)
    try:
        for message in messages:
            sock.sendall(message)
            # A careful client waits for its acknowledgement; not every message gets one.
            ready, _, _ = select.select([sock], [], [], 0.02)
            if ready and not sock.recv(1):
                break  # the daemon closed: it may, after a NAK
        if ending == "rst":
            _rst(sock)
            return
        if ending == "fin":
            sock.shutdown(socket.SHUT_WR)
            _read_to_eof(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass
    except OSError as exc:  # shutdown() of a connection the daemon reset: ENOTCONN
        if exc.errno != errno.ENOTCONN:
            raise
    finally:
        sock.close()


FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,  # same examples on every run: CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)


# ---------------------------------------------------------------------------------------------
# Fuzzing


def test_hostile_raw_streams(target: Mfpd) -> None:
    @FUZZ
    @given(batch=st.lists(raw_connection(), min_size=1, max_size=4))
    def batch_of_connections(batch: list[tuple[list[bytes], str]]) -> None:
        start = log_size(target)
        for pieces, ending in batch:
            _deliver(target.port("raw"), pieces, ending)
        reset_device(target)
        assert_healthy(target, start)

    batch_of_connections()
    assert_volume_consistent(target)
    assert_jobs_sane(target)


def test_raw_replies_do_not_depend_on_segmentation(target: Mfpd) -> None:
    """The same PJL questions give byte-identical answers whether the stream arrives whole
    or cut into small pieces at every position (a codec that mis-joins lines answers wrong)."""

    @FUZZ
    @given(
        segments=st.lists(query_segment, min_size=2, max_size=16),
        size=st.sampled_from([1, 2, 3, 5, 9, 13]),
    )
    def same_answers(segments: list[bytes], size: int) -> None:
        start = log_size(target)
        data = UEL + b"@PJL ECHO start\r\n" + b"".join(segments) + UEL + b"@PJL ECHO end\r\n"
        port = target.port("raw")
        whole = _deliver(port, [data], "fin")
        pieces = _deliver(port, _chunked(data, size, most=2000), "fin")
        assert pieces == whole
        assert_healthy(target, start)

    same_answers()


def test_hostile_lpd_exchanges(target: Mfpd) -> None:
    @FUZZ
    @given(
        batch=st.lists(st.tuples(lpd_exchange(), st.booleans(), _endings), min_size=1, max_size=4)
    )
    def batch_of_connections(batch: list[tuple[list[bytes], bool, str]]) -> None:
        start = log_size(target)
        for messages, pipelined, ending in batch:
            _lpd_talk(target.port("lpd"), messages, pipelined, ending)
        assert_healthy(target, start)

    batch_of_connections()
    assert_jobs_sane(target)


# ---------------------------------------------------------------------------------------------
# The PJL file system


def _fileerror(reply: bytes, verb: bytes) -> int | None:
    m = re.search(rb"@PJL " + verb + rb" NAME=\"[^\r\n]*\r\nFILEERROR=(\d+)\r\n\x0c", reply)
    return int(m.group(1)) if m else None


# Names whose `..` climbs above the volume root, or that are no PJL volume path at all.
ESCAPING = [
    "0:/../{m}", "0:\\..\\..\\{m}", "0:/../../../../../../../tmp/{m}", "0:/a/../../{m}",
    "0:/./.././{m}", "0:\\\\..\\\\{m}", "0:/..\\../{m}", "0:/.../../../{m}", "/tmp/{m}",
    "/etc/{m}", "{m}", "../{m}", "C:\\{m}", "1:\\{m}", "0:/" + "../" * 40 + "{m}",
    "0:/a/b/c/../../../../{m}", "0:/{m}/../..", "\\\\?\\0:\\..\\{m}", "0:/" + "A" * 300 + "{m}",
    "0:/ ../{m}", "0:/.. /{m}",
]  # fmt: skip


def test_pjl_path_traversal_never_leaves_the_volume(target: Mfpd) -> None:
    start = log_size(target)
    port = target.port("raw")
    payload = b"owned\n"
    for n, pattern in enumerate(ESCAPING):
        name = pattern.format(m=f"{MARK}t{n}").encode("latin-1")
        reply = pjl_exchange(
            port,
            b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=%d NAME="%s"\r\n%s' % (len(payload), name, payload)
            + b'@PJL FSAPPEND FORMAT:BINARY SIZE=%d NAME="%s"\r\n%s' % (len(payload), name, payload)
            + b'@PJL FSMKDIR NAME="%s"\r\n@PJL FSQUERY NAME="%s"\r\n' % (name, name)
            + b'@PJL FSUPLOAD NAME="%s" OFFSET=0 SIZE=100\r\n' % name
            + b'@PJL FSDIRLIST NAME="%s" ENTRY=1 COUNT=99\r\n@PJL FSDELETE NAME="%s"\r\n'
            % (name, name),
        )  # fmt: skip
        for verb in (b"FSDOWNLOAD", b"FSAPPEND", b"FSMKDIR", b"FSQUERY", b"FSUPLOAD"):
            assert _fileerror(reply, verb) is not None, (name, verb, reply)
        assert payload not in reply
    # Reading and listing outside the volume.
    for name in (b"0:/../../../../../../etc/passwd", b"0:\\..\\..\\ports.json", b"0:/../..",
                 b"0:/..", b"/etc/passwd", b"0:/../pjl-volume/0/x"):  # fmt: skip
        reply = pjl_exchange(
            port,
            b'@PJL FSUPLOAD NAME="%s" OFFSET=0 SIZE=4096\r\n' % name
            + b'@PJL FSDIRLIST NAME="%s" ENTRY=1 COUNT=99\r\n@PJL FSQUERY NAME="%s"\r\n'
            % (name, name),
        )  # fmt: skip
        rest = reply.replace(name, b"")
        for secret in (b"root:", b"spool", b"ports.json", b"pjl-volume", b"TYPE=FILE"):
            assert secret not in rest, (name, reply)
    # A `..` that stays inside the volume is fine, and lands where it should.
    reply = pjl_exchange(
        port,
        b'@PJL FSMKDIR NAME="0:/rbsub"\r\n'
        b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=6 NAME="0:/rbsub/../rbsub/./x/../inner"\r\nowned\n'
        b'@PJL FSUPLOAD NAME="0:\\rbsub\\inner" OFFSET=0 SIZE=100\r\n',
    )
    assert b"SIZE=6\r\nowned\n\x0c" in reply, reply
    assert (volume_dir(target) / "0" / "rbsub" / "inner").read_bytes() == payload
    assert_volume_consistent(target)
    assert_healthy(target, start)


def test_symbolic_links_planted_in_the_volume_are_never_followed(
    target: Mfpd, tmp_path: Path
) -> None:
    """A host-side symlink inside the volume (an admin's mistake, a race) must not be a door."""
    start = log_size(target)
    port = target.port("raw")
    outside = tmp_path / "rb-outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_bytes(b"top secret\n")
    vol = volume_dir(target) / "0"
    (vol / "rblink").symlink_to(outside, target_is_directory=True)
    (vol / "rbflink").symlink_to(secret)
    try:
        reply = pjl_exchange(
            port,
            b'@PJL FSUPLOAD NAME="0:/rbflink" OFFSET=0 SIZE=100\r\n'
            b'@PJL FSUPLOAD NAME="0:/rblink/secret.txt" OFFSET=0 SIZE=100\r\n'
            b'@PJL FSDIRLIST NAME="0:/rblink" ENTRY=1 COUNT=10\r\n'
            b'@PJL FSQUERY NAME="0:/rbflink"\r\n'
            b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=5 NAME="0:/rblink/planted"\r\nowned'
            b'@PJL FSAPPEND FORMAT:BINARY SIZE=5 NAME="0:/rbflink"\r\nowned'
            b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=5 NAME="0:/rbflink"\r\nowned'
            b'@PJL FSDELETE NAME="0:/rbflink"\r\n@PJL FSMKDIR NAME="0:/rblink/d"\r\n'
            b'@PJL FSDELETE NAME="0:/rblink/secret.txt"\r\n'
            b'@PJL FSDIRLIST NAME="0:" ENTRY=1 COUNT=99\r\n',
        )
        assert b"top secret" not in reply and b"secret.txt TYPE" not in reply, reply
        for verb in (b"FSUPLOAD", b"FSQUERY", b"FSDOWNLOAD", b"FSAPPEND", b"FSMKDIR"):
            assert _fileerror(reply, verb) is not None, (verb, reply)
        assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
        assert secret.read_bytes() == b"top secret\n"
        # FSINIT empties the volume: the links go, their targets stay.
        pjl_exchange(port, b'@PJL FSINIT VOLUME="0:"\r\n')
        assert not (vol / "rblink").is_symlink() and secret.read_bytes() == b"top secret\n"
    finally:
        for link in (vol / "rblink", vol / "rbflink"):
            if link.is_symlink():
                link.unlink()
    assert_volume_consistent(target)
    assert_healthy(target, start)


def test_lying_download_sizes_keep_the_quota_exact(target: Mfpd) -> None:
    port = target.port("raw")
    start = log_size(target)
    pjl_exchange(port, b'@PJL FSINIT VOLUME="0:"\r\n')
    # Promise 100 bytes, send 10, close: the old file stays, nothing is charged.
    pjl_exchange(port, b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=6 NAME="0:/q"\r\nfirst\n')
    _deliver(port, [UEL + b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=100 NAME="0:/q"\r\n0123456789'],
             "fin")  # fmt: skip
    _deliver(port, [UEL + b'@PJL FSAPPEND FORMAT:BINARY SIZE=100 NAME="0:/q"\r\n0123456789'],
             "rst")  # fmt: skip
    # More than the quota: refused, and its bytes are swallowed, not run as PJL.
    big = QUOTA + 1
    reply = pjl_exchange(
        port,
        b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=%d NAME="0:/huge"\r\n' % big + b"@PJL INFO ID\r\n" * 3,
    )
    assert _fileerror(reply, b"FSDOWNLOAD") == 2 and b"INFO ID" not in reply, reply
    assert (volume_dir(target) / "0" / "q").read_bytes() == b"first\n"
    assert not (volume_dir(target) / "0" / "huge").exists()
    assert_volume_consistent(target)
    assert_healthy(target, start)


# ---------------------------------------------------------------------------------------------
# LPD edge cases


@pytest.mark.parametrize(
    ("count", "answer"),
    [
        (b"-5", b"\x01"), (b"+5", b"\x01"), (b"", b"\x01"), (b"0x10", b"\x01"), (b"1e3", b"\x01"),
        (b"\xff", b"\x01"), (b"9" * 30, b"\0"), (b"18446744073709551616", b"\0"),
        (b"0" * 40 + b"5", b"\0"), (b"0", b"\0"),
    ],
)  # fmt: skip
def test_lpd_data_file_counts(target: Mfpd, count: bytes, answer: bytes) -> None:
    start = log_size(target)
    with _connect(target.port("lpd")) as sock:
        sock.sendall(b"\x02lp\n")
        assert sock.recv(1) == b"\0"
        sock.sendall(b"\x03" + count + b" dfA001rb\n")
        assert sock.recv(1) == answer
        if answer == b"\0":
            sock.sendall(b"some data\n")  # read to EOF: ended by the RST, recorded as aborted
            time.sleep(0.05)
        _rst(sock)
    assert_healthy(target, start)


def test_lpd_control_file_limits(target: Mfpd) -> None:
    start = log_size(target)
    port = target.port("lpd")
    with _connect(port) as sock:  # announced larger than max_control_file
        sock.sendall(b"\x02lp\n\x02" + b"%d" % (65536 + 1) + b" cfA001rb\n")
        assert _read_to_eof(sock) == b"\0\x01"
    with _connect(port) as sock:  # count 0: read to EOF, but not without end
        sock.sendall(b"\x02lp\n\x020 cfA001rb\n")
        assert _read_until(sock, b"\0\0") == b"\0\0"
        try:
            for _ in range(40):
                sock.sendall(b"J" + b"x" * 4095 + b"\n")
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        # NAK, then close (the kernel may turn it into a reset: our bytes were left unread)
        assert _read_to_eof(sock) in (b"\x01", b"")
    # Huge and binary lines within the limit are accepted as they come.
    control = b"Hrb\nP\xff\xfe\x00user\nJ" + b"j" * 60000 + b"\n\x00\x01\x02\n" + b"ldfA001rb\n"
    answers = _deliver(
        port,
        [b"\x02lp\n", b"\x02%d cfA001rb\n" % len(control), control + b"\0",
         b"\x03%d dfA001rb\n" % 5, b"data\n\0"],
        "fin",
    )  # fmt: skip
    assert answers == b"\0" * 5
    assert_healthy(target, start)
    (job,) = [j for j in assert_jobs_sane(target) if j["name"] == "j" * 60000]
    assert job["state"] == "completed" and job["user"] == "\xff\xfe\x00user"


def test_lpd_many_subcommands_pipelined(target: Mfpd) -> None:
    start = log_size(target)
    files = 150
    data = [(b"dfA%03drb" % i, b"%d\n" % i) for i in range(files)]
    control = b"Hrb\nPpipeline\nJMany files\n" + b"".join(b"l" + name + b"\n" for name, _ in data)
    stream = b"\x02lp\n" + b"".join(
        b"\x03%d %s\n" % (len(body), name) + body + b"\0" for name, body in data
    )
    stream += b"\x02%d cfA001rb\n" % len(control) + control + b"\0"
    answers = _deliver(target.port("lpd"), _chunked(stream, 997), "fin")
    assert answers == b"\0" * (1 + 2 * (files + 1))
    (job,) = [j for j in assert_jobs_sane(target) if j["name"] == "Many files"]
    assert (job["state"], len(job["documents"])) == ("completed", files)
    assert_healthy(target, start)


def test_rst_mid_transfer_aborts_the_job(target: Mfpd) -> None:
    start = log_size(target)
    raw = _connect(target.port("raw"))
    raw.sendall(UEL + b'@PJL JOB NAME="rst raw"\r\n@PJL ENTER LANGUAGE=PCL\r\n' + b"x" * 100000)
    lpd = _connect(target.port("lpd"))
    control = b"Hrb\nPrst\nJrst lpd\nldfA009rb\n"
    lpd.sendall(b"\x02lp\n\x02%d cfA009rb\n" % len(control))
    assert _read_until(lpd, b"\0\0") == b"\0\0"
    lpd.sendall(control + b"\0")
    assert lpd.recv(1) == b"\0"
    lpd.sendall(b"\x031000000 dfA009rb\n")
    assert lpd.recv(1) == b"\0"
    lpd.sendall(b"y" * 50000)
    time.sleep(0.2)
    _rst(raw)
    _rst(lpd)
    new = {j["name"]: j for j in assert_jobs_sane(target)}
    for name in ("rst raw", "rst lpd"):
        assert new[name]["state"] == "aborted", new[name]
        assert "job-data-insufficient" in new[name]["state_reasons"], new[name]
    assert_healthy(target, start)


# ---------------------------------------------------------------------------------------------
# Connection storms, idle and slow clients


def _refused(sock: socket.socket, wait: float = 2.0) -> bool:
    """The daemon accepted at TCP level, then dropped the connection at once."""
    ready, _, _ = select.select([sock], [], [], wait)
    if not ready:
        return False
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _alive(sock: socket.socket) -> bool:
    ready, _, _ = select.select([sock], [], [], 0)
    if not ready:
        return True
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except ConnectionResetError:
        return False


def _probe_raw(port: int) -> bool:
    try:
        return pjl_exchange(port, b"@PJL INFO ID\r\n").startswith(INFO_ID_REPLY)
    except (OSError, AssertionError):
        return False


def _probe_lpd(port: int) -> bool:
    try:
        return lpd_receive_ack(port) == b"\0"
    except OSError:
        return False


class _Trickle(threading.Thread):
    """A slow sender: one more byte of a line every 0.2 s (at most 150), until told to stop."""

    def __init__(self, sock: socket.socket, byte: bytes) -> None:
        super().__init__(daemon=True)
        self.sock, self.byte = sock, byte
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for _ in range(150):
                if self.done.wait(0.2):
                    return
                self.sock.sendall(self.byte)
        except BaseException as exc:  # reported by the test
            self.error = exc


@pytest.mark.parametrize("service", ["raw", "lpd"])
def test_connection_storm_against_a_small_limit(
    mfpd_factory: Callable[..., Mfpd], service: str
) -> None:
    limit, idle = 8, 3.0
    daemon = mfpd_factory(limited_config(limit, idle))
    port = daemon.port(service)
    probe = _probe_raw if service == "raw" else _probe_lpd
    # A slow sender first: it takes a slot and, sending all along, is never idle.
    slow = _connect(port)
    slow.sendall(UEL + b"@PJL ECHO " if service == "raw" else b"\x04lp ")
    trickle = _Trickle(slow, b"s")
    trickle.start()
    time.sleep(0.2)
    # The storm: 200 connections as fast as they open, every other one left idle.
    idle_socks: list[socket.socket] = []
    t0 = time.monotonic()
    for n in range(200):
        sock = _connect(port, timeout=5)
        if n % 2:
            idle_socks.append(sock)
        else:
            sock.close()
    assert time.monotonic() - t0 < 10, "opening 200 connections took too long"
    time.sleep(0.3)
    held = [s for s in idle_socks if _alive(s)]
    for sock in idle_socks:
        if sock not in held:
            sock.close()
    assert len(held) <= limit - 1, f"{len(held)} idle connections admitted over a limit of {limit}"
    while len(held) < limit - 1:  # short ones may have held a slot while idle ones came
        sock = _connect(port)
        time.sleep(0.1)
        assert _alive(sock), "refused while a slot was free"
        held.append(sock)
    assert time.monotonic() - t0 < idle - 0.5, "too slow to test the limit before idle_timeout"
    # Full: one more is dropped at once.
    extra = _connect(port)
    assert _refused(extra), f"connection {limit + 1} was admitted"
    extra.close()
    # After idle_timeout of silence the daemon closes the idle ones, and serves again.
    deadline = time.monotonic() + idle + 5
    while any(_alive(s) for s in held) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(s) for s in held), "idle connections were not closed"
    for sock in held:
        sock.close()
    assert probe(port), f"{service} does not answer after the storm"
    # ... while the slow sender, never silent for idle_timeout, is still connected.
    assert trickle.error is None, trickle.error
    assert _alive(slow), "a slow but steady sender was dropped as idle"
    trickle.done.set()
    trickle.join(5)
    if service == "raw":
        slow.sendall(b"\r\n" + UEL)
        slow.shutdown(socket.SHUT_WR)
        assert _read_to_eof(slow).startswith(b"@PJL ECHO s")
    else:
        slow.sendall(b"\n")
        assert b"no entries" in _read_to_eof(slow)  # 04: queue state of user "sss..."
    slow.close()
    assert_healthy(daemon)
    assert_jobs_sane(daemon)


def test_endless_pjl_line_does_not_grow_memory(mfpd: Mfpd) -> None:
    """50 MB of one PJL line without a line end: the daemon keeps at most max_line of it."""
    assert mfpd.proc is not None
    pid = mfpd.proc.pid
    port = mfpd.port("raw")
    with _connect(port) as sock:
        sock.sendall(UEL + b"@PJL USTATUS DEVICE=ON\r\n")
        _read_until(sock, b"\x0c")
        sock.sendall(b"@PJL ECHO " + b"A" * (1 << 20))  # warm up the buffers first
        time.sleep(0.2)
        baseline = peak = vm_rss_kib(pid)
        chunk = b"A" * (1 << 20)
        for n in range(50):
            sock.sendall(chunk)
            if n % 5 == 0:
                peak = max(peak, vm_rss_kib(pid))
        time.sleep(0.3)
        peak = max(peak, vm_rss_kib(pid))
        # The over-long line was reported (20005) and dropped; the connection goes on.
        sock.sendall(b"\r\n@PJL INFO ID\r\n")
        reply = _read_until(sock, INFO_ID_REPLY)
        assert b"CODE=20005" in reply
        sock.sendall(UEL)
    assert peak - baseline < 20 * 1024, f"VmRSS grew {peak - baseline} KiB"
    assert_healthy(mfpd)
    assert mfpd.jobs() == []


def test_daemon_stops_cleanly_after_the_barrage(target: Mfpd) -> None:
    assert_healthy(target)
    assert target.stop(signal.SIGTERM) == 0
    assert "Traceback" not in log_since(target, 0)


# ---------------------------------------------------------------------------------------------
# Bugs this suite found: one minimal reproducer each. Fixed ones stay as regression tests.


@pytest.mark.parametrize(
    "line", [b"@PJL SET COPIES=\xb2", b'@PJL DEFAULT QTY="\xb3"', b"@PJL USTATUS TIMED=\xb9"]
)
def test_unicode_digit_in_a_numeric_pjl_value(mfpd: Mfpd, line: bytes) -> None:
    """Was: Variable.accepts / PjlSession._ustatus called int() on anything str.isdigit()
    accepts; latin-1 superscripts raised ValueError in the protocol callback."""
    reply = pjl_exchange(mfpd.port("raw"), line + b"\r\n@PJL INFO ID\r\n")
    assert reply.startswith(INFO_ID_REPLY), reply
    assert_healthy(mfpd)


def test_lpd_command_line_cut_by_eof(mfpd: Mfpd) -> None:
    """Was: the Malformed that codec.eof() returns was answered with codec.reject(), which
    raised LpdProtocolError in state closed (traceback from eof_received)."""
    answer = _deliver(mfpd.port("lpd"), [b"\x02lp"], "fin")
    assert answer in (b"", b"\x01")
    assert_healthy(mfpd)


def test_replies_to_a_client_that_never_reads_are_bounded(mfpd: Mfpd) -> None:
    """Was: RawConnection ignored pause_writing; replies piled up in the transport buffer,
    1 MB of daemon memory per 50-byte FSUPLOAD request of a client that does not read."""
    assert mfpd.proc is not None
    pid = mfpd.proc.pid
    port = mfpd.port("raw")
    payload = b"z" * (1 << 20)
    pjl_exchange(port, b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=%d NAME="0:/big"\r\n' % len(payload)
                 + payload)  # fmt: skip
    baseline = peak = vm_rss_kib(pid)
    request = b'@PJL FSUPLOAD NAME="0:/big" OFFSET=0 SIZE=1048576\r\n'
    sock = _connect(port)
    try:
        sock.setblocking(False)
        sent = 0
        for _ in range(120):  # 6 KB of requests, 120 MB of replies
            try:
                sent += sock.send(request)
            except BlockingIOError:
                break  # back-pressure reached the sender: what a fixed daemon does
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            peak = max(peak, vm_rss_kib(pid))
            time.sleep(0.05)
    finally:
        _rst(sock)
    assert sent > 0
    assert peak - baseline < 48 * 1024, f"VmRSS grew {(peak - baseline) // 1024} MiB"
    assert_healthy(mfpd)


def test_a_client_that_stops_reading_is_cut_off(mfpd_factory: Callable[..., Mfpd]) -> None:
    """The other side of back-pressure: a peer that neither reads nor sends is dropped after
    idle_timeout, and the job it had open is aborted with a reason, not printed."""
    idle = 1.5
    daemon = mfpd_factory(limited_config(64, idle))
    port = daemon.port("raw")
    payload = b"z" * (1 << 20)
    pjl_exchange(port, b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=%d NAME="0:/big"\r\n' % len(payload)
                 + payload)  # fmt: skip
    sock = _connect(port)
    try:
        sock.sendall(
            UEL + b'@PJL JOB NAME="stuck"\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bEpage\x0c' + UEL
            + b'@PJL FSUPLOAD NAME="0:/big" OFFSET=0 SIZE=1048576\r\n' * 40
        )  # fmt: skip
        (job,) = daemon.wait_for(
            lambda jobs: len(jobs) == 1 and jobs[0]["state"] in TERMINAL, timeout=idle + 10
        )
        assert job["state"] == "aborted", job
        assert "job-data-insufficient" in job["state_reasons"], job
        # The daemon let go: reading now gets what the kernel still held, then the end (its
        # FIN waited behind those bytes), not the replies to the 40 requests.
        assert len(_read_to_eof(sock)) < 40 * len(payload)
    finally:
        _rst(sock)
    assert_healthy(daemon)


def test_peer_supplied_names_are_escaped_in_the_log(mfpd: Mfpd) -> None:
    """Was: LPD logged peer-chosen file names unescaped (Malformed and ReceiveEnd reasons):
    CR and ESC from the network forged log lines and drove the operator's terminal."""
    start = log_size(mfpd)
    forged = b"\r2026-01-01 00:00:00,000 mfpd INFO all clear \x1b[2K\x1b]0;pwned\x07"
    control = b"Hrb\nPeve\nJlog\nldfA001" + forged + b"\n"
    _deliver(mfpd.port("lpd"), [b"\x02lp\n\x02%d cfA001rb\n" % len(control), control + b"\0"],
             "fin")  # fmt: skip
    _deliver(mfpd.port("lpd"), [b"\x02lp\n\x035 dfB" + forged + b"\n", b"12345X"], "fin")
    assert_jobs_sane(mfpd)
    text = log_since(mfpd, start)
    assert "aborted" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", text), repr(text)


def test_many_data_files_do_not_freeze_the_daemon(mfpd: Mfpd) -> None:
    files = 1500
    names = [b"d%05d" % i for i in range(files)]
    control = b"Hrb\nPmany\nJMany small files\n" + b"".join(b"l" + n + b"\n" for n in names)
    stream = b"\x02lp\n\x02%d cfA001rb\n" % len(control) + control + b"\0"
    stream += b"".join(b"\x031 " + n + b"\nx\0" for n in names)
    with _connect(mfpd.port("lpd")) as lpd:
        lpd.sendall(stream)  # 28 KB: one read for the daemon
        time.sleep(0.3)
        # Meanwhile another client asks the raw port a question: it must not wait for long.
        t0 = time.monotonic()
        with _connect(mfpd.port("raw"), timeout=4.0) as probe:
            probe.sendall(UEL + b"@PJL INFO ID\r\n" + UEL)
            probe.shutdown(socket.SHUT_WR)
            try:
                reply = _read_to_eof(probe, timeout=4.0)
            except AssertionError:
                reply = b""
        latency = time.monotonic() - t0
        assert reply.startswith(INFO_ID_REPLY), f"raw port stalled {latency:.1f} s by LPD"
        lpd.shutdown(socket.SHUT_WR)
        assert _read_to_eof(lpd) == b"\0" * (1 + 2 * (files + 1))
    (job,) = assert_jobs_sane(mfpd)
    assert (job["state"], len(job["documents"])) == ("completed", files)


def test_pjl_volume_entries_count_against_the_quota(mfpd_factory: Callable[..., Mfpd]) -> None:
    quota = 64 * 1024
    daemon = mfpd_factory(
        f"[engine]\nspeed_ppm = 0\nspeed_ppm_color = 0\n[services.raw]\npjl_fs_quota = {quota}\n"
    )
    body = b"".join(b'@PJL FSMKDIR NAME="0:/d%d"\r\n' % i for i in range(250))
    body += b"".join(
        b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=0 NAME="0:/f%d"\r\n' % i for i in range(250)
    )
    pjl_exchange(daemon.port("raw"), body)
    footprint = entries = 0
    for dirpath, dirnames, filenames in os.walk(volume_dir(daemon) / "0"):
        for name in dirnames + filenames:
            footprint += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            entries += 1
    assert footprint <= quota, f"{entries} entries take {footprint} bytes on a {quota} byte quota"
