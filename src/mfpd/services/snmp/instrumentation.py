"""pysnmp's MIB instrumentation over the live OID index, and the value conversions it needs.

What the agent (agent.py) answers comes from the device, live, through a custom
instrumentation controller (`LiveInstrum`) over the sorted OID index of index.py, not through
a static pysnmp MIB tree. The view check (pysnmp's VACM, `verify_access`) is called by the
controller for every variable, or VACM is silently bypassed; its decisions are remembered per
requester and instance (`ViewCache`). `to_pysnmp` and `from_pysnmp` carry values between the
index's answers and pysnmp's objects, for the command responders (responders.py) too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pysnmp.entity.rfc3413 import cmdrsp  # type: ignore[import-untyped]
from pysnmp.proto import rfc1905  # type: ignore[import-untyped]
from pysnmp.proto.api import v2c  # type: ignore[import-untyped]
from pysnmp.smi import error as smi_error  # type: ignore[import-untyped]
from pysnmp.smi.instrum import AbstractMibInstrumController  # type: ignore[import-untyped]

from mfpd.services.snmp.index import (
    Allowed,
    Answer,
    LiveMib,
    Missing,
    OidIndex,
    varbind_size,
)
from mfpd.services.snmp.mib import Oid, Syntax, Value, WriteError
from mfpd.services.snmp.pysnmp_values import PYSNMP_TYPES, pysnmp_value

log = logging.getLogger("mfpd.snmp")

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


def to_var_bind(oid: Oid, value: Any) -> Any:
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
            return to_var_bind(oid, _MISSING[answer])
        memo = self._memo
        if self._memo_index is not index:
            self._memo_index = index
            if len(memo) > 2 * len(index):  # rows came and went: forget the departed
                memo = self._memo = {o: e for o, e in memo.items() if o in index.values}
        entry = memo.get(oid)
        if entry is not None and entry[0] == answer:
            return entry[1]
        try:
            var_bind = to_var_bind(oid, to_pysnmp(answer))
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


def _octets(value: Any) -> bytes:
    """A security or context name as bytes, whether pysnmp holds it as OctetString or str."""
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def _dotted(oid: Oid) -> str:
    return ".".join(str(arc) for arc in oid)
