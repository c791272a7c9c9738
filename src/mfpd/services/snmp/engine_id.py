"""Who the SNMP engine is: snmpEngineID from the device identity, snmpEngineBoots on disk.

Shared by the agent (UDP 161) and the notification originator (traps.py), and free of pysnmp,
so that either can import it without the other.

- snmpEngineID (RFC 3411 section 5, SnmpEngineID TC): the first bit set, the 4-octet IANA
  enterprise number of the device's make (Xerox 253 for the default WorkCentre), format 5
  ("octets, administratively assigned"), then the 16 bytes of the device UUID: 21 octets,
  the same on every start and every host as long as the configured UUID is.
- snmpEngineBoots (RFC 3414 section 2.2): how many times the engine has (re)started since its
  engine ID was last changed, kept in `STATE_DIR/snmp-engine.json` and incremented at each
  start of the agent. A v3 manager that has seen boots N refuses messages that claim N or
  less with an older time, so this must never go back. At 2147483647 it stays there
  (RFC 3414 2.2.2: the engine then needs a new engine ID, i.e. a new UUID).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from mfpd.device.identity import Identity

BOOTS_FILE = "snmp-engine.json"
MAX_BOOTS = 2147483647

# RFC 3411 5: format octet 5 = "octets, administratively assigned".
FORMAT_OCTETS = 5

# IANA Private Enterprise Numbers of printer makers (www.iana.org/assignments/enterprise-numbers).
ENTERPRISE_NUMBERS = {
    "xerox": 253,
    "hp": 11,
    "hewlett-packard": 11,
    "lexmark": 641,
    "ricoh": 367,
    "canon": 1602,
    "brother": 2435,
    "kyocera": 1347,
    "epson": 1248,
}
DEFAULT_ENTERPRISE = 253


@dataclass(frozen=True)
class SnmpIdentity:
    """The engine identity a v3 message carries (msgAuthoritativeEngineID and Boots)."""

    engine_id: bytes
    boots: int

    @property
    def engine_id_hex(self) -> str:
        return self.engine_id.hex()


def enterprise_number(make: str) -> int:
    """The IANA enterprise number of a make, Xerox's when the make is not known."""
    return ENTERPRISE_NUMBERS.get(make.strip().lower(), DEFAULT_ENTERPRISE)


def engine_id(identity: Identity) -> bytes:
    """snmpEngineID: 0x80 | enterprise (4 octets), format 5, the 16 bytes of the UUID."""
    enterprise = enterprise_number(identity.make)
    prefix = (0x80000000 | enterprise).to_bytes(4, "big")
    return prefix + bytes([FORMAT_OCTETS]) + uuid.UUID(identity.uuid).bytes


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def current_boots(state_dir: Path, engine: bytes) -> int:
    """snmpEngineBoots as last recorded for this engine ID (0: never started)."""
    data = _read(state_dir / BOOTS_FILE)
    boots = data.get("boots")
    if data.get("engine_id") != engine.hex() or not isinstance(boots, int) or boots < 0:
        return 0
    return min(boots, MAX_BOOTS)


def next_boots(state_dir: Path, engine: bytes) -> int:
    """Increment and record snmpEngineBoots for a start of the engine (RFC 3414 2.2).

    A new engine ID starts again at 1. The file is replaced atomically and synced, so a crash
    never leaves a smaller count behind."""
    boots = min(current_boots(state_dir, engine) + 1, MAX_BOOTS)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / BOOTS_FILE
    tmp = path.with_suffix(".tmp")
    payload = json.dumps({"engine_id": engine.hex(), "boots": boots}) + "\n"
    with open(tmp, "w") as out:
        out.write(payload)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        directory = os.open(state_dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return boots


def snmp_identity(identity: Identity, state_dir: Path, *, start: bool = False) -> SnmpIdentity:
    """The engine identity; `start=True` counts a new boot (the agent does this once)."""
    engine = engine_id(identity)
    boots = next_boots(state_dir, engine) if start else current_boots(state_dir, engine)
    return SnmpIdentity(engine, boots)
