"""HP Printer Job Language (PJL) on the raw 9100 (AppSocket/JetDirect) byte stream.

Sans-I/O, in the h11 style: `RawStream.feed()` takes the bytes of one connection and returns
typed events; the `format_*` helpers turn values into the printer's replies. Nothing here does
I/O, logs, or knows the device.

References ("PJLTRM" below) are to the HP PJL Technical Reference Manual (5th ed., 2003):
chapter 2 (format of PJL commands), 4 (kernel commands: UEL, ENTER, COMMENT), 5 (job
separation: JOB/EOJ), 6 (environment: SET, DEFAULT, INITIALIZE, RESET), 7 (status readback:
INQUIRE, DINQUIRE, ECHO, INFO, USTATUS), 8 (device attendance: RDYMSG, OPMSG, STMSG),
9 (file system: FS*), 10 (job management: JOBNAME, USERNAME) and appendix D (status codes).

Stream model (PJLTRM 4 "Universal Exit Language", 11 "Programming tips"):

* A connection starts in PJL mode, like the state after a UEL. In PJL mode a line starting
  with ``@PJL`` is a command; CR/LF/SP/HT between commands are ignored; any other byte starts
  print data with the language auto-sensed (``language=None``). So PostScript, PCL or PDF sent
  without any PJL is one print job, while a client that opens with ``@PJL INFO STATUS`` and no
  UEL (nmap's pjl-ready-message, PRET's first command) is still answered, as JetDirect does.
* ``@PJL ENTER LANGUAGE=x`` switches to print data of language x. In data mode every byte up
  to the next UEL is print data.
* ``@PJL JOB`` .. ``@PJL EOJ`` (counted, they nest) make one print job even if it spans
  several UEL-delimited language segments; without them each data segment is its own job.
  A job is announced (`JobStart`) only when its first non-blank data byte arrives, so a
  connection that only carries PJL commands produces no job at all.
* ``FSDOWNLOAD``/``FSAPPEND`` with ``SIZE=n``: the n bytes after the command line are file
  data (`FileData` ... `FileDataEnd`), whatever they contain (PJLTRM 9 "FSDOWNLOAD").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum

__all__ = [
    "UEL",
    "Command",
    "CommandKind",
    "DirEntry",
    "Event",
    "FileData",
    "FileDataEnd",
    "FileError",
    "FilesysVolume",
    "JobData",
    "JobEnd",
    "JobSegment",
    "JobStart",
    "Malformed",
    "MediaCode",
    "PjlCommand",
    "PjlError",
    "PjlModifier",
    "PjlOption",
    "RawStream",
    "StatusCode",
    "background_paper_mount",
    "foreground_paper_mount",
    "format_echo",
    "format_fileerror",
    "format_fsdirlist",
    "format_fsquery",
    "format_fsupload",
    "format_fsupload_header",
    "format_info",
    "format_info_filesys",
    "format_info_id",
    "format_info_status",
    "format_info_unknown",
    "format_inquire",
    "format_ustatus",
    "format_ustatus_job_end",
    "format_ustatus_job_start",
    "format_ustatus_page",
    "parse_command",
]

# PJLTRM 4 "UEL Command": <ESC>%-12345X exits the current language and returns to PJL.
UEL = b"\x1b%-12345X"
_UEL_LEN = len(UEL)
_HOLD = _UEL_LEN - 1  # most bytes that can be the start of a UEL split across two feeds
_ESC = 0x1B
_PREFIX = b"@PJL"
_FF = b"\x0c"  # PJLTRM 7: every status readback response ends with <FF>
_CRLF = b"\r\n"
_MAX_INT = 2**31 - 1  # PJLTRM 9: SIZE/OFFSET range 0 .. 2^31-1

# Blank bytes between PJL lines and before print data (PJLTRM 2: <WS> is SP or HT; line ends).
_NON_BLANK = re.compile(rb"[^ \t\r\n]")


# ---------------------------------------------------------------------------------------------
# Status codes (PJLTRM appendix D)


class StatusCode(IntEnum):
    """PJL status codes, sent as ``CODE=nnnnn`` (PJLTRM appendix D "PJL Status Codes").

    The first two digits give the group: 10 informational, 11 background paper mount, 12
    background tray status, 15 output bin, 20 parser errors, 25 parser warnings, 27 semantic
    errors, 30 auto-continuable, 32 file system, 35 possible intervention, 40 intervention
    required, 41 foreground paper mount, 42/44 jams, 50 hardware. Codes 11xyy and 41xyy are
    built with `background_paper_mount` / `foreground_paper_mount`.
    """

    # Informational messages (10xxx), PJLTRM D "Informational Messages"
    READY = 10001  # ready, online
    READY_OFFLINE = 10002  # ready, offline (also "not ready" / in the menus)
    WARMING_UP = 10003
    SELF_TEST = 10004
    RESET = 10005  # reset, clearing memory
    TONER_LOW = 10006  # toner low, printer still online
    CANCELING_JOB = 10007
    STATUS_BUFFER_OVERFLOW = 10010
    INITIALIZING = 10011
    PRINTING_TEST = 10014
    CONFIG_PAGE = 10022
    PROCESSING_JOB = 10023  # printing / processing a job
    DATA_RECEIVED = 10024
    ACCESS_DENIED = 10025
    NO_JOB_TO_CANCEL = 10026
    CLEARING_PAPER_PATH = 10027
    FORMFEEDING = 10029
    # PJL parser errors (20xxx): the whole line is ignored, PJLTRM D "PJL Parser Errors"
    SYNTAX_ERROR = 20001
    UNSUPPORTED_COMMAND = 20002
    UNSUPPORTED_PERSONALITY = 20004
    COMMAND_BUFFER_OVERFLOW = 20005
    ILLEGAL_CHARACTER = 20006  # or line terminated by the UEL
    MISSING_WS_AFTER_QUOTE = 20007
    INVALID_ALPHANUMERIC = 20008
    INVALID_CHARACTER_AT_START = 20010
    MISSING_CLOSING_QUOTE = 20011
    MODIFIER_VALUE_MISSING = 20014
    OPTION_VALUE_MISSING = 20015
    MORE_THAN_ONE_MODIFIER = 20016
    MODIFIER_AFTER_OPTION = 20017
    COMMAND_NOT_ALPHANUMERIC = 20018
    STRING_WHERE_ALPHANUMERIC = 20020
    # PJL parser warnings (25xxx)
    PREFIX_MISSING = 25002
    # PJL semantic errors (27xxx), PJLTRM D "PJL Semantic Errors"
    SEMANTIC_ERROR = 27001
    EOJ_WITHOUT_JOB = 27002
    PASSWORD_PROTECTED = 27003
    READ_ONLY_VARIABLE = 27004
    # Auto-continuable conditions (30xxx)
    MEMORY_OVERFLOW = 30016
    PRINT_OVERRUN = 30017
    # Possible operator intervention (35xxx)
    POWERSAVE = 35078
    # Operator intervention required (40xxx), PJLTRM D "Operator Intervention Conditions"
    SLEEP_MODE = 40000
    INSTALL_TONER_CARTRIDGE = 40010  # "14 NO EP CART"
    OUTPUT_BIN_FULL = 40019  # "REMOVE PAPER FROM <bin>"
    DOOR_OPEN = 40021  # "12 PRINTER OPEN", "CLOSE PRINTER COVER"
    PAPER_JAM = 40022  # "13 PAPER JAM", "REMOVE PAPER JAM"
    TONER_LOW_STOPPED = 40038  # "16 LOW TONER", "REPLACE TONER" (printer stops)
    TONER_EMPTY = 40039  # "cartridge empty" (Lexmark PJL reference, table 3-14)
    OPMSG = 40048  # offline with the message of a PJL OPMSG (PJLTRM 8)
    STMSG = 40049  # offline with the message of a PJL STMSG (PJLTRM 8)
    FUSER_ERROR = 40050  # "50 SERVICE"
    OFFLINE = 40079  # printer manually taken offline
    # Hardware errors (50xxx)
    HARDWARE_ERROR = 50000


class MediaCode(IntEnum):
    """The ``yy`` media size of 11xyy/41xyy codes (PJLTRM D "Foreground Paper Mount")."""

    UNKNOWN_PAPER = 0
    UNKNOWN_ENVELOPE = 1
    LETTER = 2
    LEGAL = 3
    A4 = 4
    EXECUTIVE = 5
    LEDGER = 6
    A3 = 7
    COM10 = 8
    MONARCH = 9
    C5 = 10
    DL = 11
    JIS_B4 = 12
    JIS_B5 = 13
    B5_ENVELOPE = 14
    CUSTOM = 15
    J_POSTCARD = 16
    J_ROUNDTRIP_POSTCARD = 17
    A5 = 18
    LETTER_R = 19
    A4_R = 20
    A5_R = 21
    JIS_B5_R = 22
    EXECUTIVE_R = 23
    A6 = 24
    FOOLSCAP = 25
    JIS_B6 = 26


def foreground_paper_mount(tray: int, media: int) -> int:
    """41xyy: tray x is empty and must be loaded with media yy; the printer is offline.

    PJLTRM D "Foreground Paper Mount (41xyy)": x is the input tray (0-9), yy a `MediaCode`.
    """
    if not 0 <= tray <= 9 or not 0 <= media <= 99:
        raise ValueError("tray must be 0-9 and media 0-99")
    return 41000 + tray * 100 + media


def background_paper_mount(tray: int, media: int) -> int:
    """11xyy: tray x is empty but another tray has the media; the printer stays online.

    PJLTRM D "Background Paper Mount (11xyy)".
    """
    if not 0 <= tray <= 9 or not 0 <= media <= 99:
        raise ValueError("tray must be 0-9 and media 0-99")
    return 11000 + tray * 100 + media


class FileError(IntEnum):
    """``FILEERROR=n`` numbers: the 32xxx file system codes less 32000 (PJLTRM 9, D "PJL File
    System Errors (32xxx)": "without the 32 and the leading zeros")."""

    GENERAL_ERROR = 0
    VOLUME_NOT_AVAILABLE = 1
    DISK_FULL = 2
    FILE_NOT_FOUND = 3
    NO_FREE_FILE_DESCRIPTORS = 4
    INVALID_NUMBER_OF_BYTES = 5
    FILE_ALREADY_EXISTS = 6
    ILLEGAL_NAME = 7
    CANT_DELETE_ROOT = 8
    FILE_OP_ON_DIRECTORY = 9
    DIRECTORY_OP_ON_FILE = 10
    NOT_SAME_VOLUME = 11
    READ_ONLY = 12
    DIRECTORY_FULL = 13
    DIRECTORY_NOT_EMPTY = 14
    BAD_DISK = 15
    NO_LABEL = 16
    INVALID_PARAMETER = 17
    NO_CONTIGUOUS_SPACE = 18
    CANT_CHANGE_ROOT = 19
    FILE_DESCRIPTOR_OBSOLETE = 20
    DELETED = 21
    NO_BLOCK_DEVICE = 22
    BAD_SEEK = 23
    INTERNAL_ERROR = 24
    WRITE_ONLY = 25
    WRITE_PROTECTED = 26
    NO_FILENAME = 27
    END_OF_DIRECTORY = 51
    NO_FILE_SYSTEM = 52
    NO_MEMORY = 53
    VOLUME_NAME_OUT_OF_RANGE = 54
    BAD_FILE_SYSTEM = 55
    HARDWARE_FAILURE = 56

    @property
    def status_code(self) -> int:
        """The full 32xxx status code of this file error."""
        return 32000 + int(self)


# ---------------------------------------------------------------------------------------------
# Commands (PJLTRM 2 "Format of PJL Commands")


class PjlError(Exception):
    """A malformed PJL line. ``code`` is the PJL parser status code (20xxx/25xxx)."""

    def __init__(self, message: str, code: int = StatusCode.SYNTAX_ERROR) -> None:
        super().__init__(message)
        self.code = int(code)


class CommandKind(StrEnum):
    """The PJL commands this codec knows; anything else parses as `UNKNOWN`."""

    NOOP = "NOOP"  # a bare "@PJL" line (PJLTRM 4 "PJL Command")
    # kernel commands (PJLTRM 4)
    ENTER = "ENTER"
    COMMENT = "COMMENT"
    # job separation (PJLTRM 5)
    JOB = "JOB"
    EOJ = "EOJ"
    # environment (PJLTRM 6)
    SET = "SET"
    DEFAULT = "DEFAULT"
    INITIALIZE = "INITIALIZE"
    RESET = "RESET"
    # status readback (PJLTRM 7)
    INQUIRE = "INQUIRE"
    DINQUIRE = "DINQUIRE"
    ECHO = "ECHO"
    INFO = "INFO"
    USTATUS = "USTATUS"
    USTATUSOFF = "USTATUSOFF"
    # device attendance (PJLTRM 8)
    RDYMSG = "RDYMSG"
    OPMSG = "OPMSG"
    STMSG = "STMSG"
    # file system (PJLTRM 9)
    FSAPPEND = "FSAPPEND"
    FSDELETE = "FSDELETE"
    FSDIRLIST = "FSDIRLIST"
    FSDOWNLOAD = "FSDOWNLOAD"
    FSINIT = "FSINIT"
    FSMKDIR = "FSMKDIR"
    FSQUERY = "FSQUERY"
    FSUPLOAD = "FSUPLOAD"
    UNKNOWN = "UNKNOWN"


_KINDS: dict[str, CommandKind] = {
    k.value: k for k in CommandKind if k not in (CommandKind.NOOP, CommandKind.UNKNOWN)
}
# Commands whose rest of line is free text, not options (PJLTRM 4 "COMMENT", 7 "ECHO").
_TEXT_COMMANDS = frozenset({CommandKind.ECHO, CommandKind.COMMENT})


@dataclass(frozen=True, slots=True)
class PjlModifier:
    """A command modifier such as ``LPARM : PCL``, ``IPARM : PARALLEL`` or ``FORMAT:BINARY``."""

    name: str  # upper-case
    value: str  # upper-case


@dataclass(frozen=True, slots=True)
class PjlOption:
    """One option: ``KEY = value``, ``KEY = "string"`` or a bare word such as INFO's ``ID``.

    Keys are upper-case. Unquoted values are upper-case too (PJL is case-insensitive except
    inside quotes, PJLTRM 2); quoted strings are kept as sent, without the quotes.
    """

    key: str
    value: str | None = None
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class PjlCommand:
    """One parsed PJL line. ``name`` is the command word as sent, upper-cased."""

    kind: CommandKind
    name: str
    modifier: PjlModifier | None = None
    options: tuple[PjlOption, ...] = ()
    text: str = ""  # rest of the line after the command word (ECHO's words, COMMENT's text)
    raw: bytes = b""

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value of the first option ``key`` (case-insensitive), else ``default``."""
        key = _upper(key)
        for opt in self.options:
            if opt.key == key:
                return opt.value if opt.value is not None else default
        return default

    def has(self, key: str) -> bool:
        key = _upper(key)
        return any(opt.key == key for opt in self.options)

    def get_int(self, key: str) -> int | None:
        """The option as a non-negative integer of at most 2^31-1, or None."""
        value = self.get(key)
        if value is None or not value.isascii() or not value.isdigit() or len(value) > 10:
            return None
        number = int(value)
        return number if number <= _MAX_INT else None

    @property
    def words(self) -> tuple[str, ...]:
        """The bare words, e.g. ``("ID",)`` for ``@PJL INFO ID``."""
        return tuple(opt.key for opt in self.options if opt.value is None)


_WS = " \t"
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # PJLTRM 2: only HT among controls
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_STOP = frozenset(' \t=:"')


def _upper(text: str) -> str:
    """Upper-case ASCII letters only: PJL's case-insensitivity (PJLTRM 2) is ASCII's."""
    return text.translate(_ASCII_UPPER)


def parse_command(line: bytes | bytearray | memoryview) -> PjlCommand:
    """Parse one PJL line given without its line end (PJLTRM 2 "PJL Command Syntax").

    ``@PJL [command [modifier : value] [option [= value]] ...]``: the prefix and the command
    word are case-insensitive. Raises `PjlError`, and nothing else, on a malformed line.
    """
    raw = bytes(line)
    body = raw.rstrip(b"\r")  # [<CR>]<LF>: a caller may leave the CR on
    if b"\n" in body:
        raise PjlError("line feed inside a PJL line", StatusCode.ILLEGAL_CHARACTER)
    text = body.decode("latin-1")
    n = len(text)
    i = 0
    while i < n and text[i] in _WS:
        i += 1
    if _upper(text[i : i + 4]) != "@PJL":
        raise PjlError("PJL prefix missing", StatusCode.PREFIX_MISSING)
    i += 4
    if i < n and text[i] not in _WS:
        raise PjlError("no white space after @PJL", StatusCode.SYNTAX_ERROR)
    while i < n and text[i] in _WS:
        i += 1
    if i == n:
        return PjlCommand(kind=CommandKind.NOOP, name="", raw=raw)
    start = i
    while i < n and text[i] not in _WS:
        i += 1
    word = text[start:i]
    if not (word[0].isascii() and word[0].isalpha() and word.isascii() and word.isalnum()):
        raise PjlError(
            f"command {word[:32]!r} is not alphanumeric", StatusCode.COMMAND_NOT_ALPHANUMERIC
        )
    name = _upper(word)
    kind = _KINDS.get(name, CommandKind.UNKNOWN)
    while i < n and text[i] in _WS:
        i += 1
    rest = text[i:]
    if kind in _TEXT_COMMANDS:
        return PjlCommand(kind=kind, name=name, text=rest.rstrip(_WS), raw=raw)
    try:
        modifier, options = _parse_options(rest)
    except PjlError:
        if kind is not CommandKind.UNKNOWN:
            raise
        # Vendor commands keep their own syntax: deliver them unparsed rather than reject.
        modifier, options = None, ()
    return PjlCommand(
        kind=kind, name=name, modifier=modifier, options=options, text=rest.rstrip(_WS), raw=raw
    )


def _parse_options(s: str) -> tuple[PjlModifier | None, tuple[PjlOption, ...]]:
    if _CONTROL.search(s):
        raise PjlError("illegal control character", StatusCode.ILLEGAL_CHARACTER)
    n = len(s)
    i = 0
    modifier: PjlModifier | None = None
    options: list[PjlOption] = []
    while True:
        while i < n and s[i] in _WS:
            i += 1
        if i == n:
            break
        if s[i] == '"':
            raise PjlError(
                "string where an option name was expected", StatusCode.STRING_WHERE_ALPHANUMERIC
            )
        if s[i] in "=:":
            raise PjlError(f"unexpected {s[i]!r}", StatusCode.INVALID_CHARACTER_AT_START)
        start = i
        while i < n and s[i] not in _NAME_STOP:
            i += 1
        key = _upper(s[start:i])
        j = i
        while j < n and s[j] in _WS:
            j += 1
        if j < n and s[j] == ":":
            # command modifier, "LPARM : PCL" (PJLTRM 2 "Command Modifiers")
            if options:
                raise PjlError("command modifier after an option", StatusCode.MODIFIER_AFTER_OPTION)
            if modifier is not None:
                raise PjlError("more than one command modifier", StatusCode.MORE_THAN_ONE_MODIFIER)
            j += 1
            while j < n and s[j] in _WS:
                j += 1
            vstart = j
            while j < n and s[j] not in _NAME_STOP:
                j += 1
            if j == vstart:
                raise PjlError("no value after command modifier", StatusCode.MODIFIER_VALUE_MISSING)
            modifier = PjlModifier(key, _upper(s[vstart:j]))
            i = j
        elif j < n and s[j] == "=":
            j += 1
            while j < n and s[j] in _WS:
                j += 1
            if j == n:
                raise PjlError(f"option {key[:32]} has no value", StatusCode.OPTION_VALUE_MISSING)
            if s[j] == '"':
                end = s.find('"', j + 1)
                if end < 0:
                    raise PjlError("string missing closing quote", StatusCode.MISSING_CLOSING_QUOTE)
                if end + 1 < n and s[end + 1] not in _WS:
                    raise PjlError(
                        "no white space after closing quote", StatusCode.MISSING_WS_AFTER_QUOTE
                    )
                options.append(PjlOption(key, s[j + 1 : end], True))
                i = end + 1
            else:
                vstart = j
                while j < n and s[j] not in _WS:
                    if s[j] == '"':
                        raise PjlError("quote inside a value", StatusCode.INVALID_ALPHANUMERIC)
                    j += 1
                if s[vstart] in "=:":
                    raise PjlError(
                        f"option {key[:32]} has no value", StatusCode.OPTION_VALUE_MISSING
                    )
                options.append(PjlOption(key, _upper(s[vstart:j]), False))
                i = j
        else:
            options.append(PjlOption(key))
            i = j
    return modifier, tuple(options)


# ---------------------------------------------------------------------------------------------
# Stream events


@dataclass(frozen=True, slots=True)
class Command:
    """A PJL command line the handler acts on (bare ``@PJL`` lines are not reported)."""

    cmd: PjlCommand


@dataclass(frozen=True, slots=True)
class JobStart:
    """Print data begins. ``language`` is the ENTER LANGUAGE value, None when auto-sensed;
    ``name`` comes from JOB NAME or SET JOBNAME, ``user`` from JOB USER, SET USERNAME or SET
    JOBATTR (PJLTRM 5 "JOB", 10 "USERNAME")."""

    name: str | None
    language: str | None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class JobData:
    """A chunk of print data: the bytes fed, or a memoryview slice of them (no copy)."""

    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class JobSegment:
    """A further language segment of a JOB/EOJ job begins (its first was on `JobStart`)."""

    language: str | None


@dataclass(frozen=True, slots=True)
class JobEnd:
    """The current print job ends (UEL, EOJ or end of connection)."""


@dataclass(frozen=True, slots=True)
class FileData:
    """A chunk of the SIZE bytes that follow an FSDOWNLOAD/FSAPPEND line."""

    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class FileDataEnd:
    """The file data is over. ``truncated`` when the connection closed before SIZE bytes."""

    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Malformed:
    """A PJL line that could not be parsed, or longer than ``max_line`` (then ``line`` holds
    its first bytes only). ``code`` is the PJL parser status code."""

    reason: str
    line: bytes
    code: int = StatusCode.SYNTAX_ERROR


Event = Command | JobStart | JobData | JobSegment | JobEnd | FileData | FileDataEnd | Malformed


class _State(Enum):
    PJL = "pjl"  # at the start of a line in PJL mode
    DATA = "data"  # print data up to the next UEL
    FILE = "file"  # counted FSDOWNLOAD/FSAPPEND data
    DISCARD = "discard"  # rest of an over-long line, up to LF or UEL
    SKIP = "skip"  # FSDOWNLOAD without a usable SIZE: its data, up to the next UEL


_MALFORMED_KEEP = 128  # bytes of an over-long line kept in its Malformed event
_USER_ATTRS = frozenset({"@USERNAME", "@JOAU", "JOBACCT1"})


class RawStream:
    """The state machine of one raw 9100 connection (see the module docstring).

    ``feed()`` never buffers more than ``max_line`` + 8 bytes between calls. Print and file
    data come back as the bytes passed in or memoryview slices of them; a memoryview argument
    is copied once (so events never alias a buffer the caller reuses).
    """

    def __init__(self, max_line: int = 4096) -> None:
        if max_line < 16:
            raise ValueError("max_line must be at least 16")
        self._max_line = max_line
        self._state = _State.PJL
        self._stash = b""  # unconsumed bytes: a partial line, or the possible start of a UEL
        self._blank = bytearray()  # blank bytes seen before a decision (dropped or print data)
        self._remaining = 0  # bytes of file data still due
        self._depth = 0  # open PJL JOB commands (PJLTRM 5: JOB/EOJ nest)
        self._job_started = False  # JobStart sent for the current job
        self._seg_started = False  # the current data segment has shown print data
        self._seg_language: str | None = None
        self._name: str | None = None
        self._user: str | None = None
        self._closed = False

    @property
    def max_line(self) -> int:
        return self._max_line

    @property
    def pending_bytes(self) -> int:
        """Bytes held between feeds: never more than ``max_line`` + 8, plus at most
        ``max_line`` blank bytes."""
        return len(self._stash) + len(self._blank)

    @property
    def in_pjl_job(self) -> bool:
        """A ``@PJL JOB`` is open."""
        return self._depth > 0

    @property
    def in_job(self) -> bool:
        """A `JobStart` was sent and its `JobEnd` is still due."""
        return self._job_started

    # -- public entry points ------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        if self._closed:
            raise PjlError("feed() after eof()")
        buf: bytes
        if isinstance(data, bytes):
            buf = data
        elif isinstance(data, memoryview):
            obj = data.obj
            whole = isinstance(obj, bytes) and data.contiguous and data.nbytes == len(obj)
            buf = obj if whole and isinstance(obj, bytes) else data.tobytes()
        else:
            buf = bytes(data)
        events: list[Event] = []
        if not buf:
            return events
        if self._stash:
            stash = self._stash
            self._stash = b""
            # Decide on the stashed bytes with a bounded piece of the new data (no big copy).
            k = self._max_line + 2 * _UEL_LEN
            head = stash + buf[:k]
            off = self._run(head, 0, events, final=False)
            if k >= len(buf):
                self._stash = head[off:]
                return events
            if off >= len(stash):
                off -= len(stash)
            else:  # not reached given the bounds above; stay correct regardless
                buf = head[off:] + buf[k:]
                off = 0
        else:
            off = 0
        off = self._run(buf, off, events, final=False)
        self._stash = buf[off:]
        return events

    def eof(self) -> list[Event]:
        """The connection closed: flush what is pending and end an open job."""
        if self._closed:
            return []
        events: list[Event] = []
        stash = self._stash
        self._stash = b""
        if stash:
            self._run(stash, 0, events, final=True)
        if self._state is _State.FILE:
            events.append(FileDataEnd(truncated=True))
        if self._job_started:
            events.append(JobEnd())
        self._closed = True
        self._state = _State.PJL
        self._blank.clear()
        self._job_started = False
        return events

    # -- the machine --------------------------------------------------------------------------

    def _run(self, buf: bytes, off: int, ev: list[Event], final: bool) -> int:
        """Consume ``buf`` from ``off``; return where more bytes are needed (len(buf) if none)."""
        n = len(buf)
        while off < n:
            state = self._state
            if state is _State.DATA:
                off = self._run_data(buf, off, ev, final)
                if self._state is _State.DATA:
                    return off  # all consumed but a possible partial UEL
            elif state is _State.PJL:
                new = self._run_pjl(buf, off, ev, final)
                if new == off and self._state is _State.PJL:
                    return off  # needs more bytes to decide
                off = new
            elif state is _State.FILE:
                take = min(self._remaining, n - off)
                whole = off == 0 and take == n
                ev.append(FileData(buf if whole else memoryview(buf)[off : off + take]))
                off += take
                self._remaining -= take
                if self._remaining == 0:
                    ev.append(FileDataEnd())
                    self._state = _State.PJL
            else:  # DISCARD or SKIP
                off = self._run_skip(buf, off, final, to_line_end=state is _State.DISCARD)
                if self._state is state:
                    return off
        return off

    def _run_data(self, buf: bytes, off: int, ev: list[Event], final: bool) -> int:
        n = len(buf)
        # The hot path: most chunks of print data hold no UEL. memchr() rules out ESC-free
        # data at memory speed, and CPython's reverse search is 1.3-2.5x faster than its
        # forward one on print data (bench/RESULTS.md); find() runs only when a UEL is there.
        no_uel = buf.find(b"\x1b", off) < 0 or buf.rfind(UEL, off) < 0
        i = -1 if no_uel else buf.find(UEL, off)
        if i < 0:
            end = n
            if not final:
                j = buf.rfind(b"\x1b", max(off, n - _HOLD), n)
                if j >= 0 and UEL.startswith(buf[j:n]):
                    end = j
            if end > off:
                self._data(buf, off, end, ev)
            return end
        if i > off:
            self._data(buf, off, i, ev)
        self._end_segment(ev)
        return i + _UEL_LEN

    def _data(self, buf: bytes, start: int, end: int, ev: list[Event]) -> None:
        if not self._seg_started:
            m = _NON_BLANK.search(buf, start, end)
            if m is None and len(self._blank) + (end - start) <= self._max_line:
                self._blank += buf[start:end]  # blank so far: not (yet) a job
                return
            self._start_segment(ev)
        ev.append(JobData(buf if start == 0 and end == len(buf) else memoryview(buf)[start:end]))

    def _start_segment(self, ev: list[Event]) -> None:
        if not self._job_started:
            self._job_started = True
            ev.append(JobStart(name=self._name, language=self._seg_language, user=self._user))
        else:
            ev.append(JobSegment(language=self._seg_language))
        self._seg_started = True
        if self._blank:
            ev.append(JobData(bytes(self._blank)))
            self._blank.clear()

    def _end_segment(self, ev: list[Event]) -> None:
        """A UEL ends the data segment (PJLTRM 4 "UEL")."""
        self._state = _State.PJL
        self._blank.clear()
        self._seg_started = False
        self._seg_language = None
        if self._depth == 0:
            if self._job_started:
                ev.append(JobEnd())
            self._reset_job()

    def _reset_job(self) -> None:
        self._job_started = False
        self._name = None
        self._user = None

    def _enter_data(self, language: str | None) -> None:
        self._state = _State.DATA
        self._seg_started = False
        self._seg_language = language

    def _run_pjl(self, buf: bytes, off: int, ev: list[Event], final: bool) -> int:
        n = len(buf)
        m = _NON_BLANK.search(buf, off)
        p = n if m is None else m.start()
        if p > off:
            if len(self._blank) + (p - off) > self._max_line:
                # An endless run of blank lines: not PJL, so it is print data after all.
                self._enter_data(None)
                self._start_segment(ev)
                ev.append(JobData(memoryview(buf)[off:p]))
                return p
            self._blank += buf[off:p]
        if p == n:
            return n
        if buf[p] == _ESC:
            if buf.startswith(UEL, p):
                self._blank.clear()
                if self._depth == 0:
                    self._reset_job()  # PJLTRM 6: SET values last until the UEL
                return p + _UEL_LEN
            if n - p < _UEL_LEN and UEL.startswith(buf[p:n]) and not final:
                return p  # wait for the rest of a possible UEL
            self._enter_data(None)  # auto-sense: a PCL escape, say
            return p
        head = buf[p : p + 4].upper()
        if head != _PREFIX:
            if len(head) < 4 and _PREFIX.startswith(head) and not final:
                return p  # wait for the rest of a possible "@PJL"
            self._enter_data(None)  # auto-sense: not PJL, so print data
            return p
        self._blank.clear()
        return self._line(buf, p, ev, final)

    def _line(self, buf: bytes, p: int, ev: list[Event], final: bool) -> int:
        """A PJL line starts at p; handle it whole, or return p to wait for more bytes."""
        n = len(buf)
        limit = p + self._max_line  # the line end may sit at most here
        lf = buf.find(b"\n", p, min(n, limit + 1))
        uel = buf.find(UEL, p, lf if lf >= 0 else min(n, limit + _UEL_LEN))
        if uel >= 0:
            end, nxt = uel, uel  # a UEL ends the line too; it is handled as a UEL next
        elif lf >= 0:
            end, nxt = lf, lf + 1
        elif n <= limit:
            if not final:
                return p
            end, nxt = n, n  # the connection ended without a line end
        else:
            if not final and n < limit + _UEL_LEN:
                j = buf.rfind(b"\x1b", max(p, n - _HOLD), min(n, limit + 1))
                if j >= 0 and UEL.startswith(buf[j:n]):
                    return p  # a UEL may start before the limit
            ev.append(
                Malformed(
                    f"PJL line longer than {self._max_line} bytes",
                    buf[p : p + min(_MALFORMED_KEEP, self._max_line + 1)],
                    StatusCode.COMMAND_BUFFER_OVERFLOW,
                )
            )
            self._state = _State.DISCARD
            return limit + 1
        self._command(buf[p:end].rstrip(b"\r"), ev)  # [<CR>]<LF> (PJLTRM 2)
        return nxt

    def _run_skip(self, buf: bytes, off: int, final: bool, *, to_line_end: bool) -> int:
        n = len(buf)
        lf = buf.find(b"\n", off) if to_line_end else -1
        uel = buf.find(UEL, off, lf if lf >= 0 else n)
        if uel >= 0:
            self._state = _State.PJL
            return uel
        if lf >= 0:
            self._state = _State.PJL
            return lf + 1
        if not final:
            j = buf.rfind(b"\x1b", max(off, n - _HOLD), n)
            if j >= 0 and UEL.startswith(buf[j:n]):
                return j
        return n

    def _command(self, line: bytes, ev: list[Event]) -> None:
        try:
            cmd = parse_command(line)
        except PjlError as exc:
            ev.append(Malformed(str(exc), line, exc.code))
            return
        kind = cmd.kind
        if kind is CommandKind.NOOP:
            return
        ev.append(Command(cmd))
        if kind is CommandKind.ENTER:
            language = cmd.get("LANGUAGE")
            self._enter_data(language)
        elif kind is CommandKind.JOB:
            if self._depth == 0:
                self._name = cmd.get("NAME") or self._name
                self._user = cmd.get("USER") or self._user
            self._depth += 1
        elif kind is CommandKind.EOJ:
            if self._depth > 0:  # an EOJ without JOB is ignored (27002)
                self._depth -= 1
                if self._depth == 0:
                    if self._job_started:
                        ev.append(JobEnd())
                    self._reset_job()
        elif kind is CommandKind.SET:
            self._set(cmd)
        elif kind in (CommandKind.FSDOWNLOAD, CommandKind.FSAPPEND):
            size = cmd.get_int("SIZE")
            if size is None:
                self._state = _State.SKIP  # its data cannot be delimited but by the UEL
            elif size == 0:
                ev.append(FileDataEnd())
            else:
                self._state = _State.FILE
                self._remaining = size

    def _set(self, cmd: PjlCommand) -> None:
        if self._job_started:
            return
        # PJLTRM 10 "Job Management": JOBNAME and USERNAME variables.
        name = cmd.get("JOBNAME")
        if name and self._name is None:
            self._name = name
        user = cmd.get("USERNAME")
        if user:
            self._user = user
        attr = cmd.get("JOBATTR")
        if attr and "=" in attr:
            # Vendor job attributes: "@JOAU=owner" (Xerox), "JobAcct1=user" (HP drivers).
            key, _, value = attr.partition("=")
            if _upper(key.strip()) in _USER_ATTRS and value.strip():
                self._user = value.strip()


# ---------------------------------------------------------------------------------------------
# Replies (PJLTRM 7 and 9): CR LF line ends, each reply ends with <FF>


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One file system entry: FSDIRLIST lines and FSQUERY replies (PJLTRM 9)."""

    name: str
    is_dir: bool
    size: int = 0


@dataclass(frozen=True, slots=True)
class FilesysVolume:
    """One line of the INFO FILESYS table (PJLTRM 7 "FILESYS Category")."""

    volume: str
    total: int
    free: int
    location: str = ""
    label: str = ""
    status: str = "READ-WRITE"


def _enc(text: str) -> bytes:
    return text.encode("latin-1", errors="replace")


def _word(text: str) -> str:
    """A token for a reply line: no line ends, no form feed."""
    return "".join(" " if ch < " " and ch != "\t" else ch for ch in text)


def _quote(text: str) -> str:
    """A PJL string: double quotes around, none inside (PJLTRM 2 "string")."""
    return '"' + _word(text).replace('"', "'") + '"'


def format_info(category: str, lines: Iterable[str | bytes]) -> bytes:
    """``@PJL INFO <category>`` then one CR LF line per item (PJLTRM 7 "INFO")."""
    out = [b"@PJL INFO ", _enc(_word(category)), _CRLF]
    for line in lines:
        out.append(line if isinstance(line, bytes) else _enc(_word(line)))
        out.append(_CRLF)
    out.append(_FF)
    return b"".join(out)


def format_info_id(model: str) -> bytes:
    """INFO ID: the model name as a quoted string (PJLTRM 7 "ID Category")."""
    return format_info("ID", [_quote(model)])


def format_info_status(code: int, display: str, online: bool) -> bytes:
    """INFO STATUS (PJLTRM 7 "STATUS Category")."""
    return format_info("STATUS", _status_lines(code, display, online))


def format_info_unknown(category: str) -> bytes:
    """The reply to an unsupported INFO category: ``"?"`` (PJLTRM 7 "INFO")."""
    return format_info(category, ['"?"'])


def format_info_filesys(volumes: Sequence[FilesysVolume]) -> bytes:
    """INFO FILESYS: a tab-separated table (PJLTRM 7 "FILESYS Category")."""
    header = "\tVOLUME\tTOTAL SIZE\tFREE SPACE\tLOCATION\tLABEL\tSTATUS"
    rows = [
        f"\t{_word(v.volume)}\t{v.total}\t{v.free}\t{_word(v.location)}"
        f"\t{_word(v.label)}\t{_word(v.status)}"
        for v in volumes
    ]
    return b"".join(
        [b"@PJL INFO FILESYS [", str(len(volumes) + 1).encode(), b" TABLE]", _CRLF]
        + [_enc(line) + _CRLF for line in [header, *rows]]
        + [_FF]
    )


def format_inquire(variable: str, value: str | int | None, *, default: bool = False) -> bytes:
    """INQUIRE (or DINQUIRE) reply; a None value is the ``?`` of an unknown variable
    (PJLTRM 7 "INQUIRE", "DINQUIRE")."""
    verb = b"@PJL DINQUIRE " if default else b"@PJL INQUIRE "
    shown = "?" if value is None else str(value)
    return verb + _enc(_word(variable)) + _CRLF + _enc(_word(shown)) + _CRLF + _FF


def format_echo(text: str) -> bytes:
    """ECHO returns its words (PJLTRM 7 "ECHO")."""
    words = _word(text)
    return b"@PJL ECHO" + (b" " + _enc(words) if words else b"") + _CRLF + _FF


def _status_lines(code: int, display: str, online: bool) -> list[str]:
    return [
        f"CODE={int(code)}",
        f"DISPLAY={_quote(display)}",
        f"ONLINE={'TRUE' if online else 'FALSE'}",
    ]


def format_ustatus(kind: str, code: int, display: str, online: bool) -> bytes:
    """Unsolicited DEVICE or TIMED status (PJLTRM 7 "USTATUS": DEVICE, TIMED variables)."""
    head = b"@PJL USTATUS " + _enc(_upper(_word(kind))) + _CRLF
    return head + b"".join(_enc(x) + _CRLF for x in _status_lines(code, display, online)) + _FF


def format_ustatus_job_start(name: str | None) -> bytes:
    """Unsolicited job status when a JOB starts (PJLTRM 7 "USTATUS", JOB variable)."""
    lines = ["START"] + ([f"NAME={_quote(name)}"] if name is not None else [])
    return b"@PJL USTATUS JOB\r\n" + b"".join(_enc(x) + _CRLF for x in lines) + _FF


def format_ustatus_job_end(name: str | None, pages: int) -> bytes:
    """Unsolicited job status when a job's last page is out (PJLTRM 7 "USTATUS" JOB)."""
    lines = (
        ["END"] + ([f"NAME={_quote(name)}"] if name is not None else []) + [f"PAGES={int(pages)}"]
    )
    return b"@PJL USTATUS JOB\r\n" + b"".join(_enc(x) + _CRLF for x in lines) + _FF


def format_ustatus_page(page: int) -> bytes:
    """Unsolicited page status, the page count since JOB (PJLTRM 7 "USTATUS" PAGE)."""
    return b"@PJL USTATUS PAGE\r\n" + str(int(page)).encode() + _CRLF + _FF


def format_fsdirlist(name: str, entries: Sequence[DirEntry], entry: int = 1) -> bytes:
    """FSDIRLIST listing (PJLTRM 9 "FSDIRLIST"): ``<name> TYPE=FILE SIZE=n`` or ``TYPE=DIR``."""
    out = [b"@PJL FSDIRLIST NAME=", _enc(_quote(name)), b" ENTRY=", str(int(entry)).encode(), _CRLF]
    for e in entries:
        out.append(_enc(_word(e.name)))
        out.append(b" TYPE=DIR" if e.is_dir else b" TYPE=FILE SIZE=" + str(int(e.size)).encode())
        out.append(_CRLF)
    out.append(_FF)
    return b"".join(out)


def format_fsquery(name: str, entry: DirEntry) -> bytes:
    """FSQUERY reply (PJLTRM 9 "FSQUERY")."""
    kind = b" TYPE=DIR" if entry.is_dir else b" TYPE=FILE SIZE=" + str(int(entry.size)).encode()
    return b"@PJL FSQUERY NAME=" + _enc(_quote(name)) + kind + _CRLF + _FF


def format_fsupload_header(name: str, offset: int, size: int) -> bytes:
    """The line before the SIZE bytes of an FSUPLOAD reply (a <FF> follows the bytes)."""
    return (
        b"@PJL FSUPLOAD FORMAT:BINARY NAME="
        + _enc(_quote(name))
        + b" OFFSET="
        + str(int(offset)).encode()
        + b" SIZE="
        + str(int(size)).encode()
        + _CRLF
    )


def format_fsupload(name: str, offset: int, data: bytes) -> bytes:
    """FSUPLOAD reply: header, the file bytes, <FF> (PJLTRM 9 "FSUPLOAD")."""
    return format_fsupload_header(name, offset, len(data)) + bytes(data) + _FF


def format_fileerror(code: int, command: str, name: str | None = None) -> bytes:
    """A file system command's error reply, ``FILEERROR=n`` with n a `FileError` (PJLTRM 9).

    ``code`` may also be given as the full 32xxx status code.
    """
    number = int(code) - 32000 if int(code) >= 32000 else int(code)
    head = b"@PJL " + _enc(_upper(_word(command)))
    if name is not None:
        head += b" NAME=" + _enc(_quote(name))
    return head + _CRLF + b"FILEERROR=" + str(number).encode() + _CRLF + _FF
