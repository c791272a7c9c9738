"""Unit tests of the sandboxed PJL file system (mfpd.services.pjl_volume)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.codecs.pjl import (
    UEL,
    Command,
    DirEntry,
    FileData,
    FileDataEnd,
    FileError,
    FilesysVolume,
    RawStream,
    format_fsdirlist,
    format_fsupload,
)
from mfpd.services.pjl_volume import PjlPath, PjlVolume, VolumeError, VolumeWriter

QUOTA = 10_000


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A directory holding the volume root and, beside it, files that must stay untouched."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"top secret")
    return tmp_path


@pytest.fixture
def vol(box: Path) -> PjlVolume:
    return PjlVolume(box / "state" / "pjlfs", QUOTA)


def error_code(fn: Callable[[], object]) -> FileError:
    with pytest.raises(VolumeError) as info:
        fn()
    return info.value.code


def snapshot(path: Path) -> dict[str, bytes | None]:
    """Every entry under ``path`` with its content, to prove nothing changed."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirs, files in os.walk(path):
        for d in dirs:
            out[os.path.join(dirpath, d)] = None
        for f in files:
            p = os.path.join(dirpath, f)
            out[p] = None if os.path.islink(p) else Path(p).read_bytes()
    return out


# -- layout and names -----------------------------------------------------------------------


def test_layout(vol: PjlVolume, box: Path) -> None:
    assert vol.root == (box / "state" / "pjlfs").resolve()
    assert (vol.root / "0").is_dir()
    assert vol.volumes == ("0:",)
    assert vol.quota_bytes == QUOTA
    assert vol.used_bytes == 0
    assert vol.free_bytes == QUOTA


def test_volume_names_are_checked(box: Path) -> None:
    with pytest.raises(ValueError):
        PjlVolume(box / "v", 10, ("../",))
    with pytest.raises(ValueError):
        PjlVolume(box / "v", 10, ())
    with pytest.raises(ValueError):
        PjlVolume(box / "v", -1)
    v = PjlVolume(box / "v", 10, ("0:", "1:", "0:"))
    assert v.volumes == ("0:", "1:")


@pytest.mark.parametrize(
    ("name", "volume", "parts"),
    [
        ("0:", "0:", ()),
        ("0:\\", "0:", ()),
        ("0:/", "0:", ()),
        ("0:\\pcl\\macros", "0:", ("pcl", "macros")),
        ("0:/pcl/macros/", "0:", ("pcl", "macros")),
        ("0:\\\\pcl//\\macros", "0:", ("pcl", "macros")),
        ("0:pcl", "0:", ("pcl",)),
        ("0:/a/./b/../c", "0:", ("a", "c")),
        ("0:\\My/Dir\\Gen/Dir", "0:", ("My", "Dir", "Gen", "Dir")),
        ("0:/Name: HP Logo; Version: 7.9", "0:", ("Name: HP Logo; Version: 7.9",)),
        ("0:/caf\xe9", "0:", ("caf\xe9",)),
        ("0:/%2e%2e", "0:", ("%2e%2e",)),
        ("0:/...", "0:", ("...",)),
    ],
)
def test_parse(vol: PjlVolume, name: str, volume: str, parts: tuple[str, ...]) -> None:
    path = vol.parse(name)
    assert path == PjlPath(volume, parts)


def test_path_text() -> None:
    assert str(PjlPath("0:", ("a", "b"))) == "0:\\a\\b"
    assert PjlPath("0:", ()).name == "0:"
    assert PjlPath("0:", ()).is_root


