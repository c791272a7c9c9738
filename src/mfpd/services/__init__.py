"""The network services, one module each, registered in one table.

The daemon starts what is enabled from `REGISTRY`; nothing else knows the service classes.
`PROTOCOLS` gives the transport of every service of the port table (shared/PORTS.md),
including the ones a later release implements.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mfpd.services.base import Service, ServiceContext

# service name -> "module:Class"
REGISTRY: dict[str, str] = {
    "raw": "mfpd.services.raw:RawService",
    "lpd": "mfpd.services.lpd:LpdService",
    "ipp": "mfpd.services.ipp.server:IppService",
    "https": "mfpd.services.ipp.server:IppsService",
    "http": "mfpd.services.ipp.server:HttpService",
    "status": "mfpd.services.web.status_channel:StatusChannel",
    "snmp": "mfpd.services.snmp.agent:SnmpService",
    "ssdp": "mfpd.services.discovery.ssdp:SsdpResponder",
    "wsd": "mfpd.services.discovery.wsd:WsdResponder",
    "slp": "mfpd.services.discovery.slp:SlpService",
    "netbios_ns": "mfpd.services.discovery.netbios:NetbiosNameService",
    "netbios_dgm": "mfpd.services.discovery.netbios:NetbiosDatagramService",
    "mdns": "mfpd.services.discovery.mdns:MdnsService",
}

PROTOCOLS: dict[str, str] = {
    "raw": "tcp",
    "lpd": "tcp",
    "http": "tcp",
    "https": "tcp",
    "ipp": "tcp",
    "snmp": "udp",
    "slp": "udp",
    "ssdp": "udp",
    "status": "tcp",
    "mdns": "udp",
    "wsd": "udp",
    "netbios_ns": "udp",
    "netbios_dgm": "udp",
}


def service_factory(name: str) -> Callable[[ServiceContext], Service] | None:
    target = REGISTRY.get(name)
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    factory: Callable[[ServiceContext], Service] = getattr(
        importlib.import_module(module_name), class_name
    )
    return factory
