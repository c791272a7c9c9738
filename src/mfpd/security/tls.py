"""TLS material: the device certificate, made at first start unless one is configured.

Like a printer out of the box, mfpd presents a self-signed certificate for its host name
(also valid for localhost and the loopback addresses, where tests reach it). The key never
leaves the state dir (mode 0600).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import re
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from mfpd.config import TlsConfig

TLS_DIR = "tls"  # under the state dir
CERT_NAME = "device-cert.pem"
KEY_NAME = "device-key.pem"
CA_BUNDLE_NAME = "ca-bundle.pem"  # the CAs an administrator uploaded for outbound peers
VALID_DAYS = 3650

log = logging.getLogger("mfpd.tls")


def ensure_certificate(directory: Path, hostname: str, organization: str) -> tuple[Path, Path]:
    """The certificate and key in `directory`, created if missing."""
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hostname),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    alt_names = _alt_names(hostname)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _write_key(path: Path, key: PrivateKeyTypes) -> None:
    """The key in PEM, readable by the owner only from the moment the file exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


class HandshakeRefused(ssl.SSLError):
    """A TLS handshake OpenSSL refused, with the alert record it made for the peer (RFC 8446
    6.2: the side that fails a handshake sends a fatal alert, then closes)."""

    def __init__(self, cause: ssl.SSLError, alert: bytes) -> None:
        super().__init__(*cause.args)  # str() is OpenSSL's message, as the cause's
        self.library = cause.library
        self.reason = cause.reason
        self.alert = alert


class _AlertKeepingObject(ssl.SSLObject):
    """The TLS state of one connection, as asyncio's and uvloop's TLS transports drive it.

    When a handshake fails, OpenSSL has written its alert to the outgoing memory BIO, and
    both event loops close the socket without sending it (CPython gh-98078, uvloop's
    sslproto.pyx alike): the client sees a bare close, where a device's TLS stack answers
    e.g. `15 03 03 00 02 02 28` (handshake_failure), and nmap cannot tell TLS is spoken. So
    the alert is taken out here and travels on the exception, for the listener to send
    (services/tls_accept.py)."""

    outgoing: ssl.MemoryBIO | None = None

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:
            alert = self.outgoing.read() if self.outgoing is not None else b""
            if not alert:
                raise
            raise HandshakeRefused(exc, alert) from exc


class DeviceContext(ssl.SSLContext):
    """An SSLContext whose connections keep the alert of a failed handshake."""

    sslobject_class = _AlertKeepingObject

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        tls = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        if isinstance(tls, _AlertKeepingObject):
            tls.outgoing = outgoing
        return tls


TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def server_context(cert: Path, key: Path, policy: TlsConfig | None = None) -> DeviceContext:
    """The one TLS context every listener of the device serves with, under the [tls] policy:
    the lowest version offered and the TLS 1.2 cipher list (OpenSSL fixes TLS 1.3's)."""
    policy = policy or TlsConfig()
    # What ssl.create_default_context(Purpose.CLIENT_AUTH) makes (PROTOCOL_TLS_SERVER's own
    # defaults: no SSLv2/v3, no compression, server cipher preference), as a DeviceContext.
    context = DeviceContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[policy.minimum_version]
    context.set_ciphers(policy.ciphers)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    # No TLS 1.3 session tickets (RFC 8446 4.6.1; OpenSSL sends two after the handshake by
    # default). CUPS's GnuTLS client with a timeout (`ipptool -T 5`, libcups callers) reads
    # a ticket arriving after its request as the answer, then as the connection closing, and
    # reconnects for ever (about 600 TLS connections a second, no result). mfpd does not
    # resume sessions, so a ticket is of no use to any client.
    context.num_tickets = 0
    return context


def client_context(directory: Path, policy: TlsConfig | None = None) -> ssl.SSLContext:
    """The context the device's outbound clients (SMTP, FTP, LDAP, ...) verify peers with:
    the CAs of [tls] ca_bundle and of the uploaded bundle when there are any, else the
    system's store; host names checked (RFC 6125), the same lowest version as the listeners."""
    policy = policy or TlsConfig()
    bundles = ca_bundle_paths(directory, policy)
    if bundles:
        # A store of its own: an administrator who imports CAs trusts exactly those.
        # PROTOCOL_TLS_CLIENT requires a certificate and checks the host name.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for path in bundles:
            context.load_verify_locations(cafile=path)
    else:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = TLS_VERSIONS[policy.minimum_version]
    context.set_ciphers(policy.ciphers)
    return context


def ca_bundle_paths(directory: Path, policy: TlsConfig) -> list[Path]:
    paths = [Path(policy.ca_bundle)] if policy.ca_bundle else []
    uploaded = directory / CA_BUNDLE_NAME
    if uploaded.exists():
        paths.append(uploaded)
    return paths


def install_ca_bundle(directory: Path, pem: str) -> list[dict[str, object]]:
    """Keep an administrator's CA certificates (PEM, one or more) for outbound peers; an
    empty bundle removes the uploaded one."""
    target = directory / CA_BUNDLE_NAME
    if not pem.strip():
        target.unlink(missing_ok=True)
        return []
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise CertificateError("the bundle is not a list of PEM certificates") from None
    body = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    try:
        ssl.create_default_context(cadata=body.decode())
    except ssl.SSLError as exc:
        raise CertificateError(f"TLS refuses the bundle: {exc}") from None
    directory.mkdir(parents=True, exist_ok=True)
    staging = target.with_suffix(".tmp")
    staging.write_bytes(body)
    os.replace(staging, target)
    return [_summary(c) for c in certs]


