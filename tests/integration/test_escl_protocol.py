"""eSCL on the real daemon, request by request (issue 15, the eSCL server and its tests):
what each endpoint answers, the access rules (no CSRF or login redirect, the IP filter,
[scan] require_auth with HTTP Basic), the refusals with eSCL's status codes, hostile
ScanSettings, an abandoned job, and 10,000 job creations with the daemon's memory bounded.

The client is http.client over one kept-alive connection, sending what sane-airscan and the
escl backend send (test_escl_sane.py drives those clients themselves)."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Callable

import pytest

from tests.conftest import FAST_CONFIG, Mfpd
from tests.integration.escl_clients import (
    NS,
    Escl,
    load_feeder,
    rss_kib,
    settings_xml,
    uuid_of,
    wait_until,
)

pytestmark = pytest.mark.integration

SERVER = "Xerox WorkCentre 7755 IPP/2.0"
REVEALING = re.compile(rb"python|aiohttp|werkzeug|uvloop", re.IGNORECASE)


def assert_discreet(answer_headers: dict[str, str], body: bytes) -> None:
    """Nothing names the HTTP library: the Server header is the device's."""
    assert answer_headers.get("server") == SERVER, answer_headers
    for name, value in answer_headers.items():
        assert not REVEALING.search(f"{name}: {value}".encode()), (name, value)
    assert not REVEALING.search(body), body[:300]


def test_capabilities_and_status(mfpd: Mfpd) -> None:
    for port in (mfpd.port("http"), mfpd.port("https")):
        client = Escl(port, secure=port == mfpd.port("https"))
        answer = client.request("GET", "/eSCL/ScannerCapabilities")
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("text/xml")
        assert_discreet(answer.headers, answer.body)
        caps = answer.xml()
        assert caps.findtext("pwg:MakeAndModel", namespaces=NS) == "Xerox WorkCentre 7755"
        assert caps.findtext("pwg:Version", namespaces=NS) == "2.63"
        assert caps.find("scan:Adf/scan:AdfDuplexInputCaps", NS) is not None
        # The URIs lead back the way the client came.
        assert caps.findtext("scan:AdminURI", namespaces=NS) == f"{client.base}/"
        icon = client.request("GET", "/icon.png")
        assert icon.status == 200 and icon.body[:4] == b"\x89PNG"
        status = client.status()
        assert status.findtext("pwg:State", namespaces=NS) == "Idle"
        assert status.findtext("scan:AdfState", namespaces=NS) == "ScannerAdfEmpty"
        client.close()


def test_a_job_from_creation_to_the_last_page(mfpd: Mfpd) -> None:
    """No session and no CSRF token: 201 with an absolute Location ending in the JobUuid;
    the image streamed with its Content-Type and Content-Length; ScanImageInfo; 404 after
    the last page; the job Completed in ScannerStatus."""
    client = Escl(mfpd.port("http"))
    created = client.create(settings_xml(mode="Grayscale8", dpi=100, mime="image/png"))
    assert created.status == 201, created
    location = created.headers["location"]
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:{mfpd.port('http')}/eSCL/ScanJobs/[-0-9a-f]+", location
    )
    uuid = uuid_of(created)
    info = client.job_info(uuid)
    assert info is not None
    assert info.findtext("pwg:JobUri", namespaces=NS) == f"/eSCL/ScanJobs/{uuid}"
    assert info.findtext("pwg:JobState", namespaces=NS) in ("Pending", "Processing", "Completed")
    images = client.fetch_all(uuid)
    assert len(images) == 1
    page = images[0]
    assert page.headers["content-type"] == "image/png"
    assert int(page.headers["content-length"]) == len(page.body)
    assert page.body[:8] == b"\x89PNG\r\n\x1a\n"
    assert_discreet(page.headers, b"")
    image_info = client.request("GET", f"/eSCL/ScanJobs/{uuid}/ScanImageInfo")
    assert image_info.status == 200
    root = image_info.xml()
    assert root.findtext("scan:ActualWidth", namespaces=NS) == str(round(2480 * 100 / 300))
    assert root.findtext("scan:ActualHeight", namespaces=NS) == str(round(3508 * 100 / 300))
    gone = client.next_document(uuid)
    assert gone.status == 404
    assert_discreet(gone.headers, gone.body)
    wait_until(
        lambda: (
            (i := client.job_info(uuid)) is not None
            and i.findtext("pwg:JobState", namespaces=NS) == "Completed"
        ),
        "the job completed",
    )
    jobs = [j for j in mfpd.jobs() if j.get("kind") == "scan"]
    assert jobs and jobs[-1]["state"] == "completed"


