"""Typesetting PDFs that hold people's own words: the referral packet, the draft letter.

Text is set in DejaVu Sans, with Noto Sans CJK for the characters DejaVu lacks (Chinese,
Japanese, Korean). Rendering is fast because nothing is parsed twice in a process: each font
is read once, and Latin text uses a small in-memory cut of DejaVu ("core") that is cheap to
subset again for every PDF. The whole of DejaVu and the CJK font are embedded only in PDFs
whose text needs them. Headings are made bold by stroking the outlines: a second embedded font
would cost a third of the time. Lines are broken here, in one pass over the text, and drawn
with `FPDF.text`, which takes the writer's words literally.
"""

from __future__ import annotations

import copy
import io
import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

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


def _font_file(name: str, package: str) -> Path:
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


def _attach(pdf: FPDF, face: Face) -> None:
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
def _core_face() -> Face:
    """DejaVu Sans cut down to CORE_RANGES: each PDF subsets its fonts again, in a time that
    grows with the font (about 4 ms for this one, 18 ms for the whole of DejaVu)."""
    font = TTFont(_font_file("DejaVuSans.ttf", "fonts-dejavu-core"), lazy=True, recalcTimestamp=False)
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
    path = _font_file("DejaVuSans.ttf", "fonts-dejavu-core")
    return _face("dejavu", TTFont(path, lazy=True, recalcTimestamp=False))


@cache
def _cjk_face(number: int) -> Face:
    """Face ``number`` of the Noto Sans CJK collection. Every face has every Han and Hangul
    character; they differ in the regional forms of Han characters."""
    path = _font_file("NotoSansCJK-Regular.ttc", "fonts-noto-cjk")
    return _face(f"notocjk{number}", TTFont(path, fontNumber=number, lazy=True, recalcTimestamp=False))


def _cjk_number(language: str) -> int:
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
    _core_face()
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
        return _core_face() if tier == 0 else _full_face() if tier == 1 else _cjk_face(self.cjk)

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
def _font_set(cjk: int) -> FontSet:
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


# Chinese and Japanese lines may break between any two characters, but not before a closing
# mark or after an opening one.
NO_BREAK_BEFORE = frozenset("、。，．：；！？）」』】〕〉》〗〙〛’”ー…・々ゝゞっゃゅょァィゥェォッャュョ")
NO_BREAK_AFTER = frozenset("（「『【〔〈《〖〘〚‘“")


def _wrap(text: str, width: float, size: float, fonts: FontSet) -> list[str]:
    """Greedy line breaking in one pass: at spaces, after - or /, between CJK characters, and
    anywhere in a word too long for a line."""
    known, glyph, limit = fonts.glyphs, fonts.glyph, width / size
    lines: list[str] = []
    for paragraph in text.split("\n"):
        start, x, breakpoint, x_at_break, previous, previous_wide = 0, 0.0, -1, 0.0, "", False
        for i, char in enumerate(paragraph):
            _, advance, wide = known.get(char) or glyph(char)
            if char == " ":  # a space never starts a line: it hangs at the end of the last one
                x += advance
                breakpoint, x_at_break, previous, previous_wide = i + 1, x, char, False
                continue
            if i > start and (previous in "-/" or (
                (wide or previous_wide) and char not in NO_BREAK_BEFORE and previous not in NO_BREAK_AFTER
            )):
                breakpoint, x_at_break = i, x
            while x + advance > limit and i > start:
                if breakpoint > start:
                    lines.append(paragraph[start:breakpoint].rstrip(" "))
                    start, x = breakpoint, x - x_at_break
                else:  # nowhere to break: cut the word
                    lines.append(paragraph[start:i])
                    start, x = i, 0.0
            x += advance
            previous, previous_wide = char, wide
        lines.append(paragraph[start:].rstrip(" "))
    return lines


LEFT, RIGHT, TOP, BOTTOM, FOOTER = 54.0, 558.0, 54.0, 736.0, 752.0  # US Letter, in points
LABEL = 132.0  # width of the label column
GREY, RULE, SHADE = 90, 170, 244


