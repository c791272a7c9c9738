"""Real servers for the outbound clients' tests, each started on loopback by the test and
stopped after it: a private CA and server certificate, aiosmtpd (STARTTLS, AUTH), pyftpdlib
(TLS_FTPHandler), vsftpd and Samba's smbd with private configuration files."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VSFTPD = "/usr/sbin/vsftpd"
SMBD = "/usr/sbin/smbd"
SMBPASSWD = "/usr/bin/smbpasswd"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate: what the device must trust
    cert: Path  # the server's certificate (localhost, 127.0.0.1), then its chain
    key: Path
    both: Path  # certificate and key in one file (vsftpd, pyftpdlib)


def make_pki(directory: Path, name: str = "localhost") -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mfpd test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(cert.public_bytes(pem))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    both = directory / "both.pem"
    both.write_bytes(cert_path.read_bytes() + key_path.read_bytes())
    both.chmod(0o600)
    return Pki(ca_path, cert_path, key_path, both)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out[-2000:]}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- vsftpd ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FtpServer:
    port: int
    root: Path  # where uploads land (the FTP user's directory)
    user: str
    password: str


@contextlib.contextmanager
def vsftpd(tmp: Path, pki: Pki, *, reuse: bool = True, ssl: bool = True) -> Iterator[FtpServer]:
    """vsftpd in the foreground on 127.0.0.1 with a private configuration: the anonymous
    account mapped to `nobody` under a private root, its password checked against a list of
    one (secure_email_list_enable), so a wrong password is refused with 530 as for a local
    user, without adding a user to the machine. Uploads, folders and renames allowed."""
    base = tmp / "vsftpd"
    empty = base / "empty"
    root = base / "root"
    incoming = root / "incoming"
    for d in (empty, incoming):
        d.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o555)  # vsftpd refuses a chroot it could write to
    shutil.chown(incoming, "daemon", "daemon")
    os.chmod(incoming, 0o755)
    password = "vs-Secret-42"
    (base / "passwords").write_text(password + "\n")
    port = free_port()
    low = free_port()
    conf = base / "vsftpd.conf"
    lines = [
        "listen=YES",
        "listen_ipv6=NO",
        "listen_address=127.0.0.1",
        f"listen_port={port}",
        "background=NO",
        "run_as_launching_user=NO",
        "anonymous_enable=YES",
        "local_enable=NO",
        "ftp_username=daemon",
        "nopriv_user=nobody",
        f"anon_root={root}",
        "no_anon_password=NO",
        "secure_email_list_enable=YES",
        f"email_password_file={base / 'passwords'}",
        "write_enable=YES",
        "anon_upload_enable=YES",
        "anon_mkdir_write_enable=YES",
        "anon_other_write_enable=YES",
        "anon_umask=022",
        f"secure_chroot_dir={empty}",
        "pasv_enable=YES",
        f"pasv_min_port={low}",
        f"pasv_max_port={low + 20}",
        "pasv_address=127.0.0.1",
        "connect_from_port_20=NO",
        "seccomp_sandbox=NO",
        "xferlog_enable=NO",
        "vsftpd_log_file=" + str(base / "vsftpd.log"),
        "dual_log_enable=NO",
        "log_ftp_protocol=YES",
        "syslog_enable=NO",
        "pam_service_name=vsftpd",
    ]
    if ssl:
        lines += [
            "ssl_enable=YES",
            "allow_anon_ssl=YES",
            "force_anon_logins_ssl=YES",
            "force_anon_data_ssl=YES",
            f"require_ssl_reuse={'YES' if reuse else 'NO'}",
            f"rsa_cert_file={pki.cert}",
            f"rsa_private_key_file={pki.key}",
            "ssl_ciphers=HIGH",
        ]
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen([VSFTPD, str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, proc)
        yield FtpServer(port, incoming, "anonymous", password)
    finally:
        stop(proc)


# --- pyftpdlib ------------------------------------------------------------------------------


@contextlib.contextmanager
def pyftpd(tmp: Path, pki: Pki | None) -> Iterator[FtpServer]:
    """pyftpdlib in a thread: TLS_FTPHandler (explicit FTPS) when given a certificate, with
    TLS required on control and data; one user with full rights on a private root."""
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

    root = tmp / "pyftpd"
    root.mkdir(parents=True, exist_ok=True)
    user, password = "scanner", "py-Secret-7"
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, str(root), perm="elradfmwMT")
    handler: type[FTPHandler]
    if pki is not None:

        class Secure(TLS_FTPHandler):  # type: ignore[misc]
            certfile = str(pki.cert)
            keyfile = str(pki.key)
            tls_control_required = True
            tls_data_required = True

        handler = Secure
    else:

        class Plain(FTPHandler):  # type: ignore[misc]
            pass

        handler = Plain
    handler.authorizer = authorizer
    low = free_port()
    handler.passive_ports = range(low, low + 20)
    handler.banner = "test server ready"
    server = FTPServer(("127.0.0.1", 0), handler)
    port = server.socket.getsockname()[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    try:
        yield FtpServer(port, root, user, password)
    finally:
        server.close_all()
        thread.join(timeout=10)
