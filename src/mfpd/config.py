"""Typed, validated settings with embedded defaults.

One TOML file describes a device. Every section has embedded defaults that describe a
Xerox WorkCentre 7755-like MFP (see shared/PORTS.md), so `mfpd serve` runs with no file at all.
Unknown keys and bad values are errors that name the key (`ConfigError`), never tracebacks.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
import tomllib
import uuid
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mfpd.addresses import host_port

# Defined apart (no pydantic) so that the CLI catches it without importing this module.
from mfpd.errors import ConfigError as ConfigError

Port = Annotated[int, Field(ge=1, le=65535)]
Positive = Annotated[int, Field(gt=0)]
NonNegative = Annotated[int, Field(ge=0)]

GiB = 1024**3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IdentityConfig(_Strict):
    make: str = "Xerox"
    model: str = "WorkCentre 7755"
    serial_number: str = "MFP775500001"
    # Empty: made at first start and kept in the state dir (device-uuid), so that two
    # installations are two devices to every client (IPP printer-uuid, the mDNS UUID key,
    # the SSDP UDN, the WS-Discovery endpoint). Set it to keep one across state dirs.
    uuid: str = ""
    hostname: str = "XRX-WC7755"
    location: str = ""
    contact: str = ""
    firmware: str = "061.090.221.36000"
    asset_number: str = ""
    info: str = ""  # IPP printer-info; empty means "make and model (host name)"
    organization: str = ""
    organizational_unit: str = ""
    geo_location: str = ""  # RFC 5870 geo: URI, e.g. "geo:48.8584,2.2945"
    # RFC 3805 prtGeneral: administrator-set name (empty: the host name), operator, service.
    printer_name: Annotated[str, Field(max_length=127)] = ""
    current_operator: Annotated[str, Field(max_length=127)] = ""
    service_person: Annotated[str, Field(max_length=127)] = ""

    @field_validator("geo_location")
    @classmethod
    def _geo(cls, value: str) -> str:
        if value and not value.startswith("geo:"):
            raise ValueError("geo_location must be an RFC 5870 geo: URI")
        return value

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str) -> str:
        return str(uuid.UUID(value)) if value else ""


class EngineConfig(_Strict):
    # 0 means instant, for tests; the WorkCentre 7755 prints 55 ppm black, 50 ppm colour.
    speed_ppm: NonNegative = 55
    speed_ppm_color: NonNegative = 50
    lines_per_page: Positive = 60
    default_media: str = "iso_a4_210x297mm"
    # Someone collects the prints when a bin fills; false: the printer stops (output full).
    auto_empty_bins: bool = True


class TrayConfig(_Strict):
    name: str
    media: str = "iso_a4_210x297mm"
    media_type: str = "stationery"
    capacity: Positive = 520
    level: NonNegative = 520
    # Below this many sheets the tray reports media-low.
    low_level: NonNegative = 25


class SupplyConfig(_Strict):
    name: str
    kind: Literal["toner", "opc", "fuser", "waste", "developer"]
    color: Literal["black", "cyan", "magenta", "yellow", "none"] = "none"
    # Capacity and level count impressions, the unit the WorkCentre reports.
    capacity: Positive
    level: NonNegative
    low_percent: Annotated[int, Field(ge=0, le=100)] = 10


class BinConfig(_Strict):
    name: str
    capacity: Positive = 500


class ServiceConfig(_Strict):
    enabled: bool = True
    port: Port
    max_connections: Positive = 64
    idle_timeout: Annotated[float, Field(gt=0)] = 300.0


class RawServiceConfig(ServiceConfig):
    port: Port = 9100
    max_line: Positive = 4096
    pjl_fs_enabled: bool = True
    pjl_fs_quota: NonNegative = 64 * 1024 * 1024


class LpdServiceConfig(ServiceConfig):
    port: Port = 515
    queues: list[str] = Field(default_factory=lambda: ["lp", "raw", "text", "auto", "PORT1"])
    max_line: Positive = 1024
    max_control_file: Positive = 64 * 1024


class IppListenerConfig(ServiceConfig):
    """A listener that speaks IPP over HTTP: ipp on 631 (plain, TLS, Upgrade)."""

    port: Port = 631
    # Seconds a client may take to send a request line and headers, and a TLS handshake,
    # once it has begun (slowloris); idle_timeout covers silence between requests and
    # inside a request body.
    header_timeout: Annotated[float, Field(gt=0)] = 30.0
    # Octets of a request's IPP attribute part (header to end-of-attributes-tag); more is
    # answered client-error-request-entity-too-large. Documents: spool.max_job_bytes.
    max_attribute_bytes: Annotated[int, Field(ge=9, le=64 * 1024 * 1024)] = 1024 * 1024


class HttpsListenerConfig(IppListenerConfig):
    """IPPS and the web UI on 443, TLS only."""

    port: Port = 443


class HttpListenerConfig(IppListenerConfig):
    """The web UI (and IPP) over plain HTTP on 80."""

    port: Port = 80
    # Answer every page request with a redirect to the same page on the https listener.
    redirect_to_https: bool = False


class StatusChannelConfig(ServiceConfig):
    """The internal status channel on 3003: loopback only, open exactly while HTTP is on."""

    port: Port = 3003
    max_connections: Positive = 16
    idle_timeout: Annotated[float, Field(gt=0)] = 30.0


class SnmpUserConfig(_Strict):
    """An SNMPv3 USM user (RFC 3414) and what it may do (RFC 3415 VACM)."""

    name: Annotated[str, Field(min_length=1, max_length=32)]
    # HMAC-SHA-96 (RFC 3414) and HMAC-SHA-2 (RFC 7860); md5 only with allow_md5_des.
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] = "sha256"
    auth_key: Annotated[str, Field(min_length=8)]
    # CFB128-AES-128 (RFC 3826); des only with allow_md5_des; none for authNoPriv.
    priv_protocol: Literal["none", "des", "aes", "aes192", "aes256"] = "aes"
    priv_key: str = ""
    access: Literal["read", "write"] = "read"

    @model_validator(mode="after")
    def _privacy_key(self) -> SnmpUserConfig:
        # RFC 3414 11.2: a pass phrase of at least 8 characters (net-snmp insists too).
        if self.priv_protocol != "none" and len(self.priv_key) < 8:
            raise ValueError(f"user {self.name!r}: priv_key needs at least 8 characters")
        return self


class SnmpTrapConfig(_Strict):
    """Where notifications go (SNMP-TARGET-MIB in spirit)."""

    address: str
    port: Port = 162
    version: Literal["v1", "v2c", "v3"] = "v2c"
    community: str = "public"  # v1/v2c
    user: str = ""  # v3: a name from [[services.snmp.users]]
    inform: bool = False  # v2c/v3: an acknowledged InformRequest, retried
    retries: NonNegative = 3
    timeout: Annotated[float, Field(gt=0)] = 2.0


class SnmpServiceConfig(ServiceConfig):
    port: Port = 161
    read_community: str = "public"  # empty: no v1/v2c read access
    write_community: str = ""  # empty: no v1/v2c SETs (the factory default of printers)
    v3_only: bool = False  # refuse v1 and v2c altogether
    allow_md5_des: bool = False  # MD5 authentication and DES privacy are broken; opt in
    users: list[SnmpUserConfig] = Field(default_factory=list)
    traps: list[SnmpTrapConfig] = Field(default_factory=list)
    # printerV2Alert for critical alerts only (RFC 3805), or for every alert added.
    alert_traps: Literal["critical", "all", "none"] = "critical"
    authentication_traps: bool = True  # snmpEnableAuthenTraps (RFC 3418)

    @model_validator(mode="after")
    def _users(self) -> SnmpServiceConfig:
        names = [user.name for user in self.users]
        if len(set(names)) != len(names):
            raise ValueError("two users have the same name")
        if not self.allow_md5_des:
            for user in self.users:
                if user.auth_protocol == "md5" or user.priv_protocol == "des":
                    raise ValueError(
                        f"user {user.name!r}: MD5 and DES are refused unless allow_md5_des = true"
                    )
        for trap in self.traps:
            if trap.version == "v3" and trap.user not in names:
                raise ValueError(f"trap destination {trap.address}: no v3 user {trap.user!r}")
        return self


class ResponderConfig(ServiceConfig):
    """A discovery responder (UDP): its port and what it may send back. A reply no larger
    than its request always goes; the bytes beyond come from a bucket per source and one for
    the whole responder (services/discovery/reply_budget.py), against spoofed-source floods."""

    enabled: bool = True
    port: Port
    reply_burst: NonNegative = 8192  # bytes a source may get beyond its requests' own size
    reply_rate: NonNegative = 1024  # bytes per second that allowance refills
    reply_total_burst: NonNegative = 65536  # the same for all sources together
    reply_total_rate: NonNegative = 16384


# Each responder's standard port as its default, so that a `[services.NAME]` table need not
# repeat it.
class SlpConfig(ResponderConfig):
    """The SLP service agent (RFC 2608)."""

    port: Port = 427
    # Largest reply, in bytes: RFC 2608's default net.slp.MTU, not the interface's (65536 on
    # loopback); a longer reply is cut and flagged OVERFLOW (RFC 2608 7).
    mtu: Annotated[int, Field(ge=256, le=65507)] = 1400


class SsdpConfig(ResponderConfig):
    """SSDP/UPnP (UDA 1.1 section 1)."""

    port: Port = 1900
    # CACHE-CONTROL max-age of the advertisements, in seconds; ssdp:alive goes out again
    # before half of it has passed. UDA 1.1 1.2.2 recommends 1800 or more.
    max_age: Annotated[int, Field(ge=2, le=86400)] = 1800


class MdnsConfig(ResponderConfig):
    """mDNS/DNS-SD (services/discovery/mdns.py). RFC 6762 section 3: queriers ask on 5353
    only, so the port is shown, not moved: with a port offset the row is "unavailable"."""

    port: Port = 5353


class WsdConfig(ResponderConfig):
    port: Port = 3702


NetbiosName = Annotated[str, Field(max_length=15, pattern=r"^[^\x00-\x20\\/:*?\"<>|.]*$")]


class NetbiosNsConfig(ResponderConfig):
    """The NetBIOS name service (RFC 1001/1002)."""

    port: Port = 137
    name: NetbiosName = ""  # empty: the identity's host name, upper case, cut at 15
    workgroup: Annotated[NetbiosName, Field(min_length=1)] = "WORKGROUP"


class NetbiosDgmConfig(ResponderConfig):
    """The NetBIOS datagram service: the port is held; a host announcement (MS-BRWS) is
    broadcast only when `announce` is on, since an MFP that is an SMB client (scan to SMB)
    and not a file server has nothing to put in the browse list."""

    port: Port = 138
    announce: bool = False
    announce_interval: Annotated[int, Field(ge=60, le=3600)] = 720  # MS-BRWS: 12 minutes


# The responders' rows were planned before they had settings of their own.
PlannedService = ResponderConfig


class ServicesConfig(_Strict):
    raw: RawServiceConfig = Field(default_factory=RawServiceConfig)
    lpd: LpdServiceConfig = Field(default_factory=LpdServiceConfig)
    http: HttpListenerConfig = Field(default_factory=HttpListenerConfig)
    https: HttpsListenerConfig = Field(default_factory=HttpsListenerConfig)
    ipp: IppListenerConfig = Field(default_factory=IppListenerConfig)
    snmp: SnmpServiceConfig = Field(default_factory=SnmpServiceConfig)
    slp: SlpConfig = Field(default_factory=SlpConfig)
    ssdp: SsdpConfig = Field(default_factory=SsdpConfig)
    status: StatusChannelConfig = Field(default_factory=StatusChannelConfig)
    mdns: MdnsConfig = Field(default_factory=MdnsConfig)
    wsd: WsdConfig = Field(default_factory=WsdConfig)
    netbios_ns: NetbiosNsConfig = Field(default_factory=NetbiosNsConfig)
    netbios_dgm: NetbiosDgmConfig = Field(default_factory=NetbiosDgmConfig)

    def effective(self, name: str) -> bool:
        """Whether a service runs: its own switch, and the device's rule that IPP and the
        status channel live on the embedded web server (turning HTTP off turns them off),
        as on the WorkCentre's Properties > Connectivity page."""
        service: ServiceConfig = getattr(self, name)
        if name in HTTP_DEPENDENTS and not self.http.enabled:
            return False
        return service.enabled


