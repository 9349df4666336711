"""Fonts for the PDFs: DejaVu Sans, with Noto Sans CJK for the characters DejaVu lacks
(Chinese, Japanese, Korean). Each font is parsed once per process and attached to every PDF
without parsing it again; Latin text uses a small in-memory cut of DejaVu ("core") that is
cheap to subset again for every PDF, and the larger fonts are embedded only in PDFs whose text
needs them.
"""

from __future__ import annotations

import copy
import io
import logging
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

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
# Latin (Western and Central European, Vietnamese), typographic punctuation, €, ™ and U+FFFD,
# which stands in for what no font can show.
CORE_RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x2C6, 0x2DD), (0x1EA0, 0x1EF9), (0x2010, 0x2027),
               (0x2030, 0x203A), (0x20AC, 0x20AC), (0x2122, 0x2122), (0xFFFD, 0xFFFD))
# Tables fpdf2 drops when it embeds a font. Gone beforehand, they cannot slow it down.
UNUSED_TABLES = ("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "BASE", "kern", "hdmx", "VORG", "vhea", "vmtx")
REPLACEMENT = "\ufffd"


class FontMissing(RuntimeError):
    """A font the PDF needs is not installed."""


def font_file(name: str, package: str) -> Path:
    for folder in FONT_DIRS[package]:
        if (path := Path(folder, name)).is_file():
            return path
    raise FontMissing(f"Font {name} not found in {', '.join(FONT_DIRS[package])}: "
                      f"install the Debian package {package}.")


@dataclass(frozen=True)
class Face:
    """A font read once per process: its bytes, and its metrics parsed by fpdf2 (`template`)."""

    family: str
    data: bytes
    template: TTFFont


# fpdf2 internals: the two functions below, and nothing else, rely on fpdf2 2.8's TTFFont
# (constructor, slots), SubsetMap and `FPDF.fonts`.

def _face(family: str, font: TTFont) -> Face:
    buffer = io.BytesIO()
    with font:
        for tag in UNUSED_TABLES:
            if tag in font:
                del font[tag]
        font.save(buffer, reorderTables=False)
    data = buffer.getvalue()
    template = TTFFont(FPDF(), io.BytesIO(data), family, "")  # type: ignore[arg-type]
    del template.ttfont  # all it is needed for is in its cmap and widths; this frees 30 MB for CJK
    return Face(family, data, template)


def attach(pdf: FPDF, face: Face) -> None:
    """Register ``face`` in ``pdf`` without parsing the font again, as FPDF.add_font would for
    every PDF (17 ms for DejaVu, 150 ms for Noto CJK).

    The parsed metrics (cmap, widths, glyph ids) are shared and only read. The rest is the PDF's
    own: output() subsets `font.ttfont` in place and fills in `font.desc`, so each PDF gets a
    newly opened (lazy) TTFont, a copy of the descriptor, and a subset map of its own.
    """
    font = TTFFont.__new__(TTFFont)
    for slot in TTFFont.__slots__:
        if hasattr(face.template, slot):  # some are never set (unicode_range)
            setattr(font, slot, getattr(face.template, slot))
    font.i = len(pdf.fonts) + 1
    # recalcBBoxes=False: glyphs are copied as they are instead of decoded and encoded again.
    font.ttfont = TTFont(io.BytesIO(face.data), lazy=True, recalcTimestamp=False, recalcBBoxes=False)
    font.desc = copy.copy(face.template.desc)
    font.subset = SubsetMap(font)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    pdf.fonts[font.fontkey] = font
    if font.is_cff and font.is_cid_keyed:
        pdf._set_min_pdf_version("1.6")  # as FPDF.add_font does for CID-keyed OpenType fonts


@cache
def core_face() -> Face:
    """DejaVu Sans cut down to CORE_RANGES: each PDF subsets its fonts again, in a time that
    grows with the font (about 4 ms for this one, 18 ms for the whole of DejaVu)."""
    font = TTFont(font_file("DejaVuSans.ttf", "fonts-dejavu-core"), lazy=True, recalcTimestamp=False)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True,
                               hinting=False, layout_features=[], name_IDs=["*"])
    options.drop_tables += UNUSED_TABLES
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=[c for first, last in CORE_RANGES for c in range(first, last + 1)])
    subsetter.subset(font)
    font["cmap"].tables = [t for t in font["cmap"].tables if (t.platformID, t.platEncID) == (3, 1)]
    return _face("dejavucore", font)


@cache
def _full_face() -> Face:
    path = font_file("DejaVuSans.ttf", "fonts-dejavu-core")
    return _face("dejavu", TTFont(path, lazy=True, recalcTimestamp=False))


@cache
def _cjk_face(number: int) -> Face:
    """Face ``number`` of the Noto Sans CJK collection. Every face has every Han and Hangul
    character; they differ in the regional forms of Han characters."""
    path = font_file("NotoSansCJK-Regular.ttc", "fonts-noto-cjk")
    return _face(f"notocjk{number}", TTFont(path, fontNumber=number, lazy=True, recalcTimestamp=False))


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
    """Read the fonts now (about 0.5 s with one CJK face) so that no packet waits for them:
    call it before a worker forks, or its jobs read them again every time."""
    core_face()
    _full_face()
    for number in cjk:
        _cjk_face(number)


class FontSet:
    """Which face draws each character, its width per point of size, and whether a line may
    break beside it (as between Chinese characters). One per CJK face, shared by all renders."""

    def __init__(self, cjk: int) -> None:
        self.cjk = cjk
        self.glyphs: dict[str, tuple[int, float, bool]] = {}
        self.cleaner = Cleaner(self)

    def face(self, tier: int) -> Face:
        return core_face() if tier == 0 else _full_face() if tier == 1 else _cjk_face(self.cjk)

    def tier(self, char: str) -> int | None:
        return next((tier for tier in range(3) if ord(char) in self.face(tier).template.cmap), None)

    def glyph(self, char: str) -> tuple[int, float, bool]:
        known = self.glyphs.get(char)
        if known is None:
            tier = self.tier(char)
            assert tier is not None, "text is cleaned before it is measured"
            wide = unicodedata.east_asian_width(char) in "WF"
            known = self.glyphs[char] = (tier, self.face(tier).template.cw[ord(char)] / 1000, wide)
        return known


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
