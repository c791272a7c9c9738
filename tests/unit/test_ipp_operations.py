"""IPP operations against a real spool, without the network."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mfpd.codecs.ipp.tags import DelimiterTag, Operation, StatusCode, ValueTag
from mfpd.codecs.ipp.values import AttributeGroup, Message
from mfpd.config import Config, SpoolConfig
from mfpd.device import secure_print
from mfpd.device.jobs import JobState
from mfpd.device.machine import Device, build_device
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.services.ipp import build as b
from mfpd.services.ipp.operations import IppOperations


def test_abandoned_create_job_is_aborted_after_the_timeout(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    device = build_device(Config())
    spool = Spool(store, tmp_path / "spool", device.events, SpoolConfig())
    operations = IppOperations(device, spool, 1 << 20)
    waiting = spool.create("ipp", name="created, never sent")
    fresh = spool.create("ipp", name="just created")
    waiting.created_at -= 301
    operations.abort_abandoned(300)
    assert (
        waiting.state is JobState.ABORTED and "multiple-operation-time-out" in waiting.state_message
    )
    assert fresh.state is JobState.PENDING
    store.close()


def _setup(tmp_path: Path) -> tuple[JobStore, Device, Spool, IppOperations]:
    store = JobStore(tmp_path)
    device = build_device(Config())
    spool = Spool(store, tmp_path / "spool", device.events, SpoolConfig())
    return store, device, spool, IppOperations(device, spool, 1 << 20)


def _message(code: int, *groups: AttributeGroup) -> Message:
    operation = AttributeGroup(
        DelimiterTag.OPERATION,
        (
            b.charset("attributes-charset", "utf-8"),
            b.language("attributes-natural-language", "en"),
            b.uri("printer-uri", "ipp://localhost/ipp/print"),
            b.name_("requesting-user-name", "erin"),
            *(a for g in groups if g.tag == DelimiterTag.OPERATION for a in g),
        ),
    )
    rest = tuple(g for g in groups if g.tag != DelimiterTag.OPERATION)
    return Message((2, 0), code, 1, (operation, *rest))


async def _call(ops: IppOperations, message: Message, data: bytes = b"") -> Message:
    async def body() -> AsyncIterator[bytes]:
        if data:
            yield data

    return await ops.handle(message, body(), ops.uris, "127.0.0.1:4000")


@pytest.mark.parametrize(
    ("encryption", "secret"),
    [
        ("none", b"2468"),
        ("md5", hashlib.md5(b"2468").digest()),
        ("sha2-256", hashlib.sha256(b"2468").digest()),
        ("sha2-512", hashlib.sha512(b"2468").digest()),
    ],
)
def test_secure_print_job_is_held_until_its_passcode(
    tmp_path: Path, encryption: str, secret: bytes
) -> None:
    store, _, spool, ops = _setup(tmp_path)
    password = AttributeGroup(
        DelimiterTag.OPERATION,
        (b.octets("job-password", secret), b.keyword("job-password-encryption", encryption)),
    )
    reply = asyncio.run(_call(ops, _message(Operation.PRINT_JOB, password), b"%PDF-1.4\n"))
    assert reply.code == StatusCode.SUCCESSFUL_OK
    job = spool.active()[0]
    assert job.state is JobState.HELD and secure_print.PASSWORD_WAIT in job.state_reasons
    assert secret.hex() not in repr(job.attributes) or encryption != "none"
    assert not secure_print.verify(job, "1357")
    assert secure_print.verify(job, "2468")
    store.close()


def test_job_password_is_refused_when_too_long_or_of_an_unknown_hash(tmp_path: Path) -> None:
    store, _, spool, ops = _setup(tmp_path)
    for secret, encryption in ((b"9" * 33, "none"), (b"1234", "rot13")):
        group = AttributeGroup(
            DelimiterTag.OPERATION,
            (b.octets("job-password", secret), b.keyword("job-password-encryption", encryption)),
        )
        reply = asyncio.run(_call(ops, _message(Operation.VALIDATE_JOB, group)))
        assert reply.code == StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED
        assert reply.first(DelimiterTag.UNSUPPORTED) is not None
    assert len(spool) == 0
    store.close()


def test_higher_job_priority_prints_first_and_a_started_job_keeps_the_engine(
    tmp_path: Path,
) -> None:
    store, _, spool, _ = _setup(tmp_path)
    low = spool.create("ipp", name="low", attributes={"job-priority": 10})
    plain = spool.create("lpd", name="plain")  # no job-priority: 50
    high = spool.create("ipp", name="high", attributes={"job-priority": 90})
    for job in (low, plain, high):
        spool.finish(job)
    assert spool.next_printable() is high
    low.state = JobState.PROCESSING  # already on the engine: it finishes first
    assert spool.next_printable() is low and spool.current() is low
    store.close()


def test_restart_job_reprints_a_finished_job_from_its_documents(tmp_path: Path) -> None:
    store, _, spool, ops = _setup(tmp_path)
    reply = asyncio.run(_call(ops, _message(Operation.PRINT_JOB), b"%PDF-1.4\n"))
    job = spool.get(reply.first(DelimiterTag.JOB)["job-id"].value)  # type: ignore[arg-type, index]
    assert job is not None
    restart = AttributeGroup(DelimiterTag.OPERATION, (b.integer("job-id", job.id),))
    not_yet = asyncio.run(_call(ops, _message(Operation.RESTART_JOB, restart)))
    assert not_yet.code == StatusCode.CLIENT_ERROR_NOT_POSSIBLE  # not finished yet
    job.state, job.impressions_completed = JobState.COMPLETED, 2
    spool.update(job)
    again = asyncio.run(_call(ops, _message(Operation.RESTART_JOB, restart)))
    assert again.code == StatusCode.SUCCESSFUL_OK
    assert job.state is JobState.PENDING and job.impressions_completed == 0
    assert spool.next_printable() is job
    store.close()


def test_set_printer_attributes_is_all_or_nothing(tmp_path: Path) -> None:
    store, device, _, ops = _setup(tmp_path)
    mixed = AttributeGroup(
        DelimiterTag.PRINTER,
        (b.text("printer-location", "Lab"), b.text("printer-make-and-model", "Other")),
    )
    reply = asyncio.run(_call(ops, _message(Operation.SET_PRINTER_ATTRIBUTES, mixed)))
    assert reply.code == StatusCode.CLIENT_ERROR_ATTRIBUTES_NOT_SETTABLE
    unsupported = reply.first(DelimiterTag.UNSUPPORTED)
    assert unsupported is not None
    assert unsupported["printer-make-and-model"].tag == ValueTag.NOT_SETTABLE
    assert device.identity.location == ""  # nothing was set
    too_long = AttributeGroup(DelimiterTag.PRINTER, (b.text("printer-location", "x" * 128),))
    reply = asyncio.run(_call(ops, _message(Operation.SET_PRINTER_ATTRIBUTES, too_long)))
    assert reply.code == StatusCode.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED
    good = AttributeGroup(DelimiterTag.PRINTER, (b.text("printer-location", "Lab 3"),))
    reply = asyncio.run(_call(ops, _message(Operation.SET_PRINTER_ATTRIBUTES, good)))
    assert reply.code == StatusCode.SUCCESSFUL_OK and device.identity.location == "Lab 3"
    assert device.snapshot()["identity"] == {"location": "Lab 3"}
    store.close()


def test_printer_attributes_from_memory_are_those_built_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Get-Printer-Attributes answers with the objects (and kept octets) of the last answer
    while they are what building again would give: after every kind of change the answer
    must equal one made from nothing, value for value and octet for octet."""
    from mfpd.codecs.ipp.encode import encode_message, make_response
    from mfpd.device.alerts import ConditionKind
    from mfpd.services.ipp import printer_attributes as pa

    store, device, spool, ops = _setup(tmp_path)
    kept = ops._printer_attributes
    wanted_sets = [
        frozenset({"all"}),
        frozenset({"all", "media-col-database"}),
        frozenset({"printer-description"}),
        frozenset({"job-template", "printer-state"}),
        frozenset({"printer-state", "printer-state-reasons", "marker-levels", "printer-up-time"}),
        frozenset({"queued-job-count", "printer-impressions-completed", "printer-current-time"}),
    ]
    clock = [device.started_at + 5.25]
    monkeypatch.setattr(pa.time, "time", lambda: clock[0])

    def check(uris: pa.PrinterUris) -> None:
        for wanted in wanted_sets:
            group = kept.group(device, spool, uris, wanted)
            fresh = pa.PrinterAttributes(ops.settings).group(device, spool, uris, wanted)
            assert group.attributes == fresh.attributes
            whole = pa._select(pa.PrinterAttributes(ops.settings)(device, spool, uris), wanted)
            assert list(group.attributes) == whole
            sent, made = (
                encode_message(make_response(StatusCode.SUCCESSFUL_OK, 1, groups=[g]))
                for g in (group, fresh)
            )
            assert sent == made

    uris = pa.printer_uris("localhost:631", secure=False, tls=True)
    changes = [
        lambda: None,
        lambda: device.set_fault(ConditionKind.JAM),
        lambda: device.set_fault(ConditionKind.JAM, False),
        lambda: device.set_supply_level(device.supplies[0], 3),
        lambda: device.set_tray_level(device.trays[0], 0),
        lambda: device.print_impression(device.trays[1], color=True),
        lambda: device.set_tray_level(device.trays[2], 117),  # a level alone, no alert
        lambda: device.set_supply_level(device.supplies[1], device.supplies[1].capacity // 2),
        lambda: spool.create("ipp", name="queued"),
        lambda: device.update_identity(location="Room 101"),
        lambda: device.set_console(operator_message="SERVICE MODE"),
        lambda: device.set_paused(True),
        lambda: device.set_accepting(False),
        lambda: device.set_hold_new_jobs(True),
        lambda: clock.__setitem__(0, clock[0] + 0.5),  # the same second
        lambda: clock.__setitem__(0, clock[0] + 1),  # the next one
        lambda: clock.__setitem__(0, clock[0] + 3600),
    ]
    for change in changes:
        change()
        check(uris)
    check(pa.printer_uris("[::1]:8631", secure=True, tls=True))  # another Host
    check(uris)
    # and what they say is the device's state now, not at the first answer
    now = kept.group(device, spool, uris, frozenset({"all"}))
    assert now["printer-up-time"].value == int(clock[0]) - int(device.started_at) >= 3606
    assert now["queued-job-count"].value == 1
    assert now["printer-impressions-completed"].value == 1
    assert now["printer-state-message"].value == "SERVICE MODE"
    assert now["printer-is-accepting-jobs"].value is False
    assert now["printer-location"].value == "Room 101"
    assert "hold-new-jobs-report" in now["printer-state-reasons"].values
    assert b"level=117;" in now["printer-input-tray"].values[2]
    assert now["printer-current-time"].value.timestamp() == int(clock[0])
    store.close()


def test_a_printer_request_answered_again_is_answered_as_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Get-Printer-Attributes request answered before (the same octets, so RequestMemo
    hands back the same groups) is answered without its checks: after every kind of change,
    with other request-ids, versions and Hosts, its answer must be octet for octet the one
    the whole pipeline gives; a request-id of 0 is still refused."""
    from mfpd.codecs.ipp.encode import encode_message, make_request
    from mfpd.codecs.ipp.memo import RequestMemo
    from mfpd.device.alerts import ConditionKind
    from mfpd.services.ipp import printer_attributes as pa

    store, device, spool, ops = _setup(tmp_path)
    clock = [device.started_at + 5.25]
    monkeypatch.setattr(pa.time, "time", lambda: clock[0])
    memo = RequestMemo()
    requests = [
        encode_message(
            make_request(
                Operation.GET_PRINTER_ATTRIBUTES,
                1,
                [b.uri("printer-uri", "ipp://localhost/ipp/print"),
                 b.keyword("requested-attributes", *names)],
                version=version,
            )
        )
        for names, version in [
            (("all",), (2, 0)),
            (("all",), (1, 1)),
            (("printer-description",), (2, 0)),
            (("all", "media-col-database"), (2, 0)),
            (("printer-state", "printer-state-reasons", "marker-levels"), (2, 0)),
        ]
    ]  # fmt: skip
    hosts = [pa.printer_uris("localhost:631", secure=False, tls=True),
             pa.printer_uris("[::1]:8631", secure=True, tls=True)]  # fmt: skip
    request_id = [1]

    def ask(octets: bytes, uris: pa.PrinterUris, request_id: int) -> tuple[bytes, bytes]:
        data = octets[:4] + request_id.to_bytes(4, "big", signed=True) + octets[8:]
        message, _ = memo.decode(data)

        async def answer(ops: IppOperations, small: bool) -> Message:
            async def body() -> AsyncIterator[bytes]:
                if False:
                    yield b""

            return await ops.handle(message, body(), uris, "127.0.0.1:4000", small)

        fresh = IppOperations(device, spool, 1 << 20)
        return tuple(  # type: ignore[return-value]
            encode_message(asyncio.run(answer(o, small)))
            for o, small in ((ops, True), (fresh, False))
        )

    def check() -> None:
        for uris in (*hosts, hosts[0]):
            for octets in requests:
                request_id[0] += 1
                again, afresh = ask(octets, uris, request_id[0])
                assert again == afresh and again[2:4] == b"\x00\x00"

    changes = [
        lambda: None,
        lambda: device.set_fault(ConditionKind.JAM),
        lambda: device.set_fault(ConditionKind.JAM, False),
        lambda: device.set_supply_level(device.supplies[0], 3),
        lambda: device.print_impression(device.trays[1], color=True),
        lambda: spool.create("ipp", name="queued"),
        lambda: device.update_identity(location="Room 101"),
        lambda: device.set_paused(True),
        lambda: device.set_accepting(False),
        lambda: clock.__setitem__(0, clock[0] + 1),
    ]
    for change in changes:
        change()
        check()
    assert len(ops._printer_requests) == len(requests)  # known: answered the short way
    zero, afresh = ask(requests[0], hosts[0], 0)
    assert zero == afresh and zero[2:4] == StatusCode.CLIENT_ERROR_BAD_REQUEST.to_bytes(2, "big")
    store.close()


def test_only_small_requests_are_remembered_after_their_answer(tmp_path: Path) -> None:
    """What is learnt about a request (its groups checked, its requested-attributes set) is
    kept only for the small ones the fast path remembers: a client sending large requests
    cannot make the operations hold them."""
    store, _, _, ops = _setup(tmp_path)
    wanted = AttributeGroup(
        DelimiterTag.OPERATION,
        (b.keyword("requested-attributes", *(f"x-{n}" for n in range(900))),),
    )
    message = _message(Operation.GET_PRINTER_ATTRIBUTES, wanted)

    async def ask(small: bool) -> Message:
        async def body() -> AsyncIterator[bytes]:
            if False:
                yield b""

        return await ops.handle(message, body(), ops.uris, "127.0.0.1", small)

    large = asyncio.run(ask(small=False))
    assert large.code == StatusCode.SUCCESSFUL_OK and not ops._checked and not ops._wanted
    assert not ops._printer_requests
    assert not ops._printer_attributes._answers  # 900 names: answered, not kept
    again = asyncio.run(ask(small=True))
    assert len(ops._checked) == 1 and len(ops._wanted) == 1
    assert again.groups == large.groups
    store.close()
