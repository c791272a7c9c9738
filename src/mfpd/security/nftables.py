"""The IP filter's rules as an nftables table of the daemon's own (`[ip_filter] backend =
"nftables"`, root only): what the in-process gate cannot see is covered too, ICMP and the
ports the daemon does not own, and a refused peer costs the daemon nothing.

One table per daemon (`inet mfpd_<hash of the state dir>`, so a restart replaces its own
table and two daemons in one namespace keep theirs apart), one input chain whose rules are
the filter's, in order: nftables stops at the first accept, drop or reject, which is "first
match wins". Packets of connections already set up (`ct state established,related`) pass
first: the filter decides who may open a connection, as the gate does, and the device's own
outbound connections get their answers. Installed whole with `nft -f` (one transaction), and
deleted at stop.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mfpd.security.gate import Action, Rule

log = logging.getLogger("mfpd.gate")


@dataclass(frozen=True)
class Listener:
    """A row of the live port table, as far as the filter cares."""

    service: str
    protocol: str  # tcp or udp
    standard_port: int
    port: int  # where it listens now (offset and privileges applied)


def table_name(state_dir: Path) -> str:
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]
    return f"mfpd_{digest}"


def _ports(rule: Rule, listeners: Sequence[Listener], offset: int) -> list[tuple[str, int]]:
    """(protocol, port) pairs a rule's destination names now; [] for every port."""
    if not rule.destination:
        return []
    if rule.destination.isdigit():
        wanted = int(rule.destination)
        found = [(x.protocol, x.port) for x in listeners if x.standard_port == wanted]
        # A standard port no service of ours has: the offset applies all the same.
        return found or [("tcp", wanted + offset), ("udp", wanted + offset)]
    return [(x.protocol, x.port) for x in listeners if x.service == rule.destination]


def _verdicts(action: Action, protocol: str) -> list[tuple[str, str]]:
    """(match, verdict) pairs: reject is a reset on TCP and nothing on the rest."""
    if action is Action.ACCEPT:
        return [("", "accept")]
    if action is Action.DROP:
        return [("", "drop")]
    if protocol == "tcp":
        return [("", "reject with tcp reset")]
    if protocol == "all":
        return [("meta l4proto tcp ", "reject with tcp reset"), ("", "drop")]
    return [("", "drop")]


def rule_lines(rule: Rule, listeners: Sequence[Listener], offset: int) -> list[str]:
    source = ""
    if rule.source is not None:
        family = "ip" if rule.source.version == 4 else "ip6"
        source = f"{family} saddr {rule.source} "
    sport = ""
    if rule.source_ports is not None:
        low, high = rule.source_ports
        sport = f"th sport {low}-{high} " if low != high else f"th sport {low} "
    lines = []
    if rule.protocol == "icmp":
        if rule.destination:
            return []  # ICMP has no ports: such a rule names nothing
        (_, verdict), comment = _verdicts(rule.action, "icmp")[0], f'comment "rule {rule.number}"'
        if not rule.icmp_type:
            return [f"meta l4proto {{ icmp, ipv6-icmp }} {source}{verdict} {comment}"]
        families = [rule.source.version] if rule.source is not None else [4, 6]
        return [
            f"{source}icmp type {rule.icmp_type} {verdict} {comment}" if v == 4
            else f"{source}icmpv6 type {rule.icmp_type} {verdict} {comment}"
            for v in families
        ]  # fmt: skip
    targets = _ports(rule, listeners, offset)
    if rule.destination and not targets:
        return []  # the service is not listening: nothing to match
    protocols = ["tcp", "udp"] if rule.protocol == "all" else [rule.protocol]
    if not targets:
        if rule.protocol == "all" and not sport:
            matches = [("all", source)]
        else:
            matches = [(p, f"meta l4proto {p} {source}{sport}") for p in protocols]
    else:
        matches = [
            (p, f"meta l4proto {p} {source}{sport}th dport {port} ")
            for p, port in targets
            if p in protocols
        ]
    for protocol, match in matches:
        for extra, verdict in _verdicts(rule.action, protocol):
            lines.append(f'{extra}{match}{verdict} comment "rule {rule.number}"'.replace("  ", " "))
    return lines


def ruleset(table: str, rules: Iterable[Rule], listeners: Sequence[Listener], offset: int) -> str:
    body = [
        "type filter hook input priority filter; policy accept;",
        "ct state established,related accept",
    ]
    for rule in rules:
        body.extend(rule_lines(rule, listeners, offset))
    chain = "\n\t\t".join(body)
    # "add" then "delete" then the table: replaces an old table in one transaction, and works
    # when there is none.
    return (
        f"add table inet {table}\ndelete table inet {table}\n"
        f"table inet {table} {{\n\tchain input {{\n\t\t{chain}\n\t}}\n}}\n"
    )


class NftTable:
    def __init__(self, name: str) -> None:
        self.name = name
        self.state = "not installed"
        self.installed = False

    def unavailable(self) -> str:
        if os.geteuid() != 0:
            return "needs root"
        if shutil.which("nft") is None:
            return "nft (Debian package nftables) is not installed"
        return ""

    def apply(self, rules: Iterable[Rule], listeners: Sequence[Listener], offset: int) -> bool:
        why = self.unavailable()
        if why:
            self.state = f"unavailable: {why}; the in-process gate alone applies"
            log.error("ip filter: nftables backend %s", self.state)
            return False
        text = ruleset(self.name, rules, listeners, offset)
        result = subprocess.run(
            ["nft", "-f", "-"], input=text, capture_output=True, text=True, timeout=10
        )
        if result.returncode != 0:
            self.state = f"failed: {result.stderr.strip()[:300]}"
            log.error("ip filter: nft refused the table %s: %s", self.name, result.stderr.strip())
            return False
        self.installed = True
        self.state = f"installed (table inet {self.name})"
        return True

    def remove(self) -> None:
        if not self.installed:
            return
        subprocess.run(
            ["nft", "delete", "table", "inet", self.name],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        self.installed = False
        self.state = "removed"
