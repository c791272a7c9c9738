"""The reply budget: no amplification for a spoofed source, nothing noticed by a client."""

from __future__ import annotations

from mfpd.services.discovery.interfaces import multicast_interfaces, named_by
from mfpd.services.discovery.reply_budget import ReplyBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_reply_no_larger_than_its_request_always_goes() -> None:
    budget = ReplyBudget(per_source=0, total=0, clock=Clock())
    assert all(budget.allow("192.0.2.1", 100, 100) for _ in range(10_000))


def test_a_flood_from_one_spoofed_source_gets_out_no_more_than_came_in() -> None:
    clock = Clock()
    budget = ReplyBudget(clock=clock)
    request, reply = 60, 900
    for _ in range(5000):
        budget.received(request)
        budget.allow("192.0.2.1", request, reply)
        clock.now += 0.001  # 1,000 requests a second for 5 s
    assert budget.bytes_out <= budget.bytes_in
    assert budget.refused > 4900


def test_a_flood_from_many_spoofed_sources_is_bounded_by_the_total() -> None:
    clock = Clock()
    budget = ReplyBudget(clock=clock)
    for i in range(20_000):
        budget.received(60)
        budget.allow(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", 60, 900)
        clock.now += 0.0005
    assert budget.bytes_out <= budget.bytes_in
    assert len(budget._sources) <= budget.max_sources


def test_an_ordinary_client_is_always_answered() -> None:
    clock = Clock()
    budget = ReplyBudget(clock=clock)
    for _ in range(600):  # a query every 2 s for 20 minutes, answers of 1.4 KB
        assert budget.allow("192.0.2.7", 80, 1400)
        clock.now += 2.0


def test_loopback_is_named_by_its_address() -> None:
    names = [i.name for i in named_by("127.0.0.1")]
    assert names == ["lo"]
    usable, why = multicast_interfaces("127.0.0.1")
    assert bool(usable) != bool(why)
    assert multicast_interfaces("192.0.2.254")[1] == "no interface holds 192.0.2.254"
