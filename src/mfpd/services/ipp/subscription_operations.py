"""The notification operations: RFC 3995 11 (Create-Printer-Subscriptions,
Create-Job-Subscriptions, Get-Subscription-Attributes, Get-Subscriptions, Renew-Subscription,
Cancel-Subscription, and subscriptions made with a job) and RFC 3996 5 (Get-Notifications).

Who may do what (RFC 3995 17): without authentication the owner of a subscription is the
requesting-user-name that made it. Anyone may list and read subscriptions (without their
owner and user data, unless they are the requester's); only the owner renews, cancels or
pulls its events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mfpd.codecs.ipp.tags import DelimiterTag, Operation, StatusCode, ValueTag
from mfpd.codecs.ipp.values import Attribute, AttributeGroup
from mfpd.device.jobs import Job
from mfpd.device.spool import Spool
from mfpd.services.ipp import build as b
from mfpd.services.ipp.printer_attributes import PrinterUris
from mfpd.services.ipp.request import Body, Handler, IppError, Request, Response
from mfpd.services.ipp.subscription_attributes import (
    notification_group,
    select,
    subscription_attributes,
)
from mfpd.services.ipp.subscription_template import judge
from mfpd.services.ipp.subscriptions import (
    MAX_LEASE,
    Subscription,
    SubscriptionStore,
    TooManySubscriptions,
)

log = logging.getLogger("mfpd.ipp")

_OK = StatusCode.SUCCESSFUL_OK


class SubscriptionOperations:
    """The handlers; `uris` gives the printer's URIs as the current request reached it."""

    def __init__(
        self, store: SubscriptionStore, spool: Spool, uris: Callable[[], PrinterUris]
    ) -> None:
        self.store = store
        self.spool = spool
        self._uris = uris

    def handlers(self) -> dict[int, Handler]:
        return {
            Operation.CREATE_PRINTER_SUBSCRIPTIONS: self.create_printer_subscriptions,
            Operation.CREATE_JOB_SUBSCRIPTIONS: self.create_job_subscriptions,
            Operation.GET_SUBSCRIPTION_ATTRIBUTES: self.get_subscription_attributes,
            Operation.GET_SUBSCRIPTIONS: self.get_subscriptions,
            Operation.RENEW_SUBSCRIPTION: self.renew_subscription,
            Operation.CANCEL_SUBSCRIPTION: self.cancel_subscription,
            Operation.GET_NOTIFICATIONS: self.get_notifications,
        }

    # -- creating subscriptions ----------------------------------------------------------

    def subscribe_job(self, request: Request, job: Job, response: Response) -> None:
        """RFC 3995 11.1.3: the Subscription Template groups of Print-Job or Create-Job,
        made subscriptions of the job just created. A refused group never fails the job."""
        groups = request.message.groups_of(DelimiterTag.SUBSCRIPTION)
        if not groups:
            return
        created = self._create(request, groups, job, response)
        if created < len(groups) and response.status == _OK:
            response.status = StatusCode.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS

    async def create_printer_subscriptions(
        self, request: Request, body: Body, response: Response
    ) -> None:
        self._create_all(request, None, response)

    async def create_job_subscriptions(
        self, request: Request, body: Body, response: Response
    ) -> None:
        job_id = _integer(request, "notify-job-id")
        if job_id is None:
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "notify-job-id is required")
        job = self.spool.get(job_id)
        if job is None:
            raise IppError(StatusCode.CLIENT_ERROR_NOT_FOUND, f"job {job_id} does not exist")
        if job.state.terminal:
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_POSSIBLE, f"job {job_id} is {job.state.value}"
            )
        self._create_all(request, job, response)

    def _create_all(self, request: Request, job: Job | None, response: Response) -> None:
        groups = request.message.groups_of(DelimiterTag.SUBSCRIPTION)
        if not groups:
            raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "no subscription template group")
        created = self._create(request, groups, job, response, announce=False)
        # RFC 3995 12: the operation's status says whether all, some or none were made.
        if created == 0:
            response.status = StatusCode.CLIENT_ERROR_IGNORED_ALL_SUBSCRIPTIONS
            response.message = "no subscription was created"
        elif created < len(groups):
            response.status = StatusCode.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS

    def _create(
        self,
        request: Request,
        groups: list[AttributeGroup],
        job: Job | None,
        response: Response,
        *,
        announce: bool = True,
    ) -> int:
        """One Subscription Attributes group answers each template group (RFC 3995 11.1);
        returns how many subscriptions were made."""
        created = 0
        for group in groups:
            verdict = judge(group, per_job=job is not None)
            answer: list[Attribute] = []
            status = verdict.status
            if verdict.template is not None:
                try:
                    sub = self.store.create(request.user, verdict.template, job)
                except TooManySubscriptions as exc:
                    status = StatusCode.CLIENT_ERROR_TOO_MANY_SUBSCRIPTIONS
                    log.info("ipp: %s: %s", request.peer, exc)
                else:
                    created += 1
                    answer.append(b.integer("notify-subscription-id", sub.id))
                    if job is None:
                        answer.append(b.integer("notify-lease-duration", sub.lease))
                        asked = verdict.template.lease
                        if asked is not None and asked != sub.lease and status == _OK:
                            status = StatusCode.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
                    elif announce:
                        self.store.announce_created(sub, job)
                    log.info(
                        "ipp: %s: subscription %d for %s (%s%s)",
                        request.peer, sub.id, request.user, ",".join(sub.events),
                        f", job {job.id}" if job is not None else "",
                    )  # fmt: skip
            answer += verdict.returned
            if status != _OK:
                answer.append(b.enum("notify-status-code", status))
            response.groups.append(AttributeGroup(DelimiterTag.SUBSCRIPTION, tuple(answer)))
        return created

    # -- reading, renewing, canceling ----------------------------------------------------

    def _subscription(self, request: Request, *, mine: bool = False) -> Subscription:
        sub_id = _integer(request, "notify-subscription-id")
        if sub_id is None:
            raise IppError(
                StatusCode.CLIENT_ERROR_BAD_REQUEST, "notify-subscription-id is required"
            )
        sub = self.store.get(sub_id)
        if sub is None:
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_FOUND, f"subscription {sub_id} does not exist"
            )
        if mine:
            _check_owner(request, sub)
        return sub

    def _view(self, request: Request, sub: Subscription, wanted: set[str]) -> AttributeGroup:
        attrs = subscription_attributes(
            self.store, sub, self._uris().ipp, owner=sub.owner == request.user
        )
        return AttributeGroup(DelimiterTag.SUBSCRIPTION, tuple(select(attrs, wanted)))

    async def get_subscription_attributes(
        self, request: Request, body: Body, response: Response
    ) -> None:
        sub = self._subscription(request)
        response.groups.append(self._view(request, sub, _requested(request)))

    async def get_subscriptions(self, request: Request, body: Body, response: Response) -> None:
        """RFC 3995 11.2.4: the printer's subscriptions, or those of notify-job-id."""
        job_id = _integer(request, "notify-job-id")
        if request.get("notify-job-id") is not None:
            if job_id is None:
                raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "bad notify-job-id")
            if self.spool.get(job_id) is None:
                raise IppError(StatusCode.CLIENT_ERROR_NOT_FOUND, f"job {job_id} does not exist")
        limit = _integer(request, "limit")
        mine = request.value("my-subscriptions") is True
        wanted = _requested(request)
        subs = [
            sub
            for sub in self.store
            if sub.job_id == job_id and (not mine or sub.owner == request.user)
        ]
        if limit is not None and limit > 0:
            subs = subs[:limit]
        response.groups += [self._view(request, sub, wanted) for sub in subs]

    async def renew_subscription(self, request: Request, body: Body, response: Response) -> None:
        sub = self._subscription(request, mine=True)
        if sub.job_id is not None:
            # RFC 3995 11.2.5: a job subscription has no lease to renew.
            raise IppError(
                StatusCode.CLIENT_ERROR_NOT_POSSIBLE,
                f"subscription {sub.id} belongs to job {sub.job_id} and ends with it",
            )
        lease: int | None = None
        if request.get("notify-lease-duration") is not None:
            lease = _integer(request, "notify-lease-duration")
            if lease is None or not 0 <= lease <= MAX_LEASE:
                raise IppError(StatusCode.CLIENT_ERROR_BAD_REQUEST, "bad notify-lease-duration")
        granted = self.store.renew(sub, lease)
        if lease is not None and granted != lease:
            response.status = StatusCode.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
        response.groups.append(
            AttributeGroup(
                DelimiterTag.SUBSCRIPTION, (b.integer("notify-lease-duration", granted),)
            )
        )

    async def cancel_subscription(self, request: Request, body: Body, response: Response) -> None:
        sub = self._subscription(request, mine=True)
        self.store.cancel(sub)
        log.info("ipp: %s: subscription %d canceled by %s", request.peer, sub.id, request.user)

    # -- pulling events ------------------------------------------------------------------

    async def get_notifications(self, request: Request, body: Body, response: Response) -> None:
        """RFC 3996 5.2: the kept events of the subscriptions named, waiting a while for
        one when notify-wait asks and there is none yet."""
        ids = _integers(request, "notify-subscription-ids")
        if not ids:
            raise IppError(
                StatusCode.CLIENT_ERROR_BAD_REQUEST, "notify-subscription-ids is required"
            )
        firsts = _integers(request, "notify-sequence-numbers") or []
        for sub_id in ids:
            sub = self.store.get(sub_id)
            if sub is None:
                response.unsupported.append(b.integer("notify-subscription-ids", sub_id))
                raise IppError(
                    StatusCode.CLIENT_ERROR_NOT_FOUND, f"subscription {sub_id} does not exist"
                )
            _check_owner(request, sub)
        wait = request.value("notify-wait") is True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.store.config.wait_timeout
        while True:
            # Looked up again after a wait: a subscription may have ended or been canceled.
            subs = [s for s in (self.store.get(i) for i in ids) if s is not None]
            found = [
                (sub, note)
                for index, sub in enumerate(subs)
                for note in self.store.notifications(
                    sub, firsts[index] if index < len(firsts) else 1
                )
            ]
            complete = all(sub.ended_at is not None for sub in subs)
            remaining = deadline - loop.time()
            if found or not wait or complete or self.store.closed or remaining <= 0:
                break
            await self.store.wait(remaining)
        printer_uri = self._uris().ipp
        if complete:
            # RFC 3996 5.2: every subscription named has ended: no need to ask again.
            response.status = StatusCode.SUCCESSFUL_OK_EVENTS_COMPLETE
        else:
            interval = self.store.config.get_interval
            response.operation.append(b.integer("notify-get-interval", interval))
        response.operation.append(b.integer("printer-up-time", self.store.up_time()))
        response.groups += [
            notification_group(self.store, sub, note, printer_uri) for sub, note in found
        ]


def _check_owner(request: Request, sub: Subscription) -> None:
    if sub.owner != request.user:
        raise IppError(
            StatusCode.CLIENT_ERROR_NOT_AUTHORIZED,
            f"subscription {sub.id} belongs to another user",
        )


def _integer(request: Request, name: str) -> int | None:
    attr = request.get(name)
    if attr is None or attr.tag != ValueTag.INTEGER or len(attr.values) != 1:
        return None
    value = attr.value
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _integers(request: Request, name: str) -> list[int] | None:
    attr = request.get(name)
    if attr is None or attr.tag != ValueTag.INTEGER or attr.value_tags is not None:
        return None
    values = [v for v in attr.values if isinstance(v, int) and not isinstance(v, bool)]
    return values if len(values) == len(attr.values) else None


def _requested(request: Request) -> set[str]:
    attr = request.get("requested-attributes")
    if attr is None or attr.is_out_of_band:
        return {"all"}
    return {str(v) for v in attr.values}
