"""Which network interface the --bind address names, and whether it carries multicast.

Read from the kernel (/sys/class/net, SIOCGIFADDR, /proc/net/if_inet6) rather than a library:
the answer decides whether a responder may join its group on that interface at all.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

SYS_NET = Path("/sys/class/net")
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_MULTICAST = 0x1000
SIOCGIFADDR = 0x8915


@dataclass(frozen=True)
class Interface:
    name: str
    index: int
    ipv4: str  # "" when the interface has no IPv4 address
    up: bool
    multicast: bool
    loopback: bool


def _flags(name: str) -> int:
    try:
        return int((SYS_NET / name / "flags").read_text().strip(), 16)
    except (OSError, ValueError):
        return 0


def _ipv4(name: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(
                sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15])
            )
        except OSError:
            return ""
    return socket.inet_ntoa(packed[20:24])


def _ipv6_names(address: str) -> set[str]:
    """The interfaces holding an IPv6 address (/proc/net/if_inet6: hex address, index, ...)."""
    wanted = ipaddress.IPv6Address(address).exploded.replace(":", "")
    names: set[str] = set()
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return names
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[0] == wanted:
            names.add(fields[5])
    return names


def interfaces() -> list[Interface]:
    found = []
    for index, name in socket.if_nameindex():
        flags = _flags(name)
        found.append(
            Interface(
                name=name,
                index=index,
                ipv4=_ipv4(name),
                up=bool(flags & IFF_UP),
                multicast=bool(flags & IFF_MULTICAST),
                loopback=bool(flags & IFF_LOOPBACK),
            )
        )
    return found


def named_by(bind: str) -> list[Interface]:
    """The interfaces a --bind address names: the one holding it, or every interface that is
    up for a wildcard address. Empty when the host has no such address."""
    address = bind.strip("[]")
    every = interfaces()
    if address in ("0.0.0.0", "::", ""):
        return [i for i in every if i.up]
    if ":" in address:
        names = _ipv6_names(address)
        return [i for i in every if i.name in names]
    return [i for i in every if i.ipv4 == address]


def multicast_interfaces(bind: str) -> tuple[list[Interface], str]:
    """The IPv4 interfaces where a responder may join its group, and, when there are none,
    why not (for the port table's note)."""
    named = named_by(bind)
    if ":" in bind.strip("[]") and bind.strip("[]") != "::":
        return [], "IPv4 multicast only; the bind address is IPv6"
    if not named:
        return [], f"no interface holds {bind}"
    usable = [i for i in named if i.up and i.multicast and i.ipv4]
    if usable:
        return usable, ""
    names = ", ".join(i.name for i in named)
    if any(i.loopback for i in named):
        return [], f"{names} carries no multicast (ip link set lo multicast on; route 224.0.0.0/4)"
    return [], f"{names} carries no multicast"
