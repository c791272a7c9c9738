"""The port table a configuration opens: planned (`mfpd ports`) and live (ports.json)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mfpd.config import Config, ServiceConfig
from mfpd.services import PROTOCOLS, REGISTRY
from mfpd.services.base import UNPRIVILEGED_SHIFT, PortEntry

PORTS_FILE = "ports.json"


def configured_services(config: Config) -> list[tuple[str, ServiceConfig]]:
    services = config.services
    return [(name, getattr(services, name)) for name in type(services).model_fields]


def closed_row(name: str, svc: ServiceConfig, bind: str, offset: int) -> PortEntry | None:
    """The row of a service that opens no port (disabled, or not in this release); None
    when the service is to be started."""
    port = svc.port + offset
    if not svc.enabled:
        return PortEntry(name, PROTOCOLS[name], bind, port, svc.port, "disabled")
    if name not in REGISTRY:
        return PortEntry(
            name, PROTOCOLS[name], bind, port, svc.port, "unavailable", "not in this release"
        )
    return None


def plan(config: Config, bind: str, offset: int) -> list[PortEntry]:
    """What `serve` would open with this configuration, without opening anything."""
    privileged = os.geteuid() == 0
    rows = []
    for name, svc in configured_services(config):
        port = svc.port + offset
        closed = closed_row(name, svc, bind, offset)
        if closed is not None:
            rows.append(closed)
        elif port < 1024 and not privileged:
            rows.append(
                PortEntry(
                    name, PROTOCOLS[name], bind, port + UNPRIVILEGED_SHIFT, svc.port, "moved",
                    f"port {port} needs privileges",
                )
            )  # fmt: skip
        else:
            rows.append(PortEntry(name, PROTOCOLS[name], bind, port, svc.port, "planned"))
    return rows


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
