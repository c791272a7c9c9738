"""A real OpenLDAP `slapd` for the directory's tests: a private slapd.conf (Debian's slapd
still reads one with -f) in a temp dir, an mdb database filled by slapadd, an ldap:// and an
ldaps:// listener on loopback with a test CA's certificate (StartTLS on the first), started
with a bounded wait for its ports and stopped after the test.

The directory, dc=example,dc=com:
- ou=people: alice (in cn=printer-admins, a groupOfNames), oscar (in cn=printer-operators, a
  posixGroup: memberUid), mona (operators too, by her memberOf only: the memberof overlay),
  ursula (no group: a user), dave (in cn=disabled), lena (locked by
  ppolicy: pwdAccountLockedTime), zed "Zed (Contractor)" (parentheses in his name), and
  ou=partners, a referral (RFC 3296) to ou=contractors, outside ou=people.
- ou=contractors: carol.
Every password is "<uid>-pw"."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.outbound_servers import Pki, free_port, make_pki, stop, wait_listening

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
BASE = "dc=example,dc=com"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
ROOT_DN = f"cn=admin,{BASE}"
ROOT_PW = "root-secret"
READER_DN = f"cn=reader,{BASE}"
READER_PW = "reader-secret"


@dataclass(frozen=True)
class Slapd:
    port: int  # ldap:// (StartTLS offered)
    tls_port: int  # ldaps://
    pki: Pki
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"


def _person(uid: str, name: str, base: str = PEOPLE, *, mail: bool = True, fax: str = "") -> str:
    lines = [
        f"dn: uid={uid},{base}",
        "objectClass: inetOrgPerson",
        "objectClass: posixAccount",
        f"uid: {uid}",
        f"cn: {name}",
        f"sn: {name.split()[-1]}",
        f"uidNumber: {1000 + sum(map(ord, uid))}",
        "gidNumber: 100",
        f"homeDirectory: /home/{uid}",
        f"userPassword: {uid}-pw",
    ]
    if mail:
        lines.append(f"mail: {uid}@example.com")
    if fax:
        lines.append(f"facsimileTelephoneNumber: {fax}")
    return "\n".join(lines) + "\n"


def directory_ldif(port: int) -> str:
    entries = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n",
        f"dn: {READER_DN}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\n"
        f"cn: reader\nuserPassword: {READER_PW}\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=contractors,{BASE}\nobjectClass: organizationalUnit\nou: contractors\n",
        _person("alice", "Alice Admin", fax="+1 555 0100"),
        _person("oscar", "Oscar Operator", fax="+1 555 0101"),
        _person("ursula", "Ursula User"),
        _person("dave", "Dave Disabled"),
        _person("lena", "Lena Locked") + "pwdAccountLockedTime: 000001010000Z\n",
        _person("zed", "Zed (Contractor)", mail=False, fax="+1 555 0199"),
        # Her group says so only in her entry's memberOf, as Active Directory shows it.
        _person("mona", "Mona Member") + f"memberOf: cn=printer-operators,{GROUPS}\n",
        _person("carol", "Carol Contractor", f"ou=contractors,{BASE}"),
        f"dn: ou=partners,{PEOPLE}\nobjectClass: referral\nobjectClass: extensibleObject\n"
        f"ou: partners\nref: ldap://127.0.0.1:{port}/ou=contractors,{BASE}\n",
        f"dn: cn=printer-admins,{GROUPS}\nobjectClass: groupOfNames\ncn: printer-admins\n"
        f"member: uid=alice,{PEOPLE}\n",
        f"dn: cn=printer-operators,{GROUPS}\nobjectClass: posixGroup\ncn: printer-operators\n"
        "gidNumber: 501\nmemberUid: oscar\n",
        f"dn: cn=disabled,{GROUPS}\nobjectClass: groupOfNames\ncn: disabled\n"
        f"member: uid=dave,{PEOPLE}\n",
    ]
    return "\n".join(entries)


def _slapd_conf(tmp: Path, pki: Pki, size_limit: int) -> str:
    schemas = "".join(
        f"include {SCHEMA / name}.schema\n" for name in ("core", "cosine", "nis", "inetorgperson")
    )
    return f"""{schemas}
modulepath {MODULES}
moduleload back_mdb
moduleload ppolicy
moduleload memberof
pidfile {tmp}/slapd.pid
argsfile {tmp}/slapd.args
TLSCACertificateFile {pki.ca}
TLSCertificateFile {pki.cert}
TLSCertificateKeyFile {pki.key}
sizelimit {size_limit}
database mdb
suffix "{BASE}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {tmp}/db
overlay ppolicy
overlay memberof
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by * read
"""


@contextlib.contextmanager
def slapd(tmp: Path, *, pki: Pki | None = None, size_limit: int = 500) -> Iterator[Slapd]:
    """slapd on two free loopback ports, its directory loaded, answering at most
    `size_limit` entries a search; stopped on exit."""
    tmp.mkdir(parents=True, exist_ok=True)
    pki = pki or make_pki(tmp / "pki")
    (tmp / "db").mkdir(exist_ok=True)
    conf = tmp / "slapd.conf"
    conf.write_text(_slapd_conf(tmp, pki, size_limit))
    port, tls_port = free_port(), free_port()
    ldif = tmp / "directory.ldif"
    ldif.write_text(directory_ldif(port))
    subprocess.run(
        [SLAPADD, "-f", str(conf), "-l", str(ldif)], check=True, capture_output=True, timeout=60
    )
    output = tmp / "slapd.log"
    with output.open("wb") as log:
        proc = subprocess.Popen(
            [
                SLAPD, "-d", "0", "-f", str(conf),
                "-h", f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/",
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_listening(port, proc, output=output)
        wait_listening(tls_port, proc, output=output)
        yield Slapd(port, tls_port, pki, proc)
    finally:
        stop(proc)
