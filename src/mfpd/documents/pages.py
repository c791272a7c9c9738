"""Page counting: how many pages one copy of a spooled document prints.

The print engine counts every job before printing it, and spooled files can be several GB, so
every counter here streams: it reads the file in chunks of at most `_CHUNK` bytes, seeks where
the format allows (PDF cross-reference, raster page data, PCL binary payloads) and keeps at
most a few MB resident. Nothing raises on bad input: a damaged or truncated document gets a
best-effort count with `exact=False`.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from mfpd.documents.sniff import UEL, DocumentFormat, parse_pjl_header, sniff_format

_HEAD_SIZE: Final = 64 * 1024
_CHUNK: Final = 1 << 20


@dataclass(frozen=True)
class PageCount:
    """The page count of one copy of a document."""

    format: str  # the MIME type used
    pages: int  # pages of ONE copy, >= 0
    exact: bool  # False for best-effort counts (PCL, PS showpage fallback, unreadable input)


class _Malformed(ValueError):
    """The document does not parse the way its format says; the caller estimates instead."""


class _Truncated(_Malformed):
    """A parse ran off the end of the bytes at hand; more bytes may finish it."""


@dataclass(frozen=True)
class _Estimate:
    pages: int
    exact: bool


@dataclass(frozen=True)
class _Doc:
    """An open document: the file, its size, its first bytes and where the PJL header ends."""

    file: BinaryIO
    size: int
    head: bytes
    start: int

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0:
            return b""
        self.file.seek(offset)
        return self.file.read(length)


# --------------------------------------------------------------------------------------------
# Streaming helpers


def _scan(
    file: BinaryIO, start: int, pattern: re.Pattern[bytes], overlap: int, context: int = 1
) -> Iterator[tuple[int, re.Match[bytes]]]:
    """Every match of `pattern` in the file from `start`, with its absolute offset, in order.

    Gives the same matches as one `finditer` over the whole file, provided no match (plus one
    byte of lookahead) is longer than `overlap`: a match is only taken once it starts `overlap`
    bytes before the end of the window. `context` bytes before the next window are kept, so a
    caller may look up to that far behind a match in `match.string`. Patterns should start
    with a literal: Python's re scans for those fast, and far slower for lookbehinds.
    """
    file.seek(start)
    buf = b""
    buf_at = start  # absolute offset of buf[0]
    skip = 0  # matches starting before buf[skip] were already reported
    while True:
        data = file.read(_CHUNK)
        eof = not data
        buf += data
        limit = len(buf) if eof else len(buf) - overlap
        last_end = skip
        for match in pattern.finditer(buf, skip):
            if match.start() >= limit:
                break
            yield buf_at + match.start(), match
            last_end = match.end()
        if eof:
            return
        cut = max(limit, last_end, skip)
        keep = max(cut - context, 0)
        buf_at += keep
        buf = buf[keep:]
        skip = cut - keep


class _Stream:
    """A forward reader over a window of the file, for the sequential parsers."""

    def __init__(self, file: BinaryIO, start: int) -> None:
        self.file = file
        self.buf = b""
        self.pos = 0
        self.base = start  # absolute offset of buf[0]
        self.eof = False
        file.seek(start)

    def fill(self, count: int) -> bool:
        """Make `count` bytes available at `pos`; False if the file ends first."""
        while len(self.buf) - self.pos < count and not self.eof:
            data = self.file.read(max(_CHUNK, count))
            if not data:
                self.eof = True
                break
            self.base += self.pos
            self.buf = self.buf[self.pos :] + data
            self.pos = 0
        return len(self.buf) - self.pos >= count

    def skip(self, count: int) -> None:
        if self.pos + count <= len(self.buf):
            self.pos += count
            return
        target = self.base + self.pos + count
        self.file.seek(target)
        self.buf = b""
        self.pos = 0
        self.base = target

    def tell(self) -> int:
        return self.base + self.pos

    def find(self, needle: bytes) -> bool:
        """Move to the next occurrence of `needle`; False (at the end) if there is none."""
        while True:
            found = self.buf.find(needle, self.pos)
            if found >= 0:
                self.pos = found
                return True
            self.pos = max(self.pos, len(self.buf) - len(needle) + 1)
            if not self.fill(len(self.buf) - self.pos + 1):
                self.pos = len(self.buf)
                return False

    def skip_line(self) -> None:
        """Move past the next LF (PJL lines are short; a runaway line is cut at 64 KiB)."""
        self.fill(64 * 1024)
        eol = self.buf.find(b"\n", self.pos, self.pos + 64 * 1024)
        self.pos = len(self.buf) if eol < 0 else eol + 1


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


# --------------------------------------------------------------------------------------------
# Plain text


_WHITESPACE: Final = b" \t\r\n\x0b\x0c\x00"


def _count_text(doc: _Doc, lines_per_page: int) -> _Estimate:
    """ceil(lines / lines_per_page) per form-feed-separated page; LF ends a line (CR alone
    only returns the carriage, as on a line printer)."""
    pages = 0
    lines = 0  # complete lines on the current page
    partial = False  # characters after the last LF on the current page
    inked = False  # the current page has more than whitespace
    started = False  # the current page has any byte at all
    doc.file.seek(doc.start)
    while chunk := doc.file.read(_CHUNK):
        for index, part in enumerate(chunk.split(b"\x0c")):
            if index:
                # A form feed ejects the page, even an empty one, like a line printer.
                pages += max(1, _ceil_div(lines + partial, lines_per_page))
                lines, partial, inked, started = 0, False, False, False
            if not part:
                continue
            started = True
            newlines = part.count(b"\n")
            lines += newlines
            partial = not part.endswith(b"\n") if newlines else True
            inked = inked or bool(part.translate(None, _WHITESPACE))
    # Blank lines after the last form feed do not make another sheet.
    if started and (inked or pages == 0):
        pages += max(1, _ceil_div(lines + partial, lines_per_page))
    return _Estimate(pages, True)


# --------------------------------------------------------------------------------------------
# PostScript: Adobe Document Structuring Conventions 3.0 (TN 5001)

# DSC comments (DSC 3.0: "%%" at the start of a line) and showpage, found by their literal
# start; what needs the byte before a match is checked in code (re is slow with lookbehinds).
_PS_SCAN: Final = re.compile(
    rb"%%(?P<kw>Pages|Page|BeginDocument|EndDocument|EndComments|Trailer)(?P<rest>[^\r\n]{0,200})"
    rb"|showpage"
)
# Bytes that may precede an executed showpage: not "/" (a literal name), not "(" (a string),
# not a regular character (part of a longer name).
_PS_BEFORE_OPERATOR: Final = frozenset(b"\x00\t\n\x0c\r )<>[]{}")
_PS_REGULAR: Final = re.compile(rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]")
_LEADING_INT: Final = re.compile(rb"[ \t]*([0-9]{1,9})")


def _count_postscript(doc: _Doc, lines_per_page: int) -> _Estimate:
    """DSC %%Pages: from the header, or from the trailer when the header says (atend);
    else the number of %%Page: comments, else the number of showpage calls (inexact)."""
    depth = 0  # inside %%BeginDocument: an embedded EPS, whose comments are not ours
    in_header = True
    atend = False
    in_trailer = False
    header_pages: int | None = None
    trailer_pages: int | None = None
    any_pages: int | None = None
    page_comments = 0
    showpages = 0
    for where, match in _scan(doc.file, 0, _PS_SCAN, 512):
        start, buf = match.start(), match.string
        before = buf[start - 1] if where else None
        keyword = match.group("kw")
        if keyword is None:
            after = buf[match.end() : match.end() + 1]
            if (before is None or before in _PS_BEFORE_OPERATOR) and not _PS_REGULAR.match(after):
                showpages += depth == 0
            continue
        if before is not None and before not in b"\r\n":
            continue  # a DSC comment starts a line
        rest: bytes = match.group("rest")
        if keyword == b"BeginDocument":
            depth += 1
        elif keyword == b"EndDocument":
            depth = max(0, depth - 1)
        elif depth:
            continue
        elif keyword == b"EndComments":
            in_header = False
        elif keyword == b"Trailer":
            in_header, in_trailer = False, True
        elif keyword == b"Page" and rest.startswith(b":"):
            in_header = False
            page_comments += 1
        elif keyword == b"Pages" and rest.startswith(b":"):
            value = rest[1:].strip()
            if value.startswith(b"(atend)"):
                atend = atend or in_header
                continue
            number = _LEADING_INT.match(value)
            if number is None:
                continue
            pages = int(number.group(1))
            if in_header and header_pages is None:
                header_pages = pages
            if in_trailer:
                trailer_pages = pages
            any_pages = pages
    if header_pages is not None and not atend:
        return _Estimate(header_pages, True)
    if trailer_pages is not None:
        return _Estimate(trailer_pages, True)
    if any_pages is not None:
        return _Estimate(any_pages, True)
    if page_comments:
        return _Estimate(page_comments, False)
    return _Estimate(showpages, False)


# --------------------------------------------------------------------------------------------
# PCL 5: HP PCL 5 Printer Language Technical Reference Manual

# "PCL Command Syntax", parameterized escape sequences: ESC, a parameterized character
# (0x21-0x2F), an optional group character (0x60-0x7E), then value/parameter pairs; a lowercase
# parameter character chains the next pair, an uppercase one (0x40-0x5E) ends the command.
# A data-carrying parameter (W, and V in *b, X in &p) is followed by that many bytes of data,
# even in the middle of a chain ("ESC *b2m10w<10 bytes>12w<12 bytes>..." is how DeskJet
# drivers send rows).
_PCL_VALUE: Final = re.compile(rb"[+-]?[0-9]*(?:\.[0-9]*)?")
_PCL_SPECIAL: Final = re.compile(rb"[\x1b\x0c]")
_HPGL_SPECIAL: Final = re.compile(rb"\x1b")
_NOT_INK: Final = bytes(range(0x21)) + b"\x7f"  # spacing and control codes put no toner down
_PCL_MAX_DATA: Final = 1 << 31
# Commands that eject a marked page before taking effect: page size (&l#A), paper source
# (&l#H, &l0H is the explicit eject), orientation (&l#O), duplex side selection (&a#G).
_PCL_EJECTS: Final = frozenset({(b"&l", b"A"), (b"&l", b"H"), (b"&l", b"O"), (b"&a", b"G")})
_PCL_DATA: Final = frozenset({(b"*b", b"V"), (b"&p", b"X")})  # besides W in any group
_PCL_INK: Final = frozenset({(b"*b", b"W"), (b"*b", b"V"), (b"&p", b"X"), (b"*c", b"P")})


def _skip_pjl_lines(stream: _Stream) -> None:
    """After a UEL the job may carry "@PJL" lines before the PDL resumes."""
    while stream.fill(4):
        char = stream.buf[stream.pos]
        if char in b"\r\n\t \x0c\x00":
            stream.pos += 1
        elif stream.buf[stream.pos : stream.pos + 4].upper() == b"@PJL":
            stream.skip_line()
        else:
            return


class _PclPages:
    """Page state of a PCL 5 job: ejected pages, and whether the current one is marked."""

    def __init__(self) -> None:
        self.ejected = 0
        self.marked = False
        self.hpgl = False  # HP-GL/2 mode (ESC %#B) until ESC %#A or a reset

    def eject_if_marked(self) -> None:
        self.ejected += self.marked
        self.marked = False

    def command(self, stream: _Stream) -> None:
        """Parse the escape sequence at `stream.pos`, skipping any data it carries."""
        stream.fill(64)
        buf, pos = stream.buf, stream.pos + 1
        introducer = buf[pos : pos + 1]
        if not introducer or not 0x21 <= introducer[0] <= 0x2F:
            stream.pos = min(pos + 1, len(buf))  # a two-character command (ESC E, ESC 9...)
            if introducer == b"E":  # printer reset prints a marked page
                self.eject_if_marked()
                self.hpgl = False
            return
        pos += 1
        group = introducer
        if pos < len(buf) and 0x60 <= buf[pos] <= 0x7E:
            group += buf[pos : pos + 1]
            pos += 1
        while True:
            value = _PCL_VALUE.match(buf, pos)
            assert value is not None  # every part of the pattern is optional
            pos = value.end()
            if pos >= len(buf) or not 0x40 <= buf[pos] <= 0x7E:
                stream.pos = min(pos, len(buf))  # not a command after all
                return
            parameter = buf[pos] & 0xDF  # the uppercase form
            final = buf[pos] < 0x60
            pos += 1
            self._parameter(group, bytes([parameter]), value.group())
            if parameter == 0x57 or (group, bytes([parameter])) in _PCL_DATA:  # W
                try:
                    length = min(abs(int(float(value.group() or b"0"))), _PCL_MAX_DATA)
                except ValueError:
                    length = 0
                stream.pos = pos
                stream.skip(length)
                if final:
                    return
                stream.fill(64)
                buf, pos = stream.buf, stream.pos
            elif final:
                stream.pos = pos
                return
            elif len(buf) - pos < 32:
                stream.pos = pos
                stream.fill(64)
                buf, pos = stream.buf, stream.pos

    def _parameter(self, group: bytes, parameter: bytes, value: bytes) -> None:
        if (group, parameter) in _PCL_EJECTS:
            self.eject_if_marked()
        elif (group, parameter) in _PCL_INK and value.strip(b"+-0.") != b"":
            self.marked = True
        elif group == b"%":
            if parameter == b"X" and value == b"-12345":  # UEL: job boundary
                self.eject_if_marked()
                self.hpgl = False
            elif parameter == b"B":
                self.hpgl = self.marked = True  # HP-GL/2 is entered to draw
            elif parameter == b"A":
                self.hpgl = False


def _count_pcl(doc: _Doc, lines_per_page: int) -> _Estimate:
    """Form feeds plus page-ejecting commands, skipping binary payloads (raster rows, fonts,
    patterns), plus one for a marked page at the end. PCL has no page count of its own."""
    stream = _Stream(doc.file, doc.start)
    pages = _PclPages()
    while stream.fill(1):
        buf, pos = stream.buf, stream.pos
        # In HP-GL/2 mode a form feed is just a byte of a label; only ESC leaves the mode.
        special = (_HPGL_SPECIAL if pages.hpgl else _PCL_SPECIAL).search(buf, pos)
        end = len(buf) if special is None else special.start()
        if end > pos:
            pages.marked = pages.marked or bool(buf[pos:end].translate(None, _NOT_INK))
            stream.pos = end
        elif buf[pos] == 0x0C:  # form feed: ejects the page, even a blank one
            pages.ejected += 1
            pages.marked = False
            stream.pos += 1
        else:
            stream.fill(len(UEL))
            uel = stream.buf.startswith(UEL, stream.pos)
            pages.command(stream)
            if uel:
                _skip_pjl_lines(stream)
    return _Estimate(pages.ejected + pages.marked, False)


# --------------------------------------------------------------------------------------------
# PCL XL: PCL XL Feature Reference, Protocol Class 2.0/2.1

# "Data Types": attribute value tags and their sizes in bytes.
_XL_SCALARS: Final = {
    0xC0: 1, 0xC1: 2, 0xC2: 4, 0xC3: 2, 0xC4: 4, 0xC5: 4,  # ubyte .. real32
    0xD0: 2, 0xD1: 4, 0xD2: 8, 0xD3: 4, 0xD4: 8, 0xD5: 8,  # *_xy
    0xE0: 4, 0xE1: 8, 0xE2: 16, 0xE3: 8, 0xE4: 16, 0xE5: 16,  # *_box
    0xF8: 1, 0xF9: 2,  # attribute ids (attr_ubyte, attr_uint16)
}  # fmt: skip
_XL_ARRAYS: Final = {0xC8: 1, 0xC9: 2, 0xCA: 4, 0xCB: 2, 0xCC: 4, 0xCD: 4}
_XL_WHITESPACE: Final = frozenset(b"\x00\t\n\x0b\x0c\r ")
_XL_BEGIN_PAGE: Final = 0x43  # operator tags ("Operators")
_XL_END_PAGE: Final = 0x44
_XL_HEADER: Final = b" HP-PCL XL"


def _xl_stream_header(stream: _Stream) -> str | None:
    """Byte order from a stream header line ("Stream Header": "(" big-endian, ")" little);
    None if this is not one, or is the ASCII binding, which nobody sends."""
    stream.fill(256)
    buf, pos = stream.buf, stream.pos
    if buf[pos : pos + 1] not in (b"(", b")") or buf[pos + 1 : pos + 11] != _XL_HEADER:
        return None
    stream.skip_line()
    return ">" if buf[pos] == 0x28 else "<"


def _count_pclxl(doc: _Doc, lines_per_page: int) -> _Estimate:
    """EndPage operators, found by walking the binary token stream (so payload bytes that
    happen to equal 0x44 are not counted); BeginPage if a truncated stream has no EndPage."""
    stream = _Stream(doc.file, doc.start)
    end_pages = 0
    begin_pages = 0
    order: str | None = None  # inside a binary stream: its byte order
    while stream.fill(1):
        if order is None:
            _skip_pjl_lines(stream)
            if not stream.fill(1):
                break
            if stream.fill(len(UEL)) and stream.buf.startswith(UEL, stream.pos):
                stream.pos += len(UEL)
                _skip_pjl_lines(stream)
                continue
            order = _xl_stream_header(stream)
            if order is None and not _resync_uel(stream):
                break
            continue
        tag = stream.buf[stream.pos]
        if tag in _XL_WHITESPACE:
            stream.pos += 1
        elif 0x41 <= tag <= 0xB9:  # operators
            end_pages += tag == _XL_END_PAGE
            begin_pages += tag == _XL_BEGIN_PAGE
            stream.pos += 1
        elif tag in _XL_SCALARS:
            stream.skip(1 + _XL_SCALARS[tag])
        elif tag in _XL_ARRAYS:
            length = _xl_array_length(stream, order)
            if length is None:
                order = None
                continue
            header, count = length
            stream.skip(header + count * _XL_ARRAYS[tag])
        elif tag in (0xFA, 0xFB) and stream.fill(5 if tag == 0xFA else 2):
            # "Embedded Data": a uint32 (0xFA) or ubyte (0xFB) length, then the data.
            if tag == 0xFA:
                (size,) = struct.unpack_from(order + "I", stream.buf, stream.pos + 1)
                stream.skip(5 + size)
            else:
                stream.skip(2 + stream.buf[stream.pos + 1])
        else:
            # ESC ends the session (UEL); anything else is damage: look for the next job.
            order = None
            if tag != 0x1B and not _resync_uel(stream):
                break
    return _Estimate(end_pages or begin_pages, False)


def _xl_array_length(stream: _Stream, order: str) -> tuple[int, int] | None:
    """(bytes before the elements, element count) of an array: its length is itself a ubyte
    or uint16 value ("Data Types", arrays)."""
    if not stream.fill(6):
        return None
    kind = stream.buf[stream.pos + 1]
    if kind == 0xC0:
        return 3, stream.buf[stream.pos + 2]
    if kind == 0xC1:
        return 4, int(struct.unpack_from(order + "H", stream.buf, stream.pos + 2)[0])
    if kind == 0xC2:
        return 6, int(struct.unpack_from(order + "I", stream.buf, stream.pos + 2)[0])
    return None


def _resync_uel(stream: _Stream) -> bool:
    stream.pos += 1
    return stream.find(UEL)


# --------------------------------------------------------------------------------------------
# Raster formats: PWG 5102.4 and Apple URF share the compression scheme

_MAX_LINE_BYTES: Final = 64 << 20


def _skip_packed_lines(stream: _Stream, lines: int, line_bytes: int, unit: int) -> bool:
    """Walk `lines` rows of compressed raster data without decoding the pixels.

    PWG 5102.4 page data (and URF, which copies it): each row group starts with a repeat
    byte (rows - 1), then runs until the row is full: 0-127 = next pixel repeated n+1 times,
    129-255 = 257-n literal pixels; 128, which URF writers use for "the rest of the row is
    white", ends the row. `unit` is the size of a pixel in bytes. False if the file ends
    inside the page.
    """
    need = 2 + 128 * unit  # the most one step below can consume
    buf, pos, end, eof = stream.buf, stream.pos, len(stream.buf), stream.eof
    row = 0
    while row < lines:
        if end - pos < need and not eof:
            stream.pos = pos
            stream.fill(need)
            buf, pos, end, eof = stream.buf, stream.pos, len(stream.buf), stream.eof
        if pos >= end:
            stream.pos = pos
            return False
        row += buf[pos] + 1
        pos += 1
        filled = 0
        while filled < line_bytes:
            if end - pos < need and not eof:
                stream.pos = pos
                stream.fill(need)
                buf, pos, end, eof = stream.buf, stream.pos, len(stream.buf), stream.eof
            if pos >= end:
                stream.pos = pos
                return False
            code = buf[pos]
            if code < 128:
                pos += 1 + unit
                filled += (code + 1) * unit
            elif code > 128:
                run = (257 - code) * unit
                pos += 1 + run
                filled += run
            else:
                pos += 1
                filled = line_bytes
    stream.pos = min(pos, end)
    return pos <= end


# PWG 5102.4 "Page Header": 1796 bytes, big-endian integers at these offsets (the CUPS v2
# page header layout; the field names are CUPS's).
_PWG_HEADER_SIZE: Final = 1796
# At 372, seven uint32: cupsWidth, cupsHeight, cupsMediaType, cupsBitsPerColor,
# cupsBitsPerPixel, cupsBytesPerLine, cupsColorOrder.
_PWG_FIELDS_AT: Final = 372
_PWG_NUM_COLORS_AT: Final = 420  # cupsNumColors
_PWG_ORDER_PLANAR: Final = 2  # cupsColorOrder: PWG only allows chunky (0); CUPS has 1 and 2
_PWG_MAX_BITS: Final = 240  # 15 colours of 16 bits: the most CUPS defines for one pixel


def _count_pwg(doc: _Doc, lines_per_page: int) -> _Estimate:
    """Walk the pages: a header, then compressed rows that must be decoded to find where the
    next header starts (PWG raster has no page index). Also reads CUPS raster v2/v3 in both
    byte orders, which share the layout."""
    stream = _Stream(doc.file, doc.start)
    if not stream.fill(4):
        return _Estimate(0, False)
    sync = stream.buf[stream.pos : stream.pos + 4]
    if sync not in (b"RaS2", b"2SaR", b"RaS3", b"3SaR"):
        return _Estimate(1, False)
    endian = ">" if sync.startswith(b"R") else "<"
    compressed = b"2" in sync
    stream.skip(4)
    pages = 0
    while True:
        if not stream.fill(_PWG_HEADER_SIZE):
            return _Estimate(pages, stream.pos >= len(stream.buf))
        header = stream.buf[stream.pos : stream.pos + _PWG_HEADER_SIZE]
        stream.skip(_PWG_HEADER_SIZE)
        fields = struct.unpack_from(endian + "7I", header, _PWG_FIELDS_AT)
        _width, height, _media, bits_per_color, bits_per_pixel, line_bytes, order = fields
        (colors,) = struct.unpack_from(endian + "I", header, _PWG_NUM_COLORS_AT)
        bits = bits_per_pixel if order == 0 else bits_per_color
        unit = max(1, (bits + 7) // 8)
        if (
            not height
            or not line_bytes
            or bits > _PWG_MAX_BITS
            or line_bytes % unit
            or line_bytes > _MAX_LINE_BYTES
        ):
            return _Estimate(pages, False)  # not a page header: trailing garbage
        lines = height * max(1, colors) if order == _PWG_ORDER_PLANAR else height
        pages += 1
        if compressed:
            if not _skip_packed_lines(stream, lines, line_bytes, unit):
                return _Estimate(pages, False)
        else:
            stream.skip(lines * line_bytes)
            if stream.tell() > doc.size:
                return _Estimate(pages, False)


# Apple Raster has no public specification; the layout is the one CUPS reads and writes
# (libcups raster-stream.c): "UNIRAST\0", a big-endian uint32 page count, then per page a
# 32-byte header (bpp, colorspace, duplex, quality, 2 x uint32 reserved, width, height, dpi,
# 2 x uint32 reserved) and rows compressed as in PWG raster.
_URF_MAGIC: Final = b"UNIRAST\x00"
_URF_PAGE_HEADER: Final = 32
_URF_MIN_PAGE: Final = _URF_PAGE_HEADER + 2  # a header and at least one all-white row


def _count_urf(doc: _Doc, lines_per_page: int) -> _Estimate:
    """Walk the pages, as CUPS's reader does: the file header's count is 0 when the writer
    streams (ghostscript does), and nothing checks it when it is set. It only serves as the
    estimate when the walk cannot finish and it is larger than what was walked (and small
    enough for the file to hold that many pages)."""
    stream = _Stream(doc.file, doc.start)
    if not stream.fill(12) or not stream.buf.startswith(_URF_MAGIC, stream.pos):
        return _Estimate(1, False)
    (declared,) = struct.unpack_from(">I", stream.buf, stream.pos + 8)
    stream.skip(12)
    plausible = declared * _URF_MIN_PAGE <= doc.size - stream.tell()
    pages = 0
    while True:
        if not stream.fill(_URF_PAGE_HEADER):
            if stream.pos >= len(stream.buf):
                return _Estimate(pages, True)
            break  # trailing bytes that are not a page header
        header = stream.buf[stream.pos : stream.pos + _URF_PAGE_HEADER]
        bits = header[0]
        width, height = struct.unpack_from(">II", header, 12)
        line_bytes = (width * bits + 7) // 8
        if not bits or not height or not line_bytes or line_bytes > _MAX_LINE_BYTES:
            break
        stream.skip(_URF_PAGE_HEADER)
        pages += 1
        if not _skip_packed_lines(stream, height, line_bytes, max(1, (bits + 7) // 8)):
            break
    return _Estimate(declared if plausible and declared > pages else pages, False)


# --------------------------------------------------------------------------------------------
# Images

_MAX_IFDS: Final = 100_000


def _count_tiff(doc: _Doc, lines_per_page: int) -> _Estimate:
    """Images in the IFD chain (TIFF 6.0 §2 "Image File Directory"; BigTIFF widens the counts
    and offsets to 64 bits). A loop or an offset past the end ends the walk, inexact."""
    base = doc.start
    header = doc.read_at(base, 16)
    endian = {b"II": "<", b"MM": ">"}.get(header[:2])
    if endian is None or len(header) < 8:
        return _Estimate(1, False)
    (version,) = struct.unpack_from(endian + "H", header, 2)
    if version == 42:
        big, (offset,) = False, struct.unpack_from(endian + "I", header, 4)
    elif version == 43 and len(header) >= 16:
        big, (offset,) = True, struct.unpack_from(endian + "Q", header, 8)
    else:
        return _Estimate(1, False)
    count_format, entry_size, next_format = ("Q", 20, "Q") if big else ("H", 12, "I")
    count_size, next_size = (8, 8) if big else (2, 4)
    seen: set[int] = set()
    pages = 0
    while offset:
        if offset in seen or pages >= _MAX_IFDS:
            return _Estimate(pages, False)
        seen.add(offset)
        raw = doc.read_at(base + offset, count_size)
        if len(raw) < count_size:
            return _Estimate(pages, False)
        (entries,) = struct.unpack(endian + count_format, raw)
        next_at = base + offset + count_size + entries * entry_size
        raw = doc.read_at(next_at, next_size)
        if len(raw) < next_size:
            return _Estimate(pages + (next_at <= doc.size), False)
        pages += 1
        (offset,) = struct.unpack(endian + next_format, raw)
    return _Estimate(pages, True)


def _count_single_image(doc: _Doc, lines_per_page: int) -> _Estimate:
    return _Estimate(1, True)


def _count_unknown(doc: _Doc, lines_per_page: int) -> _Estimate:
    return _Estimate(1, False)


# --------------------------------------------------------------------------------------------
# PDF: ISO 32000-1:2008

_PDF_WS: Final = b"\x00\t\n\x0c\r "
_PDF_DELIMITERS: Final = b"()<>[]{}/%"
_PDF_REGULAR: Final = re.compile(rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]+")
_PDF_INT: Final = re.compile(rb"[+-]?[0-9]+")
_PDF_REAL: Final = re.compile(rb"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_PDF_REF_TAIL: Final = re.compile(
    rb"[\x00\t\n\x0c\r ]+([0-9]{1,10})[\x00\t\n\x0c\r ]+R(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
)
_PDF_STRING_SPECIAL: Final = re.compile(rb"[()\\]")
_PDF_EOL: Final = re.compile(rb"[\r\n]")
_PDF_NAME_ESCAPE: Final = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_MAX_DEPTH: Final = 64

# Bounds that keep a hostile file from making us read or inflate without limit.
_PDF_MAX_OBJECT: Final = 8 << 20  # one parsed object (a flat /Kids array of 800k pages)
_PDF_MAX_ARRAY: Final = 1 << 16  # array elements kept; the rest are parsed and dropped
_PDF_MAX_XREF_BYTES: Final = 16 << 20  # decoded xref streams, all sections together
_PDF_MAX_OBJSTM: Final = 8 << 20  # one decoded object stream
_PDF_MAX_SECTIONS: Final = 4096  # incremental updates followed through /Prev
_PDF_MAX_SCANNED: Final = 200_000  # objects the repair scan remembers the place of
_PDF_PAGE_BITMAP: Final = 1 << 24  # page object numbers the repair scan de-duplicates
_PDF_TAIL: Final = 64 * 1024  # where "startxref" is looked for: §7.5.5 puts it at the end,
# junk (a PJL trailer, padding) may follow


class _Name(str):
    """A PDF name object (§7.3.5), kept apart from strings."""


class _Keyword(str):
    """A bare PDF keyword (obj, stream, R...) met where a value was expected."""


@dataclass(frozen=True, slots=True)
class _Ref:
    """An indirect reference "num gen R" (§7.3.10)."""

    num: int
    gen: int


class _PdfParser:
    """Parses PDF objects (§7.3) out of a byte buffer; raises _Truncated at its end."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def skip_space(self) -> None:
        data, pos, size = self.data, self.pos, len(self.data)
        while pos < size:
            char = data[pos]
            if char in _PDF_WS:
                pos += 1
            elif char == 0x25:  # % comment to end of line
                eol = _PDF_EOL.search(data, pos)
                pos = size if eol is None else eol.end()
            else:
                break
        self.pos = pos

    def value(self, depth: int = 0) -> object:
        if depth > _PDF_MAX_DEPTH:
            raise _Malformed("objects nested too deep")
        self.skip_space()
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise _Truncated("end of data before a value")
        char = data[pos]
        if char == 0x2F:  # /
            regular = _PDF_REGULAR.match(data, pos + 1)
            end = pos + 1 if regular is None else regular.end()
            self._check_not_cut(end)
            self.pos = end
            raw = _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data[pos + 1 : end])
            return _Name(raw.decode("latin-1"))
        if char == 0x3C:  # <
            if data[pos + 1 : pos + 2] == b"<":
                return self._dictionary(depth)
            close = data.find(b">", pos)
            if close < 0:
                raise _Truncated("unterminated hex string")
            self.pos = close + 1
            return data[pos + 1 : close]
        if char == 0x5B:  # [
            self.pos += 1
            items: list[object] = []
            while True:
                self.skip_space()
                if self.pos >= len(data):
                    raise _Truncated("unterminated array")
                if data[self.pos] == 0x5D:
                    self.pos += 1
                    return items
                item = self.value(depth + 1)
                if len(items) < _PDF_MAX_ARRAY:  # a page tree's /Kids is not what we read
                    items.append(item)
        if char == 0x28:  # (
            return self._literal_string()
        if char in _PDF_DELIMITERS:
            raise _Malformed(f"unexpected delimiter {chr(char)!r}")
        regular = _PDF_REGULAR.match(data, pos)
        assert regular is not None  # not whitespace, not a delimiter: a regular character
        self._check_not_cut(regular.end())
        token = regular.group()
        self.pos = regular.end()
        if _PDF_INT.fullmatch(token):
            number = int(token)
            if len(data) - self.pos < 32 and not self._final():
                raise _Truncated("a reference may follow")
            ref = _PDF_REF_TAIL.match(data, self.pos)
            if ref is not None and number >= 0:
                self.pos = ref.end()
                return _Ref(number, int(ref.group(1)))
            return number
        if _PDF_REAL.fullmatch(token):
            return float(token)
        keyword = token.decode("latin-1")
        return {"true": True, "false": False, "null": None}.get(keyword, _Keyword(keyword))

    def integer(self) -> int:
        self.skip_space()
        token = _PDF_INT.match(self.data, self.pos)
        if token is None:
            raise _Malformed("integer expected")
        self._check_not_cut(token.end())
        self.pos = token.end()
        return int(token.group())

    def keyword(self, word: bytes) -> None:
        self.skip_space()
        if not self.data.startswith(word, self.pos):
            if len(self.data) - self.pos < len(word):
                raise _Truncated("end of data before a keyword")
            raise _Malformed(f"{word.decode()} expected")
        self.pos += len(word)

    def _final(self) -> bool:
        return False

    def _check_not_cut(self, end: int) -> None:
        # A token that touches the end of the buffer may go on in bytes not read yet.
        if end >= len(self.data) and not self._final():
            raise _Truncated("token at end of data")

    def _dictionary(self, depth: int) -> dict[str, object]:
        data = self.data
        self.pos += 2
        result: dict[str, object] = {}
        while True:
            self.skip_space()
            if self.pos + 1 >= len(data):
                raise _Truncated("unterminated dictionary")
            if data.startswith(b">>", self.pos):
                self.pos += 2
                return result
            key = self.value(depth + 1)
            if not isinstance(key, _Name):
                raise _Malformed("dictionary key is not a name")
            self.skip_space()
            if data.startswith(b">>", self.pos):  # a key without a value: tolerate, as readers do
                result[key] = None
                continue
            result[key] = self.value(depth + 1)

    def _literal_string(self) -> bytes:
        data = self.data
        start = self.pos
        pos = start + 1
        nesting = 1
        while nesting:
            special = _PDF_STRING_SPECIAL.search(data, pos)
            if special is None:
                raise _Truncated("unterminated string")
            char = data[special.start()]
            if char == 0x5C:  # backslash escapes the next byte
                pos = special.start() + 2
                continue
            nesting += 1 if char == 0x28 else -1
            pos = special.start() + 1
        self.pos = pos
        return data[start + 1 : pos - 1]