# Services that are off whenever services.http is off.
HTTP_DEPENDENTS = ("ipp", "status")


UriScheme = Literal["http", "https", "ftp", "file"]
FETCHED_SCHEMES: tuple[UriScheme, ...] = ("http", "https", "ftp")


class NotificationsConfig(_Strict):
    """IPP event notifications: RFC 3995 subscriptions, delivered by RFC 3996 ippget (pull)."""

    # Subscriptions the printer holds at once, printer and job subscriptions together.
    max_subscriptions: Positive = 100
    # Events kept per subscription for Get-Notifications; the oldest go first.
    max_events: Annotated[int, Field(ge=1)] = 100
    # ippget-event-life (RFC 3996 5.1): seconds an event stays retrievable, at least 15;
    # also how long a job's subscription outlives the job.
    event_life: Annotated[int, Field(ge=15)] = 60
    # notify-lease-duration of a printer subscription when the client names none, and the
    # longest granted (0 = no limit; a lease of 0 then means "never expires").
    lease_default: Annotated[int, Field(ge=0, le=67108863)] = 86400
    lease_max: Annotated[int, Field(ge=0, le=67108863)] = 0
    # notify-get-interval: how often clients are told to poll (under event_life).
    get_interval: Positive = 30
    # Get-Notifications with notify-wait: the longest a request waits for an event.
    wait_timeout: Annotated[float, Field(ge=0, le=300)] = 10.0

    @model_validator(mode="after")
    def _consistent(self) -> NotificationsConfig:
        if self.lease_max and not 1 <= self.lease_default <= self.lease_max:
            raise ValueError("lease_default must be between 1 and lease_max")
        if self.get_interval >= self.event_life:
            raise ValueError("get_interval must be shorter than event_life")
        return self


