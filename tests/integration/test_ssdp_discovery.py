"""SSDP/UPnP (UDP 1900) with the real clients of the field, in a network namespace whose
loopback carries multicast (issue 13): the daemon runs there on the standard ports, and so
does every client.

- nmap's `upnp-info` (unicast M-SEARCH) and `broadcast-upnp-info` (multicast) find the printer
  and, with -v, read its description. upnp-info needs `upnp-info.override=false`: with its
  default it takes the description's path from the LOCATION header with a pattern that wants
  the header's CR, which its own header parser has already cut off (nselib/upnp.lua,
  retrieveXML), and so never fetches a description, from any device.
- async-upnp-client's search finds every target, and its UpnpFactory reads the description
  and the PrintBasic SCPD.
- Abuse: a flood of spoofed-source M-SEARCH gets out no more bytes than came in; malformed
  datagrams get silence and the responder keeps answering.
- Switched off over PATCH /api/v1/config: ssdp:byebye goes out and UDP 1900 closes; switched
  on again: ssdp:alive, repeated before half of max-age.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.codecs import ssdp
from tests.conftest import (
    FAST_CONFIG,
    ROOT,
    NamespacedMfpd,
    missing,
    multicast_namespace,
    need,
)

pytestmark = pytest.mark.integration

WAIT = 30.0
CLIENT = Path(__file__).with_name("discovery_client.py")
MAX_AGE = 6  # short, so that the periodic ssdp:alive shows within a test
IDENTITY = {
    "make": "Xerox",
    "model": "WorkCentre 7775",
    "serial_number": "UPNP777500042",
    "hostname": "XRX-UPNP-TEST",
    "firmware": "071.190.105.10400",
}
CONFIG = (
    FAST_CONFIG
    + "\n[identity]\n"
    + "".join(f'{key} = "{value}"\n' for key, value in IDENTITY.items())
    + f"\n[services.ssdp]\nmax_age = {MAX_AGE}\n"
)
FRIENDLY_NAME = f"{IDENTITY['make']} {IDENTITY['model']} ({IDENTITY['hostname']})"
UPNP_NS = {"d": "urn:schemas-upnp-org:device-1-0"}


# -- shared with test_wsd_discovery.py ---------------------------------------------------


def start_device(netns: str, state: Path, config: str) -> NamespacedMfpd:
    daemon = NamespacedMfpd(state, config, netns)
    daemon.start(timeout=WAIT)
    return daemon


def stop_device(daemon: NamespacedMfpd) -> None:
    daemon.finish(WAIT)


def client(device: NamespacedMfpd, *args: str, stdin: str | None = None) -> dict[str, Any]:
    """discovery_client.py run in the namespace; its JSON answer."""
    result = device.run([sys.executable, str(CLIENT), *args], timeout=WAIT + 60, input=stdin)
    assert result.returncode == 0, result.stdout + result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def identity(device: NamespacedMfpd) -> dict[str, str]:
    """The identity as `mfpd status` reports it (read once per daemon)."""
    found: dict[str, str] | None = getattr(device, "discovery_identity", None)
    if found is None:
        found = device.status()["identity"]
        device.discovery_identity = found  # type: ignore[attr-defined]
    return found


class Listener:
    """A socket joined to a group in the namespace, started before an action whose
    announcements it is to see (discovery_client.py listen)."""

    def __init__(self, device: NamespacedMfpd, group: str, port: int, until: str, times: int = 1):
        self.proc = subprocess.Popen(
            [
                "ip", "netns", "exec", device.namespace, "timeout", "-k", "5", str(WAIT),
                sys.executable, str(CLIENT), "listen", group, str(port), str(WAIT - 5),
                "--until", until, "--times", str(times),
            ],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert self.proc.stderr is not None
        ready = self.proc.stderr.readline()  # the socket is joined: the action may begin
        assert ready.strip() == "ready", ready + self.proc.stderr.read()

    def datagrams(self) -> list[str]:
        out, err = self.proc.communicate(timeout=WAIT + 15)
        assert self.proc.returncode == 0, err
        return [d["text"] for d in json.loads(out)["datagrams"]]


def api_token(device: NamespacedMfpd) -> str:
    token: str | None = getattr(device, "discovery_token", None)
    if token is None:
        token = device.cli("token", "discovery-tests").stdout.strip()
        device.discovery_token = token  # type: ignore[attr-defined]
    return token


def patch_config(device: NamespacedMfpd, patch: dict[str, Any], port: int = 0) -> None:
    """PATCH /api/v1/config with an API token, as a script would (on `port`, else on the
    http port the daemon started with)."""
    answer = client(
        device, "http", "PATCH", f"http://127.0.0.1:{port or device.ports['http']}/api/v1/config",
        "--body-hex", json.dumps(patch).encode().hex(), "--type",
        "application/merge-patch+json", "--token", api_token(device),
    )  # fmt: skip
    assert answer["status"] == 200, answer


def switch(device: NamespacedMfpd, service: str, enabled: bool) -> None:
    patch_config(device, {"services": {service: {"enabled": enabled}}})


def udp_ports(device: NamespacedMfpd) -> str:
    result = device.run(["ss", "-lunH"])
    assert result.returncode == 0, result.stderr
    return result.stdout


def port_row(device: NamespacedMfpd, service: str) -> dict[str, Any]:
    rows = json.loads((device.state_dir / "ports.json").read_text())
    return next(row for row in rows if row["service"] == service)


def headers(text: str) -> dict[str, str]:
    lines = text.split("\r\n")
    return {k.upper(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    need("nmap", "ss")
    with multicast_namespace("mfpd-ssdp", WAIT) as name:
        yield name


@pytest.fixture(scope="module")
def device(netns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NamespacedMfpd]:
    daemon = NamespacedMfpd(tmp_path_factory.mktemp("ssdp") / "state", CONFIG, netns)
    try:
        daemon.start(timeout=WAIT)
        row = port_row(daemon, "ssdp")
        assert (row["state"], row["port"]) == ("listening", 1900), row
        assert "multicast 239.255.255.250 on lo" in row["note"], row
        yield daemon
    finally:
        stop_device(daemon)


def search(st_value: str, mx: int | None = None) -> bytes:
    mx_line = f"MX: {mx}\r\n" if mx is not None else ""
    return (
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        f'MAN: "ssdp:discover"\r\n{mx_line}ST: {st_value}\r\n\r\n'
    ).encode()


def ask(
    device: NamespacedMfpd, data: bytes, source: str = "127.0.0.1", expect: bool = True
) -> list[str]:
    """One unicast M-SEARCH from `source`; the texts of its answers. `expect`: an answer is
    due (waited for up to 10 s, then 0.5 s of quiet ends the wait), else 1 s of quiet."""
    first, quiet = (10.0, 0.5) if expect else (1.0, 1.0)
    script = textwrap.dedent(
        f"""
        import json, socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(({source!r}, 0))
        s.sendto(bytes.fromhex({data.hex()!r}), ("127.0.0.1", 1900))
        texts = []
        try:
            while len(texts) < 50:
                s.settimeout({quiet} if texts else {first})
                texts.append(s.recv(65535).decode())
        except TimeoutError:
            pass
        print(json.dumps(texts))
        """
    )
    result = device.run([sys.executable, "-c", script], timeout=WAIT)
    assert result.returncode == 0, result.stderr
    texts: list[str] = json.loads(result.stdout)
    return texts


# -- the clients -------------------------------------------------------------------------


def assert_nmap_read_the_description(output: str, device: NamespacedMfpd) -> None:
    port = device.ports["http"]
    assert f"Location: http://127.0.0.1:{port}/upnp/description.xml" in output, output
    server = re.search(r"Server: (.*)", output)
    assert server is not None, output
    assert server.group(1).strip() == (
        f"Linux/3.10 UPnP/1.1 Xerox-WorkCentre-7775/{IDENTITY['firmware']}"
    ), output
    for line in (
        f"Name: {FRIENDLY_NAME}",
        f"Manufacturer: {IDENTITY['make']}",
        f"Model Name: {IDENTITY['model']}",
        "Model Version: 7775",
    ):
        assert line in output, output
    assert "python" not in output.lower() and "aiohttp" not in output.lower(), output


def test_nmap_upnp_info(device: NamespacedMfpd) -> None:
    result = device.run(
        ["nmap", "-n", "-sU", "-p", "1900", "--script", "upnp-info", "-v",
         "--script-args", "upnp-info.override=false", "127.0.0.1"],
        timeout=WAIT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"1900/udp\s+open\s+upnp", result.stdout), result.stdout
    assert_nmap_read_the_description(result.stdout, device)


def test_nmap_broadcast_upnp_info(device: NamespacedMfpd) -> None:
    result = device.run(["nmap", "-n", "--script", "broadcast-upnp-info", "-v"], timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broadcast-upnp-info:" in result.stdout, result.stdout
    assert_nmap_read_the_description(result.stdout, device)


ASYNC_UPNP_CLIENT = textwrap.dedent(
    """
    import asyncio, json, sys
    from async_upnp_client.aiohttp import AiohttpRequester
    from async_upnp_client.client_factory import UpnpFactory
    from async_upnp_client.search import async_search

    async def main():
        found = {}
        for target in sys.argv[1:]:
            answers = []
            async def collect(headers, answers=answers):
                answers.append({k.lower(): v for k, v in headers.items()
                                if isinstance(v, str)})
            await async_search(collect, timeout=1, search_target=target)
            found[target] = answers
        location = found["ssdp:all"][0]["location"]
        device = await UpnpFactory(AiohttpRequester()).async_create_device(location)
        description = {
            "friendly_name": device.friendly_name, "manufacturer": device.manufacturer,
            "model_name": device.model_name, "model_number": device.model_number,
            "serial_number": device.serial_number, "udn": device.udn,
            "device_type": device.device_type, "presentation_url": device.presentation_url,
            "services": {s.service_type: sorted(s.actions) for s in device.services.values()},
        }
        service = device.service("urn:schemas-upnp-org:service:PrintBasic:1")
        attributes = await service.action("GetPrinterAttributes").async_call()
        print(json.dumps({"found": found, "description": description,
                          "attributes": attributes}))

    asyncio.run(main())
    """
)


def test_async_upnp_client_search_and_description(device: NamespacedMfpd) -> None:
    if importlib.util.find_spec("async_upnp_client") is None:
        missing("not installed: async-upnp-client (the [test] extra)")
    uuid = identity(device)["uuid"]
    udn = f"uuid:{uuid}"
    targets = ["ssdp:all", "upnp:rootdevice", udn, ssdp.DEVICE_TYPE, ssdp.SERVICE_TYPE]
    result = device.run([sys.executable, "-c", ASYNC_UPNP_CLIENT, *targets], timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    found = data["found"]
    location = f"http://127.0.0.1:{device.ports['http']}/upnp/description.xml"
    usn = {
        "upnp:rootdevice": f"{udn}::upnp:rootdevice",
        udn: udn,
        ssdp.DEVICE_TYPE: f"{udn}::{ssdp.DEVICE_TYPE}",
        ssdp.SERVICE_TYPE: f"{udn}::{ssdp.SERVICE_TYPE}",
    }
    # ssdp:all: one answer per target; each target alone: its one answer.
    assert sorted((a["st"], a["usn"]) for a in found["ssdp:all"]) == sorted(usn.items())
    for target in targets[1:]:
        assert [(a["st"], a["usn"]) for a in found[target]] == [(target, usn[target])], found
    for answer in found["ssdp:all"]:
        assert answer["location"] == location
        assert answer["cache-control"] == f"max-age={MAX_AGE}"
    description = data["description"]
    assert description == {
        "friendly_name": FRIENDLY_NAME,
        "manufacturer": IDENTITY["make"],
        "model_name": IDENTITY["model"],
        "model_number": "7775",
        "serial_number": IDENTITY["serial_number"],
        "udn": udn,
        "device_type": ssdp.DEVICE_TYPE,
        "presentation_url": f"http://127.0.0.1:{device.ports['http']}/",
        "services": {ssdp.SERVICE_TYPE: ["GetPrinterAttributes"]},
    }
    # The action, through the client's own SOAP: what IPP says of the idle printer.
    assert data["attributes"] == {
        "PrinterState": "idle",
        "PrinterStateReasons": "none",
        "JobIdList": "",
        "JobId": 0,
    }, data["attributes"]


def test_answer_headers_and_description_agree(device: NamespacedMfpd) -> None:
    """A unicast M-SEARCH (no MX, answered at once): every UDA 1.1 header, and the
    CONFIGID the description's root carries."""
    (text,) = ask(device, search("upnp:rootdevice"))
    assert text.startswith("HTTP/1.1 200 OK\r\n"), text
    h = headers(text)
    assert set(h) == {
        "CACHE-CONTROL", "DATE", "EXT", "LOCATION", "SERVER", "ST", "USN",
        "BOOTID.UPNP.ORG", "CONFIGID.UPNP.ORG",
    }, h  # fmt: skip
    assert h["DATE"].endswith(" GMT") and h["EXT"] == ""
    assert int(h["BOOTID.UPNP.ORG"]) > 0
    page = client(device, "http", "GET", h["LOCATION"])
    assert page["status"] == 200 and page["headers"]["Content-Type"].startswith("text/xml")
    root = ET.fromstring(page["body"])
    assert root.get("configId") == h["CONFIGID.UPNP.ORG"]
    assert root.findtext("d:device/d:UDN", namespaces=UPNP_NS) == f"uuid:{identity(device)['uuid']}"
    scpd_url = root.findtext("d:device/d:serviceList/d:service/d:SCPDURL", namespaces=UPNP_NS)
    scpd = client(device, "http", "GET", f"http://127.0.0.1:{device.ports['http']}{scpd_url}")
    assert scpd["status"] == 200
    ET.fromstring(scpd["body"])
    # No answer to a target that is not ours.
    assert ask(device, search("urn:schemas-upnp-org:device:MediaServer:1"), expect=False) == []


