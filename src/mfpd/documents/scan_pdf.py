"""PDF files of scanned images, written page by page (ISO 32000-1; PDF/A-1b, ISO 19005-1).

A scan PDF is a page per image, each page one image XObject drawn to fill it; nothing else.
Pillow's PDF writer wants every page in memory at once, so this one streams instead: each page
is written (image, content, page object) as it comes, with its offset kept for the cross-
reference table, and the page tree, catalog and trailer follow at the end. Memory is one
encoded page, whatever the page count.

Images go in as the scanner encodes them: JPEG (DCTDecode) for colour and grey, CCITT Group 4
(CCITTFaxDecode) for black and white, or Flate where no G4 encoder is at hand. The page size
comes from the pixel size and the resolution, so a PDF reader shows the scan at its size.

PDF/A-1b adds, per ISO 19005-1: the version 1.4 header with a binary comment (6.1.2), an ID in
the trailer (6.1.3), an sRGB output intent with its ICC profile (6.2.2), and an XMP metadata
stream, unfiltered, naming pdfaid:part 1 and conformance B, whose dates and producer match the
document information dictionary (6.7.2, 6.7.3, 6.7.11).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import time
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Final

from PIL import Image, TiffImagePlugin, features

PRODUCER: Final = "mfpd scanner"
_POINTS_PER_INCH: Final = 72


@dataclass(frozen=True)
class EncodedImage:
    """One page's image, encoded for a PDF image XObject."""

    width: int
    height: int
    color_space: str  # /DeviceRGB or /DeviceGray
    bits: int
    filter: str  # /DCTDecode, /CCITTFaxDecode, /FlateDecode
    data: bytes
    decode_parms: str = ""  # a PDF dictionary, or empty


def encode_for_pdf(image: Image.Image, quality: int) -> EncodedImage:
    if image.mode == "1":
        if features.check("libtiff"):
            return _group4(image)
        # PDF's 1-bit DeviceGray: 0 is black, as in Pillow's mode 1 bytes.
        return EncodedImage(
            image.width,
            image.height,
            "/DeviceGray",
            1,
            "/FlateDecode",
            zlib.compress(image.tobytes(), 6),
        )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    space = "/DeviceRGB" if image.mode == "RGB" else "/DeviceGray"
    return EncodedImage(image.width, image.height, space, 8, "/DCTDecode", buffer.getvalue())


def _group4(image: Image.Image) -> EncodedImage:
    """CCITT T.6 (Group 4) data from libtiff: a single-strip TIFF, its one strip taken out."""
    buffer = io.BytesIO()
    image.save(buffer, "TIFF", compression="group4", strip_size=1 << 31)
    with Image.open(io.BytesIO(buffer.getvalue()), formats=["TIFF"]) as tiff:
        assert isinstance(tiff, TiffImagePlugin.TiffImageFile)
        offsets = tiff.tag_v2[273]
        counts = tiff.tag_v2[279]
        photometric = tiff.tag_v2.get(262, 0)
    data = buffer.getvalue()[offsets[0] : offsets[0] + counts[0]]
    # T.6 codes white and black runs. With PhotometricInterpretation 1 (BlackIsZero, as
    # Pillow writes mode 1), libtiff encodes the 1 bits (white) as T.6 black: BlackIs1 says so.
    black_is_1 = "true" if photometric == 1 else "false"
    parms = f"<< /K -1 /Columns {image.width} /Rows {image.height} /BlackIs1 {black_is_1} >>"
    return EncodedImage(image.width, image.height, "/DeviceGray", 1, "/CCITTFaxDecode", data, parms)


def _pdf_date(when: float) -> str:
    return time.strftime("D:%Y%m%d%H%M%S+00'00'", time.gmtime(when))


def _xmp_date(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(when))


def _xmp(when: float, document_id: str) -> bytes:
    date = _xmp_date(when)
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:dc="http://purl.org/dc/elements/1.1/">
   <pdfaid:part>1</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
   <pdf:Producer>{PRODUCER}</pdf:Producer>
   <xmp:CreateDate>{date}</xmp:CreateDate>
   <xmp:ModifyDate>{date}</xmp:ModifyDate>
   <xmpMM:DocumentID>uuid:{document_id}</xmpMM:DocumentID>
   <dc:format>application/pdf</dc:format>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


