"""DNS as the device's clients use it, against a real Knot DNS server on loopback: the
configured resolver (an SMTP delivery to a name only knotd knows; [dns] domain; the TTL
cache), and DDNS (RFC 2136 with TSIG): the device's A and PTR records replaced, refused with
a wrong key (BADSIG), an unknown key (BADKEY) and no key, and published again when an
administrator renames the device over the API or SNMP, read back with kdig."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mfpd.outbound.ddns import DynamicDns, update_records
from mfpd.outbound.destinations import DeliveryError, DeliveryInfo, deliver, parse_destination
from mfpd.outbound.dns import resolver_of
from tests.conftest import FAST_CONFIG, Mfpd, NamespacedMfpd, has, network_namespace, requires
from tests.integration.test_web_api import Api, token
from tests.outbound_servers import (
    KDIG,
    KNOTD,
    DnsServer,
    credential_entries,
    knot_server,
    outbound_context,
    smtp_server,
)

pytestmark = [
    pytest.mark.integration,
    requires(
        os.path.exists(KNOTD) and os.path.exists(KDIG),
        "knotd and kdig (Debian knot, knot-dnsutils)",
    ),
]
SYS_NAME = ".1.3.6.1.2.1.1.5.0"  # RFC 3418 sysName: the host name
INFO = DeliveryInfo(7, "Scan", "alice", "application/pdf", "Email me", time.time())


def _dns(server: DnsServer, *, secret: str | None = None, key: str | None = None) -> str:
    text = (
        f'[dns]\nservers = ["127.0.0.1:{server.port}"]\nddns = true\n'
        f'ddns_server = "127.0.0.1:{server.port}"\nzone = "test.example"\n'
        f'reverse_zone = "127.in-addr.arpa"\nttl = 120\ntimeout = 5\n'
    )
    key = server.key_name if key is None else key
    if key:
        text += f'tsig_key_name = "{key}"\ntsig_secret = "{secret or server.secret}"\n'
    return text


def _ddns_entries(ctx: Any) -> list[Any]:
    return sorted(
        (e for e in ctx.audit.log.entries() if e.event == "ddns-update"), key=lambda e: e.id
    )


def test_ddns_replaces_the_device_records_and_their_ptr(tmp_path: Path) -> None:
    # A stale A record of the device's name, and another host's, already in the zone.
    stale = "mfp1 A 127.0.0.9\nmfp1 TXT kept\nother A 127.0.0.7\n"
    with knot_server(tmp_path, stale) as server:
        ctx = outbound_context(tmp_path, _dns(server))
        ctx.ddns = DynamicDns(ctx)

        assert asyncio.run(update_records(ctx, "mfp1", ["127.0.0.1", "127.0.0.2"]))
        assert server.query("mfp1.test.example", "A") == ["127.0.0.1", "127.0.0.2"]
        assert server.query("1.0.0.127.in-addr.arpa", "PTR") == ["mfp1.test.example."]
        assert server.query("2.0.0.127.in-addr.arpa", "PTR") == ["mfp1.test.example."]
        # Only the device's address records: its other records and other names stay.
        assert server.query("mfp1.test.example", "TXT") == ['"kept"']
        assert server.query("other.test.example", "A") == ["127.0.0.7"]

        # A new lease: the address that went loses its PTR, the new one gets it.
        assert asyncio.run(update_records(ctx, "mfp1", ["127.0.0.3"]))
        assert server.query("mfp1.test.example", "A") == ["127.0.0.3"]
        assert server.query("3.0.0.127.in-addr.arpa", "PTR") == ["mfp1.test.example."]
        assert server.query("1.0.0.127.in-addr.arpa", "PTR") == []
        assert server.query("2.0.0.127.in-addr.arpa", "PTR") == []

    entries = _ddns_entries(ctx)
    assert [e.outcome for e in entries] == ["success"] * 4
    assert all(e.user == server.key_name and e.interface == "dns" for e in entries)
    assert entries[0].address == f"127.0.0.1:{server.port}"
    assert "mfp1.test.example. A 127.0.0.1, A 127.0.0.2" in entries[0].details["records"]
    uses = credential_entries(ctx)
    assert [(e.user, e.outcome, e.interface) for e in uses] == [
        (server.key_name, "success", "dns")
    ] * 4


@pytest.mark.parametrize(
    ("secret", "key", "reasons"),
    [
        ("d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=", None, ("BADSIG",)),
        (None, "unknown-key.", ("BADKEY",)),
        (None, "", ("REFUSED", "NOTAUTH")),
    ],
    ids=["wrong-secret", "unknown-key", "no-key"],
)
def test_a_refused_update_is_a_log_line_and_an_audit_entry(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    secret: str | None,
    key: str | None,
    reasons: tuple[str, ...],
) -> None:
    with knot_server(tmp_path, "mfp1 A 127.0.0.9\n") as server:
        ctx = outbound_context(tmp_path, _dns(server, secret=secret, key=key))
        ctx.ddns = DynamicDns(ctx)
        with caplog.at_level(logging.WARNING, logger="mfpd.ddns"):
            assert not asyncio.run(update_records(ctx, "mfp1", ["127.0.0.1"]))
        assert server.query("mfp1.test.example", "A") == ["127.0.0.9"]
        assert server.query("1.0.0.127.in-addr.arpa", "PTR") == []
        # The server still answers: nothing on the device's side broke either.
        assert asyncio.run(resolver_of(ctx).addresses("mailhost.test.example")) == ["127.0.0.1"]

    (entry,) = _ddns_entries(ctx)
    assert entry.outcome == "failure"
    assert entry.details["reason"].startswith(reasons), entry.details
    assert entry.address == f"127.0.0.1:{server.port}"
    (line,) = [r.getMessage() for r in caplog.records if r.name == "mfpd.ddns"]
    assert "mfp1.test.example" in line and "not updated" in line
    assert any(line.partition("not updated: ")[2].startswith(r) for r in reasons), line
    uses = credential_entries(ctx)
    if key == "":
        assert uses == []  # no key, no credential used
    else:
        assert [(e.outcome, e.user) for e in uses] == [("failure", key or server.key_name)]


def test_a_name_outside_the_zone_is_not_sent(tmp_path: Path) -> None:
    with knot_server(tmp_path) as server:
        ctx = outbound_context(tmp_path, _dns(server))
        ctx.ddns = DynamicDns(ctx)
        assert not asyncio.run(update_records(ctx, "www.example.com", ["127.0.0.1"]))
    (entry,) = _ddns_entries(ctx)
    assert entry.outcome == "failure" and "not a name in the zone" in entry.details["reason"]
    assert credential_entries(ctx) == []


def test_smtp_delivery_resolves_through_the_configured_servers(tmp_path: Path) -> None:
    document = tmp_path / "scan.pdf"
    document.write_bytes(b"%PDF-1.4\n%%EOF\n")
    with knot_server(tmp_path) as server, smtp_server(None, auth=False) as smtp:
        mail = (
            f'[smtp]\nserver = "mailhost.test.example:{smtp.port}"\nsecurity = "none"\n'
            'from = "mfp@example.test"\ntimeout = 10\n'
        )
        ctx = outbound_context(tmp_path, mail + f'[dns]\nservers = ["127.0.0.1:{server.port}"]\n')
        asyncio.run(deliver(ctx, parse_destination("mailto:bob@example.test"), [document], INFO))
        assert [m[1] for m in smtp.messages] == [["bob@example.test"]]

        # The host's own resolver does not know the name: the delivery above used knotd.
        system = outbound_context(tmp_path / "system", mail)
        with pytest.raises(DeliveryError, match="cannot resolve"):
            asyncio.run(
                deliver(system, parse_destination("mailto:bob@example.test"), [document], INFO)
            )

        # [dns] domain: a short name is looked up in it.
        short = outbound_context(
            tmp_path / "short",
            f'[dns]\nservers = ["127.0.0.1:{server.port}"]\ndomain = "test.example"\n',
        )
        assert asyncio.run(resolver_of(short).addresses("mailhost")) == ["127.0.0.1"]
        with pytest.raises(DeliveryError, match="no such name"):
            asyncio.run(resolver_of(short).addresses("nowhere.test.example"))

    # The answer is kept for its TTL (60 s in the zone): knotd is gone, the name resolves.
    assert asyncio.run(resolver_of(ctx).addresses("mailhost.test.example")) == ["127.0.0.1"]


def test_renaming_the_device_publishes_its_new_name(tmp_path: Path, mfpd_factory: Any) -> None:
    with knot_server(tmp_path) as server:
        config = (
            FAST_CONFIG
            + '[identity]\nhostname = "mfp-a"\n[services.snmp]\nwrite_community = "private"\n'
            + _dns(server)
        )
        daemon: Mfpd = mfpd_factory(config)
        # At start: the name and the daemon's bind address.
        server.wait_for("mfp-a.test.example", "A", ["127.0.0.1"])
        server.wait_for("1.0.0.127.in-addr.arpa", "PTR", ["mfp-a.test.example."])

        api = Api(daemon, token(daemon))
        answer = api.patch("/config", json={"identity": {"hostname": "mfp-b"}})
        assert answer.status_code == 200, answer.text
        server.wait_for("mfp-b.test.example", "A", ["127.0.0.1"])
        server.wait_for("1.0.0.127.in-addr.arpa", "PTR", ["mfp-b.test.example."])
        assert server.query("mfp-a.test.example", "A") == []

        # sysName over SNMP (RFC 3418) is the same host name.
        if has("snmpset"):
            subprocess.run(
                ["snmpset", "-v2c", "-c", "private", "-m", "", "-On", "-t", "3", "-r", "1",
                 f"127.0.0.1:{daemon.port('snmp')}", SYS_NAME, "s", "mfp-c"],
                capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
            server.wait_for("mfp-c.test.example", "A", ["127.0.0.1"])
            server.wait_for("1.0.0.127.in-addr.arpa", "PTR", ["mfp-c.test.example."])
            assert server.query("mfp-b.test.example", "A") == []
        daemon.stop()


def test_ddns_finds_the_primary_and_the_reverse_zone_from_their_soa(tmp_path: Path) -> None:
    """No ddns_server and no reverse_zone: RFC 2136 section 4's way, the update goes to the
    MNAME of the zone's SOA (on port 53, so in a network namespace of the test's own), and
    each PTR to its reverse zone's. The daemon listens on the wildcard: its address is the
    one it reaches the server from (192.0.2.10)."""
    with network_namespace("mfpd-ddns") as namespace:
        # On the namespace's loopback (no dummy or veth module needed): a local address.
        subprocess.run(
            ["ip", "-n", namespace, "addr", "add", "192.0.2.10/32", "dev", "lo"],
            check=True, timeout=30,
        )  # fmt: skip
        with knot_server(
            tmp_path, address="192.0.2.10", port=53, namespace=namespace,
            reverse_zone="2.0.192.in-addr.arpa.",
        ) as server:  # fmt: skip
            config = (
                FAST_CONFIG + '[identity]\nhostname = "mfp-ns"\n'
                f'[dns]\nservers = ["192.0.2.10"]\nddns = true\nzone = "test.example"\n'
                f'tsig_key_name = "{server.key_name}"\ntsig_secret = "{server.secret}"\n'
            )
            daemon = NamespacedMfpd(tmp_path / "state", config, namespace, bind="0.0.0.0")
            try:
                daemon.start()
                server.wait_for("mfp-ns.test.example", "A", ["192.0.2.10"])
                server.wait_for("10.2.0.192.in-addr.arpa", "PTR", ["mfp-ns.test.example."])
            finally:
                daemon.finish()
    log = daemon.log.read_text()
    assert "ns.test.example:53: mfp-ns.test.example. A 192.0.2.10 accepted" in log
    assert "ns.test.example:53: PTR of 192.0.2.10 -> mfp-ns.test.example. accepted" in log