def test_wildcard_bind_answers_once_with_a_reachable_location(
    tmp_path: Path,
) -> None:
    """`mfpd serve --bind 0.0.0.0` (the issue's contract): a multicast M-SEARCH gets one
    answer, not two (a unicast socket on the wildcard address also receives the group's
    datagrams unless IP_MULTICAST_ALL is off), and LOCATION names the address the client
    reached, not 0.0.0.0."""
    with multicast_namespace("mfpd-ssdp-any", WAIT) as netns:
        daemon = NamespacedMfpd(tmp_path / "state", CONFIG, netns, bind="0.0.0.0")
        try:
            daemon.start(timeout=WAIT)
            assert "multicast 239.255.255.250 on lo" in port_row(daemon, "ssdp")["note"]
            answer = client(daemon, "spray", ssdp.GROUP, "1900", "--expect", "--quiet", "1.5",
                            stdin=json.dumps([search("upnp:rootdevice", 1).hex()]))  # fmt: skip
            assert answer["replies"] == 1, answer
            location = headers(answer["first"])["LOCATION"]
            assert location == f"http://127.0.0.1:{daemon.ports['http']}/upnp/description.xml"
            assert client(daemon, "http", "GET", location)["status"] == 200
        finally:
            stop_device(daemon)


# -- abuse -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "where", "mx"),
    [("ssdp:all", "127.0.0.1", None), ("upnp:rootdevice", ssdp.GROUP, 1)],
)
def test_spoofed_flood_gets_out_no_more_than_came_in(
    device: NamespacedMfpd, target: str, where: str, mx: int | None
) -> None:
    """2,000 M-SEARCH from one source (the victim of a spoofed flood: 127.0.0.2 or .3 on the
    namespace's loopback), unicast or to the group: the bytes that reach it are no more
    than the bytes sent. Then another source is still answered."""
    victim = "127.0.0.2" if mx is None else "127.0.0.3"
    answer = client(device, "flood", where, "1900", "2000", search(target, mx).hex(),
                    "--source", victim)  # fmt: skip
    assert answer["replies"] > 0, answer  # answered at first, within the budget
    assert answer["bytes_out"] <= answer["bytes_in"], answer
    (text,) = ask(device, search("upnp:rootdevice"), source="127.0.0.9")
    assert text.startswith("HTTP/1.1 200 OK"), text


