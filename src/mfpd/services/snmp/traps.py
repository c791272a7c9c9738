"""SNMP notifications to UDP 162: coldStart, authenticationFailure and printerV2Alert.

The `Notifier` is started and stopped by the SNMP service (agent.py) with the agent's engine
identity. It listens to the device's event bus and sends every notification that
notifications.py calls for to each `[[services.snmp.traps]]` destination:

- v1: a Trap-PDU (RFC 1157), translated from the SNMPv2 form by pysnmp per RFC 3584 3.2;
- v2c: an SNMPv2-Trap-PDU, or an InformRequest with `inform = true`;
- v3: the same under USM. For a trap our engine is authoritative (RFC 3414 1.5.1): the
  message carries our snmpEngineID, snmpEngineBoots and snmpEngineTime and the user's keys
  are localized to our engine ID, which is why a receiver keeps accepting our traps after a
  restart only if boots went up. For an inform the receiver is authoritative; pysnmp
  discovers its engine ID first (RFC 3414 4).

Each destination has its own bounded queue and its own task, so a receiver that is down, slow
or unresolvable delays only itself: the event handler only appends to queues, sending a trap
is one non-blocking sendto, and an inform waits for its acknowledgement in the destination's
task. An unacknowledged inform is sent again `retries` times, the wait doubling each time
(from `timeout`, at most MAX_ATTEMPT_TIMEOUT). When a queue is full the oldest notification
is dropped, with a log line. Every notification gets one log line per destination: sent,
acknowledged, failed or dropped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6  # type: ignore[import-untyped]
from pysnmp.carrier.asyncio.dispatch import AsyncioDispatcher  # type: ignore[import-untyped]
from pysnmp.entity import config as pysnmp_config  # type: ignore[import-untyped]
from pysnmp.entity.engine import SnmpEngine  # type: ignore[import-untyped]
from pysnmp.entity.rfc3413 import ntforg  # type: ignore[import-untyped]
from pysnmp.proto.api import v2c  # type: ignore[import-untyped]

from mfpd.config import SnmpServiceConfig, SnmpTrapConfig, SnmpUserConfig
from mfpd.device.events import Event
from mfpd.services.base import ServiceContext
from mfpd.services.snmp import notifications
from mfpd.services.snmp.engine_id import SnmpIdentity
from mfpd.services.snmp.mib import Oid, Value
from mfpd.services.snmp.mib_printer import alert_varbinds
from mfpd.services.snmp.mib_system import SYS_OBJECT_ID
from mfpd.services.snmp.notifications import (
    AlertObjects,
    Notification,
    NotificationSource,
    NotifyPolicy,
)
from mfpd.services.snmp.pysnmp_values import pysnmp_value

log = logging.getLogger("mfpd.snmp")

# Notifications waiting per destination; beyond this the oldest is dropped.
QUEUE_LIMIT = 100
# The longest an inform waits for its acknowledgement, however often it was retried.
MAX_ATTEMPT_TIMEOUT = 60.0
# Seconds allowed to resolve a destination's host name.
RESOLVE_TIMEOUT = 5.0
# Beyond pysnmp's own timeout, how long an inform's callback may be late before we give up.
CALLBACK_SLACK = 2.0

AUTH_PROTOCOLS: dict[str, tuple[int, ...]] = {
    "md5": pysnmp_config.USM_AUTH_HMAC96_MD5,
    "sha": pysnmp_config.USM_AUTH_HMAC96_SHA,
    "sha224": pysnmp_config.USM_AUTH_HMAC128_SHA224,
    "sha256": pysnmp_config.USM_AUTH_HMAC192_SHA256,
    "sha384": pysnmp_config.USM_AUTH_HMAC256_SHA384,
    "sha512": pysnmp_config.USM_AUTH_HMAC384_SHA512,
}
# aes192/aes256 with the key extension of draft-blumenthal-aes-usm-04, as net-snmp's
# AES192/AES256 (its AES192C/AES256C are the Reeder variant).
PRIV_PROTOCOLS: dict[str, tuple[int, ...]] = {
    "none": pysnmp_config.USM_PRIV_NONE,
    "des": pysnmp_config.USM_PRIV_CBC56_DES,
    "aes": pysnmp_config.USM_PRIV_CFB128_AES,
    "aes192": pysnmp_config.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "aes256": pysnmp_config.USM_PRIV_CFB256_AES_BLUMENTHAL,
}
MP_MODELS = {"v1": 0, "v2c": 1, "v3": 3}
# The device and agent events that can call for a notification.
WATCHED_EVENTS = frozenset({"snmp.auth-failure", *NotificationSource.ALERT_EVENTS})
# The tag every target address carries besides its own name (SNMP-TARGET-MIB tag lists).
TARGET_TAG = "mfpd-notify"


def pysnmp_varbinds(bindings: list[tuple[Oid, Value]]) -> list[tuple[Oid, Any]]:
    return [(oid, pysnmp_value(value)) for oid, value in bindings]


def attempt_timeouts(timeout: float, retries: int) -> list[float]:
    """How long each send of an inform waits for its acknowledgement: `timeout`, doubling
    at each retry, at most MAX_ATTEMPT_TIMEOUT (or `timeout` when that is longer)."""
    ceiling = max(timeout, MAX_ATTEMPT_TIMEOUT)
    waits: list[float] = []
    wait = timeout
    for _ in range(retries + 1):
        waits.append(wait)
        wait = min(wait * 2, ceiling)
    return waits


def destination_problem(
    trap: SnmpTrapConfig, users: dict[str, SnmpUserConfig], allow_md5_des: bool
) -> str | None:
    """Why a destination cannot be used, or None."""
    if trap.version != "v3":
        return None
    user = users.get(trap.user)
    if user is None:
        return f"v3 user {trap.user!r} is not one of [[services.snmp.users]]"
    if not allow_md5_des and (user.auth_protocol == "md5" or user.priv_protocol == "des"):
        return f"user {user.name!r} needs MD5/DES, and allow_md5_des is off"
    if user.priv_protocol != "none" and len(user.priv_key) < 8:
        return f"user {user.name!r} has no privacy key of 8 characters or more"
    return None


@dataclass(eq=False)
class _Destination:
    """One `[[services.snmp.traps]]` entry, its queue and its pysnmp configuration."""

    number: int
    config: SnmpTrapConfig
    user: SnmpUserConfig | None
    # The USM user, or the community's security name: one per community string, so that
    # the Response to an inform maps back to the name it was sent under whichever of the
    # destinations sharing an address and a community it answers.
    security_name: str = ""
    queue: deque[Notification] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    busy: bool = False
    # The resolved (domain, address) the targets point at, and the v1 agent-addr.
    target: tuple[tuple[int, ...], tuple[Any, ...]] | None = None
    agent_address: str | None = None
    # pysnmp target address names (SNMP-TARGET-MIB), by acknowledgement timeout.
    names: dict[float, str] = field(default_factory=dict)

    @property
    def inform(self) -> bool:
        return self.config.inform and self.config.version != "v1"

    @property
    def kind(self) -> str:
        return "inform" if self.inform else "trap"

    @property
    def label(self) -> str:
        host = self.config.address
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{self.config.port} ({self.config.version})"

    @property
    def params(self) -> str:
        return f"params-{self.number}"

    @property
    def tag(self) -> str:
        return f"dest-{self.number}"

    @property
    def idle(self) -> bool:
        return not self.queue and not self.busy


class DeliveryError(Exception):
    """A notification could not be handed to a destination; the message says why."""


class Notifier:
    """Sends the device's SNMP notifications to the configured destinations."""

    def __init__(
        self,
        ctx: ServiceContext,
        identity: SnmpIdentity,
        *,
        engine_started: float | None = None,
        uptime: Callable[[], int] | None = None,
        sys_object_id: Oid = SYS_OBJECT_ID,
        alert_objects: AlertObjects = alert_varbinds,
    ) -> None:
        """`identity`: the agent's snmpEngineID and snmpEngineBoots (engine_id.py);
        `engine_started`: when the agent's engine booted (time.time(); snmpEngineTime counts
        from it); `uptime`: sysUpTime in hundredths (the agent's; by default since the device
        started); `alert_objects`: the printerV2Alert objects of an alert row."""
        self.ctx = ctx
        self.settings: SnmpServiceConfig = ctx.config.services.snmp
        self.identity = identity
        self.engine_started = time.time() if engine_started is None else engine_started
        self._uptime = uptime or self._device_uptime
        self.sys_object_id = sys_object_id
        self.alert_objects = alert_objects
        self.policy = NotifyPolicy(
            alert_traps=self.settings.alert_traps,
            authentication_traps=self.settings.authentication_traps,
        )
        self.source: NotificationSource | None = None
        self.destinations: list[_Destination] = []
        self._engine: Any = None
        # Used below the level of its send_varbinds, which checks a VACM notify view and
        # drops the notification without a word when that is missing.
        self._originator = ntforg.NotificationOriginator()
        self._ipv6 = False
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Configure the engine, start one task per destination, send coldStart."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        users = {user.name: user for user in self.settings.users}
        communities: dict[str, int] = {}
        for number, trap in enumerate(self.settings.traps, 1):
            problem = destination_problem(trap, users, self.settings.allow_md5_des)
            if problem is not None:
                log.error("snmp: notification destination %d left out: %s", number, problem)
                continue
            if trap.inform and trap.version == "v1":
                log.warning(
                    "snmp: destination %d: SNMPv1 has no InformRequest; sending traps", number
                )
            user = users.get(trap.user) if trap.version == "v3" else None
            dest = _Destination(number, trap, user)
            if user is not None:
                dest.security_name = user.name
            else:
                known = communities.setdefault(trap.community, len(communities) + 1)
                dest.security_name = f"community-{known}"
            self.destinations.append(dest)
        if not self.destinations:
            return
        # pysnmp's MIBs and the USM key localization take a few hundred ms: not on the loop,
        # which serves the other services meanwhile. The transport is the loop's.
        engine = await asyncio.to_thread(self._build_engine)
        engine.register_transport_dispatcher(AsyncioDispatcher())
        pysnmp_config.add_transport(
            engine, udp.DOMAIN_NAME, udp.UdpAsyncioTransport().open_client_mode()
        )
        self._engine = engine
        for dest in self.destinations:
            dest.task = asyncio.create_task(self._run(dest), name=f"snmp-notify-{dest.number}")
        self.source = NotificationSource(
            self.ctx.device, self.policy, self.uptime, self.alert_objects
        )
        self._unsubscribe = self.ctx.device.events.subscribe(self._on_event)
        self.send(notifications.cold_start(self.uptime()))

    async def stop(self, grace: float = 1.0) -> None:
        """Stop listening; give queued notifications up to `grace` seconds, then drop them."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        deadline = time.monotonic() + grace
        while not all(dest.idle for dest in self.destinations) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        tasks = [dest.task for dest in self.destinations if dest.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for dest in self.destinations:
            for notification in dest.queue:
                log.warning(
                    "snmp: %s %s to %s dropped: shutting down",
                    dest.kind, notification.name, dest.label,
                )  # fmt: skip
            dest.queue.clear()
            dest.task = None
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None

    # -- what to send --------------------------------------------------------------------

    def uptime(self) -> int:
        return self._uptime()

    def _device_uptime(self) -> int:
        return max(0, int((time.time() - self.ctx.device.started_at) * 100))

    def _on_event(self, event: Event) -> None:
        """EventBus handler: may run in any thread, must not block."""
        if self._loop is None or event.kind not in WATCHED_EVENTS:
            return
        if threading.get_ident() == self._loop_thread:
            self._handle(event)
        else:
            self._loop.call_soon_threadsafe(self._handle, event)

    def _handle(self, event: Event) -> None:
        if self.source is None:
            return
        try:
            found = self.source.for_event(event)
        except Exception:
            # Never into the publisher: that is the device changing state.
            log.exception("snmp: no notification for %s", event.kind)
            return
        for notification in found:
            self.send(notification)

    def send(self, notification: Notification) -> None:
        """Queue a notification for every destination (never blocks)."""
        for dest in self.destinations:
            if dest.task is None:
                continue
            if len(dest.queue) >= QUEUE_LIMIT:
                dropped = dest.queue.popleft()
                log.warning(
                    "snmp: %s %s to %s dropped: %d notifications already waiting",
                    dest.kind, dropped.name, dest.label, QUEUE_LIMIT,
                )  # fmt: skip
            dest.queue.append(notification)
            dest.wakeup.set()

    # -- the pysnmp engine ---------------------------------------------------------------

    def _build_engine(self) -> Any:
        """The engine, speaking as the agent's, with every destination's security set up."""
        engine = SnmpEngine()
        mib = engine.get_mib_builder()
        engine_id, boots, engine_time = mib.import_symbols(
            "__SNMP-FRAMEWORK-MIB", "snmpEngineID", "snmpEngineBoots", "snmpEngineTime"
        )
        engine_id.syntax = engine_id.syntax.clone(self.identity.engine_id)
        engine.snmpEngineID = engine_id.syntax
        boots.syntax = boots.syntax.clone(max(1, self.identity.boots))
        # snmpEngineTime's syntax counts seconds since the epoch time it holds.
        engine_time.syntax = engine_time.syntax.clone(int(self.engine_started))
        for dest in self.destinations:
            self._configure_security(engine, dest)
        return engine

    def _configure_security(self, engine: Any, dest: _Destination) -> None:
        cfg = dest.config
        if dest.user is not None:
            user = dest.user
            priv = PRIV_PROTOCOLS[user.priv_protocol]
            pysnmp_config.add_v3_user(
                engine,
                user.name,
                AUTH_PROTOCOLS[user.auth_protocol],
                user.auth_key,
                priv,
                user.priv_key if user.priv_protocol != "none" else None,
            )
            level = "authNoPriv" if user.priv_protocol == "none" else "authPriv"
        else:
            # The community also authenticates the receiver's Response to an inform, which
            # pysnmp takes only from an address whose target carries the community's tag.
            pysnmp_config.add_v1_system(
                engine,
                dest.security_name,
                cfg.community,
                transportTag=TARGET_TAG,
                securityName=dest.security_name,
            )
            level = "noAuthNoPriv"
        pysnmp_config.add_target_parameters(
            engine, dest.params, dest.security_name, level, MP_MODELS[cfg.version]
        )

    def _target_name(self, dest: _Destination, wait: float) -> str:
        """The target address that sends to `dest` and waits `wait` seconds for a Response."""
        name = dest.names.get(wait)
        if name is None:
            name = f"{dest.tag}-{len(dest.names)}"
            dest.names[wait] = name
            self._add_target(dest, name, wait)
        return name

    def _add_target(self, dest: _Destination, name: str, wait: float) -> None:
        assert dest.target is not None
        domain, address = dest.target
        pysnmp_config.add_target_address(
            self._engine,
            name,
            domain,
            address,
            dest.params,
            timeout=round(wait * 100),  # hundredths (SNMP-TARGET-MIB TimeInterval)
            retryCount=0,  # retries are ours, with back-off
            tagList=f"{TARGET_TAG} {name}",
        )

    async def _resolve(self, dest: _Destination) -> None:
        """Point the destination's targets at its address, resolving a host name."""
        host, port = dest.config.address, dest.config.port
        try:
            ipaddress.ip_address(host)
            infos: list[tuple[int, tuple[Any, ...]]] = [
                (socket.AF_INET6 if ":" in host else socket.AF_INET, (host, port))
            ]
        except ValueError:
            try:
                found = await asyncio.wait_for(
                    asyncio.get_running_loop().getaddrinfo(
                        host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP
                    ),
                    RESOLVE_TIMEOUT,
                )
            except (OSError, TimeoutError) as exc:
                raise DeliveryError(f"cannot resolve {host}: {exc or 'timed out'}") from None
            infos = [(int(info[0]), tuple(info[4])) for info in found]
            # IPv4 first: the agent-addr of a v1 trap can only name an IPv4 agent.
            infos.sort(key=lambda info: info[0] != socket.AF_INET)
        if not infos:
            raise DeliveryError(f"cannot resolve {host}: no address")
        family, sockaddr = infos[0]
        if family == socket.AF_INET6:
            self._ensure_ipv6()
            address: tuple[Any, ...] = (sockaddr[0], sockaddr[1])
            if len(sockaddr) >= 4 and sockaddr[3]:
                address = (sockaddr[0], sockaddr[1], 0, sockaddr[3])
            target = (udp6.DOMAIN_NAME, address)
        else:
            target = (udp.DOMAIN_NAME, (sockaddr[0], sockaddr[1]))
        if target != dest.target:
            dest.target = target
            dest.agent_address = self._agent_address(family, sockaddr[0], sockaddr[1])
            for wait, name in dest.names.items():
                self._add_target(dest, name, wait)

    def _ensure_ipv6(self) -> None:
        if not self._ipv6:
            pysnmp_config.add_transport(
                self._engine, udp6.DOMAIN_NAME, udp6.Udp6AsyncioTransport().open_client_mode()
            )
            self._ipv6 = True

    def _agent_address(self, family: int, host: str, port: int) -> str | None:
        """The v1 agent-addr: the address the agent was bound to, or, bound to all or to
        loopback, the local address of the route to the destination."""
        try:
            bound = ipaddress.ip_address(self.ctx.bind)
        except ValueError:
            bound = None
        if isinstance(bound, ipaddress.IPv4Address) and not (
            bound.is_unspecified or bound.is_loopback
        ):
            return str(bound)
        if family != socket.AF_INET:
            return None
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((host, port))  # no packet: only picks the route
                local: str = probe.getsockname()[0]
                return local
        except OSError:
            return None

    # -- sending -------------------------------------------------------------------------

    async def _run(self, dest: _Destination) -> None:
        """The destination's task: one notification at a time, in order."""
        while True:
            if not dest.queue:
                dest.wakeup.clear()
                await dest.wakeup.wait()
                continue
            notification = dest.queue.popleft()
            dest.busy = True
            try:
                await self._deliver(dest, notification)
            except DeliveryError as exc:
                log.warning(
                    "snmp: %s %s to %s failed: %s",
                    dest.kind, notification.name, dest.label, exc,
                )  # fmt: skip
            except Exception:
                log.exception("snmp: %s %s to %s failed", dest.kind, notification.name, dest.label)
            finally:
                dest.busy = False

    async def _deliver(self, dest: _Destination, notification: Notification) -> None:
        await self._resolve(dest)
        bindings = notification.varbinds(
            dest.config.version, dest.agent_address, self.sys_object_id
        )
        # One PDU however often an inform is sent: a retransmission is the same notification,
        # with its sysUpTime (pysnmp gives each send a request-id of its own).
        pdu = v2c.InformRequestPDU() if dest.inform else v2c.SNMPv2TrapPDU()
        v2c.apiPDU.set_defaults(pdu)
        v2c.apiPDU.set_varbinds(pdu, pysnmp_varbinds(bindings))
        about = f" ({notification.detail})" if notification.detail else ""
        if not dest.inform:
            outcome = self._send(self._target_name(dest, dest.config.timeout), pdu)
            if outcome.done():
                error, _status = outcome.result()
                if error is not None:
                    raise DeliveryError(str(error))
            log.info("snmp: trap %s%s sent to %s", notification.name, about, dest.label)
            return
        waits = attempt_timeouts(dest.config.timeout, dest.config.retries)
        last = "no response"
        for attempt, wait in enumerate(waits, 1):
            outcome = self._send(self._target_name(dest, wait), pdu)
            try:
                error, status = await asyncio.wait_for(outcome, wait + CALLBACK_SLACK)
            except TimeoutError:
                error, status = "no response", 0
            if error is None and not status:
                log.info(
                    "snmp: inform %s%s acknowledged by %s (attempt %d of %d)",
                    notification.name, about, dest.label, attempt, len(waits),
                )  # fmt: skip
                return
            last = str(error) if error is not None else f"error-status {status}"
            log.debug(
                "snmp: inform %s to %s, attempt %d of %d: %s",
                notification.name, dest.label, attempt, len(waits), last,
            )  # fmt: skip
        raise DeliveryError(f"no acknowledgement after {len(waits)} attempts (last: {last})")

    def _send(self, target: str, pdu: Any) -> asyncio.Future[tuple[Any, int]]:
        """Hand the SNMPv2 PDU to pysnmp (which makes a v1 Trap-PDU of it for a v1 target,
        RFC 3584 3.2); the future completes when an inform is answered or has timed out."""
        outcome: asyncio.Future[tuple[Any, int]] = asyncio.get_running_loop().create_future()

        def done(_engine: Any, _handle: Any, error: Any, response: Any, _ctx: Any) -> None:
            if outcome.done():
                return
            status = 0 if response is None else int(v2c.apiPDU.get_error_status(response))
            outcome.set_result((error, status))

        try:
            self._originator.send_pdu(self._engine, target, None, b"", pdu, done, None)
        except Exception as exc:  # pysnmp's StatusInformation, carrier errors
            getter = getattr(exc, "get", None)  # StatusInformation holds an errorIndication
            indication = getter("errorIndication") if callable(getter) else None
            raise DeliveryError(str(indication or f"{type(exc).__name__}: {exc}")) from None
        return outcome
