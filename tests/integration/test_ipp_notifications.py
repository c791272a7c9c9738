"""IPP event notifications (RFC 3995 subscriptions, RFC 3996 ippget) on the real daemon, with
Debian's ipptool files and ipptool's XML output for the events themselves."""

from __future__ import annotations

import functools
import plistlib
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Mfpd, need
from tests.ipp_samples import ipptool as run_ipptool
from tests.ipp_samples import prepare

NOTIFY_FILES = (
    "create-printer-subscription.test",
    "get-subscriptions.test",
    "get-notifications.test",
)

SUBSCRIBE = """
{{
 NAME "Subscribe to {events}"
 OPERATION Create-Printer-Subscriptions
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR language attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR name requesting-user-name alice
 GROUP subscription-attributes-tag
 ATTR keyword notify-pull-method ippget
 ATTR keyword notify-events {events}
 STATUS successful-ok
 EXPECT notify-subscription-id OF-TYPE integer WITH-VALUE >0
 DISPLAY notify-subscription-id
}}
"""

PULL = """
{
 NAME "Get-Notifications"
 OPERATION Get-Notifications
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR language attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR name requesting-user-name alice
 ATTR integer notify-subscription-ids $id
 STATUS successful-ok
}
"""

PRINT = """
{
 NAME "Print-Job"
 OPERATION Print-Job
 GROUP operation-attributes-tag
 ATTR charset attributes-charset utf-8
 ATTR language attributes-natural-language en
 ATTR uri printer-uri $uri
 ATTR name requesting-user-name alice
 ATTR mimeMediaType document-format application/pdf
 FILE document-a4.pdf
 STATUS successful-ok
}
"""


# These files finish in seconds: two minutes is already a hang.
ipptool = functools.partial(run_ipptool, timeout=120)


@pytest.fixture(scope="session")
def ipptool_dir() -> Path:
    """ipptool's .test files beside the documents they name, cached across runs."""
    need("ipptool", "gs")
    directory = ROOT / ".cache" / "ipptool"
    prepare(directory, *NOTIFY_FILES)
    return directory


def passes(code: int, out: str) -> int:
    """How many tests passed, when none failed; fails the test otherwise."""
    lines = out.splitlines()
    failures = [line for line in lines if "[FAIL]" in line]
    assert failures == [], "\n".join(failures) + out[-3000:]
    assert code == 0, out[-3000:]
    print(*(line for line in lines if re.search(r"\[(PASS|SKIP)\]|^Summary:", line)), sep="\n")
    return sum("[PASS]" in line for line in lines)


def subscribe(mfpd: Mfpd, directory: Path, tmp_path: Path, events: str) -> int:
    test = tmp_path / "subscribe.test"
    test.write_text(SUBSCRIBE.format(events=events))
    code, out = ipptool(mfpd, directory, "-t", str(test))
    passes(code, out)
    return int(re.findall(r"notify-subscription-id \(integer\) = (\d+)", out)[0])


def pull(mfpd: Mfpd, directory: Path, tmp_path: Path, sub: int) -> list[dict[str, Any]]:
    """The Event Notification groups of a Get-Notifications, as ipptool decoded them."""
    test = tmp_path / "pull.test"
    test.write_text(PULL)
    code, out = ipptool(mfpd, directory, "-X", "-d", f"id={sub}", str(test))
    assert code == 0, out[-3000:]
    plist = plistlib.loads(out[: out.index("</plist>") + len("</plist>")].encode())
    (result,) = plist["Tests"]
    groups: list[dict[str, Any]] = result["ResponseAttributes"]
    return [g for g in groups if "notify-sequence-number" in g]


def test_ipptool_subscription_files(mfpd: Mfpd, ipptool_dir: Path) -> None:
    code, out = ipptool(mfpd, ipptool_dir, "-t", "create-printer-subscription.test")
    assert passes(code, out) == 1  # the pull subscription; the push one needs -d recipient
    sub = int(re.findall(r"notify-subscription-id \(integer\) = (\d+)", out)[0])
    code, out = ipptool(mfpd, ipptool_dir, "-t", "get-subscriptions.test")
    assert passes(code, out) == 1
    # get-notifications.test wants an event: the operator jams the printer and clears it.
    mfpd.cli("fault", "jam")
    mfpd.cli("fault", "jam", "--clear")
    code, out = ipptool(mfpd, ipptool_dir, "-t", "-d", f"id={sub}", "get-notifications.test")
    assert passes(code, out) == 1
    # One store for both listeners: subscribed on 631, pulled over IPPS on 443.
    code, out = ipptool(
        mfpd, ipptool_dir, "-t", "-d", f"id={sub}", "get-notifications.test",
        scheme="ipps", service="https",
    )  # fmt: skip
    assert passes(code, out) == 1
    assert "Traceback" not in mfpd.log.read_text()


def test_a_job_life_and_a_jam_in_get_notifications(
    mfpd: Mfpd, ipptool_dir: Path, tmp_path: Path
) -> None:
    sub = subscribe(mfpd, ipptool_dir, tmp_path, "job-created,job-state-changed,job-completed")
    test = tmp_path / "print.test"
    test.write_text(PRINT)
    passes(*ipptool(mfpd, ipptool_dir, "-t", str(test)))
    job = mfpd.wait_jobs_done(1)[0]
    assert job["state"] == "completed"
    events = pull(mfpd, ipptool_dir, tmp_path, sub)
    names = [e["notify-subscribed-event"] for e in events]
    assert names[0] == "job-created" and names[-1] == "job-completed", names
    assert set(names[1:-1]) == {"job-state-changed"}, names
    assert 5 in [e["job-state"] for e in events[1:-1]]  # it was processing at some point
    assert all(e["notify-job-id"] == job["id"] for e in events)
    sequence = [e["notify-sequence-number"] for e in events]
    assert sequence == list(range(1, len(events) + 1))
    assert events[-1]["job-state"] == 9  # completed

    jam = subscribe(mfpd, ipptool_dir, tmp_path, "printer-state-changed")
    mfpd.cli("fault", "jam")
    mfpd.cli("fault", "jam", "--clear")
    events = pull(mfpd, ipptool_dir, tmp_path, jam)
    assert [e["notify-subscribed-event"] for e in events] == ["printer-state-changed"] * 2
    assert [e["printer-state"] for e in events] == [5, 3]  # stopped, then idle
    assert "media-jam-error" in str(events[0]["printer-state-reasons"])
    assert [e["notify-sequence-number"] for e in events] == [1, 2]
