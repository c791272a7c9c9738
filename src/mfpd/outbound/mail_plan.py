"""A scan as email messages of at most [smtp] max_message_bytes each, made one at a time as
they are sent, so that a scan of any size costs about two messages of memory.

The plan, from the files' sizes alone: pages packed in order into as few messages as fit
(each message's size bounded from above before it is made); a file that does not fit a
message alone is sent as fragments of one message (message/partial, RFC 2046 5.2.2), cut at
line ends, its base64 (RFC 2045 6.8: 76 characters a line) made as the fragments are. With
more than one message, each subject ends "(part i of n)"."""

from __future__ import annotations

import base64
import email.policy
import email.utils
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from mfpd.device.scan_jobs import DeliveryInfo
from mfpd.outbound.naming import file_name

_POLICY = email.policy.SMTP
# Base64 lines: 57 bytes of the file make 76 characters and CRLF.
_LINE_BYTES = 57
_LINE = 78
_READ_LINES = 1024
# Bounds on what a message adds around its attachments: a part's headers (the file names
# are ours, ASCII, short), the text part turned into a part of a multipart, the closing
# boundary, and " (part 99 of 99)" in the subject.
_PART_HEADERS = 512
_MULTIPART = 512
_SUBJECT_PART = 64


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    domain: str  # for Message-ID


@dataclass(frozen=True)
class _Whole:
    files: tuple[tuple[str, Path], ...]


@dataclass(frozen=True)
class _Fragments:
    file: tuple[str, Path]
    cuts: tuple[int, ...]  # each fragment's size in bytes of the inner message
    prefix: bytes  # the inner message up to the attachment's base64
    suffix: bytes  # and after it


class MailPlan:
    def __init__(
        self, envelope: Envelope, files: list[Path], info: DeliveryInfo, limit: int
    ) -> None:
        self.envelope = envelope
        self.info = info
        self.limit = limit
        named = [
            (file_name(info.job_name, info.when, n, info.format), p)
            for n, p in enumerate(files, start=1)
        ]
        bare = len(self._message(()).as_bytes(policy=_POLICY)) + _MULTIPART + _SUBJECT_PART
        self._items: list[_Whole | _Fragments] = []
        group: list[tuple[str, Path]] = []
        size = bare
        for one in named:
            cost = _encoded(one[1].stat().st_size) + _PART_HEADERS
            if group and size + cost <= limit:
                group.append(one)
                size += cost
                continue
            if group:
                self._items.append(_Whole(tuple(group)))
            if bare + cost <= limit:
                group, size = [one], bare + cost
            else:
                group, size = [], bare
                self._items.append(self._fragments(one))
        if group:
            self._items.append(_Whole(tuple(group)))
        self.count = sum(len(i.cuts) if isinstance(i, _Fragments) else 1 for i in self._items)

    def messages(self) -> Iterator[bytes]:
        """Each message's bytes (CRLF line ends, as on the wire), made when asked for."""
        number = 0
        for item in self._items:
            if isinstance(item, _Whole):
                number += 1
                message = self._message(item.files, self._subject(number))
                yield message.as_bytes(policy=_POLICY)
                continue
            ident = f"{uuid.uuid4().hex}@{self.envelope.domain}"
            for index, piece in enumerate(_cut(_inner(item), item.cuts), start=1):
                number += 1
                yield self._outer(self._subject(number), ident, index, len(item.cuts)) + piece

    def _subject(self, number: int) -> str:
        subject = self.envelope.subject
        return f"{subject} (part {number} of {self.count})" if self.count > 1 else subject

    def _headers(self, message: EmailMessage, subject: str) -> None:
        env = self.envelope
        message["From"] = env.sender
        message["To"] = ", ".join(env.recipients)
        message["Subject"] = subject
        message["Date"] = email.utils.formatdate(localtime=True)
        message["Message-ID"] = email.utils.make_msgid("scan", domain=env.domain)

    def _message(
        self, files: tuple[tuple[str, Path], ...], subject: str = "", *, payload: bytes = b""
    ) -> EmailMessage:
        message = EmailMessage(policy=_POLICY)
        self._headers(message, subject or self.envelope.subject)
        message.set_content(self.envelope.body)
        maintype, _, subtype = self.info.format.partition("/")
        for name, path in files:
            message.add_attachment(
                payload or path.read_bytes(), maintype=maintype or "application",
                subtype=subtype or "octet-stream", filename=name,
            )  # fmt: skip
        return message

    def _outer(self, subject: str, ident: str, index: int, total: int) -> bytes:
        outer = EmailMessage(policy=_POLICY)
        self._headers(outer, subject)
        outer["MIME-Version"] = "1.0"
        head = outer.as_bytes(policy=_POLICY).rstrip(b"\r\n")
        # RFC 2046 5.2.2: message/partial with id, number and total; the body is the next
        # piece of the whole message, its headers included. (Written here: the email package
        # wants a message, not bytes, as the body of a message/* part.)
        kind = f'Content-Type: message/partial; id="{ident}"; number={index}; total={total}'
        return head + b"\r\n" + kind.encode() + b"\r\n\r\n"

    def _fragments(self, one: tuple[str, Path]) -> _Fragments:
        """The inner message with a marker for its attachment's base64, and the cuts."""
        marker = os.urandom(_LINE_BYTES - 12)  # one base64 line of its own, unlike any other
        line = base64.b64encode(marker) + b"\r\n"
        data = self._message((one,), payload=marker).as_bytes(policy=_POLICY)
        at = data.index(line)
        prefix, suffix = data[:at], data[at + len(line) :]
        size = one[1].stat().st_size
        full, rest = divmod(size, _LINE_BYTES)
        runs = [(len(x), 1) for x in prefix.splitlines(keepends=True)]
        runs.append((_LINE, full))
        if rest:
            runs.append((_encoded(rest), 1))
        runs += [(len(x), 1) for x in suffix.splitlines(keepends=True)]
        widest = self._outer(
            self.envelope.subject, f"{uuid.uuid4().hex}@{self.envelope.domain}", 9999, 9999
        )
        room = self.limit - len(widest) - _SUBJECT_PART
        return _Fragments(one, _plan_cuts(runs, max(room, _LINE)), prefix, suffix)


