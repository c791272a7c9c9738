"""Unit tests of what SSDP and WS-Discovery say about the device: the numbers that must rise
across restarts (BOOTID.UPNP.ORG, AppSequence InstanceId, MetadataVersion) and the names taken
from the identity."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

from mfpd.config import Config
from mfpd.services.base import ServiceContext
from mfpd.services.discovery import advertised
from mfpd.services.discovery.boot_counter import metadata_version, next_start_number


def test_start_numbers_rise_even_within_one_second(tmp_path: Path) -> None:
    numbers = [next_start_number(tmp_path, "boot") for _ in range(5)]
    assert numbers == sorted(set(numbers)), numbers
    assert 0 < numbers[-1] < 2**31
    # A lost file starts again from the clock, which is past every kept number of the past.
    (tmp_path / "boot").write_text("garbage")
    assert next_start_number(tmp_path, "boot") > 0


def test_metadata_version_rises_only_when_the_metadata_changes(tmp_path: Path) -> None:
    first = metadata_version(tmp_path, "meta.json", "a")
    assert metadata_version(tmp_path, "meta.json", "a") == first
    second = metadata_version(tmp_path, "meta.json", "b")
    assert second == first + 1
    assert metadata_version(tmp_path, "meta.json", "a") == second + 1


def test_names_from_the_identity() -> None:
    assert advertised.model_number("WorkCentre 7755") == "7755"
    assert advertised.model_number("VersaLink C405/DN") == "C405/DN"
    assert advertised.model_number("Phaser") == "Phaser"
    assert advertised.manufacturer_url("Xerox") == "http://www.xerox.com/"
    assert advertised.manufacturer_url("Acme") == ""
    assert advertised.url_host("::1") == "[::1]" and advertised.url_host("[::1]") == "[::1]"
    assert advertised.url_host("127.0.0.1") == "127.0.0.1"


def test_reply_address() -> None:
    assert advertised.reply_address("127.0.0.1", "127.0.0.5") == "127.0.0.1"
    # Bound to the wildcard: the address the kernel would send to the peer from.
    assert advertised.reply_address("0.0.0.0", "127.0.0.1") == "127.0.0.1"


class _Web:
    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports

    def live_port(self, service: str) -> int | None:
        return self.ports.get(service)


def _ctx(ports: dict[str, int], https_only: bool = False) -> ServiceContext:
    config = Config.model_validate({"security": {"https_only": https_only}})
    ctx = SimpleNamespace(config=config, web=_Web(ports))
    return cast(ServiceContext, ctx)


def test_urls_follow_the_live_ports() -> None:
    both = _ctx({"http": 8080, "ipp": 8631, "https": 8443})
    assert advertised.description_url(both, "10.0.0.5") == (
        "http://10.0.0.5:8080/upnp/description.xml"
    )
    assert advertised.xaddrs(both, "10.0.0.5") == "http://10.0.0.5:8080/wsd"
    # http off: IPP's port serves the same application; only https: XAddrs over TLS, and
    # no LOCATION (UPnP descriptions are plain HTTP).
    assert advertised.web_ui_url(_ctx({"ipp": 631}), "h") == "http://h:631/"
    tls_only = _ctx({"https": 443})
    assert advertised.description_url(tls_only, "h") is None
    assert advertised.xaddrs(tls_only, "::1") == "https://[::1]:443/wsd"
    # [security] https_only: nothing over plain HTTP, so every URL names the https listener.
    strict = _ctx({"http": 80, "https": 443}, https_only=True)
    assert advertised.description_url(strict, "h") == "https://h:443/upnp/description.xml"
    assert advertised.web_ui_url(strict, "h") == "https://h:443/"
