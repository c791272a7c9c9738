"""IPP subscriptions and ippget (RFC 3995, RFC 3996) against a real spool, without the network.

The device and spool are driven by hand (no engine), so every event is one the test made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mfpd.codecs.ipp import (
    Attribute,
    AttributeGroup,
    DelimiterTag,
    Message,
    Operation,
    StatusCode,
    attribute,
    make_request,
)
from mfpd.config import Config, ConfigError, NotificationsConfig, SpoolConfig, parse_config
from mfpd.device.alerts import ConditionKind
from mfpd.device.jobs import Job, JobState
from mfpd.device.machine import Device, build_device
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.services.ipp.operations import IppOperations
from mfpd.services.ipp.printer_attributes import printer_uris
from mfpd.services.ipp.subscriptions import SubscriptionStore

URIS = printer_uris("printer.test:631", secure=False, tls=False)
PULL = attribute("notify-pull-method", "ippget")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Printer:
    device: Device
    spool: Spool
    store: SubscriptionStore
    ops: IppOperations
    clock: Clock

    async def call(
        self,
        operation: Operation,
        *attrs: Attribute,
        groups: tuple[AttributeGroup, ...] = (),
        user: str = "alice",
    ) -> Message:
        request = make_request(
            operation,
            1,
            (
                attribute("printer-uri", URIS.ipp),
                attribute("requesting-user-name", user),
                *attrs,
            ),
            groups=groups,
        )
        return await self.ops.handle(request, _nothing(), URIS, "192.0.2.9:4000")

    async def subscribe(self, *template: Attribute, user: str = "alice") -> int:
        response = await self.call(
            Operation.CREATE_PRINTER_SUBSCRIPTIONS, groups=(_template(*template),), user=user
        )
        assert response.status == StatusCode.SUCCESSFUL_OK, response
        value = response.get(DelimiterTag.SUBSCRIPTION, "notify-subscription-id")
        assert value is not None and isinstance(value.value, int)
        return value.value

    async def notifications(self, *ids: int, user: str = "alice", **extra: object) -> Message:
        attrs = [attribute("notify-subscription-ids", *ids)]
        attrs += [attribute(name.replace("_", "-"), value) for name, value in extra.items()]
        return await self.call(Operation.GET_NOTIFICATIONS, *attrs, user=user)

    def job_life(self, job: Job) -> None:
        """What the engine would do: accept, print, complete (each announced once or twice)."""
        self.spool.finish(job)
        job.state, job.state_reasons = JobState.PROCESSING, ["job-printing"]
        self.spool.update(job)
        self.spool.update(job)  # announced again, unchanged: no new event
        job.impressions_completed = 1
        self.device.events.publish("job.page", job=job)
        job.state, job.state_reasons = JobState.COMPLETED, ["job-completed-successfully"]
        self.spool.update(job)
        self.device.events.publish("job.completed", job=job)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


def _template(*attrs: Attribute) -> AttributeGroup:
    return AttributeGroup(DelimiterTag.SUBSCRIPTION, (PULL, *attrs))


def _raw_template(*attrs: Attribute) -> AttributeGroup:
    return AttributeGroup(DelimiterTag.SUBSCRIPTION, attrs)


def _events(response: Message) -> list[tuple[int, str]]:
    """(notify-sequence-number, notify-subscribed-event) of every Event Notification."""
    out = []
    for group in response.groups_of(DelimiterTag.EVENT_NOTIFICATION):
        seq, event = group["notify-sequence-number"].value, group["notify-subscribed-event"].value
        assert isinstance(seq, int) and isinstance(event, str)
        out.append((seq, event))
    return out


def _status_codes(response: Message) -> list[object]:
    codes = []
    for group in response.groups_of(DelimiterTag.SUBSCRIPTION):
        code = group.get("notify-status-code")
        codes.append(code.value if code is not None else None)
    return codes


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[Printer]:
    yield make_printer(tmp_path, NotificationsConfig())


def make_printer(tmp_path: Path, config: NotificationsConfig) -> Printer:
    jobs = JobStore(tmp_path)
    device = build_device(Config())
    clock = Clock()
    spool = Spool(jobs, tmp_path / "spool", device.events, SpoolConfig(), clock=clock)
    store = SubscriptionStore(device, config, clock=clock)
    ops = IppOperations(device, spool, 1 << 20, subscriptions=store)
    return Printer(device, spool, store, ops, clock)


async def test_printer_events_arrive_in_order_with_rising_sequence_numbers(
    printer: Printer,
) -> None:
    sub = await printer.subscribe(
        attribute("notify-events", "printer-state-changed", "printer-config-changed")
    )
    printer.device.set_fault(ConditionKind.JAM)
    printer.device.set_fault(ConditionKind.JAM, False)
    printer.device.update_identity(location="Room 2")
    response = await printer.notifications(sub)
    assert response.status == StatusCode.SUCCESSFUL_OK
    assert _events(response) == [
        (1, "printer-state-changed"),
        (2, "printer-state-changed"),
        (3, "printer-config-changed"),
    ]
    first = response.groups_of(DelimiterTag.EVENT_NOTIFICATION)[0]
    assert first["printer-state"].value == 5  # stopped
    assert "media-jam-error" in first["printer-state-reasons"].values
    assert first["notify-printer-uri"].value == URIS.ipp
    assert first["notify-event"].value == "printer-state-changed"  # Debian's test file
    operation = response.operation_attributes
    assert operation is not None and operation["notify-get-interval"].value == 30
    # notify-sequence-numbers: only what the client has not seen yet.
    again = await printer.notifications(sub, notify_sequence_numbers=3)
    assert _events(again) == [(3, "printer-config-changed")]


async def test_a_subscription_hears_the_most_particular_event_it_asked_for(
    printer: Printer,
) -> None:
    both = await printer.subscribe(attribute("notify-events", "printer-stopped"))
    printer.device.set_fault(ConditionKind.JAM)
    printer.device.set_fault(ConditionKind.JAM, False)  # back to idle: no printer-stopped
    assert _events(await printer.notifications(both)) == [(1, "printer-stopped")]


async def test_a_job_life_on_a_printer_subscription(printer: Printer) -> None:
    sub = await printer.subscribe(
        attribute("notify-events", "job-created", "job-state-changed", "job-completed")
    )
    job = printer.spool.create("lpd", name="report", user="carl")  # every job, any protocol
    printer.job_life(job)
    response = await printer.notifications(sub)
    assert _events(response) == [
        (1, "job-created"),
        (2, "job-state-changed"),  # accepted: job-incoming gone
        (3, "job-state-changed"),  # processing
        (4, "job-completed"),
    ]
    last = response.groups_of(DelimiterTag.EVENT_NOTIFICATION)[-1]
    assert last["notify-job-id"].value == job.id and last["job-state"].value == 9
    # A printer subscription does not end with a job.
    assert response.status == StatusCode.SUCCESSFUL_OK


async def test_subscriptions_made_with_a_job_follow_it_and_end_with_it(printer: Printer) -> None:
    response = await printer.call(
        Operation.CREATE_JOB,
        groups=(
            _template(attribute("notify-events", "job-created", "job-completed", "job-progress")),
            _raw_template(attribute("notify-recipient-uri", "mailto:alice@example.com")),
        ),
    )
    # RFC 3995 11.1.3: the job is made; one subscription of two is refused.
    assert response.status == StatusCode.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS
    job_group = response.first(DelimiterTag.JOB)
    assert job_group is not None
    job = printer.spool.get(int(job_group["job-id"].value))  # type: ignore[arg-type]
    assert job is not None
    assert _status_codes(response) == [
        None,
        StatusCode.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED,
    ]
    created = response.groups_of(DelimiterTag.SUBSCRIPTION)[0]["notify-subscription-id"].value
    assert isinstance(created, int)
    other = printer.spool.create("ipp", name="someone else's")
    printer.job_life(other)  # not this subscription's job
    printer.job_life(job)
    response = await printer.notifications(created, notify_wait=True)
    assert _events(response) == [(1, "job-created"), (2, "job-progress"), (3, "job-completed")]
    # RFC 3996: the subscription has ended; nothing more will come.
    assert response.status == StatusCode.SUCCESSFUL_OK_EVENTS_COMPLETE
    operation = response.operation_attributes
    assert operation is not None and "notify-get-interval" not in operation
    # ... and it is kept for ippget-event-life, then gone.
    printer.clock.now += printer.store.config.event_life + 1
    gone = await printer.notifications(created)
    assert gone.status == StatusCode.CLIENT_ERROR_NOT_FOUND


async def test_create_job_subscriptions_needs_an_unfinished_job(printer: Printer) -> None:
    job = printer.spool.create("ipp", name="x")
    template = (_template(attribute("notify-events", "job-completed")),)
    response = await printer.call(
        Operation.CREATE_JOB_SUBSCRIPTIONS, attribute("notify-job-id", job.id), groups=template
    )
    assert response.status == StatusCode.SUCCESSFUL_OK
    missing = await printer.call(
        Operation.CREATE_JOB_SUBSCRIPTIONS, attribute("notify-job-id", 999), groups=template
    )
    assert missing.status == StatusCode.CLIENT_ERROR_NOT_FOUND
    printer.job_life(job)
    done = await printer.call(
        Operation.CREATE_JOB_SUBSCRIPTIONS, attribute("notify-job-id", job.id), groups=template
    )
    assert done.status == StatusCode.CLIENT_ERROR_NOT_POSSIBLE
    listed = await printer.call(Operation.GET_SUBSCRIPTIONS, attribute("notify-job-id", job.id))
    assert len(listed.groups_of(DelimiterTag.SUBSCRIPTION)) == 1
    # Without notify-job-id, Get-Subscriptions lists the printer's subscriptions: none.
    printer_subs = await printer.call(Operation.GET_SUBSCRIPTIONS)
    assert printer_subs.groups_of(DelimiterTag.SUBSCRIPTION) == []


@pytest.mark.parametrize(
    ("group", "status"),
    [
        # RFC 3995 5.3.1: push needs a scheme this printer does not have
        (_raw_template(attribute("notify-recipient-uri", "mailto:a@b")), 0x040C),
        # exactly one of push and pull
        (_raw_template(attribute("notify-events", "job-completed")), 0x0400),
        (_template(attribute("notify-recipient-uri", "mailto:a@b")), 0x0400),
        (_raw_template(attribute("notify-pull-method", "carrier-pigeon")), 0x040B),
        (_template(attribute("notify-user-data", b"x" * 64)), 0x0409),
        (_template(attribute("notify-events", "no-such-event")), 0x040B),
        (_template(attribute("notify-lease-duration", -1)), 0x040B),
    ],
    ids=["push", "neither", "both", "pull-method", "user-data", "events", "lease"],
)
async def test_a_refused_template_says_why(
    printer: Printer, group: AttributeGroup, status: int
) -> None:
    response = await printer.call(Operation.CREATE_PRINTER_SUBSCRIPTIONS, groups=(group,))
    assert response.status == StatusCode.CLIENT_ERROR_IGNORED_ALL_SUBSCRIPTIONS
    assert _status_codes(response) == [status]
    assert list(printer.store) == []


async def test_ignored_values_are_returned_and_the_rest_is_kept(printer: Printer) -> None:
    response = await printer.call(
        Operation.CREATE_PRINTER_SUBSCRIPTIONS,
        groups=(
            _template(
                attribute("notify-events", "job-completed", "no-such-event"),
                attribute("notify-attributes", "job-name"),
                attribute("notify-charset", "iso-8859-1"),
            ),
        ),
    )
    assert response.status == StatusCode.SUCCESSFUL_OK
    group = response.groups_of(DelimiterTag.SUBSCRIPTION)[0]
    assert group["notify-status-code"].value == (
        StatusCode.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
    )
    assert group["notify-events"].values == ("no-such-event",)
    assert "notify-attributes" in group and "notify-charset" in group
    (sub,) = list(printer.store)
    assert sub.events == ("job-completed",) and sub.charset == "utf-8"


async def test_leases_are_granted_within_the_limit_expire_and_renew(tmp_path: Path) -> None:
    printer = make_printer(tmp_path, NotificationsConfig(lease_default=50, lease_max=100))
    response = await printer.call(
        Operation.CREATE_PRINTER_SUBSCRIPTIONS,
        groups=(_template(attribute("notify-lease-duration", 0)),),  # forever: not here
    )
    group = response.groups_of(DelimiterTag.SUBSCRIPTION)[0]
    assert group["notify-lease-duration"].value == 100
    sub = group["notify-subscription-id"].value
    assert isinstance(sub, int)
    printer.clock.now += 90
    renewed = await printer.call(
        Operation.RENEW_SUBSCRIPTION,
        attribute("notify-subscription-id", sub),
        attribute("notify-lease-duration", 30),
    )
    assert renewed.status == StatusCode.SUCCESSFUL_OK
    printer.clock.now += 29
    assert printer.store.get(sub) is not None
    printer.clock.now += 2
    assert printer.store.get(sub) is None  # the lease ran out
    attrs = await printer.call(
        Operation.GET_SUBSCRIPTION_ATTRIBUTES, attribute("notify-subscription-id", sub)
    )
    assert attrs.status == StatusCode.CLIENT_ERROR_NOT_FOUND


async def test_limits_on_subscriptions_and_kept_events(tmp_path: Path) -> None:
    printer = make_printer(tmp_path, NotificationsConfig(max_subscriptions=2, max_events=3))
    events = attribute("notify-events", "printer-state-changed")
    first = await printer.subscribe(events)
    await printer.subscribe(events)
    response = await printer.call(
        Operation.CREATE_PRINTER_SUBSCRIPTIONS, groups=(_template(events), _template(events))
    )
    assert response.status == StatusCode.CLIENT_ERROR_IGNORED_ALL_SUBSCRIPTIONS
    assert _status_codes(response) == [StatusCode.CLIENT_ERROR_TOO_MANY_SUBSCRIPTIONS] * 2
    for paused in (True, False, True, False, True):
        printer.device.set_paused(paused)
    # The oldest events went; the numbering goes on.
    assert [seq for seq, _ in _events(await printer.notifications(first))] == [3, 4, 5]
    # Old events are forgotten after ippget-event-life.
    printer.clock.now += printer.store.config.event_life + 1
    assert _events(await printer.notifications(first)) == []


async def test_job_progress_respects_notify_time_interval(printer: Printer) -> None:
    sub = await printer.subscribe(
        attribute("notify-events", "job-progress"), attribute("notify-time-interval", 10)
    )
    job = printer.spool.create("raw")
    for page in range(1, 26):
        job.impressions_completed = page
        printer.device.events.publish("job.page", job=job)
        printer.clock.now += 1
    response = await printer.notifications(sub)
    pages = [
        g["job-impressions-completed"].value
        for g in response.groups_of(DelimiterTag.EVENT_NOTIFICATION)
    ]
    assert pages == [1, 11, 21]


async def test_only_the_owner_pulls_renews_or_cancels(printer: Printer) -> None:
    sub = await printer.subscribe(attribute("notify-user-data", b"alice's cookie"))
    sub_id = attribute("notify-subscription-id", sub)
    for operation, attrs in (
        (Operation.GET_NOTIFICATIONS, (attribute("notify-subscription-ids", sub),)),
        (Operation.RENEW_SUBSCRIPTION, (sub_id,)),
        (Operation.CANCEL_SUBSCRIPTION, (sub_id,)),
    ):
        response = await printer.call(operation, *attrs, user="bob")
        assert response.status == StatusCode.CLIENT_ERROR_NOT_AUTHORIZED, operation
    # Anyone may read it, but not whose it is or the data attached to it.
    seen = await printer.call(Operation.GET_SUBSCRIPTION_ATTRIBUTES, sub_id, user="bob")
    group = seen.groups_of(DelimiterTag.SUBSCRIPTION)[0]
    assert "notify-events" in group
    assert "notify-subscriber-user-name" not in group and "notify-user-data" not in group
    own = await printer.call(Operation.GET_SUBSCRIPTION_ATTRIBUTES, sub_id)
    group = own.groups_of(DelimiterTag.SUBSCRIPTION)[0]
    assert group["notify-subscriber-user-name"].value == "alice"
    assert group["notify-user-data"].value == b"alice's cookie"
    mine = await printer.call(
        Operation.GET_SUBSCRIPTIONS, attribute("my-subscriptions", True), user="bob"
    )
    assert mine.groups_of(DelimiterTag.SUBSCRIPTION) == []
    cancel = await printer.call(Operation.CANCEL_SUBSCRIPTION, sub_id)
    assert cancel.status == StatusCode.SUCCESSFUL_OK and printer.store.get(sub) is None


async def test_notify_wait_returns_at_the_first_event_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    printer = make_printer(tmp_path, NotificationsConfig(wait_timeout=5.0))
    sub = await printer.subscribe(attribute("notify-events", "printer-state-changed"))
    ticks = 0

    async def meanwhile() -> None:
        nonlocal ticks
        for _ in range(5):
            await asyncio.sleep(0.02)
            ticks += 1  # the event loop keeps running while the request waits
        printer.device.set_paused(True)

    started = time.monotonic()
    response, _ = await asyncio.gather(printer.notifications(sub, notify_wait=True), meanwhile())
    assert ticks == 5 and time.monotonic() - started < 2
    assert _events(response) == [(1, "printer-state-changed")]


async def test_notify_wait_is_bounded_and_shutdown_ends_it(tmp_path: Path) -> None:
    printer = make_printer(tmp_path, NotificationsConfig(wait_timeout=0.2))
    sub = await printer.subscribe(attribute("notify-events", "printer-shutdown"))
    started = time.monotonic()
    response = await printer.notifications(sub, notify_wait=True)
    assert _events(response) == [] and 0.15 < time.monotonic() - started < 2
    printer.store.config = NotificationsConfig(wait_timeout=60)
    asyncio.get_running_loop().call_later(0.05, printer.store.close)
    started = time.monotonic()
    response = await printer.notifications(sub, notify_wait=True)
    assert time.monotonic() - started < 2
    assert _events(response) == [(1, "printer-shutdown")]


async def test_printer_attributes_describe_notifications(printer: Printer) -> None:
    response = await printer.call(Operation.GET_PRINTER_ATTRIBUTES)
    group = response.first(DelimiterTag.PRINTER)
    assert group is not None
    assert group["notify-pull-method-supported"].values == ("ippget",)
    assert "job-completed" in group["notify-events-supported"].values
    assert group["notify-lease-duration-default"].value == 86400
    assert group["notify-max-events-supported"].value >= 2  # type: ignore[operator]
    assert group["ippget-event-life"].value == 60
    assert "notify-schemes-supported" not in group  # no push method
    operations = group["operations-supported"].values
    assert all(op in operations for op in range(0x16, 0x1D))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[ipp.notifications]\nevent_life = 10\n", "ipp.notifications.event_life"),
        ("[ipp.notifications]\nget_interval = 60\n", "ipp.notifications"),
        ("[ipp.notifications]\nlease_max = 10\n", "ipp.notifications"),
    ],
)
def test_notification_settings_are_checked(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'"):
        parse_config(text)
