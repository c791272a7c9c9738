"""The objects only the SNMP engine itself knows, served by the agent beside the device MIBs.

- snmpEngine group (SNMP-FRAMEWORK-MIB, RFC 3411 5): snmpEngineID, snmpEngineBoots,
  snmpEngineTime, snmpEngineMaxMessageSize, 1.3.6.1.6.3.10.2.1.{1..4}.0.
- snmpEnableAuthenTraps (SNMPv2-MIB, RFC 3418) 1.3.6.1.2.1.11.30.0: enabled(1) or disabled(2),
  from `[services.snmp] authentication_traps` (read-only here: the configuration decides).

`MAX_MESSAGE_SIZE`, the value of snmpEngineMaxMessageSize, is defined here because the agent's
engine (agent.py), its command responders (responders.py) and its fast path (fast_path.py)
all hold to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mfpd.services.snmp.mib import Oid, Value, Writable

# snmpEngineMaxMessageSize: what the engine accepts and may send (RFC 3417: UDP's maximum).
MAX_MESSAGE_SIZE = 65507

SNMP_ENGINE = (1, 3, 6, 1, 6, 3, 10, 2, 1)
SNMP_ENABLE_AUTHEN_TRAPS = (1, 3, 6, 1, 2, 1, 11, 30, 0)


class AgentMib:
    def __init__(
        self,
        engine_id: bytes,
        boots: int,
        engine_time: Callable[[], int],
        max_message_size: int,
        authentication_traps: bool,
    ) -> None:
        self.engine_id = engine_id
        self.boots = boots
        self.engine_time = engine_time
        self.max_message_size = max_message_size
        self.authentication_traps = authentication_traps

    def objects(self) -> Iterator[tuple[Oid, Value]]:
        yield SNMP_ENABLE_AUTHEN_TRAPS, Value.integer(1 if self.authentication_traps else 2)
        yield (*SNMP_ENGINE, 1, 0), Value.string(self.engine_id)
        yield (*SNMP_ENGINE, 2, 0), Value.integer(self.boots)
        yield (*SNMP_ENGINE, 3, 0), Value.integer(self.engine_time())
        yield (*SNMP_ENGINE, 4, 0), Value.integer(self.max_message_size)

    def writable(self) -> dict[Oid, Writable]:
        return {}
