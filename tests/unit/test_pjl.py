"""Unit and property tests of the PJL codec (mfpd.codecs.pjl)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mfpd.codecs.pjl import (
    UEL,
    Command,
    CommandKind,
    DirEntry,
    Event,
    FileData,
    FileDataEnd,
    FileError,
    FilesysVolume,
    JobData,
    JobEnd,
    JobSegment,
    JobStart,
    Malformed,
    MediaCode,
    PjlCommand,
    PjlError,
    PjlModifier,
    PjlOption,
    RawStream,
    StatusCode,
    background_paper_mount,
    foreground_paper_mount,
    format_echo,
    format_fileerror,
    format_fsdirlist,
    format_fsquery,
    format_fsupload,
    format_fsupload_header,
    format_info,
    format_info_filesys,
    format_info_id,
    format_info_status,
    format_info_unknown,
    format_inquire,
    format_ustatus,
    format_ustatus_job_end,
    format_ustatus_job_start,
    format_ustatus_page,
    parse_command,
)

EVENT_TYPES = (Command, JobStart, JobData, JobSegment, JobEnd, FileData, FileDataEnd, Malformed)

# ---------------------------------------------------------------------------------------------
# helpers


def normalise(events: Iterable[Event]) -> list[object]:
    """Events with adjacent data chunks joined, so that different chunkings compare equal."""
    out: list[object] = []
    for ev in events:
        if isinstance(ev, JobData | FileData):
            kind = "job" if isinstance(ev, JobData) else "file"
            chunk = bytes(ev.data)
            if out and isinstance(out[-1], tuple) and out[-1][0] == kind:
                out[-1] = (kind, out[-1][1] + chunk)
            else:
                out.append((kind, chunk))
        elif isinstance(ev, Command):
            out.append(("cmd", ev.cmd.raw))
        else:
            out.append(ev)
    # drop empty data tuples (a chunking may deliver zero-length views)
    return [e for e in out if not (isinstance(e, tuple) and e[0] in ("job", "file") and not e[1])]


def run(chunks: Sequence[bytes], max_line: int = 4096) -> list[Event]:
    stream = RawStream(max_line=max_line)
    events: list[Event] = []
    for chunk in chunks:
        events.extend(stream.feed(chunk))
    events.extend(stream.eof())
    return events


def run_norm(data: bytes, max_line: int = 4096) -> list[object]:
    return normalise(run([data], max_line))


def commands(events: Iterable[Event]) -> list[PjlCommand]:
    return [e.cmd for e in events if isinstance(e, Command)]


def jobs(events: Iterable[Event]) -> list[tuple[JobStart, bytes]]:
    """(JobStart, all data of the job) for each job, checking Start/End pairing."""
    found: list[tuple[JobStart, bytes]] = []
    current: JobStart | None = None
    data = b""
    for ev in events:
        if isinstance(ev, JobStart):
            assert current is None, "JobStart inside a job"
            current, data = ev, b""
        elif isinstance(ev, JobData):
            assert current is not None, "JobData outside a job"
            data += bytes(ev.data)
        elif isinstance(ev, JobSegment):
            assert current is not None, "JobSegment outside a job"
        elif isinstance(ev, JobEnd):
            assert current is not None, "JobEnd without JobStart"
            found.append((current, data))
            current = None
    assert current is None, "job never ended"
    return found


# ---------------------------------------------------------------------------------------------
# parse_command


def test_info_id() -> None:
    cmd = parse_command(b"@PJL INFO ID")
    assert cmd.kind is CommandKind.INFO
    assert cmd.name == "INFO"
    assert cmd.words == ("ID",)
    assert cmd.options == (PjlOption("ID"),)
    assert cmd.raw == b"@PJL INFO ID"


def test_prefix_and_command_are_case_insensitive() -> None:
    cmd = parse_command(b"@pjl Info status")
    assert cmd.kind is CommandKind.INFO
    assert cmd.words == ("STATUS",)


@pytest.mark.parametrize("line", [b"@PJL", b"@PJL ", b"@PJL  \t ", b"@pjl\r", b"  @PJL"])
def test_bare_prefix_is_a_noop(line: bytes) -> None:
    cmd = parse_command(line)
    assert cmd.kind is CommandKind.NOOP
    assert cmd.name == ""


def test_trailing_cr_is_tolerated() -> None:
    assert parse_command(b"@PJL INFO ID\r").words == ("ID",)


def test_set_with_personality_modifier() -> None:
    cmd = parse_command(b"@PJL SET LPARM : PCL SYMSET = ROMAN8")
    assert cmd.kind is CommandKind.SET
    assert cmd.modifier == PjlModifier("LPARM", "PCL")
    assert cmd.get("SYMSET") == "ROMAN8"


def test_inquire_with_iparm() -> None:
    cmd = parse_command(b"@PJL INQUIRE IPARM:PS COPIES")
    assert cmd.kind is CommandKind.INQUIRE
    assert cmd.modifier == PjlModifier("IPARM", "PS")
    assert cmd.words == ("COPIES",)


def test_quoted_strings_keep_case_and_spaces() -> None:
    cmd = parse_command(b'@PJL JOB NAME="My Doc.pdf" DISPLAY = "x y"')
    assert cmd.kind is CommandKind.JOB
    assert cmd.get("NAME") == "My Doc.pdf"
    assert cmd.get("display") == "x y"
    assert cmd.options[0] == PjlOption("NAME", "My Doc.pdf", True)


def test_keys_and_unquoted_values_are_upper_case() -> None:
    cmd = parse_command(b"@PJL set copies=2 duplex = on")
    assert cmd.options == (PjlOption("COPIES", "2"), PjlOption("DUPLEX", "ON"))
    assert cmd.get_int("copies") == 2


def test_rdymsg_display() -> None:
    cmd = parse_command(b'@PJL RDYMSG DISPLAY = "p0wn3d pr1nt3r"')
    assert cmd.kind is CommandKind.RDYMSG
    assert cmd.get("DISPLAY") == "p0wn3d pr1nt3r"


def test_empty_quoted_string() -> None:
    assert parse_command(b'@PJL RDYMSG DISPLAY=""').get("DISPLAY") == ""


def test_echo_keeps_its_words_raw() -> None:
    cmd = parse_command(b'@PJL ECHO DELIMITER123  a=b "x" : y   ')
    assert cmd.kind is CommandKind.ECHO
    assert cmd.text == 'DELIMITER123  a=b "x" : y'
    assert cmd.options == ()


def test_comment_keeps_its_text() -> None:
    cmd = parse_command(b'@PJL COMMENT **Give job a name** "unbalanced')
    assert cmd.kind is CommandKind.COMMENT
    assert cmd.text == '**Give job a name** "unbalanced'


def test_fsdownload_line() -> None:
    cmd = parse_command(b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=22 NAME = "0:\\pcl\\macros\\logo"')
    assert cmd.kind is CommandKind.FSDOWNLOAD
    assert cmd.modifier == PjlModifier("FORMAT", "BINARY")
    assert cmd.get_int("SIZE") == 22
    assert cmd.get("NAME") == "0:\\pcl\\macros\\logo"


def test_fsdirlist_line() -> None:
    cmd = parse_command(b'@PJL FSDIRLIST NAME="0:/" ENTRY=1 COUNT=65535')
    assert cmd.kind is CommandKind.FSDIRLIST
    assert (cmd.get("NAME"), cmd.get_int("ENTRY"), cmd.get_int("COUNT")) == ("0:/", 1, 65535)


@pytest.mark.parametrize(
    "word",
    [
        "JOB",
        "EOJ",
        "ENTER",
        "SET",
        "DEFAULT",
        "INQUIRE",
        "DINQUIRE",
        "INITIALIZE",
        "RESET",
        "INFO",
        "ECHO",
        "USTATUS",
        "USTATUSOFF",
        "RDYMSG",
        "OPMSG",
        "STMSG",
        "COMMENT",
        "FSDIRLIST",
        "FSQUERY",
        "FSUPLOAD",
        "FSDOWNLOAD",
        "FSAPPEND",
        "FSDELETE",
        "FSMKDIR",
        "FSINIT",
    ],
)
def test_every_known_command(word: str) -> None:
    cmd = parse_command(b"@PJL " + word.lower().encode())
    assert cmd.kind is CommandKind(word)
    assert cmd.name == word


def test_ustatus_variable() -> None:
    cmd = parse_command(b"@PJL USTATUS DEVICE = ON")
    assert cmd.kind is CommandKind.USTATUS
    assert cmd.get("DEVICE") == "ON"
    assert parse_command(b"@PJL USTATUS TIMED=30").get_int("TIMED") == 30


def test_unknown_commands_are_kept() -> None:
    cmd = parse_command(b'@PJL DMCMD ASCIIHEX="040006020501010301040104"')
    assert cmd.kind is CommandKind.UNKNOWN
    assert cmd.name == "DMCMD"
    assert cmd.get("ASCIIHEX") == "040006020501010301040104"


def test_unknown_command_with_vendor_syntax_is_not_an_error() -> None:
    cmd = parse_command(b'@PJL LJOBINFO "odd" = :')
    assert cmd.kind is CommandKind.UNKNOWN
    assert cmd.options == ()
    assert cmd.text == '"odd" = :'


def test_get_int_rejects_non_numbers() -> None:
    cmd = parse_command(b"@PJL FSUPLOAD SIZE=abc OFFSET=99999999999 COUNT=-1")
    assert cmd.get_int("SIZE") is None
    assert cmd.get_int("OFFSET") is None
    assert cmd.get_int("COUNT") is None
    assert cmd.get_int("MISSING") is None
    assert cmd.get("MISSING", "dflt") == "dflt"
    assert not cmd.has("MISSING")
    assert cmd.has("size")


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"INFO ID", StatusCode.PREFIX_MISSING),
        (b"", StatusCode.PREFIX_MISSING),
        (b"@PJ", StatusCode.PREFIX_MISSING),
        (b"@PJLX INFO", StatusCode.SYNTAX_ERROR),
        (b"@PJL 123", StatusCode.COMMAND_NOT_ALPHANUMERIC),
        (b"@PJL IN-FO", StatusCode.COMMAND_NOT_ALPHANUMERIC),
        (b'@PJL JOB NAME="unterminated', StatusCode.MISSING_CLOSING_QUOTE),
        (b'@PJL JOB NAME="a"DISPLAY="b"', StatusCode.MISSING_WS_AFTER_QUOTE),
        (b"@PJL SET COPIES=", StatusCode.OPTION_VALUE_MISSING),
        (b"@PJL SET COPIES= =3", StatusCode.OPTION_VALUE_MISSING),
        (b"@PJL SET LPARM:", StatusCode.MODIFIER_VALUE_MISSING),
        (b"@PJL SET LPARM:PCL IPARM:PS", StatusCode.MORE_THAN_ONE_MODIFIER),
        (b"@PJL SET COPIES=2 LPARM:PCL", StatusCode.MODIFIER_AFTER_OPTION),
        (b'@PJL SET "COPIES"=2', StatusCode.STRING_WHERE_ALPHANUMERIC),
        (b"@PJL SET =2", StatusCode.INVALID_CHARACTER_AT_START),
        (b'@PJL SET COPIES=a"b', StatusCode.INVALID_ALPHANUMERIC),
        (b"@PJL SET COPIES=2\x00", StatusCode.ILLEGAL_CHARACTER),
        (b"@PJL INFO ID\x1b%-12345X", StatusCode.ILLEGAL_CHARACTER),
        (b"@PJL INFO\nID", StatusCode.ILLEGAL_CHARACTER),
    ],
)
def test_malformed_lines(line: bytes, code: int) -> None:
    with pytest.raises(PjlError) as info:
        parse_command(line)
    assert info.value.code == code


@given(st.binary(max_size=300))
def test_parse_arbitrary_bytes_raises_only_pjl_error(line: bytes) -> None:
    try:
        cmd = parse_command(line)
    except PjlError:
        return
    assert isinstance(cmd, PjlCommand)
    assert cmd.raw == line


_PJL_CHARS = st.sampled_from(list(b' \t="=:@PJLpjl\r\nINFOSETJOBabz019"\x00\x1b\xe5\xff'))


@given(st.lists(_PJL_CHARS, max_size=80).map(bytes))
def test_parse_pjl_looking_bytes_raises_only_pjl_error(tail: bytes) -> None:
    with contextlib.suppress(PjlError):
        parse_command(b"@PJL " + tail)


_words = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,11}", fullmatch=True)
_strings = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters='"\x7f'),
    max_size=30,
)


@given(
    word=_words,
    modifier=st.none() | st.tuples(_words, _words),
    options=st.lists(
        st.tuples(
            _words,
            st.one_of(
                st.none(), _words.map(lambda w: (w, False)), _strings.map(lambda s: (s, True))
            ),
        ),
        max_size=6,
    ),
)
def test_parse_round_trip(
    word: str,
    modifier: tuple[str, str] | None,
    options: list[tuple[str, tuple[str, bool] | None]],
) -> None:
    assume(word.upper() not in ("ECHO", "COMMENT"))
    parts = ["@pjl", word]
    if modifier is not None:
        parts.append(f"{modifier[0]} : {modifier[1]}")
    for key, value in options:
        if value is None:
            parts.append(key)
        elif value[1]:
            parts.append(f'{key} = "{value[0]}"')
        else:
            parts.append(f"{key}={value[0]}")
    cmd = parse_command(" ".join(parts).encode("latin-1"))
    assert cmd.name == word.upper()
    if modifier is None:
        assert cmd.modifier is None
    else:
        assert cmd.modifier == PjlModifier(modifier[0].upper(), modifier[1].upper())
    expected = tuple(
        PjlOption(key.upper())
        if value is None
        else PjlOption(key.upper(), value[0] if value[1] else value[0].upper(), value[1])
        for key, value in options
    )
    assert cmd.options == expected


# ---------------------------------------------------------------------------------------------
# the stream: which bytes are commands, print data and file data


def test_pjl_only_connection_has_no_job() -> None:
    events = run([UEL + b"@PJL INFO ID\r\n" + UEL])
    assert [type(e) for e in events] == [Command]
    assert commands(events)[0].words == ("ID",)


def test_pret_style_session_has_no_job() -> None:
    # PRET sends each command with an ECHO delimiter, a blank line and a UEL, no leading UEL.
    session = (
        b"@PJL USTATUSOFF\r\n"
        + UEL
        + b'@PJL FSQUERY NAME="0:/x"\r\n@PJL ECHO DELIMITER42\r\n\r\n'
        + UEL
    )
    events = run([session])
    assert all(isinstance(e, Command) for e in events)
    assert [c.name for c in commands(events)] == ["USTATUSOFF", "FSQUERY", "ECHO"]


def test_connection_opening_with_pjl_without_uel_is_pjl() -> None:
    # nmap's pjl-ready-message sends "@PJL INFO STATUS\n" straight away.
    events = run([b"@PJL INFO STATUS\n", b'@PJL RDYMSG DISPLAY = "hi"\r\n', b"@PJL INFO STATUS\n"])
    assert [c.name for c in commands(events)] == ["INFO", "RDYMSG", "INFO"]
    assert jobs(events) == []


def test_plain_postscript_without_pjl_is_one_job() -> None:
    doc = b"%!PS-Adobe-3.0\n/Times findfont 12 scalefont setfont\nshowpage\n%%EOF\n"
    events = run([doc])
    assert jobs(events) == [(JobStart(None, None, None), doc)]


def test_plain_pcl_without_pjl_is_one_job() -> None:
    doc = b"\x1bE\x1b&l0O hello \x0c\x1bE"
    events = run([doc])
    assert jobs(events) == [(JobStart(None, None), doc)]


def test_pdf_with_leading_blank_lines_keeps_every_byte() -> None:
    doc = b"\r\n\r\n%PDF-1.7\n...\n%%EOF"
    assert jobs(run([doc])) == [(JobStart(None, None), doc)]


def test_enter_language_names_the_job() -> None:
    events = run([UEL + b"@PJL ENTER LANGUAGE = POSTSCRIPT\r\n%!PS\nshowpage\n" + UEL])
    assert jobs(events) == [(JobStart(None, "POSTSCRIPT"), b"%!PS\nshowpage\n")]


def test_enter_line_with_lf_only() -> None:
    events = run([UEL + b"@PJL\n@PJL ENTER LANGUAGE=PCL\n\x1bE" + UEL])
    assert jobs(events) == [(JobStart(None, "PCL"), b"\x1bE")]


def test_implicit_switch_auto_senses() -> None:
    events = run([UEL + b"@PJL SET COPIES=2\r\n%!PS\n" + UEL])
    assert [c.name for c in commands(events)] == ["SET"]
    assert jobs(events) == [(JobStart(None, None), b"%!PS\n")]


def test_each_segment_without_job_eoj_is_a_job() -> None:
    stream = (
        UEL
        + b"@PJL ENTER LANGUAGE=PCL\r\n\x1bEone"
        + UEL
        + b"@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS two"
        + UEL
        + b"three"
        + UEL
    )
    assert [(s.language, d) for s, d in jobs(run([stream]))] == [
        ("PCL", b"\x1bEone"),
        ("POSTSCRIPT", b"%!PS two"),
        (None, b"three"),
    ]


def test_job_eoj_spanning_segments_is_one_job() -> None:
    stream = (
        UEL
        + b'@PJL JOB NAME="Monitoring Job"\r\n'
        + UEL
        + b"@PJL\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bE banner \x1bE"
        + UEL
        + b"@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%!PS body"
        + UEL
        + b'@PJL EOJ NAME="End"\r\n'
        + UEL
    )
    events = run([stream])
    found = jobs(events)
    assert found == [(JobStart("Monitoring Job", "PCL"), b"\x1bE banner \x1bE%!PS body")]
    assert JobSegment("POSTSCRIPT") in events
    # the EOJ command comes before the JobEnd it causes
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("JobEnd") > max(i for i, e in enumerate(events) if isinstance(e, Command))


def test_job_without_data_is_no_job() -> None:
    events = run([UEL + b'@PJL JOB NAME="x"\r\n@PJL EOJ\r\n' + UEL])
    assert [c.name for c in commands(events)] == ["JOB", "EOJ"]
    assert jobs(events) == []


def test_nested_job_eoj_counts() -> None:
    stream = (
        UEL
        + b'@PJL JOB NAME="outer"\r\n@PJL JOB NAME="inner"\r\n@PJL ENTER LANGUAGE=PCL\r\nA'
        + UEL
        + b"@PJL EOJ\r\n@PJL ENTER LANGUAGE=PCL\r\nB"
        + UEL
        + b"@PJL EOJ\r\n"
        + UEL
        + b"C"
    )
    assert [(s.name, d) for s, d in jobs(run([stream]))] == [("outer", b"AB"), (None, b"C")]


def test_eoj_without_job_is_ignored() -> None:
    events = run([UEL + b"@PJL EOJ\r\n@PJL ENTER LANGUAGE=PCL\r\nX" + UEL + b"Y"])
    assert [d for _s, d in jobs(events)] == [b"X", b"Y"]


def test_two_pjl_jobs_on_one_connection() -> None:
    one = UEL + b'@PJL JOB NAME="a"\r\n@PJL ENTER LANGUAGE=PCL\r\n1' + UEL + b"@PJL EOJ\r\n" + UEL
    two = UEL + b'@PJL JOB NAME="b"\r\n@PJL ENTER LANGUAGE=PCL\r\n2' + UEL + b"@PJL EOJ\r\n" + UEL
    assert [(s.name, d) for s, d in jobs(run([one + two]))] == [("a", b"1"), ("b", b"2")]


def test_job_open_at_eof_still_ends() -> None:
    events = run([UEL + b'@PJL JOB NAME="x"\r\n@PJL ENTER LANGUAGE=PCL\r\ndata'])
    assert jobs(events) == [(JobStart("x", "PCL"), b"data")]
    assert isinstance(events[-1], JobEnd)


@pytest.mark.parametrize(
    "stream",
    [
        UEL + UEL,
        UEL + b"\r\n" + UEL,
        UEL + b"\r\n\r\n \t\n" + UEL + UEL,
        UEL + b"@PJL ENTER LANGUAGE=PCL\r\n" + UEL,
        UEL + b"@PJL ENTER LANGUAGE=PCL\r\n\r\n\r\n" + UEL,
        b"",
        b"\r\n",
        UEL + b"@PJL ENTER LANGUAGE=PCL\r\n",
    ],
)
def test_empty_segments_are_not_jobs(stream: bytes) -> None:
    assert jobs(run([stream])) == []


def test_missing_line_end_before_uel() -> None:
    events = run([UEL + b"@PJL INFO ID" + UEL + b"@PJL INFO STATUS" + UEL])
    assert [c.words for c in commands(events)] == [("ID",), ("STATUS",)]
    assert jobs(events) == []


def test_missing_line_end_at_eof() -> None:
    events = run([b"@PJL INFO ID"])
    assert [c.words for c in commands(events)] == [("ID",)]


def test_uel_then_pjl_on_the_same_line() -> None:
    events = run([UEL + b"@PJL \r\n@PJL INFO PAGECOUNT\r\n" + UEL])
    assert [c.words for c in commands(events)] == [("PAGECOUNT",)]


def test_pjl_text_inside_data_is_data() -> None:
    payload = b"%!PS\n(@PJL INFO ID) show\n@PJL ENTER LANGUAGE=PCL\n"
    events = run([UEL + b"@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" + payload + UEL])
    assert [c.name for c in commands(events)] == ["ENTER"]
    assert jobs(events) == [(JobStart(None, "POSTSCRIPT"), payload)]


# -- names and users ----------------------------------------------------------------------------


def test_job_name_and_set_username() -> None:
    stream = (
        UEL
        + b'@PJL JOB NAME="Job_12345"\r\n@PJL SET USERNAME = "Slim_Jim"\r\n'
        + b"@PJL ENTER LANGUAGE = POSTSCRIPT\r\n%!PS"
        + UEL
        + b"@PJL EOJ\r\n"
        + UEL
    )
    assert jobs(run([stream]))[0][0] == JobStart("Job_12345", "POSTSCRIPT", "Slim_Jim")


def test_set_jobname_without_job() -> None:
    stream = UEL + b'@PJL SET JOBNAME="report"\r\n@PJL ENTER LANGUAGE=PCL\r\nx' + UEL
    assert jobs(run([stream]))[0][0] == JobStart("report", "PCL", None)


@pytest.mark.parametrize(
    "line",
    [
        b'@PJL SET JOBATTR="@JOAU=alice"',
        b'@PJL SET JOBATTR="JobAcct1=alice"',
        b'@PJL SET JOBATTR="@USERNAME=alice"',
        b'@PJL SET USERNAME="alice"',
    ],
)
def test_user_from_set(line: bytes) -> None:
    stream = UEL + line + b"\r\n@PJL ENTER LANGUAGE=PCL\r\nx" + UEL
    assert jobs(run([stream]))[0][0].user == "alice"


def test_user_from_job_user_option() -> None:
    stream = UEL + b'@PJL JOB NAME="n" USER="carol"\r\n@PJL ENTER LANGUAGE=PCL\r\nx'
    assert jobs(run([stream]))[0][0] == JobStart("n", "PCL", "carol")


def test_other_jobattr_is_not_a_user() -> None:
    stream = UEL + b'@PJL SET JOBATTR="JobAcct2=HOST"\r\n@PJL ENTER LANGUAGE=PCL\r\nx'
    assert jobs(run([stream]))[0][0].user is None


def test_names_do_not_leak_into_the_next_job() -> None:
    stream = (
        UEL
        + b'@PJL SET USERNAME="bob"\r\n@PJL ENTER LANGUAGE=PCL\r\nfirst'
        + UEL
        + b"second"
        + UEL
        + b'@PJL SET USERNAME="eve"\r\n'
        + UEL
        + b"third"
    )
    assert [s.user for s, _d in jobs(run([stream]))] == ["bob", None, None]


# -- file data ------------------------------------------------------------------------------


def test_fsdownload_data_may_contain_anything() -> None:
    payload = b"\x00" + UEL + b"\r\n@PJL EOJ\r\n\xff"
    stream = (
        b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=%d NAME="0:/pcl/x"\r\n' % len(payload)
        + payload
        + b"\r\n@PJL ECHO DELIMITER7\r\n\r\n"
        + UEL
    )
    events = run_norm(stream)
    assert events[1:] == [
        ("file", payload),
        FileDataEnd(),
        ("cmd", b"@PJL ECHO DELIMITER7"),
    ]
    assert events[0] == ("cmd", b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=23 NAME="0:/pcl/x"')


def test_fsappend_then_uel_as_the_spec_shows() -> None:
    stream = UEL + b'@PJL FSAPPEND FORMAT:BINARY NAME="0:\\a" SIZE=3\r\nabc' + UEL
    assert run_norm(stream)[1:] == [("file", b"abc"), FileDataEnd()]


def test_fsdownload_of_zero_bytes() -> None:
    events = run([b'@PJL FSDOWNLOAD SIZE=0 NAME="0:/e"\r\n@PJL INFO ID\r\n'])
    assert [type(e) for e in events] == [Command, FileDataEnd, Command]


def test_fsdownload_without_size_skips_to_the_uel() -> None:
    stream = b'@PJL FSDOWNLOAD NAME="0:/e"\r\nnot a job, not a command' + UEL + b"@PJL INFO ID\r\n"
    events = run([stream])
    assert [c.name for c in commands(events)] == ["FSDOWNLOAD", "INFO"]
    assert jobs(events) == []
    assert not any(isinstance(e, FileData) for e in events)


def test_fsdownload_truncated_by_eof() -> None:
    events = run([b'@PJL FSDOWNLOAD SIZE=100 NAME="0:/e"\r\nonly this'])
    assert normalise(events)[1:] == [("file", b"only this"), FileDataEnd(truncated=True)]


def test_fsdownload_inside_a_pjl_job_does_not_start_a_print_job() -> None:
    stream = UEL + b'@PJL JOB\r\n@PJL FSDOWNLOAD SIZE=2 NAME="0:/e"\r\nhi@PJL EOJ\r\n' + UEL
    events = run([stream])
    assert jobs(events) == []
    assert [c.name for c in commands(events)] == ["JOB", "FSDOWNLOAD", "EOJ"]


# -- malformed and over-long lines ------------------------------------------------------------


def test_malformed_line_is_reported_and_the_stream_goes_on() -> None:
    events = run([UEL + b'@PJL JOB NAME="oops\r\n@PJL INFO ID\r\n' + UEL])
    assert isinstance(events[0], Malformed)
    assert events[0].line == b'@PJL JOB NAME="oops'
    assert events[0].code == StatusCode.MISSING_CLOSING_QUOTE
    assert [c.words for c in commands(events)] == [("ID",)]


def test_too_long_line_is_dropped_and_reported() -> None:
    long_line = b'@PJL COMMENT "' + b"x" * 5000 + b'"\r\n'
    events = run([UEL + long_line + b"@PJL INFO ID\r\n" + UEL])
    assert isinstance(events[0], Malformed)
    assert events[0].code == StatusCode.COMMAND_BUFFER_OVERFLOW
    assert len(events[0].line) <= 128
    assert [c.words for c in commands(events)] == [("ID",)]
    assert jobs(events) == []


def test_too_long_line_ended_by_uel() -> None:
    events = run([b"@PJL COMMENT " + b"y" * 100 + UEL + b"%!PS"], max_line=32)
    assert isinstance(events[0], Malformed)
    assert jobs(events) == [(JobStart(None, None), b"%!PS")]


def test_line_of_exactly_max_line_is_accepted() -> None:
    line = b"@PJL COMMENT " + b"z" * (64 - 13)
    assert len(line) == 64
    events = run([line + b"\n"], max_line=64)
    assert [c.kind for c in commands(events)] == [CommandKind.COMMENT]
    events = run([line + b"z\n"], max_line=64)
    assert isinstance(events[0], Malformed)


def test_long_line_is_never_buffered_without_bound() -> None:
    stream = RawStream(max_line=256)
    events = stream.feed(b"@PJL COMMENT ")
    for _ in range(1000):
        events += stream.feed(b"q" * 97)
        assert stream.pending_bytes <= 256 + len(UEL) - 1
    events += stream.feed(b"\n@PJL INFO ID\n")
    events += stream.eof()
    assert sum(isinstance(e, Malformed) for e in events) == 1
    assert [c.words for c in commands(events)] == [("ID",)]


def test_endless_blank_lines_are_bounded() -> None:
    stream = RawStream(max_line=64)
    events: list[Event] = []
    for _ in range(100):
        events += stream.feed(b"\r\n" * 10)
        assert stream.pending_bytes <= 64 + len(UEL) - 1
    events += stream.eof()
    # more blank bytes than a line can hold are print data after all: nothing is lost
    assert jobs(events) == [(JobStart(None, None), b"\r\n" * 1000)]


def test_max_line_must_be_sane() -> None:
    with pytest.raises(ValueError):
        RawStream(max_line=3)


def test_feed_after_eof_is_an_error() -> None:
    stream = RawStream()
    stream.eof()
    assert stream.eof() == []
    with pytest.raises(PjlError):
        stream.feed(b"x")


# -- chunking ---------------------------------------------------------------------------------

SAMPLE = (
    b"\r\n@PJL USTATUSOFF\r\n"
    + UEL
    + b'@PJL JOB NAME="j"\r\n@PJL SET USERNAME="u"\r\n'
    + b"@PJL ENTER LANGUAGE=PCL\r\n\x1bE\x1b%-1234 \x1b"
    + UEL
    + b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=12 NAME="0:/f"\r\n'
    + UEL
    + b"abc\r\n"
    + b"\r\n@PJL EOJ\r\n"
    + UEL
    + b"%!PS\x1b"
    + UEL
    + b"@PJL INFO ID"
    + UEL
    + b"\x1b%-12345"
)


def test_sample_events() -> None:
    events = run_norm(SAMPLE)
    assert events == [
        ("cmd", b"@PJL USTATUSOFF"),
        ("cmd", b'@PJL JOB NAME="j"'),
        ("cmd", b'@PJL SET USERNAME="u"'),
        ("cmd", b"@PJL ENTER LANGUAGE=PCL"),
        JobStart("j", "PCL", "u"),
        ("job", b"\x1bE\x1b%-1234 \x1b"),
        ("cmd", b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=12 NAME="0:/f"'),
        ("file", UEL + b"abc"),
        FileDataEnd(),
        ("cmd", b"@PJL EOJ"),
        JobEnd(),
        JobStart(None, None, None),
        ("job", b"%!PS\x1b"),
        JobEnd(),
        ("cmd", b"@PJL INFO ID"),
        JobStart(None, None, None),
        ("job", b"\x1b%-12345"),
        JobEnd(),
    ]


def test_uel_split_at_every_offset() -> None:
    whole = run_norm(SAMPLE)
    for cut in range(len(SAMPLE) + 1):
        assert normalise(run([SAMPLE[:cut], SAMPLE[cut:]])) == whole, cut


def test_split_at_every_pair_of_offsets() -> None:
    data = UEL + b"@PJL ENTER LANGUAGE=PCL\r\nAB" + UEL + b"@PJL INFO ID\r\n" + UEL + b"C"
    whole = run_norm(data)
    for a, b in itertools.combinations(range(len(data) + 1), 2):
        assert normalise(run([data[:a], data[a:b], data[b:]])) == whole, (a, b)


def test_one_byte_at_a_time() -> None:
    assert normalise(run([bytes([b]) for b in SAMPLE])) == run_norm(SAMPLE)


def test_long_pjl_line_split_across_big_feeds() -> None:
    line = b"@PJL COMMENT " + b"k" * 3000 + b"\r\n"
    body = b"D" * 50_000
    data = line + b"@PJL ENTER LANGUAGE=PCL\r\n" + body
    whole = run_norm(data)
    for cut in (5, 1000, 2999, 3014, 3020, 3040, 20_000):
        assert normalise(run([data[:cut], data[cut:]])) == whole


def test_data_mode_is_zero_copy() -> None:
    stream = RawStream()
    stream.feed(UEL + b"@PJL ENTER LANGUAGE=PCL\r\n")
    chunk = b"P" * 65536
    events = stream.feed(chunk)
    assert len(events) == 2  # JobStart, JobData
    assert isinstance(events[1], JobData)
    assert events[1].data is chunk
    events = stream.feed(chunk)
    assert len(events) == 1
    assert isinstance(events[0], JobData)
    assert events[0].data is chunk


def test_memoryview_input_is_not_aliased() -> None:
    buffer = bytearray(b"%!PS hello")
    stream = RawStream()
    events = stream.feed(memoryview(buffer))
    buffer[:] = b"XXXXXXXXXX"
    events += stream.eof()
    assert jobs(events) == [(JobStart(None, None), b"%!PS hello")]


def test_bytearray_input() -> None:
    assert jobs(run([bytearray(b"%!PS")]))[0][1] == b"%!PS"  # type: ignore[list-item]


# -- properties -------------------------------------------------------------------------------


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


_tokens = st.sampled_from(
    [
        UEL,
        UEL[:4],
        UEL[4:],
        b"\r\n",
        b"\n",
        b" ",
        b"@PJL",
        b"@pjl ",
        b"@PJL INFO ID\r\n",
        b'@PJL JOB NAME="n"\r\n',
        b"@PJL EOJ\r\n",
        b"@PJL ENTER LANGUAGE=PCL\r\n",
        b'@PJL SET USERNAME="u"\n',
        b'@PJL FSDOWNLOAD SIZE=3 NAME="0:/a"\r\n',
        b'@PJL FSAPPEND NAME="0:/a"\r\n',
        b'@PJL JOB NAME="x\r\n',
        b"%!PS",
        b"\x1bE",
        b"\x00\xff",
        b"data",
    ]
)
_streams = st.one_of(
    st.binary(max_size=400),
    st.lists(_tokens | st.binary(max_size=12), max_size=40).map(b"".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), stream=_streams, max_line=st.sampled_from([16, 40, 4096]))
def test_any_bytes_any_chunking(data: st.DataObject, stream: bytes, max_line: int) -> None:
    parts = data.draw(chunked(stream))
    events = run(parts, max_line)  # must not raise
    assert all(isinstance(e, EVENT_TYPES) for e in events)
    # chunking never changes the meaning
    assert normalise(events) == run_norm(stream, max_line)
    # jobs are well formed: Start ... Data/Segment ... End, never nested, always closed
    jobs(events)
    # file data never exceeds the SIZE announced, and always ends
    open_file = False
    for ev in events:
        if isinstance(ev, FileData):
            assert open_file
        elif isinstance(ev, FileDataEnd):
            open_file = False
        elif isinstance(ev, Command) and ev.cmd.kind in (
            CommandKind.FSDOWNLOAD,
            CommandKind.FSAPPEND,
        ):
            size = ev.cmd.get_int("SIZE")
            open_file = bool(size)
    assert not open_file


def _pjl_free(stream: bytes) -> bool:
    blank_stripped = stream.lstrip(b" \t\r\n")
    return UEL not in stream and not blank_stripped.upper().startswith(b"@PJL")


@settings(max_examples=300, deadline=None)
@given(data=st.data(), stream=st.binary(max_size=600), max_line=st.sampled_from([16, 64, 4096]))
def test_pjl_free_streams_come_out_unchanged(
    data: st.DataObject, stream: bytes, max_line: int
) -> None:
    assume(_pjl_free(stream))
    events = run(data.draw(chunked(stream)), max_line)
    found = jobs(events)
    if stream.strip(b" \t\r\n") or len(stream) > max_line:
        assert len(found) == 1
        assert found[0][1] == stream
    else:
        assert found == []
    assert not any(isinstance(e, Command | Malformed | FileData) for e in events)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), body=st.binary(max_size=2000))
def test_data_after_enter_is_exact(data: st.DataObject, body: bytes) -> None:
    assume(UEL not in body)
    stream = UEL + b"@PJL ENTER LANGUAGE=PDF\r\n" + body + UEL + b"@PJL INFO ID\r\n"
    events = run(data.draw(chunked(stream)))
    found = jobs(events)
    if body.strip(b" \t\r\n"):
        assert found == [(JobStart(None, "PDF"), body)]
    else:
        assert found == []
    assert [c.name for c in commands(events)][-1] == "INFO"


@settings(max_examples=200, deadline=None)
@given(data=st.data(), payload=st.binary(max_size=300))
def test_file_data_is_exact(data: st.DataObject, payload: bytes) -> None:
    stream = b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=%d NAME="0:/x"\r\n' % len(payload) + payload + UEL
    events = normalise(run(data.draw(chunked(stream))))
    expected_file = [("file", payload)] if payload else []
    assert events[1:] == [*expected_file, FileDataEnd()]


# ---------------------------------------------------------------------------------------------
# replies


def test_format_info_id() -> None:
    assert format_info_id("HP LaserJet 4250") == b'@PJL INFO ID\r\n"HP LaserJet 4250"\r\n\x0c'


def test_format_info_status() -> None:
    assert format_info_status(StatusCode.READY, "00 READY", True) == (
        b'@PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY="00 READY"\r\nONLINE=TRUE\r\n\x0c'
    )
    assert b"ONLINE=FALSE\r\n" in format_info_status(40022, "13 PAPER JAM", False)


def test_format_info_generic_and_unknown() -> None:
    assert (
        format_info("PAGECOUNT", ["PAGECOUNT=1234"])
        == b"@PJL INFO PAGECOUNT\r\nPAGECOUNT=1234\r\n\x0c"
    )
    assert format_info("CONFIG", [b"RAW LINE"]) == b"@PJL INFO CONFIG\r\nRAW LINE\r\n\x0c"
    assert format_info_unknown("LOG") == b'@PJL INFO LOG\r\n"?"\r\n\x0c'


def test_format_info_filesys() -> None:
    reply = format_info_filesys([FilesysVolume("0:", 1755136, 1718272, "DISK", "", "READ-WRITE")])
    assert reply == (
        b"@PJL INFO FILESYS [2 TABLE]\r\n"
        b"\tVOLUME\tTOTAL SIZE\tFREE SPACE\tLOCATION\tLABEL\tSTATUS\r\n"
        b"\t0:\t1755136\t1718272\tDISK\t\tREAD-WRITE\r\n\x0c"
    )


def test_format_inquire() -> None:
    assert format_inquire("COPIES", 2) == b"@PJL INQUIRE COPIES\r\n2\r\n\x0c"
    assert format_inquire("PAPER", "A4", default=True) == b"@PJL DINQUIRE PAPER\r\nA4\r\n\x0c"
    assert format_inquire("NOSUCH", None) == b"@PJL INQUIRE NOSUCH\r\n?\r\n\x0c"


def test_format_echo() -> None:
    assert format_echo("DELIMITER123") == b"@PJL ECHO DELIMITER123\r\n\x0c"
    assert format_echo("") == b"@PJL ECHO\r\n\x0c"
    assert format_echo("a\r\nb\x0c") == b"@PJL ECHO a  b \r\n\x0c"


def test_format_ustatus_device() -> None:
    assert format_ustatus("device", StatusCode.TONER_LOW, "16 TONER LOW", True) == (
        b'@PJL USTATUS DEVICE\r\nCODE=10006\r\nDISPLAY="16 TONER LOW"\r\nONLINE=TRUE\r\n\x0c'
    )


def test_format_ustatus_job_and_page() -> None:
    assert (
        format_ustatus_job_start("JOB 14993")
        == b'@PJL USTATUS JOB\r\nSTART\r\nNAME="JOB 14993"\r\n\x0c'
    )
    assert format_ustatus_job_end("JOB 14993", 3) == (
        b'@PJL USTATUS JOB\r\nEND\r\nNAME="JOB 14993"\r\nPAGES=3\r\n\x0c'
    )
    assert format_ustatus_job_start(None) == b"@PJL USTATUS JOB\r\nSTART\r\n\x0c"
    assert format_ustatus_job_end(None, 0) == b"@PJL USTATUS JOB\r\nEND\r\nPAGES=0\r\n\x0c"
    assert format_ustatus_page(4) == b"@PJL USTATUS PAGE\r\n4\r\n\x0c"


def test_format_fsdirlist() -> None:
    entries = [DirEntry(".", True), DirEntry("..", True), DirEntry("invoice.prn", False, 1619)]
    assert format_fsdirlist("0:\\pcl\\macros", entries) == (
        b'@PJL FSDIRLIST NAME="0:\\pcl\\macros" ENTRY=1\r\n'
        b". TYPE=DIR\r\n.. TYPE=DIR\r\ninvoice.prn TYPE=FILE SIZE=1619\r\n\x0c"
    )


def test_format_fsquery() -> None:
    assert format_fsquery("0:\\pcl\\file1", DirEntry("file1", False, 42)) == (
        b'@PJL FSQUERY NAME="0:\\pcl\\file1" TYPE=FILE SIZE=42\r\n\x0c'
    )
    assert (
        format_fsquery("0:\\pcl", DirEntry("pcl", True))
        == b'@PJL FSQUERY NAME="0:\\pcl" TYPE=DIR\r\n\x0c'
    )


def test_format_fsupload() -> None:
    data = b"\x00\x0c\r\nbinary"
    assert format_fsupload("0:\\f", 25, data) == (
        b'@PJL FSUPLOAD FORMAT:BINARY NAME="0:\\f" OFFSET=25 SIZE=10\r\n' + data + b"\x0c"
    )
    assert format_fsupload_header("0:\\f", 0, 5).endswith(b"SIZE=5\r\n")


def test_format_fileerror() -> None:
    expected = b'@PJL FSQUERY NAME="0:\\nope"\r\nFILEERROR=3\r\n\x0c'
    assert format_fileerror(FileError.FILE_NOT_FOUND, "FSQUERY", "0:\\nope") == expected
    assert format_fileerror(32003, "fsquery", "0:\\nope") == expected
    assert (
        format_fileerror(FileError.ILLEGAL_NAME, "FSDELETE")
        == b"@PJL FSDELETE\r\nFILEERROR=7\r\n\x0c"
    )


def test_strings_in_replies_cannot_break_the_framing() -> None:
    reply = format_info_status(10001, 'say "hi"\r\n\x0c', True)
    assert reply.count(b"\x0c") == 1
    assert b"DISPLAY=\"say 'hi'   \"" in reply
    reply = format_fsquery('0:\\a"b\x0c', DirEntry("x", True))
    assert reply.count(b"\x0c") == 1
    assert format_info_id("Ünïcode ☃").startswith(b'@PJL INFO ID\r\n"\xdcn\xefcode ?"')


@pytest.mark.parametrize(
    "reply",
    [
        format_info_id("M"),
        format_info_status(10001, "READY", True),
        format_inquire("X", 1),
        format_echo("e"),
        format_ustatus("TIMED", 10001, "READY", True),
        format_ustatus_job_end("n", 1),
        format_fsdirlist("0:", [DirEntry("a", False, 1)]),
        format_fsquery("0:\\a", DirEntry("a", False, 1)),
        format_fileerror(FileError.DISK_FULL, "FSDOWNLOAD", "0:\\a"),
        format_info_filesys([FilesysVolume("0:", 1, 1)]),
    ],
)
def test_replies_end_with_form_feed_and_use_crlf(reply: bytes) -> None:
    assert reply.endswith(b"\r\n\x0c")
    assert b"\n" not in reply.replace(b"\r\n", b"")
    first = reply.split(b"\r\n", 1)[0]
    assert parse_command(first).kind is not CommandKind.NOOP  # the echo line is itself PJL


def test_status_codes_from_appendix_d() -> None:
    assert int(StatusCode.READY) == 10001
    assert int(StatusCode.READY_OFFLINE) == 10002
    assert int(StatusCode.TONER_LOW) == 10006
    assert int(StatusCode.PROCESSING_JOB) == 10023
    assert int(StatusCode.DOOR_OPEN) == 40021
    assert int(StatusCode.PAPER_JAM) == 40022
    assert int(StatusCode.TONER_LOW_STOPPED) == 40038
    assert int(StatusCode.EOJ_WITHOUT_JOB) == 27002
    assert FileError.FILE_NOT_FOUND.status_code == 32003
    assert int(FileError.ILLEGAL_NAME) == 7


def test_paper_mount_codes() -> None:
    assert foreground_paper_mount(2, MediaCode.A4) == 41204
    assert foreground_paper_mount(1, MediaCode.LETTER) == 41102
    assert background_paper_mount(3, MediaCode.LEGAL) == 11303
    with pytest.raises(ValueError):
        foreground_paper_mount(10, 2)
    with pytest.raises(ValueError):
        background_paper_mount(1, 100)
