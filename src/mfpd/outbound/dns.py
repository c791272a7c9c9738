"""The resolver of every outbound client (SMTP, FTP, SMB, LDAP, POP3, Kerberos, DDNS): the
servers of [dns] servers, asked with dnspython's asyncio resolver, answers kept for their TTL;
with no servers set, those of the DHCP lease if the device holds one, else the system's
resolver (getaddrinfo), as every other program on the host.

One resolver per ServiceContext (its cache with it), made again when [dns] changes."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mfpd.config import DnsConfig, dns_server_address
from mfpd.outbound.destinations import UNREACHABLE, DeliveryError

if TYPE_CHECKING:
    from mfpd.services.base import ServiceContext

# Answers kept at most (each for its TTL): the device talks to a handful of servers.
CACHE_ENTRIES = 512
# RFC 6761 section 6.3: "localhost." and names under it are the loopback addresses, answered
# by the resolver itself and never sent to a server.
LOCALHOST = dns.name.from_text("localhost.")


class DeviceResolver:
    """Names to addresses through the configured servers, and the SOA questions DDNS asks."""

    def __init__(self, config: DnsConfig) -> None:
        self.config = config
        self._dns: dns.asyncresolver.Resolver | None = None

    def dnspython(self) -> dns.asyncresolver.Resolver:
        """The dnspython resolver: [dns] servers, else those of /etc/resolv.conf (for the
        questions getaddrinfo cannot ask, such as a zone's SOA)."""
        if self._dns is None:
            config = self.config
            try:
                resolver = dns.asyncresolver.Resolver(configure=not config.servers)
            except dns.resolver.NoResolverConfiguration:
                # No /etc/resolv.conf: questions fail as "no nameservers", and say so.
                resolver = dns.asyncresolver.Resolver(configure=False)
            if config.servers:
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(*dns_server_address(s, 53))
                    for s in config.servers
                ]
            if config.domain:
                resolver.domain = dns.name.from_text(config.domain)
            if config.search or config.domain:
                # The domain first, then the search list (as resolv.conf's "domain" and
                # "search" read together); dnspython would skip the domain given a list.
                names = [config.domain] if config.domain else []
                resolver.search = [dns.name.from_text(d) for d in names + config.search]
                resolver.use_search_by_default = True
            resolver.lifetime = config.timeout
            resolver.timeout = config.timeout
            resolver.cache = dns.resolver.LRUCache(CACHE_ENTRIES)
            self._dns = resolver
        return self._dns

    async def addresses(self, host: str) -> list[str]:
        """The addresses of `host`, IPv4 first (the office networks a device joins are
        IPv4 first, and the bind address decides the family in the client policy). An IP
        literal is its own answer."""
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        name = dns.name.from_text(host)
        if name == LOCALHOST or name.is_subdomain(LOCALHOST):
            return ["127.0.0.1", "::1"]
        if not self.config.servers:
            return await self._system(host)
        resolver = self.dnspython()
        found: list[str] = []
        failures: list[dns.exception.DNSException] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                answer = await resolver.resolve(host, rdtype)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN) as exc:
                failures.append(exc)
                continue
            except dns.exception.DNSException as exc:
                raise DeliveryError(
                    UNREACHABLE, f"{host}: cannot resolve: {exc}", retry=True
                ) from None
            found.extend(rdata.to_text() for rdata in answer)
        if not found:
            nxdomain = all(isinstance(f, dns.resolver.NXDOMAIN) for f in failures)
            reason = "no such name" if nxdomain else "no address records"
            raise DeliveryError(UNREACHABLE, f"{host}: cannot resolve: {reason}", retry=False)
        return found

    async def _system(self, host: str) -> list[str]:
        try:
            async with asyncio.timeout(self.config.timeout):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, None, type=socket.SOCK_STREAM
                )
        except (OSError, TimeoutError) as exc:
            detail = "timed out" if isinstance(exc, TimeoutError) else str(exc)
            raise DeliveryError(
                UNREACHABLE, f"{host}: cannot resolve: {detail}", retry=True
            ) from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def zone_primary(self, name: dns.name.Name) -> tuple[dns.name.Name, str]:
        """The zone `name` is in and its primary's name (the SOA's MNAME), where RFC 2136
        section 4 sends an update when no server is configured."""
        resolver = self.dnspython()
        zone = await dns.asyncresolver.zone_for_name(name, resolver=resolver)
        answer = await resolver.resolve(zone, dns.rdatatype.SOA, search=False)
        return zone, answer[0].mname.to_text()


def resolver_of(ctx: ServiceContext) -> DeviceResolver:
    """The context's resolver (made at first use, and again when [dns] changed, so that an
    answer from a server no longer configured is not kept). With [dns] servers empty and a
    DHCP lease held, the lease's servers and domain (device/network.py)."""
    config = ctx.device.network.resolver_config(ctx.config.dns)
    resolver = ctx.resolver
    if resolver is None or resolver.config != config:
        resolver = ctx.resolver = DeviceResolver(config)
    return resolver