class IppConfig(_Strict):
    """The IPP printer object, whichever listener (631, 443) a request arrives on."""

    # Print-URI / Send-URI (RFC 8011 4.2.2): the schemes the printer fetches documents with.
    # "file" reads the controller's own disk: off unless asked for.
    document_uri_schemes: list[UriScheme] = Field(default_factory=lambda: [*FETCHED_SCHEMES])
    document_uri_timeout: Annotated[float, Field(gt=0)] = 60.0
    # Verify the certificate of an https document URI (off: printers meet self-signed hosts).
    document_uri_verify_tls: bool = False
    # PWG 5100.11 job-password: the longest passcode accepted, in octets (0 turns it off).
    job_password_max: Annotated[int, Field(ge=0, le=255)] = 32
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)


class WebConfig(_Strict):
    """The embedded web server's policy (the pages and /api/v1 on 80, 443 and 631)."""

    # Visitors who are not logged in see status and jobs read-only (the device's default);
    # true: every page but the login page needs a login.
    require_login: bool = False
    # The WorkCentre's factory administrator, admin / 1111, for testing scanners that look
    # for it. The status page warns while it is on. Off: a random password is made at first
    # start, printed once, and only its hash kept.
    default_credentials: bool = False
    admin_user: Annotated[str, Field(min_length=1, max_length=64)] = "admin"
    # A login session ends after this many seconds without a request.
    session_idle: Annotated[float, Field(gt=0)] = 1800.0
    max_sessions: Positive = 256
    # Failed logins from one address: each after the first `login_free_attempts` doubles
    # the wait before the answer, from login_delay up to login_delay_max seconds.
    login_free_attempts: NonNegative = 3
    login_delay: Annotated[float, Field(ge=0)] = 1.0
    login_delay_max: Annotated[float, Field(ge=0)] = 30.0
    # Largest file the Print page and POST /api/v1/jobs accept (the spool's own limit,
    # spool.max_job_bytes, applies too).
    max_upload_bytes: Positive = 512 * 1024 * 1024
    # Server-Sent Events streams open at once (/api/v1/events and the live pages).
    max_event_streams: Positive = 64
    # Entries of the Logs page kept in memory and in STATE_DIR/events.jsonl.
    log_entries: Positive = 2000


