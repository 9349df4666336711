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
needs it or ahead of time with `python -m app.pdf.fontcache` (app.pdf.fontcache). Any other character the face has is
converted from the font file when a PDF first needs it, and kept in memory only: what reports
contain never reaches the disk, and the cache's content does not depend on them.
"""

from __future__ import annotations

import copy
import logging
import threading
import weakref
from array import array
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import FontDescriptorFlags, TextEmphasis
from fpdf.fonts import PDFFontDescriptor, SubsetMap, TTFFont

from app.pdf.cff import cff_program, charstring

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
                outline = self._converted[gid] = charstring(glyphs, names[gid], self.scale)
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
