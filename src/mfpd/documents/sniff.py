"""Document format sniffing: a MIME type from the first bytes of a spooled document.

Print clients often send `application/octet-stream` (raw 9100, LPD) or wrap the document in a
PJL job header, so the format is decided from the content. Only the leading magic of each
format is looked at; nothing here parses a whole document (that is `pages.py`'s job).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class DocumentFormat(StrEnum):
    """The document formats mfpd recognises, by their registered MIME media type."""

    PDF = "application/pdf"  # ISO 32000-1 §7.5.2: "%PDF-" header
    POSTSCRIPT = "application/postscript"  # Adobe PLRM 3rd ed. / DSC 3.0: "%!" header
    PCL = "application/vnd.hp-pcl"  # HP PCL 5 Technical Reference: ESC-prefixed commands
    PCLXL = "application/vnd.hp-pclxl"  # PCL XL Feature Reference: "Stream Header"
    PWG_RASTER = "image/pwg-raster"  # PWG 5102.4-2012: sync word "RaS2"
    URF = "image/urf"  # Apple Raster (AirPrint): "UNIRAST\0"
    JPEG = "image/jpeg"  # ITU-T T.81 Annex B: SOI marker FFD8 then a marker FF..
    PNG = "image/png"  # ISO/IEC 15948 §5.2: 8-byte signature
    TIFF = "image/tiff"  # TIFF 6.0 §2 "Image File Header": II*\0 or MM\0*
    TEXT = "text/plain"
    OCTET_STREAM = "application/octet-stream"


# PJL Technical Reference Manual, "Kernel Commands": the Universal Exit Language command.
UEL: Final = b"\x1b%-12345X"

# "@PJL ENTER LANGUAGE = <personality>" (PJL Technical Reference, "Kernel Commands") names the
# PDL that follows. Personality names are vendor-extended; these are the ones seen in the field.
_PJL_LANGUAGES: Final[dict[str, DocumentFormat]] = {
    "PCL": DocumentFormat.PCL,
    "PCL5": DocumentFormat.PCL,
    "PCL5C": DocumentFormat.PCL,
    "PCL5E": DocumentFormat.PCL,
    "PCL3": DocumentFormat.PCL,
    "PCL3GUI": DocumentFormat.PCL,
    "HPGL2": DocumentFormat.PCL,
    "PCLXL": DocumentFormat.PCLXL,
    "PCL6": DocumentFormat.PCLXL,
    "PCL-XL": DocumentFormat.PCLXL,
    "POSTSCRIPT": DocumentFormat.POSTSCRIPT,
    "POSTSCRIPT3": DocumentFormat.POSTSCRIPT,
    "PS": DocumentFormat.POSTSCRIPT,
    "PDF": DocumentFormat.PDF,
    "PWG": DocumentFormat.PWG_RASTER,
    "PWGRASTER": DocumentFormat.PWG_RASTER,
    "URF": DocumentFormat.URF,
    "TIFF": DocumentFormat.TIFF,
    "JPEG": DocumentFormat.JPEG,
}

_ENTER_LANGUAGE: Final = re.compile(rb"@PJL[ \t]+ENTER[ \t]+LANGUAGE[ \t]*=[ \t]*([!-~]+)", re.I)

# ISO 32000-1 §7.5.2 puts the header at offset 0, but readers (and the Acrobat implementation
# notes) accept it anywhere in the first 1024 bytes, after mail or spooler junk.
_PDF_HEADER_WINDOW: Final = 1024

# Control bytes that never occur in plain text: everything below 0x20 except BS, HT, LF, VT,
# FF, CR, SUB (the DOS end-of-file mark), plus DEL. ESC is excluded: text with escapes is PCL.
_BINARY_BYTES: Final = bytes(b for b in range(0x20) if b not in b"\x08\t\n\x0b\x0c\r\x1a") + b"\x7f"
_HIGH_BYTES: Final = bytes(range(0x80, 0x100))

# PCL 5 Technical Reference, "PCL Command Syntax": ESC followed by a two-character command
# (E, 9, =, Y, Z, z) or by a parameterized-command introducer (!"#$%&'()*+,-./).
_PCL_AFTER_ESC: Final = frozenset(b"E9=YZz!\"#$%&'()*+,-./")


@dataclass(frozen=True)
class PjlHeader:
    """Where the document proper starts after a PJL job header, and the language it named."""

    end: int  # offset of the first byte after the PJL header (0 when there is none)
    language: DocumentFormat | None  # from "@PJL ENTER LANGUAGE", if present and known


def parse_pjl_header(head: bytes) -> PjlHeader:
    """Skip a leading PJL header: UEL commands, "@PJL ..." lines and blank lines between them.

    "@PJL ENTER LANGUAGE" ends the header (PJL Technical Reference: the PDL data starts right
    after its line terminator), so the language it names decides the format directly.
    """
    pos = 0
    seen_pjl = False
    while pos < len(head):
        if head.startswith(UEL, pos):
            pos += len(UEL)
            seen_pjl = True
        elif head[pos : pos + 4].upper() == b"@PJL":
            seen_pjl = True
            eol = head.find(b"\n", pos)
            line_end = len(head) if eol < 0 else eol + 1
            match = _ENTER_LANGUAGE.match(head, pos, line_end)
            pos = line_end
            if match is not None:
                name = match.group(1).decode("ascii").upper()
                return PjlHeader(pos, _PJL_LANGUAGES.get(name))
        elif seen_pjl and head[pos] in b"\r\n\t \x0c\x00":
            pos += 1
        else:
            break
    return PjlHeader(pos if seen_pjl else 0, None)


def _is_text(data: bytes) -> bool:
    if not data or data.translate(None, _BINARY_BYTES) != data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            return True  # the head cut a multi-byte sequence in two
        # Legacy 8-bit text (Latin-1, CP1252) is mostly ASCII; binary without control bytes
        # that happens not to be UTF-8 is mostly high bytes.
        high = len(data) - len(data.translate(None, _HIGH_BYTES))
        return high * 10 < len(data) * 3
    return True


def _sniff_body(body: bytes) -> DocumentFormat | None:
    """Formats recognised by the magic at the very start of the document proper."""
    if body.startswith(b"RaS2"):
        return DocumentFormat.PWG_RASTER
    if body.startswith(b"UNIRAST\x00"):
        return DocumentFormat.URF
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return DocumentFormat.PNG
    if body.startswith(b"\xff\xd8\xff"):
        return DocumentFormat.JPEG
    if body[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return DocumentFormat.TIFF
    if body.startswith(b"\xc5\xd0\xd3\xc6"):  # DOS EPS binary header (EPSF 3.0, TN 5002)
        return DocumentFormat.POSTSCRIPT
    # PCL XL Feature Reference, "Stream Header": binding character ( ) or ' then " HP-PCL XL;".
    if body[:1] in (b"(", b")", b"'") and body[1:11] == b" HP-PCL XL":
        return DocumentFormat.PCLXL
    # Windows drivers prefix PostScript with ^D; editors prefix a UTF-8 BOM or blank lines.
    stripped = body.lstrip(b"\x04 \t\r\n\x0c")
    if stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:]
    if stripped.startswith(b"%PDF-"):
        return DocumentFormat.PDF
    if stripped.startswith(b"%!"):
        return DocumentFormat.POSTSCRIPT
    if len(body) >= 2 and body[0] == 0x1B and body[1] in _PCL_AFTER_ESC:
        return DocumentFormat.PCL
    return None


def sniff_format(head: bytes) -> str:
    """MIME type from the first bytes of a document (callers pass up to 64 KiB, may be less).

    A leading PJL header is skipped first; its "@PJL ENTER LANGUAGE=X" decides directly.
    Recognises PDF, PostScript, PCL 5, PCL XL, PWG raster, Apple URF, JPEG, PNG, TIFF and plain
    text (printable text/UTF-8 with no binary), else returns application/octet-stream.
    """
    pjl = parse_pjl_header(head)
    if pjl.language is not None:
        return pjl.language.value
    body = head[pjl.end :]
    found = _sniff_body(body)
    if found is not None:
        return found.value
    if b"%PDF-" in head[: pjl.end + _PDF_HEADER_WINDOW]:
        return DocumentFormat.PDF.value
    if _is_text(body):
        return DocumentFormat.TEXT.value
    return DocumentFormat.OCTET_STREAM.value
