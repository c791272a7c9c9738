"""The one security gate every listener passes a peer through before it parses a byte: the
IP filter, and the per-service connection limits (which each TCP service registers with the
count of its open connections, `limit()`).

The IP filter of the device (Xerox: Properties > Security > IP Filtering): an ordered rule
list, first match wins, no match accepts. A rule names a protocol (all, tcp, udp, icmp), a
source network (IPv4 or IPv6, with its prefix length), optionally a source port range, and a
destination (a service of the port table, or a standard port, to which the port offset
applies), and says accept, reject or drop. Reject ends a TCP connection at once with a reset
and sends nothing on UDP; drop closes a TCP connection without a byte, is silent on UDP, and
is logged. Both are counted per rule, and reported one by one to the audit log, which sums them per
rule per minute (security/audit_events.FilterDrops).

ICMP rules are for the nftables backend (security/nftables.py): the gate sees no ICMP.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from mfpd.config import IpFilterConfig
from mfpd.log_limit import LogLimit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    DROP = "drop"


@dataclass(frozen=True)
class Rule:
    number: int  # 1-based, as the web UI and the audit log name it
    protocol: str  # all, tcp, udp, icmp
    source: Network | None  # None: any address, IPv4 or IPv6
    source_ports: tuple[int, int] | None
    destination: str  # "" (every service), a service name, or a standard port as digits
    action: Action
    icmp_type: str = ""  # protocol icmp: a type name or number; "" every type

    def applies_to(self, service: str, protocol: str, standard_port: int) -> bool:
        if self.protocol not in ("all", protocol):
            return False
        if not self.destination:
            return True
        if self.destination.isdigit():
            return int(self.destination) == standard_port
        return self.destination == service

    def matches(self, address: Address | None, port: int) -> bool:
        if self.source is not None:
            if address is None or address.version != self.source.version:
                return False
            if address not in self.source:
                return False
        if self.source_ports is not None:
            low, high = self.source_ports
            return low <= port <= high
        return True

    def describe(self) -> str:
        source = str(self.source) if self.source is not None else "any"
        ports = f":{self.source_ports[0]}-{self.source_ports[1]}" if self.source_ports else ""
        where = self.destination or "all services"
        return f"rule {self.number} ({self.action} {self.protocol} from {source}{ports} to {where})"


def parse_rule(number: int, values: Mapping[str, str]) -> Rule:
    """A rule from its configuration values (config.IpFilterRuleConfig, already validated)."""
    source = values.get("source", "any")
    ports = values.get("source_ports", "")
    low, _, high = ports.partition("-")
    return Rule(
        number=number,
        protocol=values.get("protocol", "all"),
        source=None if source in ("any", "") else ipaddress.ip_network(source, strict=False),
        source_ports=(int(low), int(high or low)) if ports else None,
        destination=values.get("destination", ""),
        action=Action(values.get("action", "accept")),
        icmp_type=values.get("icmp_type", ""),
    )


def rules_of(config: IpFilterConfig) -> list[Rule]:
    return [parse_rule(n, rule.model_dump()) for n, rule in enumerate(config.rules, 1)]


def peer_address(text: str) -> Address | None:
    """The address of a peer as a socket names it: IPv6 scope ids dropped, IPv4-mapped IPv6
    (a dual-stack listener's view of an IPv4 client) taken as the IPv4 address it is."""
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# Called for each connection or datagram a rule turns away: (rule, service, protocol, peer
# address). The audit log's FilterDrops sums them per rule per minute.
BlockReport = Callable[[Rule, str, str, str], None]

CACHE_LIMIT = 4096


class Gate:
    """One per device. `admit` is on every accepted connection and every datagram, so the
    common cases cost a dict lookup: no rule for the service, or a peer already decided."""

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        standard_ports: Mapping[str, tuple[str, int]] | None = None,
        log: logging.Logger | None = None,
        on_block: BlockReport | None = None,
    ) -> None:
        # service -> (protocol, standard port): what a rule's destination is matched against.
        self.standard_ports = dict(standard_ports or {})
        self.log = log or logging.getLogger("mfpd.gate")
        self.on_block = on_block
        # What enforces the rules besides this gate (the nftables backend), for the API.
        self.backend_state = "the in-process gate"
        self._limits: dict[str, tuple[Callable[[], int], Callable[[], int]]] = {}
        self.refused_full: dict[str, int] = {}  # connections refused at a service's limit
        self.busy = LogLimit("connections refused at a limit", log=self.log, prefix="gate")
        self.dropped = LogLimit("connections dropped by the IP filter", log=self.log, prefix="gate")
        self.replace(rules)

    def replace(self, rules: Iterable[Rule]) -> None:
        """A new rule list (the configuration changed): counters start again."""
        self.rules = list(rules)
        self.hits = {rule.number: 0 for rule in self.rules}
        self._by_service: dict[str, list[Rule]] = {}
        self._decided: dict[tuple[str, str], Action] = {}

    # -- connection limits ------------------------------------------------------------------

    def limit(self, service: str, maximum: Callable[[], int], count: Callable[[], int]) -> None:
        """A TCP service's connection limit: `maximum` (its config, read at each connection,
        so a change applies at once) against `count`, the connections it holds now (its own
        books, which know when a connection ends)."""
        self._limits[service] = (maximum, count)

    def full(self, service: str, address: str) -> bool:
        """Whether `service` is at its connection limit, for a new peer at `address`."""
        found = self._limits.get(service)
        if found is None:
            return False
        maximum, count = found
        if count() < maximum():
            return False
        self.refused_full[service] = self.refused_full.get(service, 0) + 1
        if self.busy.allow():
            self.log.warning("%s: %s refused: %d connections open", service, address, maximum())
        return True

    def _rules_for(self, service: str) -> list[Rule]:
        found = self._by_service.get(service)
        if found is None:
            protocol, port = self.standard_ports.get(service, ("tcp", 0))
            found = [r for r in self.rules if r.applies_to(service, protocol, port)]
            self._by_service[service] = found
        return found

    def admit(self, service: str, address: str, port: int = 0) -> Action:
        """What the IP filter says of a peer of `service` (its address and source port)."""
        rules = self._rules_for(service)
        if not rules:
            return Action.ACCEPT
        key = (service, address)
        action = self._decided.get(key)
        if action is None:
            rule = self._first_match(rules, address, port)
            action = Action.ACCEPT if rule is None else rule.action
            if rule is None or rule.source_ports is None:
                # The source port decided nothing: the same address gets the same answer.
                if len(self._decided) >= CACHE_LIMIT:
                    self._decided.clear()
                self._decided[key] = action
            if rule is not None and action is not Action.ACCEPT:
                self._blocked(rule, service, address, port)
            return action
        if action is not Action.ACCEPT:
            rule = self._first_match(rules, address, port)
            if rule is not None:
                self._blocked(rule, service, address, port)
        return action

    def _first_match(self, rules: list[Rule], address: str, port: int) -> Rule | None:
        parsed = peer_address(address)
        for rule in rules:
            if rule.matches(parsed, port):
                return rule
        return None

    def _blocked(self, rule: Rule, service: str, address: str, port: int) -> None:
        self.hits[rule.number] += 1  # what each rule rejected or dropped
        if rule.action is Action.DROP and self.dropped.allow():
            self.log.warning(
                "gate: %s: %s:%d dropped by %s", service, address, port, rule.describe()
            )
        if self.on_block is not None:
            protocol = self.standard_ports.get(service, ("tcp", 0))[0]
            self.on_block(rule, service, protocol, address)


class _Options(Protocol):
    """A socket, or the stand-in asyncio and uvloop transports give for one."""

    def setsockopt(self, level: int, option: int, value: bytes, /) -> None: ...


def reset(sock: _Options) -> None:
    """Make the next close of a TCP socket a reset (SO_LINGER on, time 0): what reject means
    on TCP, the answer a host gives a port it refuses."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
