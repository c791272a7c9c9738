"""The agent's UDP transports (IPv4 and IPv6): where each datagram comes in.

Datagrams reach the engine through `_receive`, which first offers each one to the fast path
(fast_path.py), then hands the rest to pysnmp and contains the exceptions pysnmp 7 lets escape
on some malformed BER. `LogLimit` keeps a scan or a flood of such datagrams out of the log.
"""

from __future__ import annotations

import logging
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6  # type: ignore[import-untyped]

from mfpd.log_limit import LogLimit
from mfpd.security.gate import Action, Gate
from mfpd.services.snmp.fast_path import FastPath
from mfpd.services.snmp.peers import format_peer

log = logging.getLogger("mfpd.snmp")


# Every SNMP message, of any version, is a BER SEQUENCE (RFC 1157 4, RFC 1901 3, RFC 3412 6).
_SEQUENCE = 0x30


def _receive(transport: Any, address: Any, datagram: bytes) -> None:
    """Answer a datagram on the fast path, else hand it to the engine now, not through
    call_soon as pysnmp does, and contain what pysnmp 7 lets escape on some malformed BER
    (TypeError, IndexError from pyasn1): one log line naming the peer, no answer, and the
    agent carries on."""
    if not datagram or datagram[0] != _SEQUENCE:
        # Not SNMP at all: a scanner's probe for another protocol (nmap -sU -sV sends its
        # "help" and NTP probes to 161), which pyasn1 would answer with a TypeError.
        if transport.unreadable.allow():
            log.info("snmp: %s: not an SNMP message (%d octets) dropped",
                     format_peer(address), len(datagram))  # fmt: skip
        return
    fast: FastPath | None = transport.fast
    if fast is not None:
        try:
            reply = fast.answer(datagram)
        except Exception:
            # A bug here must cost speed, not answers: pysnmp takes the datagram.
            if transport.fast_failures.allow():
                log.exception("snmp: %s: fast path failed; pysnmp answers", format_peer(address))
            reply = None
        if reply is not None:
            transport.transport.sendto(reply, address)
            return
    try:
        transport._callback_function(transport, address, datagram)
    except Exception as exc:
        if transport.unreadable.allow():
            # What pyasn1 raised is its own business (a TypeError about clone() arguments
            # tells an operator nothing): there for debugging only.
            peer = format_peer(address)
            log.info("snmp: %s: unreadable datagram (%d octets) dropped", peer, len(datagram))
            log.debug("snmp: %s: pysnmp raised %s: %s", peer, type(exc).__name__, exc)


class Udp(udp.UdpAsyncioTransport):  # type: ignore[misc]
    fast: FastPath | None = None
    gate: Gate | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each agent's own bounds on log lines (one device per context: a flood at one
        # device does not silence another's log).
        self.unreadable = LogLimit("unreadable datagrams")
        self.fast_failures = LogLimit("fast path failures")

    def datagram_received(self, datagram: bytes, address: Any) -> None:
        # The IP filter before a byte is parsed: on UDP, reject and drop are both silence.
        if self.gate is None or self.gate.admit("snmp", address[0], address[1]) is Action.ACCEPT:
            _receive(self, address, datagram)


class Udp6(udp6.Udp6AsyncioTransport):  # type: ignore[misc]
    fast: FastPath | None = None
    gate: Gate | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unreadable = LogLimit("unreadable datagrams")
        self.fast_failures = LogLimit("fast path failures")

    def datagram_received(self, datagram: bytes, address: Any) -> None:
        if self.gate is None or self.gate.admit("snmp", address[0], address[1]) is Action.ACCEPT:
            _receive(self, address, datagram)
