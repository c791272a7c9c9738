"""mDNS/DNS-SD (issue 13 item 1), proven with the clients of the field inside a network
namespace whose loopback carries multicast (conftest.multicast_namespace), the daemon on
5353 beside a private avahi-daemon:

- avahi-browse (through the test's own avahi-daemon and D-Bus), python-zeroconf's browser,
  ippfind (which then runs ipptool against what it found) and CUPS's dnssd backend find the
  printer; every TXT value equals the IPP attribute ipptool reads (self-certification);
- a location set over IPP reaches a browser that stayed open; mdns switched off over
  PATCH /api/v1/config sends goodbyes (the browser sees the removal) and 5353 closes;
- a name already held on the network: the daemon takes "XRX-WC7755 (2)" (RFC 6762 section
  9) and IPP printer-dns-sd-name says so.

avahi on loopback: avahi-daemon 0.8 takes `lo` as any other interface once it carries
multicast (`allow-interfaces=lo`, no other option needed; "New relevant interface lo.IPv4
for mDNS" in its log), so no veth pair is needed. It runs with --no-drop-root --no-chroot, a
config in the test's temp dir, and a dbus-daemon of the test's own on a private socket
(DBUS_SYSTEM_BUS_ADDRESS), so the machine's bus, if any, is never touched. Its pid file is
the compiled-in /run/avahi-daemon/pid: a test run on a host whose own avahi runs is skipped.

ipptool resolves host names with getaddrinfo, and nss-mdns is not installed: the
namespace's /etc/netns/NAME/hosts (which `ip netns exec` mounts over /etc/hosts) names the
printer's host at the address mDNS gave for it, as nss-mdns would.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    FAST_CONFIG,
    ROOT,
    Mfpd,
    NamespacedMfpd,
    missing,
    multicast_namespace,
    need,
    network_namespace,
)

pytestmark = pytest.mark.integration

WAIT = 30.0
NAME = "XRX-WC7755"
HOST = f"{NAME}.local"
LOCATION = "Room 101, 1st floor"
CONFIG = FAST_CONFIG + f'\n[identity]\nlocation = "{LOCATION}"\n'
CLIENT = [sys.executable, "-m", "tests.integration.mdns_client"]
CLIENT_ENV = {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
AVAHI_PID = Path("/run/avahi-daemon/pid")

DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""
AVAHI_CONFIG = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
disable-publishing=yes
"""


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


# -- the clients ---------------------------------------------------------------------------


class Avahi:
    """dbus-daemon and avahi-daemon of the test's own inside the namespace; `env` is what
    avahi's clients (avahi-browse, ippfind, the dnssd backend) need to reach them."""

    def __init__(self, namespace: str, directory: Path) -> None:
        self.namespace = namespace
        self.directory = directory
        bus = directory / "system_bus_socket"
        self.env = {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus}"}
        (directory / "dbus.conf").write_text(DBUS_CONFIG.format(socket=bus))
        (directory / "avahi.conf").write_text(AVAHI_CONFIG)
        self.log = directory / "avahi.log"
        self.procs: list[subprocess.Popen[str]] = []
        in_ns = ["ip", "netns", "exec", namespace]
        self.procs.append(
            subprocess.Popen(
                [*in_ns, "dbus-daemon", "--nofork", f"--config-file={directory / 'dbus.conf'}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
            )
        )  # fmt: skip
        wait_until(bus.exists, "the private D-Bus socket")
        with self.log.open("w") as log:
            self.procs.append(
                subprocess.Popen(
                    [
                        *in_ns, "avahi-daemon", "--no-drop-root", "--no-chroot", "--no-rlimits",
                        "-f", str(directory / "avahi.conf"),
                    ],
                    stdout=log, stderr=subprocess.STDOUT, text=True,
                    env={**os.environ, **self.env},
                )
            )  # fmt: skip
        wait_until(lambda: "Server startup complete" in self.log.read_text(), "avahi-daemon")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)


