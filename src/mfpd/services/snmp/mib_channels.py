"""The print channels: one per enabled print service, as prtChannelTable (RFC 3805) and the
PWG Port Monitor MIB's ppmPortTable (PWG 5107.1) both list them.

Indexes are fixed per service so they stay stable across restarts and configuration changes
(both MIBs ask for that): IPP 1, raw 9100 2, LPD 3, IPPS 4; a disabled service leaves a gap.
IPP comes first because CUPS's SNMP discovery takes ppmPortServiceNameOrURI.1.1 as the device
URI (backend/snmp.c), and IPP is the channel that also reports status (driverless queues).

The URIs carry the ports the services really listen on: the daemon's port table
(STATE_DIR/ports.json, written once every service is up) when it is there and fresh, else
the port the configuration plans (standard port + offset, moved by 8000 below 1024 when not
root, as `mfpd ports` says). The host is the bind address, or, bound to every address, the
one this host would use to reach the network.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfpd.config import Config
from mfpd.services.base import UNPRIVILEGED_SHIFT

# mfpd.ports.PORTS_FILE; not imported, since mfpd.ports sits above the services.
PORTS_FILE = "ports.json"
IPP_PATH = "/ipp/print"
# RFC 5737 TEST-NET-1: connect() on a UDP socket only picks the route, it sends nothing.
_ROUTE_PROBE = ("192.0.2.1", 9)


class ChannelType(enum.IntEnum):
    """PrtChannelTypeTC (IANA-PRINTER-MIB), also ppmPortProtocolType (PWG 5107.1)."""

    LPD_SERVER = 8
    # Deprecated by IANA in favour of chBidirPortTCP(38), but it is what PWG 5107.1 names
    # for raw 9100 and what Port Monitor clients match on.
    PORT_9100 = 11
    IPP = 44


@dataclass(frozen=True)
class Channel:
    index: int  # prtChannelIndex and ppmPortIndex
    service: str  # the [services.*] name
    type: ChannelType
    # ppmPortName: a static key clients keep ("SHOULD NOT be subsequently modified", PWG
    # 5107.1), so it is built from the configured host name, not from a later edit.
    name: str
    uri: str  # ppmPortServiceNameOrURI
    port: int
    listening: bool
    source: str  # Job.source of the jobs it receives
    # prtChannelInformation (RFC 3805: "keyword=value" entries separated by LF; keywords per
    # channel type in IANA-PRINTER-MIB).
    information: str


_SERVICES = (
    (1, "ipp", ChannelType.IPP, "ipp"),
    (2, "raw", ChannelType.PORT_9100, "raw"),
    (3, "lpd", ChannelType.LPD_SERVER, "lpd"),
    (4, "https", ChannelType.IPP, "ipps"),
)

IPP_VERSIONS = ("1.0", "1.1", "2.0", "2.1")


class Channels:
    def __init__(
        self,
        config: Config,
        state_dir: Path,
        bind: str,
        port_offset: int,
        started_at: float,
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self.bind = bind
        self.port_offset = port_offset
        self.started_at = started_at
        self.host = _host_for(bind)
        self._bound: dict[str, dict[str, Any]] | None = None

    def current(self) -> list[Channel]:
        bound = self._bound_ports()
        channels = []
        for index, service, kind, source in _SERVICES:
            svc = getattr(self.config.services, service)
            if not svc.enabled:
                continue
            row = bound.get(service)
            if row is not None and isinstance(row.get("port"), int):
                port = int(row["port"])
                listening = row.get("state") in ("listening", "moved")
            else:
                port, listening = self._planned(svc.port), True
            channels.append(self._channel(index, service, kind, source, port, listening))
        return channels

    def _channel(
        self, index: int, service: str, kind: ChannelType, source: str, port: int, listening: bool
    ) -> Channel:
        host = self.host
        if kind is ChannelType.IPP:
            scheme = "ipps" if service == "https" else "ipp"
            uri = f"{scheme}://{host}:{port}{IPP_PATH}"
            info = "\n".join(
                [f"URI={uri}", f"Security={'tls' if scheme == 'ipps' else 'none'}"]
                + [f"Version={v}" for v in IPP_VERSIONS]
            )
            name = f"{self.config.identity.hostname}-{scheme.upper()}"
        elif kind is ChannelType.LPD_SERVER:
            queue = self.config.services.lpd.queues[0] if self.config.services.lpd.queues else "lp"
            # LPD's port is fixed at 515 in the protocol (ppmPortProtocolTargetPort must be
            # ignored for it): a moved port can only travel in the URI.
            where = host if port == 515 else f"{host}:{port}"
            uri = f"lpd://{where}/{queue}"
            info = f"Queue={queue}"
            name = f"{self.config.identity.hostname}-LPR"
        else:
            uri = f"socket://{host}:{port}"
            info = f"Port={port}"
            name = f"{self.config.identity.hostname}-RAW"
        return Channel(index, service, kind, name, uri, port, listening, source, info)

    def _planned(self, standard: int) -> int:
        # The same rule as `mfpd ports` (ports.plan) and bind_tcp's fallback.
        port = standard + self.port_offset
        if port < 1024 and os.geteuid() != 0:
            port += UNPRIVILEGED_SHIFT
        return port

    def _bound_ports(self) -> dict[str, dict[str, Any]]:
        """The daemon's live port table, read once it exists for this run (a file older than
        the device is a crashed run's leftover); until then, nothing (one stat per call)."""
        if self._bound is not None:
            return self._bound
        path = self.state_dir / PORTS_FILE
        try:
            if path.stat().st_mtime < self.started_at:
                return {}
            rows = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(rows, list):
            return {}
        self._bound = {
            r["service"]: r
            for r in rows
            if isinstance(r, dict) and isinstance(r.get("service"), str)
        }
        return self._bound


def _host_for(bind: str) -> str:
    """The host part of the URIs: the bind address, or the primary address when the daemon
    listens on all of them (what a real printer puts there: its IP address)."""
    if bind in ("", "0.0.0.0", "::"):
        address = "127.0.0.1"
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(_ROUTE_PROBE)
            address = s.getsockname()[0]
        return address
    return f"[{bind}]" if ":" in bind else bind
