"""LPD (RFC 1179) server side, sans-I/O.

The codec turns bytes received from an LPD client into events, and the service turns events
into calls on the device and answers with the bytes the codec hands back (ACK / NAK).  Nothing
here touches a socket, a clock or a logger.

Driving it (the h11 pattern)::

    conn = LpdServerConnection()
    # on every chunk received:
    events = conn.feed(data)
    while events:
        for event in events:
            handle(event)          # may call conn.accept_receive(), conn.ack(), conn.reject()
        events = conn.feed(b"")    # input that arrived before the answer, and JobReceived
    # when the peer closes:
    for event in conn.eof():
        handle(event)              # nothing returned by eof() needs an answer

Some events need an answer before the codec reads any further (``conn.pending_reply`` says
which); the codec buffers input meanwhile.  They are:

* ``ReceiveJob``: ``accept_receive()`` (ACK) or ``reject()`` (NAK, e.g. unknown queue).
* ``ControlFileStart`` / ``DataFileStart`` / ``AbortJob``: ``ack()`` or ``reject()``.
* ``FileEnd`` with ``ack_expected=True``: ``ack()`` once the file is safely kept, or ``reject()``.
* ``Malformed`` needs no state change but the protocol's answer is a NAK: ``reject()``.

``JobReceived`` comes once a control file and every data file its print lines name have been
received and acknowledged (it is returned by the ``feed(b"")`` after the last ``ack()``, or by
``eof()``).  ``ReceiveEnd`` comes last from ``eof()`` on a receive-job connection; with
``complete=False`` it lists what was left half-received.

Data files pass through as ``FileData`` chunks that are slices of the input (the input object
itself when a whole ``bytes`` chunk is data): no per-byte Python work on the data path.

Real senders this accepts (see shared/CLIENTS.md sections 1 and 3): control file before or
after the data files, count 0 ("read until EOF", RFC 1179 section 6.3), huge counts meaning
the same (CUPS ``mode=stream`` from stdin sends 999999999999, Windows with byte counting off
sends an impossibly large number), no trailing NUL before the client closes, several data
files per control file, several jobs per connection, CR LF line ends, stray zero octets and
blank lines between receive-job subcommands (a PLP-era sender ends a file with two zero octets).
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ACK",
    "CUPS_STREAM_COUNT",
    "FORMAT_MIME",
    "NAK",
    "AbortJob",
    "Command",
    "ControlFile",
    "ControlFileModel",
    "ControlFileStart",
    "DataFileStart",
    "Event",
    "FileData",
    "FileEnd",
    "FileKind",
    "JobReceived",
    "LpdProtocolError",
    "LpdServerConnection",
    "LpdState",
    "Malformed",
    "PendingReply",
    "PrintFile",
    "PrintWaiting",
    "QueueEntry",
    "QueueState",
    "ReceiveEnd",
    "ReceiveJob",
    "RemoveJobs",
    "Subcommand",
    "encode_command",
    "encode_receive_job",
    "format_queue_long",
    "format_queue_short",
    "matches",
    "parse_control_file",
]

# RFC 1179 section 5.2 / 6: "A positive acknowledgement is an octet of zero bits.  A negative
# acknowledgement is an octet of any other pattern."
ACK = b"\0"
NAK = b"\1"

# CUPS' lpd backend with mode=stream and no file (stdin) announces this count for the data file
# (captured in shared/CLIENTS.md section 1).  It is below the default huge-count threshold, so
# it is recognised on its own.
CUPS_STREAM_COUNT = 999_999_999_999

# Octets a sender may leave between receive-job subcommands: a second zero octet after a file
# (PLP-era senders), an empty line or a CR LF after one.  None of them starts a subcommand
# (RFC 1179 section 6 defines 01, 02 and 03), so skipping them cannot misread a real one.
_BETWEEN_SUBCOMMANDS = re.compile(rb"[\0\r\n]+")

# A count with more significant digits than this is certainly above any threshold; it is not
# converted with int() (which refuses very long digit strings).
_MAX_COUNT_DIGITS = 18


class LpdProtocolError(Exception):
    """The codec's own exception: the service drove the state machine wrongly."""


class Command(enum.IntEnum):
    """Daemon commands, the first octet of a connection (RFC 1179 section 5)."""

    PRINT_WAITING = 1  # 5.1 Print any waiting jobs
    RECEIVE_JOB = 2  # 5.2 Receive a printer job
    QUEUE_STATE_SHORT = 3  # 5.3 Send queue state (short)
    QUEUE_STATE_LONG = 4  # 5.4 Send queue state (long)
    REMOVE_JOBS = 5  # 5.5 Remove jobs


