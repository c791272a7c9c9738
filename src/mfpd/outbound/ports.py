"""The outbound clients' rows of the port table (`mfpd ports`, STATE_DIR/ports.json, `mfpd
audit`): the ports the device connects to and never listens on, as shared/PORTS.md lists them
with the role "client" (the WorkCentre's disclosure paper, 2.8.2: "an FTP port is never open
on the device"). `mfpd audit` scans them too: open there would be a finding."""

from __future__ import annotations

from mfpd.config import Config
from mfpd.services.base import PortEntry

STATE = "client"
# service, standard port, what uses it (shared/PORTS.md: 25 SMTP, 21 FTP; SMB over TCP 445,
# RFC 1001/1002-less direct hosting, as smbprotocol speaks it; 110 POP3, polled for faxes).
CLIENTS = (
    ("smtp", 25, "scan to email and e-mail alerts"),
    ("ftp", 21, "scan to FTP and FTPS (passive data connections)"),
    ("smb", 445, "scan to SMB (SMB 2/3)"),
    ("pop3", 110, "Internet Fax reception (POP3 with STLS, or POP3S to 995)"),
)


def client_rows(config: Config, bind: str, offset: int) -> list[PortEntry]:
    """One row per outbound client. The port is the standard one plus the offset, as every
    row of the table, so that `mfpd audit` of a daemon run with an offset checks the ports
    that daemon would have opened had it been a server there."""
    rows = []
    for service, standard, use in CLIENTS:
        note = f"outbound only: {use}"
        if service == "smtp":
            note += (
                f"; server {config.smtp.server}" if config.smtp.server else "; no [smtp] server set"
            )
        if service == "pop3":
            note += f"; mailbox {config.ifax.pop3}" if config.ifax.pop3 else "; no [ifax] pop3 set"
        rows.append(PortEntry(service, "tcp", bind, standard + offset, standard, STATE, note))
    return rows
