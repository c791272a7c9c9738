"""The port table a configuration opens: planned (`mfpd ports`) and live (ports.json)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mfpd.config import Config, ServiceConfig
from mfpd.outbound.ports import client_rows
from mfpd.services import PROTOCOLS, REGISTRY
from mfpd.services.base import UNPRIVILEGED_SHIFT, PortEntry

PORTS_FILE = "ports.json"
# Services whose clients ask on one port only, so they are not moved by a port offset:
# mDNS queriers send to 5353 (RFC 6762 section 3). With an offset their rows are unavailable.
FIXED_PORTS = {"mdns": (5353, "mDNS")}
# Ports of the disclosure paper (shared/PORTS.md) that mfpd keeps closed by design: a row
# "unavailable" with the reason, which `mfpd audit` reports as closed by design. NetWare
# (396): Novell withdrew NetWare and its IPX/NCP printing (NDPS, iPrint replaced it), and
# the WorkCentre's successors ship with NetWare off; no client left would print to it.
REFUSED = (("netware", "tcp", 396, "not implemented: NetWare support is obsolete"),)


def configured_services(config: Config) -> list[tuple[str, ServiceConfig]]:
    services = config.services
    return [(name, getattr(services, name)) for name in type(services).model_fields]


def closed_row(config: Config, name: str, bind: str, offset: int) -> PortEntry | None:
    """The row of a service that opens no port (disabled, or not in this release); None
    when the service is to be started."""
    svc: ServiceConfig = getattr(config.services, name)
    port = svc.port + offset
    bind = service_bind(name, bind)
    if not svc.enabled:
        return PortEntry(name, PROTOCOLS[name], bind, port, svc.port, "disabled")
    if not config.services.effective(name):
        return PortEntry(
            name, PROTOCOLS[name], bind, port, svc.port, "disabled", "off while http is off"
        )
    if name not in REGISTRY:
        return PortEntry(
            name, PROTOCOLS[name], bind, port, svc.port, "unavailable", "not in this release"
        )
    if name in FIXED_PORTS and offset:
        fixed, label = FIXED_PORTS[name]
        note = f"{label} is on {fixed} only; port offset {offset}"
        return PortEntry(name, PROTOCOLS[name], bind, port, svc.port, "unavailable", note)
    return None


def refused_rows(bind: str, offset: int) -> list[PortEntry]:
    """The rows of the ports closed by design (REFUSED), in the plan and the live table."""
    return [
        PortEntry(service, protocol, bind, standard + offset, standard, "unavailable", note)
        for service, protocol, standard, note in REFUSED
    ]


def service_bind(name: str, bind: str) -> str:
    """The address a service listens on: the status channel is for local callers only,
    whatever --bind says."""
    if name == "status":
        return "::1" if ":" in bind else "127.0.0.1"
    return bind


def plan(config: Config, bind: str, offset: int) -> list[PortEntry]:
    """What `serve` would open with this configuration, without opening anything."""
    privileged = os.geteuid() == 0
    rows = []
    for name, svc in configured_services(config):
        port = svc.port + offset
        closed = closed_row(config, name, bind, offset)
        address = service_bind(name, bind)
        if closed is not None:
            rows.append(closed)
        elif port < 1024 and not privileged:
            rows.append(
                PortEntry(
                    name, PROTOCOLS[name], address, port + UNPRIVILEGED_SHIFT, svc.port,
                    "moved", f"port {port} needs privileges",
                )
            )  # fmt: skip
        else:
            rows.append(PortEntry(name, PROTOCOLS[name], address, port, svc.port, "planned"))
    return rows + refused_rows(bind, offset) + client_rows(config, bind, offset)


def format_table(rows: list[PortEntry]) -> str:
    header = f"{'SERVICE':<12} {'PROTO':<5} {'ADDRESS:PORT':<24} {'STATE':<12} NOTE"
    lines = [header]
    for row in rows:
        where = f"{row.address}:{row.port}"
        lines.append(f"{row.service:<12} {row.protocol:<5} {where:<24} {row.state:<12} {row.note}")
    return "\n".join(lines)


def write_ports_file(state_dir: Path, rows: list[PortEntry]) -> Path:
    path = state_dir / PORTS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([row.to_dict() for row in rows], indent=2) + "\n")
    os.replace(tmp, path)
    return path