# TLS 1.2 suites: forward secrecy (ECDHE) and an AEAD cipher only; no CBC with SHA-1, no RSA
# key exchange, no 3DES, RC4, NULL or EXPORT (BSI TR-02102-2, Mozilla's "intermediate").
# TLS 1.3 suites are all AEAD and OpenSSL fixes them.
DEFAULT_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!PSK:!SRP:!DSS"


class TlsConfig(_Strict):
    """The TLS policy of every listener (https, TLS on ipp) and of the device's outbound
    clients (security/tls.py: server_context and client_context)."""

    minimum_version: Literal["1.2", "1.3"] = "1.2"
    # An OpenSSL cipher string for TLS 1.2 (ciphers(1)); it must leave at least one suite.
    ciphers: Annotated[str, Field(min_length=1, max_length=2000)] = DEFAULT_CIPHERS
    # Strict-Transport-Security max-age on HTTPS answers (RFC 6797 6.1.1); 0: no header.
    hsts_max_age: Annotated[int, Field(ge=0, le=2**31 - 1)] = 31536000
    # PEM file of the CAs outbound peers (SMTP, FTP, LDAP, https document URIs) are verified
    # with, besides one uploaded through the web UI or PUT /api/v1/ca-bundle.
    ca_bundle: str = ""
    # Days before the device certificate expires from which status and the web UI warn.
    expiry_warning_days: Annotated[int, Field(ge=0, le=3650)] = 30

    @field_validator("ciphers")
    @classmethod
    def _ciphers(cls, value: str) -> str:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(value)
        except ssl.SSLError:
            raise ValueError("OpenSSL accepts no cipher of this list") from None
        return value


class SpoolConfig(_Strict):
    # The default admits the 2 GB job the foundation issue requires.
    max_job_bytes: Positive = 4 * GiB
    keep_completed: NonNegative = 500
    keep_completed_hours: Annotated[float, Field(ge=0)] = 24.0 * 7


def _default_trays() -> list[TrayConfig]:
    return [
        TrayConfig(name="Tray 1", media="iso_a4_210x297mm", capacity=520, level=520),
        TrayConfig(name="Tray 2", media="iso_a3_297x420mm", capacity=520, level=520),
        TrayConfig(name="Tray 3", media="iso_a4_210x297mm", capacity=870, level=870),
        TrayConfig(name="Tray 4", media="iso_a4_210x297mm", capacity=1130, level=1130),
        TrayConfig(name="Tray 5", media="na_letter_8.5x11in", capacity=2000, level=2000),
        TrayConfig(name="Bypass", media="iso_a4_210x297mm", capacity=100, level=100, low_level=5),
    ]


def _default_supplies() -> list[SupplyConfig]:
    # WorkCentre 7755 rated yields: black 26,000, colour 21,000, drums 125,000 impressions.
    return [
        SupplyConfig(name="Black Toner", kind="toner", color="black", capacity=26000, level=26000),
        SupplyConfig(name="Cyan Toner", kind="toner", color="cyan", capacity=21000, level=21000),
        SupplyConfig(
            name="Magenta Toner", kind="toner", color="magenta", capacity=21000, level=21000
        ),
        SupplyConfig(
            name="Yellow Toner", kind="toner", color="yellow", capacity=21000, level=21000
        ),
        SupplyConfig(name="Drum Cartridge", kind="opc", capacity=125000, level=125000),
        SupplyConfig(name="Fuser", kind="fuser", capacity=100000, level=100000),
        SupplyConfig(
            name="Waste Toner Container", kind="waste", capacity=50000, level=50000, low_percent=5
        ),
    ]


def _default_bins() -> list[BinConfig]:
    return [
        BinConfig(name="Center Tray", capacity=500),
        BinConfig(name="Offset Tray", capacity=500),
    ]


class DaemonConfig(_Strict):
    """The process itself, whatever device it emulates."""

    # The event loop everything runs on. uvloop costs less CPU per request; "auto" takes it
    # where it is installed, else asyncio's own.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    # A port that cannot be bound at start (in use, address not on this host) stops the daemon
    # with a message naming it, so that nothing waiting for ports.json talks to whatever holds
    # the port. True starts what it can: a partial device, the failed rows in the port table.
    keep_going: bool = False


# ICMP types by the names nftables knows for both ICMP and ICMPv6.
ICMP_TYPES = ("echo-request", "echo-reply", "destination-unreachable", "time-exceeded",
              "parameter-problem")  # fmt: skip