class Subcommand(enum.IntEnum):
    """Receive-job subcommands (RFC 1179 section 6)."""

    ABORT_JOB = 1  # 6.1 Abort job
    CONTROL_FILE = 2  # 6.2 Receive control file
    DATA_FILE = 3  # 6.3 Receive data file


class FileKind(enum.Enum):
    """Which of the two receive-job file kinds (RFC 1179 sections 6.2, 6.3)."""

    CONTROL = "control"
    DATA = "data"


class LpdState(enum.Enum):
    """Where the server-side state machine is."""

    COMMAND = "command"  # waiting for the daemon command line (section 5)
    RECEIVE_DECISION = "receive-decision"  # 02 seen, service must accept_receive()/reject()
    SUBCOMMAND = "subcommand"  # waiting for a receive-job subcommand line (section 6)
    CONTROL_FILE = "control-file"  # reading control file octets (section 6.2)
    DATA_FILE = "data-file"  # reading data file octets (section 6.3)
    FILE_TRAILER = "file-trailer"  # all counted octets read, expecting the zero octet
    DONE = "done"  # a one-shot command was read; section 5: one command per connection
    ERROR = "error"  # Malformed was emitted; the rest of the input is ignored
    CLOSED = "closed"  # eof() was called


class PendingReply(enum.Enum):
    """The answer the codec waits for before reading on."""

    RECEIVE_DECISION = "receive-decision"  # after ReceiveJob: accept_receive() or reject()
    SUBCOMMAND = "subcommand"  # after ControlFileStart/DataFileStart/AbortJob (section 6)
    FILE = "file"  # after FileEnd: the second-level acknowledgement (sections 6.2, 6.3)


# --------------------------------------------------------------------------------------------
# Control file model (RFC 1179 section 7)
# --------------------------------------------------------------------------------------------

# Format letters of the print lines (RFC 1179 section 7, lower case commands 7.17-7.28) and the
# MIME type a printer would treat the data as.  None: no MIME type names that data, let the
# service sniff it or refuse it.
FORMAT_MIME: dict[str, str | None] = {
    "c": None,  # 7.17 CIF (CalTech Intermediate Form) plot
    "d": "application/x-dvi",  # 7.18 DVI (TeX output)
    "f": "text/plain",  # 7.19 formatted text: control characters other than HT CR FF LF BS dropped
    "g": None,  # 7.20 Berkeley Unix plot library output
    "l": "application/octet-stream",  # 7.22 "leaving control characters": raw, auto-sense
    "n": None,  # 7.23 ditroff output
    "o": "application/postscript",  # 7.24 PostScript
    "p": "text/plain",  # 7.25 text to paginate with a 'pr' heading
    "r": None,  # 7.26 text with FORTRAN carriage control in column 1
    "t": None,  # 7.27 troff output for the Graphic Systems C/A/T phototypesetter
    "v": "image/x-sun-raster",  # 7.28 Sun raster
}

# 7.13-7.16: troff font files R, I, B, S.  They name files but print nothing: ignored.
_FONT_LETTERS = frozenset("1234")


@dataclass(frozen=True, slots=True)
class PrintFile:
    """One data file to print, from the lower case lines of a control file (section 7)."""

    format_letter: str
    data_file_name: str
    source_name: str | None  # 'N' (section 7.7)
    copies: int = 1  # repeated identical lines (how LPRng, rlpr and CUPS send copies)

    @property
    def mime_type(self) -> str | None:
        return FORMAT_MIME.get(self.format_letter)


@dataclass(frozen=True, slots=True)
class ControlFileModel:
    """A parsed control file (RFC 1179 section 7).  Repeated parameter lines: the last wins."""

    host: str | None = None  # H, 7.2
    user: str | None = None  # P, 7.8
    job_name: str | None = None  # J, 7.4
    job_class: str | None = None  # C, 7.1
    banner_user: str | None = None  # L, 7.5 (present, maybe empty: print a banner)
    title: str | None = None  # T, 7.10
    indent: int | None = None  # I, 7.3
    width: int | None = None  # W, 7.12
    mail: str | None = None  # M, 7.6
    unlink: tuple[str, ...] = ()  # U, 7.11
    files: tuple[PrintFile, ...] = ()  # lower case lines, 7.17-7.28
    other: tuple[tuple[str, str], ...] = ()  # lines kept as (letter, operand): S, LPRng A D Q...

    @property
    def banner(self) -> bool:
        return self.banner_user is not None

    @property
    def data_file_names(self) -> tuple[str, ...]:
        """The data files the print lines name, in order, each once."""
        return tuple(dict.fromkeys(f.data_file_name for f in self.files))


