"""The event bus: how changes in the device reach the services that report them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EventHandler = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    """One change. `kind` is a dotted name (printer.state, job.state, alert.added, ...)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class EventBus:
    """Synchronous publish/subscribe; handlers must not block (asyncio code queues the event)."""

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def publish(self, kind: str, **data: Any) -> None:
        event = Event(kind, data)
        # A copy, because a handler may unsubscribe itself while being called.
        for handler in list(self._handlers):
            handler(event)
