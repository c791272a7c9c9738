"""The outbound clients' rows of the port table (`mfpd ports`, STATE_DIR/ports.json, `mfpd
audit`): the ports the device connects to and never listens on, as shared/PORTS.md lists them
with the role "client" (the WorkCentre's disclosure paper, 2.8.2: "an FTP port is never open
on the device"). `mfpd audit` scans them too: open there would be a finding."""

from __future__ import annotations

from mfpd.config import Config
from mfpd.services.base import PortEntry

STATE = "client"
# service, protocol, standard port, what uses it (shared/PORTS.md: 25 SMTP, 21 FTP, 53 DNS;
# SMB over TCP 445, RFC 1001/1002-less direct hosting, as smbprotocol speaks it). Kerberos, on UDP
# and TCP, has its rows below.
CLIENTS = (
    ("smtp", "tcp", 25, "scan to email and e-mail alerts"),
    ("ftp", "tcp", 21, "scan to FTP and FTPS (passive data connections)"),
    ("smb", "tcp", 445, "scan to SMB (SMB 2/3)"),
    # UDP as the paper lists it; DDNS updates go over TCP 53 to the same servers.
    ("dns", "udp", 53, "name resolution of every outbound client, and DDNS updates"),
    # 389 (RFC 4511; StartTLS there, 4.14); an ldaps:// [ldap] url connects to 636 instead.
    (
        "ldap",
        "tcp",
        389,
        "the address book and directory logins (ldap:// with StartTLS, or ldaps://)",
    ),
)
# BOOTP/DHCP client (shared/PORTS.md: "only while doing DHCP; closed for good when DHCP is
# disabled"): a row only when [network] dhcp is on.
DHCP_CLIENT = 68


def client_rows(config: Config, bind: str, offset: int) -> list[PortEntry]:
    """One row per outbound client. The port is the standard one plus the offset, as every
    row of the table, so that `mfpd audit` of a daemon run with an offset checks the ports
    that daemon would have opened had it been a server there."""
    rows = []
    for service, protocol, standard, use in CLIENTS:
        note = f"outbound only: {use}"
        if service == "smtp":
            note += (
                f"; server {config.smtp.server}" if config.smtp.server else "; no [smtp] server set"
            )
        elif service == "dns":
            servers = config.dns.servers
            note += f"; servers {', '.join(servers)}" if servers else "; the system's resolver"
        elif service == "ldap":
            note += f"; server {config.ldap.url}" if config.ldap.url else "; no [ldap] url set"
        rows.append(PortEntry(service, protocol, bind, standard + offset, standard, STATE, note))
    rows += _kerberos_rows(config, bind, offset)
    if config.network.dhcp:
        # Port 68 itself whatever the offset: servers answer there (RFC 2131 4.1). Bound to
        # the one interface, on the wildcard address, as the client has no address at first.
        note = f"outbound only: the DHCP client on {config.network.interface}"
        rows.append(PortEntry("dhcp", "udp", "0.0.0.0", DHCP_CLIENT, DHCP_CLIENT, STATE, note))
    return rows


def _kerberos_rows(config: Config, bind: str, offset: int) -> list[PortEntry]:
    """88: UDP as shared/PORTS.md lists it (RFC 4120 7.2.1), and TCP, which a login uses
    for replies too large for a datagram, or alone when [kerberos] udp is off (7.2.2)."""
    kdc = config.kerberos.kdc
    where = f"; KDC {kdc}" if kdc else "; no [kerberos] kdc set"
    use = 'outbound only: web UI logins of [auth] method = "kerberos"'
    tcp = "" if not config.kerberos.udp else " (replies too large for UDP)"
    return [
        PortEntry("kerberos", "udp", bind, 88 + offset, 88, STATE, use + where),
        PortEntry("kerberos", "tcp", bind, 88 + offset, 88, STATE, use + tcp + where),
    ]
