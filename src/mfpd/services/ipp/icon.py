"""The printer icon (PWG 5100.14 printer-icons): a PNG drawn here, no binary in the tree."""

from __future__ import annotations

import functools
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@functools.cache
def icon_png(size: int = 128) -> bytes:
    """A stylised MFP: grey body, dark paper slot, white sheet, green status light."""
    rows = []
    for y in range(size):
        row = bytearray([0])  # PNG filter type 0 for each scanline
        for x in range(size):
            u, v = x / size, y / size
            pixel = (0, 0, 0, 0)
            if 0.1 <= u <= 0.9 and 0.3 <= v <= 0.85:
                pixel = (200, 200, 205, 255)
            if 0.25 <= u <= 0.75 and 0.1 <= v <= 0.45:
                pixel = (255, 255, 255, 255)
            if 0.2 <= u <= 0.8 and 0.45 <= v <= 0.5:
                pixel = (60, 60, 70, 255)
            if 0.72 <= u <= 0.8 and 0.65 <= v <= 0.72:
                pixel = (40, 180, 60, 255)
            row += bytes(pixel)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )
