"""Typed, validated settings with embedded defaults.

One TOML file describes a device. Every section has embedded defaults that describe a
Xerox WorkCentre 7755-like MFP (see shared/PORTS.md), so `mfpd serve` runs with no file at all.
Unknown keys and bad values are errors that name the key (`ConfigError`), never tracebacks.
"""

from __future__ import annotations

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


class SsdpServiceConfig(ServiceConfig):
    """SSDP/UPnP on 1900 (UDA 1.1 section 1)."""

    port: Port = 1900
    # CACHE-CONTROL max-age of the advertisements, in seconds; ssdp:alive goes out again
    # before half of it has passed. UDA 1.1 1.2.2 recommends 1800 or more.
    max_age: Annotated[int, Field(ge=2, le=86400)] = 1800


class WsdServiceConfig(ServiceConfig):
    """WS-Discovery on 3702, its metadata over the web listener (POST /wsd)."""

    port: Port = 3702


class PlannedService(ServiceConfig):
    """A service of the port table that a later release implements."""

    enabled: bool = True
    port: Port


def _planned(port: int, enabled: bool = True) -> PlannedService:
    return PlannedService(port=port, enabled=enabled)


class ServicesConfig(_Strict):
    raw: RawServiceConfig = Field(default_factory=RawServiceConfig)
    lpd: LpdServiceConfig = Field(default_factory=LpdServiceConfig)
    http: HttpListenerConfig = Field(default_factory=HttpListenerConfig)
    https: HttpsListenerConfig = Field(default_factory=HttpsListenerConfig)
    ipp: IppListenerConfig = Field(default_factory=IppListenerConfig)
    snmp: SnmpServiceConfig = Field(default_factory=SnmpServiceConfig)
    slp: PlannedService = Field(default_factory=lambda: _planned(427))
    ssdp: SsdpServiceConfig = Field(default_factory=SsdpServiceConfig)
    status: StatusChannelConfig = Field(default_factory=StatusChannelConfig)
    mdns: PlannedService = Field(default_factory=lambda: _planned(5353))
    wsd: WsdServiceConfig = Field(default_factory=WsdServiceConfig)
    netbios_ns: PlannedService = Field(default_factory=lambda: _planned(137))
    netbios_dgm: PlannedService = Field(default_factory=lambda: _planned(138))

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
