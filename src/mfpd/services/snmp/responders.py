"""The agent's command responders (Get, GetNext, GetBulk, Set), in place of pysnmp's own.

pysnmp's GetBulk neither fits its answer to a UDP payload nor sends anything when it is too
big (it drops it), its error-index is wrong for any PDU of more than one varbind, its SET has
no separate test phase, and its v2c set_varbinds rebuilds every VarBind. The responders here
answer through `LiveInstrum` (instrumentation.py), with a correct error-index, tooBig when a
response does not fit, and GetBulk answers fitted to the budget of `community_budget` (also
the fast path's, fast_path.py) or of the SNMPv3 message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyasn1.type import univ  # type: ignore[import-untyped]
from pysnmp.entity.rfc3413 import cmdrsp  # type: ignore[import-untyped]
from pysnmp.proto import rfc1905  # type: ignore[import-untyped]
from pysnmp.proto.api import v2c  # type: ignore[import-untyped]
from pysnmp.smi import error as smi_error  # type: ignore[import-untyped]

from mfpd.services.snmp.agent_mib import MAX_MESSAGE_SIZE
from mfpd.services.snmp.index import (
    LOCAL_MAX_MESSAGE,
    PDU_OVERHEAD,
    bulk_count,
    community_message_overhead,
    integer_content,
    oid_content,
    tlv,
    usm_message_overhead,
)
from mfpd.services.snmp.instrumentation import LiveInstrum, to_var_bind
from mfpd.services.snmp.peers import format_peer

if TYPE_CHECKING:  # agent.py builds the responders: its class is only a type here
    from mfpd.services.snmp.agent import SnmpAgent


class _Responder(cmdrsp.CommandResponderBase):  # type: ignore[misc]
    """What the four command responders share: the request's message parameters, an answer
    with a correct error-index, and VACM on every variable."""

    def __init__(self, engine: Any, context: Any, agent: SnmpAgent) -> None:
        super().__init__(engine, context)
        self.agent = agent
        self.request: tuple[int, Any, Any, Any, int] = (1, b"", b"", b"", MAX_MESSAGE_SIZE)

    def process_pdu(  # pysnmp's signature, camelCase and all
        self,
        snmpEngine: Any,
        messageProcessingModel: Any,
        securityModel: Any,
        securityName: Any,
        securityLevel: Any,
        contextEngineId: Any,
        contextName: Any,
        pduVersion: Any,
        PDU: Any,
        maxSizeResponseScopedPDU: Any,
        stateReference: Any,
    ) -> None:
        self.request = (
            int(messageProcessingModel),
            securityName,
            contextEngineId,
            contextName,
            int(maxSizeResponseScopedPDU),
        )
        self.agent.requests += 1
        super().process_pdu(
            snmpEngine, messageProcessingModel, securityModel, securityName, securityLevel,
            contextEngineId, contextName, pduVersion, PDU, maxSizeResponseScopedPDU,
            stateReference,
        )  # fmt: skip

    def answer(self, instrum: LiveInstrum, pdu: Any, context: dict[str, Any]) -> list[Any]:
        raise NotImplementedError

    def requester(self, engine: Any) -> str:
        """Who sent the request being answered, as "peer (security name)", for log lines."""
        request = engine.observer.get_execution_context("rfc3412.receiveMessage:request")
        name = bytes(request["securityName"].asOctets()).decode("utf-8", "replace")
        return f"{format_peer(request['transportAddress'])} ({name})"

    def send_varbinds(
        self,
        snmpEngine: Any,
        stateReference: Any,
        errorStatus: Any,
        errorIndex: Any,
        varBinds: Any,
    ) -> None:
        """pysnmp's send_varbinds, except that ready VarBind objects go into the response
        as they are: pysnmp 7's v2c set_varbinds only recognises SNMPv1 VarBinds and would
        rebuild every one of them (half the cost of a GetBulk)."""
        pending = self._CommandResponderBase__pendingReqs[stateReference]
        pdu = pending[7]
        v2c.apiPDU.set_error_status(pdu, errorStatus)
        v2c.apiPDU.set_error_index(pdu, errorIndex)
        var_bind_list = pdu.setComponentByPosition(3).getComponentByPosition(3)
        var_bind_list.clear()
        for position, var_bind in enumerate(varBinds):
            if not isinstance(var_bind, v2c.VarBind):
                var_bind = to_var_bind(var_bind[0], var_bind[1])
            var_bind_list.setComponentByPosition(position, var_bind)
        self.send_pdu(snmpEngine, stateReference, pdu)

    def fits(self, var_binds: Sequence[Any]) -> bool:
        """Whether a Response of `var_binds` fits what the requester takes (its maximum
        message size, within snmpEngineMaxMessageSize). pysnmp silently drops a response
        that does not, where RFC 3416 4.2.1-4.2.2 (RFC 1157 4.1.2) answer tooBig."""
        model, _, context_engine, context_name, max_scoped = self.request
        if model == 3:
            scoped = 4 + tlv(len(context_engine)) + tlv(len(context_name))
            limit = max_scoped - scoped - PDU_OVERHEAD
        else:
            limit = community_budget(self.agent.community_length)[1]
        used = 0
        for var_bind in var_binds:
            if isinstance(var_bind, tuple):  # a SET's (name, value)
                name, value = var_bind
            else:
                name, value = v2c.apiVarBind.get_oid_value(var_bind)
            used += tlv(tlv(oid_content(tuple(name))) + tlv(_value_octets(value)))
            if used > limit:
                return False
        return True

    def report_unknown_context(self, engine: Any, state_reference: Any, request: Any) -> None:
        """RFC 3413 3.2 (2): a context this agent does not have is counted in
        snmpUnknownContexts and answered with a Report of that counter, at the request's
        security level. pysnmp 7's get_mib_instrum raises PySnmpError, which its process_pdu
        swallows (no answer); and its own Report path hands the message processing model the
        Response rather than the request (RFC 3412 7.1.3a), which refuses it as a loop."""
        (unknown,) = engine.get_mib_builder().import_symbols(
            "__SNMP-TARGET-MIB", "snmpUnknownContexts"
        )
        unknown.syntax += 1
        pending = self._CommandResponderBase__pendingReqs[state_reference]
        pending[10].update(oid=unknown.name, val=unknown.syntax, securityLevel=pending[3])
        self.send_pdu(engine, state_reference, request)
        self.release_state_information(state_reference)

    def handle_management_operation(
        self,
        snmpEngine: Any,
        stateReference: Any,
        contextName: Any,
        PDU: Any,
    ) -> None:
        try:
            instrum = self.snmpContext.get_mib_instrum(contextName)
        except smi_error.PySnmpError:
            self.report_unknown_context(snmpEngine, stateReference, PDU)
            return
        context: dict[str, Any] = {
            "snmpEngine": snmpEngine,
            "acFun": self.verify_access,
            "cbCtx": self.cbCtx,
            "v1": self.request[0] == 0,
        }
        try:
            var_binds = self.answer(instrum, PDU, context)
        except smi_error.MibOperationError as exc:
            if "oid" in exc:
                raise  # a Report (unknown context): pysnmp's process_pdu sends it
            status = self.SMI_ERROR_MAP.get(type(exc), "genErr")
            position = exc.get("idx")
            error_index = 0 if position is None else position + 1
            if status == "tooBig":
                self.send_varbinds(snmpEngine, stateReference, status, 0, [])
            else:
                request = v2c.apiPDU.get_varbinds(PDU)
                self.send_varbinds(snmpEngine, stateReference, status, error_index, request)
        else:
            if isinstance(self, BulkResponder) or self.fits(var_binds):  # GetBulk trims
                self.send_varbinds(snmpEngine, stateReference, 0, 0, var_binds)
            else:
                self.send_varbinds(snmpEngine, stateReference, "tooBig", 0, [])
        self.release_state_information(stateReference)


class GetResponder(_Responder):
    SUPPORTED_PDU_TYPES = (rfc1905.GetRequestPDU.tagSet,)

    def answer(self, instrum: LiveInstrum, pdu: Any, context: dict[str, Any]) -> list[Any]:
        return instrum.read_variables(*v2c.apiPDU.get_varbinds(pdu), **context)


class NextResponder(_Responder):
    SUPPORTED_PDU_TYPES = (rfc1905.GetNextRequestPDU.tagSet,)

    def answer(self, instrum: LiveInstrum, pdu: Any, context: dict[str, Any]) -> list[Any]:
        return instrum.read_next_variables(*v2c.apiPDU.get_varbinds(pdu), **context)


class BulkResponder(_Responder):
    SUPPORTED_PDU_TYPES = (rfc1905.GetBulkRequestPDU.tagSet,)

    def answer(self, instrum: LiveInstrum, pdu: Any, context: dict[str, Any]) -> list[Any]:
        var_binds = v2c.apiPDU.get_varbinds(pdu)
        non_repeaters = int(v2c.apiBulkPDU.get_non_repeaters(pdu))
        max_repetitions = int(v2c.apiBulkPDU.get_max_repetitions(pdu))
        budget, hard_limit = self.budget()
        out = instrum.read_bulk_variables(
            var_binds, non_repeaters, max_repetitions, budget, hard_limit, **context
        )
        if not out and bulk_count(len(var_binds), non_repeaters, max_repetitions):
            raise smi_error.TooBigError()
        return out

    def budget(self) -> tuple[int, int]:
        """Octets of varbinds a response may carry: what fits a 1472-byte datagram (the
        local limit), and what fits the requester's own maximum message size."""
        model, security_name, context_engine, context_name, max_scoped = self.request
        if model != 3:
            return community_budget(self.agent.community_length)
        overhead = usm_message_overhead(
            len(self.agent.identity.engine_id), len(security_name),
            len(context_engine), len(context_name),
        )  # fmt: skip
        scoped = 4 + tlv(len(context_engine)) + tlv(len(context_name))
        requester = max_scoped - scoped - PDU_OVERHEAD
        local = LOCAL_MAX_MESSAGE - overhead - PDU_OVERHEAD
        return min(local, requester), requester


