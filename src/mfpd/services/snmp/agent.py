"""The SNMP agent on UDP 161 (SNMPv1, v2c and v3 with USM and VACM), on pysnmp 7.

pysnmp does the messages: BER, community and USM security (RFC 2576, 3414, 3826, 7860),
reports, engine discovery. What it answers comes from the device, live, through a custom
instrumentation controller (`LiveInstrum`) over the sorted OID index of index.py, not through
a static pysnmp MIB tree. The command responders here replace pysnmp's own: pysnmp's GetBulk
neither fits its answer to a UDP payload nor sends anything when it is too big (it drops
it), its error-index is wrong for any PDU of more than one varbind, its SET has no separate
test phase, and its v2c set_varbinds rebuilds every VarBind. The view check (pysnmp's VACM,
`verify_access`) is called by the controller for every variable, or VACM is silently
bypassed; its decisions are remembered per requester and instance (`ViewCache`). Datagrams
reach the engine through `_receive`, which contains the exceptions pysnmp 7 lets escape on
some malformed BER.

`_receive` first offers each datagram to `FastPath`: SNMPv1/v2c Get, GetNext and GetBulk with
a configured community, the bulk of what managers send, answered from the same index under
the same VACM decisions with hand-written BER (codecs/snmp.py), byte for byte what pysnmp
would send, ten times faster (bench/RESULTS.md). Whatever it is not sure of goes to pysnmp.

Security layout (VACM, RFC 3415), decided here and nowhere else:

- views: `mfpd-read` and `mfpd-write` include only the subtrees of `VIEW_SUBTREES` (MIB-II
  system and interfaces, IF-MIB, Host Resources, Printer MIB, snmpEngine, snmpEnableAuthenTraps,
  the PWG arc and the make's enterprise arc); `mfpd-none` excludes everything. The USM,
  VACM, community and target tables are in no view, and the controller does not serve them
  anyway (it only knows the MIB modules).
- v1/v2c: the read community maps to group `mfpd-ro` (read view, write view `mfpd-none`),
  the write community, when set, to `mfpd-rw`. A wrong community gets no answer. `v3_only`
  configures no community at all.
- v3: each user's group has its read (and, for `access = "write"`, write) view at the user's
  own security level and above (authPriv when it has a privacy key, else authNoPriv) and
  `mfpd-none` below it, so a request with less security than configured sees nothing.
  pysnmp 7's VACM allows access through a view name that has no entries, and when no
  access entry matches exactly it falls back to the lowest-rated candidate whatever its
  security level; every group therefore has an exact entry for every model and level it
  is used with, and no view it names is empty.
- MD5 and DES: refused by the configuration (config.py) unless `allow_md5_des = true`.

A bad community or USM credential (unknown user, wrong digest, undecryptable) publishes
`snmp.auth-failure` on the device's event bus (traps.py turns it into authenticationFailure)
and logs one line.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from pyasn1.type import univ  # type: ignore[import-untyped]
from pysnmp.carrier.asyncio.dgram import udp, udp6  # type: ignore[import-untyped]
from pysnmp.entity import config as snmp_config  # type: ignore[import-untyped]
from pysnmp.entity.engine import SnmpEngine  # type: ignore[import-untyped]
from pysnmp.entity.rfc3413 import cmdrsp  # type: ignore[import-untyped]
from pysnmp.entity.rfc3413.context import SnmpContext  # type: ignore[import-untyped]
from pysnmp.proto import errind, rfc1905  # type: ignore[import-untyped]
from pysnmp.proto import error as proto_error
from pysnmp.proto.api import v2c  # type: ignore[import-untyped]
from pysnmp.smi import error as smi_error  # type: ignore[import-untyped]
from pysnmp.smi.instrum import AbstractMibInstrumController  # type: ignore[import-untyped]

from mfpd.codecs.snmp import (
    VERSION_1,
    PduType,
    Tag,
    decode_request,
    encode_oid,
    encode_response,
    encode_varbind,
)
from mfpd.config import SnmpServiceConfig, SnmpUserConfig
from mfpd.services.base import PortEntry, ServiceContext, bind_udp
from mfpd.services.snmp import mibs
from mfpd.services.snmp.agent_mib import SNMP_ENABLE_AUTHEN_TRAPS, SNMP_ENGINE, AgentMib
from mfpd.services.snmp.engine_id import (
    DEFAULT_ENTERPRISE,
    SnmpIdentity,
    enterprise_number,
    snmp_identity,
)
from mfpd.services.snmp.index import (
    LOCAL_MAX_MESSAGE,
    PDU_OVERHEAD,
    Allowed,
    Answer,
    LiveMib,
    Missing,
    OidIndex,
    community_message_overhead,
    integer_content,
    oid_content,
    tlv,
    usm_message_overhead,
    varbind_size,
)
from mfpd.services.snmp.mib import Oid, Syntax, Value, WriteError
from mfpd.services.snmp.pysnmp_values import PYSNMP_TYPES, pysnmp_value
from mfpd.services.snmp.traps import Notifier

log = logging.getLogger("mfpd.snmp")

# snmpEngineMaxMessageSize: what the engine accepts and may send (RFC 3417: UDP's maximum).
MAX_MESSAGE_SIZE = 65507

# What any requester may read (RFC 3415 views). The make's enterprise arc is added at start.
VIEW_SUBTREES: tuple[Oid, ...] = (
    (1, 3, 6, 1, 2, 1, 1),  # system (RFC 3418)
    (1, 3, 6, 1, 2, 1, 2),  # interfaces (RFC 2863)
    (1, 3, 6, 1, 2, 1, 31),  # ifMIB: ifXTable (RFC 2863)
    (1, 3, 6, 1, 2, 1, 25),  # host resources (RFC 2790)
    (1, 3, 6, 1, 2, 1, 43),  # printer MIB v2 (RFC 3805)
    SNMP_ENGINE,  # snmpEngine (RFC 3411)
    SNMP_ENABLE_AUTHEN_TRAPS[:-1],  # snmpEnableAuthenTraps (RFC 3418)
    (1, 3, 6, 1, 4, 1, 2699),  # PWG: Port Monitor, Job Monitoring (PWG 5107.1, RFC 2707)
)
ENTERPRISES = (1, 3, 6, 1, 4, 1)

READ_VIEW = "mfpd-read"
WRITE_VIEW = "mfpd-write"
NO_VIEW = "mfpd-none"
SECURITY_LEVELS = ("noAuthNoPriv", "authNoPriv", "authPriv")

READ_COMMUNITY = "mfpd-read"  # communityIndex and securityName of the read community
WRITE_COMMUNITY = "mfpd-write"

AUTH_PROTOCOLS = {
    "md5": snmp_config.USM_AUTH_HMAC96_MD5,
    "sha": snmp_config.USM_AUTH_HMAC96_SHA,
    "sha224": snmp_config.USM_AUTH_HMAC128_SHA224,
    "sha256": snmp_config.USM_AUTH_HMAC192_SHA256,
    "sha384": snmp_config.USM_AUTH_HMAC256_SHA384,
    "sha512": snmp_config.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {
    "none": snmp_config.USM_PRIV_NONE,
    "des": snmp_config.USM_PRIV_CBC56_DES,
    "aes": snmp_config.USM_PRIV_CFB128_AES,
    # AES-192/256 with the key extension of draft-blumenthal-aes-usm-04: net-snmp's AES192
    # and AES256 (its AES192C/AES256C are the Reeder variant), as traps.py sends them.
    "aes192": snmp_config.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "aes256": snmp_config.USM_PRIV_CFB256_AES_BLUMENTHAL,
}

# Error indications of a message that failed authentication (RFC 2576 5.2.1, RFC 3414 3.2):
# authenticationFailure material. Unknown engine ID and time window are discovery, not attack.
AUTH_FAILURES = {
    "unknownCommunityName": "unknown community",
    "unknownSecurityName": "unknown user",
    "authenticationFailure": "wrong authentication digest",
    "decryptionError": "decryption failed",
}

_MISSING: dict[Missing, Any] = {
    Missing.NO_SUCH_OBJECT: rfc1905.noSuchObject,
    Missing.NO_SUCH_INSTANCE: rfc1905.noSuchInstance,
    Missing.END_OF_MIB_VIEW: rfc1905.endOfMibView,
}
# SNMPv2 error-status names (RFC 3416 3) -> the pysnmp exception that carries them.
_ERRORS: dict[str, Any] = {
    name: cls for cls, name in cmdrsp.CommandResponderBase.SMI_ERROR_MAP.items()
}


def to_pysnmp(value: Answer) -> Any:
    if isinstance(value, Missing):
        return _MISSING[value]
    return pysnmp_value(value)


def _var_bind(oid: Oid, value: Any) -> Any:
    var_bind = v2c.VarBind()
    v2c.apiVarBind.set_oid_value(var_bind, (oid, value))
    return var_bind


def from_pysnmp(syntax: Syntax, value: Any) -> Value | None:
    """The mib.Value of a SET's value, or None when its type is not `syntax` (wrongType)."""
    if value.tagSet != PYSNMP_TYPES[syntax].tagSet:
        return None
    if syntax is Syntax.OCTET_STRING or syntax is Syntax.IP_ADDRESS:
        return Value(syntax, bytes(value.asOctets()))
    if syntax is Syntax.OBJECT_IDENTIFIER:
        return Value(syntax, tuple(value))
    return Value(syntax, int(value))