# Every spelling of "somewhere else" a PJL client might try (PRET's traversal, host paths,
# encodings, over-long names, control characters).
ESCAPES = [
    "0:/../../etc/passwd",
    "0:\\..\\..\\etc\\passwd",
    "0:..",
    "0:/..",
    "0:\\..",
    "0:/../",
    "0:/a/../../secret",
    "0:/./../outside/secret",
    "0:\\\\..\\\\..\\\\outside",
    "0:/..\\..\\outside/secret",
    "0:/a/b/c/../../../../x",
    "/etc/passwd",
    "\\etc\\passwd",
    "etc/passwd",
    "../outside/secret",
    "..\\outside",
    ":/etc/passwd",
    "C:\\Windows\\win.ini",
    "1:/x",
    "//server/share",
    "0:/x\x00y",
    "0:/\x00",
    "\x00",
    "",
    "0",
    "0:/x\ty",
    "0:/x\ny",
    "0:/\x7f",
    "0:/" + "a" * 101,
    "0:" + "/ab" * 90,
    "0:/ lead",
    "0:/trail ",
    "0:/\xe5x",
    "0:/x\u0100",
    "0:/\u2025/\u2025/etc/passwd",
    "0:/" + "/".join("abcdefghij"),
]


@pytest.mark.parametrize("name", ESCAPES)
def test_escapes_are_rejected_everywhere(vol: PjlVolume, box: Path, name: str) -> None:
    vol.mkdir("0:/a")
    vol.mkdir("0:/a/b")
    vol.mkdir("0:/a/b/c")
    before = snapshot(box)
    ops: list[Callable[[], object]] = [
        lambda: vol.parse(name),
        lambda: vol.query(name),
        lambda: vol.dirlist(name),
        lambda: vol.upload(name),
        lambda: vol.download(name, b"pwned"),
        lambda: vol.append(name, b"pwned"),
        lambda: vol.mkdir(name),
        lambda: vol.delete(name),
    ]
    for op in ops:
        assert error_code(op) in (FileError.ILLEGAL_NAME, FileError.VOLUME_NOT_AVAILABLE), name
    assert snapshot(box) == before
    assert (box / "outside" / "secret").read_bytes() == b"top secret"


def test_non_string_name(vol: PjlVolume) -> None:
    assert error_code(lambda: vol.parse(b"0:/x")) is FileError.ILLEGAL_NAME  # type: ignore[arg-type]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(max_size=60)
    | st.lists(st.sampled_from(["0:", "..", ".", "/", "\\", "a", "\x00", " "])).map("".join)
)
def test_parsed_paths_stay_inside(vol: PjlVolume, name: str) -> None:
    try:
        path = vol.parse(name)
    except VolumeError as exc:
        assert isinstance(exc.code, FileError)
        return
    assert path.volume in vol.volumes
    host = vol.root / path.volume[0]
    for part in path.parts:
        assert part not in ("", ".", "..")
        assert "/" not in part and "\\" not in part and "\x00" not in part
        host = host / part
    assert os.path.normpath(host).startswith(str(vol.root) + os.sep)


# -- symbolic links planted on the host --------------------------------------------------------


def test_symlinks_are_never_followed(vol: PjlVolume, box: Path) -> None:
    vdir = vol.root / "0"
    os.symlink(box / "outside", vdir / "dirlink")
    os.symlink(box / "outside" / "secret", vdir / "filelink")
    os.symlink("../../../outside", vdir / "rellink")
    before = snapshot(box / "outside")
    for name in (
        "0:/dirlink",
        "0:/filelink",
        "0:/rellink",
        "0:/dirlink/secret",
        "0:/rellink/secret",
    ):
        ops: list[Callable[[str], object]] = [
            vol.query,
            vol.dirlist,
            vol.upload,
            lambda n: vol.download(n, b"pwned"),
            lambda n: vol.append(n, b"pwned"),
            vol.delete,
            lambda n: vol.mkdir(n + "/sub"),
        ]
        for op in ops:
            with pytest.raises(VolumeError) as info:
                op(name)
            assert info.value.code is FileError.ILLEGAL_NAME, name
    assert error_code(lambda: vol.mkdir("0:/dirlink")) is FileError.ILLEGAL_NAME
    assert snapshot(box / "outside") == before
    # links are not listed: a client cannot even see them
    assert [e.name for e in vol.dirlist("0:")] == ["."]


