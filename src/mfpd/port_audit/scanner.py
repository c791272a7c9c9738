"""The live scan: a TCP connect to each port, then what the port answers tells what it is;
a protocol probe to each UDP port. Every port is probed at once (asyncio), each step with
its own timeout, so a scan of twenty ports takes a few seconds.

A printer's raw port prints whatever it is sent, so the first bytes sent to an unknown TCP
port are a UEL-bracketed PJL query (INFO ID): a printer answers it and prints nothing, an
HTTP server answers 400, a TLS listener a TLS alert, an LPD daemon refuses the command.
Only then do the probes of the protocol it showed follow. A port that says nothing to the
PJL query is left alone (it could be a raw port without PJL: anything more would print).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from mfpd.port_audit import probes

CONNECT_TIMEOUT = 2.0
BANNER_WAIT = 0.4  # a server that speaks first (FTP, SMTP, SSH) has spoken by then
ANSWER_TIMEOUT = 3.0
UDP_TIMEOUT = 1.0
UDP_TRIES = 2
MAX_ANSWER = 256 * 1024
# The most one TCP port's identification may take, whatever its server does.
PORT_BUDGET = 12.0


@dataclass
class Finding:
    """What one port showed: its state and the protocols it answered (never a guess from
    the port number)."""

    protocol: str  # tcp, udp
    port: int
    state: str  # open, closed, filtered, open|filtered
    speaks: list[str] = field(default_factory=list)  # ipp, http, tls, pjl, lpd, snmp, ...
    details: list[str] = field(default_factory=list)

    @property
    def service(self) -> str:
        return "+".join(self.speaks) if self.speaks else ("?" if self.state == "open" else "")

    @property
    def identification(self) -> str:
        return "; ".join(self.details)

    def to_dict(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "port": self.port,
            "state": self.state,
            "service": self.service,
            "speaks": self.speaks,
            "identification": self.identification,
        }


async def scan(
    host: str, tcp_ports: list[int], udp_ports: dict[int, str], community: str
) -> list[Finding]:
    """Every port at once; `udp_ports` maps a port to the probe it gets (snmp, slp, ssdp,
    nbns, mdns, wsd, or "" for none)."""
    tasks = [_tcp(host, port) for port in tcp_ports]
    tasks += [_udp(host, port, kind, community) for port, kind in udp_ports.items()]
    return list(await asyncio.gather(*tasks))


# --- TCP --------------------------------------------------------------------------------
async def _exchange(
    host: str,
    port: int,
    request: bytes,
    *,
    tls: ssl.SSLContext | None = None,
    until: Callable[[bytes], bool] | None = None,
) -> bytes:
    """Connect, send, read until the peer closes (or `until` says the answer is whole, or the
    time is up); what came back."""
    got = b""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=tls, server_hostname="" if tls else None),
        CONNECT_TIMEOUT,
    )
    try:
        writer.write(request)
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while len(got) < MAX_ANSWER:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                got += chunk
                if until is not None and until(got):
                    break
    except (TimeoutError, OSError, ssl.SSLError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    return got


def _no_verify() -> ssl.SSLContext:
    # Identification, not trust: the scanner reads whatever certificate is presented.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _tcp(host: str, port: int) -> Finding:
    finding = Finding("tcp", port, "closed")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT
        )
    except TimeoutError:
        finding.state = "filtered"
        return finding
    except OSError as exc:
        finding.state = (
            "filtered" if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else "closed"
        )
        return finding
    finding.state = "open"
    try:
        async with asyncio.timeout(PORT_BUDGET):
            await _identify(finding, host, port, reader, writer)
    except TimeoutError:
        finding.details.append(f"identification cut off after {PORT_BUDGET:.0f} s")
    return finding


async def _identify(
    finding: Finding,
    host: str,
    port: int,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """What an open port is, from its banner or its answer to the PJL query, then from the
    probes of the protocol that answer showed."""
    first, still_open = b"", True
    try:
        with contextlib.suppress(TimeoutError):
            first = await asyncio.wait_for(reader.read(4096), BANNER_WAIT)
        if not first:
            writer.write(probes.PJL_INFO_ID)
            async with asyncio.timeout(ANSWER_TIMEOUT):
                while b"\x0c" not in first and len(first) < MAX_ANSWER:
                    chunk = await reader.read(4096)
                    if not chunk:
                        still_open = False
                        break
                    first += chunk
                    if first.startswith((b"HTTP/", b"\x15")) and len(first) >= 7:
                        break
        else:
            _banner(finding, first)
            return
    except TimeoutError:
        pass
    except OSError:
        still_open = False
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    model = probes.pjl_id(first)
    if model is not None:
        finding.speaks.append("pjl")
        finding.details.append(f"PJL INFO ID: {model}")
    elif first.startswith(b"HTTP/"):
        await _http_family(finding, host, port, tls_only=False)
    elif probes.tls_alert(first):
        await _http_family(finding, host, port, tls_only=True)
    elif not first and still_open:
        finding.details.append("open, no answer to a PJL query")
    elif not first and await _tls_web(host, port) is not None:
        # Closed at the PJL query without a word: OpenSSL's answer to a record that is not
        # TLS at all (no alert for a bad record header), or an HTTP server that drops a
        # request line it cannot read; a real ClientHello, then HTTP itself, tell.
        await _http_family(finding, host, port, tls_only=False)
    else:
        await _lpd(finding, host, port)


def _banner(finding: Finding, banner: bytes) -> None:
    text = probes.printable(banner).strip().splitlines()[0][:120] if banner.strip() else ""
    upper = text.upper()
    if text.startswith("SSH-"):
        finding.speaks.append("ssh")
    elif text.startswith("220") and "FTP" in upper:
        finding.speaks.append("ftp")
    elif text.startswith("220") and ("SMTP" in upper or "MAIL" in upper):
        finding.speaks.append("smtp")
    elif text.startswith("+OK"):
        finding.speaks.append("pop3")
    finding.details.append(f"banner: {text}")


async def _lpd(finding: Finding, host: str, port: int) -> None:
    try:
        answer = await _exchange(host, port, probes.lpd_queue_state("lp"))
    except (OSError, TimeoutError):
        answer = b""
    text = probes.lpd_answer(answer)
    if text is not None:
        finding.speaks.append("lpd")
        finding.details.append(f"LPD queue state: {text}")
    else:
        finding.details.append("open, unidentified (no PJL, HTTP, TLS or LPD answer)")


async def _http_family(finding: Finding, host: str, port: int, *, tls_only: bool) -> None:
    """A port that answered like HTTP or TLS, or closed without a word: the certificate,
    the page and IPP, in plain text (unless it is known to be TLS only) and inside TLS."""
    plain_speaks: list[str] = []
    plain_details: list[str] = []
    if tls_only:
        tls_result = await _tls_web(host, port)
    else:
        (plain_speaks, plain_details), tls_result = await asyncio.gather(
            _web(host, port, None), _tls_web(host, port)
        )
    finding.speaks += plain_speaks
    finding.details += plain_details
    if tls_result is None:
        return
    speaks, details = tls_result
    if not plain_speaks:
        finding.speaks += speaks or ["tls"]
        finding.details += details
        return
    # TLS on the same port (told apart by the first byte): the certificate, and what
    # answers inside it only where that differs from the plain answers.
    finding.speaks.append("tls")
    finding.details.append(details[0] + " on the same port")
    finding.details += [d for d in details[1:] if d not in finding.details]


async def _tls_web(host: str, port: int) -> tuple[list[str], list[str]] | None:
    context = _no_verify()
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=""),
            CONNECT_TIMEOUT + ANSWER_TIMEOUT,
        )
    except (OSError, ssl.SSLError, TimeoutError):
        return None
    tls = writer.get_extra_info("ssl_object")
    subject, version = "", ""
    if isinstance(tls, ssl.SSLObject):
        version = str(tls.version())
        der = tls.getpeercert(binary_form=True)
        if der:
            from cryptography import x509

            with contextlib.suppress(ValueError):
                subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    speaks, details = await _web(host, port, context)
    names = {"http": "https", "ipp": "ipps"}
    details = [f"TLS {version} certificate {subject or '(none)'}", *details]
    return [names.get(s, s) for s in speaks], details


async def _web(host: str, port: int, tls: ssl.SSLContext | None) -> tuple[list[str], list[str]]:
    """GET / and an IPP Get-Printer-Attributes, side by side."""
    scheme = "ipps" if tls else "ipp"
    page, ipp = await asyncio.gather(
        _http(host, port, probes.http_get(_host_header(host, port)), tls),
        _ipp(host, port, scheme, tls),
    )
    speaks: list[str] = []
    details: list[str] = []
    if ipp is not None:
        speaks.append("ipp")
        details.append(f"IPP printer-make-and-model: {ipp}")
    if page is not None:
        speaks.append("http")
        what = f"HTTP {page.status}"
        if page.server:
            what += f", Server: {page.server}"
        if page.title:
            what += f", title: {page.title}"
        elif page.content_type:
            what += f", {page.content_type}"
        details.append(what)
    return speaks, details


async def _http(
    host: str, port: int, request: bytes, tls: ssl.SSLContext | None
) -> probes.HttpAnswer | None:
    try:
        answer = await _exchange(host, port, request, tls=tls)
    except (OSError, ssl.SSLError, TimeoutError):
        return None
    return probes.http_answer(answer)


async def _ipp(host: str, port: int, scheme: str, tls: ssl.SSLContext | None) -> str | None:
    for path in probes.IPP_PATHS:
        uri = f"{scheme}://{_host_header(host, port)}{path}"
        body = probes.ipp_get_printer_attributes(uri)
        request = probes.http_post(_host_header(host, port), path, "application/ipp", body)
        answer = await _http(host, port, request, tls)
        if answer is None or answer.content_type != "application/ipp":
            if answer is None or answer.status != 404:
                return None
            continue  # another path may be the printer's
        attributes = probes.ipp_attributes(answer.body)
        if attributes is not None:
            return attributes.get("printer-make-and-model") or attributes.get("printer-name", "")
    return None


def _host_header(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- UDP --------------------------------------------------------------------------------
async def _udp(host: str, port: int, kind: str, community: str) -> Finding:
    finding = Finding("udp", port, "open|filtered")
    ident = int.from_bytes(os.urandom(2), "big")
    message_id = uuid.uuid4()
    requests: dict[str, tuple[bytes, Callable[[bytes], str | None]]] = {
        "snmp": (
            probes.snmp_get(community, ident),
            lambda a: _labelled("SNMP sysDescr", probes.snmp_value(a)),
        ),
        "slp": (
            probes.slp_service_request(ident),
            lambda a: _joined("SLP", probes.slp_urls(a)),
        ),
        "ssdp": (
            probes.ssdp_msearch(host, port),
            lambda a: _labelled("SSDP", probes.ssdp_answer(a)),
        ),
        "nbns": (
            probes.nbns_node_status(ident),
            lambda a: _joined("NetBIOS names", probes.nbns_names(a)),
        ),
        "mdns": (
            probes.dns_query(ident, "_ipp._tcp.local"),
            lambda a: _joined("mDNS _ipp._tcp", probes.dns_ptr_targets(a, ident)),
        ),
        "wsd": (
            probes.wsd_probe(message_id),
            lambda a: _labelled("WS-Discovery Types", probes.wsd_types(a)),
        ),
    }
    request, read = requests.get(kind, (b"", lambda a: None))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    loop = asyncio.get_running_loop()
    unrecognised = False
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (host, port))
            # Without a probe of its own, an empty datagram still draws an ICMP port
            # unreachable from a closed port.
            for _ in range(UDP_TRIES):
                await loop.sock_sendall(sock, request)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(UDP_TIMEOUT):
                        while True:
                            answer = await loop.sock_recv(sock, 65536)
                            identified = read(answer)
                            unrecognised = unrecognised or identified is None
                            if identified is not None:
                                finding.state = "open"
                                finding.speaks.append(kind)
                                finding.details.append(identified)
                                return finding
        except ConnectionRefusedError:  # ICMP port unreachable (RFC 1122 4.1.3.1)
            finding.state = "closed"
        except OSError as exc:
            finding.details.append(f"error: {exc.strerror}")
    if finding.state == "open|filtered" and unrecognised:
        finding.state = "open"
        finding.details.append(f"answered, but not as {kind or 'anything known'}")
    elif finding.state == "open|filtered":
        finding.details.append(f"no answer to {kind or 'an empty datagram'}")
    return finding


def _labelled(label: str, value: str | None) -> str | None:
    return None if value is None else f"{label}: {value}"


def _joined(label: str, values: list[str] | None) -> str | None:
    return None if values is None else f"{label}: {', '.join(values[:4]) or '(none)'}"
