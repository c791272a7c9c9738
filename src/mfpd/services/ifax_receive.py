"""Internet Fax reception: the POP3 mailbox of [ifax] pop3 polled every poll_interval
seconds; each message a print job of kind "fax-receive", source "ifax", the sender as its
user.

A message that is a fax (documents/fax_mail.py) is spooled with its TIFF(s) as documents
and prints like any job; one that is not (too large, not TIFF, a TIFF bomb, a broken MIME
tree) becomes an aborted fax-receive job saying why, so the operator sees it in the job
list. Either way the message is then deleted from the server: it has been dealt with for
good, and a bad one left there would fail again at every poll. What cannot be dealt with
now (the spool refusing, the daemon stopping) stays on the server for the next poll. An MDN
is sent when asked for and allowed (outbound/mdn.py).

Not a listener: nothing opens a port; the port table's "client" rows show POP3.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mfpd.device.fax_jobs import RECEIVE
from mfpd.device.spool import SpoolError
from mfpd.documents import fax_mail
from mfpd.outbound import mdn, pop3
from mfpd.outbound.destinations import DeliveryError

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

log = logging.getLogger("mfpd.ifax")

SOURCE = "ifax"
INBOX = "fax-in"
CHUNK = 1024 * 1024


class FaxReceiver:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.directory = ctx.state_dir / INBOX
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = threading.Event()
        self.last_poll: dict[str, object] = {}
        self.received = 0
        self.refused = 0

    @property
    def configured(self) -> bool:
        return bool(self.ctx.config.ifax.pop3)

    async def start(self) -> None:
        self._stopping.clear()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in self.directory.iterdir():
            stale.unlink(missing_ok=True)
        self._task = asyncio.create_task(self._run(), name="ifax-receive")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poll_now(self) -> None:
        """Poll at once instead of at the end of the interval (tests, the web UI)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            if self.configured:
                await self.poll()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.ctx.config.ifax.poll_interval)

    async def poll(self) -> None:
        """One session with the mailbox; its outcome in last_poll, failures in the log."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            seen, deleted = await pop3.poll(self.ctx, self._handle, self.directory, self._stopping)
        except pop3.Stopped:
            self.last_poll = {"outcome": "stopped"}
            return
        except DeliveryError as exc:
            log.warning("ifax: polling failed: %s", exc)
            self.last_poll = {"outcome": "failed", "reason": exc.reason, "message": str(exc)}
            return
        except Exception as exc:  # a poll must never end the poller
            log.exception("ifax: polling failed")
            self.last_poll = {"outcome": "failed", "reason": "error", "message": str(exc)}
            return
        self.last_poll = {
            "outcome": "ok", "messages": seen, "deleted": deleted,
            "seconds": round(loop.time() - started, 3),
        }  # fmt: skip
        if seen:
            log.info("ifax: %d message(s), %d deleted", seen, deleted)

    async def _handle(self, fetched: pop3.Fetched) -> bool:
        """One message: spooled as a fax, or recorded as a failed one; True to delete it."""
        config = self.ctx.config.ifax
        if fetched.path is None:
            fax = fax_mail.ReceivedFax("unknown", "", "", "", "")
            if fetched.headers is not None:
                fax = await asyncio.to_thread(fax_mail.headers_of, fetched.headers)
            fax.failure = (
                f"the message is {fetched.size} bytes, over [ifax] max_message_bytes "
                f"({config.max_message_bytes}): not read"
            )
        else:
            with tempfile.TemporaryDirectory(dir=self.directory) as work:
                fax = await asyncio.to_thread(
                    fax_mail.parse, fetched.path, Path(work), max_pages=config.max_pages
                )
                try:
                    if not fax.failure:
                        await self._spool(fax)
                except SpoolError as exc:
                    # The spool is full or refuses now: the message waits on the server.
                    log.warning("ifax: message %d kept on the server: %s", fetched.number, exc)
                    return False
        if fax.failure:
            self._failed(fax)
        await self._answer(fax)
        return True

    async def _spool(self, fax: fax_mail.ReceivedFax) -> None:
        spool = self.ctx.spool
        job = spool.create(
            SOURCE,
            name=fax.subject or f"Fax from {fax.sender}",
            user=fax.sender,
            format="image/tiff",
            attributes=_attributes(fax),
            kind=RECEIVE,
        )
        try:
            for image in fax.images:
                writer = spool.open_document(job)
                try:
                    await asyncio.to_thread(_copy, image, writer.write)
                finally:
                    spool.close_document(writer)
        except (OSError, SpoolError) as exc:
            spool.abort(job, ["aborted-by-system"], f"the fax could not be spooled: {exc}")
            raise SpoolError(str(exc)) from None
        spool.finish(job)
        self.received += 1
        log.info("ifax: job %d: fax from %s, %d page(s)", job.id, fax.sender, fax.pages)

    def _failed(self, fax: fax_mail.ReceivedFax) -> None:
        spool = self.ctx.spool
        job = spool.create(
            SOURCE,
            name=fax.subject or f"Fax from {fax.sender}",
            user=fax.sender,
            format="message/rfc822",
            attributes=_attributes(fax),
            kind=RECEIVE,
        )
        spool.abort(job, ["document-format-error"], fax.failure)
        self.refused += 1
        log.warning("ifax: job %d: fax from %s refused: %s", job.id, fax.sender, fax.failure)

    async def _answer(self, fax: fax_mail.ReceivedFax) -> None:
        config = self.ctx.config.ifax
        if not mdn.wanted(fax, config.send_mdn) or not self.ctx.config.smtp.server:
            return
        disposition = mdn.DELETED if fax.failure else mdn.PROCESSED
        box = pop3.parse_mailbox(config.pop3)
        mailbox = box.user if "@" in box.user else f"{box.user}@{box.host}"
        try:
            line = await mdn.send_mdn(self.ctx, fax, mailbox, disposition, fax.failure)
            log.info("ifax: %s", line)
        except DeliveryError as exc:
            log.warning("ifax: MDN to %s not sent: %s", fax.mdn_to, exc)


def _attributes(fax: fax_mail.ReceivedFax) -> dict[str, object]:
    found: dict[str, object] = {"from": fax.sender, "message-id": fax.message_id}
    if fax.mdn_to:
        found["mdn-requested"] = fax.mdn_to
    return found


def _copy(path: Path, write: Callable[[bytes], None]) -> None:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            write(chunk)