def test_symlinked_volume_directory_is_refused(box: Path) -> None:
    root = box / "fs"
    root.mkdir()
    os.symlink(box / "outside", root / "0")
    vol = PjlVolume(root, QUOTA)
    assert error_code(lambda: vol.query("0:/secret")) is FileError.VOLUME_NOT_AVAILABLE
    assert error_code(lambda: vol.download("0:/x", b"1")) is FileError.VOLUME_NOT_AVAILABLE
    assert not (box / "outside" / "x").exists()


# -- the commands -----------------------------------------------------------------------------


def test_download_query_upload(vol: PjlVolume) -> None:
    vol.mkdir("0:\\pcl")
    vol.download("0:\\pcl\\macro", b"0123456789")
    assert vol.query("0:/pcl/macro") == DirEntry("macro", False, 10)
    assert vol.query("0:/pcl") == DirEntry("pcl", True)
    assert vol.query("0:") == DirEntry("0:", True)
    assert vol.upload("0:/pcl/macro") == b"0123456789"
    assert vol.upload("0:/pcl/macro", 3, 4) == b"3456"
    assert vol.upload("0:/pcl/macro", 8, 100) == b"89"  # PJLTRM 9: the rest of the file
    assert vol.upload("0:/pcl/macro", 50, 10) == b""
    assert vol.upload("0:/pcl/macro", 0, 0) == b""
    assert vol.used_bytes == 10
    assert (vol.root / "0" / "pcl" / "macro").read_bytes() == b"0123456789"


def test_download_replaces(vol: PjlVolume) -> None:
    vol.download("0:/f", b"old contents")
    vol.download("0:/f", b"new")
    assert vol.upload("0:/f") == b"new"
    assert vol.used_bytes == 3


def test_append(vol: PjlVolume) -> None:
    vol.append("0:/log", b"one ")
    vol.append("0:/log", b"two")
    assert vol.upload("0:/log") == b"one two"
    assert vol.used_bytes == 7


def test_dirlist(vol: PjlVolume) -> None:
    vol.mkdir("0:/pcl")
    vol.mkdir("0:/pcl/sub")
    for name, size in (("b.prn", 2), ("a.prn", 1), ("c.prn", 3)):
        vol.download(f"0:/pcl/{name}", b"x" * size)
    assert vol.dirlist("0:/pcl") == [
        DirEntry(".", True),
        DirEntry("..", True),
        DirEntry("a.prn", False, 1),
        DirEntry("b.prn", False, 2),
        DirEntry("c.prn", False, 3),
        DirEntry("sub", True),
    ]
    assert vol.dirlist("0:/") == [DirEntry(".", True), DirEntry("pcl", True)]
    assert [e.name for e in vol.dirlist("0:/pcl", entry=3, count=2)] == ["a.prn", "b.prn"]
    assert vol.dirlist("0:/pcl", entry=99) == []
    assert vol.dirlist("0:/pcl", count=0) == []
    assert error_code(lambda: vol.dirlist("0:/pcl", entry=0)) is FileError.INVALID_PARAMETER


def test_dirlist_hides_foreign_files(vol: PjlVolume) -> None:
    vdir = vol.root / "0"
    (vdir / " hidden").write_bytes(b"x")
    os.mkfifo(vdir / "fifo")
    assert vol.dirlist("0:") == [DirEntry(".", True)]
    assert error_code(lambda: vol.upload("0:/fifo")) is FileError.FILE_NOT_FOUND


def test_mkdir(vol: PjlVolume) -> None:
    vol.mkdir("0:/d")
    vol.mkdir("0:/d")  # already there: fine
    vol.mkdir("0:")
    vol.download("0:/f", b"1")
    assert error_code(lambda: vol.mkdir("0:/f")) is FileError.FILE_ALREADY_EXISTS
    assert error_code(lambda: vol.mkdir("0:/missing/d")) is FileError.FILE_NOT_FOUND
    assert error_code(lambda: vol.mkdir("0:/f/d")) is FileError.DIRECTORY_OP_ON_FILE