def ca_bundle_info(directory: Path, policy: TlsConfig) -> dict[str, object]:
    """What GET /api/v1/ca-bundle and the Security page show: each file and its CAs."""
    files = []
    for path in ca_bundle_paths(directory, policy):
        try:
            certs = [_summary(c) for c in x509.load_pem_x509_certificates(path.read_bytes())]
            files.append({"path": str(path), "certificates": certs})
        except (OSError, ValueError) as exc:
            files.append({"path": str(path), "certificates": [], "error": str(exc)})
    return {"uploaded": (directory / CA_BUNDLE_NAME).exists(), "files": files}


def _summary(cert: x509.Certificate) -> dict[str, object]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    }


def certificate_expiry(directory: Path, warning_days: int) -> dict[str, object]:
    """The device certificate's end of validity as status shows it: days left, and a warning
    from `warning_days` before (the device's own certificate stops HTTPS and IPPS clients
    that verify it the day it expires)."""
    try:
        cert = x509.load_pem_x509_certificate((directory / CERT_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    not_after = cert.not_valid_after_utc
    left = not_after - datetime.datetime.now(datetime.UTC)
    days = left.days  # whole days, rounded down: 9 days 23 hours is 9
    if left.total_seconds() <= 0:
        condition = "expired"
    elif days < warning_days:
        condition = "expiring"
    else:
        condition = "valid"
    return {
        "subject": cert.subject.rfc4514_string(),
        "not_after": not_after.isoformat(),
        "days_left": days,
        "condition": condition,
        "warning": condition != "valid",
    }


def log_certificate_expiry(expiry: dict[str, object]) -> None:
    """The log line an administrator sees when the device certificate nears its end."""
    if expiry.get("condition") == "expired":
        log.error("the device certificate %s expired on %s", expiry["subject"], expiry["not_after"])
    elif expiry.get("warning"):
        log.warning(
            "the device certificate %s expires in %s days (%s): install a new one",
            expiry["subject"], expiry["days_left"], expiry["not_after"],
        )  # fmt: skip


class CertificateError(ValueError):
    """An uploaded certificate or key that cannot serve (the message says why)."""


def _alt_names(hostname: str) -> list[x509.GeneralName]:
    return [
        x509.DNSName(hostname),
        x509.DNSName(f"{hostname}.local"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]


def certificate_info(directory: Path, warning_days: int = 30) -> dict[str, object]:
    """What the Security page and GET /api/v1/certificate show of the device certificate."""
    cert = x509.load_pem_x509_certificate((directory / CERT_NAME).read_bytes())
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        alt = [str(n.value) for n in names]
    except x509.ExtensionNotFound:
        alt = []
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "self_signed": cert.subject == cert.issuer,
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "serial_number": format(cert.serial_number, "x"),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "subject_alt_names": alt,
        **certificate_expiry(directory, warning_days),
    }


def install_certificate(
    directory: Path, cert_pem: str, key_pem: str, warning_days: int = 30
) -> dict[str, object]:
    """Replace the device certificate with an administrator's (a chain: the device's first)
    and its key, after checking that they belong together and that TLS accepts them; the
    old pair stays if anything is wrong."""
    try:
        chain = x509.load_pem_x509_certificates(cert_pem.encode())
    except ValueError:
        raise CertificateError("the certificate is not a PEM certificate") from None
    if not key_pem.strip():
        key_pem = (directory / KEY_NAME).read_text()  # signed from our own CSR
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise CertificateError("the key is not an unencrypted PEM private key") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if chain[0].public_key().public_bytes(encoding, public) != key.public_key().public_bytes(
        encoding, public
    ):
        raise CertificateError("the key does not belong to the certificate")
    if chain[0].not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        raise CertificateError("the certificate has expired")
    staging = directory / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = staging / CERT_NAME, staging / KEY_NAME
    cert_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    _write_key(key_path, key)
    try:
        server_context(cert_path, key_path)
    except (ssl.SSLError, ValueError) as exc:
        raise CertificateError(f"TLS refuses the pair: {exc}") from None
    os.replace(key_path, directory / KEY_NAME)
    os.replace(cert_path, directory / CERT_NAME)
    staging.rmdir()
    return certificate_info(directory, warning_days)


# RFC 5280 Appendix A: ub-common-name and ub-organization-name are 64; a host name is ASCII.
COMMON_NAME = re.compile(r"[ -~]{0,64}")


def make_csr(directory: Path, hostname: str, organization: str, common_name: str = "") -> str:
    """A PKCS #10 request (RFC 2986) for the device's own key, to be signed by the site's CA
    and installed back with install_certificate (the key stays on the device)."""
    if not COMMON_NAME.fullmatch(common_name):
        raise CertificateError("a common name is a host name: up to 64 printable ASCII characters")
    common_name = common_name.strip()
    key = serialization.load_pem_private_key((directory / KEY_NAME).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateError("the device key cannot sign a request")
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name or hostname)]
    # The organization is optional in a request: one that does not fit is left out.
    if organization and len(organization.encode()) <= 64:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attributes))
        .add_extension(x509.SubjectAlternativeName(_alt_names(hostname)), critical=False)
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()
