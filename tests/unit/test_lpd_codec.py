"""Unit tests of the LPD codec (RFC 1179), server side.

The captured exchanges were recorded from the real clients of shared/CLIENTS.md sections 1
and 3 (CUPS 2.4 lpd backend, rlpr, LPRng lpr) against a responder that ACKs every step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfpd.codecs.lpd import (
    ACK,
    CUPS_STREAM_COUNT,
    FORMAT_MIME,
    NAK,
    AbortJob,
    Command,
    ControlFile,
    ControlFileModel,
    ControlFileStart,
    DataFileStart,
    Event,
    FileData,
    FileEnd,
    FileKind,
    JobReceived,
    LpdProtocolError,
    LpdServerConnection,
    LpdState,
    Malformed,
    PendingReply,
    PrintFile,
    PrintWaiting,
    QueueEntry,
    QueueState,
    ReceiveEnd,
    ReceiveJob,
    RemoveJobs,
    encode_command,
    encode_receive_job,
    format_queue_long,
    format_queue_short,
    matches,
    parse_control_file,
)

# --------------------------------------------------------------------------------------------
# Captured exchanges (client -> server bytes, split where the client waits for an ACK)
# --------------------------------------------------------------------------------------------

CUPS_CONTROL = b"Hvm\nPalice\nJTest job\nldfA139vm\nUdfA139vm\nNTest job\n"

# DEVICE_URI='lpd://127.0.0.1:PORT/lp' backend/lpd 42 alice "Test job" 1 "" hello.txt
CUPS_DEFAULT = [
    b"\x02lp\n",
    b"\x0251 cfA139vm\n",
    CUPS_CONTROL + b"\x00",
    b"\x0312 dfA139vm\n",
    b"hello world\n\x00",
]

# ?order=data,control
CUPS_DATA_FIRST = [
    b"\x02lp\n",
    b"\x0312 dfA063vm\n",
    b"hello world\n\x00",
    b"\x0251 cfA063vm\n",
    b"Hvm\nPalice\nJTest job\nldfA063vm\nUdfA063vm\nNTest job\n\x00",
]

# ?mode=stream, print data from stdin: count 999999999999, no trailing NUL, client closes.
CUPS_STREAM_STDIN = [
    b"\x02lp\n",
    b"\x0251 cfA908vm\n",
    b"Hvm\nPalice\nJTest job\nldfA908vm\nUdfA908vm\nNTest job\n\x00",
    b"\x03999999999999 dfA908vm\n",
    b"hello stdin\n",
]

# ?mode=stream with FILE: the real size, still no trailing NUL.
CUPS_STREAM_FILE = [
    b"\x02lp\n",
    b"\x0251 cfA955vm\n",
    b"Hvm\nPalice\nJTest job\nldfA955vm\nUdfA955vm\nNTest job\n\x00",
    b"\x0312 dfA955vm\n",
    b"hello world\n",
]

# COPIES=3 with ?manual_copies=off: three l lines, data sent once.
CUPS_COPIES_CONTROL = (
    b"Hvm\nPalice\nJTest job\nldfA204vm\nldfA204vm\nldfA204vm\nUdfA204vm\nNTest job\n"
)

# rlpr -Plp -Ualice -JMyJob -#2 /tmp/hello.txt
RLPR_COPIES = [
    b"\x02lp\n",
    b"\x0275 cfA110vm\n",
    b"Hvm\nPalice\nJMyJob\nCvm\nLalice\nfdfA110vm\nfdfA110vm\nUdfA110vm\nN/tmp/hello.txt\n\x00",
    b"\x0312 dfA110vm\n",
    b"hello world\n\x00",
]

# rlpr --send-data-first
RLPR_DATA_FIRST = [
    b"\x02lp\n",
    b"\x0312 dfA157vm\n",
    b"hello world\n\x00",
    b"\x0274 cfA157vm\n",
    b"Hvm\nPalice\nJ/tmp/hello.txt\nCvm\nLalice\nfdfA157vm\nUdfA157vm\nN/tmp/hello.txt\n\x00",
]

# rlpr --send-data-first hello.txt second.txt: two jobs on one connection
RLPR_TWO_JOBS = [
    b"\x02lp\n",
    b"\x0312 dfA958vm\n",
    b"hello world\n\x00",
    b"\x0274 cfA958vm\n",
    b"Hvm\nPalice\nJ/tmp/hello.txt\nCvm\nLalice\nfdfA958vm\nUdfA958vm\nN/tmp/hello.txt\n\x00",
    b"\x037 dfB958vm\n",
    b"second\n\x00",
    b"\x0276 cfB958vm\n",
    b"Hvm\nPalice\nJ/tmp/second.txt\nCvm\nLalice\nfdfB958vm\nUdfB958vm\nN/tmp/second.txt\n\x00",
]

# LPRng lpr -U alice -J MyJob -#2 hello.txt (N before each print line)
LPRNG_CONTROL = (
    b"Hlocalhost\nPalice\nJMyJob\nCA\nLalice\nAalice@localhost+607\n"
    b"D2026-01-01-17:40:38.445\nQlp\nNhello.txt\nfdfA607localhost\nNhello.txt\n"
    b"fdfA607localhost\nUdfA607localhost\n"
)


# --------------------------------------------------------------------------------------------
# Driver: what a service does
# --------------------------------------------------------------------------------------------


class Peer:
    """Feeds a connection like a service: answers each pending event, collects everything."""

    def __init__(self, conn: LpdServerConnection | None = None, *, accept: bool = True) -> None:
        self.conn = conn or LpdServerConnection()
        self.accept = accept
        self.events: list[Event] = []
        self.sent = bytearray()

    def _pump(self, events: list[Event]) -> None:
        while events:
            self.events.extend(events)
            if any(isinstance(e, Malformed) for e in events):
                self.sent += self.conn.reject()
            pending = self.conn.pending_reply
            if pending is PendingReply.RECEIVE_DECISION:
                self.sent += self.conn.accept_receive() if self.accept else self.conn.reject()
            elif pending is not None:
                self.sent += self.conn.ack()
            else:
                return
            events = self.conn.feed(b"")

    def feed(self, *chunks: bytes | memoryview) -> Peer:
        for chunk in chunks:
            self._pump(self.conn.feed(chunk))
        return self

    def close(self) -> Peer:
        self.events.extend(self.conn.eof())
        return self

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]

    def files(self) -> dict[str, bytes]:
        """Data file contents by name, rebuilt from DataFileStart/FileData."""
        out: dict[str, bytearray] = {}
        current: str | None = None
        for e in self.events:
            if isinstance(e, DataFileStart):
                current = e.name
                out[current] = bytearray()
            elif isinstance(e, FileData):
                assert current is not None
                out[current] += e.data
            elif isinstance(e, ControlFileStart):
                current = None
        return {k: bytes(v) for k, v in out.items()}


def run(chunks: Iterable[bytes], **kwargs: int) -> Peer:
    return Peer(LpdServerConnection(**kwargs)).feed(*chunks).close()


def kinds(events: Sequence[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


# --------------------------------------------------------------------------------------------
# Captured real exchanges
# --------------------------------------------------------------------------------------------


def test_cups_default_exchange() -> None:
    peer = run(CUPS_DEFAULT)
    assert kinds(peer.events) == [
        "ReceiveJob",
        "ControlFileStart",
        "ControlFile",
        "FileEnd",
        "DataFileStart",
        "FileData",
        "FileEnd",
        "JobReceived",
        "ReceiveEnd",
    ]
    assert peer.events[0] == ReceiveJob("lp")
    assert peer.events[1] == ControlFileStart(51, "cfA139vm", 51)
    control = peer.events[2]
    assert isinstance(control, ControlFile)
    assert control.data == CUPS_CONTROL
    assert control.model.host == "vm"
    assert control.model.user == "alice"
    assert control.model.job_name == "Test job"
    assert control.model.unlink == ("dfA139vm",)
    # CUPS writes N after the print line it names (BSD style).
    assert control.model.files == (PrintFile("l", "dfA139vm", "Test job", 1),)
    assert peer.events[3] == FileEnd("cfA139vm", FileKind.CONTROL, 51, True)
    assert peer.events[4] == DataFileStart(12, "dfA139vm", 12)
    assert peer.events[5] == FileData(b"hello world\n")
    assert peer.events[6] == FileEnd("dfA139vm", FileKind.DATA, 12, True)
    assert peer.events[7] == JobReceived("cfA139vm", control.model, ("dfA139vm",))
    assert peer.events[8] == ReceiveEnd(True, "connection closed")
    # One ACK for the command, two for each file (sections 5.2, 6.2, 6.3).
    assert bytes(peer.sent) == ACK * 5


def test_cups_default_exchange_in_one_segment() -> None:
    # A pipelining sender: the codec stops at each answer point and resumes on feed(b"").
    one = run(CUPS_DEFAULT)
    piped = run([b"".join(CUPS_DEFAULT)])
    assert piped.events == one.events
    assert bytes(piped.sent) == ACK * 5


def test_cups_order_data_control() -> None:
    peer = run(CUPS_DATA_FIRST)
    assert kinds(peer.events) == [
        "ReceiveJob",
        "DataFileStart",
        "FileData",
        "FileEnd",
        "ControlFileStart",
        "ControlFile",
        "FileEnd",
        "JobReceived",
        "ReceiveEnd",
    ]
    job = peer.of(JobReceived)[0]
    assert isinstance(job, JobReceived)
    assert job.data_files == ("dfA063vm",)
    assert peer.files() == {"dfA063vm": b"hello world\n"}
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")


def test_cups_stream_mode_from_stdin_reads_to_eof() -> None:
    peer = run(CUPS_STREAM_STDIN)
    start = peer.of(DataFileStart)[0]
    assert start == DataFileStart(None, "dfA908vm", CUPS_STREAM_COUNT)
    assert peer.files() == {"dfA908vm": b"hello stdin\n"}
    assert peer.events[-3:] == [
        FileEnd("dfA908vm", FileKind.DATA, 12, False),
        JobReceived("cfA908vm", parse_control_file(CUPS_STREAM_STDIN[2][:-1]), ("dfA908vm",)),
        ReceiveEnd(True, "connection closed"),
    ]
    # No ACK after a file ended by EOF: 1 (command) + 2 (control) + 1 (data subcommand).
    assert bytes(peer.sent) == ACK * 4


def test_cups_stream_mode_with_file_missing_final_nul() -> None:
    peer = run(CUPS_STREAM_FILE)
    assert peer.files() == {"dfA955vm": b"hello world\n"}
    assert FileEnd("dfA955vm", FileKind.DATA, 12, False) in peer.events
    assert len(peer.of(JobReceived)) == 1
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")


def test_cups_manual_copies_off_repeated_lines_are_copies() -> None:
    model = parse_control_file(CUPS_COPIES_CONTROL)
    assert model.files == (PrintFile("l", "dfA204vm", "Test job", 3),)


def test_rlpr_copies_and_banner() -> None:
    peer = run(RLPR_COPIES)
    control = peer.of(ControlFile)[0]
    assert isinstance(control, ControlFile)
    model = control.model
    assert model.files == (PrintFile("f", "dfA110vm", "/tmp/hello.txt", 2),)
    assert model.job_name == "MyJob"
    assert model.job_class == "vm"
    assert model.banner_user == "alice"
    assert model.banner
    assert model.files[0].mime_type == "text/plain"
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")
    assert bytes(peer.sent) == ACK * 5


def test_rlpr_send_data_first() -> None:
    peer = run(RLPR_DATA_FIRST)
    assert len(peer.of(JobReceived)) == 1
    assert peer.files() == {"dfA157vm": b"hello world\n"}
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")


def test_rlpr_two_files_are_two_jobs_on_one_connection() -> None:
    peer = run(RLPR_TWO_JOBS)
    jobs = [j for j in peer.of(JobReceived) if isinstance(j, JobReceived)]
    assert [(j.control_name, j.data_files) for j in jobs] == [
        ("cfA958vm", ("dfA958vm",)),
        ("cfB958vm", ("dfB958vm",)),
    ]
    assert [j.control.files[0].source_name for j in jobs] == ["/tmp/hello.txt", "/tmp/second.txt"]
    assert peer.files() == {"dfA958vm": b"hello world\n", "dfB958vm": b"second\n"}
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")
    assert bytes(peer.sent) == ACK * 9


def test_lprng_control_file() -> None:
    model = parse_control_file(LPRNG_CONTROL)
    assert model.host == "localhost"
    assert model.user == "alice"
    assert model.job_class == "A"
    assert model.files == (PrintFile("f", "dfA607localhost", "hello.txt", 2),)
    assert model.unlink == ("dfA607localhost",)
    assert ("Q", "lp") in model.other
    assert ("A", "alice@localhost+607") in model.other
    peer = run(encode_receive_job("lp", LPRNG_CONTROL, [("dfA607localhost", b"x" * 10)]))
    assert len(peer.of(JobReceived)) == 1


def test_rlpq_rlprm_lpq_commands() -> None:
    assert run([b"\x03lp\n"]).events == [QueueState("lp", False, ())]
    assert run([b"\x04lp\n"]).events == [QueueState("lp", True, ())]
    assert run([b"\x05lp root 123\n"]).events == [RemoveJobs("lp", "root", ("123",))]


# --------------------------------------------------------------------------------------------
# Daemon commands (RFC 1179 section 5)
# --------------------------------------------------------------------------------------------


def test_print_waiting() -> None:
    peer = run([b"\x01lp\n"])
    assert peer.events == [PrintWaiting("lp")]
    assert peer.conn.state is LpdState.CLOSED


def test_queue_state_with_operands_and_tab_separators() -> None:
    peer = run([b"\x03lp alice\t42\x0bbob\x0c7\n"])
    assert peer.events == [QueueState("lp", False, ("alice", "42", "bob", "7"))]


def test_remove_jobs_only_agent() -> None:
    assert run([b"\x05lp alice\n"]).events == [RemoveJobs("lp", "alice", ())]


def test_remove_jobs_without_agent_is_malformed() -> None:
    peer = run([b"\x05lp\n"])
    assert isinstance(peer.events[0], Malformed)
    assert bytes(peer.sent) == NAK


def test_one_command_per_connection_rest_ignored() -> None:
    # Section 5: a new connection for each command; what follows is not interpreted.
    conn = LpdServerConnection()
    assert conn.feed(b"\x03lp\n\x02lp\n") == [QueueState("lp", False, ())]
    assert conn.state is LpdState.DONE
    assert conn.feed(b"\x01lp\n") == []
    assert conn.eof() == []


def test_command_split_across_feeds_and_crlf() -> None:
    conn = LpdServerConnection()
    assert conn.feed(b"\x03") == []
    assert conn.feed(b"lp") == []
    assert conn.feed(b"\r\n") == [QueueState("lp", False, ())]


def test_non_utf8_queue_name_decoded_latin1() -> None:
    assert run([b"\x03dr\xfccker\n"]).events == [QueueState("dr\xfccker", False, ())]


def test_receive_job_reject_unknown_queue() -> None:
    peer = Peer(accept=False).feed(b"\x02nosuch\n").close()
    assert peer.events == [ReceiveJob("nosuch")]
    assert bytes(peer.sent) == NAK
    assert peer.conn.state is LpdState.CLOSED


def test_receive_job_waits_for_decision_and_buffers() -> None:
    conn = LpdServerConnection()
    events = conn.feed(b"\x02lp\n\x0312 dfA1h\n")
    assert events == [ReceiveJob("lp")]
    assert conn.state is LpdState.RECEIVE_DECISION
    assert conn.pending_reply is PendingReply.RECEIVE_DECISION
    assert conn.buffered == len(b"\x0312 dfA1h\n")
    assert conn.feed(b"hello") == []  # still waiting for the service
    assert conn.accept_receive() == ACK
    assert conn.feed(b"") == [DataFileStart(12, "dfA1h", 12)]
    assert conn.ack() == ACK
    assert conn.feed(b"") == [FileData(b"hello")]


def test_empty_queue_name_is_passed_on() -> None:
    assert run([b"\x03\n"]).events == [QueueState("", False, ())]


# --------------------------------------------------------------------------------------------
# Receive job (RFC 1179 section 6) and real-sender quirks
# --------------------------------------------------------------------------------------------

SIMPLE_CONTROL = b"Hh\nPu\nldfA001h\n"


def test_trailing_nul_is_consumed_and_ack_only_after_it() -> None:
    conn = LpdServerConnection()
    conn.feed(b"\x02lp\n")
    conn.accept_receive()
    assert conn.feed(b"\x035 dfA001h\n") == [DataFileStart(5, "dfA001h", 5)]
    conn.ack()
    assert conn.feed(b"hello") == [FileData(b"hello")]
    assert conn.pending_reply is None  # no ACK owed before the zero octet
    assert conn.state is LpdState.FILE_TRAILER
    assert conn.feed(b"\x00") == [FileEnd("dfA001h", FileKind.DATA, 5, True)]
    assert conn.pending_reply is PendingReply.FILE
    assert conn.ack() == ACK
    assert conn.state is LpdState.SUBCOMMAND


def test_data_containing_nuls_and_newlines_passes_through() -> None:
    data = b"\x00\n\x02\x03\x00" * 100
    peer = run(encode_receive_job("lp", SIMPLE_CONTROL, [("dfA001h", data)]))
    assert peer.files() == {"dfA001h": data}
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")


def test_count_zero_reads_until_eof() -> None:
    peer = Peer().feed(b"\x02lp\n", b"\x02%d cfA001h\n" % len(SIMPLE_CONTROL))
    peer.feed(SIMPLE_CONTROL + b"\x00", b"\x030 dfA001h\n", b"abc\x00", b"def")
    assert peer.conn.pending_reply is None
    peer.close()
    assert peer.of(DataFileStart) == [DataFileStart(None, "dfA001h", 0)]
    # Nothing in an unsized file is a trailer, not even a zero octet.
    assert peer.files() == {"dfA001h": b"abc\x00def"}
    assert FileEnd("dfA001h", FileKind.DATA, 7, False) in peer.events
    assert len(peer.of(JobReceived)) == 1
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")


@pytest.mark.parametrize("count", [125_899_906_843_000, 2**40 + 1, 10**30, int("9" * 500)])
def test_huge_count_reads_until_eof(count: int) -> None:
    peer = run([b"\x02lp\n", b"\x03%d dfA001h\n" % count, b"x" * 1000])
    start = peer.of(DataFileStart)[0]
    assert isinstance(start, DataFileStart)
    assert start.count is None
    assert peer.files() == {"dfA001h": b"x" * 1000}
    assert FileEnd("dfA001h", FileKind.DATA, 1000, False) in peer.events
    # A data file without a control file is reported, not dropped.
    end = peer.events[-1]
    assert isinstance(end, ReceiveEnd) and not end.complete
    assert "dfA001h" in end.reason


def test_threshold_is_a_constructor_argument() -> None:
    peer = run([b"\x02lp\n", b"\x035000 dfA001h\n", b"abc"], unsized_count_threshold=1000)
    assert peer.of(DataFileStart) == [DataFileStart(None, "dfA001h", 5000)]
    # At the threshold itself the count is still a size.
    peer = run([b"\x02lp\n", b"\x031000 dfA001h\n", b"abc"], unsized_count_threshold=1000)
    assert peer.of(DataFileStart) == [DataFileStart(1000, "dfA001h", 1000)]
    end = peer.events[-1]
    assert isinstance(end, ReceiveEnd) and not end.complete


def test_leading_zeros_in_count() -> None:
    peer = run([b"\x02lp\n", b"\x03005 dfA001h\n", b"hello\x00"])
    assert peer.of(DataFileStart) == [DataFileStart(5, "dfA001h", 5)]


def test_several_data_files_per_control_file() -> None:
    control = b"Hh\nPu\nfdfA001h\nN/etc/a\nodfB001h\nN/etc/b\nldfC001h\nNc\n"
    files = [("dfA001h", b"a" * 10), ("dfB001h", b"%!PS\n"), ("dfC001h", b"\x1b%-12345X")]
    for control_first in (True, False):
        peer = run(encode_receive_job("lp", control, files, control_first=control_first))
        assert peer.files() == dict(files)
        jobs = peer.of(JobReceived)
        assert len(jobs) == 1
        job = jobs[0]
        assert isinstance(job, JobReceived)
        assert job.data_files == ("dfA001h", "dfB001h", "dfC001h")
        assert [(f.format_letter, f.source_name) for f in job.control.files] == [
            ("f", "/etc/a"),
            ("o", "/etc/b"),
            ("l", "c"),
        ]
        assert peer.events[-1] == ReceiveEnd(True, "connection closed")


def test_job_not_received_until_all_data_files() -> None:
    control = b"Hh\nPu\nldfA001h\nldfB001h\n"
    conn = LpdServerConnection()
    peer = Peer(conn)
    messages = encode_receive_job("lp", control, [("dfA001h", b"1"), ("dfB001h", b"2")])
    peer.feed(*messages[:5])
    assert peer.of(JobReceived) == []
    peer.feed(*messages[5:])
    assert len(peer.of(JobReceived)) == 1


def test_several_jobs_per_connection() -> None:
    job1 = encode_receive_job("lp", b"Hh\nPu\nldfA001h\n", [("dfA001h", b"one")], True, "cfA001h")
    job2 = encode_receive_job("lp", b"Hh\nPv\nldfA002h\n", [("dfA002h", b"two")], False, "cfA002h")
    peer = run(job1 + job2[1:])  # one 02 command, then the subcommands of both jobs
    jobs = peer.of(JobReceived)
    assert [(j.control_name, j.data_files) for j in jobs if isinstance(j, JobReceived)] == [
        ("cfA001h", ("dfA001h",)),
        ("cfA002h", ("dfA002h",)),
    ]
    assert peer.files() == {"dfA001h": b"one", "dfA002h": b"two"}
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")
    assert bytes(peer.sent) == ACK * 9


def test_crlf_subcommand_lines_and_control_file() -> None:
    control = b"Hh\r\nPu\r\nJa title with spaces\r\nldfA001h\r\nNC:\\My Documents\\x.txt\r\n"
    peer = run(
        [
            b"\x02lp\r\n",
            b"\x02%d cfA001h\r\n" % len(control),
            control + b"\x00",
            b"\x033 dfA001h\r\n",
            b"abc\x00",
        ]
    )
    job = peer.of(JobReceived)[0]
    assert isinstance(job, JobReceived)
    assert job.control.job_name == "a title with spaces"
    assert job.control.files == (PrintFile("l", "dfA001h", "C:\\My Documents\\x.txt"),)
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")


# A PLP-era sender: the control file ends with two zero octets, and it waits for the ACK in
# between, so the second one sits alone in the buffer when the next subcommand arrives.
PLP_STRAY_NUL = [
    b"\x02lp\n",
    b"\x0251 cfA139vm\n",
    CUPS_CONTROL + b"\x00\x00",
    b"\x0312 dfA139vm\n",
    b"hello world\n\x00",
]


def test_stray_nul_after_the_control_file_is_skipped() -> None:
    peer = run(PLP_STRAY_NUL)
    assert peer.events == run(CUPS_DEFAULT).events
    assert bytes(peer.sent) == ACK * 5
    assert peer.files() == {"dfA139vm": b"hello world\n"}


@pytest.mark.parametrize("filler", [b"\x00", b"\x00" * 5, b"\n", b"\r\n", b"\x00\r\n\x00"])
@pytest.mark.parametrize("where", [1, 3])  # after the receive-job ACK, after a file's zero octet
def test_filler_between_subcommands_is_skipped(filler: bytes, where: int) -> None:
    messages = list(CUPS_DEFAULT)
    messages[where - 1] += filler
    peer = run(messages)
    assert peer.events == run(CUPS_DEFAULT).events
    assert bytes(peer.sent) == ACK * 5


def test_filler_after_the_last_file_then_eof_is_a_complete_receive() -> None:
    peer = run([*CUPS_DEFAULT[:-1], CUPS_DEFAULT[-1] + b"\x00\r\n"])
    assert peer.events[-2:] == run(CUPS_DEFAULT).events[-2:]
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")


def test_filler_split_across_feeds_and_in_one_segment() -> None:
    stream = b"".join(PLP_STRAY_NUL)
    whole = run([stream])
    assert whole.events == run(CUPS_DEFAULT).events
    byte_by_byte = run([stream[i : i + 1] for i in range(len(stream))])
    assert [e for e in byte_by_byte.events if not isinstance(e, FileData)] == [
        e for e in whole.events if not isinstance(e, FileData)
    ]
    assert byte_by_byte.files() == whole.files()


def test_nul_before_the_daemon_command_is_still_refused() -> None:
    # Section 5: the first octet is the command; BSD lpd and LPRng refuse 0x00 there too.
    peer = Peer().feed(b"\x00\x02lp\n")
    assert peer.events == [Malformed("unknown command 0x00", b"\x00\x02lp")]
    assert bytes(peer.sent) == NAK


def test_abort_job_drops_unfinished_job_and_continues() -> None:
    peer = Peer()
    peer.feed(b"\x02lp\n", b"\x033 dfA001h\n", b"abc\x00")
    peer.feed(b"\x01\n")
    assert peer.events[-1:] == [AbortJob()]
    job = encode_receive_job("lp", SIMPLE_CONTROL, [("dfA001h", b"xyz")])
    peer.feed(*job[1:]).close()
    assert len(peer.of(JobReceived)) == 1
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")
    assert bytes(peer.sent) == ACK * 8


def test_abort_job_waits_for_ack() -> None:
    conn = LpdServerConnection()
    conn.feed(b"\x02lp\n")
    conn.accept_receive()
    assert conn.feed(b"\x01\n") == [AbortJob()]
    assert conn.pending_reply is PendingReply.SUBCOMMAND
    assert conn.ack() == ACK


def test_data_fast_path_zero_copy_for_bytes() -> None:
    conn = LpdServerConnection()
    conn.feed(b"\x02lp\n")
    conn.accept_receive()
    conn.feed(b"\x03%d dfA001h\n" % (3 * 65536))
    conn.ack()
    chunk = bytes(range(256)) * 256
    for _ in range(3):
        events = conn.feed(chunk)
        assert len(events) == 1
        assert isinstance(events[0], FileData)
        assert events[0].data is chunk  # the input object itself, no copy
    assert conn.feed(b"\x00") == [FileEnd("dfA001h", FileKind.DATA, 3 * 65536, True)]


def test_memoryview_input_and_file_end_inside_a_chunk() -> None:
    conn = LpdServerConnection()
    conn.feed(memoryview(b"\x02lp\n"))
    conn.accept_receive()
    conn.feed(memoryview(b"\x034 dfA001h\n"))
    conn.ack()
    buf = bytearray(b"abcd\x00\x02%d cfA001h\n" % len(SIMPLE_CONTROL))
    events = conn.feed(memoryview(buf))
    buf[:] = b"\xff" * len(buf)  # the caller reuses its buffer: events must not change
    assert events == [FileData(b"abcd"), FileEnd("dfA001h", FileKind.DATA, 4, True)]
    first = events[0]
    assert isinstance(first, FileData) and type(first.data) is bytes
    conn.ack()
    assert conn.feed(b"") == [ControlFileStart(len(SIMPLE_CONTROL), "cfA001h", 15)]


def test_control_file_split_in_many_feeds() -> None:
    messages = encode_receive_job("lp", LPRNG_CONTROL, [("dfA607localhost", b"data")])
    stream = b"".join(messages)
    peer = Peer()
    for i in range(len(stream)):
        peer.feed(stream[i : i + 1])
    peer.close()
    assert peer.files() == {"dfA607localhost": b"data"}
    control = peer.of(ControlFile)[0]
    assert isinstance(control, ControlFile)
    assert control.data == LPRNG_CONTROL
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")


def test_unsized_control_file_read_to_eof() -> None:
    peer = run([b"\x02lp\n", b"\x020 cfA001h\n", b"Hh\nPu\n"])
    assert peer.of(ControlFileStart) == [ControlFileStart(None, "cfA001h", 0)]
    control = peer.of(ControlFile)[0]
    assert isinstance(control, ControlFile)
    assert control.model.user == "u"
    assert FileEnd("cfA001h", FileKind.CONTROL, 6, False) in peer.events
    # No print lines: the job needs no data file.
    assert len(peer.of(JobReceived)) == 1


# --------------------------------------------------------------------------------------------
# Half-received jobs: reported, never dropped
# --------------------------------------------------------------------------------------------


def test_eof_in_the_middle_of_a_data_file() -> None:
    peer = run([b"\x02lp\n", b"\x02%d cfA001h\n" % 15, SIMPLE_CONTROL + b"\0", b"\x0310 dfA001h\n"])
    peer2 = Peer().feed(*CUPS_DEFAULT[:4], b"hello").close()
    end = peer2.events[-1]
    assert isinstance(end, ReceiveEnd)
    assert not end.complete
    assert "EOF in data file dfA139vm after 5 of 12 bytes" in end.reason
    assert "control file cfA139vm without data file(s) dfA139vm" in end.reason
    assert not any(isinstance(e, FileEnd) and e.kind is FileKind.DATA for e in peer2.events)
    assert peer2.files() == {"dfA139vm": b"hello"}
    # Announced and acknowledged, but no byte came.
    end = peer.events[-1]
    assert isinstance(end, ReceiveEnd) and not end.complete
    assert "after 0 of 10 bytes" in end.reason


def test_eof_in_the_middle_of_a_control_file() -> None:
    peer = run([b"\x02lp\n", b"\x0251 cfA139vm\n", CUPS_CONTROL[:20]])
    end = peer.events[-1]
    assert isinstance(end, ReceiveEnd) and not end.complete
    assert "EOF in control file cfA139vm after 20 of 51 bytes" in end.reason
    assert peer.of(ControlFile) == []


def test_eof_after_control_without_data() -> None:
    peer = run(CUPS_DEFAULT[:3])
    end = peer.events[-1]
    assert end == ReceiveEnd(False, "control file cfA139vm without data file(s) dfA139vm")


def test_eof_inside_a_subcommand_line() -> None:
    peer = run([b"\x02lp\n", b"\x0312 dfA"])
    end = peer.events[-1]
    assert isinstance(end, ReceiveEnd) and not end.complete
    assert "subcommand line" in end.reason


def test_eof_before_subcommand_answered() -> None:
    conn = LpdServerConnection()
    conn.feed(b"\x02lp\n")
    conn.accept_receive()
    conn.feed(b"\x035 dfA001h\nhello")
    end = conn.eof()[-1]
    assert isinstance(end, ReceiveEnd) and not end.complete
    assert "dfA001h" in end.reason and "5 bytes" in end.reason


def test_eof_with_unanswered_file_ack_keeps_the_file() -> None:
    conn = LpdServerConnection()
    Peer(conn).feed(*CUPS_DEFAULT[:4])
    assert conn.feed(b"hello world\n\x00")[-1] == FileEnd("dfA139vm", FileKind.DATA, 12, True)
    events = conn.eof()
    assert [type(e) for e in events] == [JobReceived, ReceiveEnd]
    assert events[-1] == ReceiveEnd(True, "connection closed")


def test_eof_right_after_accept_is_complete() -> None:
    assert run([b"\x02lp\n"]).events == [ReceiveJob("lp"), ReceiveEnd(True, "connection closed")]


def test_eof_before_receive_decision() -> None:
    conn = LpdServerConnection()
    conn.feed(b"\x02lp\n")
    assert conn.eof() == [ReceiveEnd(True, "connection closed")]


def test_connect_and_close_gives_nothing() -> None:
    assert LpdServerConnection().eof() == []


def test_eof_inside_command_line() -> None:
    conn = LpdServerConnection()
    conn.feed(b"\x03lp")
    assert conn.eof() == [Malformed("command line not ended by LF before EOF", b"\x03lp")]


# --------------------------------------------------------------------------------------------
# Protocol errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "reason", "data"),
    [
        (b"GET / HTTP/1.1\r\n", "unknown command 0x47", b"GET / HTTP/1.1"),
        (b"\x06lp\n", "unknown command 0x06", b"\x06lp"),
        (b"\n", "empty command line", b""),
        (b"\x02" + b"q" * 2000, "line too long", b"\x02" + b"q" * 1023),
        (b"\x02" + b"q" * 1025 + b"\n", "line too long", b"\x02" + b"q" * 1023),
    ],
)
def test_malformed_commands(stream: bytes, reason: str, data: bytes) -> None:
    peer = Peer()
    peer.feed(stream)
    assert peer.events == [Malformed(reason, data)]
    assert bytes(peer.sent) == NAK
    assert peer.conn.state is LpdState.ERROR
    assert peer.conn.feed(b"\x03lp\n") == []  # nothing more is read
    assert peer.conn.eof() == []


def test_line_of_exactly_max_line_is_fine() -> None:
    queue = b"q" * 1023
    assert run([b"\x03" + queue + b"\r\n"]).events == [QueueState(queue.decode(), False, ())]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\x03abc dfA001h\n", "bad count"),
        (b"\x03-5 dfA001h\n", "bad count"),
        (b"\x03+5 dfA001h\n", "bad count"),
        (b"\x03\n", "bad count"),
        (b"\x02 \n", "bad count"),
        (b"\x0312.5 dfA\n", "bad count"),
        (b"\x04lp\n", "unknown receive-job subcommand 0x04"),
        (b"\x02999999 cfA001h\n", "control file too large"),
    ],
)
def test_malformed_subcommands(line: bytes, reason: str) -> None:
    peer = Peer().feed(b"\x02lp\n", line)
    malformed = peer.events[-1]
    assert malformed == Malformed(reason, line.rstrip(b"\n"))
    assert bytes(peer.sent) == ACK + NAK
    peer.feed(b"\x01\n")  # ignored
    peer.close()
    assert peer.events[-1] == ReceiveEnd(False, f"protocol error: {reason}")


def test_file_not_followed_by_zero_octet() -> None:
    peer = Peer().feed(b"\x02lp\n", b"\x033 dfA001h\n", b"abcX")
    assert peer.events[-1] == Malformed("data file dfA001h not followed by a zero octet", b"X")
    assert bytes(peer.sent) == ACK + ACK + NAK
    end = peer.close().events[-1]
    assert isinstance(end, ReceiveEnd) and not end.complete


def test_unsized_control_file_too_large() -> None:
    peer = Peer(LpdServerConnection(max_control_file=10)).feed(b"\x02lp\n", b"\x020 cfA\n")
    peer.feed(b"H" * 11)
    assert peer.events[-1] == Malformed("control file too large", b"")


def test_small_limits_are_constructor_arguments() -> None:
    conn = LpdServerConnection(max_line=8)
    assert conn.feed(b"\x03abcdefgh\n") == [Malformed("line too long", b"\x03abcdefg")]
    with pytest.raises(ValueError):
        LpdServerConnection(max_line=0)


# --------------------------------------------------------------------------------------------
# Answers and misuse
# --------------------------------------------------------------------------------------------


def test_reject_data_file_start_then_continue() -> None:
    conn = LpdServerConnection()
    conn.feed(b"\x02lp\n")
    conn.accept_receive()
    assert conn.feed(b"\x0399 dfA001h\n") == [DataFileStart(99, "dfA001h", 99)]
    assert conn.reject() == NAK
    assert conn.state is LpdState.SUBCOMMAND
    assert conn.feed(b"\x033 dfA001h\n") == [DataFileStart(3, "dfA001h", 3)]


def test_reject_file_end_does_not_complete_job() -> None:
    conn = LpdServerConnection()
    peer = Peer(conn).feed(*CUPS_DEFAULT[:4])
    events = conn.feed(b"hello world\n\x00")
    assert events[-1] == FileEnd("dfA139vm", FileKind.DATA, 12, True)
    assert conn.reject() == NAK
    assert conn.feed(b"") == []
    end = conn.eof()
    assert peer.of(JobReceived) == []
    assert end == [ReceiveEnd(False, "control file cfA139vm without data file(s) dfA139vm")]


def test_misuse_raises_the_codec_exception() -> None:
    conn = LpdServerConnection()
    with pytest.raises(LpdProtocolError):
        conn.ack()
    with pytest.raises(LpdProtocolError):
        conn.reject()
    with pytest.raises(LpdProtocolError):
        conn.accept_receive()
    conn.feed(b"\x02lp\n")
    conn.accept_receive()
    conn.feed(b"\x033 dfA\n")
    with pytest.raises(LpdProtocolError):
        conn.accept_receive()  # not a receive decision
    conn.eof()
    with pytest.raises(LpdProtocolError):
        conn.feed(b"x")
    with pytest.raises(LpdProtocolError):
        conn.eof()


def test_ack_serves_as_accept_receive() -> None:
    conn = LpdServerConnection()
    conn.feed(b"\x02lp\n")
    assert conn.ack() == ACK
    assert conn.state is LpdState.SUBCOMMAND


def test_constants() -> None:
    assert ACK == b"\x00" and NAK == b"\x01"
    assert LpdServerConnection.ACK == ACK and LpdServerConnection.NAK == NAK


def test_events_are_frozen() -> None:
    event = ReceiveJob("lp")
    with pytest.raises(FrozenInstanceError):
        event.queue = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Control file parsing (RFC 1179 section 7)
# --------------------------------------------------------------------------------------------


def test_control_file_all_fields() -> None:
    model = parse_control_file(
        b"Hhost\nPuser\nJjob\nCclass\nLbanner\nTMy Title: /usr/share/doc/x\nI8\nW100\n"
        b"Mmail\nS12 34\n1font.r\n2font.i\n3font.b\n4font.s\npdfA001h\nUdfA001h\nNsrc.c\n"
    )
    assert model == ControlFileModel(
        host="host",
        user="user",
        job_name="job",
        job_class="class",
        banner_user="banner",
        title="My Title: /usr/share/doc/x",
        indent=8,
        width=100,
        mail="mail",
        unlink=("dfA001h",),
        files=(PrintFile("p", "dfA001h", "src.c", 1),),
        other=(("S", "12 34"),),
    )


def test_control_file_tolerance() -> None:
    model = parse_control_file(
        b"\n\nHh\r\nPj\xf6rg\nZunknown\nkkerberos\nIx\nW\nTt\xc3\xa9 t\nldfA"
    )
    assert model.user == "j\xf6rg"  # not UTF-8: Latin-1
    assert model.title == "t\xe9 t"  # UTF-8
    assert model.indent is None and model.width is None
    assert model.files == (PrintFile("l", "dfA", None),)  # no final LF
    assert ("Z", "unknown") in model.other and ("k", "kerberos") in model.other
    assert model.banner_user is None and not model.banner


def test_control_file_empty_and_garbage() -> None:
    assert parse_control_file(b"") == ControlFileModel()
    assert parse_control_file(b"\x00\xff\n\r\n").other == (("\x00", "\xff"),)


def test_control_file_empty_banner_user() -> None:
    model = parse_control_file(b"Hh\nPu\nL\n")
    assert model.banner_user == "" and model.banner


def test_control_file_source_name_before_lines_lprng() -> None:
    model = parse_control_file(b"Na\nfdfA\nfdfA\nNb\nfdfB\n")
    assert model.files == (PrintFile("f", "dfA", "a", 2), PrintFile("f", "dfB", "b", 1))


def test_control_file_source_name_after_lines_bsd() -> None:
    model = parse_control_file(b"fdfA\nfdfA\nUdfA\nNa\nldfB\nUdfB\nNb\nldfC\n")
    assert model.files == (
        PrintFile("f", "dfA", "a", 2),
        PrintFile("l", "dfB", "b", 1),
        PrintFile("l", "dfC", None, 1),
    )
    assert model.data_file_names == ("dfA", "dfB", "dfC")


def test_same_file_different_formats_are_separate() -> None:
    model = parse_control_file(b"ldfA\nodfA\nldfA\n")
    assert model.files == (PrintFile("l", "dfA", None, 2), PrintFile("o", "dfA", None, 1))
    assert model.data_file_names == ("dfA",)


def test_format_mime() -> None:
    # RFC 1179 section 7: the lower case letters that print something.
    assert set(FORMAT_MIME) == set("cdfglnoprtv")
    assert FORMAT_MIME["f"] == "text/plain"
    assert FORMAT_MIME["p"] == "text/plain"
    assert FORMAT_MIME["l"] == "application/octet-stream"
    assert FORMAT_MIME["o"] == "application/postscript"
    assert FORMAT_MIME["d"] == "application/x-dvi"
    assert FORMAT_MIME["v"] == "image/x-sun-raster"
    assert FORMAT_MIME["r"] is None
    assert PrintFile("o", "dfA", None).mime_type == "application/postscript"


# --------------------------------------------------------------------------------------------
# Queue state replies (sections 5.3, 5.4)
# --------------------------------------------------------------------------------------------

QUEUE = [
    QueueEntry(True, "alice", 42, ("hello.txt",), 12, "vm"),
    QueueEntry(False, "bob", 43, ("report.pdf", "notes.txt"), 4096, "pc", (4000, 96)),
    QueueEntry(False, "alice", 7, ("(stdin)",), 5, "vm"),
]


def test_queue_short() -> None:
    text = format_queue_short(QUEUE, status="lp is ready and printing").decode()
    assert text == (
        "lp is ready and printing\n"
        "Rank   Owner      Job  Files                                 Total Size\n"
        "active alice      42   hello.txt                             12 bytes\n"
        "1st    bob        43   report.pdf, notes.txt                 4096 bytes\n"
        "2nd    alice      7    (stdin)                               5 bytes\n"
    )
    for line in text.splitlines()[1:]:
        assert line[61].isalnum() and line[60] == " "  # BSD SIZCOL


def test_queue_short_empty_and_filtered() -> None:
    assert format_queue_short([]) == b"no entries\n"
    assert format_queue_short([], status="lp is ready") == b"lp is ready\nno entries\n"
    text = format_queue_short(QUEUE, ["bob"]).decode().splitlines()
    assert [line.split()[0] for line in text[1:]] == ["1st"]  # rank counts hidden jobs
    text = format_queue_short(QUEUE, ["7", "42"]).decode().splitlines()
    assert [line.split()[0] for line in text[1:]] == ["active", "2nd"]
    assert format_queue_short(QUEUE, ["carol"]) == b"no entries\n"


def test_queue_long() -> None:
    text = format_queue_long(QUEUE[:2]).decode()
    assert text == (
        "\n"
        "alice: active                            [job 042vm]\n"
        "\thello.txt                        12 bytes\n"
        "\n"
        "bob: 1st                                 [job 043pc]\n"
        "\treport.pdf                       4000 bytes\n"
        "\tnotes.txt                        96 bytes\n"
    )
    assert format_queue_long([], status="lp is ready") == b"lp is ready\nno entries\n"


def test_queue_ranks_and_sanitising() -> None:
    jobs = [QueueEntry(False, f"u{i}", i, ("f",), 1) for i in range(1, 25)]
    ranks = [line.split()[0] for line in format_queue_short(jobs).decode().splitlines()[1:]]
    assert ranks[:4] == ["1st", "2nd", "3rd", "4th"]
    assert ranks[10:13] == ["11th", "12th", "13th"]
    assert ranks[20:23] == ["21st", "22nd", "23rd"]
    evil = QueueEntry(False, "x\x1b[2J", 1, ("a\nb" + "c" * 80,), 1)
    text = format_queue_short([evil]).decode()
    assert "\x1b" not in text and text.count("\n") == 2
    assert "..." in text


def test_matches() -> None:
    entry = QUEUE[0]
    assert matches(entry, [])
    assert matches(entry, ["alice"])
    assert matches(entry, ["042"])
    assert not matches(entry, ["bob", "43"])
    assert not matches(entry, ["9" * 40])


# --------------------------------------------------------------------------------------------
# Client-side encoder
# --------------------------------------------------------------------------------------------


def test_encode_receive_job() -> None:
    msgs = encode_receive_job(
        "lp", CUPS_CONTROL, [("dfA139vm", b"hello world\n")], True, "cfA139vm"
    )
    assert msgs == [*CUPS_DEFAULT[:4], b"hello world\n\x00"]
    msgs = encode_receive_job("lp", b"C", [("d1", b"x")], control_first=False)
    assert msgs == [b"\x02lp\n", b"\x031 d1\n", b"x\x00", b"\x021 cfA001mfpd\n", b"C\x00"]
    assert encode_command(Command.REMOVE_JOBS, "lp", "root", "123") == b"\x05lp root 123\n"


# --------------------------------------------------------------------------------------------
# Property-based tests
# --------------------------------------------------------------------------------------------

TOKENS = [
    b"\x01",
    b"\x02",
    b"\x03",
    b"\x04",
    b"\x05",
    b"lp",
    b" ",
    b"\t",
    b"\n",
    b"\r\n",
    b"\x00",
    b"0",
    b"3",
    b"12",
    b"999999999999",
    b"125899906843000",
    b" cfA001h\n",
    b" dfA001h\n",
    b"Hh\nPu\nldfA001h\n",
    b"abc",
]

lpd_ish = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=8)), max_size=60).map(
    b"".join
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


@settings(max_examples=400, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=400), lpd_ish),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=20),
    answers=st.lists(st.booleans(), max_size=40),
    threshold=st.sampled_from([2**40, 5, 1000]),
)
def test_arbitrary_bytes_only_events(
    data: bytes, cuts: list[int], answers: list[bool], threshold: int
) -> None:
    conn = LpdServerConnection(max_line=64, max_control_file=128, unsized_count_threshold=threshold)
    decisions = iter(answers)
    events: list[Event] = []
    received: dict[str, int] = {}
    current: str | None = None

    def handle(batch: list[Event]) -> None:
        nonlocal current
        while batch:
            events.extend(batch)
            for e in batch:
                assert isinstance(e, Event)
                if isinstance(e, DataFileStart):
                    current = e.name
                    received[current] = 0
                elif isinstance(e, FileData):
                    assert current is not None and e.data
                    received[current] += len(e.data)
                elif isinstance(e, FileEnd) and e.kind is FileKind.DATA:
                    assert received[e.name] == e.size
            if any(isinstance(e, Malformed) for e in batch):
                assert conn.reject() == NAK
            if conn.pending_reply is None:
                return
            answer = conn.ack() if next(decisions, True) else conn.reject()
            assert answer in (ACK, NAK)
            batch = conn.feed(b"")

    try:
        for chunk in _split(data, cuts):
            handle(conn.feed(chunk))
        tail = conn.eof()
    except LpdProtocolError:  # the codec's own exception is allowed, nothing else
        return
    assert all(isinstance(e, Event) for e in tail)
    for e in tail:
        if isinstance(e, FileEnd):
            assert not e.ack_expected
    assert conn.state is LpdState.CLOSED
    ends = [e for e in events + tail if isinstance(e, ReceiveEnd)]
    assert len(ends) <= 1
    if ends:
        assert tail[-1] is ends[0]


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    files=st.dictionaries(
        names.map(lambda n: "dfA" + n), st.binary(min_size=1, max_size=3000), min_size=1, max_size=4
    ),
    control_first=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=100_000), max_size=30),
    letters=st.lists(st.sampled_from(sorted(FORMAT_MIME)), min_size=4, max_size=4),
    as_memoryview=st.booleans(),
)
def test_round_trip(
    files: dict[str, bytes],
    control_first: bool,
    cuts: list[int],
    letters: list[str],
    as_memoryview: bool,
) -> None:
    control = b"Hhost\nPuser\nJround trip\n" + b"".join(
        b"%s%s\nN/src/%s\n" % (letter.encode(), name.encode(), name.encode())
        for letter, name in zip(letters, files, strict=False)
    )
    messages = encode_receive_job("lp", control, list(files.items()), control_first)
    stream = b"".join(messages)
    peer = Peer()
    for chunk in _split(stream, cuts):
        peer.feed(memoryview(chunk) if as_memoryview else chunk)
    peer.close()
    assert peer.files() == files
    controls = peer.of(ControlFile)
    assert len(controls) == 1
    control_event = controls[0]
    assert isinstance(control_event, ControlFile)
    assert control_event.data == control
    jobs = peer.of(JobReceived)
    assert len(jobs) == 1
    job = jobs[0]
    assert isinstance(job, JobReceived)
    assert job.data_files == tuple(files)
    assert [(f.format_letter, f.data_file_name, f.source_name) for f in job.control.files] == [
        (letter, name, "/src/" + name) for letter, name in zip(letters, files, strict=False)
    ]
    assert peer.events[-1] == ReceiveEnd(True, "connection closed")
    assert bytes(peer.sent) == ACK * (1 + 2 * (1 + len(files)))


@settings(max_examples=200, deadline=None)
@given(
    files=st.dictionaries(
        names.map(lambda n: "dfA" + n), st.binary(min_size=1, max_size=300), min_size=1, max_size=3
    ),
    control_first=st.booleans(),
    fillers=st.lists(st.binary(max_size=6).map(lambda b: bytes(b"\0\r\n"[x % 3] for x in b))),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=10),
)
def test_filler_between_subcommands_changes_nothing(
    files: dict[str, bytes], control_first: bool, fillers: list[bytes], cuts: list[int]
) -> None:
    """Zero octets, CRs and LFs wherever a subcommand may start give the same job and ACKs."""
    control = b"Hhost\nPuser\n" + b"".join(b"l%s\n" % n.encode() for n in files)
    messages = encode_receive_job("lp", control, list(files.items()), control_first)
    plain = run(messages)
    extra = iter(fillers)
    # After the command (index 0) and after each file (even indices from 2) a subcommand
    # may start; after a subcommand line the file's own octets follow.
    padded = [m + (next(extra, b"") if i % 2 == 0 else b"") for i, m in enumerate(messages)]
    peer = Peer()
    for chunk in _split(b"".join(padded), cuts):
        peer.feed(chunk)
    peer.close()
    assert [e for e in peer.events if not isinstance(e, FileData)] == [
        e for e in plain.events if not isinstance(e, FileData)
    ]
    assert peer.files() == files
    assert bytes(peer.sent) == bytes(plain.sent) == ACK * (1 + 2 * (1 + len(files)))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000))
def test_parse_control_file_never_raises(data: bytes) -> None:
    model = parse_control_file(data)
    assert isinstance(model, ControlFileModel)
    assert all(f.copies >= 1 for f in model.files)