def wait_until(check: Callable[[], object], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Browser:
    """python-zeroconf's ServiceBrowser kept open in the namespace (mdns_client.py browse):
    its events, as they come."""

    def __init__(self, namespace: str, service_type: str, seconds: float) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "timeout", "-k", "5", str(seconds + 10),
             *CLIENT, "browse", service_type, str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, **CLIENT_ENV},
        )  # fmt: skip
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def wait_for(self, match: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(event)
            if match(event):
                return event
        raise AssertionError(f"the browser never saw {what}: {self.seen}")

    def close(self) -> None:
        stop_process(self.proc)


def ipp_attributes(device: NamespacedMfpd, uri: str) -> dict[str, str]:
    """Get-Printer-Attributes with ipptool: {name: value as ipptool shows it}."""
    out = device.run(["ipptool", "-tv", uri, "get-printer-attributes.test"], WAIT)
    assert "[PASS]" in out.stdout, out.stdout[-3000:] + out.stderr[-2000:]
    found = {}
    for line in out.stdout.splitlines():
        match = re.match(r"\s+([a-z0-9-]+) \([^)]*\) = (.*)$", line)
        if match:
            found[match[1]] = match[2]
    return found


IPP_STATES = {"idle": "3", "processing": "4", "stopped": "5"}


def expected_txt(ipp: dict[str, str]) -> dict[str, str]:
    """The TXT values the Bonjour Printing Specification and PWG 5100.14 key to IPP
    attributes, as the IPP attributes give them."""
    device_id = dict(
        field.split(":", 1) for field in ipp["printer-device-id"].split(";") if ":" in field
    )
    return {
        "ty": ipp["printer-make-and-model"],
        "note": ipp["printer-location"],
        "UUID": ipp["printer-uuid"].removeprefix("urn:uuid:"),
        "pdl": ipp["document-format-supported"],
        "URF": ipp["urf-supported"],
        "kind": ipp["printer-kind"],
        "Color": "T" if ipp["color-supported"] == "true" else "F",
        "Duplex": "T" if "two-sided" in ipp["sides-supported"] else "F",
        "usb_MFG": device_id["MFG"],
        "usb_MDL": device_id["MDL"],
        "product": f"({device_id['MDL']})",
        "printer-state": IPP_STATES[ipp["printer-state"]],
        "rp": ipp["printer-uri-supported"].split(",")[0].split("/", 3)[3],
        # ipptool (CUPS) sends "Host: localhost" to any loopback address, so printer-more-info
        # names localhost where a client on the network, reaching HOST, is told HOST.
        "adminurl": ipp["printer-more-info"].replace("//localhost:", f"//{HOST}:"),
    }


def avahi_browse(avahi: Avahi, service_type: str) -> list[dict[str, Any]]:
    """`avahi-browse -rtp`: the resolved ("=") lines, TXT split into a dict."""
    out = subprocess.run(
        ["ip", "netns", "exec", avahi.namespace, "timeout", "-k", "5", str(WAIT),
         "avahi-browse", "-rtp", service_type],
        capture_output=True, text=True, timeout=WAIT + 15, env={**os.environ, **avahi.env},
    )  # fmt: skip
    found = []
    for line in out.stdout.splitlines():
        if not line.startswith("="):
            continue
        fields = line.split(";", 9)
        txt = dict(item.split("=", 1) for item in re.findall(r'"((?:[^"\\]|\\.)*)"', fields[9]))
        found.append(
            {"name": _unescape(fields[3]), "host": fields[6], "address": fields[7],
             "port": int(fields[8]), "txt": txt}
        )  # fmt: skip
    return found


def _unescape(name: str) -> str:
    """avahi-browse -p writes a label's spaces and punctuation as \\DDD."""
    return re.sub(r"\\(\d{3})", lambda m: chr(int(m[1])), name)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    with multicast_namespace("mfpd-mdns", WAIT) as name:
        etc = Path("/etc/netns") / name
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(f"127.0.0.1 localhost\n127.0.0.1 {HOST}\n")
        try:
            yield name
        finally:
            shutil.rmtree(etc, ignore_errors=True)


@pytest.fixture(scope="module")
def avahi(netns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Avahi]:
    need("avahi-daemon", "avahi-browse", "dbus-daemon")
    if AVAHI_PID.exists():
        missing(f"an avahi-daemon runs on this host ({AVAHI_PID}); the test's own cannot")
    running = Avahi(netns, tmp_path_factory.mktemp("avahi"))
    try:
        yield running
    finally:
        running.stop()
        AVAHI_PID.unlink(missing_ok=True)


def start_device(state_dir: Path, namespace: str) -> NamespacedMfpd:
    daemon = NamespacedMfpd(state_dir, CONFIG, namespace)
    daemon.start(timeout=WAIT)
    return daemon


def stop_device(daemon: NamespacedMfpd) -> None:
    daemon.finish(WAIT)


@pytest.fixture(scope="module")
def device(
    netns: str, avahi: Avahi, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NamespacedMfpd]:
    daemon = start_device(tmp_path_factory.mktemp("mdns") / "state", netns)
    try:
        row = next(r for r in daemon.rows if r["service"] == "mdns")
        assert (row["state"], row["port"]) == ("listening", 5353), row
        assert "224.0.0.251 on lo" in row["note"], row
        wait_until(lambda: "mdns: advertising" in daemon.log.read_text(), "the announcement")
        yield daemon
    finally:
        stop_device(daemon)


# -- tests ---------------------------------------------------------------------------------


def test_avahi_browse_lists_every_service_with_the_ipp_values(
    device: NamespacedMfpd, avahi: Avahi
) -> None:
    ipp = ipp_attributes(device, "ipp://127.0.0.1:631/ipp/print")
    assert ipp["printer-dns-sd-name"] == NAME
    expected = expected_txt(ipp)
    found = avahi_browse(avahi, "_ipp._tcp")
    assert [(f["name"], f["host"], f["address"], f["port"]) for f in found] == [
        (NAME, HOST, "127.0.0.1", 631)
    ], found
    txt = found[0]["txt"]
    assert {key: txt.get(key) for key in expected} == expected
    assert txt["txtvers"] == "1" and txt["qtotal"] == "1"
    # The scanner is on by default (eSCL, _uscan below): Scan=T; no fax unit.
    assert txt["Scan"] == "T" and txt["Fax"] == "F" and "mopria-certified" not in txt
    # Each listener under the same name, on its live port; the subtypes answer too.
    for service_type, port in (
        ("_ipps._tcp", device.ports["https"]),
        ("_pdl-datastream._tcp", device.ports["raw"]),
        ("_printer._tcp", device.ports["lpd"]),
        ("_http._tcp", device.ports["http"]),
        ("_uscan._tcp", device.ports["http"]),
        ("_uscans._tcp", device.ports["https"]),
        ("_print._sub._ipp._tcp", 631),
        ("_universal._sub._ipp._tcp", 631),
        ("_printer._sub._http._tcp", device.ports["http"]),
    ):
        listed = avahi_browse(avahi, service_type)
        assert [(f["name"], f["port"]) for f in listed] == [(NAME, port)], service_type
    ipps = avahi_browse(avahi, "_ipps._tcp")[0]["txt"]
    assert ipps["TLS"] == "1.3" and ipps["UUID"] == expected["UUID"]
    assert avahi_browse(avahi, "_printer._tcp")[0]["txt"]["rp"] == "lp"
    # eSCL (Mopria eSCL's DNS-SD keys): the same model, place and UUID as IPP says.
    uscan = avahi_browse(avahi, "_uscan._tcp")[0]["txt"]
    assert uscan["rs"] == "eSCL" and uscan["vers"] == "2.63"
    assert uscan["ty"] == expected["ty"] and uscan["note"] == LOCATION
    assert uscan["UUID"] == expected["UUID"]
    assert uscan["cs"] == "color,grayscale,binary" and uscan["is"] == "platen,adf"
    assert uscan["duplex"] == "T" and "mopria-certified-scan" not in uscan
    assert uscan["representation"] == f"http://{HOST}:{device.ports['http']}/icon.png"
    uscans = avahi_browse(avahi, "_uscans._tcp")[0]["txt"]
    assert uscans["representation"] == f"https://{HOST}:{device.ports['https']}/icon.png"


def test_zeroconf_browser_resolves_the_printer(device: NamespacedMfpd) -> None:
    expected = expected_txt(ipp_attributes(device, "ipp://127.0.0.1:631/ipp/print"))
    browser = Browser(device.namespace, "_ipp._tcp.local.", 8)
    try:
        found = browser.wait_for(lambda e: e["event"] == "added", "the printer")
    finally:
        browser.close()
    assert found["name"] == f"{NAME}._ipp._tcp.local." and found["port"] == 631
    assert found["server"] == f"{HOST}." and found["addresses"] == ["127.0.0.1"]
    assert {key: found["txt"].get(key) for key in expected} == expected


def test_ippfind_finds_it_and_ipptool_reads_it(device: NamespacedMfpd, avahi: Avahi) -> None:
    need("ippfind", "ipptool")
    out = device.run(
        ["ippfind", "-T", "5", "_ipp._tcp", "--exec", "ipptool", "-tv", "{}",
         "get-printer-attributes.test", ";"],
        WAIT, env=avahi.env,
    )  # fmt: skip
    assert "[PASS]" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"printer-dns-sd-name (nameWithoutLanguage) = {NAME}" in out.stdout
    assert f"printer-location (textWithoutLanguage) = {LOCATION}" in out.stdout
    listed = device.run(["ippfind", "-T", "5", "_ipp._tcp", "_ipps._tcp"], WAIT, env=avahi.env)
    assert sorted(listed.stdout.split()) == [
        f"ipp://{HOST}:631/ipp/print", f"ipps://{HOST}:443/ipp/print",
    ], listed.stdout + listed.stderr  # fmt: skip


def test_cups_dnssd_backend_lists_it(device: NamespacedMfpd, avahi: Avahi) -> None:
    backend = "/usr/lib/cups/backend/dnssd"
    need(backend)
    uuid = ipp_attributes(device, "ipp://127.0.0.1:631/ipp/print")["printer-uuid"]
    out = device.run([backend], WAIT, env=avahi.env)
    # The instance as IPP and IPPS (the backend merges the two when it has seen both before
    # it reports, keeping IPPS), named by the TXT record's ty, UUID and usb_ keys.
    lines = [line for line in out.stdout.splitlines() if f"dnssd://{NAME}." in line]
    expected = {
        f"network dnssd://{NAME}.{service}.local/?uuid={uuid.removeprefix('urn:uuid:')} "
        f'"Xerox WorkCentre 7755" "{NAME}" '
        '"MFG:Xerox;MDL:WorkCentre 7755;CMD:PJL,PCL,PCLXL,POSTSCRIPT,PDF,URF,PWGRaster;" ""'
        for service in ("_ipp._tcp", "_ipps._tcp")
    }
    assert lines and set(lines) <= expected, out.stdout + out.stderr


def test_sane_airscan_finds_the_scanner_over_mdns_and_scans(
    device: NamespacedMfpd, avahi: Avahi, tmp_path: Path
) -> None:
    """sane-airscan's own discovery (avahi over D-Bus, _uscan._tcp) lists the device by its
    instance name and scans from the URL the advertisement gives."""
    need("scanimage")
    config = tmp_path / "sane"
    config.mkdir()
    (config / "dll.conf").write_text("airscan\n")
    (config / "airscan.conf").write_text("[options]\ndiscovery = enable\n")
    env = {**avahi.env, "SANE_CONFIG_DIR": str(config)}
    listed = device.run(["scanimage", "-L"], WAIT, env=env)
    found = re.search(r"device `(airscan:[^']+)' is a eSCL " + re.escape(NAME), listed.stdout)
    assert found, listed.stdout + listed.stderr
    out = tmp_path / "found.png"
    scanned = device.run(
        ["scanimage", "-d", found.group(1), "--resolution", "75", "--mode", "Gray",
         "--format=png", "-o", str(out)], WAIT, env=env,
    )  # fmt: skip
    assert scanned.returncode == 0, scanned.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_operation(device: NamespacedMfpd, operation: str, *lines: str) -> None:
    """One IPP operation with ipptool, inside the namespace; it must succeed."""
    test = device.state_dir.parent / "operation.test"
    test.write_text(
        "{\n"
        + "\n".join([
            f"OPERATION {operation}", "GROUP operation-attributes-tag",
            "ATTR charset attributes-charset utf-8",
            "ATTR language attributes-natural-language en", "ATTR uri printer-uri $uri",
            "ATTR name requesting-user-name tester", *lines, "STATUS successful-ok",
        ])
        + "\n}\n"
    )  # fmt: skip
    out = device.run(["ipptool", "-t", "ipp://127.0.0.1:631/ipp/print", str(test)], WAIT)
    assert "[PASS]" in out.stdout, out.stdout + out.stderr


PATCH = """
import sys, urllib.request
request = urllib.request.Request(
    sys.argv[1], data=sys.argv[3].encode(), method="PATCH",
    headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"},
)
with urllib.request.urlopen(request, timeout=30) as answer:
    print(answer.status)
"""


def patch_config(device: NamespacedMfpd, patch: dict[str, Any]) -> None:
    """PATCH /api/v1/config from inside the namespace, with an API token."""
    token = device.cli("token", "mdns-test").stdout.strip()
    url = f"http://127.0.0.1:{device.ports['http']}/api/v1/config"
    out = device.run([sys.executable, "-c", PATCH, url, token, json.dumps(patch)], WAIT)
    assert out.stdout.strip() == "200", out.stdout + out.stderr


def daemon_on_5353(device: NamespacedMfpd) -> list[str]:
    assert device.proc is not None
    out = device.run(["ss", "-lunpH", "sport = :5353"], WAIT)
    return [line for line in out.stdout.splitlines() if f"pid={device.proc.pid}," in line]


def test_a_location_change_reaches_an_open_browser_and_switching_off_says_goodbye(
    device: NamespacedMfpd, avahi: Avahi
) -> None:
    need("ipptool", "ss")
    browser = Browser(device.namespace, "_ipp._tcp.local.", 60)
    try:
        first = browser.wait_for(lambda e: e["event"] == "added", "the printer")
        assert first["txt"]["note"] == LOCATION
        run_operation(
            device, "Set-Printer-Attributes",
            "GROUP printer-attributes-tag", 'ATTR text printer-location "Lobby, ground floor"',
        )  # fmt: skip
        updated = browser.wait_for(
            lambda e: e["event"] == "updated" and e["txt"].get("note") == "Lobby, ground floor",
            "the new note",
        )
        ipp = ipp_attributes(device, "ipp://127.0.0.1:631/ipp/print")
        assert updated["txt"]["note"] == ipp["printer-location"]
        # The state is in the TXT record too (printer-state): paused, it says stopped.
        run_operation(device, "Pause-Printer")
        browser.wait_for(
            lambda e: e["event"] == "updated" and e["txt"].get("printer-state") == "5",
            "printer-state 5",
        )
        assert ipp_attributes(device, "ipp://127.0.0.1:631/ipp/print")["printer-state"] == (
            "stopped"
        )
        # Resumed: the idle TXT record again. A browser that held it a moment ago keeps the
        # flushed copy for a second (RFC 6762 10.2) and reports no update for it; avahi,
        # asked afresh, reads the record now announced.
        run_operation(device, "Resume-Printer")
        wait_until(
            lambda: avahi_browse(avahi, "_ipp._tcp")[0]["txt"]["printer-state"] == "3",
            "printer-state 3",
        )

        assert daemon_on_5353(device)
        patch_config(device, {"services": {"mdns": {"enabled": False}}})
        browser.wait_for(lambda e: e["event"] == "removed", "the goodbye")
        wait_until(lambda: not daemon_on_5353(device), "5353 to close")
        row = next(r for r in json.loads((device.state_dir / "ports.json").read_text())
                   if r["service"] == "mdns")  # fmt: skip
        assert row["state"] == "disabled"
        ipp = ipp_attributes(device, "ipp://127.0.0.1:631/ipp/print")
        assert ipp["printer-dns-sd-name"] == "no-value"

        # Back on at run time: announced again, with the note it has now.
        patch_config(device, {"services": {"mdns": {"enabled": True}}})
        again = browser.wait_for(lambda e: e["event"] == "added", "the printer back")
        assert again["txt"]["note"] == "Lobby, ground floor"
    finally:
        browser.close()


def test_a_listener_switched_off_is_withdrawn(device: NamespacedMfpd) -> None:
    browser = Browser(device.namespace, "_pdl-datastream._tcp.local.", 60)
    try:
        browser.wait_for(lambda e: e["event"] == "added", "raw 9100")
        patch_config(device, {"services": {"raw": {"enabled": False}}})
        browser.wait_for(lambda e: e["event"] == "removed", "raw's goodbye")
        patch_config(device, {"services": {"raw": {"enabled": True}}})
        back = browser.wait_for(lambda e: e["event"] == "added", "raw back")
        assert back["port"] == 9100
    finally:
        browser.close()


def test_a_name_already_taken_is_renamed(tmp_path: Path) -> None:
    """A responder (python-zeroconf here) holds XRX-WC7755._ipp._tcp.local. before the
    daemon starts: the daemon probes, finds it, and takes "XRX-WC7755 (2)" on every type;
    at a clean stop its goodbyes remove it from a browser at once."""
    with multicast_namespace("mfpd-mdns2", WAIT) as namespace:
        holder = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "timeout", "-k", "5", str(WAIT * 2),
             *CLIENT, "own", NAME, "_ipp._tcp.local.", str(WAIT * 2)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, **CLIENT_ENV},
        )  # fmt: skip
        try:
            assert holder.stdout is not None
            line = holder.stdout.readline()
            assert json.loads(line)["event"] == "registered", line
            daemon = start_device(tmp_path / "state", namespace)
            try:
                wait_until(
                    lambda: f"mdns: advertising '{NAME} (2)'" in daemon.log.read_text(),
                    "the renamed instance",
                )
                ipp = ipp_attributes(daemon, "ipp://127.0.0.1:631/ipp/print")
                assert ipp["printer-dns-sd-name"] == f"{NAME} (2)"
                browser = Browser(namespace, "_ipps._tcp.local.", 60)
                try:
                    found = browser.wait_for(lambda e: e["event"] == "added", "the new name")
                    assert found["name"] == f"{NAME} (2)._ipps._tcp.local."
                    # A clean stop says goodbye (RFC 6762 10.1): the browser drops it at once.
                    stop_device(daemon)
                    gone = browser.wait_for(lambda e: e["event"] == "removed", "the goodbye")
                    assert gone["name"] == found["name"]
                finally:
                    browser.close()
            finally:
                stop_device(daemon)
        finally:
            stop_process(holder)


def mdns_row(state_dir: Path) -> dict[str, Any]:
    rows = json.loads((state_dir / "ports.json").read_text())
    row: dict[str, Any] = next(r for r in rows if r["service"] == "mdns")
    return row


def test_the_row_says_why_mdns_is_not_listening(mfpd: Mfpd, tmp_path: Path) -> None:
    """Regular test daemons run with a port offset on a loopback without multicast: mdns
    opens nothing there (5353 cannot move: every querier asks on it) and says so."""
    row = mdns_row(mfpd.state_dir)
    assert row["state"] == "unavailable", row
    assert row["note"] == f"mDNS is on 5353 only; port offset {mfpd.offset}"
    with network_namespace("mfpd-mdns3", WAIT) as namespace:  # lo without multicast
        daemon = start_device(tmp_path / "namespaced", namespace)
        try:
            row = mdns_row(daemon.state_dir)
            assert (row["state"], row["port"]) == ("unavailable", 5353), row
            assert row["note"].startswith("not listening: lo carries no multicast"), row
            assert not daemon_on_5353(daemon)
            ipp = ipp_attributes(daemon, "ipp://127.0.0.1:631/ipp/print")
            assert ipp["printer-dns-sd-name"] == "no-value"
        finally:
            stop_device(daemon)
