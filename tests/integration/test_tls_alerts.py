"""A TLS handshake the device refuses is answered with a TLS alert, as a device's TLS stack
answers it, on every TLS listener (443, and 631 where TLS is told apart by the first byte)
and on both event loops the daemon runs on. asyncio and uvloop drop the alert OpenSSL makes
(CPython gh-98078): the client saw a bare close, and nmap could not name the service on 443.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import FAST_CONFIG, MFPD, ROOT, Mfpd, need, network_namespace

WAIT = 30.0


def client_hello(version: int, ciphers: tuple[int, ...]) -> bytes:
    """A ClientHello record (RFC 5246 7.4.1.2) with no extensions."""
    suites = b"".join(struct.pack(">H", c) for c in ciphers)
    body = (
        struct.pack(">H", version) + bytes(32) + b"\x00"  # random, no session id
        + struct.pack(">H", len(suites)) + suites + b"\x01\x00"  # null compression only
    )  # fmt: skip
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


# What the device cannot agree to: no common cipher suite (TLS_RSA_WITH_NULL_MD5 only), and
# SSL 3.0 (what nmap's SSLSessionReq probe offers; the device speaks TLS 1.2 and 1.3).
BAD_HELLOS = {
    "no-common-cipher": client_hello(0x0303, (0x0001,)),
    "ssl3": client_hello(0x0300, (0x002F, 0x000A)),
}


def answer_to(port: int, data: bytes) -> bytes:
    """Everything the device sends back before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(data)
        got = b""
        while chunk := sock.recv(4096):
            got += chunk
    return got


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_a_refused_client_hello_gets_a_tls_alert(
    mfpd_factory: Callable[..., Mfpd], event_loop: str
) -> None:
    daemon = mfpd_factory(FAST_CONFIG + f'\n[daemon]\nevent_loop = "{event_loop}"\n')
    assert f"event loop: {event_loop}" in daemon.log.read_text()
    for service in ("https", "ipp"):
        port = daemon.port(service)
        for name, hello in BAD_HELLOS.items():
            got = answer_to(port, hello)
            # RFC 8446 5.1 / RFC 5246 6.2.1: content type 21 (alert), a 3.x version, length 2;
            # RFC 8446 6: level 2, fatal. Then the device closes the connection.
            assert re.fullmatch(rb"\x15\x03[\x00-\x04]\x00\x02\x02.", got, re.S), (
                f"{service} {name}: {got.hex(' ')}"
            )
        # and a client that can agree is served as before
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
            context.wrap_socket(raw) as tls,
        ):
            tls.sendall(b"GET /icon.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert tls.recv(12) == b"HTTP/1.1 200"
    log = daemon.log.read_text()
    assert log.count("(answered with a TLS alert)") == 2 * len(BAD_HELLOS), log[-3000:]
    assert "Traceback" not in log


# nmap's own SSL probe (copied from its nmap-service-probes at test time) and its match for a
# TLS alert, on 443; then its GetRequest through the TLS tunnel, whose Server header nmap's
# http-server-header script reports as the product. A one-probe database, as the PJL test's
# (tests/integration/test_raw.py), keeps the scan to a few seconds.
NMAP_PROBES = "/usr/share/nmap/nmap-service-probes"
VERSIONDB = """Probe TCP NULL q||
totalwaitms 1000
{ssl_probe}
rarity 1
ports 443
match ssl m|^\\x15\\x03[\\x00-\\x03]\\0\\x02\\x02[F\\x28]|
Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|
rarity 1
sslports 443
"""


@pytest.fixture
def netns() -> Iterator[str]:
    """A namespace where the daemon can have port 443 itself (nmap takes a port for HTTPS
    by its number)."""
    need("nmap", NMAP_PROBES)
    with network_namespace("mfpd-tls") as name:
        yield name


def test_nmap_names_the_device_on_443(netns: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "mfpd.toml"
    config.write_text(FAST_CONFIG)
    log = tmp_path / "mfpd.log"
    with log.open("w") as out:
        # `ip netns exec` execs the command: the process is the daemon itself.
        proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, *MFPD, "serve", "--config", str(config),
             "--state-dir", str(state), "--port-offset", "0"],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT
        while not (state / "ports.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        ports = {r["service"]: r["port"] for r in json.loads((state / "ports.json").read_text())}
        assert ports["https"] == 443, ports
        ssl_probe = next(
            line for line in Path(NMAP_PROBES).read_text(errors="replace").splitlines()
            if line.startswith("Probe TCP SSLSessionReq ")
        )  # fmt: skip
        versiondb = tmp_path / "ssl-probes"
        versiondb.write_text(VERSIONDB.format(ssl_probe=ssl_probe))
        out = subprocess.run(
            ["ip", "netns", "exec", netns, "nmap", "-n", "-Pn", "-sT", "-sV",
             "--versiondb", str(versiondb), "-p", "443", "127.0.0.1"],
            capture_output=True, text=True, timeout=120,
        ).stdout  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)
    # Without the alert nmap printed `443/tcp open  ssl/https` and nothing more.
    assert re.search(r"^443/tcp\s+open\s+ssl/https\s+Xerox WorkCentre 7755\b", out, re.M), out
    assert "Traceback" not in log.read_text()
