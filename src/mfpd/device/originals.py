"""Originals an operator puts on the glass or in the document feeder: files (PDF, PostScript,
PNG, JPEG, TIFF) copied under STATE_DIR/originals, one feeder sheet per page.

`mfpd originals load`, POST /api/v1/originals and `[scan] originals = DIR` all come here. A
file is copied (the scanner reads it later, maybe after the operator's copy is gone) and
counted before anything is loaded, so a file that cannot be scanned is refused whole."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mfpd.device.scanner import Original, Scanner, ScannerError, Sheet
from mfpd.documents.scan_pipeline import original_pages

DIRECTORY = "originals"
# What `[scan] originals = DIR` picks up (by extension: a directory may hold other files).
EXTENSIONS = (".pdf", ".ps", ".eps", ".png", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass(frozen=True)
class Prepared:
    """A file copied under STATE_DIR/originals and counted, not yet on the scanner."""

    copy: Path
    name: str
    pages: int


class Originals:
    def __init__(
        self,
        state_dir: Path,
        scanner: Scanner,
        pages: Callable[[Path], int] = original_pages,
    ) -> None:
        self.root = state_dir / DIRECTORY
        self.scanner = scanner
        self._pages = pages
        # Copies being made and counted in a worker thread, not yet on the scanner.
        self._pending: set[Path] = set()

    def prepare(self, paths: list[Path], names: list[str] | None = None) -> list[Prepared]:
        """Copy and count the files (blocking: Ghostscript counts PDF pages; the daemon runs
        this in a thread). ScannerError, with nothing left behind, when one cannot be."""
        if not paths:
            raise ScannerError("no file to load")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        ready: list[Prepared] = []
        claimed: list[Path] = []
        try:
            for index, path in enumerate(paths):
                name = (names[index] if names else path.name) or "original"
                copy = self.root / f"{uuid.uuid4().hex}-{Path(name).name}"
                # Claimed before it exists: a prune on the loop meanwhile leaves it alone.
                self._pending.add(copy)
                claimed.append(copy)
                try:
                    shutil.copyfile(path, copy)
                except OSError as exc:
                    raise ScannerError(f"{name}: cannot read: {exc.strerror or exc}") from None
                ready.append(Prepared(copy, name, 0))
                try:
                    count = self._pages(copy)
                except (ValueError, OSError) as exc:
                    raise ScannerError(f"{name}: cannot be scanned: {exc}") from None
                ready[-1] = Prepared(copy, name, count)
        except BaseException:
            for path in claimed:
                path.unlink(missing_ok=True)
                self._pending.discard(path)
            raise
        return ready

    def place(self, ready: list[Prepared], *, feeder: bool = True) -> str:
        """Put prepared files in the feeder (one sheet per page) or the first on the glass;
        ScannerError (and the copies removed) when the feeder has no room."""
        try:
            if feeder:
                sheets = [
                    Sheet(Original(str(item.copy), page, name=item.name))
                    for item in ready
                    for page in range(item.pages)
                ]
                self.scanner.load_feeder(sheets)
                return f"{len(sheets)} sheet(s) in the feeder ({self.scanner.feeder_sheets} now)"
            first = ready[0]
            self.scanner.load_glass(Original(str(first.copy), 0, name=first.name))
            return f"{first.name} on the glass"
        except BaseException:
            self.discard(ready)
            raise
        finally:
            for item in ready:
                self._pending.discard(item.copy)
            self.prune()

    def load(
        self, paths: list[Path], *, feeder: bool = True, names: list[str] | None = None
    ) -> str:
        """prepare() then place(), blocking: for the daemon's start."""
        return self.place(self.prepare(paths, names), feeder=feeder)

    async def load_async(
        self, paths: list[Path], *, feeder: bool = True, names: list[str] | None = None
    ) -> str:
        """The copy and the page count in a worker thread, so a 500-page PDF costs the
        other services nothing; the scanner changes on the event loop."""
        ready = await asyncio.to_thread(self.prepare, paths, names)
        return self.place(ready, feeder=feeder)

    def discard(self, ready: list[Prepared]) -> None:
        for item in ready:
            item.copy.unlink(missing_ok=True)

    def load_directory(self, directory: Path) -> str:
        files = sorted(
            p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS
        )
        if not files:
            return f"{directory}: no originals"
        return self.load(files, feeder=True)

    def clear(self) -> str:
        self.scanner.clear()
        self.prune()
        return "glass and feeder cleared"

    def prune(self) -> None:
        """Remove the copies no sheet or glass refers to any more (scanned, or cleared)."""
        if not self.root.is_dir() or self.scanner.busy:
            return  # a job scanning now may be reading a sheet it has taken
        scanner = self.scanner
        used = {scanner.glass.path} | {s.front.path for s in scanner.feeder}
        used |= {str(path) for path in list(self._pending)}
        used |= {s.back.path for s in scanner.feeder}
        for path in self.root.iterdir():
            if str(path) not in used:
                path.unlink(missing_ok=True)
