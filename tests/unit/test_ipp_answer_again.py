"""The IPP fast path's shortest way (services/ipp/server.py, _HttpConnection._answer_again):
a request whose octets, but the request-id, are those of the connection's last answered one
is answered with that answer again, while the printer stamp is unchanged. Driven here through
the connection's data_received with a transport that keeps what is written, the clock held
still, so that only the stamp's other parts can tell a change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from mfpd.codecs.ipp.decode import decode_message
from mfpd.codecs.ipp.encode import encode_message, make_request
from mfpd.codecs.ipp.tags import DelimiterTag, Operation
from mfpd.codecs.ipp.values import Attribute, AttributeGroup
from mfpd.config import Config
from mfpd.device.machine import build_device
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.services.base import ServiceContext
from mfpd.services.ipp import build as b
from mfpd.services.ipp import printer_attributes as pa
from mfpd.services.ipp import server
from mfpd.services.ipp.subscriptions import SubscriptionStore

# The head CUPS 2.4's HTTP library sends (tests/integration/test_ipp.py CUPS_FIELDS).
CUPS_HEAD = (
    "POST /ipp/print HTTP/1.1\r\nContent-Length: {length}\r\nContent-Type: application/ipp\r\n"
    "Date: Mon, 07 Dec 2026 16:04:19 GMT\r\nHost: localhost:631\r\nUser-Agent: CUPS/2.4.2 "
    "(Linux 6.1.0; x86_64) IPP/2.0\r\nAccept-Encoding: deflate, gzip, identity\r\n"
    "Expect: 100-continue\r\n\r\n"
)
PLAIN_HEAD = (
    "POST /ipp/print HTTP/1.1\r\nHost: 127.0.0.1:631\r\nContent-Type: application/ipp\r\n"
    "Content-Length: {length}\r\n\r\n"
)
URI = "ipp://localhost:631/ipp/print"


class _Wire(asyncio.Transport):
    """A connection's transport that keeps what the server writes."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 631)}
        return extra.get(name, default)


class _Client:
    """One keep-alive connection to the service, answered in process."""

    def __init__(self, service: server.IppService, manager: web.Server) -> None:
        self.wire = _Wire()
        self.conn = server._HttpConnection(service, manager, b"")
        self.conn.connection_made(self.wire)

    async def ask(self, body: bytes, head: str = CUPS_HEAD) -> bytes:
        """The whole HTTP answer (head and body) to one request."""
        await asyncio.sleep(0)  # aiohttp's task for the connection starts (and then waits)
        self.conn.data_received(head.format(length=len(body)).encode() + body)
        for _ in range(100):  # operations that are not answered at once run in a task
            if self.wire.written:
                break
            await asyncio.sleep(0)
        (answer,) = self.wire.written
        self.wire.written.clear()
        return answer

    def close(self) -> None:
        self.conn.connection_lost(None)


def _gpa(request_id: int, *names: str, version: tuple[int, int] = (2, 0)) -> bytes:
    return encode_message(
        make_request(
            Operation.GET_PRINTER_ATTRIBUTES,
            request_id,
            [b.uri("printer-uri", URI), b.keyword("requested-attributes", *names)],
            version=version,
        )
    )


def _with_id(octets: bytes, request_id: int) -> bytes:
    return octets[:4] + request_id.to_bytes(4, "big", signed=True) + octets[8:]


def _printer(answer: bytes) -> dict[str, tuple[object, ...]]:
    message, _ = decode_message(answer.partition(b"\r\n\r\n")[2])
    assert message.code == 0
    group = message.first(DelimiterTag.PRINTER)
    assert group is not None
    return {a.name: a.values for a in group}