class IpFilterRuleConfig(_Strict):
    """One rule of the device's IP filter (first match wins; no match accepts)."""

    protocol: Literal["all", "tcp", "udp", "icmp"] = "all"
    source: str = "any"  # CIDR, IPv4 or IPv6 (0.0.0.0/0 is every IPv4 address); "any": both
    source_ports: str = ""  # "", "515" or "1024-65535"
    destination: str = ""  # "": every service; a port table service name, or a standard port
    action: Literal["accept", "reject", "drop"] = "accept"
    # With protocol icmp: the ICMP type the rule is about ("" every type), by its nftables
    # name (echo-request, ...) or number; the disclosure paper's rules have one.
    icmp_type: str = ""

    @field_validator("icmp_type")
    @classmethod
    def _icmp_type(cls, value: str) -> str:
        value = value.strip()
        if value and not (value.isdigit() and int(value) <= 255) and value not in ICMP_TYPES:
            raise ValueError(f"icmp_type: a number 0-255 or one of {', '.join(ICMP_TYPES)}")
        return value

    @model_validator(mode="after")
    def _icmp_only(self) -> IpFilterRuleConfig:
        if self.icmp_type and self.protocol != "icmp":
            raise ValueError("icmp_type is for rules with protocol icmp")
        return self

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value in ("any", "*", ""):
            return "any"
        return str(ipaddress.ip_network(value, strict=False))

    @field_validator("source_ports")
    @classmethod
    def _ports(cls, value: str) -> str:
        if not value:
            return ""
        low, _, high = value.partition("-")
        first, last = int(low), int(high or low)
        if not 0 <= first <= last <= 65535:
            raise ValueError("source_ports must be a port or a range low-high within 0-65535")
        return f"{first}-{last}" if last != first else str(first)

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        value = value.strip()
        if value.isdigit() and not 0 < int(value) <= 65535:
            raise ValueError("a destination port must be 1-65535")
        return value


class IpFilterConfig(_Strict):
    # gate: the daemon's own check before a byte is parsed (every listener, TCP and UDP).
    # nftables (root): the same rules also installed as a kernel table of the daemon's own,
    # removed at stop, which covers ICMP and the ports the daemon does not own.
    backend: Literal["gate", "nftables"] = "gate"
    rules: list[IpFilterRuleConfig] = Field(default_factory=list, max_length=1000)

    @field_validator("rules")
    @classmethod
    def _known_services(cls, rules: list[IpFilterRuleConfig]) -> list[IpFilterRuleConfig]:
        names = set(ServicesConfig.model_fields)
        for number, rule in enumerate(rules, 1):
            if (
                rule.destination
                and not rule.destination.isdigit()
                and rule.destination not in names
            ):
                raise ValueError(
                    f"rule {number}: destination {rule.destination!r} is neither a port nor "
                    f"a service of the port table ({', '.join(sorted(names))})"
                )
        return rules


def _peers(value: str) -> str:
    """One peer address, a CIDR network, or a range "low-high" of one family."""
    value = value.strip()
    low, dash, high = value.partition("-")
    if dash:
        first, last = ipaddress.ip_address(low.strip()), ipaddress.ip_address(high.strip())
        if first.version != last.version or int(first) > int(last):
            raise ValueError("a range is low-high, both of one family, low first")
        return f"{first}-{last}"
    return str(ipaddress.ip_network(value, strict=False))


class IpsecPolicyConfig(_Strict):
    """One IPsec policy as the device's IPsec page has it (IKEv1): who, how they prove who
    they are, what traffic it covers and the security associations' lifetimes."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._-]+$")]
    peers: str  # an address, a CIDR network, or a range low-high
    authentication: Literal["pre-shared-key", "certificate"] = "pre-shared-key"
    pre_shared_key: Annotated[str, Field(max_length=255)] = ""
    # With certificate authentication: the SHA-256 fingerprint of the peers' CA or
    # certificate (hex, colons allowed), checked against what is installed when enforced.
    peer_certificate: str = ""
    # Services of the port table the policy covers; ["all"]: all IP traffic.
    protocols: list[str] = Field(default_factory=lambda: ["all"], min_length=1)
    mode: Literal["transport", "tunnel"] = "transport"
    ike_lifetime_minutes: Annotated[int, Field(ge=5, le=28800)] = 480  # phase 1 (IKE SA)
    ipsec_lifetime_minutes: Annotated[int, Field(ge=5, le=2880)] = 60  # phase 2 (IPsec SA)
    dh_group: Literal[2, 14] = 14  # MODP 1024 or 2048 bits (RFC 2409, RFC 3526)
    pfs: bool = False  # perfect forward secrecy for phase 2

    @field_validator("peers")
    @classmethod
    def _peers_valid(cls, value: str) -> str:
        return _peers(value)

    @field_validator("peer_certificate")
    @classmethod
    def _fingerprint(cls, value: str) -> str:
        digits = value.replace(":", "").lower()
        if digits and (len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits)):
            raise ValueError("peer_certificate is a SHA-256 fingerprint (64 hex digits)")
        return digits

    @model_validator(mode="after")
    def _credentials(self) -> IpsecPolicyConfig:
        if self.authentication == "pre-shared-key" and len(self.pre_shared_key) < 8:
            raise ValueError(f"policy {self.name!r}: a pre-shared key of 8 characters or more")
        if self.authentication == "certificate" and not self.peer_certificate:
            raise ValueError(f"policy {self.name!r}: certificate authentication names the "
                             "peer_certificate fingerprint")  # fmt: skip
        names = set(ServicesConfig.model_fields)
        unknown = [p for p in self.protocols if p != "all" and p not in names]
        if unknown:
            raise ValueError(f"policy {self.name!r}: unknown protocols {', '.join(unknown)}")
        return self


class IpsecConfig(_Strict):
    """The paper's IPsec settings, recorded and validated. Not enforced: these machines have
    no kernel ESP for the daemon to configure (the UI, the API and the README say so)."""

    enabled: bool = False
    # Whether peers no policy covers may still talk to the device in the clear.
    allow_non_ipsec: bool = True
    policies: list[IpsecPolicyConfig] = Field(default_factory=list, max_length=100)

    @field_validator("policies")
    @classmethod
    def _unique(cls, policies: list[IpsecPolicyConfig]) -> list[IpsecPolicyConfig]:
        names = [p.name for p in policies]
        if len(names) != len(set(names)):
            raise ValueError("policy names must be unique")
        return policies


class SecurityConfig(_Strict):
    """The Information Assurance controls of the device (issue 14)."""

    # "immediate": a job's spool files are overwritten (0x35, 0xCA, 0x97, each pass synced
    # and read back) when it ends, then removed (the WorkCentre's Immediate Image
    # Overwrite). Secure-print jobs are overwritten whatever this says.
    image_overwrite: Literal["off", "immediate"] = "off"
    # On-demand overwrite also fills the free space of the spool's filesystem with the
    # patterns, up to this many bytes (the filesystem is shared with the host, not a disk
    # of its own as on the device; 0: files only). It always leaves 5 % of the filesystem.
    overwrite_free_bytes: NonNegative = 64 * 1024**2
    # Entries of the audit log ring (STATE_DIR/audit.sqlite3); the WorkCentre keeps 15,000.
    audit_log_entries: Annotated[int, Field(ge=10, le=1_000_000)] = 15000
    # Every page and API call over plain HTTP is sent to HTTPS (301 for GET and HEAD, 308 for
    # the rest, RFC 7538, so a script's PATCH keeps its method), and IPP over plain HTTP gets
    # 426 Upgrade Required (RFC 2817 4.2): CUPS and ipptool then reconnect with TLS on the
    # same port, which takes either.
    https_only: bool = False


# -- issue 16: the device as a client of the office network --------------------------------


class AuthConfig(_Strict):
    """Who logs in to the web UI: the device's own administrator, or directory accounts."""

    method: Literal["local", "ldap", "kerberos"] = "local"
    # The local administrator ([web] admin_user) still logs in when the directory is down or
    # does not know the name (never when it knows the user and refuses the password).
    local_fallback: bool = True


