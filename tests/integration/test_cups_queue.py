"""A driverless CUPS queue on mfpd: a private cupsd (the system CUPS untouched) builds an
IPP Everywhere queue from our printer attributes (`lpadmin -m everywhere`) and prints to it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Mfpd, need, need_root

FILES_CONF = """ServerRoot {d}/etc
RequestRoot {d}/spool
TempDir {d}/spool/tmp
CacheDir {d}/cache
StateDir {d}/state
ServerKeychain {d}/etc/ssl
AccessLog {d}/log/access_log
ErrorLog {d}/log/error_log
PageLog {d}/log/page_log
LogFileGroup root
SystemGroup root
User lp
Group lp
FatalErrors config
"""
CUPSD_CONF = """LogLevel debug
Listen 127.0.0.1:{port}
Browsing No
BrowseLocalProtocols none
DefaultShared No
WebInterface No
DefaultAuthType None
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def cupsd() -> Iterator[tuple[Path, str]]:
    """A private cupsd on a loopback port (shared/CLIENTS.md section 4): (its dir, host:port)."""
    need("cupsd", "lpadmin", "lp", "lpstat")
    need_root("the private cupsd recipe runs as root")
    # Not under pytest's tmp_path: its parents are private to root, and cupsd runs its
    # filters as lp, which must reach the PPD.
    d = Path(tempfile.mkdtemp(prefix="mfpd-cupsd-"))
    d.chmod(0o755)
    for sub in ("etc/ppd", "etc/ssl", "spool/tmp", "cache", "state/certs", "log"):
        (d / sub).mkdir(parents=True)
    shutil.chown(d / "spool", "root", "lp")
    shutil.chown(d / "cache", "root", "lp")
    shutil.chown(d / "state", "root", "lp")
    (d / "spool").chmod(0o710)
    (d / "spool" / "tmp").chmod(0o1770)
    (d / "cache").chmod(0o770)
    port = _free_port()
    (d / "cups-files.conf").write_text(FILES_CONF.format(d=d))
    (d / "cupsd.conf").write_text(CUPSD_CONF.format(port=port))
    proc = subprocess.Popen(
        ["cupsd", "-f", "-c", str(d / "cupsd.conf"), "-s", str(d / "cups-files.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while (
            "is running"
            not in subprocess.run(
                ["lpstat", "-h", server, "-r"], capture_output=True, text=True, timeout=10
            ).stdout
        ):
            assert proc.poll() is None, (d / "log" / "error_log").read_text()[-3000:]
            assert time.monotonic() < deadline, "cupsd did not start"
            time.sleep(0.1)
        yield d, server
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(d, ignore_errors=True)


def test_driverless_queue_prints_to_mfpd(
    mfpd: Mfpd, cupsd: tuple[Path, str], tmp_path: Path
) -> None:
    cups_dir, server = cupsd
    uri = f"ipp://localhost:{mfpd.port('ipp')}/ipp/print"
    subprocess.run(["lpadmin", "-h", server, "-p", "mfp", "-E", "-v", uri, "-m", "everywhere"],
                   check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
    ppd_path = cups_dir / "etc" / "ppd" / "mfp.ppd"
    deadline = time.monotonic() + 20  # cupsd writes the PPD a moment after lpadmin returns
    while not ppd_path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    ppd = ppd_path.read_text(errors="replace")
    assert "IPP Everywhere" in ppd and "*cupsFilter2:" in ppd
    # A PDF made by Ghostscript: CUPS's pdftopdf (qpdf) wants real page content.
    need("gs")
    pdf = tmp_path / "report.pdf"
    program = " ".join(
        f"72 700 moveto /Helvetica 24 selectfont (Page {n}) show showpage" for n in (1, 2, 3)
    )
    subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", "-o", str(pdf),
                    "-c", program], check=True, capture_output=True, timeout=60)  # fmt: skip
    out = subprocess.run(["lp", "-h", server, "-d", "mfp", "-t", "CUPS e2e", "-n", "2", str(pdf)],
                         check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "request id is mfp-" in out.stdout
    try:
        jobs = mfpd.wait_jobs_done(1, timeout=60)
    except AssertionError:
        print((cups_dir / "log" / "error_log").read_text()[-6000:])
        raise
    job = jobs[-1]
    assert (job["source"], job["name"], job["state"]) == ("ipp", "CUPS e2e", "completed")
    assert job["format"] == "application/pdf"
    # CUPS may send copies as an attribute or as copies of the pages: 6 impressions either way.
    assert job["impressions_completed"] == 6, job