class _FinalPdfParser(_PdfParser):
    """A parser over bytes that are the whole of what there is (the file's end, a stream)."""

    def _final(self) -> bool:
        return True


@dataclass(frozen=True)
class _InFile:
    offset: int


@dataclass(frozen=True)
class _InStream:
    stream: int
    index: int


_Location = _InFile | _InStream


@dataclass(frozen=True)
class _Free:
    """A free or unusable entry: look in an older section (a hybrid file's table marks the
    objects of its xref stream free, §7.5.8.4)."""


@dataclass(frozen=True)
class _TableSection:
    """A classic cross-reference section (§7.5.4), read lazily: only where each subsection's
    fixed-size entries start, so a table of millions of objects costs nothing to hold."""

    subsections: tuple[tuple[int, int, int, int], ...]  # (first number, count, at, entry size)


@dataclass(frozen=True)
class _StreamSection:
    """A cross-reference stream (§7.5.8): decoded rows of /W-sized big-endian fields."""

    rows: bytes
    widths: tuple[int, int, int]
    index: tuple[tuple[int, int], ...]


_Section = _TableSection | _StreamSection

_XREF_ENTRY: Final = re.compile(
    rb"[ \t]*([0-9]{1,10})[ \t]+([0-9]{1,5})[ \t]+([nf])(?:\r\n| \r| \n|\r|\n| )?"
)
_XREF_SUBSECTION: Final = re.compile(
    rb"[\x00\t\n\x0c\r ]*([0-9]{1,10})[ \t]+([0-9]{1,10})[ \t]*(?:\r\n|\r|\n)?"
)
_XREF_TRAILER: Final = re.compile(rb"[\x00\t\n\x0c\r ]*trailer")
_XREF_KEYWORD: Final = re.compile(rb"[\x00\t\n\x0c\r ]*xref")
_OBJ_HEADER: Final = re.compile(
    rb"[\x00\t\n\x0c\r ]*[0-9]{1,10}[\x00\t\n\x0c\r ]+[0-9]{1,5}[\x00\t\n\x0c\r ]+obj"
)
_STARTXREF: Final = re.compile(rb"startxref[\x00\t\n\x0c\r ]+([0-9]{1,15})")

