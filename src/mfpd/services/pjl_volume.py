"""The sandboxed PJL file system ("0:") behind FSDIRLIST, FSQUERY, FSUPLOAD, FSDOWNLOAD,
FSAPPEND, FSDELETE, FSMKDIR and FSINIT (HP PJL Technical Reference, chapter 9).

The files are real files under ``root`` (in the daemon's state dir), one directory per volume
(``0:`` is ``root/0``). PJL clients are hostile by default (PRET's ``0:/../../etc/passwd``),
so every path is normalised strictly and every host access walks down from the volume
directory one component at a time with ``openat`` and ``O_NOFOLLOW``: no ``..`` that leaves a
volume, no absolute host path, no NUL, and no symbolic link is ever followed, even one planted
on the host after the name was checked. Errors are `VolumeError` with the PJL ``FILEERROR``
number (PJLTRM 9, appendix D "32xxx"). Writes are bounded by ``quota_bytes`` and atomic:
FSDOWNLOAD writes a hidden temporary file renamed into place on commit, FSAPPEND truncates
back to the old size on abort.

Synchronous file I/O, no asyncio: a service calls it from a thread if it must not block.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from mfpd.codecs.pjl import DirEntry, FileError, FilesysVolume

__all__ = ["PjlPath", "PjlVolume", "VolumeError", "VolumeWriter"]

# PJLTRM 9 "NAME = pathname": at most 255 characters, 9 items of at most 100 characters, the
# first and last character of an item neither a space (32) nor character 229.
MAX_PATH = 255
MAX_ITEMS = 9
MAX_ITEM = 100
_BAD_EDGE = frozenset(" \xe5")
ENTRY_BLOCK = 4096  # what one directory entry costs against the quota
_TMP_PREFIX = " pjltmp-"  # a leading space makes it an illegal PJL name: never addressable

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class VolumeError(Exception):
    """A PJL file system error; ``code`` is the ``FILEERROR`` number to reply with."""

    def __init__(self, code: FileError, message: str = "") -> None:
        super().__init__(message or code.name.lower().replace("_", " "))
        self.code = code


@dataclass(frozen=True, slots=True)
class PjlPath:
    """A normalised PJL path: the volume (``"0:"``) and the items below its root."""

    volume: str
    parts: tuple[str, ...]

    @property
    def is_root(self) -> bool:
        return not self.parts

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else self.volume

    def __str__(self) -> str:
        return self.volume + "\\" + "\\".join(self.parts)


def _legal_item(item: str) -> bool:
    return (
        0 < len(item) <= MAX_ITEM
        and item[0] not in _BAD_EDGE
        and item[-1] not in _BAD_EDGE
        and all(" " <= ch <= "\xff" and ch != "\x7f" for ch in item)
    )


def _close(fd: int) -> None:
    with suppress(OSError):
        os.close(fd)


class PjlVolume:
    """The virtual disk. ``quota_bytes`` bounds the bytes of all files of all volumes."""

    def __init__(self, root: Path, quota_bytes: int, volumes: Sequence[str] = ("0:",)) -> None:
        if quota_bytes < 0:
            raise ValueError("quota_bytes must not be negative")
        names: list[str] = []
        for vol in volumes:
            v = vol.upper().rstrip("\\/")
            if len(v) != 2 or v[1] != ":" or not (v[0].isascii() and v[0].isalnum()):
                raise ValueError(f"volume must look like '0:', not {vol!r}")
            if v not in names:
                names.append(v)
        if not names:
            raise ValueError("at least one volume is needed")
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._root = root.resolve(strict=True)
        self._quota = quota_bytes
        self._volumes = tuple(names)
        self._lock = threading.Lock()
        self._reserved = 0
        # Directories and empty files cost no quota bytes, yet disk all the same: each entry
        # counts as one 4 KiB block against the quota, so FSMKDIR / SIZE=0 floods end.
        self._max_entries = max(16, quota_bytes // ENTRY_BLOCK)
        self._entries = 0
        for v in self._volumes:
            self._volume_dir(v).mkdir(mode=0o700, exist_ok=True)
        self._used = self._scan_usage()

    # -- facts --------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self._root

    @property
    def volumes(self) -> tuple[str, ...]:
        return self._volumes

    @property
    def quota_bytes(self) -> int:
        return self._quota

    @property
    def used_bytes(self) -> int:
        return self._used

    @property
    def free_bytes(self) -> int:
        return max(0, self._quota - self._used - self._reserved)

    def filesys(self) -> list[FilesysVolume]:
        """The INFO FILESYS table (PJLTRM 7): the quota is shared by the volumes."""
        return [
            FilesysVolume(volume=v, total=self._quota, free=self.free_bytes, location="DISK")
            for v in self._volumes
        ]

    # -- names --------------------------------------------------------------------------------

    def parse(self, name: str) -> PjlPath:
        """Normalise a PJL path: ``0:\\dir\\file`` or ``0:/dir/file``; raise `VolumeError`.

        Both separators are accepted (PRET sends ``/``; PJLTRM 9 uses ``\\``) and repeated
        ones count once. ``.`` is dropped and ``..`` goes up, never above the volume root.
        """
        if not isinstance(name, str) or not name:
            raise VolumeError(FileError.ILLEGAL_NAME, "empty name")
        if len(name) > MAX_PATH:
            raise VolumeError(FileError.ILLEGAL_NAME, "name longer than 255 characters")
        if "\x00" in name or any(ch < " " or ch > "\xff" or ch == "\x7f" for ch in name):
            raise VolumeError(FileError.ILLEGAL_NAME, "control character in name")
        if len(name) < 2 or name[1] != ":":
            raise VolumeError(FileError.ILLEGAL_NAME, "no volume in name")
        volume = name[:2].upper()
        if volume not in self._volumes:
            raise VolumeError(FileError.VOLUME_NOT_AVAILABLE, f"no volume {volume}")
        parts: list[str] = []
        for item in name[2:].replace("/", "\\").split("\\"):
            if item in ("", "."):
                continue
            if item == "..":
                if not parts:
                    raise VolumeError(FileError.ILLEGAL_NAME, "'..' above the volume root")
                parts.pop()
                continue
            if not _legal_item(item):
                raise VolumeError(FileError.ILLEGAL_NAME, "illegal item in name")
            parts.append(item)
        if len(parts) > MAX_ITEMS:
            raise VolumeError(FileError.ILLEGAL_NAME, "more than 9 items in name")
        return PjlPath(volume, tuple(parts))

    # -- reading ------------------------------------------------------------------------------

    def query(self, name: str) -> DirEntry:
        """FSQUERY: the type and size of an entry (PJLTRM 9 "FSQUERY")."""
        path = self.parse(name)
        if path.is_root:
            return DirEntry(path.volume, True)
        with self._parent(path) as fd:
            st = self._lstat(fd, path.name)
        if stat.S_ISDIR(st.st_mode):
            return DirEntry(path.name, True)
        return DirEntry(path.name, False, st.st_size)

    def dirlist(self, name: str, entry: int = 1, count: int | None = None) -> list[DirEntry]:
        """FSDIRLIST: ``count`` entries from the ``entry``-th (1-based), ``.`` and ``..``
        first as a printer lists them (PJLTRM 9 "FSDIRLIST")."""
        if entry < 1 or (count is not None and count < 0):
            raise VolumeError(FileError.INVALID_PARAMETER, "ENTRY must be 1 or more")
        path = self.parse(name)
        with self._directory(path) as fd:
            found: list[DirEntry] = []
            with os.scandir(fd) as it:
                for item in it:
                    if not _legal_item(item.name):
                        continue  # temporary files, names a PJL client could not send
                    try:
                        st = item.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        found.append(DirEntry(item.name, True))
                    elif stat.S_ISREG(st.st_mode):
                        found.append(DirEntry(item.name, False, st.st_size))
        found.sort(key=lambda e: e.name)
        dots = [DirEntry(".", True)] + ([] if path.is_root else [DirEntry("..", True)])
        listing = dots + found
        start = entry - 1
        return listing[start:] if count is None else listing[start : start + count]

    def upload(self, name: str, offset: int = 0, size: int | None = None) -> bytes:
        """FSUPLOAD: up to ``size`` bytes from ``offset``; fewer at the end of the file
        (PJLTRM 9 "FSUPLOAD")."""
        if offset < 0 or (size is not None and size < 0):
            raise VolumeError(FileError.INVALID_PARAMETER, "negative OFFSET or SIZE")
        path = self.parse(name)
        if path.is_root:
            raise VolumeError(FileError.FILE_OP_ON_DIRECTORY)
        with self._parent(path) as dfd:
            fd = self._open_file(dfd, path.name)
        try:
            length = os.fstat(fd).st_size
            want = max(0, length - offset) if size is None else min(size, max(0, length - offset))
            chunks: list[bytes] = []
            pos = offset
            while want > 0:
                chunk = os.pread(fd, min(want, 1 << 20), pos)
                if not chunk:
                    break
                chunks.append(chunk)
                pos += len(chunk)
                want -= len(chunk)
            return b"".join(chunks)
        finally:
            _close(fd)

    # -- writing ------------------------------------------------------------------------------

    def begin_download(self, name: str, size: int, *, append: bool = False) -> VolumeWriter:
        """Start FSDOWNLOAD (replace) or FSAPPEND of ``size`` bytes (PJLTRM 9); feed the
        `FileData` chunks to `VolumeWriter.write`, then `commit` or `abort`."""
        if size < 0:
            raise VolumeError(FileError.INVALID_NUMBER_OF_BYTES, "negative SIZE")
        path = self.parse(name)
        if path.is_root:
            raise VolumeError(FileError.FILE_OP_ON_DIRECTORY)
        dfd = self._open_parent(path)
        try:
            old = self._size_of(dfd, path.name)
            new_entry = not self._exists(dfd, path.name)
            if new_entry:
                self._add_entry()
            # an FSDOWNLOAD replaces the old bytes; an FSAPPEND adds to them
            try:
                self._reserve(size if append else max(0, size - old))
            except BaseException:
                if new_entry:
                    self._drop_entry()
                raise
            try:
                return VolumeWriter(self, dfd, path, size, append, old)
            except BaseException:
                self._release(size if append else max(0, size - old))
                if new_entry:
                    self._drop_entry()
                raise
        except BaseException:
            _close(dfd)
            raise

    def download(self, name: str, data: bytes) -> None:
        """FSDOWNLOAD of bytes already in hand."""
        with self.begin_download(name, len(data)) as writer:
            writer.write(data)

    def append(self, name: str, data: bytes) -> None:
        """FSAPPEND of bytes already in hand."""
        with self.begin_download(name, len(data), append=True) as writer:
            writer.write(data)

    def mkdir(self, name: str) -> None:
        """FSMKDIR; an existing directory is fine (PJLTRM 9 "FSMKDIR")."""
        path = self.parse(name)
        if path.is_root:
            return
        with self._parent(path) as fd:
            self._add_entry()
            try:
                os.mkdir(path.name, 0o700, dir_fd=fd)
            except FileExistsError:
                self._drop_entry()
                st = self._lstat(fd, path.name)
                if not stat.S_ISDIR(st.st_mode):
                    raise VolumeError(FileError.FILE_ALREADY_EXISTS) from None
            except OSError as exc:
                self._drop_entry()
                raise _os_error(exc) from None

    def delete(self, name: str) -> None:
        """FSDELETE of a file or an empty directory (PJLTRM 9 "FSDELETE")."""
        path = self.parse(name)
        if path.is_root:
            raise VolumeError(FileError.CANT_DELETE_ROOT)
        with self._parent(path) as fd:
            st = self._lstat(fd, path.name)
            try:
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(path.name, dir_fd=fd)
                else:
                    os.unlink(path.name, dir_fd=fd)
            except OSError as exc:
                raise _os_error(exc) from None
        with self._lock:
            self._used = self._scan_usage()

    def init(self, volume: str) -> None:
        """FSINIT: empty a volume (PJLTRM 9 "FSINIT"). ``volume`` is ``"0:"`` or ``"0"``."""
        v = volume.strip().upper().rstrip("\\/")
        v = v if v.endswith(":") else v + ":"
        if v not in self._volumes:
            raise VolumeError(FileError.VOLUME_NOT_AVAILABLE, f"no volume {v}")
        vdir = self._volume_dir(v)
        with self._lock:
            if self._reserved:
                raise VolumeError(FileError.GENERAL_ERROR, "a download is in progress")
            if not shutil.rmtree.avoids_symlink_attacks:  # pragma: no cover - not Linux
                raise VolumeError(FileError.INTERNAL_ERROR, "no safe rmtree here")
            shutil.rmtree(vdir, ignore_errors=True)
            vdir.mkdir(mode=0o700, exist_ok=True)
            self._used = self._scan_usage()

    # -- internals ----------------------------------------------------------------------------

    def _volume_dir(self, volume: str) -> Path:
        return self._root / volume[0]

    def _scan_usage(self) -> int:
        total = 0
        self._entries = 0
        for v in self._volumes:
            for dirpath, dirs, files in os.walk(self._volume_dir(v), followlinks=False):
                # Temporaries of downloads in progress count as entries, not as bytes: their
                # bytes are reserved until the download settles.
                self._entries += len(dirs) + len(files)
                for f in files:
                    if not _legal_item(f):
                        continue
                    try:
                        st = os.lstat(os.path.join(dirpath, f))
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        total += st.st_size
        return total

    def _open_dir(self, volume: str, parts: Sequence[str]) -> int:
        """Walk down from the volume directory, never following a link (openat + NOFOLLOW)."""
        try:
            fd = os.open(self._volume_dir(volume), _O_DIR)
        except OSError as exc:
            raise VolumeError(FileError.VOLUME_NOT_AVAILABLE, str(exc)) from None
        for part in parts:
            try:
                nfd = os.open(part, _O_DIR, dir_fd=fd)
            except OSError as exc:
                err = _os_error(exc)
                if err.code in (FileError.ILLEGAL_NAME, FileError.DIRECTORY_OP_ON_FILE):
                    err = self._kind_error(fd, part)  # a link, or a file: say which
                raise err from None
            finally:
                _close(fd)
            fd = nfd
        return fd

    def _kind_error(self, fd: int, part: str) -> VolumeError:
        try:
            st = os.stat(part, dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            return _os_error(exc)
        if stat.S_ISLNK(st.st_mode):
            return VolumeError(FileError.ILLEGAL_NAME, "symbolic link in path")
        return VolumeError(FileError.DIRECTORY_OP_ON_FILE)

    def _open_parent(self, path: PjlPath) -> int:
        return self._open_dir(path.volume, path.parts[:-1])

    @contextmanager
    def _parent(self, path: PjlPath) -> Iterator[int]:
        fd = self._open_parent(path)
        try:
            yield fd
        finally:
            _close(fd)

    @contextmanager
    def _directory(self, path: PjlPath) -> Iterator[int]:
        fd = self._open_dir(path.volume, path.parts)
        try:
            yield fd
        finally:
            _close(fd)

    def _lstat(self, fd: int, name: str) -> os.stat_result:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            raise _os_error(exc) from None
        if stat.S_ISLNK(st.st_mode):
            raise VolumeError(FileError.ILLEGAL_NAME, "symbolic link")
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            raise VolumeError(FileError.FILE_NOT_FOUND, "not a file or directory")
        return st

    def _exists(self, fd: int, name: str) -> bool:
        try:
            self._lstat(fd, name)
        except VolumeError as exc:
            if exc.code is FileError.FILE_NOT_FOUND:
                return False
            raise
        return True

    def _size_of(self, fd: int, name: str) -> int:
        """Size of the file ``name`` to be replaced or appended to; 0 when it does not exist."""
        try:
            st = self._lstat(fd, name)
        except VolumeError as exc:
            if exc.code is FileError.FILE_NOT_FOUND:
                return 0
            raise
        if stat.S_ISDIR(st.st_mode):
            raise VolumeError(FileError.FILE_OP_ON_DIRECTORY)
        return st.st_size

    def _open_file(self, dfd: int, name: str) -> int:
        try:
            fd = os.open(name, _O_READ, dir_fd=dfd)
        except OSError as exc:
            raise _os_error(exc) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            _close(fd)
            if stat.S_ISDIR(st.st_mode):
                raise VolumeError(FileError.FILE_OP_ON_DIRECTORY)
            raise VolumeError(FileError.FILE_NOT_FOUND, "not a regular file")
        return fd

    def _add_entry(self) -> None:
        with self._lock:
            if self._entries >= self._max_entries:
                raise VolumeError(FileError.DISK_FULL, "no room for another entry")
            self._entries += 1

    def _drop_entry(self) -> None:
        with self._lock:
            self._entries = max(0, self._entries - 1)

    def _reserve(self, nbytes: int) -> None:
        with self._lock:
            if self._used + self._reserved + nbytes > self._quota:
                raise VolumeError(FileError.DISK_FULL, "quota exceeded")
            self._reserved += nbytes

    def _release(self, nbytes: int) -> None:
        with self._lock:
            self._reserved = max(0, self._reserved - nbytes)

    def _settle(self, reserved: int) -> None:
        """A download ended: give back its reservation and count what is really on disk.

        Counting (not adding deltas) keeps the quota right when connections race on one name,
        e.g. an FSAPPEND writing to a file another connection's FSDOWNLOAD just replaced.
        """
        with self._lock:
            self._reserved = max(0, self._reserved - reserved)
            self._used = self._scan_usage()


def _os_error(exc: OSError) -> VolumeError:
    code = {
        errno.ENOENT: FileError.FILE_NOT_FOUND,
        errno.ENOTDIR: FileError.DIRECTORY_OP_ON_FILE,
        errno.EISDIR: FileError.FILE_OP_ON_DIRECTORY,
        errno.ELOOP: FileError.ILLEGAL_NAME,  # O_NOFOLLOW met a symbolic link
        errno.ENAMETOOLONG: FileError.ILLEGAL_NAME,
        errno.EEXIST: FileError.FILE_ALREADY_EXISTS,
        errno.ENOTEMPTY: FileError.DIRECTORY_NOT_EMPTY,
        errno.ENOSPC: FileError.DISK_FULL,
        errno.EDQUOT: FileError.DISK_FULL,
        errno.EROFS: FileError.READ_ONLY,
        errno.EACCES: FileError.WRITE_PROTECTED,
        errno.EPERM: FileError.WRITE_PROTECTED,
        errno.EMFILE: FileError.NO_FREE_FILE_DESCRIPTORS,
        errno.ENFILE: FileError.NO_FREE_FILE_DESCRIPTORS,
    }.get(exc.errno or 0, FileError.GENERAL_ERROR)
    return VolumeError(code, exc.strerror or str(exc))


class VolumeWriter:
    """One FSDOWNLOAD/FSAPPEND in progress. Nothing is visible until `commit`; `abort`
    (or leaving a ``with`` block by an exception) rolls the partial write back."""

    def __init__(
        self,
        volume: PjlVolume,
        dfd: int,
        path: PjlPath,
        size: int,
        append: bool,
        old: int,
    ) -> None:
        self._volume = volume
        self._dfd = dfd
        self._path = path
        self._size = size
        self._append = append
        self._old = old
        self._reserved = size if append else max(0, size - old)
        self._written = 0
        self._done = False
        self._created = False
        if append:
            self._tmp = ""
            flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            try:
                try:
                    self._fd = os.open(path.name, flags, dir_fd=dfd)
                except FileNotFoundError:
                    flags |= os.O_CREAT | os.O_EXCL
                    self._fd = os.open(path.name, flags, 0o600, dir_fd=dfd)
                    self._created = True
            except OSError as exc:
                raise _os_error(exc) from None
            st = os.fstat(self._fd)
            if not stat.S_ISREG(st.st_mode):
                _close(self._fd)
                raise VolumeError(FileError.FILE_OP_ON_DIRECTORY)
            self._old = st.st_size
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            self._tmp = _TMP_PREFIX + secrets.token_hex(8)
            try:
                self._fd = os.open(self._tmp, flags, 0o600, dir_fd=dfd)
            except OSError as exc:
                raise _os_error(exc) from None

    @property
    def path(self) -> PjlPath:
        return self._path

    @property
    def size(self) -> int:
        return self._size

    @property
    def written(self) -> int:
        return self._written

    def write(self, data: bytes | memoryview) -> None:
        if self._done:
            raise VolumeError(FileError.GENERAL_ERROR, "write after commit or abort")
        if self._written + len(data) > self._size:
            self.abort()
            raise VolumeError(FileError.INVALID_NUMBER_OF_BYTES, "more bytes than SIZE")
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
                self._written += n
        except OSError as exc:
            self.abort()
            raise _os_error(exc) from None

    def commit(self) -> None:
        """Make the file visible; all ``size`` bytes must have been written."""
        if self._done:
            raise VolumeError(FileError.GENERAL_ERROR, "already finished")
        if self._written != self._size:
            self.abort()
            raise VolumeError(FileError.INVALID_NUMBER_OF_BYTES, "fewer bytes than SIZE")
        try:
            if not self._append:
                # Raises if a directory took the name meanwhile: never replace one.
                self._volume._size_of(self._dfd, self._path.name)
                os.replace(self._tmp, self._path.name, src_dir_fd=self._dfd, dst_dir_fd=self._dfd)
        except (OSError, VolumeError) as exc:
            self.abort()
            if isinstance(exc, VolumeError):
                raise
            raise _os_error(exc) from None
        self._finish()
        self._volume._settle(self._reserved)

    def abort(self) -> None:
        """Roll back: drop the temporary file, or cut an append back to the old size."""
        if self._done:
            return
        try:
            if self._append:
                if self._created:
                    os.unlink(self._path.name, dir_fd=self._dfd)
                else:
                    os.ftruncate(self._fd, self._old)
            else:
                os.unlink(self._tmp, dir_fd=self._dfd)
        except OSError:
            pass
        self._finish()
        self._volume._settle(self._reserved)

    def _finish(self) -> None:
        self._done = True
        _close(self._fd)
        _close(self._dfd)

    def __enter__(self) -> VolumeWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
