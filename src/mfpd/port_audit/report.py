"""What `mfpd audit` compares and prints: the promised port table (the rows `mfpd ports`
plans for a configuration, or the live table a running daemon wrote), the ports scanned
(those rows, and every server and client port of the disclosure paper, shared/PORTS.md), and
the difference between the scan and the promise.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfpd.port_audit.scanner import Finding
from mfpd.services.base import PortEntry

# The disclosure paper's ports (standard numbers; the port offset applies), with the UDP
# probe each gets. Client-only ports are scanned too: the paper promises that a device never
# listens on them ("an FTP port is never open on the device").
DISCLOSURE_TCP = (21, 25, 80, 110, 139, 389, 396, 443, 515, 631, 3003, 9100)
DISCLOSURE_UDP = {137: "nbns", 138: "", 161: "snmp", 427: "slp", 1900: "ssdp", 3702: "wsd",
                  5353: "mdns"}  # fmt: skip
# The probe for a row of the port table, by its service.
PROBE_OF_SERVICE = {"snmp": "snmp", "slp": "slp", "ssdp": "ssdp", "mdns": "mdns", "wsd": "wsd",
                    "netbios_ns": "nbns", "netbios_dgm": ""}  # fmt: skip
# Rows of a port table that say the port is open (plan: planned or moved; live: listening).
OPEN_STATES = ("planned", "moved", "listening")
WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Target:
    protocol: str
    port: int
    probe: str  # the UDP probe; "" for TCP and for UDP ports without one
    row: PortEntry | None  # the port table's row for this port, if any
    promised: bool  # the row says it is open, on an address the scanned host is


def resolve(host: str) -> str:
    try:
        return str(socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)[0][4][0])
    except (socket.gaierror, IndexError) as exc:
        raise ValueError(f"cannot resolve {host}: {exc}") from None


def _reachable(address: str, host: str) -> bool:
    """Whether a row bound to `address` listens on the scanned host's address."""
    if address in WILDCARDS or address == host:
        return True
    try:
        a, h = ipaddress.ip_address(address), ipaddress.ip_address(host)
    except ValueError:
        return False
    return a.is_loopback and h.is_loopback and a.version == h.version


def live_rows(state_dir: Path) -> list[PortEntry]:
    """The live port table a running daemon keeps in STATE_DIR/ports.json."""
    from mfpd.ports import PORTS_FILE

    path = state_dir / PORTS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"no running mfpd in {state_dir} ({PORTS_FILE} is missing)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable: {exc}") from None
    return [PortEntry(**row) for row in data]


def live_host(rows: list[PortEntry]) -> str:
    """Where the daemon of a live table listens: its bind address (a wildcard: loopback)."""
    for row in rows:
        if row.service != "status" and row.state == "listening":
            if row.address in WILDCARDS:
                return "::1" if row.address == "::" else "127.0.0.1"
            return row.address
    return "127.0.0.1"


def targets(rows: list[PortEntry], host: str, offset: int) -> list[Target]:
    found: dict[tuple[str, int], Target] = {}
    for row in rows:
        probe = PROBE_OF_SERVICE.get(row.service, "") if row.protocol == "udp" else ""
        promised = row.state in OPEN_STATES and _reachable(row.address, host)
        key = (row.protocol, row.port)
        if key not in found or promised:
            found[key] = Target(row.protocol, row.port, probe, row, promised)
    for port in DISCLOSURE_TCP:
        found.setdefault(("tcp", port + offset), Target("tcp", port + offset, "", None, False))
    for port, probe in DISCLOSURE_UDP.items():
        found.setdefault(("udp", port + offset), Target("udp", port + offset, probe, None, False))
    return sorted(found.values(), key=lambda t: (t.protocol, t.port))


def _closed(finding: Finding) -> bool:
    # UDP: only an ICMP port unreachable proves a port closed; silence is open|filtered.
    return (
        finding.state in ("closed", "filtered")
        if finding.protocol == "tcp"
        else (finding.state == "closed")
    )


@dataclass
class Audit:
    host: str
    promised_by: str
    rows: list[tuple[Target, Finding]]

    @property
    def open_not_promised(self) -> list[tuple[Target, Finding]]:
        return [(t, f) for t, f in self.rows if f.state == "open" and not t.promised]

    @property
    def promised_closed(self) -> list[tuple[Target, Finding]]:
        return [(t, f) for t, f in self.rows if t.promised and _closed(f)]

    @property
    def closed_by_design(self) -> list[tuple[Target, Finding]]:
        """Ports the table keeps closed on purpose (an "unavailable" row: NetWare, a service
        not in this release), found closed: what the device promises, said as such."""
        return [
            (t, f)
            for t, f in self.rows
            if t.row is not None and t.row.state == "unavailable" and _closed(f)
        ]

    @property
    def matches(self) -> bool:
        return not self.open_not_promised and not self.promised_closed

    def shown(self) -> list[tuple[Target, Finding]]:
        """The table: every row of the port table, and any other port found open."""
        return [(t, f) for t, f in self.rows if t.row is not None or f.state == "open"]

    def to_dict(self) -> dict[str, Any]:
        def row(t: Target, f: Finding) -> dict[str, Any]:
            promised = (
                None
                if t.row is None
                else {"service": t.row.service, "state": t.row.state, "note": t.row.note}
            )
            return {**f.to_dict(), "promised": promised, "promised_open": t.promised}

        return {
            "host": self.host,
            "promised_by": self.promised_by,
            "ports": [row(t, f) for t, f in self.shown()],
            "open_not_promised": [row(t, f) for t, f in self.open_not_promised],
            "promised_closed": [row(t, f) for t, f in self.promised_closed],
            "closed_by_design": [row(t, f) for t, f in self.closed_by_design],
            "matches": self.matches,
        }

    def format(self) -> str:
        lines = [f"mfpd audit of {self.host} (promised: {self.promised_by})", ""]
        lines.append(
            f"{'SERVICE':<16} {'PROTO':<5} {'PORT':>5}  {'STATE':<13} {'PROMISED':<22} "
            "IDENTIFICATION"
        )
        for t, f in self.shown():
            promised = "-" if t.row is None else f"{t.row.service} {t.row.state}"
            lines.append(
                f"{f.service or '-':<16} {f.protocol:<5} {f.port:>5}  {f.state:<13} "
                f"{promised:<22} {f.identification}"
            )
        lines.append("")
        for t, f in self.closed_by_design:
            assert t.row is not None
            lines.append(f"closed by design: {f.protocol}/{f.port} ({t.row.service}: {t.row.note})")
        if self.matches:
            lines.append("The live table matches the configuration.")
        for title, items in (
            ("open but not promised", self.open_not_promised),
            ("promised but closed", self.promised_closed),
        ):
            for t, f in items:
                name = t.row.service if t.row is not None else f.service or "?"
                lines.append(f"{title}: {f.protocol}/{f.port} ({name}, {f.state})")
        return "\n".join(lines)