class PdfWriter:
    """A PDF written to `file` page by page; close() writes the page tree and trailer."""

    # Fixed object numbers (written last); pages and the rest are numbered from 4 as they come.
    _CATALOG, _PAGES, _INFO, _FIRST = 1, 2, 3, 4

    def __init__(self, file: BinaryIO, *, pdfa: bool = False, when: float | None = None) -> None:
        self._file = file
        self._pdfa = pdfa
        self._when = time.time() if when is None else when
        self._offsets: dict[int, int] = {}
        self._pages: list[int] = []
        self._next = self._FIRST
        self._written = 0
        self._closed = False
        # PDF 1.4 is what PDF/A-1 is built on; everything here (DCT, CCITT, Flate) is older.
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._written += len(data)

    def _number(self) -> int:
        number = self._next
        self._next += 1
        return number

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self._offsets[number] = self._written
        if stream is None:
            self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
            return
        self._write(b"%d 0 obj\n%s\nstream\n" % (number, body))
        self._write(stream)
        self._write(b"\nendstream\nendobj\n")

    def add_page(self, image: EncodedImage, dpi: int) -> None:
        width_pt = image.width * _POINTS_PER_INCH / dpi
        height_pt = image.height * _POINTS_PER_INCH / dpi
        xobject, content, page = self._number(), self._number(), self._number()
        parms = f" /DecodeParms {image.decode_parms}" if image.decode_parms else ""
        self._object(
            xobject,
            (
                f"<< /Type /XObject /Subtype /Image /Width {image.width} /Height {image.height}"
                f" /ColorSpace {image.color_space} /BitsPerComponent {image.bits}"
                f" /Filter {image.filter}{parms} /Length {len(image.data)} >>"
            ).encode(),
            image.data,
        )
        drawing = f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm /Im0 Do Q".encode()
        self._object(content, b"<< /Length %d >>" % len(drawing), drawing)
        self._object(
            page,
            (
                f"<< /Type /Page /Parent {self._PAGES} 0 R"
                f" /MediaBox [0 0 {width_pt:.4f} {height_pt:.4f}]"
                f" /Resources << /XObject << /Im0 {xobject} 0 R >> >>"
                f" /Contents {content} 0 R >>"
            ).encode(),
        )
        self._pages.append(page)

    def close(self) -> int:
        """Finish the file; returns its size in bytes."""
        if self._closed:
            return self._written
        self._closed = True
        kids = " ".join(f"{page} 0 R" for page in self._pages)
        self._object(
            self._PAGES,
            f"<< /Type /Pages /Kids [{kids}] /Count {len(self._pages)} >>".encode(),
        )
        date = _pdf_date(self._when)
        self._object(
            self._INFO,
            f"<< /Producer ({PRODUCER}) /CreationDate ({date}) /ModDate ({date}) >>".encode(),
        )
        seed = os.urandom(16) + struct.pack(">d", self._when)
        document_id = hashlib.md5(seed, usedforsecurity=False).hexdigest()
        extra = ""
        if self._pdfa:
            extra = self._pdfa_objects(document_id)
        self._object(
            self._CATALOG, f"<< /Type /Catalog /Pages {self._PAGES} 0 R{extra} >>".encode()
        )
        self._write_xref(document_id)
        return self._written

    def _pdfa_objects(self, document_id: str) -> str:
        metadata, profile, intent = self._number(), self._number(), self._number()
        xmp = _xmp(self._when, _uuid(document_id))
        # ISO 19005-1 6.7.2: the metadata stream is not filtered, so any XMP reader finds it.
        self._object(metadata, b"<< /Type /Metadata /Subtype /XML /Length %d >>" % len(xmp), xmp)
        icc = srgb_icc_v2()
        self._object(profile, b"<< /N 3 /Length %d >>" % len(icc), icc)
        self._object(
            intent,
            (
                "<< /Type /OutputIntent /S /GTS_PDFA1"
                " /OutputConditionIdentifier (sRGB IEC61966-2.1) /Info (sRGB IEC61966-2.1)"
                f" /DestOutputProfile {profile} 0 R >>"
            ).encode(),
        )
        return f" /Metadata {metadata} 0 R /OutputIntents [{intent} 0 R]"

    def _write_xref(self, document_id: str) -> None:
        start = self._written
        size = self._next
        # ISO 32000-1 7.5.4: 20-byte entries; every number from 1 is in use.
        rows = [b"xref\n0 %d\n" % size, b"0000000000 65535 f\r\n"]
        rows += [b"%010d 00000 n\r\n" % self._offsets[number] for number in range(1, size)]
        self._write(b"".join(rows))
        self._write(
            (
                f"trailer\n<< /Size {size} /Root {self._CATALOG} 0 R /Info {self._INFO} 0 R"
                f" /ID [<{document_id}> <{document_id}>] >>\nstartxref\n{start}\n%%EOF\n"
            ).encode()
        )


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"


