"""The IP filter's decisions (security/gate.py): first match wins, no match accepts."""

from __future__ import annotations

import pytest

from mfpd.config import IpFilterConfig
from mfpd.security.gate import Action, Gate, Rule, rules_of

PORTS = {"ipp": ("tcp", 631), "https": ("tcp", 443), "snmp": ("udp", 161), "lpd": ("tcp", 515)}


def gate(*rules: dict[str, str], **kwargs: object) -> Gate:
    config = IpFilterConfig.model_validate({"rules": list(rules)})
    return Gate(rules_of(config), PORTS, **kwargs)  # type: ignore[arg-type]


def test_no_rule_accepts_everyone() -> None:
    assert gate().admit("ipp", "192.0.2.1", 40000) is Action.ACCEPT


def test_first_match_wins() -> None:
    g = gate(
        {"source": "127.0.0.2/32", "action": "accept"},
        {"source": "127.0.0.0/8", "action": "drop"},
    )
    assert g.admit("ipp", "127.0.0.2", 1) is Action.ACCEPT
    assert g.admit("ipp", "127.0.0.3", 1) is Action.DROP
    assert g.admit("ipp", "10.0.0.1", 1) is Action.ACCEPT
    assert g.hits == {1: 0, 2: 1}


def test_destination_by_service_name_or_standard_port_and_protocol() -> None:
    g = gate(
        {"destination": "631", "action": "reject"},
        {"destination": "snmp", "protocol": "tcp", "action": "drop"},
    )
    assert g.admit("ipp", "192.0.2.1") is Action.REJECT
    assert g.admit("https", "192.0.2.1") is Action.ACCEPT
    # A tcp rule never applies to the UDP service.
    assert g.admit("snmp", "192.0.2.1") is Action.ACCEPT


def test_source_ports_and_ipv6_and_mapped_addresses() -> None:
    g = gate(
        {"source": "2001:db8::/32", "action": "drop"},
        {"source": "198.51.100.0/24", "source_ports": "0-1023", "action": "reject"},
    )
    assert g.admit("lpd", "2001:db8::5") is Action.DROP
    assert g.admit("lpd", "2001:db9::5") is Action.ACCEPT
    assert g.admit("lpd", "198.51.100.7", 721) is Action.REJECT
    assert g.admit("lpd", "198.51.100.7", 40000) is Action.ACCEPT
    assert g.admit("lpd", "::ffff:198.51.100.7", 721) is Action.REJECT
    assert g.admit("lpd", "fe80::1%lo", 1) is Action.ACCEPT


def test_a_cached_decision_still_counts_and_reports_each_block() -> None:
    reports: list[tuple[int, str, str, str]] = []
    g = gate(
        {"source": "192.0.2.0/24", "action": "drop"},
        on_block=lambda rule, service, protocol, address: reports.append(
            (rule.number, service, protocol, address)
        ),
    )
    for second in range(150):
        assert g.admit("ipp", "192.0.2.9", 5000 + second) is Action.DROP
    assert g.admit("snmp", "192.0.2.10", 161) is Action.DROP
    assert g.hits[1] == 151
    assert reports[0] == (1, "ipp", "tcp", "192.0.2.9") and len(reports) == 151
    assert reports[-1] == (1, "snmp", "udp", "192.0.2.10")


def test_replace_starts_again() -> None:
    g = gate({"action": "drop"})
    assert g.admit("ipp", "192.0.2.1") is Action.DROP
    g.replace([])
    assert g.admit("ipp", "192.0.2.1") is Action.ACCEPT


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"source": "300.1.1.1/8"}, "source"),
        ({"source_ports": "9-3"}, "source_ports"),
        ({"destination": "gopher"}, "neither a port nor a service"),
        ({"action": "allow"}, "action"),
        ({"protocol": "icmp", "icmp_type": "ping"}, "icmp_type"),
        ({"protocol": "tcp", "icmp_type": "echo-request"}, "protocol icmp"),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IpFilterConfig.model_validate({"rules": [rule]})


def test_rule_description_names_it() -> None:
    (rule,) = rules_of(IpFilterConfig.model_validate({"rules": [{"action": "reject"}]}))
    assert isinstance(rule, Rule)
    assert rule.describe() == "rule 1 (reject all from any to all services)"


def test_connection_limits_live_in_the_gate() -> None:
    g = gate()
    open_now = [0]
    maximum = [2]
    g.limit("raw", lambda: maximum[0], lambda: open_now[0])
    assert not g.full("raw", "192.0.2.1")
    open_now[0] = 2
    assert g.full("raw", "192.0.2.1") and g.refused_full == {"raw": 1}
    maximum[0] = 3  # a new max_connections applies to the next connection
    assert not g.full("raw", "192.0.2.1")
    assert not g.full("lpd", "192.0.2.1")  # no limit registered