def test_two_requests_at_once_get_two_images(mfpd: Mfpd) -> None:
    """Two NextDocument requests of one job on two connections at once (a client that asks
    for the next page as soon as the last byte of this one is in): each image goes out
    once, the two answers are two different images, and the job's images are all served."""
    assert load_feeder(mfpd) == 10
    client = Escl(mfpd.port("http"))
    uuid = uuid_of(client.create(settings_xml(source="Feeder", dpi=75, mime="image/png")))

    def scanned() -> int:
        info = client.job_info(uuid)
        return int(info.findtext("pwg:ImagesCompleted", namespaces=NS) or 0) if info else 0

    wait_until(lambda: scanned() >= 2, "two images scanned")
    bodies: list[bytes] = []

    def fetch() -> None:
        other = Escl(mfpd.port("http"))
        answer = other.next_document(uuid)
        assert answer.status == 200, answer
        bodies.append(answer.body)
        other.close()

    pair = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in pair:
        thread.start()
    for thread in pair:
        thread.join(60)
    digests = [hashlib.sha256(b).hexdigest() for b in bodies]
    assert len(digests) == 2 and digests[0] != digests[1]
    rest = client.fetch_all(uuid)
    assert len(rest) == 8
    assert len({hashlib.sha256(b).hexdigest() for b in [*bodies, *(a.body for a in rest)]}) == 10


def test_unknown_jobs_and_cancel(mfpd: Mfpd) -> None:
    client = Escl(mfpd.port("http"))
    for method, path in (
        ("GET", "/eSCL/ScanJobs/nonesuch/NextDocument"),
        ("GET", "/eSCL/ScanJobs/nonesuch/ScanImageInfo"),
        ("DELETE", "/eSCL/ScanJobs/nonesuch"),
    ):
        answer = client.request(method, path)
        assert answer.status == 404, (method, path, answer)
        assert_discreet(answer.headers, answer.body)
    uuid = uuid_of(client.create(settings_xml(dpi=300, mime="image/jpeg")))
    deleted = client.request("DELETE", f"/eSCL/ScanJobs/{uuid}")
    assert deleted.status == 200
    assert client.next_document(uuid).status == 404
    wait_until(
        lambda: (
            (i := client.job_info(uuid)) is not None
            and i.findtext("pwg:JobState", namespaces=NS) == "Canceled"
        ),
        "the job canceled",
    )
    wait_until(lambda: client.status().findtext("pwg:State", namespaces=NS) == "Idle", "idle")


def test_the_feeder_refuses_with_409(mfpd: Mfpd) -> None:
    """A Feeder job while the feeder is empty, jammed or open: 409 Conflict, and
    ScannerStatus says why (AdfState); once loaded, the same request is accepted."""
    client = Escl(mfpd.port("http"))
    feeder = settings_xml(source="Feeder", dpi=75, mime="image/jpeg")
    assert client.create(feeder).status == 409
    assert client.status().findtext("scan:AdfState", namespaces=NS) == "ScannerAdfEmpty"
    assert load_feeder(mfpd) == 10
    for fault, adf_state in (
        ("feeder-jam", "ScannerAdfJam"),
        ("platen-cover-open", "ScannerAdfHatchOpen"),
    ):
        mfpd.cli("fault", fault)
        answer = client.create(feeder)
        assert answer.status == 409, answer
        assert client.status().findtext("scan:AdfState", namespaces=NS) == adf_state
        mfpd.cli("fault", fault, "--clear")
    assert client.status().findtext("scan:AdfState", namespaces=NS) == "ScannerAdfLoaded"
    uuid = uuid_of(client.create(feeder))
    assert len(client.fetch_all(uuid)) == 10


def test_busy_is_503(mfpd_factory: Callable[..., Mfpd]) -> None:
    """[scan] max_jobs = 1: while one client's job lives, another's ScanJobs POST is 503 with
    Retry-After; once the first job's images are fetched, the second is accepted."""
    daemon = mfpd_factory(FAST_CONFIG + "\n[scan]\nmax_jobs = 1\n")
    client, other = Escl(daemon.port("http")), Escl(daemon.port("http"))
    uuid = uuid_of(client.create(settings_xml(dpi=75, mime="image/jpeg")))
    busy = other.create(settings_xml(dpi=75))
    assert busy.status == 503, busy
    assert busy.headers.get("retry-after")
    assert_discreet(busy.headers, busy.body)
    assert len(client.fetch_all(uuid)) == 1
    assert uuid_of(other.create(settings_xml(dpi=75)))