class LdapConfig(_Strict):
    """The address book and the logins of [auth] method = "ldap" (ldap3, in a thread)."""

    url: str = ""  # ldap://host:389 or ldaps://host:636; empty: no directory
    base: str = ""
    bind_dn: str = ""  # empty: anonymous
    bind_password: str = ""  # may be sealed (security/secrets.py)
    starttls: bool = False
    # Where people and groups are searched; empty: `base`.
    user_base: str = ""
    group_base: str = ""
    # The directory's attributes for each of the device's fields (scan-to-home: `home`).
    name_attribute: str = "cn"
    email_attribute: str = "mail"
    fax_attribute: str = "facsimileTelephoneNumber"
    home_attribute: str = "homeDirectory"
    login_attribute: str = "uid"
    # Groups (their cn or whole DN) whose members log in as administrator or operator;
    # anyone else the directory lets bind is a user.
    admin_groups: list[str] = Field(default_factory=list)
    operator_groups: list[str] = Field(default_factory=list)
    # A group whose members are refused at login. Besides it, an account is disabled when it
    # carries pwdAccountLockedTime (OpenLDAP ppolicy, draft-behera-ldap-password-policy
    # 5.3.3) or nsAccountLock: TRUE (389 Directory Server, FreeIPA).
    disabled_group: str = ""
    # Referrals (RFC 4511 4.1.10) in address-book searches, followed through the same client
    # policy, at most this many hops; 0: ignored. bind_dn's password goes to the configured
    # server only (elsewhere the search is anonymous); logins never follow referrals.
    referral_hops: Annotated[int, Field(ge=0, le=10)] = 2
    # Entries asked of the server per search (it may cap lower: its sizelimit).
    size_limit: Annotated[int, Field(ge=1, le=1000)] = 50
    # How long an address-book answer is reused; 0: never.
    cache_seconds: Annotated[float, Field(ge=0)] = 60.0
    timeout: Annotated[float, Field(gt=0)] = 10.0
    # Users (not only the administrator) may search the address book.
    address_book_for_users: bool = True


class KerberosConfig(_Strict):
    """The logins of [auth] method = "kerberos" (an AS exchange with the KDC)."""

    realm: str = ""
    kdc: str = ""  # host:port (88 when no port is given)
    # The whole login (both requests of the AS exchange) ends within this many seconds.
    timeout: Annotated[float, Field(gt=0)] = 10.0
    # UDP first (RFC 4120 7.2.1), as the WorkCentre (shared/PORTS.md: 88/udp) and MIT's
    # clients do, TCP for a reply too big for a datagram; false: TCP only (7.2.2).
    udp: bool = True
    # The device roles of principals the KDC accepts ("alice" or "alice@REALM"); anyone
    # else who logs in is a user.
    admin_principals: list[str] = Field(default_factory=list)
    operator_principals: list[str] = Field(default_factory=list)
    # The device's own service key (e.g. host/mfp.example.com@REALM, from kadmin's ktadd):
    # each login then also checks that the KDC holds it (a spoofed KDC does not). Empty: no
    # such check, as on the WorkCentre.
    keytab: str = ""