def _error(status: str, oid: Oid, position: int) -> Exception:
    """A pysnmp SMI error carrying an SNMPv2 error-status and the varbind's position."""
    cls = _ERRORS.get(status, smi_error.GenError)
    error: Exception = cls(name=oid, idx=position)
    return error


class ViewCache:
    """pysnmp's VACM decisions (RFC 3415 3.2), remembered per requester and instance.

    Whether an instance is in a requester's view depends on the requester's security model,
    name and level, the context, the kind of access and the OID, and on nothing else once the
    agent runs: the VACM tables are configured at start and no SNMP request reaches them (the
    controller serves only the MIB modules). So the first decision for each of those keys is
    pysnmp's own, and the next ones are a dict lookup: VACM is enforced as before, without
    walking pysnmp's view tables for every variable of every request (two thirds of a
    GetBulk's index time). Only "in view" and "not in view" are kept; any other outcome of
    the check (no group, no access entry, no such context) is pysnmp's error every time.
    A table holds at most LIMIT instances (alert rows come and go with new indexes)."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self._tables: dict[tuple[Any, ...], dict[Oid, bool]] = {}

    def allowed(self, key: tuple[Any, ...], check: Callable[[Oid], bool]) -> Allowed:
        """`check(oid)` is the real VACM decision for the requester `key` (in view: True)."""
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = {}

        def allowed(oid: Oid, value: Value | None) -> bool:
            known = table.get(oid)
            if known is None:
                known = check(oid)
                if len(table) >= self.LIMIT:
                    table.clear()
                table[oid] = known
            return known

        return allowed


class LiveInstrum(AbstractMibInstrumController):  # type: ignore[misc]
    """pysnmp's MIB instrumentation interface, answered from the live OID index.

    Every variable goes through `context["acFun"]` (pysnmp's VACM check, the responder's
    verify_access) before it is answered, its decisions remembered by `views`: out of view is
    noSuchObject for GET and skipped by GETNEXT; an access failure (no group, no access
    entry) raises authorizationError."""

    def __init__(self, live: LiveMib, views: ViewCache | None = None) -> None:
        self.live = live
        self.views = views or ViewCache()
        self._memo_index: OidIndex | None = None
        self._memo: dict[Oid, tuple[Value, Any]] = {}

    # -- helpers -------------------------------------------------------------------------

    def _allowed(self, view: str, context: dict[str, Any]) -> Allowed:
        check = context.get("acFun")
        if check is None:
            return lambda oid, value: True

        def verify(oid: Oid) -> bool:
            # The value is not passed: the v1 Counter64 rule is the index's (v1=True).
            return check(view, (oid, None), **context) is not True

        request = context["snmpEngine"].observer.get_execution_context(
            "rfc3412.receiveMessage:request"
        )
        key = (
            int(request["securityModel"]), _octets(request["securityName"]),
            int(request["securityLevel"]), _octets(request["contextName"]), view,
        )  # fmt: skip
        return self.views.allowed(key, verify)

    def _var_bind(self, index: OidIndex, oid: Oid, answer: Answer) -> Any:
        """The response VarBind of `oid`. Building pyasn1 objects is most of what a response
        costs, so each instance's VarBind is built once and shared by every response for as
        long as its value stays the same (pysnmp's encoder only reads it)."""
        if isinstance(answer, Missing):
            return _var_bind(oid, _MISSING[answer])
        memo = self._memo
        if self._memo_index is not index:
            self._memo_index = index
            if len(memo) > 2 * len(index):  # rows came and went: forget the departed
                memo = self._memo = {o: e for o, e in memo.items() if o in index.values}
        entry = memo.get(oid)
        if entry is not None and entry[0] == answer:
            return entry[1]
        try:
            var_bind = _var_bind(oid, to_pysnmp(answer))
        except Exception as exc:
            log.error("snmp: %s: cannot encode %r: %s", _dotted(oid), answer, exc)
            raise smi_error.GenError(name=oid) from None
        memo[oid] = (answer, var_bind)
        return var_bind

    # -- pysnmp's interface --------------------------------------------------------------

    def read_variables(self, *var_binds: Any, **context: Any) -> list[Any]:
        """GetRequest-PDU (RFC 3416 4.2.1)."""
        index = self.live.index()
        allowed = self._allowed("read", context)
        out = []
        for position, (name, _) in enumerate(var_binds):
            context["idx"] = position
            oid = tuple(name)
            out.append(self._var_bind(index, oid, index.get(oid, allowed)))
        return out

    def read_next_variables(self, *var_binds: Any, **context: Any) -> list[Any]:
        """GetNextRequest-PDU (RFC 3416 4.2.2; SNMPv1 per RFC 3584 4.2.2.1)."""
        index = self.live.index()
        allowed = self._allowed("read", context)
        v1 = bool(context.get("v1"))
        out = []
        for position, (name, _) in enumerate(var_binds):
            context["idx"] = position
            oid, answer = index.next(tuple(name), allowed, v1=v1)
            out.append(self._var_bind(index, oid, answer))
        return out

    def read_bulk_variables(
        self,
        var_binds: Sequence[Any],
        non_repeaters: int,
        max_repetitions: int,
        budget: int,
        hard_limit: int,
        **context: Any,
    ) -> list[Any]:
        """GetBulkRequest-PDU (RFC 3416 4.2.3), at most `budget` octets of varbinds."""
        index = self.live.index()
        allowed = self._allowed("read", context)
        requested = [tuple(name) for name, _ in var_binds]

        def size(oid: Oid, answer: Answer) -> int:
            # The snapshot's encoded varbind (made once) rather than counting every time; a
            # value without an encoding is counted, and answered genErr by _var_bind.
            try:
                return index.varbind_length(oid, answer)
            except ValueError:
                return varbind_size(oid, answer)

        answers = index.bulk(
            requested, non_repeaters, max_repetitions, allowed, budget,
            hard_limit=hard_limit, size=size,
        )  # fmt: skip
        return [self._var_bind(index, oid, answer) for oid, answer in answers]

    def write_variables(self, *var_binds: Any, **context: Any) -> list[tuple[Oid, Any]]:
        """SetRequest-PDU (RFC 3416 4.2.5): every varbind is tested (view, writability, type,
        the module's check) before any is applied; the first failure is the answer."""
        index = self.live.index()
        allowed = self._allowed("write", context)
        planned = []
        for position, (name, value) in enumerate(var_binds):
            context["idx"] = position
            oid = tuple(name)
            if not allowed(oid, None):
                raise _error("noAccess", oid, position)
            spec = index.writable.get(oid)
            if spec is None:
                raise _error("notWritable", oid, position)
            new = from_pysnmp(spec.syntax, value)
            if new is None:
                raise _error("wrongType", oid, position)
            planned.append((position, oid, spec, new))
        who = context.get("requester", "?")
        for position, oid, spec, new in planned:
            try:
                spec.check(new)
            except WriteError as exc:
                log.info("snmp: %s: SET %s refused: %s (%s)", who, _dotted(oid), exc, exc.status)
                raise _error(exc.status, oid, position) from None
            except Exception:
                log.exception("snmp: %s: SET %s: the check failed", who, _dotted(oid))
                raise _error("genErr", oid, position) from None
        # Commit phase. A failure here leaves the varbinds before it applied (no undo: the
        # modules' changes are not transactional) and answers commitFailed for this one.
        for position, oid, spec, new in planned:
            try:
                spec.apply(new)
            except Exception as exc:
                log.error("snmp: %s: SET %s failed while applying: %s", who, _dotted(oid), exc)
                raise _error("commitFailed", oid, position) from None
            log.info("snmp: %s: SET %s", who, _dotted(oid))
        self.live.invalidate()
        return [(tuple(name), value) for name, value in var_binds]


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
        return f"{_peer(request['transportAddress'])} ({name})"

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
                var_bind = _var_bind(var_bind[0], var_bind[1])
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
        if var_binds and not out:
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
            if names and not answers:
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


class LogLimit:
    """At most `lines` log lines per `window` seconds for one kind of datagram trouble, then
    one line saying how many were left out: a scan or a flood must not flood the log."""

    def __init__(self, what: str, lines: int = 20, window: float = 10.0) -> None:
        self.what = what
        self.lines = lines
        self.window = window
        self._start = -window
        self._count = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self._start > self.window:
            if self._count > self.lines:
                log.warning("snmp: %d more %s", self._count - self.lines, self.what)
            self._start, self._count = now, 0
        self._count += 1
        return self._count <= self.lines


_UNREADABLE = LogLimit("unreadable datagrams")


_FAST_FAILURES = LogLimit("fast path failures")


def _receive(transport: Any, address: Any, datagram: bytes) -> None:
    """Answer a datagram on the fast path, else hand it to the engine now, not through
    call_soon as pysnmp does, and contain what pysnmp 7 lets escape on some malformed BER
    (TypeError, IndexError from pyasn1): one log line naming the peer, no answer, and the
    agent carries on."""
    fast: FastPath | None = transport.fast
    if fast is not None:
        try:
            reply = fast.answer(datagram)
        except Exception:
            # A bug here must cost speed, not answers: pysnmp takes the datagram.
            if _FAST_FAILURES.allow():
                log.exception("snmp: %s: fast path failed; pysnmp answers", _peer(address))
            reply = None
        if reply is not None:
            transport.transport.sendto(reply, address)
            return
    try:
        transport._callback_function(transport, address, datagram)
    except Exception as exc:
        if _UNREADABLE.allow():
            log.info("snmp: %s: unreadable datagram (%d octets) dropped: %s: %s",
                     _peer(address), len(datagram), type(exc).__name__, exc)  # fmt: skip


class _Udp(udp.UdpAsyncioTransport):  # type: ignore[misc]
    fast: FastPath | None = None

    def datagram_received(self, datagram: bytes, address: Any) -> None:
        _receive(self, address, datagram)


class _Udp6(udp6.Udp6AsyncioTransport):  # type: ignore[misc]
    fast: FastPath | None = None

    def datagram_received(self, datagram: bytes, address: Any) -> None:
        _receive(self, address, datagram)


# Told about each message that failed authentication: peer, reason, version, user name.
AuthFailureHandler = Callable[[str, str, str, str], None]


class SnmpAgent:
    """The pysnmp engine configured from [services.snmp], answering from `live`."""

    def __init__(
        self,
        config: SnmpServiceConfig,
        identity: SnmpIdentity,
        live: LiveMib,
        enterprise: int = DEFAULT_ENTERPRISE,
        on_auth_failure: AuthFailureHandler | None = None,
    ) -> None:
        self.config = config
        self.identity = identity
        self.live = live
        self.on_auth_failure = on_auth_failure
        self.requests = 0
        communities = [config.read_community, config.write_community]
        self.community_length = max(len(c.encode()) for c in communities)
        # community -> securityName, as _engine configures pysnmp's community table
        self.communities: dict[bytes, bytes] = {}
        self.engine = self._engine(enterprise)
        self.views = ViewCache()
        self.instrum = LiveInstrum(live, self.views)
        self.fast = FastPath(self, self.communities)
        context = SnmpContext(self.engine)
        context.unregister_context_name(b"")
        context.register_context_name(b"", self.instrum)
        self.context = context
        self.responders = [
            cls(self.engine, context, self)
            for cls in (GetResponder, NextResponder, BulkResponder, SetResponder)
        ]
        self.engine.observer.register_observer(
            self._security_failure,
            "rfc2576.prepareDataElements:sm-failure",
            "rfc3412.prepareDataElements:sm-failure",
        )
        self._transport: Any = None

    # -- configuration -------------------------------------------------------------------

    def _engine(self, enterprise: int) -> Any:
        engine = SnmpEngine(maxMessageSize=MAX_MESSAGE_SIZE)
        builder = engine.get_mib_builder()
        (engine_id, boots) = builder.import_symbols(
            "__SNMP-FRAMEWORK-MIB", "snmpEngineID", "snmpEngineBoots"
        )
        # Set here rather than through SnmpEngine(snmpEngineID=...), which would keep its own
        # boots counter under /tmp; ours lives in the state dir (engine_id.py).
        engine_id.syntax = engine_id.syntax.clone(self.identity.engine_id)
        engine.snmpEngineID = engine_id.syntax
        boots.syntax = boots.syntax.clone(self.identity.boots)
        self._vacm(engine, (*VIEW_SUBTREES, (*ENTERPRISES, enterprise)))
        config = self.config
        if not config.v3_only:
            if config.read_community and config.read_community != config.write_community:
                self._community(engine, READ_COMMUNITY, config.read_community, "mfpd-ro")
                self.communities[config.read_community.encode()] = READ_COMMUNITY.encode()
            if config.write_community:
                self._community(engine, WRITE_COMMUNITY, config.write_community, "mfpd-rw")
                self.communities[config.write_community.encode()] = WRITE_COMMUNITY.encode()
        for user in config.users:
            self._user(engine, user)
        return engine

    @staticmethod
    def _vacm(engine: Any, subtrees: Sequence[Oid]) -> None:
        snmp_config.add_context(engine, "")
        for subtree in subtrees:
            snmp_config.add_vacm_view(engine, READ_VIEW, "included", subtree, "")
            snmp_config.add_vacm_view(engine, WRITE_VIEW, "included", subtree, "")
        snmp_config.add_vacm_view(engine, NO_VIEW, "excluded", (1, 3), "")
        # One group per kind of access; each has an exact entry for every security level.
        for group, model, minimum, write in (
            ("mfpd-ro", 1, 1, False),
            ("mfpd-ro", 2, 1, False),
            ("mfpd-rw", 1, 1, True),
            ("mfpd-rw", 2, 1, True),
            ("mfpd-v3-read-authNoPriv", 3, 2, False),
            ("mfpd-v3-write-authNoPriv", 3, 2, True),
            ("mfpd-v3-read-authPriv", 3, 3, False),
            ("mfpd-v3-write-authPriv", 3, 3, True),
        ):
            for level, level_name in enumerate(SECURITY_LEVELS, start=1):
                granted = level >= minimum
                read = READ_VIEW if granted else NO_VIEW
                written = WRITE_VIEW if granted and write else NO_VIEW
                snmp_config.add_vacm_access(
                    engine, group, "", model, level_name, "exact", read, written, read
                )

    @staticmethod
    def _community(engine: Any, name: str, community: str, group: str) -> None:
        snmp_config.add_v1_system(engine, name, community, securityName=name)
        for model in (1, 2):
            snmp_config.add_vacm_group(engine, group, model, name)

    @staticmethod
    def _user(engine: Any, user: SnmpUserConfig) -> None:
        private = user.priv_protocol != "none"
        snmp_config.add_v3_user(
            engine,
            user.name,
            AUTH_PROTOCOLS[user.auth_protocol],
            user.auth_key,
            PRIV_PROTOCOLS[user.priv_protocol],
            user.priv_key if private else None,
        )
        level = "authPriv" if private else "authNoPriv"
        snmp_config.add_vacm_group(engine, f"mfpd-v3-{user.access}-{level}", 3, user.name)

    # -- running -------------------------------------------------------------------------

    async def listen(self, sock: socket.socket) -> None:
        """Serve requests arriving on a bound datagram socket (IPv4 or IPv6)."""
        ipv6 = sock.family == socket.AF_INET6
        transport = (_Udp6 if ipv6 else _Udp)()
        transport.fast = self.fast
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: transport, sock=sock)
        domain = udp6.DOMAIN_NAME if ipv6 else udp.DOMAIN_NAME
        snmp_config.add_transport(self.engine, domain, transport)
        self._transport = transport

    def close(self) -> None:
        self.engine.observer.unregister_observer(self._security_failure)
        self.engine.close_dispatcher()
        if self._transport is not None:
            self._transport.close_transport()
            self._transport = None

    def engine_time(self) -> int:
        """snmpEngineTime: seconds since the engine booted, as USM reports it."""
        return int(self._engine_time().syntax.clone())

    @property
    def engine_started(self) -> float:
        """When the engine booted (time.time()), the origin of snmpEngineTime."""
        return float(int(self._engine_time().syntax))

    def _engine_time(self) -> Any:
        (engine_time,) = self.engine.get_mib_builder().import_symbols(
            "__SNMP-FRAMEWORK-MIB", "snmpEngineTime"
        )
        return engine_time

    def _security_failure(
        self, engine: Any, execpoint: str, variables: dict[str, Any], cb_ctx: Any
    ) -> None:
        """pysnmp observer: a message failed its security model's checks."""
        status = variables.get("statusInformation") or {}
        indication = status.get("errorIndication") if hasattr(status, "get") else None
        reason = next((text for key, text in AUTH_FAILURES.items() if indication == key), None)
        if reason is None or self.on_auth_failure is None:
            return
        model = int(variables.get("securityModel") or 0)
        version = {1: "v1", 2: "v2c", 3: "v3"}.get(model, "?")
        user = ""
        if model == 3:
            name = status.get("msgUserName")
            user = bytes(name.asOctets()).decode("utf-8", "replace") if name is not None else ""
        self.on_auth_failure(_peer(variables.get("transportAddress")), reason, version, user)