def community_budget(community_length: int) -> tuple[int, int]:
    """The GetBulk budget of SNMPv1/v2c (`_Responder.budget`): octets of varbinds that fit
    1472 octets, and that fit the engine's maximum message size."""
    overhead = community_message_overhead(community_length)
    requester = MAX_MESSAGE_SIZE - overhead - PDU_OVERHEAD
    local = LOCAL_MAX_MESSAGE - overhead - PDU_OVERHEAD
    return min(local, requester), requester


class SetResponder(_Responder):
    SUPPORTED_PDU_TYPES = (rfc1905.SetRequestPDU.tagSet,)

    def answer(self, instrum: LiveInstrum, pdu: Any, context: dict[str, Any]) -> list[Any]:
        context["requester"] = self.requester(context["snmpEngine"])
        return instrum.write_variables(*v2c.apiPDU.get_varbinds(pdu), **context)


def _value_octets(value: Any) -> int:
    """Content octets of a pysnmp value in BER (index.value_content for pyasn1 objects)."""
    if isinstance(value, univ.OctetString):  # also IpAddress, Opaque
        return len(value)
    if isinstance(value, univ.ObjectIdentifier):
        return oid_content(tuple(value))
    if isinstance(value, univ.Integer):  # also Counter32, Gauge32, TimeTicks, Counter64
        return integer_content(int(value))
    return 0  # NULL and the exception values
