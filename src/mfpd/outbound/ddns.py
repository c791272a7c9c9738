"""Dynamic update (RFC 2136) of the device's own DNS records: the A/AAAA records of its host
name in [dns] zone and the PTR record of each of its addresses, signed with TSIG (RFC 8945),
at start and whenever the host name (IPP, SNMP, web) or the address (the DHCP lease:
`update_records`) changes.

Only the device's own names are touched, and without prerequisites (RFC 2136 section 2.4):
the device owns its name and the reverse names of its addresses, so it replaces their
records whatever they held. A refused update (REFUSED, NOTAUTH, BADSIG, BADKEY, BADTIME), an
unreachable server or a name outside the zone is a log line and an audit entry; the daemon
carries on as before."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Never

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.reversename
import dns.tsig
import dns.update

from mfpd.config import dns_server_address
from mfpd.device.events import Event, EventBus
from mfpd.outbound.destinations import DeliveryError
from mfpd.outbound.dns import resolver_of
from mfpd.outbound.policy import client_policy, credential_used, open_password
from mfpd.security.audit_log import DDNS_UPDATE

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

log = logging.getLogger("mfpd.ddns")

# The audit log's event for each update sent (security/audit_log.py).
DDNS_EVENT = "ddns-update"
# RFC 8945 section 5.2: the TSIG errors a server answers with, as dnspython raises them.
TSIG_ERRORS: tuple[tuple[type[dns.tsig.PeerError], str], ...] = (
    (dns.tsig.PeerBadKey, "BADKEY"),
    (dns.tsig.PeerBadSignature, "BADSIG"),
    (dns.tsig.PeerBadTime, "BADTIME"),
    (dns.tsig.PeerBadTruncation, "BADTRUNC"),
)
_WILDCARDS = ("", "0.0.0.0", "::")
HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class UpdateRefused(Exception):
    """An update not made: the reason goes to the log and the audit log."""


@dataclass(frozen=True)
class Published:
    """What the device last wrote, so that a new name or address also removes the old."""

    name: dns.name.Name
    addresses: tuple[str, ...]


class DynamicDns:
    """The updates of one device: one at a time, in the order asked."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        # Set by the DHCP client (update_records); None: the daemon's bind address.
        self.addresses: tuple[str, ...] | None = None
        self.published: Published | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[bool]] = set()

    def follow(self, events: EventBus) -> None:
        events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.kind == "identity.changed" and "hostname" in event.data.get("changes", {}):
            self.schedule()

    def schedule(self) -> None:
        """Publish the current name and addresses in the background."""
        try:
            task = asyncio.get_running_loop().create_task(self.publish(), name="ddns")
        except RuntimeError:
            return  # no loop (a unit test changing the identity): nothing to update
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self) -> bool:
        return await self.update(self.ctx.device.identity.hostname, self.addresses)

    async def update(self, name: str, addresses: Sequence[str] | None) -> bool:
        """Replace the records of `name` with `addresses` (None: the device's own), and the
        PTR records of those addresses. True when every update was accepted."""
        async with self._lock:
            try:
                return await self._update(name, addresses)
            except UpdateRefused:
                return False
            except (dns.exception.DNSException, ValueError, OSError) as exc:
                # Whatever else (an address that is not one, a socket error): the same log
                # line and audit entry; the daemon carries on.
                with contextlib.suppress(UpdateRefused):
                    self._refused(f"host name {name!r}", "", f"{type(exc).__name__}: {exc}")
                return False

    async def wait(self) -> None:
        """Until the updates already asked for are done (tests, and the stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.wait()

    # -- one update ---------------------------------------------------------------------

    async def _update(self, name: str, given: Sequence[str] | None) -> bool:
        config = self.ctx.config.dns
        zone = dns.name.from_text(config.zone)
        fqdn = self._fqdn(name, zone)
        addresses = tuple(given) if given is not None else await self._own_addresses(zone)
        message = self._message(zone)
        previous = self.published
        if previous is not None and previous.name != fqdn and previous.name.is_subdomain(zone):
            # The old name was the device's: it goes with the change (RFC 2136 2.5.2).
            message.delete(previous.name, "A")
            message.delete(previous.name, "AAAA")
        message.delete(fqdn, "A")
        message.delete(fqdn, "AAAA")
        for address in addresses:
            message.add(fqdn, config.ttl, _rdtype(address), address)
        records = ", ".join(f"{_rdtype(a)} {a}" for a in addresses) or "none"
        await self._send(message, zone, f"{fqdn} {records}")
        self.published = Published(fqdn, addresses)
        return await self._reverse(fqdn, addresses, previous)

    async def _reverse(
        self, fqdn: dns.name.Name, addresses: tuple[str, ...], previous: Published | None
    ) -> bool:
        """The PTR record of each address names the device; an address it no longer has
        loses the PTR that named it (that one record only: the address may be another's
        by now)."""
        config = self.ctx.config.dns
        by_zone: dict[dns.name.Name, dns.update.UpdateMessage] = {}
        ok = True
        stale = [a for a in previous.addresses if a not in addresses] if previous else []
        for address, current in [(a, True) for a in addresses] + [(a, False) for a in stale]:
            reverse = dns.reversename.from_address(address)
            try:
                zone = await self._reverse_zone(reverse)
            except UpdateRefused:
                ok = False
                continue
            if zone not in by_zone:
                by_zone[zone] = self._message(zone)
            message = by_zone[zone]
            if current:
                message.delete(reverse, "PTR")
                message.add(reverse, config.ttl, "PTR", fqdn.to_text())
            elif previous is not None:
                message.delete(reverse, "PTR", previous.name.to_text())
        for zone, message in by_zone.items():
            try:
                await self._send(message, zone, f"PTR of {', '.join(addresses)} -> {fqdn}")
            except UpdateRefused:
                ok = False
        return ok

    def _fqdn(self, name: str, zone: dns.name.Name) -> dns.name.Name:
        """The device's name in the zone: a short host name under it; a dotted one as it is,
        and then it must be in the zone (no other name is the device's to change)."""
        labels = name.rstrip(".").split(".")
        if not all(HOST_LABEL.fullmatch(label) for label in labels):
            # RFC 1123 2.1 host names: letters, digits and hyphens (an administrator's
            # "Front desk" is a fine printer name, not a host name to publish).
            self._refused(f"host name {name!r}", "", "not a host name (RFC 1123 2.1)")
        try:
            if len(labels) > 1:
                fqdn = dns.name.from_text(name)
            else:
                fqdn = dns.name.from_text(name, origin=zone)
        except dns.exception.DNSException as exc:
            self._refused(f"host name {name!r}", "", f"not a DNS name: {exc}")
        if not fqdn.is_subdomain(zone) or fqdn == zone:
            self._refused(f"host name {name!r}", "", f"not a name in the zone {zone}")
        return fqdn

    def _message(self, zone: dns.name.Name) -> dns.update.UpdateMessage:
        config = self.ctx.config.dns
        if not config.tsig_key_name:
            return dns.update.UpdateMessage(zone)
        try:
            secret = open_password(self.ctx, config.tsig_secret)
            key = dns.tsig.Key(config.tsig_key_name, secret, config.tsig_algorithm)
        except (DeliveryError, ValueError, dns.exception.DNSException) as exc:
            self._refused(str(zone), "", f"the TSIG key {config.tsig_key_name}: {exc}")
        return dns.update.UpdateMessage(zone, keyring=key)

    async def _server(self, zone: dns.name.Name) -> tuple[str, int]:
        config = self.ctx.config.dns
        if config.ddns_server:
            return dns_server_address(config.ddns_server, 53, literal=False)
        try:
            _, primary = await resolver_of(self.ctx).zone_primary(zone)
        except dns.exception.DNSException as exc:
            self._refused(str(zone), "", f"no primary server found (SOA): {exc}")
        return primary.rstrip("."), 53

    async def _reverse_zone(self, reverse: dns.name.Name) -> dns.name.Name:
        configured = self.ctx.config.dns.reverse_zone
        if configured and reverse.is_subdomain(zone := dns.name.from_text(configured)):
            return zone
        try:
            zone, _ = await resolver_of(self.ctx).zone_primary(reverse)
        except dns.exception.DNSException as exc:
            self._refused(str(reverse), "", f"no reverse zone found (SOA): {exc}")
        return zone

    async def _own_addresses(self, zone: dns.name.Name) -> tuple[str, ...]:
        """The bind address; on a wildcard, the address the kernel would send from to the
        update server (the one the office reaches the device by)."""
        bind = self.ctx.bind
        if bind not in _WILDCARDS:
            return (bind,)
        host, port = await self._server(zone)
        try:
            policy = await client_policy(self.ctx, host, port)
        except DeliveryError as exc:
            self._refused(str(zone), host, str(exc))
        family = socket.AF_INET6 if ":" in policy.address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((policy.address, port))  # no packet sent: a route look-up
            return (str(probe.getsockname()[0]),)

    async def _send(
        self, message: dns.update.UpdateMessage, zone: dns.name.Name, what: str
    ) -> None:
        config = self.ctx.config.dns
        host, port = await self._server(zone)
        server = f"{host}:{port}"
        try:
            policy = await client_policy(self.ctx, host, port, timeout=config.timeout)
            # TCP: an update with several addresses and a signature can outgrow a datagram,
            # and a refusal is not lost (RFC 2136 section 3.8 lets either be used).
            response = await dns.asyncquery.tcp(
                message, policy.address, timeout=config.timeout, port=port, source=policy.source
            )
        except DeliveryError as exc:
            self._refused(what, server, str(exc))
        except dns.tsig.PeerError as exc:
            reason = next((n for cls, n in TSIG_ERRORS if isinstance(exc, cls)), "TSIG error")
            self._refused(what, server, f"{reason}: {exc}", zone=zone)
        except (dns.exception.DNSException, OSError, EOFError) as exc:
            detail = "timed out" if isinstance(exc, dns.exception.Timeout) else str(exc)
            self._refused(what, server, detail or type(exc).__name__, zone=zone)
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            self._refused(what, server, dns.rcode.to_text(rcode), zone=zone)
        log.info("ddns: %s: %s accepted", server, what)
        self._audit(what, server, "success", "", zone)

    def _refused(
        self, what: str, server: str, reason: str, *, zone: dns.name.Name | None = None
    ) -> Never:
        log.warning("ddns: %s%s not updated: %s", f"{server}: " if server else "", what, reason)
        self._audit(what, server, "failure", reason, zone)
        raise UpdateRefused(reason)

    def _audit(
        self, what: str, server: str, outcome: str, reason: str, zone: dns.name.Name | None
    ) -> None:
        ctx = self.ctx
        if ctx.audit is None:
            return
        key = ctx.config.dns.tsig_key_name
        extra = {"reason": reason} if reason else {}
        ctx.audit.log.record(
            DDNS_EVENT, user=key, address=server, interface="dns", outcome=outcome,
            event_id=DDNS_UPDATE, records=what, **extra,
        )  # fmt: skip
        if key and zone is not None:
            # Sent to a server: the key was used, whatever it answered.
            credential_used(
                ctx, service="dns", user=key, server=server or str(zone), outcome=outcome,
                reason=reason,
            )  # fmt: skip


def _rdtype(address: str) -> str:
    return "A" if ipaddress.ip_address(address).version == 4 else "AAAA"


async def update_records(ctx: ServiceContext, name: str, addresses: Sequence[str]) -> bool:
    """Publish `name` with `addresses` (the DHCP client, on a new lease), and keep those
    addresses for the next change of name. False when DDNS is off or an update failed."""
    ddns = ctx.ddns
    if ddns is None:
        return False
    ddns.addresses = tuple(addresses)
    return await ddns.update(name, ddns.addresses)