class Writer:
    """Writes lines top to bottom, starting a new page (with its footer) when one is full."""

    def __init__(self, pdf: FPDF, fonts: FontSet, footer: str) -> None:
        self.pdf, self.fonts, self.y, self.replaced = pdf, fonts, TOP, False
        self.footer = self.lines(footer, 380, 8)[0]
        _attach(pdf, _core_face())
        pdf.add_page()

    def lines(self, text: Any, width: float, size: float) -> list[str]:
        raw = unicodedata.normalize("NFC", "" if text is None else str(text)).replace("\r\n", "\n")
        clean = raw.translate(self.fonts.cleaner)
        self.replaced = self.replaced or (REPLACEMENT in clean and REPLACEMENT not in raw)
        return _wrap(clean, width, size, self.fonts)

    def ensure(self, height: float) -> None:
        if self.y + height > BOTTOM and self.y > TOP:
            self.new_page()

    def new_page(self) -> None:
        self.finish_page()
        self.pdf.add_page()
        self.y = TOP

    def finish(self) -> bytes:
        """The last page's footer, then the PDF's bytes."""
        self.finish_page()
        return bytes(self.pdf.output())

    def finish_page(self) -> None:
        pdf, y, self.y = self.pdf, self.y, FOOTER
        pdf.set_draw_color(RULE)
        pdf.line(LEFT, FOOTER - 4, RIGHT, FOOTER - 4)
        self.draw(LEFT, self.footer, 8, color=GREY)
        pdf.set_font("dejavucore", "", 8)
        pdf.set_xy(RIGHT - 120, FOOTER)
        # {nb} is fpdf2's alias for the page count. Only cell() replaces it, and only this
        # cell uses cell(): the document's text goes through text(), which takes it literally.
        pdf.cell(w=120, h=8 * 1.3, text=f"Page {pdf.page_no()} of {{nb}}", align="R")
        self.y = y

    def draw(self, x: float, line: str, size: float, bold: bool = False, color: int = 0) -> None:
        """One line, its box's top at self.y, each run of characters in the face that has them."""
        pdf, known, glyph, baseline = self.pdf, self.fonts.glyphs, self.fonts.glyph, self.y + size * 1.02
        pdf.set_text_color(color)
        start, end = 0, len(line)
        while start < end:
            tier = (known.get(line[start]) or glyph(line[start]))[0]
            stop = start + 1
            while stop < end and (known.get(line[stop]) or glyph(line[stop]))[0] == tier:
                stop += 1
            face = self.fonts.face(tier)
            if face.family not in pdf.fonts:
                _attach(pdf, face)
            pdf.set_font(face.family, "", size)
            if bold:  # outlines stroked as well as filled, in a q/Q block that restores the state
                with pdf.local_context(text_mode="FILL_STROKE", line_width=size * 0.045, draw_color=color):
                    pdf.text(x, baseline, line[start:stop])
            else:
                pdf.text(x, baseline, line[start:stop])
            if stop < end:
                x += sum(known[char][1] for char in line[start:stop]) * size
            start = stop

    def block(self, text: Any, x: float = LEFT, width: float = RIGHT - LEFT, size: float = 9.5,
              bold: bool = False, color: int = 0, leading: float = 1.4) -> None:
        for line in self.lines(text, width, size):
            self.ensure(size * leading)
            self.draw(x, line, size, bold, color)
            self.y += size * leading

    def row(self, *cells: tuple[Any, float, float, bool, int], size: float = 9.5) -> None:
        """Columns of (text, x, width, bold, grey level), kept on one page if they fit."""
        wrapped = [(self.lines(text, width, size), x, bold, color) for text, x, width, bold, color in cells]
        count = max(len(lines) for lines, *_ in wrapped)
        self.ensure(min(count * size * 1.4, BOTTOM - TOP))
        for n in range(count):
            self.ensure(size * 1.4)
            for lines, x, bold, color in wrapped:
                if n < len(lines):
                    self.draw(x, lines[n], size, bold, color)
            self.y += size * 1.4
        self.y += 2

    def field(self, label: str, value: Any) -> None:
        answered = value not in (None, "", [])
        self.row((label, LEFT, LABEL - 8, False, GREY),
                 (value if answered else "Not answered", LEFT + LABEL, RIGHT - LEFT - LABEL, False,
                  0 if answered else GREY))

    def heading(self, title: str) -> None:
        self.ensure(10 + 12.5 * 1.35 + 6 + 3 * 9.5 * 1.4)  # not alone at the foot of a page
        self.y += 10
        self.draw(LEFT, title, 12.5, bold=True)
        self.y += 12.5 * 1.35
        self.pdf.set_draw_color(RULE)
        self.pdf.line(LEFT, self.y, RIGHT, self.y)
        self.y += 6

    def notice(self, title: str, text: Any) -> None:
        """A shaded, framed box: the first thing on the first page."""
        pad, size = 9.0, 9.5
        lines = self.lines(text, RIGHT - LEFT - 2 * pad, size)
        height = 2 * pad + 10 * 1.5 + len(lines) * size * 1.4
        self.pdf.set_fill_color(SHADE)
        self.pdf.set_draw_color(GREY)
        self.pdf.set_line_width(0.8)
        self.pdf.rect(LEFT, self.y, RIGHT - LEFT, min(height, BOTTOM - self.y), style="DF")
        self.pdf.set_line_width(0.4)
        self.y += pad
        self.draw(LEFT + pad, title, 10, bold=True)
        self.y += 10 * 1.5
        for line in lines:
            self.ensure(size * 1.4)
            self.draw(LEFT + pad, line, size)
            self.y += size * 1.4
        self.y += pad + 6


def start(title: str, footer: str, *, created: datetime, language: str, lang: str = "en") -> Writer:
    """A new US Letter PDF, ready to write. ``language`` is the BCP 47 tag of the text the
    PDF may hold (it picks the CJK face); ``created`` is recorded instead of the clock, so
    the same content always gives the same bytes."""
    pdf = FPDF(unit="pt", format="letter")
    pdf.set_auto_page_break(False)
    pdf.set_title(title)
    pdf.set_creator("Confide")
    pdf.set_lang(lang)
    pdf.set_creation_date(created)
    return Writer(pdf, _font_set(_cjk_number(language)), footer)
