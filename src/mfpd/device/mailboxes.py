"""Mailboxes: private folders on the device where walk-up scans wait to be collected (the
WorkCentre's "scan to mailbox"), under STATE_DIR/mailboxes/NAME/. A document is its file and a
small JSON record beside it; a folder's passcode and whether documents go once retrieved come
from [[scan.mailboxes]]."""

from __future__ import annotations

import hmac
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from mfpd.config import MailboxConfig, ScanConfig

DIRECTORY = "mailboxes"
RECORD = ".json"


class MailboxError(Exception):
    """No such mailbox or document, or a wrong passcode."""


@dataclass(frozen=True)
class MailboxDocument:
    id: str
    filename: str  # as the device named it (job name, date, page)
    format: str  # MIME type
    size: int
    job_id: int
    created_at: float


class Mailboxes:
    def __init__(
        self,
        state_dir: Path,
        config: Callable[[], ScanConfig],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = state_dir / DIRECTORY
        self._config = config
        self._clock = clock

    def folders(self) -> list[MailboxConfig]:
        return list(self._config().mailboxes)

    def folder(self, name: str) -> MailboxConfig:
        for box in self._config().mailboxes:
            if box.name == name:
                return box
        raise MailboxError(f"no mailbox {name!r}")

    def check_passcode(self, name: str, passcode: str | None, opened: str) -> None:
        """MailboxError unless `passcode` opens the folder; `opened` is its configured
        passcode in clear (the caller opens a sealed one)."""
        self.folder(name)
        if opened and not hmac.compare_digest((passcode or "").encode(), opened.encode()):
            raise MailboxError(f"wrong passcode for mailbox {name!r}")

    def _dir(self, name: str) -> Path:
        self.folder(name)  # only configured names: a name never becomes a path by itself
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def put(self, name: str, source: Path, filename: str, fmt: str, job_id: int) -> MailboxDocument:
        """File a copy of `source` in the mailbox (the caller keeps its own file)."""
        folder = self._dir(name)
        doc = MailboxDocument(
            id=uuid.uuid4().hex,
            filename=Path(filename).name or "scan",
            format=fmt,
            size=source.stat().st_size,
            job_id=job_id,
            created_at=self._clock(),
        )
        partial = folder / f"{doc.id}.part"
        shutil.copyfile(source, partial)
        os.replace(partial, folder / doc.id)
        (folder / f"{doc.id}{RECORD}").write_text(json.dumps(asdict(doc)))
        return doc

    def documents(self, name: str) -> list[MailboxDocument]:
        folder = self._dir(name)
        found = []
        for record in folder.glob(f"*{RECORD}"):
            try:
                data = json.loads(record.read_text())
                found.append(MailboxDocument(**data))
            except (OSError, ValueError, TypeError):
                continue
        return sorted(found, key=lambda doc: doc.created_at)

    def document(self, name: str, doc_id: str) -> tuple[MailboxDocument, Path]:
        for doc in self.documents(name):
            if doc.id == doc_id:
                return doc, self.root / name / doc.id
        raise MailboxError(f"no document {doc_id!r} in mailbox {name!r}")

    def retrieved(self, name: str, doc_id: str) -> bool:
        """A document was downloaded: it goes when the folder says so. True if deleted."""
        if self.folder(name).delete_after_retrieval:
            self.delete(name, doc_id)
            return True
        return False

    def delete(self, name: str, doc_id: str) -> None:
        _doc, path = self.document(name, doc_id)
        path.unlink(missing_ok=True)
        (path.parent / f"{doc_id}{RECORD}").unlink(missing_ok=True)
