"""Fonts for the PDFs: DejaVu Sans, with Noto Sans CJK for the characters DejaVu lacks
(Chinese, Japanese, Korean).

fpdf2 would embed a font by subsetting the whole font file with fontTools for every PDF: a few
milliseconds for a cut of DejaVu, 150-550 ms for a Noto CJK face, whose CFF charstrings it
interprets and compiles again each time. Here each face is prepared once instead (`Face`):

* its metrics: the characters it has, their glyphs and widths, the PDF font descriptor;
* its outlines: each glyph as a self-contained Type 2 charstring (subroutines inlined, hints
  left out, scaled to 1000 units per em).

A PDF then embeds, for each face it uses, a CID-keyed CFF font program put together from the
outlines of just the glyphs it shows, in a fraction of a millisecond (`attach`, `_Program`).

Converting an outline takes about 0.7 ms, so each face's metrics, and the outlines of the
characters its text commonly needs (`Source.common`), are kept in a cache file (CACHE_DIR, one
per face) that is read in milliseconds. It is rebuilt, never trusted, when it is damaged or when
the font file (its size or mtime), fontTools or FORMAT changed: once per machine and face, in
under a second for DejaVu and 5-15 s for a CJK face (7,000-17,000 glyphs), when a PDF first
needs it or ahead of time with `python -m app.fonts`. Any other character the face has is
converted from the font file when a PDF first needs it, and kept in memory only: what reports
contain never reaches the disk, and the cache's content does not depend on them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import struct
import sys
import tempfile
import threading
import unicodedata
import weakref
from array import array
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

import fontTools
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.transformPen import TransformPen
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import FontDescriptorFlags, TextEmphasis
from fpdf.fonts import PDFFontDescriptor, SubsetMap, TTFFont

LOG = logging.getLogger(__name__)
# fontTools logs every glyph name it keeps at INFO: which characters a report contains.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

# Debian's folders first, then Fedora's and Arch's.
FONT_DIRS = {
    "fonts-dejavu-core": (
        "/usr/share/fonts/truetype/dejavu",
        "/usr/share/fonts/dejavu-sans-fonts",
        "/usr/share/fonts/TTF",
    ),
    "fonts-noto-cjk": (
        "/usr/share/fonts/opentype/noto",
        "/usr/share/fonts/google-noto-sans-cjk-fonts",
        "/usr/share/fonts/noto-cjk",
    ),
}
# The app's own folder (git-ignored); CONFIDE_FONT_CACHE names another.
CACHE_DIR = Path(
    os.environ.get("CONFIDE_FONT_CACHE") or Path(__file__).resolve().parent.parent / "instance" / "font-cache"
)
# Raise it whenever what the cache files hold changes (their layout, or what _build and
# _charstring make): files of another format are then left alone, and rebuilt under a new name.
FORMAT = 1
REPLACEMENT = "\ufffd"

# DejaVu's common characters: Latin (Western and Central European, Vietnamese), Greek, Cyrillic,
# typographic punctuation, €, ™ and U+FFFD, which stands in for what no font can show.
LATIN_GREEK_CYRILLIC = (
    (0x20, 0x7E),
    (0xA0, 0x24F),
    (0x2C6, 0x2DD),
    (0x370, 0x3FF),
    (0x400, 0x4FF),
    (0x1EA0, 0x1EF9),
    (0x2010, 0x2027),
    (0x2030, 0x203A),
    (0x20AC, 0x20AC),
    (0x2122, 0x2122),
    (0xFFFD, 0xFFFD),
)
# A Noto Sans CJK face's common characters: those of its region's legacy character set (euc_kr
# has every Hangul syllable, through its composition sequences).
CJK_CHARSETS = {0: "shift_jis", 1: "euc_kr", 2: "gb2312", 3: "big5", 4: "big5hkscs"}


class FontMissing(RuntimeError):
    """A font the PDF needs is not installed."""


def font_file(name: str, package: str) -> Path:
    for folder in FONT_DIRS[package]:
        if (path := Path(folder, name)).is_file():
            return path
    raise FontMissing(
        f"Font {name} not found in {', '.join(FONT_DIRS[package])}: install the Debian package {package}."
    )


@dataclass(frozen=True)
class Source:
    """Where a face comes from, and which of its characters the cache holds outlines for: those
    in ``ranges`` (first, last) and those ``charset`` (a Python codec) can encode."""

    family: str  # its name in the PDF's resources, lower case (fpdf2's font key)
    file: str
    package: str
    number: int = 0  # the face in a font collection
    ranges: tuple[tuple[int, int], ...] = ()
    charset: str = ""

    def common(self) -> set[int]:
        codes = {code for first, last in self.ranges for code in range(first, last + 1)}
        if self.charset:
            for code in range(0x20, 0x10000):  # ASCII too: fpdf2 puts the space in every font
                if not 0xD800 <= code < 0xE000:
                    try:
                        chr(code).encode(self.charset)
                    except UnicodeEncodeError:
                        continue
                    codes.add(code)
        return codes


DEJAVU = Source("dejavu", "DejaVuSans.ttf", "fonts-dejavu-core", ranges=LATIN_GREEK_CYRILLIC)


def cjk_source(number: int) -> Source:
    """Face ``number`` of the Noto Sans CJK collection. Every face has every Han and Hangul
    character; they differ in the regional forms of Han characters."""
    return Source(f"notocjk{number}", "NotoSansCJK-Regular.ttc", "fonts-noto-cjk", number, charset=CJK_CHARSETS[number])


# ------------------------------------------------------------------------------ outlines


def _charstring(glyphs: Any, name: str, scale: float) -> bytes:
    """Glyph ``name`` as a Type 2 charstring of its own: components and subroutines drawn in
    place, no hints, no width (the PDF's /W array gives widths), scaled to 1000 units."""
    pen = T2CharStringPen(None, glyphs)
    glyphs[name].draw(pen if scale == 1 else TransformPen(pen, (scale, 0, 0, scale, 0, 0)))
    charstring = pen.getCharString()
    charstring.compile()
    return bytes(charstring.bytecode)


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
    charstrings = _index([charstring for _, charstring in glyphs])

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


# ------------------------------------------------------------------------------ faces


class Face:
    """A face ready to embed: its metrics parsed by fpdf2's rules (`template`, shared and only
    read) and the outlines of its glyphs, from the cache or converted when first needed."""

    def __init__(
        self,
        source: Source,
        path: Path,
        metrics: dict[str, Any],
        unicodes: array[int],
        gids: array[int],
        widths: array[int],
        offsets: array[int],
        outlines: bytes,
    ) -> None:
        self.source, self.path, self.family = source, path, source.family
        self.metrics, self.scale = metrics, 1000 / metrics["units_per_em"]
        x0, y0, x1, y1 = metrics["bbox"]
        self.bbox: tuple[int, int, int, int] = (x0, y0, x1, y1)
        self._offsets, self._outlines = offsets, outlines
        self._converted: dict[int, bytes] = {}
        self._glyphs: Any = None  # the font file's glyph set, opened when first needed
        self._lock = threading.Lock()
        self.template = self._template(unicodes, gids, widths)

    def _template(self, unicodes: array[int], gids: array[int], widths: array[int]) -> TTFFont:
        """What fpdf2's TTFFont(...) would make of the font file, without reading it. Glyphs are
        named cid<glyph id>: fpdf2 takes the number in such a name for the glyph's CID."""
        m, scale = self.metrics, self.scale
        font = TTFFont.__new__(TTFFont)
        font.i, font.type, font.ttffile, font.fontkey = 0, "TTF", self.path, self.family
        font.name, font.up, font.ut, font.sp, font.ss = m["name"], m["up"], m["ut"], m["sp"], m["ss"]
        font.desc = PDFFontDescriptor(
            ascent=m["ascent"],
            descent=m["descent"],
            cap_height=m["cap_height"],
            flags=FontDescriptorFlags(m["flags"]),
            font_b_box=m["font_b_box"],
            italic_angle=m["italic_angle"],
            stem_v=m["stem_v"],
            missing_width=m["missing_width"],
        )
        default = m["missing_width"]
        font.cw = defaultdict(lambda: default, zip(unicodes, widths, strict=True))
        font.glyph_ids = dict(zip(unicodes, gids, strict=True))
        font.cmap = _Names(font.glyph_ids)  # type: ignore[assignment]  # a mapping, as fpdf2 reads it
        font.scale, font.emphasis = scale, TextEmphasis.coerce("")
        font.subset, font.ttfont, font.missing_glyphs, font.biggest_size_pt = None, None, [], 0  # type: ignore[assignment]
        font._hbfont, font.color_font, font.palette_index = None, None, 0
        font.is_compressed, font.is_cff, font.is_cid_keyed, font.is_symbol = False, True, True, False
        font.cff_ros, font.collection_font_number = ("Adobe", "Identity", 0), self.source.number
        return font

    def outline(self, gid: int) -> bytes:
        start, end = self._offsets[gid], self._offsets[gid + 1]
        if start != end:
            return self._outlines[start:end]
        with self._lock:  # threads may render PDFs at once
            outline = self._converted.get(gid)
            if outline is None:
                if self._glyphs is None:
                    font = TTFont(self.path, fontNumber=self.source.number, lazy=True, recalcTimestamp=False)
                    weakref.finalize(self, font.close)  # it reads the file as it goes: kept open
                    self._glyphs = (font.getGlyphOrder(), font.getGlyphSet())
                names, glyphs = self._glyphs
                outline = self._converted[gid] = _charstring(glyphs, names[gid], self.scale)
        return outline

    def program(self, cids: set[int]) -> bytes:
        """The CFF font program of these glyphs (and .notdef)."""
        glyphs = [(cid, self.outline(cid)) for cid in sorted(cids | {0})]
        return cff_program(self.metrics["name"], self.bbox, glyphs)


class _Names(Mapping[int, str]):
    """fpdf2's cmap (character to glyph name), named on demand from the glyph ids."""

    def __init__(self, ids: dict[int, int]) -> None:
        self.ids = ids

    def __getitem__(self, code: int) -> str:
        return f"cid{self.ids[code]}"

    def __contains__(self, code: object) -> bool:
        return code in self.ids

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


class _Program(TTFont):
    """What fpdf2 subsets and saves for a face in one PDF, standing in for the font file.

    It has no tables, only a glyph order: that of the glyphs the PDF uses, which fpdf2's
    fontTools Subsetter keeps as they are (with no table, it has nothing else to do). save()
    writes the CFF font program of those glyphs, which fpdf2 embeds as it does that of any
    CID-keyed CFF font, with an encoding CMap from its codes to the CIDs in the glyph names."""

    def __init__(self, face: Face, font: TTFFont) -> None:
        super().__init__(recalcTimestamp=False, recalcBBoxes=False)
        self.face, self.font = face, font

    def getGlyphOrder(self) -> list[str]:
        if not hasattr(self, "glyphOrder"):
            names = {glyph.glyph_name: None for glyph, _ in self.font.subset.items() if glyph is not None}
            names.pop(".notdef", None)
            self.glyphOrder = [".notdef", *names]
        return self.glyphOrder

    def save(self, file: IO[bytes], reorderTables: bool | None = True) -> None:
        cids = {int(name[3:]) for name in self.getGlyphOrder() if name.startswith("cid")}
        file.write(self.face.program(cids))


# fpdf2 internals: Face._template, _Program and attach(), and nothing else, rely on fpdf2
# 2.8's TTFFont (slots), SubsetMap, `FPDF.fonts` and the way its output subsets and saves a
# font (fpdf/output.py, _add_fonts: what it does with a CID-keyed CFF font's `ttfont`).


def attach(pdf: FPDF, face: Face) -> None:
    """Register ``face`` in ``pdf`` without reading any font file, as FPDF.add_font would (and
    would then subset the whole font when the PDF is output).

    The metrics (cmap, widths, glyph ids) are shared and only read. The rest is the PDF's own:
    output() fills in `font.desc` and "subsets" `font.ttfont`, so each PDF gets a copy of the
    descriptor, a program of its own and a subset map of its own.
    """
    font = TTFFont.__new__(TTFFont)
    for slot in TTFFont.__slots__:
        if hasattr(face.template, slot):  # some are never set (unicode_range)
            setattr(font, slot, getattr(face.template, slot))
    font.i = len(pdf.fonts) + 1
    font.ttfont = _Program(face, font)
    font.desc = copy.copy(face.template.desc)
    font.subset = SubsetMap(font)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    pdf.fonts[font.fontkey] = font
    pdf._set_min_pdf_version("1.6")  # as FPDF.add_font does for CID-keyed CFF fonts


# ------------------------------------------------------------------------------ the cache

MAGIC = b"CONFIDE\x01"


def _key(source: Source, path: Path) -> dict[str, Any]:
    """What a cache file must have been built from to be used."""
    stat = path.stat()
    return {
        "format": FORMAT,
        "fonttools": fontTools.version,
        "file": str(path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "number": source.number,
        "ranges": [list(r) for r in source.ranges],
        "charset": source.charset,
        "arrays": [sys.byteorder, array("H").itemsize, array("I").itemsize],
    }


def _advance(width: int) -> int:
    return 0 if width == 65535 else width  # as fpdf2 reads it


def _build(source: Source, path: Path) -> tuple[dict[str, Any], array[int], array[int], array[int], array[int], bytes]:
    """Read the font file: its metrics (as fpdf2 computes them) and its common outlines."""
    font = TTFont(path, fontNumber=source.number, lazy=True, recalcTimestamp=False)
    with font:
        cmap, ids, order = font.getBestCmap(), font.getReverseGlyphMap(), font.getGlyphOrder()
        head, hhea, os2, post = font["head"], font["hhea"], font["OS/2"], font["post"]
        hmtx = font["hmtx"].metrics
        scale, box = 1000 / head.unitsPerEm, (head.xMin, head.yMin, head.xMax, head.yMax)
        flags = FontDescriptorFlags.SYMBOLIC
        if post.isFixedPitch:
            flags |= FontDescriptorFlags.FIXED_PITCH
        if post.italicAngle != 0:
            flags |= FontDescriptorFlags.ITALIC
        if os2.usWeightClass >= 600:
            flags |= FontDescriptorFlags.FORCE_BOLD
        metrics = {
            "units_per_em": head.unitsPerEm,
            "name": re.sub("[ ()]", "", font["name"].getBestFullName()),
            "ascent": round(hhea.ascent * scale),
            "descent": round(hhea.descent * scale),
            "cap_height": round(getattr(os2, "sCapHeight", hhea.ascent) * scale),
            "flags": flags.value,
            "font_b_box": "[{:.0f} {:.0f} {:.0f} {:.0f}]".format(*(v * scale for v in box)),
            "bbox": [round(v * scale) for v in box],
            "italic_angle": int(post.italicAngle),
            "stem_v": round(50 + int(pow((os2.usWeightClass / 65), 2))),
            "missing_width": round(scale * hmtx[order[0]][0]),
            "up": round(post.underlinePosition * scale),
            "ut": round(post.underlineThickness * scale),
            "sp": round(os2.yStrikeoutPosition * scale),
            "ss": round(os2.yStrikeoutSize * scale),
        }
        unicodes = array("I", sorted(cmap))
        gids = array("H", (ids[cmap[code]] for code in unicodes))
        # Widths in thousandths of an em, rounded as fpdf2 rounds them.
        widths = array("H", (round(scale * _advance(hmtx[cmap[code]][0]) + 0.001) for code in unicodes))
        glyphs = font.getGlyphSet()
        wanted = {0} | {ids[cmap[code]] for code in source.common() if code in cmap}
        offsets, parts, end = array("I", [0]), [], 0
        for gid, name in enumerate(order):
            if gid in wanted:
                parts.append(_charstring(glyphs, name, scale))
                end += len(parts[-1])
            offsets.append(end)
    return metrics, unicodes, gids, widths, offsets, b"".join(parts)


def _pack(key: dict[str, Any], metrics: dict[str, Any], *arrays: array[int], outlines: bytes) -> bytes:
    meta = json.dumps({"key": key, "metrics": metrics, "lengths": [len(a) for a in arrays]}).encode()
    body = b"".join((struct.pack("<I", len(meta)), meta, *(a.tobytes() for a in arrays), outlines))
    return MAGIC + hashlib.sha256(body).digest() + body


def _unpack(
    data: bytes, key: dict[str, Any]
) -> tuple[dict[str, Any], array[int], array[int], array[int], array[int], bytes] | None:
    """The cache file's content, or None if it is damaged or not built from ``key``."""
    body = memoryview(data)[len(MAGIC) + 32 :]
    if data[: len(MAGIC)] != MAGIC or hashlib.sha256(body).digest() != data[len(MAGIC) : len(MAGIC) + 32]:
        return None
    try:
        (size,) = struct.unpack_from("<I", body)
        meta = json.loads(bytes(body[4 : 4 + size]))
        if meta["key"] != key:
            return None
        at, arrays = 4 + size, []
        for typecode, length in zip("IHHI", meta["lengths"], strict=True):
            part = array(typecode)
            part.frombytes(body[at : at + length * part.itemsize])
            arrays.append(part)
            at += length * part.itemsize
        unicodes, gids, widths, offsets = arrays
        outlines = bytes(body[at:])
        if not (
            len(unicodes) == len(gids) == len(widths)
            and offsets[-1] == len(outlines)
            and max(gids, default=0) < len(offsets) - 1
        ):
            return None
        return meta["metrics"], unicodes, gids, widths, offsets, outlines
    except (ValueError, KeyError, IndexError, TypeError, struct.error):
        return None


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old file or the new one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def load_face(source: Source) -> Face:
    """The face, from its cache file if that is sound and up to date, else from the font
    file (the cache file is then written anew, if the folder can be written)."""
    path = font_file(source.file, source.package)
    key, cached = _key(source, path), CACHE_DIR / f"{source.family}.v{FORMAT}.bin"
    try:
        parts = _unpack(cached.read_bytes(), key)
    except OSError:
        parts = None
    if parts is None:
        LOG.info("Preparing the font %s for PDFs, once per machine: it is kept in %s", source.family, CACHE_DIR)
        parts = _build(source, path)
        metrics, unicodes, gids, widths, offsets, outlines = parts
        try:
            _write(cached, _pack(key, metrics, unicodes, gids, widths, offsets, outlines=outlines))
        except OSError as error:
            LOG.warning("Could not write the font cache %s: %s", cached, error)
    metrics, unicodes, gids, widths, offsets, outlines = parts
    return Face(source, path, metrics, unicodes, gids, widths, offsets, outlines)


@cache
def dejavu_face() -> Face:
    return load_face(DEJAVU)


@cache
def cjk_face(number: int) -> Face:
    return load_face(cjk_source(number))


def cjk_number(language: str) -> int:
    """The Noto Sans CJK face for a BCP 47 language: JP 0, KR 1, SC 2 (default), TC 3, HK 4."""
    parts = language.lower().replace("_", "-").split("-")
    chinese = parts[0] in ("zh", "yue")
    if parts[0] == "ja":
        return 0
    if parts[0] == "ko":
        return 1
    if chinese and ("hk" in parts or "mo" in parts):
        return 4
    if chinese and ("hant" in parts or "tw" in parts):
        return 3
    return 2


def preload_fonts(cjk: tuple[int, ...] = (2,)) -> None:
    """Read the fonts now (some 20-60 ms from the cache) so that no packet waits for them: call
    it before a worker forks, or its jobs read them again every time."""
    dejavu_face()
    for number in cjk:
        cjk_face(number)


class FontSet:
    """Which face draws each character (tier 0 DejaVu, 1 the CJK face), its width per point of
    size, whether a line may break beside it (as between Chinese characters), and whether it is
    neutral: a space, punctuation or symbol, which the CJK face draws too when it follows CJK
    text and has it (one run of text in one face, rather than a run per word of Korean). One
    per CJK face, shared by all renders."""

    def __init__(self, cjk: int) -> None:
        self.cjk = cjk
        self.glyphs: dict[str, tuple[int, float, bool, bool]] = {}
        self.cjk_widths: dict[str, float] = {}  # of neutral characters; -1 if the CJK face lacks them
        self.cleaner = Cleaner(self)

    def face(self, tier: int) -> Face:
        return dejavu_face() if tier == 0 else cjk_face(self.cjk)

    def tier(self, char: str) -> int | None:
        return next((tier for tier in range(2) if ord(char) in self.face(tier).template.glyph_ids), None)

    def glyph(self, char: str) -> tuple[int, float, bool, bool]:
        known = self.glyphs.get(char)
        if known is None:
            tier = self.tier(char)
            if tier is None:
                raise ValueError(f"U+{ord(char):04X} is in no face: text is cleaned before it is measured")
            wide = unicodedata.east_asian_width(char) in "WF"
            neutral = tier == 0 and unicodedata.category(char)[0] in "PSZ"
            known = self.glyphs[char] = (tier, self.face(tier).template.cw[ord(char)] / 1000, wide, neutral)
        return known

    def cjk_width(self, char: str) -> float:
        """A neutral character's width in the CJK face, -1 if that face lacks it."""
        width = self.cjk_widths.get(char)
        if width is None:
            template = self.face(1).template
            width = template.cw[ord(char)] / 1000 if ord(char) in template.glyph_ids else -1.0
            self.cjk_widths[char] = width
        return width


@cache
def font_set(cjk: int) -> FontSet:
    return FontSet(cjk)


class Cleaner(dict[int, str | None]):
    """A `str.translate` table that keeps what a font can show and drops or replaces the rest:
    control and format characters, lone surrogates, emoji and unassigned code points."""

    def __init__(self, fonts: FontSet) -> None:
        super().__init__()
        self.fonts = fonts

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        if char in "\n\r\x0b\x0c\x85\u2028\u2029":
            return "\n"
        if char == "\t":
            return " "
        category = unicodedata.category(char)
        if category in ("Cc", "Cf"):
            return None
        if category != "Cs" and self.fonts.tier(char) is not None:
            self[code] = char  # only what can be shown is remembered, so this stays small
            return char
        return None if category.startswith("M") else REPLACEMENT


def main() -> None:
    """`python -m app.fonts [face numbers]`: build the cache files ahead of time (all CJK faces
    by default), so that no PDF waits for them."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    numbers = [int(n) for n in sys.argv[1:]] or sorted(CJK_CHARSETS)
    preload_fonts(tuple(numbers))


if __name__ == "__main__":
    main()