# --------------------------------------------------------------------------------------------
# An sRGB ICC profile of version 2, for the PDF/A-1 output intent

# PDF/A-1 is based on PDF 1.4, whose ICC support is ICC.1:1998-09 (profile version 2); the
# profile Pillow's LittleCMS makes (ImageCms.createProfile("sRGB")) is version 4 with v4-only
# tag types, which PDF/A-1 validators refuse. So the profile is built here: a matrix/TRC
# display profile (ICC.1:2001-04 §6.3.1.2) from IEC 61966-2-1's primaries, adapted to D50.
_D50: Final = (0.9642, 1.0, 0.8249)
_COLORANTS: Final = {
    b"rXYZ": (0.4361, 0.2225, 0.0139),
    b"gXYZ": (0.3851, 0.7169, 0.0971),
    b"bXYZ": (0.1431, 0.0606, 0.7141),
}


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in values)


def _srgb_curve() -> bytes:
    # IEC 61966-2-1 §5.2: linear near black, a 2.4 power above, as a 1024-entry table.
    points = []
    for i in range(1024):
        v = i / 1023
        linear = v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        points.append(round(linear * 65535))
    return b"curv\0\0\0\0" + struct.pack(">I", len(points)) + struct.pack(">1024H", *points)


def _text_description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    # textDescriptionType: ASCII, then empty Unicode and ScriptCode parts (ICC.1:2001-04 6.5.17)
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + b"\0\0\0\0\0\0\0\0"
        + b"\0\0\0"
        + b"\0" * 67
    )


def srgb_icc_v2() -> bytes:
    """A version 2.1 sRGB display profile (about 2.6 kB)."""
    curve = _srgb_curve()
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _text_description("sRGB IEC61966-2.1")),
        (b"cprt", b"text\0\0\0\0No copyright, use freely\0"),
        (b"wtpt", _xyz(_D50)),
        *((name, _xyz(xyz)) for name, xyz in _COLORANTS.items()),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    directory = [struct.pack(">I", len(tags))]
    body = b""
    placed: dict[bytes, int] = {}  # the three TRCs share one copy
    for name, data in tags:
        if data in placed:
            directory.append(name + struct.pack(">II", placed[data], len(data)))
            continue
        while (offset + len(body)) % 4:
            body += b"\0"
        where = offset + len(body)
        placed[data] = where
        body += data
        directory.append(name + struct.pack(">II", where, len(data)))
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"  # preferred CMM: none
        + b"\x02\x10\x00\x00"  # version 2.1.0
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0\0\0\0"  # primary platform: none
        + b"\0\0\0\0"  # flags
        + b"\0\0\0\0" * 2  # device manufacturer, model
        + b"\0" * 8  # attributes
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + b"".join(_s15(v) for v in _D50)
        + b"\0\0\0\0"  # creator
        + b"\0" * 16  # profile ID (none in version 2)
        + b"\0" * 28
    )
    assert len(header) == 128
    return header + b"".join(directory) + body