_PDF_NAME_END: Final = rb"(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
# The repair scan looks for the literals "obj" and "/Type" (fast in re) and checks what is
# around them in code: an object header "n g obj" (§7.3.10) ends at the "obj".
_PDF_SCAN: Final = re.compile(rb"obj|/Type")
_PDF_SCAN_CONTEXT: Final = 40  # longer than the longest header the pattern below accepts
_PDF_OBJ_HEADER: Final = re.compile(
    rb"(?<![0-9])([0-9]{1,10})[\x00\t\n\x0c\r ]{1,8}[0-9]{1,5}[\x00\t\n\x0c\r ]{1,8}obj"
)
_PDF_TYPE_AT: Final = re.compile(
    rb"/Type[\x00\t\n\x0c\r ]{0,8}/(Pages|Page|Catalog|ObjStm)" + _PDF_NAME_END
)
_PDF_TYPE: Final = re.compile(rb"/Type[\x00\t\n\x0c\r ]{0,8}/(Pages|Page|Catalog)" + _PDF_NAME_END)


class _PdfReader:
    """Just enough of a PDF reader to find the page tree root's /Count (§7.7.3.2)."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc
        self.shift = 0  # added to every offset: a PJL or mail prefix before "%PDF-"
        self.sections: list[_Section] = []
        self.scanned: dict[int, _Location] = {}  # object locations found by the repair scan
        self.scanned_at: dict[int, int] = {}  # and where in the file each was found
        self.objstm_cache: dict[int, tuple[tuple[tuple[int, int], ...], int, bytes]] = {}
        self.xref_bytes = 0  # decoded cross-reference stream data held in self.sections

    # ---- the cross-reference route (§7.5.4 - §7.5.8) -----------------------------------

    def count_from_xref(self) -> int:
        tail_at = max(0, self.doc.size - _PDF_TAIL)
        tail = self.doc.read_at(tail_at, _PDF_TAIL)
        found = list(_STARTXREF.finditer(tail))
        if not found:
            raise _Malformed("no startxref")
        startxref = int(found[-1].group(1))
        pdf_at = self.doc.head.find(b"%PDF-")
        trailers = self._load_sections(startxref, [0, pdf_at] if pdf_at > 0 else [0])
        root = next((t["Root"] for t in trailers if t.get("Root") is not None), None)
        return self._count_from_root(root)

    def _count_from_root(self, root: object) -> int:
        catalog = self.resolve(root)
        if not isinstance(catalog, dict):
            raise _Malformed("no document catalog")
        tree = self.resolve(catalog.get("Pages"))
        if not isinstance(tree, dict):
            raise _Malformed("no page tree")
        count = self.resolve(tree.get("Count"))
        # A page object takes some bytes even deflated in an object stream (zlib tops out
        # near 1000:1); a count beyond that is a lie, not a document.
        if type(count) is not int or count < 0 or count > 64 * self.doc.size + 16:
            raise _Malformed("implausible /Count")
        return count

    def _load_sections(self, startxref: int, shifts: list[int]) -> list[dict[str, object]]:
        for shift in shifts:
            self.shift = shift
            try:
                section, trailer = self._section_at(startxref)
                break
            except _Malformed:
                continue
        else:
            raise _Malformed("startxref points at no cross-reference section")
        trailers: list[dict[str, object]] = []
        seen: set[int] = {startxref}
        while True:
            self.sections.append(section)
            trailers.append(trailer)
            # §7.5.8.4: a hybrid file's table is completed by the stream at /XRefStm, which is
            # searched before the /Prev chain.
            hybrid = trailer.get("XRefStm")
            if type(hybrid) is int and hybrid not in seen:
                seen.add(hybrid)
                self.sections.append(self._section_at(hybrid)[0])
            previous = trailer.get("Prev")  # §7.5.6: incremental updates chain back
            if type(previous) is not int or previous in seen:
                return trailers
            if len(self.sections) >= _PDF_MAX_SECTIONS:
                raise _Malformed("too many cross-reference sections")
            seen.add(previous)
            try:
                section, trailer = self._section_at(previous)
            except _Malformed:
                # A damaged older section only hides objects that later ones may not need;
                # if the page tree needed them, its lookup fails and the repair scan runs.
                return trailers

    def _section_at(self, offset: int) -> tuple[_Section, dict[str, object]]:
        where = offset + self.shift
        probe = self.doc.read_at(where, 64)
        keyword = _XREF_KEYWORD.match(probe)
        if keyword is not None:
            return self._table_at(where + keyword.end())
        if _OBJ_HEADER.match(probe) is not None:
            return self._xref_stream_at(where)
        raise _Malformed("no cross-reference section")

    def _table_at(self, where: int) -> tuple[_Section, dict[str, object]]:
        subsections: list[tuple[int, int, int, int]] = []
        while True:
            probe = self.doc.read_at(where, 64)
            trailer = _XREF_TRAILER.match(probe)
            if trailer is not None:
                value = self._value_at(where + trailer.end())
                if not isinstance(value, dict):
                    raise _Malformed("trailer is not a dictionary")
                return _TableSection(tuple(subsections)), value
            header = _XREF_SUBSECTION.match(probe)
            if header is None:
                raise _Malformed("bad cross-reference subsection")
            first, count = int(header.group(1)), int(header.group(2))
            entries_at = where + header.end()
            entry_size = 20
            if count:
                # Entries are 20 bytes (§7.5.4), but some writers use a 1-byte EOL: measure.
                entry = _XREF_ENTRY.match(self.doc.read_at(entries_at, 64))
                if entry is None:
                    raise _Malformed("bad cross-reference entry")
                entry_size = entry.end()
            if count * entry_size > self.doc.size:
                raise _Malformed("cross-reference subsection larger than the file")
            subsections.append((first, count, entries_at, entry_size))
            where = entries_at + count * entry_size

    def _xref_stream_at(self, where: int) -> tuple[_Section, dict[str, object]]:
        _, stream_dict, data_at = self._object_at(where)
        if not isinstance(stream_dict, dict) or data_at is None:
            raise _Malformed("cross-reference stream expected")
        widths = stream_dict.get("W")
        if (
            not isinstance(widths, list)
            or len(widths) != 3
            or not all(type(w) is int and 0 <= w <= 8 for w in widths)
        ):
            raise _Malformed("bad /W")
        size = stream_dict.get("Size")
        index = stream_dict.get("Index", [0, size])
        if not isinstance(index, list) or len(index) % 2 or not all(type(i) is int for i in index):
            raise _Malformed("bad /Index")
        pairs = tuple((int(index[i]), int(index[i + 1])) for i in range(0, len(index), 2))
        budget = _PDF_MAX_XREF_BYTES - self.xref_bytes
        rows = self._stream_data(stream_dict, data_at, budget)
        self.xref_bytes += len(rows)
        w0, w1, w2 = (int(w) for w in widths)
        return _StreamSection(rows, (w0, w1, w2), pairs), stream_dict

    def _locate(self, num: int) -> _Location | None:
        for section in self.sections:
            found = _lookup(section, num, self.doc)
            if isinstance(found, _InFile | _InStream):
                return found
        return self.scanned.get(num)

    # ---- objects ---------------------------------------------------------------------

    def resolve(self, value: object) -> object:
        for _ in range(32):
            if not isinstance(value, _Ref):
                return value
            value = self._get(value.num)
        raise _Malformed("reference chain too long")

    def _get(self, num: int) -> object:
        location = self._locate(num)
        if location is None:
            return None  # §7.3.10: a reference to a missing object is null
        if isinstance(location, _InFile):
            found, value, _ = self._object_at(location.offset + self.shift)
            if found != num:
                raise _Malformed("cross-reference offset points at another object")
            return value
        entries, first, data = self._object_stream(location.stream)
        index = location.index
        if not 0 <= index < len(entries) or entries[index][0] != num:
            index = next((i for i, (n, _) in enumerate(entries) if n == num), -1)
            if index < 0:
                return None
        return _FinalPdfParser(data, first + entries[index][1]).value()

    def _object_at(self, where: int) -> tuple[int, object, int | None]:
        """(number, value, where the stream data starts if it is a stream) of "n g obj"."""
        window = 4096
        while True:
            data = self.doc.read_at(where, window)
            whole = len(data) < window
            parser: _PdfParser = _FinalPdfParser(data) if whole else _PdfParser(data)
            try:
                num = parser.integer()
                parser.integer()
                parser.keyword(b"obj")
                value = parser.value()
                data_at = None
                if isinstance(value, dict):
                    parser.skip_space()
                    if len(data) - parser.pos < 8 and not whole:
                        raise _Truncated("stream keyword may follow")
                    if data.startswith(b"stream", parser.pos):
                        after = parser.pos + 6
                        # §7.3.8.1: "stream" is followed by CRLF or LF (a lone CR is tolerated).
                        if data.startswith(b"\r\n", after):
                            after += 2
                        elif data[after : after + 1] in (b"\n", b"\r"):
                            after += 1
                        data_at = where + after
                return num, value, data_at
            except _Truncated:
                if whole or window >= _PDF_MAX_OBJECT:
                    raise
                window *= 4

    def _value_at(self, where: int) -> object:
        window = 4096
        while True:
            data = self.doc.read_at(where, window)
            whole = len(data) < window
            try:
                return (_FinalPdfParser(data) if whole else _PdfParser(data)).value()
            except _Truncated:
                if whole or window >= _PDF_MAX_OBJECT:
                    raise
                window *= 4

    def _object_stream(self, num: int) -> tuple[tuple[tuple[int, int], ...], int, bytes]:
        """(object numbers and offsets, /First, decoded data) of an object stream (§7.5.7)."""
        cached = self.objstm_cache.get(num)
        if cached is not None:
            return cached
        location = self._locate(num)
        if not isinstance(location, _InFile):
            raise _Malformed("object stream not found")
        found, stream_dict, data_at = self._object_at(location.offset + self.shift)
        if found != num or not isinstance(stream_dict, dict) or data_at is None:
            raise _Malformed("object stream expected")
        count, first = stream_dict.get("N"), stream_dict.get("First")
        if type(count) is not int or type(first) is not int or count < 0 or first < 0:
            raise _Malformed("bad object stream header")
        data = self._stream_data(stream_dict, data_at, _PDF_MAX_OBJSTM)
        parser = _FinalPdfParser(data[:first])
        entries = tuple((parser.integer(), parser.integer()) for _ in range(count))
        if len(self.objstm_cache) >= 2:  # keep memory bounded: few lookups hit one stream
            self.objstm_cache.pop(next(iter(self.objstm_cache)))
        self.objstm_cache[num] = (entries, first, data)
        return entries, first, data

    def _stream_data(self, stream_dict: dict[str, object], data_at: int, limit: int) -> bytes:
        """Decoded stream data, at most `limit` bytes: FlateDecode (with PNG predictors) or
        no filter, which is all that cross-reference and object streams use in practice."""
        filters = self.resolve(stream_dict.get("Filter"))
        names = filters if isinstance(filters, list) else [] if filters is None else [filters]
        params = self.resolve(stream_dict.get("DecodeParms"))
        if isinstance(params, list):
            params = params[0] if params else None
        if not names:
            length = stream_dict.get("Length")
            if isinstance(length, _Ref):
                length = self.resolve(length)
            if type(length) is not int or not 0 <= length <= limit:
                raise _Malformed("stream of unknown or excessive length")
            return self.doc.read_at(data_at, length)
        if len(names) != 1 or names[0] not in ("FlateDecode", "Fl"):
            raise _Malformed("unsupported stream filter")
        data = self._inflate(data_at, limit)
        if isinstance(params, dict):
            data = _png_unpredict(data, params)
        return data

    def _inflate(self, data_at: int, limit: int) -> bytes:
        """Inflate from `data_at` until the deflate stream says it ended, so a wrong /Length
        does not matter; never more than `limit` bytes of output (no zip bombs)."""
        if limit <= 0:
            raise _Malformed("no room left to inflate a stream")
        inflater = zlib.decompressobj()
        pieces: list[bytes] = []
        produced = 0
        where = data_at
        try:
            while not inflater.eof:
                chunk = self.doc.read_at(where, 64 * 1024)
                where += len(chunk)
                # An empty chunk (end of file) still drains output zlib holds back.
                while not inflater.eof:
                    piece = inflater.decompress(chunk, limit - produced + 1)
                    produced += len(piece)
                    if produced > limit:
                        raise _Malformed("stream inflates beyond the limit")
                    pieces.append(piece)
                    chunk = inflater.unconsumed_tail
                    if not chunk and not piece:
                        break
                if where >= self.doc.size:
                    break
        except zlib.error as exc:
            if not produced:
                raise _Malformed(f"bad deflate data: {exc}") from exc
        return b"".join(pieces)

    # ---- the repair route: scan the whole file ---------------------------------------

    def count_by_scan(self) -> _Estimate:
        """For a damaged or truncated file: find objects by their "n g obj" headers, then read
        /Count from the last catalog's page tree if it can be reached, else count distinct
        /Type /Page objects (in object streams too)."""
        self.sections = []
        self.shift = 0
        pages = _PageSet()
        anonymous = 0  # /Type /Page outside any object header: count each
        current: int | None = None
        current_at = 0
        catalogs: deque[tuple[int, int]] = deque(maxlen=64)  # (where, number): the latest
        object_streams: dict[int, int] = {}
        for where, match in _scan(self.doc.file, 0, _PDF_SCAN, 64, _PDF_SCAN_CONTEXT):
            buf, start, end = match.string, match.start(), match.end()
            if buf[start] == 0x6F:  # "obj"
                header = _object_header_ending_at(buf, end)
                if header is not None:
                    current, current_at = int(header.group(1)), where - (start - header.start())
                continue
            kind_match = _PDF_TYPE_AT.match(buf, start)
            if kind_match is None:
                continue
            kind = kind_match.group(1)
            if current is None:
                anonymous += kind == b"Page"
            elif kind == b"Page":
                pages.add(current)
            else:
                self._remember(current, _InFile(current_at), current_at)
                if kind == b"Catalog":
                    catalogs.append((current_at, current))
                elif kind == b"ObjStm":
                    object_streams[current] = current_at
        for stream_num, stream_at in object_streams.items():
            try:
                entries, first, data = self._object_stream(stream_num)
            except _Malformed:
                continue
            self.objstm_cache.clear()
            bounds = [first + offset for _, offset in entries] + [len(data)]
            for index, (num, _) in enumerate(entries):
                kind_match = _PDF_TYPE.search(
                    data, bounds[index], max(bounds[index], bounds[index + 1])
                )
                if kind_match is None:
                    continue
                if kind_match.group(1) == b"Page":
                    pages.add(num)
                else:
                    self._remember(num, _InStream(stream_num, index), stream_at)
                    if kind_match.group(1) == b"Catalog":
                        catalogs.append((stream_at, num))
        for _, catalog in sorted(catalogs, reverse=True):
            try:
                count = self._count_from_root(_Ref(catalog, 0))
            except _Malformed:
                continue
            if count:
                return _Estimate(count, False)
        return _Estimate(pages.count + anonymous, False)

    def _remember(self, num: int, location: _Location, at: int) -> None:
        """Note where object `num` is, unless a later revision of it was seen (§7.5.6: the
        last one in the file wins)."""
        if at >= self.scanned_at.get(num, -1) and (
            num in self.scanned or len(self.scanned) < _PDF_MAX_SCANNED
        ):
            self.scanned[num] = location
            self.scanned_at[num] = at


class _PageSet:
    """Distinct page object numbers in bounded memory: a bitmap for the numbers writers use
    (below 2**24), plain counting above (where nothing real lives)."""

    def __init__(self) -> None:
        self.bits = bytearray(_PDF_PAGE_BITMAP // 8)
        self.count = 0

    def add(self, num: int) -> None:
        if num >= _PDF_PAGE_BITMAP:
            self.count += 1
            return
        byte, bit = divmod(num, 8)
        if not self.bits[byte] & (1 << bit):
            self.bits[byte] |= 1 << bit
            self.count += 1


def _object_header_ending_at(buf: bytes, end: int) -> re.Match[bytes] | None:
    """The "n g obj" header whose "obj" ends at `end`, if there is one."""
    if _PDF_REGULAR.match(buf, end, end + 1):
        return None  # "objx": another word
    at = max(0, end - _PDF_SCAN_CONTEXT)
    while (header := _PDF_OBJ_HEADER.search(buf, at, end)) is not None:
        if header.end() == end:
            return header
        at = header.end()
    return None


def _lookup(section: _Section, num: int, doc: _Doc) -> _Location | _Free | None:
    if isinstance(section, _TableSection):
        for first, count, entries_at, entry_size in section.subsections:
            if first <= num < first + count:
                raw = doc.read_at(entries_at + (num - first) * entry_size, entry_size)
                entry = _XREF_ENTRY.match(raw)
                if entry is None or entry.group(3) != b"n" or int(entry.group(1)) == 0:
                    return _Free()
                return _InFile(int(entry.group(1)))
        return None
    row = 0
    for first, count in section.index:
        if first <= num < first + count:
            row += num - first
            break
        row += count
    else:
        return None
    w0, w1, w2 = section.widths
    size = w0 + w1 + w2
    record = section.rows[row * size : row * size + size]
    if size == 0 or len(record) < size:
        return _Free()
    kind = int.from_bytes(record[:w0], "big") if w0 else 1  # §7.5.8.3: type 1 if absent
    field2 = int.from_bytes(record[w0 : w0 + w1], "big")
    field3 = int.from_bytes(record[w0 + w1 :], "big")
    if kind == 1:
        return _InFile(field2)
    if kind == 2:
        return _InStream(field2, field3)
    return _Free()


def _png_unpredict(data: bytes, params: dict[str, object]) -> bytes:
    """Undo the PNG predictors of §7.4.4.4; TIFF predictor 2 is not used by any
    writer for cross-reference data and is refused."""
    predictor = params.get("Predictor", 1)
    if type(predictor) is not int or predictor == 1:
        return data
    if predictor < 10:
        raise _Malformed("unsupported predictor")
    columns, colors, bits = (
        params.get(k, d) for k, d in (("Columns", 1), ("Colors", 1), ("BitsPerComponent", 8))
    )
    if not all(type(v) is int and 0 < v <= 1 << 16 for v in (columns, colors, bits)):
        raise _Malformed("bad predictor parameters")
    assert isinstance(columns, int) and isinstance(colors, int) and isinstance(bits, int)
    row_size = _ceil_div(columns * colors * bits, 8)
    pixel = max(1, _ceil_div(colors * bits, 8))
    out = bytearray()
    previous = bytearray(row_size)
    for at in range(0, len(data) - row_size, row_size + 1):
        kind = data[at]
        row = bytearray(data[at + 1 : at + 1 + row_size])
        if kind == 1:  # Sub
            for i in range(pixel, row_size):
                row[i] = (row[i] + row[i - pixel]) & 0xFF
        elif kind == 2:  # Up
            row = bytearray((a + b) & 0xFF for a, b in zip(row, previous, strict=True))
        elif kind == 3:  # Average
            for i in range(row_size):
                left = row[i - pixel] if i >= pixel else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(row_size):
                left = row[i - pixel] if i >= pixel else 0
                up_left = previous[i - pixel] if i >= pixel else 0
                row[i] = (row[i] + _paeth(left, previous[i], up_left)) & 0xFF
        elif kind != 0:
            raise _Malformed("bad PNG predictor row")
        out += row
        previous = row
    return bytes(out)


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
    if distances[0] <= distances[1] and distances[0] <= distances[2]:
        return left
    return up if distances[1] <= distances[2] else up_left


def _count_pdf(doc: _Doc, lines_per_page: int) -> _Estimate:
    """The page tree root's /Count through the cross-reference chain; for damaged files, a
    repair scan (inexact)."""
    reader = _PdfReader(doc)
    try:
        return _Estimate(reader.count_from_xref(), True)
    except _Malformed:
        return _PdfReader(doc).count_by_scan()


# --------------------------------------------------------------------------------------------
# Dispatch

_Counter = Callable[[_Doc, int], _Estimate]

_COUNTERS: Final[dict[str, _Counter]] = {
    DocumentFormat.PDF: _count_pdf,
    DocumentFormat.POSTSCRIPT: _count_postscript,
    DocumentFormat.PCL: _count_pcl,
    DocumentFormat.PCLXL: _count_pclxl,
    DocumentFormat.PWG_RASTER: _count_pwg,
    DocumentFormat.URF: _count_urf,
    DocumentFormat.JPEG: _count_single_image,
    DocumentFormat.PNG: _count_single_image,
    DocumentFormat.TIFF: _count_tiff,
    DocumentFormat.TEXT: _count_text,
}

# Names clients send for the same formats.
_ALIASES: Final[dict[str, str]] = {
    "application/x-pdf": DocumentFormat.PDF,
    "application/x-postscript": DocumentFormat.POSTSCRIPT,
    "application/vnd.hp-pcl5": DocumentFormat.PCL,
    "application/x-pcl": DocumentFormat.PCL,
    "image/jpg": DocumentFormat.JPEG,
    "image/pjpeg": DocumentFormat.JPEG,
    "image/x-tiff": DocumentFormat.TIFF,
}


def _choose_format(mime: str | None, head: bytes) -> str:
    if mime is not None:
        name = mime.split(";", 1)[0].strip().lower()
        name = _ALIASES.get(name, name)
        if name in _COUNTERS:
            return DocumentFormat(name).value
    # None, octet-stream, or a type we cannot count: look at the bytes.
    return sniff_format(head)


def count_pages(path: Path, mime: str | None = None, *, lines_per_page: int = 60) -> PageCount:
    """Pages of one copy of the document at `path`.

    `mime` None or application/octet-stream (or a type without a counter) -> sniff first.
    Never raises on bad, garbage or truncated input: returns the best estimate (at least 1
    page for a non-empty document whose count is not exact, 0 for an empty file). Reads in
    chunks, so multi-GB files are counted with a few MB resident. Raises OSError only if the
    file cannot be opened.
    """
    with Path(path).open("rb") as file:
        head = file.read(_HEAD_SIZE)
        fmt = _choose_format(mime, head)
        if not head:
            return PageCount(fmt, 0, True)
        size = max(os.fstat(file.fileno()).st_size, len(head))
        doc = _Doc(file, size, head, parse_pjl_header(head).end)
        counter = _COUNTERS.get(fmt, _count_unknown)
        try:
            estimate = counter(doc, max(1, lines_per_page))
        except (_Malformed, OSError, ValueError, struct.error, zlib.error):
            estimate = _Estimate(1, False)
    pages = max(0, estimate.pages)
    if not estimate.exact:
        pages = max(1, pages)
    return PageCount(fmt, pages, estimate.exact)
