"""Subscription Template groups (RFC 3995 5.3): what a client may ask a subscription for.

Each group of a Create-*-Subscriptions or job creation request is judged on its own
(RFC 3995 5.2): a bad group is refused with its notify-status-code while the others go
on, and what the printer ignored or changed is returned in that group's answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mfpd.codecs.ipp.tags import StatusCode, ValueTag
from mfpd.codecs.ipp.values import Attribute, AttributeGroup
from mfpd.services.ipp import build as b
from mfpd.services.ipp.subscriptions import (
    DEFAULT_EVENTS,
    EVENTS,
    MAX_LEASE,
    PULL_METHODS,
    Template,
)

# RFC 3995 5.3: notify-user-data is octetString(63).
USER_DATA_MAX = 63
CHARSETS = ("utf-8", "us-ascii")
# notify-max-events-supported (RFC 3995 5.3.3): how many notify-events values one
# subscription may have. All the events this printer knows fit, so that no request is cut
# short (successful-ok-too-many-events never arises).
MAX_EVENTS = len(EVENTS)

# Which refusal a group gets when several apply, the most basic first.
_REFUSALS = (
    StatusCode.CLIENT_ERROR_BAD_REQUEST,
    StatusCode.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED,
    StatusCode.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG,
    StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
)


@dataclass
class Judgement:
    """One group, judged: the template to create, or the status it is refused with."""

    template: Template | None = None
    # notify-status-code for the group's answer; SUCCESSFUL_OK when there is nothing to say.
    status: StatusCode = StatusCode.SUCCESSFUL_OK
    # Attributes and values ignored, substituted or refused, returned in the group's answer.
    returned: list[Attribute] = field(default_factory=list)


def _single(attr: Attribute, tag: ValueTag) -> bool:
    return attr.tag == tag and attr.value_tags is None and len(attr.values) == 1


def _integer(attr: Attribute, low: int, high: int) -> int | None:
    value = attr.value
    if not _single(attr, ValueTag.INTEGER) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def judge(group: AttributeGroup, *, per_job: bool) -> Judgement:
    """Check one Subscription Template group; `per_job` for a job's subscription."""
    refusals: set[StatusCode] = set()
    returned: list[Attribute] = []
    substituted = False
    events: tuple[str, ...] | None = None
    lease: int | None = None
    interval = 0
    user_data: bytes | None = None
    charset = "utf-8"
    language = "en"

    def refuse(status: StatusCode, attr: Attribute) -> None:
        refusals.add(status)
        returned.append(attr)

    # RFC 3995 5.3.1-5.3.2: exactly one of notify-recipient-uri (push) and
    # notify-pull-method (pull).
    recipient = group.get("notify-recipient-uri")
    method = group.get("notify-pull-method")
    if (recipient is None) == (method is None):
        refusals.add(StatusCode.CLIENT_ERROR_BAD_REQUEST)
    seen: set[str] = set()
    for attr in group:
        name = attr.name
        if name in seen:
            refuse(StatusCode.CLIENT_ERROR_BAD_REQUEST, attr)  # RFC 8011 4.1.3: once only
            continue
        seen.add(name)
        if name == "notify-recipient-uri":
            # No push Delivery Method here: notify-schemes-supported has no value.
            refuse(StatusCode.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED, attr)
        elif name == "notify-pull-method":
            if not _single(attr, ValueTag.KEYWORD) or attr.value not in PULL_METHODS:
                refuse(StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, attr)
        elif name == "notify-events":
            if attr.tag != ValueTag.KEYWORD or attr.value_tags is not None:
                refuse(StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, attr)
                continue
            asked = list(dict.fromkeys(str(v) for v in attr.values))
            known = [e for e in asked if e in EVENTS]
            unknown = [e for e in asked if e not in EVENTS]
            if unknown:
                returned.append(b.keyword("notify-events", *unknown))
                substituted = True
            if not known:
                refusals.add(StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED)
            events = tuple(known)
        elif name == "notify-lease-duration":
            if per_job:
                # RFC 3995 5.3 notify-lease-duration: a job subscription ends with its job.
                returned.append(attr)
                substituted = True
            elif (value := _integer(attr, 0, MAX_LEASE)) is None:
                refuse(StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, attr)
            else:
                lease = value
        elif name == "notify-time-interval":
            if (value := _integer(attr, 0, 2**31 - 1)) is None:
                refuse(StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, attr)
            else:
                interval = value
        elif name == "notify-user-data":
            data = attr.value
            if not _single(attr, ValueTag.OCTET_STRING) or not isinstance(data, bytes):
                refuse(StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, attr)
            elif len(data) > USER_DATA_MAX:
                refuse(StatusCode.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG, attr)
            else:
                user_data = data
        elif name == "notify-charset":
            if not _single(attr, ValueTag.CHARSET):
                refuse(StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, attr)
            elif str(attr.value).lower() in CHARSETS:
                charset = str(attr.value).lower()
            else:
                returned.append(attr)  # substituted by utf-8
                substituted = True
        elif name == "notify-natural-language":
            tag = str(attr.value).lower()
            if not _single(attr, ValueTag.NATURAL_LANGUAGE):
                refuse(StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, attr)
            elif tag == "en" or tag.startswith("en-"):
                language = tag
            else:
                returned.append(attr)  # notify-text is English: substituted by en
                substituted = True
        else:
            # notify-attributes (optional, not supported here) and whatever else a client
            # sends: ignored, and said so (RFC 3995 5.2).
            returned.append(Attribute.of(name, ValueTag.UNSUPPORTED))
            substituted = True

    for status in _REFUSALS:
        if status in refusals:
            return Judgement(None, status, returned)
    template = Template(
        events=events if events is not None else DEFAULT_EVENTS,
        lease=lease,
        time_interval=interval,
        user_data=user_data,
        charset=charset,
        language=language,
    )
    status = (
        StatusCode.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
        if substituted
        else StatusCode.SUCCESSFUL_OK
    )
    return Judgement(template, status, returned)