class SnmpService:
    """The agent as a service of the daemon: UDP 161, or 8161 without privileges."""

    name = "snmp"

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.config: SnmpServiceConfig = ctx.config.services.snmp
        self.device = ctx.device
        self.identity: SnmpIdentity | None = None
        self.engine_id = b""
        self.boots = 0
        self.agent: SnmpAgent | None = None
        self.live: LiveMib | None = None
        self.notifier: Notifier | None = None
        self._failures = LogLimit("authentication failures")

    async def start(self) -> list[PortEntry]:
        device = self.device
        # A start of the engine counts as a boot even if the port is taken: the notification
        # originator (traps.py) speaks for the same engine.
        identity = snmp_identity(device.identity, self.ctx.state_dir, start=True)
        self.identity, self.engine_id, self.boots = identity, identity.engine_id, identity.boots
        sock, entry = bind_udp(self.ctx, self.name, self.config.port)
        if sock is None:
            await self._notify(time.time())
            return [entry]
        config = self.config
        started = time.monotonic()
        agent_mib = AgentMib(
            identity.engine_id,
            identity.boots,
            lambda: int(time.monotonic() - started),
            MAX_MESSAGE_SIZE,
            config.authentication_traps,
        )
        live = LiveMib([agent_mib, *mibs.modules(self.ctx)], device.events)
        enterprise = enterprise_number(device.identity.make)
        try:
            # Loading pysnmp's MIBs and localizing USM keys takes a few hundred ms: not on
            # the event loop, which is already serving the other services.
            agent = await asyncio.to_thread(
                SnmpAgent, config, identity, live, enterprise, self._auth_failure
            )
            await agent.listen(sock)
        except BaseException:
            sock.close()
            live.close()
            raise
        agent_mib.engine_time = agent.engine_time
        self.agent, self.live = agent, live
        versions = "v3" if config.v3_only else "v1, v2c, v3"
        log.info(
            "snmp: agent on %s:%d/udp (%s; %d v3 users; engine ID %s, boots %d; %d objects)",
            entry.address, entry.port, versions, len(config.users), identity.engine_id_hex,
            identity.boots, len(live.index()),
        )  # fmt: skip
        await self._notify(agent.engine_started)
        return [entry]

    async def _notify(self, engine_started: float) -> None:
        """Start the notification originator (traps.py): coldStart, then what the device
        and the agent announce, for the same engine ID and boots as the agent."""
        assert self.identity is not None
        notifier = Notifier(self.ctx, self.identity, engine_started=engine_started)
        await notifier.start()
        self.notifier = notifier

    async def stop(self, grace: float) -> None:
        if self.notifier is not None:
            await self.notifier.stop(min(grace, 1.0))
            self.notifier = None
        if self.agent is not None:
            self.agent.close()
            self.agent = None
            # asyncio closes a datagram socket on a later turn of the loop: a restart
            # (new settings) binds the port again right after this returns.
            for _ in range(3):
                await asyncio.sleep(0)
        if self.live is not None:
            self.live.close()
            self.live = None

    def _auth_failure(self, peer: str, reason: str, version: str, user: str) -> None:
        """A bad community or USM credential: one log line, and `snmp.auth-failure` on the
        device's event bus, from which traps.py sends authenticationFailure."""
        if self._failures.allow():
            detail = f" {user!r}" if user else ""
            answer = "a report" if version == "v3" else "no answer"
            log.warning("snmp: %s: %s %s%s: %s", peer, version, reason, detail, answer)
        self.device.events.publish(
            "snmp.auth-failure", peer=peer, reason=reason, version=version, user=user
        )


def _octets(value: Any) -> bytes:
    """A security or context name as bytes, whether pysnmp holds it as OctetString or str."""
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def _value_octets(value: Any) -> int:
    """Content octets of a pysnmp value in BER (index.value_content for pyasn1 objects)."""
    if isinstance(value, univ.OctetString):  # also IpAddress, Opaque
        return len(value)
    if isinstance(value, univ.ObjectIdentifier):
        return oid_content(tuple(value))
    if isinstance(value, univ.Integer):  # also Counter32, Gauge32, TimeTicks, Counter64
        return integer_content(int(value))
    return 0  # NULL and the exception values


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)


def _dotted(oid: Oid) -> str:
    return ".".join(str(arc) for arc in oid)
