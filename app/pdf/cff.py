"""CID-keyed CFF font programs, written here for the glyphs a PDF uses (app.pdf.fonts).

fpdf2 would embed a whole TrueType subset per PDF; a bare CFF program of just the glyphs drawn,
each a Type 2 charstring made once from the font's outlines, is smaller and quicker to write.
"""

from __future__ import annotations

import struct
from typing import Any

from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.transformPen import TransformPen


def charstring(glyphs: Any, name: str, scale: float) -> bytes:
    """Glyph ``name`` as a Type 2 charstring of its own: components and subroutines drawn in
    place, no hints, no width (the PDF's /W array gives widths), scaled to 1000 units."""
    pen = T2CharStringPen(None, glyphs)
    glyphs[name].draw(pen if scale == 1 else TransformPen(pen, (scale, 0, 0, scale, 0, 0)))
    program = pen.getCharString()
    program.compile()
    return bytes(program.bytecode)


def _int(value: int) -> bytes:
    """An integer operand of a CFF DICT, in its shortest form."""
    if -107 <= value <= 107:
        return bytes((value + 139,))
    if 108 <= value <= 1131:
        return bytes(((value - 108 >> 8) + 247, value - 108 & 0xFF))
    if -1131 <= value <= -108:
        return bytes(((-value - 108 >> 8) + 251, -value - 108 & 0xFF))
    if -32768 <= value <= 32767:
        return b"\x1c" + struct.pack(">h", value)
    return _offset(value)


def _offset(value: int) -> bytes:
    """A 32-bit operand. Offsets always take this form: a DICT's size does not depend on them."""
    return b"\x1d" + struct.pack(">i", value)


def _index(items: list[bytes]) -> bytes:
    """A CFF INDEX: count, offset size, offsets (from 1), data."""
    if not items:
        return b"\x00\x00"
    offsets, end = [1], 1
    for item in items:
        end += len(item)
        offsets.append(end)
    size = 1 if end < 1 << 8 else 2 if end < 1 << 16 else 3 if end < 1 << 24 else 4
    packed = b"".join(offset.to_bytes(size, "big") for offset in offsets)
    return struct.pack(">HB", len(items), size) + packed + b"".join(items)


def cff_program(name: str, bbox: tuple[int, int, int, int], glyphs: list[tuple[int, bytes]]) -> bytes:
    """A bare CID-keyed CFF font program (a PDF's FontFile3, subtype CIDFontType0C), ordering
    Adobe-Identity-0, with one font DICT, no subroutines and ``glyphs``: (CID, charstring)
    pairs by ascending CID, the first being CID 0 (.notdef)."""
    if not glyphs or glyphs[0][0] != 0:
        raise ValueError("a CID font program starts with CID 0, .notdef")
    private = _int(0) + b"\x14" + _int(0) + b"\x15"  # defaultWidthX, nominalWidthX
    strings = _index([b"Adobe", b"Identity"])  # SIDs 391 and 392, after the 391 standard strings
    charset = b"\x00" + b"".join(struct.pack(">H", cid) for cid, _ in glyphs[1:])  # format 0: a CID per glyph
    fd_select = struct.pack(">BHHBH", 3, 1, 0, 0, len(glyphs))  # format 3: one range, all in font DICT 0
    charstrings = _index([program for _, program in glyphs])

    def top(charset_at: int, fd_select_at: int, charstrings_at: int, fd_array_at: int) -> bytes:
        return b"".join(
            (
                _int(391),
                _int(392),
                _int(0),
                b"\x0c\x1e",  # ROS, which must come first
                _int(glyphs[-1][0] + 1),
                b"\x0c\x22",  # CIDCount
                *map(_int, bbox),
                b"\x05",  # FontBBox
                _offset(charset_at),
                b"\x0f",
                _offset(fd_select_at),
                b"\x0c\x25",
                _offset(charstrings_at),
                b"\x11",
                _offset(fd_array_at),
                b"\x0c\x24",
            )
        )

    head = b"\x01\x00\x04\x04" + _index([name.encode("ascii", "replace")[:127]])
    charset_at = len(head) + len(_index([top(0, 0, 0, 0)])) + len(strings) + len(_index([]))
    fd_select_at = charset_at + len(charset)
    charstrings_at = fd_select_at + len(fd_select)
    fd_array_at = charstrings_at + len(charstrings)
    private_at = fd_array_at + len(_index([_offset(0) + _offset(0) + b"\x12"]))
    fd_array = _index([_offset(len(private)) + _offset(private_at) + b"\x12"])  # Private: size, offset
    return b"".join(
        (
            head,
            _index([top(charset_at, fd_select_at, charstrings_at, fd_array_at)]),
            strings,
            _index([]),
            charset,
            fd_select,
            charstrings,
            fd_array,
            private,
        )
    )