def _plan_cuts(runs: list[tuple[int, int]], room: int) -> tuple[int, ...]:
    """Fragment sizes: runs of (line length, lines) taken greedily, whole lines only, each
    fragment at most `room` bytes (a line longer than that alone in its fragment)."""
    cuts: list[int] = []
    used = 0
    for length, count in runs:
        while count:
            fit = (room - used) // length
            if fit <= 0:
                if used:
                    cuts.append(used)
                    used = 0
                    continue
                fit = 1
            take = min(fit, count)
            used += take * length
            count -= take
    if used:
        cuts.append(used)
    return tuple(cuts)


def _inner(item: _Fragments) -> Iterator[bytes]:
    """The inner message's bytes in pieces: its head, the file's base64 read a block at a
    time, its tail."""
    yield item.prefix
    with item.file[1].open("rb") as source:
        while block := source.read(_LINE_BYTES * _READ_LINES):
            yield base64.encodebytes(block).replace(b"\n", b"\r\n")
    yield item.suffix


def _cut(chunks: Iterator[bytes], cuts: tuple[int, ...]) -> Iterator[bytes]:
    buffer = bytearray()
    sizes = iter(cuts)
    want = next(sizes, 0)
    for chunk in chunks:
        buffer += chunk
        while want and len(buffer) >= want:
            yield bytes(buffer[:want])
            del buffer[:want]
            want = next(sizes, 0)
    if buffer:
        raise ValueError("the file changed while it was sent")


def _encoded(size: int) -> int:
    """Bytes of base64 with CRLF every 76 characters (RFC 2045 6.8) for `size` bytes."""
    full, rest = divmod(size, _LINE_BYTES)
    return full * _LINE + ((rest + 2) // 3 * 4 + 2 if rest else 0)
