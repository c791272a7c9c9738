"""What every listener of the web server shares: one administrator, one set of sessions and
tokens, one event log, and the way to change the device's settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from mfpd.outbound.ldap import AddressBookCache
from mfpd.security.audit import EventLog
from mfpd.security.audit_events import Actor
from mfpd.security.auth import Administrator, ApiTokens, LoginThrottle, Sessions
from mfpd.services.base import PortEntry


class ChangeSettings(Protocol):
    async def __call__(
        self, patch: dict[str, Any], *, carrying: str | None, actor: str, who: Actor | None = None
    ) -> dict[str, Any]:
        """Validate and apply an RFC 7396 merge patch of the settings document; answer the
        new document. Raises settings.SettingsError naming the key when it is refused.
        `actor` is the event log's text, `who` the audit log's user, address and interface."""
        ...


@dataclass
class WebState:
    admin: Administrator
    sessions: Sessions
    throttle: LoginThrottle
    tokens: ApiTokens
    log: EventLog
    change_settings: ChangeSettings
    settings: Callable[[], dict[str, Any]]  # the settings document (GET /api/v1/config)
    ports: Callable[[], list[PortEntry]]  # the live port table
    restart: Callable[[list[str], str | None], Awaitable[None]]  # after a new certificate
    # The directory's recent address-book answers ([ldap] cache_seconds).
    address_book: AddressBookCache = field(default_factory=AddressBookCache)

    def live_port(self, service: str) -> int | None:
        """The port `service` listens on now, from the live table (what /api/v1/ports
        shows); None when it does not listen (off, failed to bind, not in this release)."""
        return next((r.port for r in self.ports() if r.service == service and r.listening), None)


# The application keys of a listener's aiohttp app.
WEB = web.AppKey("mfpd.web", WebState)
SERVICE: web.AppKey[Any] = web.AppKey("mfpd.service")  # the listener (IppService and kin)
# Event streams open on the listener, and the signal that it stops (api_events.py).
STREAMS: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("mfpd.streams")
CLOSING = web.AppKey("mfpd.closing", asyncio.Event)