@pytest.mark.parametrize(
    ("settings", "element"),
    [
        (settings_xml(dpi=123), b"XResolution"),
        (settings_xml(mode="RGB48"), b"ColorMode"),
        (settings_xml(mime="image/gif"), b"DocumentFormat"),
        (settings_xml(duplex=True), b"Duplex"),
        (settings_xml(region=(0, 0, 0, 100)), b"ScanRegion"),
        (settings_xml(region=(3000, 0, 1000, 1000)), b"ScanRegion"),
        (settings_xml(region=(0, 0, 99999, 99999)), b"ScanRegion"),
        (settings_xml(region=(-5, 0, 100, 100)), b"ScanRegion"),
        (settings_xml(source="Camera"), b"InputSource"),
        (b"<not-xml", b"ScanSettings"),
    ],
)
def test_bad_settings_are_400_naming_the_element(
    mfpd: Mfpd, settings: bytes, element: bytes
) -> None:
    client = Escl(mfpd.port("http"))
    answer = client.create(settings)
    assert answer.status == 400, answer
    assert element in answer.body
    assert_discreet(answer.headers, answer.body)
    assert client.status().findtext("pwg:State", namespaces=NS) == "Idle"


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><scan:ScanSettings xmlns:scan='x'>&lol9;</scan:ScanSettings>"
)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b"<scan:ScanSettings xmlns:scan='x'><scan:ColorMode>&xxe;</scan:ColorMode>"
            b"</scan:ScanSettings>",
            id="xxe",
        ),
        pytest.param(BILLION_LAUGHS, id="billion-laughs"),
        pytest.param(
            b"<scan:ScanSettings xmlns:scan='x'>"
            + b"<a>" * 1000
            + b"</a>" * 1000
            + b"</scan:ScanSettings>",
            id="1000-deep",
        ),
    ],
)
def test_hostile_settings_are_400(mfpd: Mfpd, body: bytes) -> None:
    client = Escl(mfpd.port("http"))
    answer = client.create(body)
    assert answer.status == 400, answer
    assert b"root:" not in answer.body
    assert client.status().findtext("pwg:State", namespaces=NS) == "Idle"
    assert "escl: 127.0.0.1: POST /eSCL/ScanJobs: 400" in mfpd.log.read_text()


def test_an_oversized_body_is_413_and_the_daemon_serves_on(mfpd: Mfpd) -> None:
    client = Escl(mfpd.port("http"))
    padding = b"<!--" + b"x" * (10 * 1024 * 1024) + b"-->"
    answer = client.create(settings_xml() + padding)
    assert answer.status == 413, answer
    assert_discreet(answer.headers, answer.body)
    assert client.status().findtext("pwg:State", namespaces=NS) == "Idle"
    assert uuid_of(client.create(settings_xml()))


def test_max_settings_bytes_is_the_bound(mfpd_factory: Callable[..., Mfpd]) -> None:
    daemon = mfpd_factory(FAST_CONFIG + "\n[scan]\nmax_settings_bytes = 2000\n")
    client = Escl(daemon.port("http"))
    body = settings_xml()
    assert len(body) < 2000
    assert client.create(body + b" " * (2000 - len(body))).status == 201
    assert client.create(body + b" " * (2001 - len(body))).status == 413


def test_an_abandoned_job_is_gone_after_the_timeout(mfpd_factory: Callable[..., Mfpd]) -> None:
    daemon = mfpd_factory(FAST_CONFIG + "\n[scan]\nabandon_timeout = 1.0\n")
    client = Escl(daemon.port("http"))
    uuid = uuid_of(client.create(settings_xml(dpi=75)))
    # Never fetched: once the timeout has passed the job ends, its pages are removed, and
    # the scanner takes the next client.
    wait_until(
        lambda: (
            (i := client.job_info(uuid)) is None
            or i.findtext("pwg:JobState", namespaces=NS) in ("Canceled", "Aborted")
        ),
        "the abandoned job to end",
    )
    assert client.next_document(uuid).status == 404
    wait_until(lambda: client.status().findtext("pwg:State", namespaces=NS) == "Idle", "idle")
    # Its image went with it (the job's thumbnail stays for the job list).
    scans = daemon.state_dir / "scans"
    assert [p.name for p in scans.iterdir() if not p.name.endswith("-thumb.png")] == []
    assert uuid_of(client.create(settings_xml(dpi=75)))