class IfaxConfig(_Strict):
    """Internet Fax (RFC 3965 simple mode): sent through [smtp], received from POP3."""

    pop3: str = ""  # pop3://USER@HOST:PORT or pop3s://...; empty: nothing is received
    password: str = ""
    poll_interval: Annotated[float, Field(gt=0)] = 60.0
    # pop3:// only: STLS (RFC 2595 4) before the password, refused when the server lacks it.
    starttls: bool = True
    verify_tls: bool = True
    # A received message larger than this is not read: a failed job, deleted from the server.
    max_message_bytes: Positive = 20 * 1024 * 1024
    # Pages of one received fax, beyond which it is refused (a TIFF of a million IFDs).
    max_pages: Annotated[int, Field(ge=1, le=10_000)] = 200
    # Sending: fine is 204x196 dpi, standard 204x98 (RFC 3949 Profile S).
    resolution: Literal["fine", "standard"] = "fine"
    paper: Literal["a4", "letter"] = "a4"
    # Ask receivers for an MDN (RFC 8098 Disposition-Notification-To, RFC 4142 full mode).
    request_mdn: bool = False
    # Answer MDN requests of received faxes (only those whose Return-Path is the MDN address).
    send_mdn: bool = True
    # Ghostscript's time for one document rendered to TIFF-F.
    render_timeout: Annotated[float, Field(gt=0)] = 120.0

    @field_validator("pop3")
    @classmethod
    def _pop3(cls, value: str) -> str:
        from urllib.parse import urlsplit

        if not value:
            return value
        try:
            parts = urlsplit(value.strip())
            if parts.port == 0:  # urlsplit checks the port's range only when asked for it
                raise ValueError
        except ValueError:
            raise ValueError("pop3 has a bad port") from None
        if parts.scheme not in ("pop3", "pop3s") or not parts.hostname or not parts.username:
            raise ValueError("pop3 is pop3://USER@HOST:PORT or pop3s://USER@HOST:PORT")
        if parts.password is not None:
            raise ValueError("pop3 holds no password: [ifax] password does")
        return value.strip()


class DnsConfig(_Strict):
    """The resolver every outbound client uses, and dynamic updates of the device's names."""

    # host or host:port each ([v6]:port for IPv6); empty: the system's resolver (getaddrinfo:
    # /etc/hosts and /etc/resolv.conf, as every other program on the host resolves).
    servers: list[str] = Field(default_factory=list, max_length=8)
    domain: str = ""  # the device's domain: a short name is tried in it first
    search: list[str] = Field(default_factory=list, max_length=8)  # then in these
    timeout: Annotated[float, Field(gt=0, le=60)] = 5.0  # one whole look-up, all servers
    # Dynamic update (RFC 2136) of the device's A/AAAA and PTR records, signed with TSIG
    # (RFC 8945), at start and whenever its host name or address changes.
    ddns: bool = False
    ddns_server: str = ""  # host:port; empty: the zone's primary, the SOA's MNAME
    zone: str = ""  # the forward zone the device's name is in (required with ddns)
    reverse_zone: str = ""  # empty: each address's reverse zone, found from its SOA
    tsig_key_name: str = ""  # empty: unsigned updates (a server should refuse them)
    tsig_secret: str = ""  # base64; or sealed ("enc:...", security/secrets.py)
    tsig_algorithm: Literal[
        "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1"
    ] = "hmac-sha256"
    ttl: Annotated[int, Field(ge=0, le=86400)] = 3600

    @field_validator("servers")
    @classmethod
    def _servers(cls, servers: list[str]) -> list[str]:
        for server in servers:
            dns_server_address(server, 53)
        return servers

    @field_validator("domain", "zone", "reverse_zone")
    @classmethod
    def _name(cls, name: str) -> str:
        if name:
            dns_name(name)
        return name

    @field_validator("search")
    @classmethod
    def _search(cls, names: list[str]) -> list[str]:
        for name in names:
            dns_name(name)
        return names

    @field_validator("tsig_secret")
    @classmethod
    def _secret(cls, secret: str) -> str:
        if secret and not secret.startswith("enc:"):  # security/secrets.py PREFIX: sealed
            try:
                base64.b64decode(secret, validate=True)
            except ValueError:
                raise ValueError("tsig_secret: not base64") from None
        return secret

    @model_validator(mode="after")
    def _ddns(self) -> DnsConfig:
        if self.ddns and not self.zone:
            raise ValueError("[dns] ddns needs a zone")
        if bool(self.tsig_key_name) != bool(self.tsig_secret):
            raise ValueError("[dns] tsig_key_name and tsig_secret go together")
        if self.ddns_server:
            dns_server_address(self.ddns_server, 53, literal=False)
        return self


def dns_name(text: str) -> str:
    """A domain name as RFC 1035 2.3.4 bounds it: labels of 1 to 63 octets, 253 in all (a
    trailing dot allowed)."""
    labels = text.removesuffix(".").split(".")
    if len(text.removesuffix(".")) > 253 or not all(0 < len(label) < 64 for label in labels):
        raise ValueError(f"{text!r}: not a domain name")
    return text


