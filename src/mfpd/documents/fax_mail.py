"""A received Internet Fax message taken apart: the sender, the MDN request, and the TIFF
images, each checked (documents/fax_tiff.py) before it is kept.

RFC 3965 4.2: the fax is the message's image/tiff body part(s); a text part is the cover and
is not printed. Anything else (an attachment that is not a TIFF whatever it claims, a zip, a
MIME tree the parser cannot follow, a TIFF that is no fax) makes the whole message a failed
fax with the reason, never an exception out of here. The message is at most [ifax]
max_message_bytes (the POP3 client does not keep larger ones), so parsing it whole is
bounded.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
from dataclasses import dataclass, field
from email import errors
from email.message import Message
from pathlib import Path

from mfpd.documents import fax_tiff

# Body parts looked at in one message: a tree of thousands is hostile, not a fax.
MAX_PARTS = 100
# The parser's findings that mean the tree is not what its headers say (RFC 2046 5.1.1).
_BROKEN_TREE = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
)
# Part types that are the cover or structure, not an attachment to judge.
_COVER = ("text/plain", "text/html")


@dataclass
class ReceivedFax:
    sender: str  # the From address, or the Return-Path, or "unknown"
    subject: str
    message_id: str
    return_path: str
    mdn_to: str  # Disposition-Notification-To, "" when no MDN is asked for
    images: list[Path] = field(default_factory=list)
    pages: int = 0
    failure: str = ""  # why the message is not a fax that prints
    is_report: bool = False  # multipart/report (RFC 6522): a DSN or an MDN, never answered


def _read(path: Path) -> Message | ReceivedFax:
    try:
        with path.open("rb") as file:
            return email.message_from_binary_file(file, policy=email.policy.default)
    except Exception as exc:  # the email package's own failures, of any kind
        return ReceivedFax("unknown", "", "", "", "", failure=f"unreadable mail: {exc}")


def _described(message: Message) -> ReceivedFax:
    return ReceivedFax(
        sender=_address(message, "From") or _address(message, "Return-Path") or "unknown",
        subject=_header(message, "Subject")[:200],
        message_id=_header(message, "Message-ID")[:200],
        return_path=_address(message, "Return-Path"),
        mdn_to=_address(message, "Disposition-Notification-To"),
        is_report=_content_type(message) == "multipart/report",
    )


def _content_type(message: Message) -> str:
    try:
        return message.get_content_type()
    except Exception:  # a Content-Type the policy cannot parse
        return ""


def headers_of(path: Path) -> ReceivedFax:
    """Who sent a message of which only the header block was read (one too large)."""
    message = _read(path)
    return message if isinstance(message, ReceivedFax) else _described(message)


def parse(path: Path, work: Path, *, max_pages: int) -> ReceivedFax:
    """Read the message at `path`; its TIFFs go to `work` (the caller removes them)."""
    message = _read(path)
    if isinstance(message, ReceivedFax):
        return message
    fax = _described(message)
    try:
        _take_images(message, fax, work, max_pages)
    except fax_tiff.FaxError as exc:
        fax.failure = str(exc)
    except Exception as exc:  # a MIME tree the parser chokes on deep inside
        fax.failure = f"malformed MIME structure: {type(exc).__name__}: {exc}"[:300]
    if fax.failure:
        for image in fax.images:
            image.unlink(missing_ok=True)
        fax.images = []
        fax.pages = 0
    return fax


def _take_images(message: Message, fax: ReceivedFax, work: Path, max_pages: int) -> None:
    others: list[str] = []
    for count, part in enumerate(message.walk(), 1):
        if count > MAX_PARTS:
            raise fax_tiff.FaxError(f"more than {MAX_PARTS} MIME parts")
        broken = [type(d).__name__ for d in part.defects if isinstance(d, _BROKEN_TREE)]
        if broken:
            raise fax_tiff.FaxError(f"malformed MIME structure: {', '.join(broken)}")
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind in _COVER and not part.get_filename():
            continue
        if kind != "image/tiff":
            others.append(f"{kind} {part.get_filename() or ''}".strip())
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            raise fax_tiff.FaxError("an image/tiff part is empty or not decodable")
        target = work / f"{work.name}-{len(fax.images) + 1}.tif"
        target.write_bytes(payload)
        fax.images.append(target)
        try:
            image = fax_tiff.check(target, max_pages=max(1, max_pages - fax.pages))
        except fax_tiff.FaxError as exc:
            raise fax_tiff.FaxError(f"attachment {len(fax.images)}: {exc}") from None
        fax.pages += image.pages
    if others:
        found = ", ".join(others)[:200]
        raise fax_tiff.FaxError(f"not a fax: attachment(s) that are not TIFF: {found}")
    if not fax.images:
        raise fax_tiff.FaxError("not a fax: the message has no image/tiff attachment")


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse is one we do without
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _address(message: Message, name: str) -> str:
    _, address = email.utils.parseaddr(_header(message, name))
    return address if "@" in address and len(address) <= 254 else ""
