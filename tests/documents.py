"""Small real documents for tests, written without external tools."""

from __future__ import annotations

from pathlib import Path


def pdf_bytes(pages: int) -> bytes:
    """A valid PDF 1.4 with `pages` empty A4 pages, with a correct xref table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
        + b"] /Count %d >>" % pages,
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    return pdf_from_objects(objects)


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF 1.4 of these objects (numbered from 1, the catalog first), with a correct xref
    table and trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_pdf(path: Path, pages: int) -> Path:
    path.write_bytes(pdf_bytes(pages))
    return path


def postscript_bytes(pages: int) -> bytes:
    body = b"".join(
        b"%%%%Page: %d %d\n/Helvetica findfont 24 scalefont setfont\n"
        b"72 720 moveto (Page %d) show\nshowpage\n" % (n, n, n)
        for n in range(1, pages + 1)
    )
    return (
        b"%!PS-Adobe-3.0\n%%Creator: mfpd tests\n%%Pages: " + str(pages).encode() + b"\n"
        b"%%EndComments\n" + body + b"%%EOF\n"
    )


def make_postscript(path: Path, pages: int) -> Path:
    path.write_bytes(postscript_bytes(pages))
    return path
