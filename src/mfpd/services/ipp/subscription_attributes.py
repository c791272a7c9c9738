"""Subscription attributes (RFC 3995 5.3-5.4), Event Notification groups (RFC 3995 9) and
the printer's notify-* attributes (RFC 3995 5.3, RFC 3996), as IPP attributes."""

from __future__ import annotations

from mfpd.codecs.ipp.registry import names_of_kind
from mfpd.codecs.ipp.tags import DelimiterTag
from mfpd.codecs.ipp.values import Attribute, AttributeGroup
from mfpd.config import NotificationsConfig
from mfpd.services.ipp import build as b
from mfpd.services.ipp.subscription_template import MAX_EVENTS
from mfpd.services.ipp.subscriptions import (
    DEFAULT_EVENTS,
    EVENTS,
    MAX_LEASE,
    PULL_METHODS,
    Notification,
    Subscription,
    SubscriptionStore,
)

# requested-attributes group names of Get-Subscription-Attributes and Get-Subscriptions.
GROUPS = {
    "subscription-template": frozenset(names_of_kind("subscription-template")),
    "subscription-description": frozenset(names_of_kind("subscription-description")),
}
# RFC 3995 17 (security): what another user's subscription does not show: who made it,
# and the data its owner attached to it.
PRIVATE = frozenset({"notify-subscriber-user-name", "notify-user-data"})


def printer_notify_attributes(config: NotificationsConfig) -> list[Attribute]:
    """The printer description attributes of notifications (PWG 5100.12 6.3 requires all
    but notify-schemes-supported, which lists push schemes: there are none)."""
    # RFC 3995 5.3 notify-lease-duration-supported: 0 means "never expires", granted only
    # when no ceiling is configured.
    low, high = (1, config.lease_max) if config.lease_max else (0, MAX_LEASE)
    return [
        b.keyword("notify-events-default", *DEFAULT_EVENTS),
        b.keyword("notify-events-supported", *EVENTS),
        b.integer("notify-lease-duration-default", config.lease_default),
        b.range_("notify-lease-duration-supported", low, high),
        b.integer("notify-max-events-supported", MAX_EVENTS),
        b.keyword("notify-pull-method-supported", *PULL_METHODS),
        b.integer("ippget-event-life", config.event_life),
    ]


def subscription_attributes(
    store: SubscriptionStore, sub: Subscription, printer_uri: str, *, owner: bool
) -> list[Attribute]:
    """Every attribute of a Subscription object; `owner` is whether the requester made it."""
    attrs = [
        b.integer("notify-subscription-id", sub.id),
        b.uri("notify-subscription-uuid", sub.uuid),
        b.uri("notify-printer-uri", printer_uri),
        b.keyword("notify-pull-method", *PULL_METHODS),
        b.keyword("notify-events", *sub.events),
        b.charset("notify-charset", sub.charset),
        b.language("notify-natural-language", sub.language),
        b.integer("notify-time-interval", sub.time_interval),
        b.integer("notify-sequence-number", sub.sequence),
        b.integer("notify-printer-up-time", store.up_time()),
        b.name_("notify-subscriber-user-name", sub.owner),
    ]
    if sub.job_id is None:
        attrs += [
            b.integer("notify-lease-duration", sub.lease),
            b.integer("notify-lease-expiration-time", store.expiration_time(sub)),
        ]
    else:
        attrs.append(b.integer("notify-job-id", sub.job_id))
    if sub.user_data is not None:
        attrs.append(b.octets("notify-user-data", sub.user_data))
    if not owner:
        attrs = [a for a in attrs if a.name not in PRIVATE]
    return attrs


def select(attrs: list[Attribute], wanted: set[str]) -> list[Attribute]:
    """The attributes `wanted` names, by name or by group ("all" by default)."""
    if "all" in wanted:
        return attrs
    names = set(wanted)
    for group, members in GROUPS.items():
        if group in wanted:
            names |= members
    return [a for a in attrs if a.name in names]


def notification_group(
    store: SubscriptionStore, sub: Subscription, note: Notification, printer_uri: str
) -> AttributeGroup:
    """One Event Notification (RFC 3995 9.1, RFC 3996 5.2)."""
    attrs = [
        b.charset("notify-charset", sub.charset),
        b.language("notify-natural-language", sub.language),
        b.uri("notify-printer-uri", printer_uri),
        b.integer("notify-subscription-id", sub.id),
        b.uri("notify-subscription-uuid", sub.uuid),
        b.integer("notify-sequence-number", note.sequence),
        b.keyword("notify-subscribed-event", note.event),
        # Debian's get-notifications.test (CUPS 2.4) expects the event under this older
        # name; RFC 3995 calls it notify-subscribed-event, given above.
        b.keyword("notify-event", note.event),
        b.text("notify-text", note.text),
        b.integer("printer-up-time", store.up_time(note.at)),
        b.date("printer-current-time", note.at),
    ]
    if sub.user_data is not None:
        attrs.append(b.octets("notify-user-data", sub.user_data))
    attrs += note.attributes
    return AttributeGroup(DelimiterTag.EVENT_NOTIFICATION, tuple(attrs))
