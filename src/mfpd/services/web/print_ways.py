"""The Print page's "other ways to print": the device's print listeners as they listen now.

Read from the live port table (WebState.live_port, what /api/v1/ports shows), never from the
standard ports: run as a normal user, with --port-offset, or after an administrator moved or
switched off a service, the page names only ports the device is on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

IPP_PATH = "/ipp/print"
# The ports a URI may leave out: ipp (RFC 3510 3) and ipps (RFC 7472 4).
DEFAULT_PORTS = {"ipp": 631, "ipps": 443}


@dataclass(frozen=True)
class PrintWay:
    """One way, as the page says it: `label`, then `code` set in monospace, then "on port
    `port`" when `code` is not an address by itself (an LPD queue name)."""

    label: str
    code: str
    port: int | None = None


def printer_uri(scheme: str, host: str, port: int) -> str:
    where = host if DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return f"{scheme}://{where}{IPP_PATH}"


def ways_to_print(
    live_port: Callable[[str], int | None], host: str, lpd_queues: Sequence[str]
) -> list[PrintWay]:
    """IPP, IPPS, LPD and raw TCP, each only while its listener is up (and LPD only with a
    queue to name), at `host` (the name the browser reached the page by)."""
    ways = []
    if (port := live_port("ipp")) is not None:
        ways.append(PrintWay("IPP at", printer_uri("ipp", host, port)))
    if (port := live_port("https")) is not None:
        ways.append(PrintWay("IPPS at", printer_uri("ipps", host, port)))
    if (port := live_port("lpd")) is not None and lpd_queues:
        ways.append(PrintWay("LPD queue", lpd_queues[0], port))
    if (port := live_port("raw")) is not None:
        ways.append(PrintWay("raw TCP (AppSocket) on port", str(port)))
    return ways
