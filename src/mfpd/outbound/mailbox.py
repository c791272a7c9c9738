"""Scan to mailbox: the files filed in a private folder on the device (device/mailboxes.py),
named as at the other destinations, for the user to collect from the web UI or the API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from mfpd.device.mailboxes import MailboxError, Mailboxes
from mfpd.outbound.destinations import (
    NOT_CONFIGURED,
    REFUSED,
    DeliveryError,
    DeliveryInfo,
    Destination,
)
from mfpd.outbound.naming import file_name

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext


def _mailboxes(ctx: ServiceContext) -> Mailboxes:
    # The daemon's; one over the same state dir and configuration where a context has none
    # (the same folders).
    return ctx.mailboxes or Mailboxes(ctx.state_dir, lambda: ctx.config.scan)


async def file_in_mailbox(
    ctx: ServiceContext, dest: Destination, files: list[Path], info: DeliveryInfo
) -> str:
    name = dest.endpoint().mailbox
    boxes = _mailboxes(ctx)
    try:
        boxes.folder(name)
    except MailboxError as exc:
        raise DeliveryError(NOT_CONFIGURED, str(exc), retry=False) from None

    def put_all() -> list[str]:
        return [
            boxes.put(name, path, file_name(info.job_name, info.when, n, info.format),
                      info.format, info.job_id).filename
            for n, path in enumerate(files, start=1)
        ]  # fmt: skip

    try:
        names = await asyncio.to_thread(put_all)
    except OSError as exc:
        # The device's own disk: full, or the state dir gone read-only. A retry may help
        # once space is freed.
        raise DeliveryError(REFUSED, f"mailbox {name}: {exc.strerror or exc}", retry=True) from None
    return f"{len(names)} file(s) to mailbox {name}: {', '.join(names)}"
