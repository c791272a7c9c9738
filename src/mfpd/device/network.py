"""The device's own network identity as its DHCP client keeps it: the lease (address,
server, router, DNS servers, domain, host name, times) and where the client stands.

One object, read by `mfpd status`, the web UI and, for the DNS servers, the outbound
resolver; written only by services/dhcp_client.py. Every change goes out as a
"network.lease" event.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, replace
from typing import Any

from mfpd.config import DnsConfig
from mfpd.device.events import EventBus


class ClientState(enum.Enum):
    """RFC 2131 4.4, figure 5, plus the client's being off or unable to run."""

    OFF = "off"
    UNAVAILABLE = "unavailable"  # on, but not root or no such interface
    INIT = "init"  # DISCOVER sent, waiting for an offer (SELECTING)
    REQUESTING = "requesting"
    BOUND = "bound"
    RENEWING = "renewing"
    REBINDING = "rebinding"
    RELEASED = "released"


@dataclass(frozen=True)
class Lease:
    """An address the device holds from a DHCP server. Times are Unix seconds."""

    interface: str
    address: str
    prefix_length: int
    server: str
    routers: tuple[str, ...]
    dns_servers: tuple[str, ...]
    domain: str
    host_name: str
    lease_time: int
    obtained: float  # when the last ACK came (the first, or the last renewal's)
    expires: float
    renew_at: float  # T1 (or [network] renew_after, when sooner)
    rebind_at: float  # T2
    renewals: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["routers"] = list(self.routers)
        data["dns_servers"] = list(self.dns_servers)
        return data


class Network:
    def __init__(self, events: EventBus) -> None:
        self._events = events
        self.state = ClientState.OFF
        self.detail = ""
        self.lease: Lease | None = None

    def set_state(self, state: ClientState, detail: str = "") -> None:
        if (state, detail) != (self.state, self.detail):
            self.state, self.detail = state, detail
            self._publish()

    def bound(self, lease: Lease) -> None:
        """An ACK taken: a new lease, or the renewal of the one held (counted)."""
        held = self.lease
        if held is not None and (held.address, held.server) == (lease.address, lease.server):
            lease = replace(lease, renewals=held.renewals + 1)
        self.lease = lease
        self.state, self.detail = ClientState.BOUND, ""
        self._publish()

    def lost(self, state: ClientState, detail: str = "") -> None:
        """The lease given up (released at stop) or run out."""
        self.lease = None
        self.state, self.detail = state, detail
        self._publish()

    @property
    def dns_servers(self) -> list[str]:
        """The DNS servers of the lease: what the resolver uses when [dns] servers is empty."""
        return list(self.lease.dns_servers) if self.lease else []

    def resolver_config(self, configured: DnsConfig) -> DnsConfig:
        """[dns] as the resolver takes it (outbound/dns.py): the lease's DNS servers (RFC
        2132 3.8) where the file sets none, and its domain (3.17) likewise. What the
        administrator wrote wins, as on the device's own panel."""
        lease = self.lease
        if lease is None:
            return configured
        update: dict[str, Any] = {}
        if not configured.servers and lease.dns_servers:
            update["servers"] = list(lease.dns_servers)
        if not configured.domain and lease.domain:
            update["domain"] = lease.domain
        if not update:
            return configured
        # Validated as the file's [dns] is: a server's domain option that is no domain name
        # (RFC 1035 2.3.4) is left out rather than handed to the resolver.
        try:
            return DnsConfig.model_validate({**configured.model_dump(), **update})
        except ValueError:
            update.pop("domain", None)
            return configured.model_copy(update=update)

    def status(self) -> dict[str, Any]:
        return {
            "dhcp": self.state.value,
            "detail": self.detail,
            "lease": self.lease.to_dict() if self.lease else None,
        }

    def _publish(self) -> None:
        self._events.publish("network.lease", **self.status())
