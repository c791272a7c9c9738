"""[dns]: the servers, names and TSIG settings checked when the file is read (the key named in
the error), and host names a DDNS update must not carry refused before anything is sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mfpd.config import ConfigError, dns_server_address, parse_config
from mfpd.outbound.ddns import DynamicDns
from tests.outbound_servers import credential_entries, outbound_context

KEY = 'tsig_key_name = "k."\ntsig_secret = "c2VjcmV0"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.53", ("192.0.2.53", 53)),
        ("192.0.2.53:5353", ("192.0.2.53", 5353)),
        ("2001:db8::53", ("2001:db8::53", 53)),
        ("[2001:db8::53]:5300", ("2001:db8::53", 5300)),
    ],
)
def test_server_addresses(text: str, expected: tuple[str, int]) -> None:
    assert dns_server_address(text, 53) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('servers = ["ns.example"]', "a DNS server is an IP address"),
        ('servers = ["192.0.2.1:99999"]', "expected host:port"),
        ('servers = ["[2001:db8::1]x"]', r"expected \[address\]:port"),
        ("ddns = true", "ddns needs a zone"),
        ('zone = "a..b"', "not a domain name"),
        (f'search = ["{"x" * 64}.example"]', "not a domain name"),
        ('tsig_key_name = "k."', "go together"),
        ('tsig_key_name = "k."\ntsig_secret = "not base64!"', "not base64"),
        ('tsig_algorithm = "hmac-md5"', "tsig_algorithm"),
        ('ddns_server = "ns.example:x"', "expected host:port"),
    ],
)
def test_bad_dns_settings_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(f"[dns]\n{text}\n")


def test_good_dns_settings() -> None:
    config = parse_config(
        '[dns]\nservers = ["192.0.2.53", "[2001:db8::53]:53"]\ndomain = "office.example"\n'
        'search = ["example"]\nddns = true\nzone = "office.example"\n'
        'ddns_server = "ns.office.example:53"\n' + KEY
    ).dns
    assert config.tsig_algorithm == "hmac-sha256" and config.ttl == 3600
    sealed = parse_config(f'[dns]\ntsig_key_name = "k."\ntsig_secret = "enc:{"A" * 20}"\n').dns
    assert sealed.tsig_secret.startswith("enc:")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Front desk", "not a host name"),
        ("mfp_1", "not a host name"),
        ("-mfp", "not a host name"),
        ("", "not a host name"),
        ("mfp.elsewhere.example", "not a name in the zone"),
    ],
)
def test_names_not_the_devices_to_publish_are_refused_unsent(
    tmp_path: Path, name: str, reason: str
) -> None:
    # The server is a closed port: a refusal here is made before any packet.
    ctx = outbound_context(
        tmp_path, '[dns]\nddns = true\nzone = "office.example"\nddns_server = "127.0.0.1:9"\n' + KEY
    )
    ctx.ddns = DynamicDns(ctx)
    assert not asyncio.run(ctx.ddns.update(name, ["192.0.2.7"]))
    (entry,) = [e for e in ctx.audit.log.entries() if e.event == "ddns-update"]
    assert entry.outcome == "failure" and reason in entry.details["reason"]
    assert entry.event_id == 1005
    assert credential_entries(ctx) == []  # the key never left the device
