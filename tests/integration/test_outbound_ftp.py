"""Scan to FTP and FTPS: deliver() against vsftpd (explicit FTPS, require_ssl_reuse YES and
NO) and pyftpdlib (TLS_FTPHandler, and plain FTP), on loopback; each file compared byte for
byte under the naming rule, no temporary file left; and each failure: wrong password,
server down, TLS refused (no AUTH TLS, or a certificate no trusted CA signed)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from mfpd.outbound.destinations import DeliveryError, DeliveryInfo, deliver, parse_destination
from tests.conftest import need_root, requires
from tests.outbound_servers import (
    VSFTPD,
    FtpServer,
    credential_entries,
    free_port,
    make_pki,
    outbound_context,
    pyftpd,
    vsftpd,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:The (asyncore|asynchat) module is deprecated:DeprecationWarning"
)

INFO = DeliveryInfo(17, "Site plan/rev 2", "alice", "image/jpeg", "To FTP", time.time())
STAMP = time.strftime("%Y%m%d_%H%M%S", time.localtime(INFO.when))
NAMES = [f"Site_plan_rev_2_{STAMP}_00{n}.jpg" for n in (1, 2, 3)]
HAS_VSFTPD = os.path.exists(VSFTPD)


def _pages(tmp: Path, count: int = 3) -> list[Path]:
    pages = []
    for n in range(count):
        path = tmp / f"page{n}.jpg"
        # Sizes across block boundaries, one empty-ish: a short last block must arrive too.
        path.write_bytes(b"\xff\xd8\xff" + os.urandom([200_000, 65_536, 10][n % 3]))
        pages.append(path)
    return pages


def _ctx(tmp: Path, ca: Path) -> object:
    return outbound_context(tmp, f'[tls]\nca_bundle = "{ca}"\n')


def _uri(scheme: str, server: FtpServer, folder: str, password: str | None = None) -> str:
    secret = server.password if password is None else password
    path = "/".join(p for p in (server.folder, folder) if p)
    return f"{scheme}://{server.user}:{secret}@localhost:{server.port}/{path}"


def _check_arrived(folder: Path, pages: list[Path]) -> None:
    assert sorted(p.name for p in folder.iterdir()) == NAMES  # no .part file left
    for name, page in zip(NAMES, pages, strict=True):
        assert (folder / name).read_bytes() == page.read_bytes()


@requires(HAS_VSFTPD, "vsftpd is not installed")
@pytest.mark.parametrize("reuse", [True, False], ids=["require_ssl_reuse", "no_reuse"])
async def test_vsftpd_ftps(tmp_path: Path, reuse: bool) -> None:
    """The regression test of the STOR-before-TLS fix: with aioftp's own upload (TLS on the
    data connection before STOR) this waits until the timeout against vsftpd."""
    need_root("vsftpd drops to an unprivileged user and chroots")
    pki = make_pki(tmp_path / "pki")
    pages = _pages(tmp_path)
    with vsftpd(tmp_path, pki, reuse=reuse) as server:
        ctx = _ctx(tmp_path, pki.ca)
        line = await deliver(
            ctx, parse_destination(_uri("ftps", server, "scans/2026")), pages, INFO
        )
        _check_arrived(server.root / "scans" / "2026", pages)
    assert line.startswith("3 file(s) to ftps://localhost:")
    assert "(TLS, data protected, session reused)" in line
    assert [(e.interface, e.outcome) for e in credential_entries(ctx)] == [("ftp", "success")]


@requires(HAS_VSFTPD, "vsftpd is not installed")
async def test_vsftpd_wrong_password(tmp_path: Path) -> None:
    need_root("vsftpd drops to an unprivileged user and chroots")
    pki = make_pki(tmp_path / "pki")
    with vsftpd(tmp_path, pki) as server:
        ctx = _ctx(tmp_path, pki.ca)
        with pytest.raises(DeliveryError) as caught:
            await deliver(
                ctx, parse_destination(_uri("ftps", server, "x", "wrong")), _pages(tmp_path), INFO
            )
        assert list(server.root.iterdir()) == []
    assert caught.value.reason == "destination-auth-failed" and not caught.value.retry
    assert "530" in str(caught.value) and "wrong" not in str(caught.value)
    assert [e.outcome for e in credential_entries(ctx)] == ["failure"]


async def test_pyftpdlib_ftps_and_ftp(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    pages = _pages(tmp_path)
    with pyftpd(tmp_path / "tls", pki) as server:
        ctx = _ctx(tmp_path, pki.ca)
        line = await deliver(ctx, parse_destination(_uri("ftps", server, "in/box")), pages, INFO)
        assert "(TLS, data protected, session reused)" in line
        _check_arrived(server.root / "in" / "box", pages)
    with pyftpd(tmp_path / "plain", None) as server:
        await deliver(ctx, parse_destination(_uri("ftp", server, "")), pages, INFO)
        _check_arrived(server.root, pages)


async def test_pyftpdlib_wrong_password(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    with pyftpd(tmp_path, pki) as server:
        ctx = _ctx(tmp_path, pki.ca)
        with pytest.raises(DeliveryError) as caught:
            await deliver(
                ctx, parse_destination(_uri("ftps", server, "x", "nope")), _pages(tmp_path), INFO
            )
        assert list(server.root.iterdir()) == []
    assert caught.value.reason == "destination-auth-failed" and not caught.value.retry


async def test_server_down(tmp_path: Path) -> None:
    ctx = outbound_context(tmp_path)
    uri = f"ftps://someone:pw@127.0.0.1:{free_port()}/x"
    with pytest.raises(DeliveryError) as caught:
        await deliver(ctx, parse_destination(uri), _pages(tmp_path), INFO)
    assert caught.value.reason == "destination-unreachable" and caught.value.retry


async def test_tls_refused(tmp_path: Path) -> None:
    """ftps:// to a server without TLS (AUTH TLS refused) and to one whose certificate no
    trusted CA signed: no password sent, nothing stored."""
    pki = make_pki(tmp_path / "pki")
    with pyftpd(tmp_path / "plain", None) as server:
        ctx = _ctx(tmp_path, pki.ca)
        with pytest.raises(DeliveryError) as caught:
            await deliver(ctx, parse_destination(_uri("ftps", server, "x")), _pages(tmp_path), INFO)
        assert caught.value.reason == "destination-tls-failed" and "AUTH TLS" in str(caught.value)
        assert list(server.root.iterdir()) == []
    other = make_pki(tmp_path / "other")
    with pyftpd(tmp_path / "untrusted", other) as server:
        with pytest.raises(DeliveryError) as caught:
            await deliver(ctx, parse_destination(_uri("ftps", server, "x")), _pages(tmp_path), INFO)
        assert caught.value.reason == "destination-tls-failed"
        assert "certificate" in str(caught.value)
        assert list(server.root.iterdir()) == []
    assert credential_entries(ctx) == []
    shutil.rmtree(tmp_path / "plain", ignore_errors=True)


async def test_leaves_from_the_bind_address(tmp_path: Path) -> None:
    """Control and data connections both from the daemon's bind address (127.0.0.2):
    pyftpdlib refuses a data connection from another address than the control's."""
    pki = make_pki(tmp_path / "pki")
    pages = _pages(tmp_path)
    with pyftpd(tmp_path / "tls", pki) as server:
        ctx = outbound_context(tmp_path, f'[tls]\nca_bundle = "{pki.ca}"\n', bind="127.0.0.2")
        await deliver(ctx, parse_destination(_uri("ftps", server, "b")), pages, INFO)
        _check_arrived(server.root / "b", pages)
    assert server.peers == ["127.0.0.2"]