@pytest.fixture
def held_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The wall clock (printer-current-time, the stamp's second, HTTP Date), held still."""
    clock = [1_800_000_000.25]
    monkeypatch.setattr(pa.time, "time", lambda: clock[0])
    yield clock


class _Setup:
    def __init__(self, tmp_path: Path) -> None:
        config = Config()
        self.device = build_device(config)
        self.spool = Spool(JobStore(tmp_path), tmp_path / "spool", self.device.events, config.spool)
        ctx = ServiceContext(
            config=config,
            device=self.device,
            spool=self.spool,
            state_dir=tmp_path,
            bind="127.0.0.1",
            port_offset=0,
            log=logging.getLogger("test"),
            subscriptions=SubscriptionStore(self.device, config.ipp.notifications),
        )
        self.service = server.IppService(ctx)
        self.manager = web.Server(lambda request: web.Response())
        self.answered_whole = 0  # requests that went the whole way (parsed, decoded, answered)
        whole = self.service.answer_whole

        async def counted(*args: Any) -> Any:
            self.answered_whole += 1
            return await whole(*args)

        self.service.answer_whole = counted  # type: ignore[method-assign]
        self.clients: list[_Client] = []

    def client(self) -> _Client:
        client = _Client(self.service, self.manager)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()


def _run(tmp_path: Path, test: Callable[[_Setup], Any]) -> None:
    async def main() -> None:
        setup = _Setup(tmp_path)
        try:
            await test(setup)
        finally:
            setup.close()

    asyncio.run(main())


REQUESTS = [
    (_gpa(1, "all"), CUPS_HEAD),
    (_gpa(1, "printer-description"), CUPS_HEAD),
    (_gpa(1, "all"), PLAIN_HEAD),
    (_gpa(1, "all", version=(1, 1)), CUPS_HEAD),
    (_gpa(1, "printer-state", "printer-state-reasons", "marker-levels", "queued-job-count"),
     PLAIN_HEAD),
]  # fmt: skip


def test_a_request_again_gets_the_octets_the_whole_way_gives(
    tmp_path: Path, held_clock: list[float]
) -> None:
    """The answer given again (request-id put in, HTTP head included) is octet for octet the
    one a new connection, which has no answer to give again, gets the whole way."""

    async def test(setup: _Setup) -> None:
        one = setup.client()
        request_id = 10
        for octets, head in REQUESTS:
            request_id += 1
            await one.ask(_with_id(octets, request_id), head)
            whole = setup.answered_whole
            for again_id in (request_id + 1, 2**31 - 1, 0x00010000):
                again = await one.ask(_with_id(octets, again_id), head)
                assert setup.answered_whole == whole  # given again, not answered afresh
                afresh = await setup.client().ask(_with_id(octets, again_id), head)
                assert setup.answered_whole == whole + 1
                whole += 1
                assert again == afresh
                assert again.partition(b"\r\n\r\n")[2][4:8] == again_id.to_bytes(4, "big")
            request_id += 1

    _run(tmp_path, test)


def test_a_request_id_refused_or_another_request_goes_the_whole_way(
    tmp_path: Path, held_clock: list[float]
) -> None:
    """Request-ids of 0 and negative ones are refused by the whole path (RFC 8011 4.1.2),
    and any other octet changed (here the requested attribute) is another request."""

    async def test(setup: _Setup) -> None:
        one = setup.client()
        await one.ask(_gpa(5, "all"))
        for request_id in (0, -1):
            answer = await one.ask(_with_id(_gpa(5, "all"), request_id))
            assert answer.partition(b"\r\n\r\n")[2][2:4] == b"\x04\x00"  # bad-request
        await one.ask(_gpa(6, "all"))
        whole = setup.answered_whole
        answer = await one.ask(_gpa(7, "printer-state"))
        assert setup.answered_whole == whole + 1
        assert set(_printer(answer)) == {"printer-state"}

    _run(tmp_path, test)


def _operation(
    code: Operation, *attributes: Attribute, groups: tuple[AttributeGroup, ...] = ()
) -> bytes:
    return encode_message(
        make_request(
            code,
            99,
            [b.uri("printer-uri", URI), b.name_("requesting-user-name", "admin"), *attributes],
            groups=groups,
        )
    )


def _set_location(setup: _Setup) -> Any:
    async def change() -> None:
        group = AttributeGroup(DelimiterTag.PRINTER, (b.text("printer-location", "Room 101"),))
        answer = await setup.client().ask(
            _operation(Operation.SET_PRINTER_ATTRIBUTES, groups=(group,)), PLAIN_HEAD
        )
        assert answer.partition(b"\r\n\r\n")[2][2:4] == b"\x00\x00"

    return change


def _pause(setup: _Setup) -> Any:
    async def change() -> None:
        answer = await setup.client().ask(_operation(Operation.PAUSE_PRINTER), PLAIN_HEAD)
        assert answer.partition(b"\r\n\r\n")[2][2:4] == b"\x00\x00"

    return change


def _supply(setup: _Setup) -> Any:
    async def change() -> None:
        setup.device.set_supply_level(setup.device.supplies[0], 0)

    return change


def _job(setup: _Setup) -> Any:
    async def change() -> None:
        answer = await setup.client().ask(
            _operation(Operation.CREATE_JOB, b.name_("job-name", "waits")), PLAIN_HEAD
        )
        assert answer.partition(b"\r\n\r\n")[2][2:4] == b"\x00\x00"

    return change


@pytest.mark.parametrize(
    ("change", "shows"),
    [
        (_set_location, lambda p: p["printer-location"] == ("Room 101",)),
        (
            _pause,
            lambda p: p["printer-state"] == (5,) and "paused-report" in p["printer-state-reasons"],
        ),
        (_supply, lambda p: p["marker-levels"][0] == 0),
        (_job, lambda p: p["queued-job-count"] == (1,)),
    ],
    ids=["set-printer-location", "pause-printer", "supply-level", "job-queued"],
)
def test_a_change_of_the_printer_shows_in_the_next_answer_again(
    tmp_path: Path,
    held_clock: list[float],
    change: Callable[[_Setup], Any],
    shows: Callable[[dict[str, tuple[object, ...]]], bool],
) -> None:
    """On a connection whose answer is given again, a change of the printer within the same
    second (the clock held) shows in the next answer, which is the whole way's again."""

    async def test(setup: _Setup) -> None:
        one = setup.client()
        request = _gpa(1, "all")
        await one.ask(request)
        whole = setup.answered_whole
        before = await one.ask(_with_id(request, 2))
        assert setup.answered_whole == whole  # given again
        assert not shows(_printer(before))
        await change(setup)()
        after = await one.ask(_with_id(request, 3))
        assert shows(_printer(after))
        assert after == await setup.client().ask(_with_id(request, 3))
        # and the new answer is the one given again from now on
        whole = setup.answered_whole
        assert await one.ask(_with_id(request, 3)) == after
        assert setup.answered_whole == whole

    _run(tmp_path, test)


def test_the_next_second_shows_in_the_next_answer_again(
    tmp_path: Path, held_clock: list[float]
) -> None:
    async def test(setup: _Setup) -> None:
        one = setup.client()
        request = _gpa(1, "all")
        await one.ask(request)
        first = await one.ask(_with_id(request, 2))
        held_clock[0] += 1
        later = await one.ask(_with_id(request, 2))
        assert _printer(later)["printer-up-time"] != _printer(first)["printer-up-time"]
        assert later.partition(b"\r\n\r\n")[0] != first.partition(b"\r\n\r\n")[0]  # Date
        assert later == await setup.client().ask(_with_id(request, 2))

    _run(tmp_path, test)