def test_delete(vol: PjlVolume) -> None:
    vol.mkdir("0:/d")
    vol.download("0:/d/f", b"12345")
    assert error_code(lambda: vol.delete("0:/d")) is FileError.DIRECTORY_NOT_EMPTY
    vol.delete("0:/d/f")
    assert vol.used_bytes == 0
    vol.delete("0:\\d\\")
    assert error_code(lambda: vol.query("0:/d")) is FileError.FILE_NOT_FOUND
    assert error_code(lambda: vol.delete("0:/d")) is FileError.FILE_NOT_FOUND
    assert error_code(lambda: vol.delete("0:")) is FileError.CANT_DELETE_ROOT
    assert error_code(lambda: vol.delete("0:/..")) is FileError.ILLEGAL_NAME


def test_kind_errors(vol: PjlVolume) -> None:
    vol.mkdir("0:/d")
    vol.download("0:/f", b"1")
    assert error_code(lambda: vol.query("0:/nope")) is FileError.FILE_NOT_FOUND
    assert error_code(lambda: vol.dirlist("0:/nope")) is FileError.FILE_NOT_FOUND
    assert error_code(lambda: vol.dirlist("0:/f")) is FileError.DIRECTORY_OP_ON_FILE
    assert error_code(lambda: vol.query("0:/f/x")) is FileError.DIRECTORY_OP_ON_FILE
    assert error_code(lambda: vol.upload("0:/d")) is FileError.FILE_OP_ON_DIRECTORY
    assert error_code(lambda: vol.upload("0:")) is FileError.FILE_OP_ON_DIRECTORY
    assert error_code(lambda: vol.upload("0:/nope")) is FileError.FILE_NOT_FOUND
    assert error_code(lambda: vol.upload("0:/f", -1)) is FileError.INVALID_PARAMETER
    assert error_code(lambda: vol.download("0:/d", b"x")) is FileError.FILE_OP_ON_DIRECTORY
    assert error_code(lambda: vol.download("0:", b"x")) is FileError.FILE_OP_ON_DIRECTORY
    assert error_code(lambda: vol.append("0:/d", b"x")) is FileError.FILE_OP_ON_DIRECTORY
    assert error_code(lambda: vol.download("0:/nope/f", b"x")) is FileError.FILE_NOT_FOUND
    assert error_code(lambda: vol.begin_download("0:/g", -1)) is FileError.INVALID_NUMBER_OF_BYTES


def test_init(vol: PjlVolume) -> None:
    vol.mkdir("0:/d")
    vol.download("0:/d/f", b"12345")
    vol.init("0:")
    assert vol.dirlist("0:") == [DirEntry(".", True)]
    assert vol.used_bytes == 0
    vol.download("0:/g", b"1")
    vol.init("0")
    assert vol.used_bytes == 0
    assert error_code(lambda: vol.init("1:")) is FileError.VOLUME_NOT_AVAILABLE


def test_init_keeps_outside_of_links(vol: PjlVolume, box: Path) -> None:
    os.symlink(box / "outside", vol.root / "0" / "link")
    vol.init("0:")
    assert (box / "outside" / "secret").read_bytes() == b"top secret"


def test_init_refused_during_a_download(vol: PjlVolume) -> None:
    writer = vol.begin_download("0:/f", 3)
    assert error_code(lambda: vol.init("0:")) is FileError.GENERAL_ERROR
    writer.abort()
    vol.init("0:")


