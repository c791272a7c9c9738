"""The [tls] policy on every TLS listener (443, and TLS on 631): the lowest version and the
TLS 1.2 cipher list as sslscan, openssl and ipptool see them, changed at runtime through the
API; HSTS on HTTPS answers only; the device certificate's expiry warning; the CA bundle the
device's outbound clients verify peers with.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mfpd.security.tls import TLS_DIR, client_context
from tests.conftest import FAST_CONFIG, Mfpd, need
from tests.integration.test_web_api import Api, token

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
TLS_PORTS = ("https", "ipp")
# What a weak TLS 1.2 suite's OpenSSL name contains: CBC with SHA-1 (…-SHA), RSA key
# exchange (no ECDHE/DHE prefix), 3DES, RC4, NULL, EXPORT, anonymous, MD5.
WEAK = re.compile(r"(-SHA$|^AES|^DES|^RC4|3DES|DES-CBC|RC4|NULL|EXP|ADH|AECDH|MD5|^CAMELLIA)")


def sslscan(port: int) -> tuple[dict[str, bool], list[tuple[str, str]]]:
    """The protocol versions sslscan finds enabled and the suites it sees accepted."""
    out = subprocess.run(
        ["sslscan", "--no-colour", "--no-heartbleed", "--no-groups", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    versions = {
        m[1]: m[2] == "enabled"
        for m in re.finditer(r"^(SSLv[23]|TLSv1\.[0-3])\s+(enabled|disabled)", out, re.M)
    }
    suites = re.findall(r"^(?:Preferred|Accepted)\s+(TLSv1\.[0-3])\s+\d+ bits\s+(\S+)", out, re.M)
    assert versions and suites, out
    return versions, suites


def handshake(port: int, version: ssl.TLSVersion) -> str:
    """The version a handshake capped at `version` agrees on; SSLError when refused."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw) as tls,
    ):
        return str(tls.version())


def refused(port: int, version: ssl.TLSVersion) -> bool:
    try:
        handshake(port, version)
    except ssl.SSLError:
        return True
    return False


def test_the_default_policy_offers_tls_12_and_13_with_strong_suites_only(mfpd: Mfpd) -> None:
    need("sslscan")
    for service in TLS_PORTS:
        versions, suites = sslscan(mfpd.port(service))
        assert versions == {
            "SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False,
            "TLSv1.2": True, "TLSv1.3": True,
        }, service  # fmt: skip
        tls12 = [name for version, name in suites if version == "TLSv1.2"]
        assert tls12 and all(name.startswith("ECDHE-") for name in tls12), (service, tls12)
        assert not [name for name in tls12 if WEAK.search(name)], (service, tls12)
        assert all(("GCM" in name or "CHACHA20" in name) for _, name in suites), suites


