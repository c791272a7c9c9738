"""Scanned images as files: JPEG, PNG, TIFF and PDF, each carrying its resolution.

- JPEG (ITU-T T.81, JFIF 1.02 density in dots per inch); quality from the settings, or the
  intent's (Photo 90, Document and Text 80, Preview 50). JPEG has no 1-bit form: a
  BlackAndWhite1 scan is stored as grayscale.
- PNG (ISO/IEC 15948) with its pHYs chunk; 1-bit stays 1-bit.
- TIFF 6.0 with XResolution/YResolution/ResolutionUnit: CCITT Group 4 for 1-bit (§11), LZW
  otherwise (§13). Many pages are appended one IFD at a time.
- PDF through scan_pdf, page size from the pixels and the resolution.

Zlib levels are chosen for a scanner's speed: the default levels cost several times the CPU
of level 1-3 on a 600 dpi page for a few percent of size.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO, Final

from PIL import Image, TiffImagePlugin, features

from mfpd.device.scan_settings import JPEG, PDF, PNG, TIFF, Intent, ScanSettings
from mfpd.documents.scan_pdf import PdfWriter, encode_for_pdf

INTENT_QUALITY: Final[dict[Intent, int]] = {
    Intent.PHOTO: 90,
    Intent.DOCUMENT: 80,
    Intent.TEXT: 80,
    Intent.PREVIEW: 50,
}
PNG_LEVEL: Final = 3


def quality(settings: ScanSettings) -> int:
    return settings.quality if settings.quality is not None else INTENT_QUALITY[settings.intent]


def _tiff_options(image: Image.Image, dpi: int) -> dict[str, object]:
    if image.mode == "1" and features.check("libtiff"):
        compression = "group4"
    elif features.check("libtiff"):
        compression = "tiff_lzw"
    else:
        compression = "packbits"  # Pillow's own encoder: the one it has without libtiff
    return {"compression": compression, "dpi": (dpi, dpi)}


def _save_single(image: Image.Image, settings: ScanSettings, file: BinaryIO) -> None:
    dpi = settings.resolution
    fmt = settings.format
    if fmt == JPEG:
        source = image.convert("L") if image.mode == "1" else image
        source.save(file, "JPEG", quality=quality(settings), dpi=(dpi, dpi))
    elif fmt == PNG:
        image.save(file, "PNG", compress_level=PNG_LEVEL, dpi=(dpi, dpi))
    elif fmt == TIFF:
        image.save(file, "TIFF", **_tiff_options(image, dpi))
    elif fmt == PDF:
        writer = PdfWriter(file, pdfa=settings.pdfa)
        writer.add_page(encode_for_pdf(image, quality(settings)), dpi)
        writer.close()
    else:
        raise ValueError(f"no writer for {fmt}")


def write_image(image: Image.Image, settings: ScanSettings, path: Path) -> int:
    """One image as one file in settings.format; returns its size in bytes."""
    with Path(path).open("wb") as file:
        _save_single(image, settings, file)
        # Not tell(): the TIFF writer seeks back to finish its header.
        return file.seek(0, io.SEEK_END)


def encode_image(image: Image.Image, settings: ScanSettings) -> bytes:
    """One image as the bytes of a file in settings.format."""
    buffer = io.BytesIO()
    _save_single(image, settings, buffer)
    return buffer.getvalue()


class DocumentWriter:
    """Many images as one PDF or TIFF file, written page by page: only the page being added
    is in memory, so a 50-page 600 dpi job costs one page."""

    def __init__(self, path: Path, settings: ScanSettings) -> None:
        if settings.format not in (PDF, TIFF):
            raise ValueError(f"{settings.format} holds one page per file")
        self.path = Path(path)
        self.settings = settings
        self.pages = 0
        self._size = 0
        # w+b: the TIFF writer reads back each IFD it links the next page from.
        self._file = self.path.open("w+b")
        self._pdf = PdfWriter(self._file, pdfa=settings.pdfa) if settings.format == PDF else None
        self._tiff = None if self._pdf else TiffImagePlugin.AppendingTiffWriter(self._file)

    def add(self, image: Image.Image) -> None:
        dpi = self.settings.resolution
        if self._pdf is not None:
            self._pdf.add_page(encode_for_pdf(image, quality(self.settings)), dpi)
        else:
            assert self._tiff is not None
            image.save(self._tiff, "TIFF", **_tiff_options(image, dpi))
            self._tiff.newFrame()
        self.pages += 1

    def close(self) -> int:
        """Finish the file; returns its size in bytes."""
        if self._file.closed:
            return self._size
        try:
            if self._pdf is not None:
                self._pdf.close()
            self._file.flush()
            self._size = self._file.seek(0, io.SEEK_END)
        finally:
            self._file.close()
        return self._size

    def __enter__(self) -> DocumentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