NOT_A_SEARCH = st.one_of(
    st.binary(max_size=400),
    st.builds(
        lambda head, noise: head + noise,
        st.sampled_from([b"M-SEARCH * HTTP/1.1\r\n", b"M-SEARCH * HTTP/1.1\r\nMAN: x\r\n"]),
        st.binary(max_size=200),
    ),
)


def _is_search(data: bytes) -> bool:
    try:
        return ssdp.parse(data).kind is ssdp.Kind.SEARCH
    except ssdp.SsdpError:
        return False


@settings(
    max_examples=3, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
@given(datagrams=st.lists(NOT_A_SEARCH, min_size=40, max_size=40))
def test_malformed_datagrams_get_silence(device: NamespacedMfpd, datagrams: list[bytes]) -> None:
    bad = [d for d in datagrams if not _is_search(d)]
    answer = client(device, "spray", "127.0.0.1", "1900", "--source", "127.0.0.4",
                    stdin=json.dumps([d.hex() for d in bad]))  # fmt: skip
    assert answer["replies"] == 0, answer
    (text,) = ask(device, search("upnp:rootdevice"), source="127.0.0.5")
    assert text.startswith("HTTP/1.1 200 OK"), text


# -- announcements, and switching off (last: they change the daemon) -------------------------


def test_a_new_name_is_announced_with_a_new_configid(device: NamespacedMfpd) -> None:
    (text,) = ask(device, search("upnp:rootdevice"))
    before = headers(text)["CONFIGID.UPNP.ORG"]
    api_token(device)  # made before the listener starts: it takes a second
    listener = Listener(device, ssdp.GROUP, 1900, "NT: upnp:rootdevice\r\nNTS: ssdp:alive", 2)
    patch_config(device, {"identity": {"info": "Front desk MFP"}})
    alive = [headers(t) for t in listener.datagrams() if "NTS: ssdp:alive" in t]
    # A periodic alive may come before the change's: the last one has the new CONFIGID.
    assert alive and alive[-1]["CONFIGID.UPNP.ORG"] != before, (before, alive)
    page = client(device, "http", "GET", alive[-1]["LOCATION"])
    root = ET.fromstring(page["body"])
    assert root.get("configId") == alive[-1]["CONFIGID.UPNP.ORG"]
    assert root.findtext("d:device/d:friendlyName", namespaces=UPNP_NS) == "Front desk MFP"
    patch_config(device, {"identity": {"info": ""}})


def test_web_server_moved_byebye_then_alive_with_the_new_location(
    device: NamespacedMfpd,
) -> None:
    api_token(device)  # made before the listener starts: it takes a second
    moved = "LOCATION: http://127.0.0.1:8080/upnp/description.xml"
    listener = Listener(device, ssdp.GROUP, 1900, moved)
    try:
        patch_config(device, {"services": {"http": {"port": 8080}}})
        texts = listener.datagrams()
        byebye = [i for i, t in enumerate(texts) if "NTS: ssdp:byebye" in t]
        alive = [i for i, t in enumerate(texts) if moved in t]
        assert byebye and alive and byebye[0] < alive[-1], texts
        assert client(device, "http", "GET", moved.split(" ", 1)[1])["status"] == 200
    finally:
        patch_config(device, {"services": {"http": {"port": 80}}}, port=8080)
    wait_for_port(device, "http", 80)


def wait_for_port(device: NamespacedMfpd, service: str, port: int) -> None:
    """The listener that carried a PATCH restarts a moment after answering it."""
    deadline = time.monotonic() + WAIT
    while (
        port_row(device, service)["port"] != port
        or port_row(device, service)["state"] != "listening"
    ):
        assert time.monotonic() < deadline, port_row(device, service)
        time.sleep(0.1)


def test_switched_off_byebye_and_closed_then_on_alive(device: NamespacedMfpd) -> None:
    uuid = identity(device)["uuid"]
    listener = Listener(device, ssdp.GROUP, 1900, "NTS: ssdp:byebye", times=4)
    switch(device, "ssdp", False)
    byebye = [headers(t) for t in listener.datagrams() if "ssdp:byebye" in t]
    assert {h["NT"] for h in byebye} == {
        "upnp:rootdevice",
        f"uuid:{uuid}",
        ssdp.DEVICE_TYPE,
        ssdp.SERVICE_TYPE,
    }, byebye
    assert all(h["USN"].startswith(f"uuid:{uuid}") for h in byebye)
    assert port_row(device, "ssdp")["state"] == "disabled"
    assert not re.search(r":1900\s", udp_ports(device)), udp_ports(device)
    # The description goes with the responder.
    location = f"http://127.0.0.1:{device.ports['http']}/upnp/description.xml"
    assert client(device, "http", "GET", location)["status"] == 404

    # On again: ssdp:alive for every target at start, repeated (UDA 1.1 1.2.2), and again
    # before half of max-age has passed: the root's alive seen a fourth time.
    listener = Listener(device, ssdp.GROUP, 1900, "NT: upnp:rootdevice\r\nNTS: ssdp:alive", 4)
    switch(device, "ssdp", True)
    alive = [headers(t) for t in listener.datagrams() if "NTS: ssdp:alive" in t]
    roots = [h for h in alive if h["NT"] == "upnp:rootdevice"]
    assert len(roots) >= 4, alive
    assert {h["NT"] for h in alive} >= {f"uuid:{uuid}", ssdp.DEVICE_TYPE, ssdp.SERVICE_TYPE}
    assert {h["CACHE-CONTROL"] for h in alive} == {f"max-age={MAX_AGE}"}
    assert {h["LOCATION"] for h in alive} == {location}
    assert re.search(r"239\.255\.255\.250:1900\s", udp_ports(device)), udp_ports(device)
    assert client(device, "http", "GET", location)["status"] == 200


def test_daemon_stop_sends_byebye(device: NamespacedMfpd) -> None:
    """SIGTERM: ssdp:byebye for every target before the socket closes (the module's last
    test: the daemon is gone after it)."""
    uuid = identity(device)["uuid"]
    listener = Listener(device, ssdp.GROUP, 1900, "NTS: ssdp:byebye", times=4)
    assert device.stop(timeout=WAIT) == 0
    byebye = [headers(t) for t in listener.datagrams() if "ssdp:byebye" in t]
    assert {h["NT"] for h in byebye} == {
        "upnp:rootdevice",
        f"uuid:{uuid}",
        ssdp.DEVICE_TYPE,
        ssdp.SERVICE_TYPE,
    }, byebye
