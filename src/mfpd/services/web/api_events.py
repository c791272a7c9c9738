"""GET /api/v1/events: a Server-Sent Events stream (WHATWG HTML, "Server-sent events") of the
device's changes, which the live pages and scripts follow.

Events: `status` (the whole status document, at once on connect and after any change of
state, alerts, levels or counters, at most every STATUS_INTERVAL), `job` (a job's record when
it is created, queued, changes state or prints a page) and, for the administrator, `log` (a new
entry of the event log). A comment line every HEARTBEAT keeps proxies from closing the stream.
A stream's queue is bounded: a client that does not read loses events, not the daemon's memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from mfpd.device.events import Event
from mfpd.device.jobs import Job
from mfpd.security.audit import Entry
from mfpd.services.base import ServiceContext
from mfpd.services.web import access
from mfpd.services.web.state import CLOSING, SERVICE, STREAMS
from mfpd.services.web.views import job_view, status_view

STATUS_INTERVAL = 0.25
HEARTBEAT = 15.0
QUEUE = 256
_STATUS_EVENTS = frozenset(
    {"printer.state", "device.levels", "alert.added", "alert.removed", "scanner.state"}
)
# Scan jobs (device/scan_jobs.py: scan.*) and faxes being sent (device/fax_jobs.py: fax.*) are
# jobs of the one list, outside the spool.
_JOB_EVENTS = frozenset(
    {"job.created", "job.queued", "job.state", "job.page", "job.completed", "scan.created",
     "scan.state", "fax.created", "fax.state"}
)  # fmt: skip


def _frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), default=str))
    return ("\n".join(lines) + "\n\n").encode()


async def get_events(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    ctx: ServiceContext = service.ctx
    streams: set[asyncio.Task[Any]] = request.app[STREAMS]
    if len(streams) >= ctx.config.web.max_event_streams:
        return web.json_response(
            {"error": "too many event streams open", "status": 503},
            status=503,
            headers={"Retry-After": "5"},
        )
    admin = access.is_admin(request)
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE)
    status_due = asyncio.Event()

    def on_device(event: Event) -> None:
        if event.kind in _STATUS_EVENTS:
            status_due.set()
        elif event.kind in _JOB_EVENTS:
            job = event.data.get("job")
            if isinstance(job, Job) and not queue.full():
                queue.put_nowait(("job", job_view(job)))
            if event.kind in ("job.page", "fax.state"):
                status_due.set()  # counters and levels moved

    def on_log(entry: Entry) -> None:
        if not queue.full():
            queue.put_nowait(("log", entry.to_dict()))

    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    unsubscribe = ctx.device.events.subscribe(on_device)
    stop_log = access.web_state(request).log.listen(on_log) if admin else None
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)
    closing: asyncio.Event = request.app[CLOSING]
    try:
        await response.write(
            b"retry: 2000\n\n" + _frame("status", status_view(ctx.device, ctx.spool, ctx.faxes))
        )
        last_status = time.monotonic()
        last_write = last_status
        while not closing.is_set():
            getter = asyncio.ensure_future(queue.get())
            waiters: list[asyncio.Future[Any]] = [
                getter,
                asyncio.ensure_future(status_due.wait()),
                asyncio.ensure_future(closing.wait()),
            ]
            done, pending = await asyncio.wait(
                waiters, timeout=HEARTBEAT, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()
            out = b""
            if getter in done:
                kind, data = getter.result()
                out += _frame(kind, data)
                while not queue.empty():
                    kind, data = queue.get_nowait()
                    out += _frame(kind, data)
            if status_due.is_set():
                wait = STATUS_INTERVAL - (time.monotonic() - last_status)
                if wait > 0:
                    await asyncio.sleep(wait)  # changes in a burst become one status event
                status_due.clear()
                out += _frame("status", status_view(ctx.device, ctx.spool, ctx.faxes))
                last_status = time.monotonic()
            if not out and time.monotonic() - last_write >= HEARTBEAT:
                out = b": keep-alive\n\n"
            if out:
                await response.write(out)
                last_write = time.monotonic()
    except ConnectionError:
        pass  # the client left
    finally:
        unsubscribe()
        if stop_log is not None:
            stop_log()
        streams.discard(task)
    return response
