"""The device's lease (device/network.py): renewals counted only for the same address and
server, the events it publishes, and what it gives the resolver: the lease's DNS servers
and domain where [dns] sets none, a bad domain left out."""

from __future__ import annotations

import dataclasses

from mfpd.config import DnsConfig
from mfpd.device.events import Event, EventBus
from mfpd.device.network import ClientState, Lease, Network

LEASE = Lease(
    interface="veth0", address="10.77.0.56", prefix_length=24, server="10.77.0.1",
    routers=("10.77.0.1",), dns_servers=("10.77.0.53",), domain="office.test", host_name="",
    lease_time=120, obtained=1000.0, expires=1120.0, renew_at=1060.0, rebind_at=1105.0,
)  # fmt: skip


def test_renewals_and_events() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    network = Network(bus)
    assert network.status() == {"dhcp": "off", "detail": "", "lease": None}
    network.bound(LEASE)
    network.bound(dataclasses.replace(LEASE, obtained=1060.0))
    assert network.lease is not None and network.lease.renewals == 1
    network.bound(dataclasses.replace(LEASE, address="10.77.0.57"))  # a new address: anew
    assert network.lease.renewals == 0
    network.lost(ClientState.RELEASED, "released 10.77.0.57")
    assert [e.data["dhcp"] for e in seen] == ["bound", "bound", "bound", "released"]
    assert seen[0].kind == "network.lease" and seen[0].data["lease"]["routers"] == ["10.77.0.1"]
    assert network.dns_servers == []


def test_what_the_resolver_takes() -> None:
    network = Network(EventBus())
    empty = DnsConfig()
    assert network.resolver_config(empty) is empty  # no lease: [dns] as it is
    network.bound(LEASE)
    taken = network.resolver_config(empty)
    assert (taken.servers, taken.domain) == (["10.77.0.53"], "office.test")
    # What the administrator wrote wins.
    mine = DnsConfig(servers=["192.0.2.53"], domain="corp.example")
    assert network.resolver_config(mine) == mine
    # A domain option that is no domain name (RFC 1035 2.3.4) is left out; the servers stay.
    network.bound(dataclasses.replace(LEASE, domain="a..b"))
    odd = network.resolver_config(empty)
    assert (odd.servers, odd.domain) == (["10.77.0.53"], "")