def _decode(raw: bytes) -> str:
    # Section 7 says ASCII; real senders put UTF-8 or a legacy 8-bit set in titles and names.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _digits(text: str) -> int | None:
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= _MAX_COUNT_DIGITS:
        return int(text)
    return None


def parse_control_file(data: bytes) -> ControlFileModel:
    """Parse a control file (RFC 1179 section 7).  Never raises on any input.

    Tolerated: unknown lines (kept in ``other``), CR LF, a missing final LF, blank lines,
    bytes that are not UTF-8 (decoded as Latin-1), titles and names with spaces.

    'N' (section 7.7) names the source of a data file.  LPRng writes it before the print lines
    it applies to; BSD lpr, rlpr and the CUPS lpd backend write it after them.  Whichever comes
    first in the file decides the convention for the whole file.
    """
    lines: list[tuple[str, str]] = []
    for raw in data.split(b"\n"):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            continue
        letter = chr(raw[0])  # latin-1 view of the command octet
        lines.append((letter, _decode(raw[1:])))

    first_n = next((i for i, (c, _) in enumerate(lines) if c == "N"), None)
    first_print = next((i for i, (c, _) in enumerate(lines) if c in FORMAT_MIME), None)
    n_before = first_n is not None and (first_print is None or first_n < first_print)

    fields: dict[str, str] = {}
    indent: int | None = None
    width: int | None = None
    unlink: list[str] = []
    other: list[tuple[str, str]] = []
    # print lines as (letter, file) with their source names; merged into copies afterwards
    prints: list[tuple[str, str]] = []
    sources: list[str | None] = []
    current_n: str | None = None  # LPRng: N applies to the following lines
    unnamed: list[int] = []  # BSD: print lines waiting for the N that follows them

    for letter, operand in lines:
        if letter in FORMAT_MIME:
            if not n_before:
                unnamed.append(len(prints))
            prints.append((letter, operand))
            sources.append(current_n if n_before else None)
        elif letter == "N":
            if n_before:
                current_n = operand
            else:
                for index in unnamed:
                    sources[index] = operand
                unnamed.clear()
        elif letter in "HPJCLTM":
            fields[letter] = operand
        elif letter == "I":
            indent = _digits(operand)
        elif letter == "W":
            width = _digits(operand)
        elif letter == "U":
            unlink.append(operand)
        elif letter in _FONT_LETTERS:
            continue
        else:
            other.append((letter, operand))

    merged: dict[tuple[str, str], PrintFile] = {}
    for key, source in zip(prints, sources, strict=True):
        seen = merged.get(key)
        if seen is None:
            merged[key] = PrintFile(key[0], key[1], source)
        else:
            merged[key] = PrintFile(key[0], key[1], seen.source_name or source, seen.copies + 1)

    return ControlFileModel(
        host=fields.get("H"),
        user=fields.get("P"),
        job_name=fields.get("J"),
        job_class=fields.get("C"),
        banner_user=fields.get("L"),
        title=fields.get("T"),
        indent=indent,
        width=width,
        mail=fields.get("M"),
        unlink=tuple(unlink),
        files=tuple(merged.values()),
        other=tuple(other),
    )


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of everything feed() and eof() return."""


@dataclass(frozen=True, slots=True)
class PrintWaiting(Event):
    """01 - Print any waiting jobs (section 5.1).  No answer is defined; close."""

    queue: str


@dataclass(frozen=True, slots=True)
class ReceiveJob(Event):
    """02 - Receive a printer job (section 5.2).  Answer: accept_receive() or reject()."""

    queue: str


@dataclass(frozen=True, slots=True)
class QueueState(Event):
    """03 / 04 - Send queue state short / long (sections 5.3, 5.4).

    Answer with format_queue_short() / format_queue_long() and close.
    """

    queue: str
    long: bool
    operands: tuple[str, ...]  # user names or job numbers


@dataclass(frozen=True, slots=True)
class RemoveJobs(Event):
    """05 - Remove jobs (section 5.5).  Only ``agent`` given: remove the active job."""

    queue: str
    agent: str
    operands: tuple[str, ...]  # user names or job numbers


@dataclass(frozen=True, slots=True)
class ControlFileStart(Event):
    """02 subcommand - Receive control file (section 6.2).  Answer: ack() or reject()."""

    count: int | None  # None: read until EOF
    name: str
    declared_count: int  # the count as sent


@dataclass(frozen=True, slots=True)
class DataFileStart(Event):
    """03 subcommand - Receive data file (section 6.3).  Answer: ack() or reject()."""

    count: int | None  # None: read until EOF (count 0, or a huge count)
    name: str
    declared_count: int  # the count as sent


@dataclass(frozen=True, slots=True)
class FileData(Event):
    """A chunk of the data file being received."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ControlFile(Event):
    """A control file received whole (section 6.2, section 7); FileEnd follows."""

    name: str
    model: ControlFileModel
    data: bytes


