"""How the SNMP agent names a peer in its log lines, from the transport address pysnmp gives.

Shared by the command responders (responders.py), the UDP transports (transport.py) and the
agent's authentication failures (agent.py).
"""

from __future__ import annotations

from typing import Any


def format_peer(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)