def test_several_volumes(box: Path) -> None:
    vol = PjlVolume(box / "fs", QUOTA, ("0:", "1:"))
    vol.download("1:/x", b"abc")
    assert vol.query("1:\\x").size == 3
    assert error_code(lambda: vol.query("0:/x")) is FileError.FILE_NOT_FOUND
    assert vol.filesys() == [
        FilesysVolume("0:", QUOTA, QUOTA - 3, "DISK"),
        FilesysVolume("1:", QUOTA, QUOTA - 3, "DISK"),
    ]


def test_usage_is_counted_on_start(box: Path) -> None:
    root = box / "fs"
    (root / "0" / "d").mkdir(parents=True)
    (root / "0" / "d" / "f").write_bytes(b"x" * 100)
    os.symlink(box / "outside" / "secret", root / "0" / "link")
    assert PjlVolume(root, QUOTA).used_bytes == 100


# -- quota and roll-back ------------------------------------------------------------------------


def test_quota_on_download(vol: PjlVolume) -> None:
    assert error_code(lambda: vol.download("0:/big", b"x" * (QUOTA + 1))) is FileError.DISK_FULL
    assert error_code(lambda: vol.query("0:/big")) is FileError.FILE_NOT_FOUND
    vol.download("0:/a", b"x" * 6000)
    assert error_code(lambda: vol.download("0:/b", b"x" * 5000)) is FileError.DISK_FULL
    vol.download("0:/a", b"y" * QUOTA)  # replacing counts the bytes it frees
    assert vol.used_bytes == QUOTA
    assert vol.free_bytes == 0
    vol.download("0:/a", b"z")
    assert vol.used_bytes == 1
    assert os.listdir(vol.root / "0") == ["a"]


def test_quota_on_append(vol: PjlVolume) -> None:
    vol.append("0:/log", b"x" * 9000)
    assert error_code(lambda: vol.append("0:/log", b"y" * 1001)) is FileError.DISK_FULL
    assert vol.upload("0:/log") == b"x" * 9000
    vol.append("0:/log", b"y" * 1000)
    assert vol.used_bytes == QUOTA


def test_reservations_count_against_the_quota(vol: PjlVolume) -> None:
    first = vol.begin_download("0:/a", 6000)
    assert vol.free_bytes == 4000
    assert error_code(lambda: vol.begin_download("0:/b", 5000)) is FileError.DISK_FULL
    first.abort()
    assert vol.free_bytes == QUOTA
    second = vol.begin_download("0:/b", 5000)
    second.write(b"x" * 5000)
    second.commit()
    assert vol.used_bytes == 5000


def test_streamed_download_is_invisible_until_commit(vol: PjlVolume) -> None:
    vol.download("0:/f", b"old")
    writer = vol.begin_download("0:/f", 6)
    writer.write(b"new")
    assert vol.upload("0:/f") == b"old"
    assert [e.name for e in vol.dirlist("0:")] == [".", "f"]  # the temporary file is hidden
    writer.write(memoryview(b"er!"))
    assert writer.written == 6
    writer.commit()
    assert vol.upload("0:/f") == b"newer!"
    assert os.listdir(vol.root / "0") == ["f"]


def test_aborted_download_leaves_nothing(vol: PjlVolume) -> None:
    vol.download("0:/f", b"old")
    writer = vol.begin_download("0:/f", 100)
    writer.write(b"partial")
    writer.abort()
    writer.abort()  # twice is harmless
    assert vol.upload("0:/f") == b"old"
    assert os.listdir(vol.root / "0") == ["f"]
    assert vol.used_bytes == 3
    assert vol.free_bytes == QUOTA - 3


def test_aborted_append_is_cut_back(vol: PjlVolume) -> None:
    vol.append("0:/log", b"keep")
    writer = vol.begin_download("0:/log", 10, append=True)
    writer.write(b"drop")
    writer.abort()
    assert vol.upload("0:/log") == b"keep"
    assert vol.used_bytes == 4


def test_aborted_append_to_a_new_file_removes_it(vol: PjlVolume) -> None:
    writer = vol.begin_download("0:/new", 10, append=True)
    writer.write(b"drop")
    writer.abort()
    assert error_code(lambda: vol.query("0:/new")) is FileError.FILE_NOT_FOUND


