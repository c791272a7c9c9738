"""GetBulk requests with a negative non-repeaters or max-repetitions, read as RFC 3416 says.

RFC 3416 4.2.3: "If the value in the non-repeaters field is less than zero, then the value of
the field is set to zero. Similarly, if the value in the max-repetitions field is less than
zero, then the value of the field is set to zero." Its ASN.1 (section 3) constrains both
fields to 0..max-bindings, and pysnmp decodes with that constraint, so such a request was
dropped unanswered where net-snmp's snmpd answers it. The message types here are pysnmp's,
with those two fields taking any Integer32; `accept_negative_bulk_fields` gives them to one
engine's v2c and v3 message processing (SNMPv1 has no GetBulk). The responders and the fast
path then take the values to zero (index.bulk_count).
"""

from __future__ import annotations

from typing import Any

from pyasn1.type import constraint, namedtype, univ  # type: ignore[import-untyped]
from pysnmp.proto import rfc1901, rfc1902, rfc1905  # type: ignore[import-untyped]
from pysnmp.proto.mpmod import rfc2576, rfc3412  # type: ignore[import-untyped]

# The range of request-id (RFC 3416 3), which a BER INTEGER of up to four octets can carry.
_ANY_INTEGER32 = univ.Integer().subtype(
    subtypeSpec=constraint.ValueRangeConstraint(-(2**31), 2**31 - 1)
)


def _with(types: namedtype.NamedTypes, name: str, asn1: Any) -> namedtype.NamedTypes:
    """`types` with the component `name` of type `asn1` instead."""
    return namedtype.NamedTypes(
        *(
            namedtype.NamedType(t.name, asn1 if t.name == name else t.asn1Object)
            for t in types.namedTypes
        )
    )


class GetBulkRequestPDU(rfc1905.GetBulkRequestPDU):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("request-id", rfc1902.Integer32()),
        namedtype.NamedType("non-repeaters", _ANY_INTEGER32),
        namedtype.NamedType("max-repetitions", _ANY_INTEGER32),
        namedtype.NamedType("variable-bindings", rfc1905.VarBindList()),
    )


class PDUs(rfc1905.PDUs):  # type: ignore[misc]
    componentType = _with(rfc1905.PDUs.componentType, "get-bulk-request", GetBulkRequestPDU())


class V2cMessage(rfc1901.Message):  # type: ignore[misc]
    componentType = _with(rfc1901.Message.componentType, "data", PDUs())


class ScopedPDU(rfc3412.ScopedPDU):  # type: ignore[misc]
    componentType = _with(rfc3412.ScopedPDU.componentType, "data", PDUs())


class ScopedPduData(rfc3412.ScopedPduData):  # type: ignore[misc]
    componentType = _with(rfc3412.ScopedPduData.componentType, "plaintext", ScopedPDU())


class V3Message(rfc3412.SNMPv3Message):  # type: ignore[misc]
    componentType = _with(rfc3412.SNMPv3Message.componentType, "msgData", ScopedPduData())


def accept_negative_bulk_fields(engine: Any) -> None:
    """Decode this engine's SNMPv2c and SNMPv3 messages with the types above. pysnmp keeps
    the decoding type per message processing model instance (`_snmpMsgSpec`), so this
    changes nothing for any other engine in the process (traps.py has its own)."""
    for model in engine.message_processing_subsystems.values():
        if type(model) is rfc2576.SnmpV2cMessageProcessingModel:
            model._snmpMsgSpec = V2cMessage()
        elif type(model) is rfc3412.SnmpV3MessageProcessingModel:
            model._snmpMsgSpec = V3Message()
