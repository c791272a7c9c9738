"""The JSON API under /api/v1 on the real daemon: status, jobs, settings, actions, events, tokens,
the status channel on 3003, and schemathesis against the OpenAPI document the daemon serves."""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import FAST_CONFIG, Mfpd, has, need
from tests.documents import pdf_bytes
from tests.integration.test_ipp_admin import ipptool, op

pytestmark = pytest.mark.integration

TIMEOUT = 10


class Api:
    """The daemon's API over plain HTTP (port 80 + offset), with a token when given."""

    def __init__(self, mfpd: Mfpd, token: str | None = None, *, tls: bool = False) -> None:
        scheme, service = ("https", "https") if tls else ("http", "http")
        self.base = f"{scheme}://127.0.0.1:{mfpd.port(service)}/api/v1"
        self.http = requests.Session()
        self.token = token
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        # verify per request: a Session's verify gives way to REQUESTS_CA_BUNDLE.
        return self.http.request(method, self.base + path, timeout=TIMEOUT, verify=False, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def wait_job(self, job_id: int, state: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.get(f"/jobs/{job_id}").json()
            if job["state"] == state or time.monotonic() > deadline:
                assert job["state"] == state, job
                return job
            time.sleep(0.05)


def token(mfpd: Mfpd) -> str:
    """An API token, made at the console as an administrator would (`mfpd token`)."""
    return mfpd.cli("token", "tests").stdout.strip()


@pytest.fixture
def admin(mfpd: Mfpd) -> Api:
    return Api(mfpd, token(mfpd))


def closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def wait_until(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_status_is_the_device_every_protocol_reports(mfpd: Mfpd) -> None:
    api = Api(mfpd)
    response = api.get("/status")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    status = response.json()
    cli = mfpd.status()
    for key in ("state", "state_reasons", "display", "supplies", "trays", "bins", "counters"):
        assert status[key] == cli[key], key
    assert status["identity"]["model"] == "WorkCentre 7755"
    assert status["jobs"] == {"active": 0, "printing": None}
    # The server names the device, never the HTTP library underneath.
    server = response.headers["Server"]
    assert "Xerox" in server and "Python" not in server and "aiohttp" not in server


def test_a_document_posted_prints_with_its_options_and_has_a_preview(mfpd: Mfpd) -> None:
    api = Api(mfpd)
    response = api.post(
        "/jobs",
        params={"name": "report", "copies": "2", "user": "alice"},
        data=pdf_bytes(3),
        headers={"Content-Type": "application/pdf"},
    )
    assert response.status_code == 201, response.text
    job = response.json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert (job["name"], job["user"], job["source"], job["copies"]) == ("report", "alice", "web", 2)
    done = api.wait_job(job["id"], "completed")
    assert (done["pages"], done["impressions"], done["impressions_completed"]) == (3, 6, 6)
    # The same job in the CLI's list, from the same spool.
    assert next(j for j in mfpd.jobs() if j["id"] == job["id"])["state"] == "completed"
    if has("gs"):
        preview = api.get(f"/jobs/{job['id']}/preview")
        assert preview.status_code == 200
        assert preview.headers["Content-Type"] == "image/png"
        assert preview.content.startswith(b"\x89PNG\r\n\x1a\n")

    # A multipart form, as a browser sends it.
    files = {"file": ("notes.txt", b"line one\nline two\n", "text/plain")}
    response = api.post("/jobs", files=files, data={"copies": "1"})
    assert response.status_code == 201, response.text
    done = api.wait_job(response.json()["id"], "completed")
    assert (done["name"], done["format"], done["pages"]) == ("notes.txt", "text/plain", 1)
    listed = api.get("/jobs", params={"which": "completed"}).json()["jobs"]
    assert [j["id"] for j in listed][:2] == [done["id"], job["id"]]


def test_job_actions_are_the_administrators_and_secure_jobs_need_their_passcode(
    mfpd_factory: Callable[..., Mfpd],
) -> None:
    mfpd = mfpd_factory(FAST_CONFIG)
    anonymous, admin = Api(mfpd), Api(mfpd, token(mfpd))
    held = anonymous.post("/jobs", params={"hold": "true"}, data=b"held\n").json()
    assert held["state"] == "held"
    refused = anonymous.post(f"/jobs/{held['id']}/release")
    assert refused.status_code == 401
    assert refused.json()["status"] == 401 and refused.headers["WWW-Authenticate"]
    assert admin.post(f"/jobs/{held['id']}/release").status_code == 200
    admin.wait_job(held["id"], "completed")

    secure = anonymous.post("/jobs", params={"passcode": "4711"}, data=b"payslip\n").json()
    assert secure["state"] == "held" and secure["secure"]
    wrong = anonymous.post(f"/jobs/{secure['id']}/release", json={"passcode": "1234"})
    assert wrong.status_code == 403
    # Not even the administrator releases it without the passcode.
    assert admin.post(f"/jobs/{secure['id']}/release").status_code == 403
    right = anonymous.post(f"/jobs/{secure['id']}/release", json={"passcode": "4711"})
    assert right.status_code == 200, right.text
    admin.wait_job(secure["id"], "completed")

    pending = anonymous.post("/jobs", params={"hold": "true"}, data=b"x\n").json()
    assert anonymous.post(f"/jobs/{pending['id']}/cancel").status_code == 401
    canceled = admin.post(f"/jobs/{pending['id']}/cancel")
    assert canceled.json()["job"]["state"] == "canceled"
    again = admin.post(f"/jobs/{pending['id']}/cancel")
    assert again.status_code == 409 and "canceled" in again.json()["error"]
    assert admin.get("/jobs/999999").status_code == 404


def test_settings_apply_at_once_reach_every_protocol_and_survive_a_restart(
    mfpd_factory: Callable[..., Mfpd], tmp_path: Path
) -> None:
    need("snmpget")
    mfpd = mfpd_factory(FAST_CONFIG)
    api = Api(mfpd, token(mfpd))
    lpd, ipp, status, http = (mfpd.port(s) for s in ("lpd", "ipp", "status", "http"))
    settings = api.get("/config").json()
    assert settings["services"]["lpd"]["enabled"] is True
    assert "make" not in settings["identity"]  # only what an administrator may change

    patch = {"services": {"lpd": {"enabled": False}}, "identity": {"location": "Room 42"}}
    response = api.patch(
        "/config", data=json.dumps(patch), headers={"Content-Type": "application/merge-patch+json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["services"]["lpd"]["enabled"] is False
    assert closed(lpd)
    ports = {p["service"]: p for p in api.get("/ports").json()["ports"]}
    assert ports["lpd"]["state"] == "disabled"
    ipptool(
        mfpd, tmp_path,
        op("location", "Get-Printer-Attributes",
           "ATTR keyword requested-attributes printer-location",
           'EXPECT printer-location OF-TYPE text WITH-VALUE "Room 42"'),
    )  # fmt: skip
    snmp = subprocess.run(
        ["snmpget", "-v2c", "-c", "public", "-Ov", "-t", "2", f"127.0.0.1:{mfpd.port('snmp')}",
         "1.3.6.1.2.1.1.6.0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert 'STRING: "Room 42"' in snmp.stdout, snmp.stdout + snmp.stderr

    # Refused changes name the key and change nothing.
    bad = api.patch("/config", json={"services": {"raw": {"port": 70000}}})
    assert bad.status_code == 422 and "services.raw.port" in bad.json()["error"]
    both = api.patch("/config", json={"services": {"http": {"enabled": False}, "https": {
        "enabled": False}}})  # fmt: skip
    assert both.status_code == 422 and "unreachable" in both.json()["error"]
    assert api.patch("/config", json={"engine": {}}).status_code == 422
    assert not closed(http)

    # HTTP off takes IPP and the status channel with it; https still serves the API.
    secure = Api(mfpd, api.token, tls=True)
    off = secure.patch("/config", json={"services": {"http": {"enabled": False}}})
    assert off.status_code == 200, off.text
    assert wait_until(lambda: closed(http) and closed(ipp) and closed(status))
    ports = {p["service"]: p for p in secure.get("/ports").json()["ports"]}
    assert ports["ipp"]["state"] == "disabled" and "http" in ports["ipp"]["note"]
    logs = secure.get("/logs", params={"category": "config"}).json()["entries"]
    assert any("services.http.enabled" in e["message"] for e in logs)

    mfpd.stop()
    mfpd.start()
    assert closed(lpd)
    assert "http" not in mfpd.ports and "ipp" not in mfpd.ports and "lpd" not in mfpd.ports
    again = Api(mfpd, token(mfpd), tls=True)
    saved = again.get("/config").json()
    assert saved["identity"]["location"] == "Room 42"
    assert saved["services"]["lpd"]["enabled"] is False
    on = again.patch("/config", json={"services": {"http": {"enabled": True}, "lpd": None}})
    assert on.status_code == 200, on.text
    assert wait_until(lambda: not closed(http) and not closed(ipp) and not closed(lpd))


def _print_ways(mfpd: Mfpd) -> str:
    page = requests.get(f"http://127.0.0.1:{mfpd.port('http')}/print", timeout=TIMEOUT)
    match = re.search(r'<li id="print-ways">(.*?)</li>', page.text, re.S)
    assert page.status_code == 200 and match, page.text
    return " ".join(match.group(1).split())


def test_the_print_page_names_the_ports_the_device_listens_on(
    mfpd: Mfpd, admin: Api, tmp_path: Path
) -> None:
    """The Print page's "other ways to print" said ipp://HOST/ipp/print, LPD queue lp and
    raw TCP on port 9100, whatever the port table said; this daemon runs with a port offset
    (as every test daemon), so none of that was where it listened. The page now names the
    ports of /api/v1/ports, IPP's works, and a service switched off is not offered."""
    need("ipptool")
    live = {p["service"]: p["port"] for p in admin.get("/ports").json()["ports"]
            if p["state"] in ("listening", "moved")}  # fmt: skip
    assert live["raw"] != 9100 and live["ipp"] != 631
    ways = _print_ways(mfpd)
    ipp = f"ipp://127.0.0.1:{live['ipp']}/ipp/print"
    assert f"IPP at <code>{ipp}</code>" in ways, ways
    assert f"IPPS at <code>ipps://127.0.0.1:{live['https']}/ipp/print</code>" in ways, ways
    assert f"LPD queue <code>lp</code> on port <code>{live['lpd']}</code>" in ways, ways
    assert f"raw TCP (AppSocket) on port <code>{live['raw']}</code>" in ways, ways
    assert "<code>9100</code>" not in ways and "ipp://127.0.0.1/" not in ways
    result = subprocess.run(["ipptool", "-q", ipp, "get-printer-attributes.test"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    off = admin.patch("/config", json={"services": {"raw": {"enabled": False}}})
    assert off.status_code == 200, off.text
    assert wait_until(lambda: closed(live["raw"]))
    ways = _print_ways(mfpd)
    assert "raw TCP" not in ways and str(live["raw"]) not in ways, ways
    assert f"IPP at <code>{ipp}</code>" in ways and "LPD queue" in ways, ways


def test_operator_actions_and_the_event_stream(mfpd: Mfpd, admin: Api) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    stop = threading.Event()

    def follow() -> None:
        # The stream ends when the daemon stops at the end of the test: that is no error.
        with (
            contextlib.suppress(requests.RequestException),
            admin.request("GET", "/events", stream=True) as stream,
        ):
            assert stream.headers["Content-Type"] == "text/event-stream"
            kind = ""
            for line in stream.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line[6:])))
                if stop.is_set():
                    return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert wait_until(lambda: any(kind == "status" for kind, _ in events))
    assert events[0][1]["state"] == "idle"

    mfpd.cli("fault", "jam")
    assert wait_until(lambda: any(k == "status" and d["state"] == "stopped" for k, d in events))
    cleared = admin.post("/actions", json={"action": "clear", "kind": "jam"})
    assert cleared.status_code == 200 and cleared.json()["status"]["state"] == "idle"
    assert wait_until(lambda: events[-1][0] != "status" or events[-1][1]["state"] == "idle")

    job = admin.post("/jobs", data=b"hello\n", params={"name": "streamed"}).json()
    assert wait_until(
        lambda: any(k == "job" and d["id"] == job["id"] and d["state"] == "completed"
                    for k, d in events)
    )  # fmt: skip
    assert wait_until(lambda: any(k == "log" and "streamed" in d["message"] for k, d in events))
    stop.set()

    toner = admin.post("/actions", json={"action": "fault", "kind": "toner-low", "target": "cyan"})
    assert toner.status_code == 200
    assert "toner-low" in " ".join(admin.get("/status").json()["state_reasons"])
    assert admin.post("/actions", json={"action": "refill", "target": "cyan"}).status_code == 200
    assert admin.post("/actions", json={"action": "fly"}).status_code == 400
    assert Api(mfpd).post("/actions", json={"action": "pause"}).status_code == 401


def test_tokens_are_shown_once_and_revoked_for_good(mfpd: Mfpd, admin: Api) -> None:
    created = admin.post("/tokens", json={"name": "monitoring"})
    assert created.status_code == 201
    secret = created.json()["token"]
    listed = admin.get("/tokens").json()["tokens"]
    assert {"monitoring", "tests"} <= {t["name"] for t in listed}
    assert all("token" not in t and "digest" not in t for t in listed)
    script = Api(mfpd, secret)
    assert script.get("/config").status_code == 200
    assert admin.delete(f"/tokens/{created.json()['id']}").status_code == 204
    assert script.get("/config").status_code == 401
    assert secret not in (mfpd.state_dir / "tokens.json").read_text()


def test_errors_are_json_with_the_right_status(mfpd: Mfpd, admin: Api) -> None:
    missing = admin.get("/nothing-here")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    wrong = admin.request("PUT", "/status")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    bad = admin.patch("/config", data="{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    kind = admin.patch("/config", data="x", headers={"Content-Type": "text/plain"})
    assert kind.status_code == 415
    assert admin.get("/jobs", params={"which": "some"}).status_code == 400
    assert admin.get("/jobs/abc").status_code == 400
    assert Api(mfpd).get("/config").status_code == 401


def test_the_status_channel_answers_local_callers_with_the_live_status(mfpd: Mfpd) -> None:
    port = mfpd.port("status")
    rows = json.loads((mfpd.state_dir / "ports.json").read_text())
    assert [r["address"] for r in rows if r["service"] == "status"] == ["127.0.0.1"]
    answer = requests.get(f"http://127.0.0.1:{port}/status", timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.json()["state"] == mfpd.status()["state"]
    assert "Python" not in answer.headers["Server"]
    mfpd.cli("fault", "door-open")
    assert wait_until(
        lambda: (
            requests.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT).json()["state"] == "stopped"
        )
    )
    assert requests.post(f"http://127.0.0.1:{port}/status", timeout=TIMEOUT).status_code == 405
    assert requests.get(f"http://127.0.0.1:{port}/config", timeout=TIMEOUT).status_code == 404


def test_the_status_channel_refuses_bad_http_as_the_device(mfpd: Mfpd) -> None:
    """What aiohttp's parser refuses on the status channel gets a 400 with the device's Server
    header (aiohttp's own named Python and itself) and one log line (it was a traceback)."""
    start = mfpd.log.stat().st_size
    with socket.create_connection(("127.0.0.1", mfpd.port("status")), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.0 400") or head.startswith("HTTP/1.1 400"), head
    assert "Server: Xerox WorkCentre" in head and "Python" not in head and "aiohttp" not in head
    assert wait_until(lambda: b"bad HTTP request" in mfpd.log.read_bytes()[start:])
    text = mfpd.log.read_bytes()[start:].decode(errors="replace")
    assert "Traceback" not in text and text.count("bad HTTP request") == 1, text


@pytest.fixture
def fuzzed(mfpd: Mfpd) -> Iterator[tuple[Mfpd, str]]:
    yield mfpd, token(mfpd)


def test_the_api_matches_its_openapi_document(fuzzed: tuple[Mfpd, str], tmp_path: Path) -> None:
    """schemathesis against the document the daemon serves: no 5xx, every response matches
    its schema, schema-valid requests are accepted and invalid ones refused. PATCH /config,
    token deletion, certificate installation, the CA bundle import and the IP filter are left
    out of the fuzzing (random settings would switch the listeners off under it or filter its
    own address, it would revoke its own token, and no random text is a certificate); other
    tests (test_ip_filter.py, test_tls_policy.py) cover them. Some operations run apart
    with one check left out, each run below says why."""
    mfpd, secret = fuzzed
    tool = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert tool is not None
    url = f"http://127.0.0.1:{mfpd.port('http')}/api/v1/openapi.json"
    common = [
        tool, "run", url, "-H", f"Authorization: Bearer {secret}", "--checks", "all",
        "--max-examples", "15", "--max-time", "45", "--no-shrink", "--seed", "1",
        "--request-timeout", "10",
    ]  # fmt: skip
    runs = [
        [
            "--exclude-path", "/api/v1/events", "--exclude-operation-id", "patchConfig",
            "--exclude-operation-id", "deleteToken", "--exclude-operation-id", "submitJob",
            "--exclude-operation-id", "sendFax",
            "--exclude-operation-id", "installCertificate",
            "--exclude-operation-id", "importCaBundle", "--exclude-operation-id", "putIpFilter",
            "--exclude-operation-id", "getAddressBook", "--exclude-operation-id", "startScan",
            "--exclude-operation-id", "createScanTemplate",
            "--exclude-operation-id", "replaceScanTemplate",
            "--exclude-operation-id", "loadOriginals",
        ],
        # With no directory configured the address book is 503 by design (its document says
        # so), and the one scanner scans one job at a time: a second scan while the first
        # runs is 503 (ScanBusy, as eSCL answers). Every other check still holds.
        [
            "--include-operation-id", "getAddressBook", "--include-operation-id", "startScan",
            "--exclude-checks", "not_a_server_error",
        ],
        # A destination URI's whole grammar (RFC 3986 and each client's rules: host, port,
        # share, mail addresses) is more than a JSON Schema pattern says, and whether a file
        # can be scanned is its content's business: a request the schema allows may still be
        # refused (422, naming why). Every other check still holds.
        [
            "--include-operation-id", "createScanTemplate", "--include-operation-id",
            "replaceScanTemplate", "--include-operation-id", "loadOriginals",
            "--exclude-checks", "positive_data_acceptance",
        ],
        # A multipart form carries only strings: schemathesis's negative cases that turn a
        # field into a boolean or a number arrive as the same text a valid form sends.
        [
            "--include-operation-id", "submitJob", "--include-operation-id", "sendFax",
            "--exclude-checks", "negative_data_rejection",
        ],
    ]  # fmt: skip
    for extra in runs:
        result = subprocess.run(
            [*common, *extra], capture_output=True, text=True, timeout=300, cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout[-12000:]
        assert "Server error" not in result.stdout
    # The daemon is still whole after it.
    assert Api(mfpd).get("/status").status_code == 200


def test_the_administrator_replaces_the_device_certificate(mfpd: Mfpd, admin: Api) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    assert admin.get("/certificate").json()["self_signed"] is True
    answer = admin.post("/certificate/csr", json={"common_name": "printer.example.com"})
    assert answer.status_code == 200
    request = x509.load_pem_x509_csr(answer.json()["csr"].encode())
    assert request.is_signature_valid
    assert request.subject.rfc4514_string() == "CN=printer.example.com"
    for bad in ("é", "x" * 65, "a\tb"):
        refused = admin.post("/certificate/csr", json={"common_name": bad})
        assert refused.status_code == 400 and "common name" in refused.json()["error"]
    # The site's CA signs the request; the device keeps its own key.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    now = datetime.datetime.now(datetime.UTC)
    signed = (
        x509.CertificateBuilder().subject_name(request.subject).issuer_name(ca)
        .public_key(request.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = signed.public_bytes(serialization.Encoding.PEM).decode()
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    mismatch = admin.request("PUT", "/certificate", json={"certificate": pem, "key": other})
    assert mismatch.status_code == 422 and "does not belong" in mismatch.json()["error"]
    junk = admin.request("PUT", "/certificate", json={"certificate": "junk"})
    assert junk.status_code == 422
    installed = admin.request("PUT", "/certificate", json={"certificate": pem})
    assert installed.status_code == 200, installed.text
    assert installed.json()["issuer"] == "CN=Test CA" and not installed.json()["self_signed"]
    wanted = signed.public_bytes(serialization.Encoding.DER)

    def served(service: str) -> bool:
        try:
            got = ssl.get_server_certificate(("127.0.0.1", mfpd.port(service)), timeout=5)
        except OSError:
            return False
        return ssl.PEM_cert_to_DER_cert(got) == wanted

    # Both TLS listeners (443, and 631 by its first byte) restart with it.
    assert wait_until(lambda: served("https") and served("ipp"))
    assert Api(mfpd).request("PUT", "/certificate", json={"certificate": pem}).status_code == 401
    # The security audit log has the refused key and the installed certificate (event 38).
    entries = json.loads(mfpd.cli("audit-log", "--json").stdout)["entries"]
    installs = [e for e in entries if e["event"] == "certificate-install"]
    assert [(e["outcome"], e["event_id"], e["interface"]) for e in installs][:2] == [
        ("success", 38, "http"), ("failure", 38, "http"),
    ]  # fmt: skip
    assert installs[0]["details"]["subject"] == "CN=printer.example.com"


def test_changes_made_at_the_same_time_both_take_effect(mfpd: Mfpd, admin: Api) -> None:
    """The second change is validated against the first, and the services end up running
    what both say (none is lost to the other's restart)."""
    over_tls = Api(mfpd, admin.token, tls=True)
    answers: list[int] = []
    patches = [
        (admin, {"services": {"lpd": {"enabled": False}}}),
        (over_tls, {"services": {"raw": {"enabled": False}}}),
    ]
    threads = [
        threading.Thread(target=lambda api=api, patch=patch: answers.append(
            api.patch("/config", json=patch).status_code))
        for api, patch in patches
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert answers == [200, 200]
    settings = admin.get("/config").json()["services"]
    assert not settings["lpd"]["enabled"] and not settings["raw"]["enabled"]
    assert wait_until(lambda: closed(mfpd.port("lpd")) and closed(mfpd.port("raw")))
