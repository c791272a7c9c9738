"""The names a scan's files get at a destination (FTP, SMB, mailbox, mail attachments):
`<job name>_<YYYYMMDD_HHMMSS>_<page>.<ext>`, e.g. `Invoices_20261207_224700_001.pdf`.

Our choice, after the WorkCentre's filing rule (the job name, then the date and time, then a
sequence number, so that a folder sorts by scan and pages sort within one): the date and
time are the scan's start in the device's local time; the number is the file's place in the
delivery (1-based, three digits: a page, or 001 for a one-file document); the job name keeps
letters, digits, '.', '-' and '_' and turns anything else into '_' (a name must be safe on
every server: no path separators, nothing Windows refuses), at most 64 characters, "Scan" when
nothing is left."""

from __future__ import annotations

import re
import time

EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/tiff": "tif",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 64


def extension(fmt: str) -> str:
    return EXTENSIONS.get(fmt.split(";", 1)[0].strip().lower(), "bin")


def safe_name(job_name: str) -> str:
    name = _UNSAFE.sub("_", job_name).strip("._-")[:MAX_NAME]
    return name or "Scan"


def file_name(job_name: str, when: float, number: int, fmt: str) -> str:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(when))
    return f"{safe_name(job_name)}_{stamp}_{number:03d}.{extension(fmt)}"


def temporary_name(final: str, job_id: int) -> str:
    """What a file is uploaded as before it is renamed to `final`: a reader of the folder
    (a scan-to-folder workflow that picks files up) never sees half a file under its name."""
    return f".{final}.{job_id}.part"