def test_aborted_append_to_an_empty_file_keeps_it(vol: PjlVolume) -> None:
    vol.append("0:/empty", b"")
    writer = vol.begin_download("0:/empty", 3, append=True)
    writer.write(b"abc")
    writer.abort()
    assert vol.query("0:/empty") == DirEntry("empty", False, 0)


def test_too_many_bytes_roll_back(vol: PjlVolume) -> None:
    writer = vol.begin_download("0:/f", 3)
    assert error_code(lambda: writer.write(b"four")) is FileError.INVALID_NUMBER_OF_BYTES
    assert error_code(lambda: writer.write(b"x")) is FileError.GENERAL_ERROR
    assert error_code(lambda: vol.query("0:/f")) is FileError.FILE_NOT_FOUND
    assert os.listdir(vol.root / "0") == []


def test_too_few_bytes_roll_back(vol: PjlVolume) -> None:
    writer = vol.begin_download("0:/f", 3)
    writer.write(b"ab")
    assert error_code(writer.commit) is FileError.INVALID_NUMBER_OF_BYTES
    assert error_code(writer.commit) is FileError.GENERAL_ERROR
    assert os.listdir(vol.root / "0") == []
    assert vol.free_bytes == QUOTA


def test_context_manager_aborts_on_error(vol: PjlVolume) -> None:
    with pytest.raises(RuntimeError), vol.begin_download("0:/f", 3) as writer:
        writer.write(b"ab")
        raise RuntimeError("connection lost")
    assert os.listdir(vol.root / "0") == []
    with vol.begin_download("0:/f", 2) as writer:
        assert isinstance(writer, VolumeWriter)
        assert writer.path == PjlPath("0:", ("f",))
        assert writer.size == 2
        writer.write(b"ok")
    assert vol.upload("0:/f") == b"ok"


def test_files_are_private(vol: PjlVolume) -> None:
    vol.mkdir("0:/d")
    vol.download("0:/d/f", b"x")
    assert (vol.root / "0" / "d").stat().st_mode & 0o077 == 0
    assert (vol.root / "0" / "d" / "f").stat().st_mode & 0o077 == 0


# -- with the codec -------------------------------------------------------------------------


def test_pret_put_and_get_through_the_codec(vol: PjlVolume) -> None:
    payload = bytes(range(256)) + UEL + b"\r\n\x0c"
    session = (
        b'@PJL FSDOWNLOAD FORMAT:BINARY SIZE=%d NAME="0:/pret/file"\r\n' % len(payload)
        + payload
        + b"\r\n@PJL ECHO DELIMITER1\r\n\r\n"
        + UEL
    )
    vol.mkdir("0:/pret")
    stream = RawStream()
    writer: VolumeWriter | None = None
    events = []
    for i in range(0, len(session), 7):  # small TCP segments
        events += stream.feed(session[i : i + 7])
    events += stream.eof()
    for ev in events:
        if isinstance(ev, Command) and ev.cmd.name == "FSDOWNLOAD":
            size = ev.cmd.get_int("SIZE")
            name = ev.cmd.get("NAME")
            assert size is not None and name is not None
            writer = vol.begin_download(name, size)
        elif isinstance(ev, FileData):
            assert writer is not None
            writer.write(ev.data)
        elif isinstance(ev, FileDataEnd):
            assert writer is not None and not ev.truncated
            writer.commit()
    assert vol.upload("0:\\pret\\file") == payload
    reply = format_fsupload("0:\\pret\\file", 0, vol.upload("0:/pret/file"))
    assert reply.endswith(payload + b"\x0c")
    listing = format_fsdirlist("0:\\pret", vol.dirlist("0:/pret"))
    assert f"file TYPE=FILE SIZE={len(payload)}\r\n".encode() in listing