def dns_server_address(text: str, default_port: int, *, literal: bool = True) -> tuple[str, int]:
    """host[:port] or [v6]:port as (host, port); with `literal`, the host must be an IP
    address (a resolver's own servers cannot be names it would have to resolve)."""
    host, port = host_port(text, default_port)
    if literal:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{text!r}: a DNS server is an IP address") from None
    return host, port


class NetworkConfig(_Strict):
    """The device's own network identity."""

    dhcp: bool = False
    # The interface the DHCP client owns (takes its address, adds and removes it). Never a
    # default: a client on the machine's own interface would take over the host's network.
    interface: Annotated[str, Field(max_length=15, pattern=r"^[A-Za-z0-9_.:@-]*$")] = ""
    # Renew after this many seconds instead of the server's T1 (RFC 2131 4.4.5), when it is
    # sooner: for tests against a server whose shortest lease is minutes. 0: the server's T1.
    renew_after: Annotated[float, Field(ge=0)] = 0.0

    @model_validator(mode="after")
    def _owned_interface(self) -> NetworkConfig:
        if self.dhcp and not self.interface:
            raise ValueError("dhcp = true needs the interface it owns: [network] interface")
        if self.dhcp and self.interface == "lo":
            raise ValueError("[network] interface: DHCP on the loopback interface")
        return self


class SmtpConfig(_Strict):
    """The device's one outgoing-mail setting: scan to email, alerts and Internet Fax."""

    server: str = ""  # host:port; empty: no mail is sent
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str = ""
    password: str = ""
    # The envelope and header sender; empty: scanner@<host name>.
    from_: Annotated[str, Field(alias="from")] = ""
    timeout: Annotated[float, Field(gt=0)] = 30.0
    # A scan larger than this is split over several messages, as the device does.
    max_message_bytes: Positive = 10 * 1024 * 1024
    verify_tls: bool = True

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


class DestinationConfig(_Strict):
    """One place a walk-up scan goes: mailto:, ftp://, ftps://, smb:// or mailbox:."""

    uri: Annotated[str, Field(min_length=1, max_length=2048)]
    username: str = ""
    password: str = ""


class ScanTemplateConfig(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._-]+$")]
    destinations: list[str | DestinationConfig] = Field(min_length=1, max_length=16)
    resolution: int = 300
    color_mode: Literal["BlackAndWhite1", "Grayscale8", "RGB24"] = "RGB24"
    format: Literal["application/pdf", "image/jpeg", "image/png", "image/tiff"] = "application/pdf"
    duplex: bool = False
    source: Literal["Platen", "Feeder"] = "Platen"
    intent: Literal["Document", "TextAndGraphic", "Photo", "Preview"] = "Document"
    blank_page_suppression: bool = False
    pdfa: bool = False


class MailboxConfig(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    passcode: str = ""  # empty: open to everyone who reaches the web UI
    delete_after_retrieval: bool = False


class ScanConfig(_Strict):
    """The scanner (issue 15): its originals, eSCL access, templates and mailboxes."""

    enabled: bool = True
    # A directory of files put in the feeder at start (PDF, PostScript, PNG, JPEG, TIFF).
    originals: str = ""
    # eSCL, like IPP, is open by default; true asks for HTTP Basic (the device's users).
    require_auth: bool = False
    # An eSCL job whose client asks for nothing this long is canceled and its pages removed.
    abandon_timeout: Annotated[float, Field(gt=0)] = 300.0
    # Scan jobs at once (created, not yet retrieved or delivered); more get 503.
    max_jobs: Positive = 4
    # Delivery to a destination: tries, and the wait between them.
    retries: NonNegative = 2
    retry_delay: Annotated[float, Field(ge=0)] = 30.0
    # Largest ScanSettings document read from a client.
    max_settings_bytes: Positive = 64 * 1024
    templates: list[ScanTemplateConfig] = Field(default_factory=list, max_length=256)
    mailboxes: list[MailboxConfig] = Field(default_factory=list, max_length=256)

    @field_validator("templates")
    @classmethod
    def _unique_templates(cls, templates: list[ScanTemplateConfig]) -> list[ScanTemplateConfig]:
        names = [t.name.lower() for t in templates]
        if len(names) != len(set(names)):
            raise ValueError("template names must be unique")
        return templates


class Config(_Strict):
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    trays: list[TrayConfig] = Field(default_factory=_default_trays, min_length=1)
    supplies: list[SupplyConfig] = Field(default_factory=_default_supplies)
    bins: list[BinConfig] = Field(default_factory=_default_bins, min_length=1)
    services: ServicesConfig = Field(default_factory=ServicesConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    ipp: IppConfig = Field(default_factory=IppConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    tls: TlsConfig = Field(default_factory=TlsConfig)

    @model_validator(mode="after")
    def _https_for_https_only(self) -> Config:
        if self.security.https_only and not self.services.https.enabled:
            raise ValueError("security.https_only needs services.https on")
        return self

    ip_filter: IpFilterConfig = Field(default_factory=IpFilterConfig)
    ipsec: IpsecConfig = Field(default_factory=IpsecConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    ldap: LdapConfig = Field(default_factory=LdapConfig)
    kerberos: KerberosConfig = Field(default_factory=KerberosConfig)
    ifax: IfaxConfig = Field(default_factory=IfaxConfig)
    dns: DnsConfig = Field(default_factory=DnsConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown key {key!r}"
    return f"bad value for {key!r}: {first['msg']}"


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_format_error(exc)}") from None


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_config(text, str(path))
