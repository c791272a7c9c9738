"""Real servers for the outbound clients' tests, each started on loopback by the test and
stopped after it: a private CA and server certificate, aiosmtpd (STARTTLS, AUTH), pyftpdlib
(TLS_FTPHandler), vsftpd and Samba's smbd with private configuration files."""

from __future__ import annotations

import contextlib
import dataclasses
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
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from minikerberos.protocol.asn1_structs import (
    AS_REP,
    ETYPE_INFO2,
    KRB_ERROR,
    METHOD_DATA,
    EncryptedData,
    PrincipalName,
    Ticket,
)

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
    port: int,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 15,
    output: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = output.read_text(errors="replace")[-2000:] if output else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {said}")
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
    folder: str = ""  # where the user may write, as a URI path ("" : the login directory)
    peers: list[str] = dataclasses.field(default_factory=list)  # pyftpdlib: each login's client


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
    log = (base / "vsftpd.out").open("wb")
    proc = subprocess.Popen([VSFTPD, str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, proc, output=base / "vsftpd.out")
        yield FtpServer(port, incoming, "anonymous", password, "incoming")
    finally:
        stop(proc)
        log.close()


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
    peers: list[str] = []
    if pki is not None:

        class Secure(TLS_FTPHandler):  # type: ignore[misc]
            def on_login(self, username: str) -> None:
                peers.append(self.remote_ip)

            certfile = str(pki.cert)
            keyfile = str(pki.key)
            tls_control_required = True
            tls_data_required = True

        handler = Secure
    else:

        class Plain(FTPHandler):  # type: ignore[misc]
            def on_login(self, username: str) -> None:
                peers.append(self.remote_ip)

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
        yield FtpServer(port, root, user, password, peers=peers)
    finally:
        server.close_all()
        thread.join(timeout=10)


# --- Samba ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmbServer:
    port: int
    share: str
    root: Path  # the share's directory
    user: str
    password: str


@contextlib.contextmanager
def smbd(tmp: Path) -> Iterator[SmbServer]:
    """Samba's smbd in the foreground on 127.0.0.1 at a high port, everything private: its
    smb.conf, state, lock, cache and private (tdbsam passdb) directories under `tmp`, one
    user added with `smbpasswd -a -s` to that passdb. The user is a Unix account Samba maps
    to: `daemon`, which exists on every Debian system and owns the share's directory."""
    import tempfile

    base = tmp / "samba"
    dirs = {name: base / name for name in ("state", "lock", "cache", "private", "pid", "ncalrpc")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    # The share where `daemon` can reach it: pytest's own temporary directories are 0700.
    outer = Path(tempfile.mkdtemp(prefix="mfpd-smb-"))
    os.chmod(outer, 0o755)
    dirs["share"] = outer / "share"
    dirs["share"].mkdir()
    shutil.chown(dirs["share"], "daemon", "daemon")
    port = free_port()
    conf = base / "smb.conf"
    conf.write_text(
        "\n".join(
            [
                "[global]",
                "  server role = standalone server",
                "  workgroup = MFPDTEST",
                "  netbios name = MFPDTEST",
                "  interfaces = 127.0.0.1",
                "  bind interfaces only = yes",
                f"  smb ports = {port}",
                "  disable netbios = yes",
                "  server min protocol = SMB2_10",
                "  passdb backend = tdbsam",
                f"  private dir = {dirs['private']}",
                f"  state directory = {dirs['state']}",
                f"  lock directory = {dirs['lock']}",
                f"  cache directory = {dirs['cache']}",
                f"  pid directory = {dirs['pid']}",
                f"  ncalrpc dir = {dirs['ncalrpc']}",
                "  log level = 1",
                f"  log file = {base / 'log.smbd'}",
                "  load printers = no",
                "  printing = bsd",
                "  printcap name = /dev/null",
                "  disable spoolss = yes",
                "  map to guest = never",
                "  server signing = mandatory",
                "",
                "[scans]",
                f"  path = {dirs['share']}",
                "  read only = no",
                "  valid users = daemon",
                "",
            ]
        )
    )
    password = "smb-Secret-9"
    subprocess.run(
        [SMBPASSWD, "-c", str(conf), "-a", "-s", "daemon"],
        input=f"{password}\n{password}\n".encode(),
        check=True,
        capture_output=True,
        timeout=30,
    )
    log = (base / "smbd.out").open("wb")
    proc = subprocess.Popen(
        [SMBD, "--foreground", "--no-process-group", "--debug-stdout", f"--configfile={conf}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        # A session of its own: smbd ends its children with kill(0, SIGTERM) when it stops,
        # which would end pytest too if it shared pytest's process group.
        start_new_session=True,
    )
    try:
        wait_listening(port, proc, timeout=30, output=base / "smbd.out")
        yield SmbServer(port, "scans", dirs["share"], "daemon", password)
    finally:
        stop(proc)
        log.close()
        shutil.rmtree(outer, ignore_errors=True)


# --- aiosmtpd -------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    port: int
    user: str
    password: str
    # Each message taken: (MAIL FROM, RCPT TOs, MAIL options, RCPT options, the bytes).
    messages: list[tuple[str, list[str], list[str], list[str], bytes]]
    logins: list[tuple[str, bool]]
    peers: list[str] = dataclasses.field(default_factory=list)  # each message's client address


@contextlib.contextmanager
def smtp_server(
    pki: Pki | None,
    *,
    implicit: bool = False,
    dsn: bool = False,
    auth: bool = True,
    mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN"),
    size_limit: int = 32 * 1024 * 1024,
) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 in its own thread: STARTTLS required before AUTH (or TLS from
    the first byte with `implicit`), AUTH PLAIN and LOGIN against one user; `dsn` adds the
    DSN extension (RFC 3461) to EHLO and takes its parameters, which aiosmtpd alone refuses."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    user, password = "scanner@example.test", "smtp-Secret-3"
    server = SmtpServer(0, user, password, [], [])
    context = None
    if pki is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.cert, pki.key)

    class Handler:
        async def handle_EHLO(
            self, srv: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
        ) -> list[str]:
            session.host_name = hostname
            if dsn:
                responses.insert(-1, "250-DSN")
            return responses

        async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
            server.peers.append(session.peer[0])
            server.messages.append(
                (envelope.mail_from, list(envelope.rcpt_tos), list(envelope.mail_options),
                 list(envelope.rcpt_options), bytes(envelope.original_content or envelope.content))
            )  # fmt: skip
            return "250 OK"

    def authenticator(
        srv: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == user
            and data.password.decode() == password
        )
        server.logins.append((mechanism, ok))
        # handled=False: aiosmtpd answers 535 itself (with True it would wait for us to).
        return AuthResult(success=ok, handled=False)

    class DsnSmtp(SMTP):  # type: ignore[misc]
        def _getparams(self, params: list[str]) -> dict[str, Any] | None:
            found = super()._getparams(params)
            if dsn and found is not None:
                for key in ("RET", "ENVID", "NOTIFY", "ORCPT"):
                    found.pop(key, None)
            return found

    class Control(Controller):  # type: ignore[misc]
        def factory(self) -> SMTP:
            return DsnSmtp(self.handler, **self.SMTP_kwargs)

    port = free_port()
    kwargs: dict[str, Any] = {}
    if auth:
        # aiosmtpd knows of STARTTLS only: with implicit TLS it would hide AUTH.
        kwargs.update(
            authenticator=authenticator, auth_require_tls=pki is not None and not implicit
        )
    kwargs["auth_exclude_mechanism"] = [m for m in ("PLAIN", "LOGIN") if m not in mechanisms]
    kwargs["data_size_limit"] = size_limit
    if implicit:
        kwargs["ssl_context"] = context
    elif context is not None:
        kwargs.update(tls_context=context, require_starttls=True)
    control = Control(
        Handler(), hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
    )
    control.start()
    server.port = port
    try:
        yield server
    finally:
        control.stop()


# --- the device side ------------------------------------------------------------------------


def outbound_context(tmp: Path, config_text: str = "", bind: str = "127.0.0.1") -> Any:
    """A ServiceContext as the daemon builds it for the outbound clients: the configuration,
    the device, the state dir, the bind address and a real audit log."""
    import logging

    from mfpd.config import parse_config
    from mfpd.device.machine import build_device
    from mfpd.security.audit_events import AuditFeed
    from mfpd.security.audit_log import AuditLog
    from mfpd.services.base import ServiceContext

    config = parse_config(config_text)
    device = build_device(config)
    state = tmp / "state"
    state.mkdir(parents=True, exist_ok=True)
    return ServiceContext(
        config=config,
        device=device,
        spool=None,  # type: ignore[arg-type]  # the clients need none
        state_dir=state,
        bind=bind,
        port_offset=0,
        log=logging.getLogger("test"),
        subscriptions=None,  # type: ignore[arg-type]
        audit=AuditFeed(AuditLog(state, 1000), device),
    )


def credential_entries(ctx: Any) -> list[Any]:
    """The audit log's credential-use entries, oldest first (entries() gives newest first)."""
    found = [e for e in ctx.audit.log.entries() if e.event == "credential-use"]
    return sorted(found, key=lambda e: e.id)


# --- Knot DNS -------------------------------------------------------------------------------

KNOTD = "/usr/sbin/knotd"
KDIG = "/usr/bin/kdig"


@dataclass(frozen=True)
class DnsServer:
    address: str
    port: int
    key_name: str  # the TSIG key the zones take updates signed with
    secret: str  # its base64 secret
    zone: str
    reverse_zone: str
    namespace: str | None = None  # the network namespace it runs in, if any

    def query(self, name: str, rdtype: str, *, check: bool = True) -> list[str]:
        """What the server answers now (kdig, the field's client): the records' data."""
        inside = ["ip", "netns", "exec", self.namespace] if self.namespace else []
        done = subprocess.run(
            [*inside, KDIG, f"@{self.address}", "-p", str(self.port), "+short", "+time=3",
             "+retry=1", name, rdtype],
            capture_output=True, text=True, timeout=20, check=check,
        )  # fmt: skip
        return sorted(line for line in done.stdout.splitlines() if line)

    def wait_for(self, name: str, rdtype: str, expected: list[str], timeout: float = 20) -> None:
        """Until the server answers `expected` (an update the daemon sends in the background);
        the last answer in the failure otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(name, rdtype)
            if found == sorted(expected) or time.monotonic() > deadline:
                assert found == sorted(expected), f"{name} {rdtype}: {found}"
                return
            time.sleep(0.1)


@contextlib.contextmanager
def knot_server(
    tmp: Path,
    records: str = "",
    *,
    address: str = "127.0.0.1",
    port: int | None = None,
    namespace: str | None = None,
    reverse_zone: str = "127.in-addr.arpa.",
) -> Iterator[DnsServer]:
    """knotd on `address` (UDP and TCP; a free port of loopback unless given), in a network
    namespace if given, with a private configuration in `tmp`: the zone test.example (its
    primary ns, and mailhost, at `address`, plus `records`) and `reverse_zone`, both taking
    RFC 2136 updates signed with one hmac-sha256 TSIG key and nothing else."""
    import base64

    directory = tmp / "knot"
    for sub in ("run", "db", "zones"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    server = DnsServer(
        address, port or free_port(), "mfpd-key.", base64.b64encode(os.urandom(32)).decode(),
        "test.example.", reverse_zone, namespace,
    )  # fmt: skip
    soa = "ns.test.example. hostmaster.test.example. 1 3600 600 86400 60"
    (directory / "zones" / "test.example.zone").write_text(
        f"$ORIGIN test.example.\n$TTL 60\n@ SOA {soa}\n@ NS ns\n"
        f"ns A {address}\nmailhost A {address}\n{records}"
    )
    (directory / "zones" / f"{reverse_zone}zone").write_text(
        f"$ORIGIN {reverse_zone}\n$TTL 60\n@ SOA {soa}\n@ NS ns.test.example.\n"
    )
    conf = directory / "knot.conf"
    conf.write_text(
        f'server:\n    rundir: "{directory}/run"\n    listen: {address}@{server.port}\n'
        f'database:\n    storage: "{directory}/db"\n'
        f"key:\n  - id: {server.key_name}\n    algorithm: hmac-sha256\n"
        f"    secret: {server.secret}\n"
        f"acl:\n  - id: update\n    key: {server.key_name}\n    action: update\n"
        f'template:\n  - id: default\n    storage: "{directory}/zones"\n'
        f'    file: "%s.zone"\n    zonefile-sync: -1\n    zonefile-load: whole\n'
        f"    journal-content: none\n"
        f"zone:\n  - domain: {server.zone}\n    acl: update\n"
        f"  - domain: {server.reverse_zone}\n    acl: update\n"
        f"log:\n  - target: stderr\n    any: info\n"
    )
    output = directory / "knotd.log"
    inside = ["ip", "netns", "exec", namespace] if namespace else []
    with open(output, "wb") as out:
        proc = subprocess.Popen(
            [*inside, KNOTD, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        if namespace is None:
            wait_listening(server.port, proc, output=output)
        else:
            # Not reachable from here: asked from inside, until it answers for its zone.
            deadline = time.monotonic() + 15
            while not server.query(server.zone, "SOA", check=False):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"knotd did not start: {output.read_text()[-2000:]}")
                time.sleep(0.1)
        yield server
    finally:
        stop(proc)


# --- MIT Kerberos KDC -----------------------------------------------------------------------

KRB5KDC = "/usr/sbin/krb5kdc"
KDB5_UTIL = "/usr/sbin/kdb5_util"
KADMIN_LOCAL = "/usr/sbin/kadmin.local"  # Debian: krb5-admin-server


@dataclass(frozen=True)
class Kdc:
    port: int  # UDP and TCP
    realm: str
    log: Path  # the KDC's own log: one line per AS-REQ with the enctypes it offered
    env: dict[str, str]  # KRB5_CONFIG and KRB5_KDC_PROFILE, for kadmin.local and kinit

    def kadmin(self, query: str) -> str:
        done = subprocess.run(
            [KADMIN_LOCAL, "-r", self.realm, "-q", query],
            env=self.env, capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        # kadmin.local exits 0 on a failed query; MIT's messages say "... while ...".
        if " while " in done.stderr:
            raise RuntimeError(f"kadmin.local {query!r}: {done.stderr}")
        return done.stdout

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []


@contextlib.contextmanager
def mit_kdc(
    tmp: Path,
    realm: str = "TEST.REALM",
    enctypes: str = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal",
) -> Iterator[Kdc]:
    """MIT krb5kdc in the foreground (-n) on a free port, UDP and TCP, with a private
    KRB5_CONFIG and KRB5_KDC_PROFILE and a database of its own in `tmp` (kdb5_util create
    -s): nothing of the machine's Kerberos is read or touched. Principals are added with
    kdc.kadmin('addprinc ...')."""
    base = tmp / "kdc"
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (base / "krb5.conf").write_text(
        "[libdefaults]\n"
        f"  default_realm = {realm}\n  dns_lookup_kdc = false\n  dns_lookup_realm = false\n"
        f"[realms]\n  {realm} = {{\n    kdc = 127.0.0.1:{port}\n  }}\n"
    )
    (base / "kadm5.acl").write_text("")
    (base / "kdc.conf").write_text(
        f"[kdcdefaults]\n  kdc_ports = {port}\n  kdc_tcp_ports = {port}\n"
        f"[realms]\n  {realm} = {{\n"
        f"    database_name = {base / 'principal'}\n"
        f"    key_stash_file = {base / 'stash'}\n"
        f"    acl_file = {base / 'kadm5.acl'}\n"
        f"    supported_enctypes = {enctypes}\n"
        "    max_life = 1h\n  }\n"
        f"[logging]\n  kdc = FILE:{base / 'kdc.log'}\n"
    )
    env = {
        **os.environ,
        "KRB5_CONFIG": str(base / "krb5.conf"),
        "KRB5_KDC_PROFILE": str(base / "kdc.conf"),
    }
    subprocess.run(
        [KDB5_UTIL, "create", "-s", "-P", "master-Secret-1", "-r", realm],
        env=env, capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    kdc = Kdc(port, realm, base / "kdc.log", env)
    out = base / "krb5kdc.out"
    with out.open("wb") as log:
        proc = subprocess.Popen([KRB5KDC, "-n"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, proc, output=out)
        yield kdc
    finally:
        stop(proc)


# Replies of a stand-in KDC (tests/integration/test_outbound_kerberos.py): what a KDC, or one
# pretending to be it, could answer, built with minikerberos's ASN.1.


def krb_error(code: int, e_data: bytes | None = None) -> bytes:
    """A KRB-ERROR (RFC 4120 5.9.1) from the KDC of TEST.REALM, stamped now."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    fields: dict[str, Any] = {
        "pvno": 5, "msg-type": 30, "stime": now, "susec": 0, "error-code": code,
        "realm": "TEST.REALM",
        "sname": PrincipalName({"name-type": 2, "name-string": ["krbtgt", "TEST.REALM"]}),
    }  # fmt: skip
    if e_data is not None:
        fields["e-data"] = e_data
    return bytes(KRB_ERROR(fields).dump())


def preauth_required(etypes: list[int]) -> bytes:
    """KDC_ERR_PREAUTH_REQUIRED whose ETYPE-INFO2 names `etypes`, as a KDC asks for the
    encrypted timestamp (RFC 4120 5.2.7.5)."""
    info = ETYPE_INFO2([{"etype": e, "salt": "TEST.REALMalice"} for e in etypes]).dump()
    return krb_error(25, METHOD_DATA([{"padata-type": 19, "padata-value": info}]).dump())


def as_rep_in(etype: int) -> bytes:
    sname = PrincipalName({"name-type": 2, "name-string": ["krbtgt", "TEST.REALM"]})
    blob = EncryptedData({"etype": etype, "cipher": b"\x00" * 64})
    ticket = Ticket({"tkt-vno": 5, "realm": "TEST.REALM", "sname": sname, "enc-part": blob})
    return bytes(
        AS_REP(
            {
                "pvno": 5, "msg-type": 11, "crealm": "TEST.REALM",
                "cname": PrincipalName({"name-type": 1, "name-string": ["alice"]}),
                "ticket": ticket, "enc-part": blob,
            }
        ).dump()
    )  # fmt: skip
