"""The security audit log: the ring in SQLite (bounded, persistent, paged), what feeds it
(the bus, settings diffs with secrets masked, IP-filter drops per rule per minute) and the
almost-full warning in the device's alert table."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from mfpd.config import Config
from mfpd.device.jobs import JobState
from mfpd.device.machine import build_device
from mfpd.device.spool import Spool
from mfpd.device.store import JobStore
from mfpd.security import audit_log
from mfpd.security.audit_events import MASK, Actor, AuditFeed, FilterDrops, diff, mask
from mfpd.security.audit_log import DB_NAME, AuditLog, read_entries, to_csv


def _size(log: AuditLog) -> int:
    """The database file with everything in it (the WAL checkpointed into it)."""
    log._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return log.path.stat().st_size


def _wal(state_dir: Path) -> int:
    wal = state_dir / f"{DB_NAME}-wal"
    return wal.stat().st_size if wal.exists() else 0


# The WAL is checkpointed every 256 pages and cut back to 1 MiB (journal_size_limit).
WAL_BOUND = 256 * (4096 + 24) + 32 + 4096


def test_entries_are_newest_first_paged_and_kept_across_a_reopen(tmp_path: Path) -> None:
    clock = iter(range(1000, 2000)).__next__
    log = AuditLog(tmp_path, 100, clock=lambda: float(clock()))
    log.record("startup", interface="device")
    for n in range(10):
        log.record("print-job", user=f"u{n}", address="10.0.0.9", interface="ipp", job=n)
    page = log.entries(limit=4)
    assert [e.id for e in page] == [11, 10, 9, 8]
    assert page[0].event_id == audit_log.PRINT_JOB and page[0].details == {"job": 9}
    assert [e.id for e in log.entries(limit=4, before=8)] == [7, 6, 5, 4]
    assert [e.id for e in log.entries(limit=50, since=1009.0)] == [11, 10]
    log.close()
    again = AuditLog(tmp_path, 100)
    assert again.last_id == 11 and again.count() == 11
    assert again.record("shutdown").id == 12
    again.close()
    # The CLI's reader, with no daemon.
    assert [e.event for e in read_entries(tmp_path)][:2] == ["shutdown", "print-job"]


def test_the_ring_wraps_without_growing_the_database(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, 50)
    details = {"name": "x" * 300, "key": "services.lpd.enabled"}
    for _ in range(50):
        log.record("config-change", user="admin", address="192.0.2.1", **details)
    full = _size(log)
    for _ in range(500):
        log.record("config-change", user="admin", address="192.0.2.1", **details)
    assert log.count() == 50
    ids = [e.id for e in log.entries(limit=1000)]
    assert ids == list(range(550, 500, -1))  # the newest 50, the oldest gone
    assert _wal(tmp_path) <= WAL_BOUND
    # The left edge of the B-tree frees a page as the right one fills: a page or two more
    # than the first fill, and then no more however often the ring turns.
    turned = _size(log)
    assert turned <= full + 2 * 4096, (full, turned)
    for _ in range(1000):
        log.record("config-change", user="admin", address="192.0.2.1", **details)
    assert _size(log) == turned
    log.close()


def test_the_ring_at_15000_entries(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    assert log.capacity == 15000

    def fill(count: int) -> None:
        for n in range(count):
            log.record(
                "print-job", user="alice", address="10.0.0.1", interface="lpd", job=n,
                name=f"report {n}",
            )  # fmt: skip

    fill(15000)
    full = _size(log)
    fill(31000)
    assert log.count() == 15000
    newest = log.entries(limit=15000)
    assert (newest[0].id, newest[-1].id) == (46000, 31001)
    assert _wal(tmp_path) <= WAL_BOUND
    # Rows a few bytes longer (job numbers of five digits) may take a few pages more.
    assert _size(log) <= full * 1.03, (full, _size(log))
    log.close()


def test_a_smaller_capacity_keeps_the_newest(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, 30)
    for n in range(30):
        log.record("print-job", job=n)
    log.close()
    smaller = AuditLog(tmp_path, 10)
    assert smaller.count() == 10
    assert [e.details["job"] for e in smaller.entries(limit=3)] == [29, 28, 27]
    smaller.record("shutdown")
    assert smaller.count() == 10 and smaller.entries(limit=1)[0].id == 31
    smaller.close()


def test_details_are_bounded(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, 10)
    entry = log.record("print-job", user="u" * 10_000, name="n" * 100_000)
    assert len(entry.user) == audit_log.MAX_FIELD
    stored = log.entries(limit=1)[0]
    assert (
        "truncated" in stored.details and len(stored.details["truncated"]) < audit_log.MAX_DETAILS
    )
    log.close()


def test_csv_export_is_rfc4180_with_a_header(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, 10, clock=lambda: 0.0)
    log.record("login-failure", user='bad "user", x', address="::1", interface="https",
               outcome="failure", path="/login")  # fmt: skip
    rows = list(csv.reader(io.StringIO(to_csv(log.entries()))))
    assert rows[0] == list(audit_log.CSV_COLUMNS)
    assert rows[1] == [
        "1", "1970-01-01T00:00:00Z", "30", "login-failure", 'bad "user", x', "::1", "https",
        "failure", '{"path":"/login"}',
    ]  # fmt: skip
    log.close()


def test_the_almost_full_warning_is_an_alert_until_an_export(tmp_path: Path) -> None:
    device = build_device(Config())
    log = AuditLog(tmp_path, 20)
    feed = AuditFeed(log, device)
    feed.follow(device.events)
    for _ in range(17):
        log.record("print-job")
    assert "audit-log-almost-full-warning" not in [str(r) for r in device.reasons]
    log.record("print-job")  # 18 of 20 unexported: 90 %
    assert "audit-log-almost-full-warning" in [str(r) for r in device.reasons]
    alert = next(a for a in device.alerts if a.kind.value == "audit-log-almost-full")
    assert (int(alert.info.code), alert.info.severity.name) == (1, "WARNING")
    assert device.state.value == "idle"  # a warning: printing goes on
    feed.exported(log.last_id)
    assert "audit-log-almost-full-warning" not in [str(r) for r in device.reasons]
    # The mark survives a restart: a fresh feed over the same file raises nothing.
    log.close()
    again = AuditFeed(AuditLog(tmp_path, 20), build_device(Config()))
    again.follow(again.device.events)
    assert not again.device.alerts
    again.log.close()


def test_jobs_snmp_failures_and_identity_edits_come_from_the_bus(tmp_path: Path) -> None:
    config = Config()
    device = build_device(config)
    spool = Spool(JobStore(tmp_path), tmp_path / "spool", device.events, config.spool)
    log = AuditLog(tmp_path, 100)
    feed = AuditFeed(log, device)
    feed.follow(device.events)
    job = spool.create("lpd", name="report", user="bob", host="192.0.2.7")
    spool.finish(job)
    spool.cancel(job)
    device.events.publish(
        "snmp.auth-failure", peer="192.0.2.8:40000", reason="wrong authentication digest",
        version="v3", user="admin",
    )  # fmt: skip
    with feed.acting(Actor("admin", "192.0.2.9", "https")):
        device.update_identity(location="Room 7")
    device.update_identity(contact="ops")  # by SNMP or IPP: no actor known here
    found = {e.event + "/" + e.interface: e for e in log.entries()}
    printed = found["print-job/lpd"]
    assert (printed.user, printed.address, printed.outcome) == ("bob", "192.0.2.7", "canceled")
    snmp = found["login-failure/snmp"]
    assert (snmp.event_id, snmp.user, snmp.address) == (
        audit_log.SNMPV3,
        "admin",
        "192.0.2.8:40000",
    )
    location = found["config-change/https"]
    assert location.details == {"key": "identity.location", "old": "", "new": "Room 7"}
    assert (location.user, location.address) == ("admin", "192.0.2.9")
    assert found["config-change/device"].details["key"] == "identity.contact"
    assert job.state is JobState.CANCELED
    log.close()


def test_configuration_changes_are_diffed_key_by_key_with_secrets_masked() -> None:
    before = {"services": {"lpd": {"enabled": True}, "snmp": {"write_community": "",
              "users": [{"name": "a", "auth_key": "old-secret-1"}]}}}  # fmt: skip
    after = {"services": {"lpd": {"enabled": False}, "snmp": {"write_community": "s3cret",
             "users": [{"name": "a", "auth_key": "new-secret-2"}]}}}  # fmt: skip
    changes = diff(before, after)
    assert set(changes) == {
        "services.lpd.enabled", "services.snmp.write_community", "services.snmp.users",
    }  # fmt: skip
    assert mask("services.snmp.write_community", "s3cret") == MASK
    assert mask("services.snmp.write_community", "") == ""
    new = changes["services.snmp.users"][1]
    assert mask("services.snmp.users", new) == [{"name": "a", "auth_key": MASK}]
    assert "secret" not in repr(mask("x", {"ipsec": {"pre_shared_key": "k", "password": "p"}}))


def test_filter_drops_are_one_entry_per_rule_per_minute(tmp_path: Path) -> None:
    now = [600.0]
    log = AuditLog(tmp_path, 100)
    drops = FilterDrops(log, clock=lambda: now[0])
    for n in range(500):
        drops.drop(3, f"198.51.100.{n % 20}", "ipp", "tcp")
    drops.drop(4, "2001:db8::1", "snmp", "udp", "reject")
    drops.flush()
    assert log.count() == 0  # the minute is not over
    now[0] = 661.0
    drops.drop(3, "198.51.100.1", "ipp", "tcp")  # a new minute for rule 3 closes the old one
    first = log.entries()
    assert len(first) == 1 and first[0].details["count"] == 500
    assert len(first[0].details["sources"]) == FilterDrops.MAX_SOURCES
    assert first[0].event_id == audit_log.IP_FILTER_DROP and first[0].outcome == "dropped"
    drops.flush()  # rule 4's minute is over
    drops.flush(everything=True)  # at stop: rule 3's open minute too
    rules = sorted((e.details["rule"], e.details["count"]) for e in log.entries())
    assert rules == [(3, 1), (3, 500), (4, 1)]
    log.close()


def test_the_database_is_private(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, 10)
    log.record("startup")
    for name in (DB_NAME, f"{DB_NAME}-wal"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o600, name
    log.close()


def test_a_flood_of_snmp_failures_is_summarised_past_its_budget(tmp_path: Path) -> None:
    now = [120.0]
    device = build_device(Config())
    log = AuditLog(tmp_path, 100)
    feed = AuditFeed(log, device)
    feed.snmp_failures._clock = lambda: now[0]
    feed.follow(device.events)
    for n in range(1000):  # forged sources cost the sender nothing
        device.events.publish(
            "snmp.auth-failure", peer=f"203.0.113.{n % 50}:161", reason="unknown community",
            version="v2c", user="",
        )  # fmt: skip
    assert log.count() == 10
    now[0] = 185.0
    feed.flush()
    summary = log.entries(limit=1)[0]
    assert (summary.event, summary.interface, summary.details["count"]) == (
        "login-failure", "snmp", 990,
    )  # fmt: skip
    assert len(summary.details["sources"]) == 10 and log.count() == 11
    log.close()
