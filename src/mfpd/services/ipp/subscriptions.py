"""IPP Subscription objects (RFC 3995) and the events they keep for ippget (RFC 3996).

One store per daemon, shared by every IPP listener (631 and 443): a client may subscribe on
one and pull on the other. The store listens to the device's event bus, turns each change
into RFC 3995 event keywords, and appends a notification to every subscription that asked
for it. Nothing here reads or writes IPP messages: subscription_template.py checks what a
client asks for, subscription_attributes.py renders subscriptions and notifications, and
subscription_operations.py holds the operations.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mfpd.codecs.ipp.values import Attribute
from mfpd.config import NotificationsConfig
from mfpd.device.events import Event
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import Device, PrinterState
from mfpd.services.ipp import build as b

# RFC 3995 5.3.3.4: the events this printer generates. printer-restarted is not among them:
# subscriptions do not outlive the daemon, so nobody could ever hear it.
JOB_EVENTS = ("job-completed", "job-created", "job-progress", "job-state-changed", "job-stopped")
PRINTER_EVENTS = (
    "printer-config-changed",
    "printer-shutdown",
    "printer-state-changed",
    "printer-stopped",
)
EVENTS = JOB_EVENTS + PRINTER_EVENTS
DEFAULT_EVENTS = ("job-completed",)
PULL_METHODS = ("ippget",)  # RFC 3996; no push method (notify-schemes-supported is empty)
MAX_LEASE = 67108863  # RFC 3995 5.3: notify-lease-duration is integer(0:67108863)

# RFC 3995 5.3.3.4: job-created, job-completed and job-stopped are particular
# job-state-changed events, printer-stopped and printer-shutdown particular
# printer-state-changed ones. An occurrence lists its keywords, the most particular first;
# a subscription hears it once, as the first keyword it subscribed to.
JOB_CREATED = ("job-created", "job-state-changed")
JOB_COMPLETED = ("job-completed", "job-state-changed")
JOB_STOPPED = ("job-stopped", "job-state-changed")
JOB_STATE = ("job-state-changed",)
JOB_PROGRESS = ("job-progress",)
PRINTER_STOPPED = ("printer-stopped", "printer-state-changed")
PRINTER_STATE = ("printer-state-changed",)
PRINTER_SHUTDOWN = ("printer-shutdown", "printer-state-changed")
PRINTER_CONFIG = ("printer-config-changed",)

# Jobs whose last state is remembered, to tell a change from a repeated announcement.
JOB_MEMORY = 1024
PURGE_INTERVAL = 1.0


class TooManySubscriptions(Exception):
    """The store holds notifications.max_subscriptions already: RFC 3995's
    client-error-too-many-subscriptions."""


@dataclass(frozen=True)
class Template:
    """What a client asked for in one Subscription Template group, checked and defaulted."""

    events: tuple[str, ...] = DEFAULT_EVENTS
    lease: int | None = None  # None: notify-lease-duration-default
    time_interval: int = 0  # notify-time-interval: least seconds between job-progress events
    user_data: bytes | None = None
    charset: str = "utf-8"
    language: str = "en"


@dataclass(frozen=True)
class Notification:
    """One Event Notification (RFC 3995 section 9), kept for Get-Notifications (RFC 3996)."""

    sequence: int  # notify-sequence-number, 1, 2, ... per subscription
    event: str  # notify-subscribed-event
    text: str  # notify-text
    at: float  # when it happened (printer-up-time, printer-current-time)
    attributes: tuple[Attribute, ...]  # the job's or printer's state at that moment


@dataclass
class Subscription:
    """A Subscription object (RFC 3995 5): a printer subscription when job_id is None."""

    id: int
    uuid: str
    owner: str  # notify-subscriber-user-name: requesting-user-name of its creator
    events: tuple[str, ...]
    job_id: int | None
    lease: int  # seconds granted to a printer subscription; 0: it never expires
    expires_at: float | None
    notifications: deque[Notification]
    time_interval: int = 0
    user_data: bytes | None = None
    charset: str = "utf-8"
    language: str = "en"
    sequence: int = 0  # notify-sequence-number of the latest event (RFC 3995 5.4)
    ended_at: float | None = None  # a job subscription whose job has finished
    last_progress: float = float("-inf")


class SubscriptionStore:
    """Every subscription of one printer, and the events waiting in them."""

    def __init__(
        self,
        device: Device,
        config: NotificationsConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self.config = config
        self._clock = clock
        self._subscriptions: dict[int, Subscription] = {}
        self._next_id = 1
        self._jobs: dict[int, tuple[JobState, tuple[str, ...]]] = {}
        self._printer = self._printer_now()
        self._waiters: set[asyncio.Future[None]] = set()
        self._last_purge = clock()
        self.closed = False
        self._unsubscribe = device.events.subscribe(self._on_event)

    # -- the objects ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[Subscription]:
        self._purge()
        return iter(list(self._subscriptions.values()))

    def get(self, subscription_id: int) -> Subscription | None:
        self._purge()
        return self._subscriptions.get(subscription_id)

    def grant(self, requested: int | None) -> int:
        """The lease a printer subscription gets for `requested` seconds (RFC 3995 5.3,
        notify-lease-duration)."""
        lease = self.config.lease_default if requested is None else requested
        ceiling = self.config.lease_max
        if ceiling and (lease == 0 or lease > ceiling):
            return ceiling
        return lease

    def create(self, owner: str, template: Template, job: Job | None = None) -> Subscription:
        """A printer subscription, or with `job` a subscription to that job's events."""
        self._purge()
        if len(self._subscriptions) >= self.config.max_subscriptions:
            raise TooManySubscriptions(
                f"the printer holds {self.config.max_subscriptions} subscriptions already"
            )
        now = self._clock()
        # RFC 3995 5.3 notify-lease-duration: a job subscription has no lease; it ends with
        # its job.
        lease = 0 if job is not None else self.grant(template.lease)
        sub = Subscription(
            id=self._next_id,
            uuid=f"urn:uuid:{uuid.uuid4()}",
            owner=owner,
            events=template.events,
            job_id=job.id if job is not None else None,
            lease=lease,
            expires_at=now + lease if lease else None,
            notifications=deque(maxlen=self.config.max_events),
            time_interval=template.time_interval,
            user_data=template.user_data,
            charset=template.charset,
            language=template.language,
        )
        self._next_id += 1
        self._subscriptions[sub.id] = sub
        return sub

    def announce_created(self, sub: Subscription, job: Job) -> None:
        """A subscription made with its job (RFC 3995 11.1.3) missed the job's creation by
        a moment: it is told of it first."""
        event = next((e for e in JOB_CREATED if e in sub.events), None)
        if event is not None:
            self._append(sub, event, f"Job {job.id} created.", _job_attributes(job))
            self._wake()

    def renew(self, sub: Subscription, requested: int | None) -> int:
        """Renew-Subscription (RFC 3995 11.2): a new lease for a printer subscription, from
        now."""
        sub.lease = self.grant(requested)
        sub.expires_at = self._clock() + sub.lease if sub.lease else None
        return sub.lease

    def cancel(self, sub: Subscription) -> None:
        self._subscriptions.pop(sub.id, None)

    def notifications(self, sub: Subscription, first: int = 1) -> list[Notification]:
        """The kept events of `sub` numbered `first` or more, oldest first."""
        self._purge()
        return [n for n in sub.notifications if n.sequence >= first]

    def up_time(self, when: float | None = None) -> int:
        """printer-up-time at `when` (now by default): seconds since the device started."""
        moment = self._clock() if when is None else when
        return max(1, int(moment - self.device.started_at))

    def expiration_time(self, sub: Subscription) -> int:
        """notify-lease-expiration-time: the printer-up-time it expires at, 0 for never."""
        return 0 if sub.expires_at is None else self.up_time(sub.expires_at)

    # -- waiting for events (RFC 3996 notify-wait) ---------------------------------------

    async def wait(self, timeout: float) -> None:
        """Return at the next notification of any subscription, at close(), or after
        `timeout` seconds. The event loop runs on meanwhile."""
        if self.closed or timeout <= 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def close(self) -> None:
        """The printer shuts down: printer-shutdown for those who asked, and every waiting
        Get-Notifications answers now rather than holding the shutdown up."""
        if self.closed:
            return
        state, reasons, accepting = self._printer
        self._deliver(
            PRINTER_SHUTDOWN,
            "The printer is shutting down.",
            _printer_attributes(state, reasons, accepting),
        )
        self.closed = True
        self._unsubscribe()
        self._wake()

    # -- events from the device ----------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if self._clock() - self._last_purge > PURGE_INTERVAL:
            self._purge()
        kind = event.kind
        if kind in ("job.created", "job.queued", "job.state"):
            self._job_changed(event.data["job"], created=kind == "job.created")
        elif kind == "job.page":
            self._job_progress(event.data["job"])
        elif kind == "printer.state":
            self._printer_changed(
                event.data["state"], event.data["reasons"], event.data.get("accepting", True)
            )
        elif kind == "identity.changed":
            state, reasons, accepting = self._printer
            changed = ", ".join(sorted(event.data.get("changes", {})))
            self._deliver(
                PRINTER_CONFIG,
                f"Printer configuration changed: {changed}.",
                _printer_attributes(state, reasons, accepting),
            )
        # job.completed repeats the job.state that ended the job: nothing new.

    def _job_changed(self, job: Job, created: bool) -> None:
        now = (job.state, tuple(job.state_reasons))
        before = self._jobs.pop(job.id, None)
        self._jobs[job.id] = now
        while len(self._jobs) > JOB_MEMORY:
            del self._jobs[next(iter(self._jobs))]
        if before == now and not created:
            return  # announced again (job.queued after job.state): not a change
        if created:
            self._deliver(JOB_CREATED, f"Job {job.id} created.", _job_attributes(job), job.id)
        elif job.state.terminal:
            message = f": {job.state_message}" if job.state_message else ""
            text = f"Job {job.id} {job.state.value}{message}."
            self._deliver(JOB_COMPLETED, text, _job_attributes(job), job.id)
            self._end_job_subscriptions(job.id)
        elif job.state is JobState.STOPPED and (before is None or before[0] != job.state):
            text = f"Job {job.id} stopped: {job.state_message or 'printer stopped'}."
            self._deliver(JOB_STOPPED, text, _job_attributes(job), job.id)
        else:
            reasons = ", ".join(r for r in job.state_reasons if r) or "none"
            text = f"Job {job.id} is {job.state.value} ({reasons})."
            self._deliver(JOB_STATE, text, _job_attributes(job), job.id)

    def _job_progress(self, job: Job) -> None:
        if not self._subscriptions:
            return  # every page of every job passes here: be quick when nobody listens
        total = f" of {job.impressions}" if job.impressions is not None else ""
        text = f"Job {job.id}: {job.impressions_completed}{total} impressions printed."
        self._deliver(JOB_PROGRESS, text, _job_attributes(job), job.id)

    def _printer_changed(self, state: str, reasons: list[str], accepting: bool) -> None:
        now = (state, tuple(reasons), accepting)
        before = self._printer
        self._printer = now
        # RFC 3995 5.3.3.4 printer-state-changed: state, reasons or printer-is-accepting-jobs
        # changed; the front panel text alone is no such event.
        if now == before:
            return
        stopped = state == PrinterState.STOPPED.value and before[0] != state
        detail = ", ".join(reasons) if reasons else "none"
        text = f"Printer {state} ({detail})" + ("" if accepting else ", not accepting jobs")
        self._deliver(
            PRINTER_STOPPED if stopped else PRINTER_STATE,
            text + ".",
            _printer_attributes(state, now[1], accepting),
        )

    def _end_job_subscriptions(self, job_id: int) -> None:
        # RFC 3995 5.3 / RFC 3996: a job's subscriptions end with it, and stay readable for
        # ippget-event-life seconds so that the client can pull the job-completed event.
        now = self._clock()
        for sub in self._subscriptions.values():
            if sub.job_id == job_id and sub.ended_at is None:
                sub.ended_at = now

    def _deliver(
        self,
        keywords: tuple[str, ...],
        text: str,
        attributes: tuple[Attribute, ...],
        job_id: int | None = None,
    ) -> None:
        """Append one notification to each subscription that asked for any of `keywords`
        (about job `job_id`, or about the printer when None)."""
        delivered = False
        now = self._clock()
        for sub in self._subscriptions.values():
            if sub.ended_at is not None:
                continue
            if job_id is not None and sub.job_id not in (None, job_id):
                continue  # another job's subscription
            event = next((e for e in keywords if e in sub.events), None)
            if event is None:
                continue
            if event == "job-progress":
                # RFC 3995 notify-time-interval: at most one job-progress per interval.
                if now - sub.last_progress < sub.time_interval:
                    continue
                sub.last_progress = now
            self._append(sub, event, text, attributes, now)
            delivered = True
        if delivered:
            self._wake()

    def _append(
        self,
        sub: Subscription,
        event: str,
        text: str,
        attributes: tuple[Attribute, ...],
        when: float | None = None,
    ) -> None:
        sub.sequence += 1
        at = self._clock() if when is None else when
        # The deque drops the oldest beyond notifications.max_events.
        sub.notifications.append(Notification(sub.sequence, event, text, at, attributes))

    def _purge(self) -> None:
        """Drop expired leases, job subscriptions past their grace, and stale events."""
        now = self._clock()
        self._last_purge = now
        life = self.config.event_life
        for sub in list(self._subscriptions.values()):
            if (sub.expires_at is not None and sub.expires_at <= now) or (
                sub.ended_at is not None and now - sub.ended_at > life
            ):
                del self._subscriptions[sub.id]
                continue
            # RFC 3996 ippget-event-life: an event is kept this long, then forgotten.
            while sub.notifications and now - sub.notifications[0].at > life:
                sub.notifications.popleft()

    def _printer_now(self) -> tuple[str, tuple[str, ...], bool]:
        device = self.device
        return (device.state.value, tuple(str(r) for r in device.reasons), device.accepting)


def _job_attributes(job: Job) -> tuple[Attribute, ...]:
    """RFC 3995 9: what a job event carries, as the job is at that moment."""
    reasons = [r for r in job.state_reasons if r] or ["none"]
    return (
        b.integer("notify-job-id", job.id),
        b.enum("job-state", job.state.ipp),
        b.keyword("job-state-reasons", *reasons),
        b.integer("job-impressions-completed", job.impressions_completed),
    )


def _printer_attributes(
    state: str, reasons: tuple[str, ...], accepting: bool
) -> tuple[Attribute, ...]:
    """RFC 3995 9: what a printer event carries."""
    return (
        b.enum("printer-state", PrinterState(state).ipp),
        b.keyword("printer-state-reasons", *(reasons or ("none",))),
        b.boolean("printer-is-accepting-jobs", accepting),
    )