def test_require_login_leaves_escl_alone(mfpd_factory: Callable[..., Mfpd]) -> None:
    """web.require_login sends browsers to /login; an eSCL client gets its answers."""
    daemon = mfpd_factory(FAST_CONFIG + "\n[web]\nrequire_login = true\n")
    client = Escl(daemon.port("http"))
    page = client.request("GET", "/")
    assert page.status in (302, 303), page
    assert client.capabilities().findtext("pwg:Version", namespaces=NS) == "2.63"
    uuid = uuid_of(client.create(settings_xml(dpi=75)))
    assert len(client.fetch_all(uuid)) == 1


def test_require_auth_asks_for_basic(mfpd_factory: Callable[..., Mfpd]) -> None:
    daemon = mfpd_factory(
        FAST_CONFIG + "\n[web]\ndefault_credentials = true\n[scan]\nrequire_auth = true\n"
    )
    client = Escl(daemon.port("http"))

    def basic(user: str, password: str) -> dict[str, str]:
        return {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        }

    for headers in (
        {},
        basic("admin", "wrong"),
        basic("nobody", "1111"),
        {"Authorization": "Basic %%%"},
    ):
        answer = client.request("GET", "/eSCL/ScannerCapabilities", headers=headers)
        assert answer.status == 401, (headers, answer)
        assert answer.headers["www-authenticate"].startswith('Basic realm="eSCL"')
        assert client.create(settings_xml(), headers).status == 401
    good = basic("admin", "1111")
    assert client.request("GET", "/eSCL/ScannerCapabilities", headers=good).status == 200
    created = client.create(settings_xml(dpi=75), good)
    uuid = uuid_of(created)
    assert client.request("GET", f"/eSCL/ScanJobs/{uuid}/NextDocument").status == 401
    for _ in range(200):
        answer = client.request("GET", f"/eSCL/ScanJobs/{uuid}/NextDocument", headers=good)
        if answer.status != 503:
            break
    assert answer.status == 200


def test_the_ip_filter_applies(mfpd_factory: Callable[..., Mfpd]) -> None:
    daemon = mfpd_factory(
        FAST_CONFIG + '\n[[ip_filter.rules]]\nsource = "127.0.0.2/32"\ndestination = "http"\n'
        'action = "reject"\n'
    )
    allowed = Escl(daemon.port("http"))
    assert allowed.capabilities() is not None
    refused = Escl(daemon.port("http"), source="127.0.0.2")
    with pytest.raises((ConnectionError, OSError)):
        refused.request("GET", "/eSCL/ScannerCapabilities")


def test_ten_thousand_job_creations_keep_memory_bounded(mfpd: Mfpd) -> None:
    """10,000 ScanJobs POSTs in a bounded loop, each canceled when accepted: every one
    answered (201 or 503), and the daemon's resident memory grows by less than 64 MiB."""
    assert mfpd.proc is not None
    client = Escl(mfpd.port("http"))
    small = settings_xml(dpi=75, mime="image/jpeg", region=(0, 0, 300, 300))
    warm = uuid_of(client.create(small))
    client.fetch_all(warm)
    before = rss_kib(mfpd.proc.pid)
    answers: dict[int, int] = {}
    for _ in range(10_000):
        answer = client.create(small)
        answers[answer.status] = answers.get(answer.status, 0) + 1
        if answer.status == 201:
            client.request("DELETE", "/eSCL/ScanJobs/" + uuid_of(answer))
    after = rss_kib(mfpd.proc.pid)
    assert set(answers) <= {201, 503}, answers
    assert sum(answers.values()) == 10_000
    assert answers.get(201, 0) > 0
    assert after - before < 64 * 1024, (before, after, answers)
    status = client.request("GET", "/eSCL/ScannerStatus")
    assert status.status == 200 and len(status.body) < 64 * 1024


def test_other_methods_are_405(mfpd: Mfpd) -> None:
    client = Escl(mfpd.port("http"))
    uuid = uuid_of(client.create(settings_xml(dpi=75)))
    for method, path in (
        ("PUT", "/eSCL/ScanJobs"),
        ("POST", "/eSCL/ScannerStatus"),
        # A HEAD must not count as the image retrieved (it would be dropped unsent).
        ("HEAD", f"/eSCL/ScanJobs/{uuid}/NextDocument"),
    ):
        answer = client.request(method, path, b"")
        assert answer.status == 405, (method, path, answer)
        assert_discreet(answer.headers, answer.body)
    assert len(client.fetch_all(uuid)) == 1
