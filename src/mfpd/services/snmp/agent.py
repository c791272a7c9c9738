"""The SNMP agent on UDP 161 (SNMPv1, v2c and v3 with USM and VACM), on pysnmp 7.

pysnmp does the messages: BER, community and USM security (RFC 2576, 3414, 3826, 7860),
reports, engine discovery. This module configures its engine from [services.snmp] and runs
it as a service of the daemon; what the engine answers, and how, is in the modules beside it:

- instrumentation.py: what is answered, from the device, live (`LiveInstrum`), with pysnmp's
  VACM decisions remembered per requester and instance (`ViewCache`).
- responders.py: the command responders, in place of pysnmp's own.
- fast_path.py: SNMPv1/v2c Get, GetNext and GetBulk answered with hand-written BER.
- bulk_pdu.py: pysnmp's message types, taking GetBulk's negative fields (RFC 3416 4.2.3).
- transport.py: the UDP transports, through which each datagram reaches the fast path or
  the engine.

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

from pysnmp.carrier.asyncio.dgram import udp, udp6  # type: ignore[import-untyped]
from pysnmp.entity import config as snmp_config  # type: ignore[import-untyped]
from pysnmp.entity.engine import SnmpEngine  # type: ignore[import-untyped]
from pysnmp.entity.rfc3413.context import SnmpContext  # type: ignore[import-untyped]

from mfpd.config import SnmpServiceConfig, SnmpUserConfig
from mfpd.log_limit import LogLimit
from mfpd.security.gate import Gate
from mfpd.services.base import PortEntry, ServiceContext, bind_udp
from mfpd.services.snmp import mibs
from mfpd.services.snmp.agent_mib import (
    MAX_MESSAGE_SIZE,
    SNMP_ENABLE_AUTHEN_TRAPS,
    SNMP_ENGINE,
    AgentMib,
)
from mfpd.services.snmp.bulk_pdu import accept_negative_bulk_fields
from mfpd.services.snmp.engine_id import (
    DEFAULT_ENTERPRISE,
    SnmpIdentity,
    enterprise_number,
    snmp_identity,
)
from mfpd.services.snmp.fast_path import FastPath
from mfpd.services.snmp.index import LiveMib
from mfpd.services.snmp.instrumentation import LiveInstrum, ViewCache
from mfpd.services.snmp.mib import Oid
from mfpd.services.snmp.peers import format_peer
from mfpd.services.snmp.responders import (
    BulkResponder,
    GetResponder,
    NextResponder,
    SetResponder,
)
from mfpd.services.snmp.transport import Udp, Udp6
from mfpd.services.snmp.traps import Notifier

log = logging.getLogger("mfpd.snmp")

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
        accept_negative_bulk_fields(engine)
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

    async def listen(self, sock: socket.socket, gate: Gate | None = None) -> None:
        """Serve requests arriving on a bound datagram socket (IPv4 or IPv6), each first
        admitted by `gate` (the IP filter)."""
        ipv6 = sock.family == socket.AF_INET6
        transport = (Udp6 if ipv6 else Udp)()
        transport.fast = self.fast
        transport.gate = gate
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
        self.on_auth_failure(format_peer(variables.get("transportAddress")), reason, version, user)


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
            await agent.listen(sock, self.ctx.gate)
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