def test_minimum_version_13_refuses_tls_12_handshakes(mfpd_factory: Callable[..., Mfpd]) -> None:
    need("sslscan", "openssl")
    daemon = mfpd_factory(FAST_CONFIG + '\n[tls]\nminimum_version = "1.3"\n')
    for service in TLS_PORTS:
        port = daemon.port(service)
        versions, suites = sslscan(port)
        assert not versions["TLSv1.2"] and versions["TLSv1.3"], (service, versions)
        assert {version for version, _ in suites} == {"TLSv1.3"}, suites
        assert refused(port, ssl.TLSVersion.TLSv1_2), service
        assert handshake(port, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        # OpenSSL's own client: the device answers a protocol_version alert (RFC 8446 6.2).
        out = subprocess.run(
            ["openssl", "s_client", "-tls1_2", "-connect", f"127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.returncode != 0 and "alert protocol version" in out.stderr, out.stderr


def test_ipptool_capped_at_tls_12_cannot_reach_a_tls_13_device(
    mfpd_factory: Callable[..., Mfpd], tmp_path: Path
) -> None:
    """CUPS's client.conf `SSLOptions MaxTLS1.2`: libcups's own TLS refuses, as the field's
    IPP clients would against such a device; uncapped, the same request succeeds."""
    need("ipptool")
    daemon = mfpd_factory(FAST_CONFIG + '\n[tls]\nminimum_version = "1.3"\n')
    uri = f"ipps://127.0.0.1:{daemon.port('https')}/ipp/print"

    def get_printer_attributes(options: str) -> subprocess.CompletedProcess[str]:
        root = tmp_path / options.replace(" ", "-")
        root.mkdir()
        (root / "client.conf").write_text(f"SSLOptions {options}\n")
        env = {**os.environ, "CUPS_SERVERROOT": str(root), "HOME": str(tmp_path)}
        return subprocess.run(
            ["ipptool", "-T", "10", "-t", uri, "get-printer-attributes.test"],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip

    capped = get_printer_attributes("MaxTLS1.2")
    assert capped.returncode != 0, capped.stdout
    uncapped = get_printer_attributes("MinTLS1.2")
    assert uncapped.returncode == 0, uncapped.stdout + uncapped.stderr


def test_the_policy_changes_at_runtime_through_the_api(mfpd: Mfpd) -> None:
    api = Api(mfpd, token(mfpd), tls=True)
    assert handshake(mfpd.port("https"), ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    bad = api.patch("/config", json={"tls": {"ciphers": "NOSUCHCIPHER"}})
    assert bad.status_code == 422 and "tls.ciphers" in bad.json()["error"], bad.text
    answer = api.patch("/config", json={"tls": {"minimum_version": "1.3"}})
    assert answer.status_code == 200 and answer.json()["tls"]["minimum_version"] == "1.3"
    for service in TLS_PORTS:
        port = mfpd.port(service)
        # The listener carrying the request restarts just after answering it.
        assert wait_until(lambda port=port: refused(port, ssl.TLSVersion.TLSv1_2)), service
        assert handshake(port, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def wait_until(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_hsts_goes_out_over_https_only(mfpd: Mfpd) -> None:
    def sts(url: str) -> str | None:
        answer = requests.get(url, timeout=TIMEOUT, verify=False, allow_redirects=False)
        assert answer.status_code == 200, (url, answer.status_code)
        return answer.headers.get("Strict-Transport-Security")

    for path in ("/", "/api/v1/status"):
        assert sts(f"https://127.0.0.1:{mfpd.port('https')}{path}") == "max-age=31536000"
        assert sts(f"https://127.0.0.1:{mfpd.port('ipp')}{path}") == "max-age=31536000"
        # RFC 6797 7.2: never over plain HTTP.
        assert sts(f"http://127.0.0.1:{mfpd.port('http')}{path}") is None
        assert sts(f"http://127.0.0.1:{mfpd.port('ipp')}{path}") is None


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


CA_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True,
    crl_sign=True, encipher_only=False, decipher_only=False,
)  # fmt: skip


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Site CA"))
        .issuer_name(_name("Test Site CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], days: float) -> tuple[str, str]:
    """A device certificate for 127.0.0.1 signed by `ca`, valid for `days`: PEM cert, key."""
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("printer.test"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("printer.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def test_a_certificate_expiring_in_10_days_is_warned_about(mfpd: Mfpd) -> None:
    api = Api(mfpd, token(mfpd))
    assert mfpd.status()["certificate"]["condition"] == "valid"
    cert, key = issue(make_ca(), days=10)
    installed = api.request("PUT", "/certificate", json={"certificate": cert, "key": key})
    assert installed.status_code == 200, installed.text
    info = installed.json()
    assert info["condition"] == "expiring" and info["days_left"] == 9 and info["warning"]

    status = mfpd.status()["certificate"]
    assert (status["condition"], status["days_left"]) == ("expiring", 9)
    text = mfpd.cli("status").stdout
    line = r"^certificate: CN=printer\.test, valid until .* \(9 days\)  WARNING"
    assert re.search(line, text, re.M), text
    page = requests.get(f"http://127.0.0.1:{mfpd.port('http')}/", timeout=TIMEOUT).text
    assert "The device certificate expires in 9 days" in page
    assert wait_until(lambda: "expires in 9 days" in mfpd.log.read_text())
    # A condition of the device, as its other warnings: IPP printer-state-reasons, SNMP's
    # prtAlertTable (alert code other, severity warning) and the alert list of status.
    assert "certificate-expiring" in [a["kind"] for a in mfpd.status()["alerts"]]
    need("snmpwalk", "ipptool")
    alerts = subprocess.run(
        ["snmpwalk", "-v2c", "-c", "public", "-On", f"127.0.0.1:{mfpd.port('snmp')}",
         "1.3.6.1.2.1.43.18.1.1.8"],
        capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    assert "CERTIFICATE EXPIRES SOON" in alerts, alerts
    reasons = subprocess.run(
        ["ipptool", "-tv", f"ipp://127.0.0.1:{mfpd.port('ipp')}/ipp/print",
         "get-printer-attributes.test"],
        capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    assert "certificate-expiring-warning" in reasons
    # ... and a restart says it again in the log, and raises it again.
    mfpd.stop()
    mfpd.start()
    assert mfpd.log.read_text().count("the device certificate CN=printer.test expires in 9") == 2
    assert "certificate-expiring" in [a["kind"] for a in mfpd.status()["alerts"]]
    # A certificate valid for long clears it.
    cert, key = issue(make_ca(), days=400)
    assert api.request("PUT", "/certificate", json={"certificate": cert, "key": key}).ok
    assert "certificate-expiring" not in [a["kind"] for a in mfpd.status()["alerts"]]


def test_an_imported_ca_bundle_verifies_outbound_peers(mfpd: Mfpd) -> None:
    """client_context(), what the outbound services will connect with, against the device's
    own HTTPS serving a certificate of the imported CA."""
    ca = make_ca()
    cert, key = issue(ca, days=100)
    api = Api(mfpd, token(mfpd))
    assert api.request("PUT", "/certificate", json={"certificate": cert, "key": key}).ok
    tls_dir = mfpd.state_dir / TLS_DIR
    port = mfpd.port("https")

    def verified() -> bool:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
                client_context(tls_dir).wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return True
        except ssl.SSLCertVerificationError:
            return False

    # The listeners restart with the new certificate once the answer is out.
    assert wait_until(lambda: ssl.get_server_certificate(("127.0.0.1", port)) == cert)
    assert not verified()  # the system's store knows no such CA
    ca_pem = ca[0].public_bytes(serialization.Encoding.PEM).decode()
    assert api.request("PUT", "/ca-bundle", json={"bundle": "junk"}).status_code == 422
    imported = api.request("PUT", "/ca-bundle", json={"bundle": ca_pem})
    assert imported.status_code == 200, imported.text
    files = imported.json()["files"]
    assert [c["subject"] for c in files[0]["certificates"]] == ["CN=Test Site CA"]
    assert verified()
    assert api.get("/ca-bundle").json()["uploaded"] is True
    assert api.request("PUT", "/ca-bundle", json={"bundle": ""}).json()["uploaded"] is False
    assert not verified()
