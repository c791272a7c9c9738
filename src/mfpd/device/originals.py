"""Originals an operator puts on the glass or in the document feeder: files (PDF, PostScript,
PNG, JPEG, TIFF) copied under STATE_DIR/originals, one feeder sheet per page.

`mfpd originals load`, POST /api/v1/originals and `[scan] originals = DIR` all come here. A
file is copied (the scanner reads it later, maybe after the operator's copy is gone) and
counted before anything is loaded, so a file that cannot be scanned is refused whole."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from mfpd.device.scanner import Original, Scanner, ScannerError, Sheet
from mfpd.documents.scan_pipeline import original_pages

DIRECTORY = "originals"
# What `[scan] originals = DIR` picks up (by extension: a directory may hold other files).
EXTENSIONS = (".pdf", ".ps", ".eps", ".png", ".jpg", ".jpeg", ".tif", ".tiff")


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

    def load(
        self, paths: list[Path], *, feeder: bool = True, names: list[str] | None = None
    ) -> str:
        """Copy and load files; ScannerError (nothing loaded) when one cannot be."""
        if not paths:
            raise ScannerError("no file to load")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        copies: list[tuple[Path, str, int]] = []
        try:
            for index, path in enumerate(paths):
                name = (names[index] if names else path.name) or "original"
                copy = self.root / f"{uuid.uuid4().hex}-{Path(name).name}"
                try:
                    shutil.copyfile(path, copy)
                except OSError as exc:
                    raise ScannerError(f"{name}: cannot read: {exc.strerror or exc}") from None
                copies.append((copy, name, 0))
                try:
                    count = self._pages(copy)
                except (ValueError, OSError) as exc:
                    raise ScannerError(f"{name}: cannot be scanned: {exc}") from None
                copies[-1] = (copy, name, count)
            if feeder:
                sheets = [
                    Sheet(Original(str(copy), page, name=name))
                    for copy, name, count in copies
                    for page in range(count)
                ]
                self.scanner.load_feeder(sheets)
                return f"{len(sheets)} sheet(s) in the feeder ({self.scanner.feeder_sheets} now)"
            copy, name, _count = copies[0]
            self.scanner.load_glass(Original(str(copy), 0, name=name))
            return f"{name} on the glass"
        except BaseException:
            for copy, _name, _count in copies:
                copy.unlink(missing_ok=True)
            raise
        finally:
            self.prune()

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
        used |= {s.back.path for s in scanner.feeder}
        for path in self.root.iterdir():
            if str(path) not in used:
                path.unlink(missing_ok=True)
