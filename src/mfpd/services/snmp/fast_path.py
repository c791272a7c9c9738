"""The fast path: SNMPv1/v2c reads answered with hand-written BER, without pysnmp.

The agent's UDP transports (transport.py) first offer each datagram to `FastPath`:
SNMPv1/v2c Get, GetNext and GetBulk with a configured community, the bulk of what managers
send, answered from the same index under the same VACM decisions with hand-written BER
(codecs/snmp.py), byte for byte what pysnmp would send, ten times faster (bench/RESULTS.md).
Whatever it is not sure of goes to pysnmp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pysnmp.entity.rfc3413 import cmdrsp  # type: ignore[import-untyped]
from pysnmp.proto import errind  # type: ignore[import-untyped]
from pysnmp.proto import error as proto_error

from mfpd.codecs.snmp import (
    VERSION_1,
    PduType,
    Tag,
    decode_request,
    encode_oid,
    encode_response,
    encode_varbind,
)
from mfpd.services.snmp.agent_mib import MAX_MESSAGE_SIZE
from mfpd.services.snmp.index import Allowed, Answer, Missing, bulk_count
from mfpd.services.snmp.mib import Oid, Syntax
from mfpd.services.snmp.responders import community_budget

if TYPE_CHECKING:  # agent.py builds the fast path: its class is only a type here
    from mfpd.services.snmp.agent import SnmpAgent


class _Decline(Exception):
    """The fast path leaves this datagram to pysnmp."""


_NULL = bytes((Tag.NULL, 0))
_NO_SUCH_NAME = 2  # SNMPv1 error-status (RFC 1157 4.1.1)


class FastPath:
    """SNMPv1/v2c Get, GetNext and GetBulk with a configured community, answered without
    pysnmp's message processing: the request decoded by codecs/snmp.py, the answer taken from
    the same index by the same rules (`OidIndex.get`, `next`, `bulk`), VACM decided by
    pysnmp's own access control model (through the agent's ViewCache), and the response
    written from each instance's encoded VarBind, made once per index snapshot.

    pysnmp's path costs about a millisecond of BER decoding and encoding in pyasn1 objects per
    request; this one a few dozen microseconds plus a few per varbind. It answers only when it
    is sure to send what pysnmp would (tests/unit/test_snmp_agent.py compares the two byte
    for byte): every other datagram returns None and goes to pysnmp as before, which covers
    SETs, SNMPv3, an unknown community (pysnmp's authenticationFailure), anything the narrow
    decoder does not take, any VACM outcome but in view / not in view, a value out of its
    type's range (pysnmp's genErr and log line), a Get or GetNext whose answer is beyond what
    the requester takes and a GetBulk of which nothing fits (tooBig). Reading has no side
    effect, so leaving a request to pysnmp after looking at it changes nothing.

    SNMPv1 follows RFC 3584 as pysnmp's proxy does (its v2_to_v1): GetNext skips Counter64;
    an exception value or, for Get, a Counter64 makes the answer noSuchName, pointing at the
    highest Counter64 if there is one, else at the first exception, with the request's
    varbinds."""

    def __init__(self, agent: SnmpAgent, communities: dict[bytes, bytes]) -> None:
        self.agent = agent
        self.communities = communities  # community -> pysnmp securityName
        self.engine = agent.engine
        self.vacm = agent.engine.access_control_model[cmdrsp.CommandResponderBase.ACM_ID]
        self.views = agent.views
        self.enabled = True
        self.answered = 0

    def answer(self, datagram: bytes) -> bytes | None:
        """The response to `datagram`, or None: pysnmp's to take."""
        if not self.enabled or not self.communities:
            return None
        request = decode_request(datagram)
        if request is None:
            return None
        security_name = self.communities.get(request.community)
        if security_name is None:
            return None
        try:
            reply = self._answer(request.version, request.community, request.pdu_type,
                                 request.request_id, request.non_repeaters,
                                 request.max_repetitions, request.names, security_name)  # fmt: skip
        except (_Decline, ValueError):
            return None
        if len(reply) > MAX_MESSAGE_SIZE:
            return None  # pysnmp drops it (snmpSilentDrops)
        self.answered += 1
        self.agent.requests += 1
        return reply

    def _allowed(self, model: int, security_name: bytes) -> Allowed:
        vacm, engine = self.vacm, self.engine

        def check(oid: Oid) -> bool:
            try:
                vacm.is_access_allowed(engine, model, security_name, 1, "read", b"", oid)
            except proto_error.StatusInformation as exc:
                if exc["errorIndication"] == errind.notInView:
                    return False
                raise _Decline from None
            return True

        return self.views.allowed((model, security_name, 1, b"", "read"), check)

    def _answer(
        self,
        version: int,
        community: bytes,
        pdu_type: int,
        request_id: int,
        non_repeaters: int,
        max_repetitions: int,
        names: tuple[Oid, ...],
        security_name: bytes,
    ) -> bytes:
        index = self.agent.live.index()
        allowed = self._allowed(version + 1, security_name)
        v1 = version == VERSION_1
        answers: list[tuple[Oid, Answer]]
        budget, hard_limit = community_budget(self.agent.community_length)
        if pdu_type == PduType.GET_BULK:
            answers = index.bulk(names, non_repeaters, max_repetitions, allowed, budget,
                                 hard_limit=hard_limit, size=index.varbind_length)  # fmt: skip
            if not answers and bulk_count(len(names), non_repeaters, max_repetitions):
                raise _Decline  # tooBig: pysnmp's answer
            varbinds = [index.varbind(name, answer) for name, answer in answers]
        else:
            if pdu_type == PduType.GET:
                answers = [(name, index.get(name, allowed)) for name in names]
            else:
                answers = [index.next(name, allowed, v1=v1) for name in names]
            varbinds = [index.varbind(name, answer) for name, answer in answers]
            if sum(map(len, varbinds)) > hard_limit:
                raise _Decline  # tooBig: pysnmp's answer (_Responder.fits)
        if v1:
            position = _v1_error_position(answers, pdu_type == PduType.GET)
            if position:
                request = [encode_varbind(encode_oid(name), _NULL) for name in names]
                return encode_response(
                    version, community, request_id, _NO_SUCH_NAME, position, request
                )
        return encode_response(version, community, request_id, 0, 0, varbinds)


def _v1_error_position(answers: Sequence[tuple[Oid, Answer]], get: bool) -> int:
    """The error-index of an SNMPv1 noSuchName answer, 0 for none (RFC 3584 4.1.2.1-2, in
    the order pysnmp's v2_to_v1 checks: from the last varbind to the first)."""
    position = 0
    for number in range(len(answers), 0, -1):
        answer = answers[number - 1][1]
        if isinstance(answer, Missing):
            position = number
        elif answer.syntax is Syntax.COUNTER64:
            if get:
                return number
            raise _Decline  # GetNext skips Counter64; pysnmp would fail here
    return position