@dataclass(frozen=True, slots=True)
class FileEnd(Event):
    """A control or data file is complete.

    ``ack_expected``: the client sent the zero octet and waits for the second-level
    acknowledgement (sections 6.2, 6.3); answer ack() or reject().  False when the file was
    ended by EOF (read-to-EOF files, or a client that closes without the zero octet).
    """

    name: str
    kind: FileKind
    size: int
    ack_expected: bool


@dataclass(frozen=True, slots=True)
class JobReceived(Event):
    """A control file and every data file its print lines name have been received."""

    control_name: str
    control: ControlFileModel
    data_files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AbortJob(Event):
    """01 subcommand - Abort job (section 6.1): drop the files of the unfinished job.

    Answer: ack().
    """


@dataclass(frozen=True, slots=True)
class ReceiveEnd(Event):
    """The connection of a receive-job command ended (from eof()).

    ``complete`` is False when anything was left half-received: a file cut short, a control
    file whose data files never came, data files without a control file, input never read.
    The service must record such leftovers, not drop them silently.
    """

    complete: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Malformed(Event):
    """A protocol error.  The answer is a NAK (reject()); the codec ignores further input."""

    reason: str
    data: bytes


# --------------------------------------------------------------------------------------------
# Server connection
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _WaitingControl:
    """A control file received, waiting for the data files it prints."""

    name: str
    model: ControlFileModel
    needed: tuple[str, ...]
    missing: set[str]


@dataclass(slots=True)
class _OpenFile:
    kind: FileKind
    name: str
    remaining: int | None  # None: until EOF
    declared: int | None
    size: int = 0


