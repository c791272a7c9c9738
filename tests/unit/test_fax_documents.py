"""The received-fax checks without a server: documents/fax_tiff.check walks a TIFF's
directories and refuses what no black-and-white fax is; documents/fax_mail.parse takes a
message apart. Neither raises anything but FaxError (check) or nothing at all (parse),
whatever the bytes, and neither reads more than the file."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpd.documents import fax_mail, fax_tiff


def _tiff(pages: list[tuple[int, int, int, int]]) -> bytes:
    """Little-endian TIFF, one directory per (width, length, bits, compression)."""
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for index, (width, length, bits, compression) in enumerate(pages):
        entries = [(256, 4, width), (257, 4, length), (258, 3, bits), (259, 3, compression)]
        start = len(out)
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, kind, 1) + packed
        last = index == len(pages) - 1
        out += struct.pack("<I", 0 if last else start + 2 + 12 * len(entries) + 4)
    return bytes(out)


def _check(tmp: Path, data: bytes, max_pages: int = 200) -> fax_tiff.FaxImage:
    path = tmp / "page.tif"
    path.write_bytes(data)
    return fax_tiff.check(path, max_pages=max_pages)


def test_a_fax_tiff_passes_with_its_pages(tmp_path: Path) -> None:
    image = _check(tmp_path, _tiff([(1728, 2292, 1, 3), (1728, 1146, 1, 4), (2048, 100, 1, 2)]))
    assert image.pages == 3 and image.widths == (1728, 1728, 2048)


@pytest.mark.parametrize(
    ("pages", "said"),
    [
        ([(100_000, 100_000, 1, 4)], "100000 x 100000 pixels is not a fax page"),
        ([(1728, 0, 1, 3)], "1728 x 0 pixels"),
        ([(1728, 2292, 8, 3)], "8 bits per sample"),
        ([(1728, 2292, 1, 8)], "compression 8 is not a fax coding"),
        ([(1728, 2292, 1, 7)], "compression 7"),
        ([(1728, 10, 1, 3)] * 5, "more than 4 pages"),
    ],
)
def test_what_no_fax_is_refused_saying_why(
    tmp_path: Path, pages: list[tuple[int, int, int, int]], said: str
) -> None:
    with pytest.raises(fax_tiff.FaxError, match=said):
        _check(tmp_path, _tiff(pages), max_pages=4)


def test_a_loop_a_zip_and_a_truncation_are_refused(tmp_path: Path) -> None:
    looped = bytearray(_tiff([(1728, 10, 1, 3)]))
    looped[-4:] = struct.pack("<I", 8)  # the last directory points back at the first
    with pytest.raises(fax_tiff.FaxError, match="loop"):
        _check(tmp_path, bytes(looped))
    with pytest.raises(fax_tiff.FaxError, match="a ZIP archive"):
        _check(tmp_path, b"PK\3\4" + b"\0" * 100)
    with pytest.raises(fax_tiff.FaxError, match="past the end"):
        _check(tmp_path, _tiff([(1728, 10, 1, 3)])[:20])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.sampled_from([b"II*\0", b"MM\0*", b""]))
def test_any_bytes_are_a_fax_or_a_fax_error(tmp_path: Path, data: bytes, head: bytes) -> None:
    with contextlib.suppress(fax_tiff.FaxError):
        _check(tmp_path, head + data)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_any_message_parses_to_a_fax_or_a_reason(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "message.eml"
    path.write_bytes(
        b"From: a@b.test\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n' + data
    )
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    fax = fax_mail.parse(path, work, max_pages=10)
    assert fax.failure or fax.images
    assert fax.sender == "a@b.test"
    if fax.failure:
        assert not any(work.iterdir())  # nothing of a refused fax is left
    for image in fax.images:
        image.unlink()


def test_a_fax_mail_gives_its_images_pages_and_mdn_request(tmp_path: Path) -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Alice <alice@example.test>"
    message["Return-Path"] = "<alice@example.test>"
    message["Disposition-Notification-To"] = "alice@example.test"
    message["Subject"] = "Two  pages"
    message.set_content("cover")
    for _ in range(2):
        message.add_attachment(
            _tiff([(1728, 1146, 1, 3)]), maintype="image", subtype="tiff", filename="p.tif"
        )
    path = tmp_path / "fax.eml"
    path.write_bytes(message.as_bytes())
    fax = fax_mail.parse(path, tmp_path, max_pages=10)
    assert not fax.failure and fax.pages == 2 and len(fax.images) == 2
    assert (fax.sender, fax.mdn_to, fax.subject) == (
        "alice@example.test", "alice@example.test", "Two pages",
    )  # fmt: skip