class LpdServerConnection:
    """Server side of one LPD connection (RFC 1179), a sans-I/O state machine."""

    ACK = ACK
    NAK = NAK

    def __init__(
        self,
        max_line: int = 1024,
        max_control_file: int = 64 * 1024,
        unsized_count_threshold: int = 2**40,
    ) -> None:
        if max_line < 1 or max_control_file < 1 or unsized_count_threshold < 1:
            raise ValueError("limits must be positive")
        self.max_line = max_line
        self.max_control_file = max_control_file
        self.unsized_count_threshold = unsized_count_threshold
        self._state = LpdState.COMMAND
        self._pending: PendingReply | None = None
        self._buf = bytearray()
        self._file: _OpenFile | None = None
        self._control = bytearray()
        self._in_receive = False
        self._error: str | None = None
        # job tracking: controls waiting for data files, data files waiting for a control
        self._controls: list[_WaitingControl] = []
        # Data files received and not yet claimed by a control file (a multiset: names
        # may repeat across jobs). Sets and counters keep a job of many files linear.
        self._data_pool: Counter[str] = Counter()
        self._unacked: tuple[FileKind, str, ControlFileModel | None] | None = None
        self._check_jobs_due = False

    # -- introspection -------------------------------------------------------------------

    @property
    def state(self) -> LpdState:
        return self._state

    @property
    def pending_reply(self) -> PendingReply | None:
        """The answer the codec waits for, or None."""
        return self._pending

    @property
    def buffered(self) -> int:
        """Bytes received and not yet interpreted (a service may pause reading on this)."""
        return len(self._buf)

    # -- answers -------------------------------------------------------------------------

    def accept_receive(self) -> bytes:
        """Accept a ReceiveJob (section 5.2); returns the ACK octet to send."""
        if self._pending is not PendingReply.RECEIVE_DECISION:
            raise LpdProtocolError("accept_receive() without a pending ReceiveJob")
        return self.ack()

    def ack(self) -> bytes:
        """Positive acknowledgement of the pending event; returns the octet to send."""
        pending = self._pending
        if pending is None:
            raise LpdProtocolError(f"no acknowledgement is owed in state {self._state.value}")
        self._pending = None
        if pending is PendingReply.RECEIVE_DECISION:
            self._state = LpdState.SUBCOMMAND
            self._in_receive = True
        elif pending is PendingReply.FILE:
            self._commit_unacked()
        return ACK

    def reject(self) -> bytes:
        """Negative acknowledgement of the pending event, or the answer to Malformed."""
        if self._state is LpdState.ERROR:
            return NAK
        pending = self._pending
        if pending is None:
            raise LpdProtocolError(f"nothing to reject in state {self._state.value}")
        self._pending = None
        if pending is PendingReply.RECEIVE_DECISION:
            # Section 5.2: the client gives up on a negative acknowledgement.
            self._state = LpdState.DONE
            self._buf.clear()
        elif pending is PendingReply.SUBCOMMAND:
            # The refused file will not be sent; the client may send another subcommand.
            self._file = None
            self._control.clear()
            self._state = LpdState.SUBCOMMAND
        else:
            self._unacked = None  # the refused file does not count towards a job
        return NAK

    # -- input ---------------------------------------------------------------------------

    def feed(self, data: bytes | memoryview) -> list[Event]:
        """Interpret received bytes; ``feed(b"")`` resumes after an answer."""
        if self._state is LpdState.CLOSED:
            raise LpdProtocolError("feed() after eof()")
        events: list[Event] = []
        if self._check_jobs_due:
            self._check_jobs(events)
        if self._state in (LpdState.DONE, LpdState.ERROR):
            return events  # section 5: one command per connection; or after an error
        if data:
            if (
                self._state is LpdState.DATA_FILE
                and self._pending is None
                and not self._buf
                and self._file is not None
            ):
                data = self._data_fast_path(data, events)
            if data:
                self._buf += data
        self._run(events)
        return events

    def eof(self) -> list[Event]:
        """The client closed its side.  Nothing returned here needs an answer."""
        if self._state is LpdState.CLOSED:
            raise LpdProtocolError("eof() called twice")
        events: list[Event] = []
        if self._pending is PendingReply.FILE:
            # The file was complete; an unanswered acknowledgement does not lose it.
            self._pending = None
            self._commit_unacked()
        if self._check_jobs_due:
            self._check_jobs(events)
        if self._pending is None:
            self._run(events)
        state = self._state
        receiving = self._in_receive or state is LpdState.RECEIVE_DECISION
        problems: list[str] = []
        if state is LpdState.COMMAND and self._buf:
            events.append(Malformed("command line not ended by LF before EOF", bytes(self._buf)))
        elif state is LpdState.ERROR:
            problems.append(f"protocol error: {self._error}")
        elif self._pending is not None:
            # Still waiting for the service's answer: what follows was never interpreted.
            if self._file is not None:
                kind, name = self._file.kind.value, self._file.name
                problems.append(f"EOF before {kind} file {name} was received")
            if self._buf:
                problems.append(f"{len(self._buf)} bytes after an unanswered event not read")
        elif state is LpdState.SUBCOMMAND and self._buf:
            problems.append(f"EOF inside a subcommand line ({len(self._buf)} bytes)")
        elif state in (LpdState.CONTROL_FILE, LpdState.DATA_FILE, LpdState.FILE_TRAILER):
            problem = self._end_file_at_eof(events)
            if problem:
                problems.append(problem)
        if receiving:
            for waiting in self._controls:
                missing = [n for n in waiting.needed if n in waiting.missing]
                problems.append(
                    f"control file {waiting.name} without data file(s) {', '.join(missing)}"
                )
            if self._data_pool:
                problems.append(
                    "data file(s) without control file: " + ", ".join(self._data_pool.elements())
                )
            if problems:
                events.append(ReceiveEnd(False, "; ".join(problems)))
            else:
                events.append(ReceiveEnd(True, "connection closed"))
        self._state = LpdState.CLOSED
        self._pending = None
        self._buf.clear()
        return events

    # -- internals -----------------------------------------------------------------------

    def _end_file_at_eof(self, events: list[Event]) -> str | None:
        f = self._file
        assert f is not None
        if f.remaining:
            return f"EOF in {f.kind.value} file {f.name} after {f.size} of {f.declared} bytes"
        # A read-to-EOF file, or all counted bytes read and the zero octet never sent
        # (CUPS mode=stream closes without it): the file is complete.
        self._complete_file(events, ack_expected=False)
        self._commit_unacked()
        self._check_jobs(events)
        return None

    def _malformed(self, events: list[Event], reason: str, data: bytes) -> None:
        events.append(Malformed(reason, data[: self.max_line]))
        self._error = reason
        self._state = LpdState.ERROR
        self._buf.clear()
        self._file = None
        self._control.clear()

    def _data_fast_path(self, data: bytes | memoryview, events: list[Event]) -> bytes | memoryview:
        # Whole-chunk slices, no per-byte work: most of a print job goes through here.
        f = self._file
        assert f is not None
        n = len(data)
        if f.remaining is None:
            events.append(FileData(bytes(data)))
            f.size += n
            return b""
        take = n if n <= f.remaining else f.remaining
        events.append(FileData(bytes(data if take == n else data[:take])))
        f.size += take
        f.remaining -= take
        if f.remaining == 0:
            self._state = LpdState.FILE_TRAILER
        return data[take:]

    def _run(self, events: list[Event]) -> None:
        while self._pending is None:
            state = self._state
            if state is LpdState.COMMAND:
                progressed = self._step_command(events)
            elif state is LpdState.SUBCOMMAND:
                progressed = self._step_subcommand(events)
            elif state is LpdState.DATA_FILE:
                progressed = self._step_data(events)
            elif state is LpdState.CONTROL_FILE:
                progressed = self._step_control(events)
            elif state is LpdState.FILE_TRAILER:
                progressed = self._step_trailer(events)
            else:
                if state in (LpdState.DONE, LpdState.ERROR):
                    self._buf.clear()
                return
            if not progressed:
                return

    def _take_line(self, events: list[Event]) -> bytes | None:
        """One LF-ended line without its LF (and a CR before it), or None for more input."""
        buf = self._buf
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > self.max_line + 1:
                self._malformed(events, "line too long", bytes(buf))
            return None
        line = bytes(buf[:end])
        del buf[: end + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_line:
            self._malformed(events, "line too long", line)
            return None
        return line

    def _step_command(self, events: list[Event]) -> bool:
        line = self._take_line(events)
        if line is None:
            return False
        if not line:
            self._malformed(events, "empty command line", line)
            return False
        code = line[0]
        # Section 3.1: operands are separated by white space (SP, HT, VT, FF).
        words = [_decode(w) for w in line[1:].split()]
        queue = words[0] if words else ""
        operands = tuple(words[1:])
        if code == Command.RECEIVE_JOB:
            events.append(ReceiveJob(queue))
            self._state = LpdState.RECEIVE_DECISION
            self._pending = PendingReply.RECEIVE_DECISION
            return True
        if code == Command.PRINT_WAITING:
            events.append(PrintWaiting(queue))
        elif code in (Command.QUEUE_STATE_SHORT, Command.QUEUE_STATE_LONG):
            events.append(QueueState(queue, code == Command.QUEUE_STATE_LONG, operands))
        elif code == Command.REMOVE_JOBS:
            if not operands:
                self._malformed(events, "remove jobs without an agent", line)
                return False
            events.append(RemoveJobs(queue, operands[0], operands[1:]))
        else:
            self._malformed(events, f"unknown command {code:#04x}", line)
            return False
        self._state = LpdState.DONE
        self._buf.clear()
        return False

    def _step_subcommand(self, events: list[Event]) -> bool:
        # BSD lpd's recvjob refuses such filler ("protocol screwup") and LPRng's ends the
        # transfer there; either way the sender's job is lost for an octet that means nothing.
        filler = _BETWEEN_SUBCOMMANDS.match(self._buf)
        if filler is not None:
            del self._buf[: filler.end()]
        line = self._take_line(events)
        if line is None:
            return False
        code = line[0]  # not empty: the filler before it is gone
        if code == Subcommand.ABORT_JOB:
            # Section 6.1: remove the files created by this receive job (unfinished ones).
            self._controls.clear()
            self._data_pool.clear()
            events.append(AbortJob())
            self._pending = PendingReply.SUBCOMMAND
            return True
        if code not in (Subcommand.CONTROL_FILE, Subcommand.DATA_FILE):
            self._malformed(events, f"unknown receive-job subcommand {code:#04x}", line)
            return False
        parts = line[1:].split(None, 1)
        count_text = parts[0] if parts else b""
        if not count_text.isdigit():
            self._malformed(events, "bad count", line)
            return False
        name = _decode(parts[1].strip()) if len(parts) > 1 else ""
        significant = count_text.lstrip(b"0")
        declared = int(significant or b"0") if len(significant) <= _MAX_COUNT_DIGITS else -1
        huge = declared < 0 or declared > self.unsized_count_threshold
        if declared < 0:
            declared = 10**_MAX_COUNT_DIGITS  # stands for "more digits than we read"
        # Section 6.3: count 0 means the length is not known; CUPS' and Windows' huge counts
        # mean the same in practice.  The data then runs until the client closes.
        sized = not (declared == 0 or huge or declared == CUPS_STREAM_COUNT)
        remaining = declared if sized else None
        if code == Subcommand.CONTROL_FILE:
            if sized and declared > self.max_control_file:
                self._malformed(events, "control file too large", line)
                return False
            events.append(ControlFileStart(remaining, name, declared))
            self._control.clear()
            self._file = _OpenFile(FileKind.CONTROL, name, remaining, declared)
            self._state = LpdState.CONTROL_FILE
        else:
            events.append(DataFileStart(remaining, name, declared))
            self._file = _OpenFile(FileKind.DATA, name, remaining, declared)
            self._state = LpdState.DATA_FILE
        self._pending = PendingReply.SUBCOMMAND
        return True

    def _step_data(self, events: list[Event]) -> bool:
        f = self._file
        buf = self._buf
        if f is None or not buf:
            return False
        if f.remaining is None or f.remaining >= len(buf):
            chunk = bytes(buf)
            buf.clear()
        else:
            with memoryview(buf) as view, view[: f.remaining] as part:
                chunk = bytes(part)  # one copy, no intermediate bytearray
            del buf[: f.remaining]
        events.append(FileData(chunk))
        f.size += len(chunk)
        if f.remaining is not None:
            f.remaining -= len(chunk)
            if f.remaining == 0:
                self._state = LpdState.FILE_TRAILER
        return True

    def _step_control(self, events: list[Event]) -> bool:
        f = self._file
        buf = self._buf
        if f is None or not buf:
            return False
        take = len(buf) if f.remaining is None else min(f.remaining, len(buf))
        self._control += buf[:take]
        del buf[:take]
        f.size += take
        if f.remaining is None:
            if f.size > self.max_control_file:
                self._malformed(events, "control file too large", b"")
                return False
        else:
            f.remaining -= take
            if f.remaining == 0:
                self._state = LpdState.FILE_TRAILER
        return True

    def _step_trailer(self, events: list[Event]) -> bool:
        buf = self._buf
        if not buf:
            return False
        octet = buf[0]
        del buf[0]
        f = self._file
        assert f is not None
        if octet != 0:
            # Sections 6.2, 6.3: the file is followed by an octet of zero bits; anything
            # else is how the sender says the file is bad.
            self._malformed(
                events, f"{f.kind.value} file {f.name} not followed by a zero octet", bytes([octet])
            )
            return False
        self._complete_file(events, ack_expected=True)
        self._pending = PendingReply.FILE
        return True

    def _complete_file(self, events: list[Event], *, ack_expected: bool) -> None:
        f = self._file
        assert f is not None
        model: ControlFileModel | None = None
        if f.kind is FileKind.CONTROL:
            raw = bytes(self._control)
            self._control.clear()
            model = parse_control_file(raw)
            events.append(ControlFile(f.name, model, raw))
        events.append(FileEnd(f.name, f.kind, f.size, ack_expected))
        self._unacked = (f.kind, f.name, model)
        self._file = None
        self._state = LpdState.SUBCOMMAND

    def _commit_unacked(self) -> None:
        if self._unacked is None:
            return
        kind, name, model = self._unacked
        self._unacked = None
        if kind is FileKind.CONTROL and model is not None:
            needed = model.data_file_names
            missing = {n for n in needed if self._data_pool[n] <= 0}
            self._controls.append(_WaitingControl(name, model, needed, missing))
        else:
            self._data_pool[name] += 1
            for waiting in self._controls:
                waiting.missing.discard(name)
        self._check_jobs_due = True

    def _check_jobs(self, events: list[Event]) -> None:
        self._check_jobs_due = False
        complete = [w for w in self._controls if not w.missing]
        for waiting in complete:
            for n in waiting.needed:
                self._data_pool[n] -= 1
            self._controls.remove(waiting)
            events.append(JobReceived(waiting.name, waiting.model, waiting.needed))
        if complete:
            self._data_pool = +self._data_pool  # drop the names whose count reached zero


# --------------------------------------------------------------------------------------------
# Queue state replies (RFC 1179 sections 5.3, 5.4), in the BSD lpq layout
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One job as lpq shows it."""

    rank_active: bool
    owner: str
    job_id: int
    files: tuple[str, ...]
    size: int  # total bytes
    host: str = ""
    file_sizes: tuple[int, ...] = ()  # per file, for the long format; empty: total only


_HEADER = "Rank   Owner      Job  Files"  # BSD displayq.c head0
_SIZE_COLUMN = 61  # where "Total Size" and the sizes start (BSD SIZCOL, 1-based 62)
_FILES_COLUMN = 23
_JOB_COLUMN = 40  # long format: "[job ...]" after this column (BSD JOBCOL)


def matches(entry: QueueEntry, operands: Sequence[str]) -> bool:
    """Sections 5.3-5.5: operands are user names or job numbers; none means every job."""
    if not operands:
        return True
    for op in operands:
        if op.isascii() and op.isdigit():
            if len(op) <= _MAX_COUNT_DIGITS and int(op) == entry.job_id:
                return True
        elif op == entry.owner:
            return True
    return False


def _clean(text: str) -> str:
    # Names come from the network and go to someone's terminal: no control characters.
    return "".join(c if c.isprintable() else "?" for c in text)


_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st (BSD displayq.c prank)."""
    suffix = "th" if (n // 10) % 10 == 1 else _SUFFIX.get(n % 10, "th")
    return f"{n}{suffix}"


def _ranked(jobs: Sequence[QueueEntry], operands: Sequence[str]) -> list[tuple[str, QueueEntry]]:
    # Ranks count every job in the queue; the operands only choose which are shown.
    out: list[tuple[str, QueueEntry]] = []
    n = 0
    for job in jobs:
        if job.rank_active:
            rank = "active"
        else:
            n += 1
            rank = _ordinal(n)
        if matches(job, operands):
            out.append((rank, job))
    return out


def _start(status: str | None) -> list[str]:
    return [_clean(status)] if status else []


def format_queue_short(
    jobs: Sequence[QueueEntry], operands: Sequence[str] = (), *, status: str | None = None
) -> bytes:
    """The reply to 03 (section 5.3): ``status`` line, header, one line per job."""
    lines = _start(status)
    shown = _ranked(jobs, operands)
    if not shown:
        lines.append("no entries")
    else:
        lines.append(_HEADER.ljust(_SIZE_COLUMN) + "Total Size")
        width = _SIZE_COLUMN - _FILES_COLUMN - 1
        for rank, job in shown:
            files = _clean(", ".join(job.files))
            if len(files) > width:
                files = files[: width - 3] + "..."
            left = f"{rank:<7}{_clean(job.owner):<10} {job.job_id:<3}  {files}"
            lines.append(f"{left.ljust(_SIZE_COLUMN - 1)} {job.size} bytes")
    return ("\n".join(lines) + "\n").encode("utf-8")


def format_queue_long(
    jobs: Sequence[QueueEntry], operands: Sequence[str] = (), *, status: str | None = None
) -> bytes:
    """The reply to 04 (section 5.4): a block per job, one line per file."""
    lines = _start(status)
    shown = _ranked(jobs, operands)
    if not shown:
        lines.append("no entries")
    for rank, job in shown:
        head = f"{_clean(job.owner)}: {rank}".ljust(_JOB_COLUMN)
        lines.append("")
        lines.append(f"{head} [job {job.job_id:03d}{_clean(job.host)}]")
        if job.file_sizes and len(job.file_sizes) == len(job.files):
            for name, size in zip(job.files, job.file_sizes, strict=True):
                lines.append(f"\t{_clean(name):<32} {size} bytes")
        else:
            lines.append(f"\t{_clean(', '.join(job.files)):<32} {job.size} bytes")
    return ("\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------
# Client side, for tests and benchmarks
# --------------------------------------------------------------------------------------------


def encode_command(command: Command, queue: str, *operands: str) -> bytes:
    """A daemon command line (section 5)."""
    return bytes([command]) + " ".join((queue, *operands)).encode("utf-8") + b"\n"


def encode_receive_job(
    queue: str,
    control: bytes,
    data_files: Sequence[tuple[str, bytes]],
    control_first: bool = True,
    control_name: str = "cfA001mfpd",
) -> list[bytes]:
    """The messages of a receive-job exchange (sections 5.2, 6.2, 6.3).

    Each element is what a client sends before it waits for one acknowledgement octet.
    An empty file would go out with count 0, which section 6.3 reads as "until EOF".
    """
    control_msgs = [
        b"\2%d %s\n" % (len(control), control_name.encode("utf-8")),
        control + b"\0",
    ]
    data_msgs: list[bytes] = []
    for name, data in data_files:
        data_msgs.append(b"\3%d %s\n" % (len(data), name.encode("utf-8")))
        data_msgs.append(data + b"\0")
    first, second = (control_msgs, data_msgs) if control_first else (data_msgs, control_msgs)
    return [encode_command(Command.RECEIVE_JOB, queue), *first, *second]
