"""Typesetting PDFs that hold people's own words: the referral packet, the draft letter.

Lines are broken here, in one pass over the text, and drawn with `FPDF.text`, which takes the
writer's words literally, one call per run of characters in one face. Headings are made bold
by stroking the outlines, rather than with one more font to embed. Fonts: app/pdf/fonts.py.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from fpdf import FPDF

from app.pdf.fontcache import preload_fonts
from app.pdf.fonts import REPLACEMENT, FontMissing, attach, cjk_number
from app.pdf.fontset import FontSet, font_set

__all__ = ["FontMissing", "REPLACEMENT", "Writer", "preload_fonts", "start"]


# Chinese and Japanese lines may break between any two characters, but not before a closing
# mark or after an opening one (nor before the ASCII marks that Korean text uses).
NO_BREAK_BEFORE = frozenset("、。，．：；！？）」』】〕〉》〗〙〛’”ー…・々ゝゞっゃゅょァィゥェォッャュョ.,:;!?)]}")
NO_BREAK_AFTER = frozenset("（「『【〔〈《〖〘〚‘“([{")


def _wrap(text: str, width: float, size: float, fonts: FontSet) -> list[str]:
    """Greedy line breaking in one pass: at spaces, after - or /, between CJK characters, and
    anywhere in a word too long for a line. Widths are those of the face that draws each
    character: a neutral one (space, punctuation) takes the CJK face after CJK text (FontSet)."""
    known, glyph, cjk_widths, limit = fonts.glyphs, fonts.glyph, fonts.cjk_widths, width / size
    lines: list[str] = []
    for paragraph in text.split("\n"):
        start, x, breakpoint, x_at_break, previous, previous_wide, face = 0, 0.0, -1, 0.0, "", False, 0
        for i, char in enumerate(paragraph):
            tier, advance, wide, neutral = known.get(char) or glyph(char)
            if neutral and face:
                cjk = cjk_widths.get(char) or fonts.cjk_width(char)
                if cjk >= 0:
                    tier, advance = 1, cjk
            face = tier
            if char == " ":  # a space never starts a line: it hangs at the end of the last one
                x += advance
                breakpoint, x_at_break, previous, previous_wide = i + 1, x, char, False
                continue
            if i > start and (
                previous in "-/"
                or ((wide or previous_wide) and char not in NO_BREAK_BEFORE and previous not in NO_BREAK_AFTER)
            ):
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
        attach(pdf, fonts.face(0))
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
        pdf.set_font(self.fonts.face(0).family, "", 8)
        pdf.set_xy(RIGHT - 120, FOOTER)
        # {nb} is fpdf2's alias for the page count. Only cell() replaces it, and only this
        # cell uses cell(): the document's text goes through text(), which takes it literally.
        pdf.cell(w=120, h=8 * 1.3, text=f"Page {pdf.page_no()} of {{nb}}", align="R")
        self.y = y

    def draw(self, x: float, line: str, size: float, bold: bool = False, color: int = 0) -> None:
        """One line, its box's top at self.y, each run of characters in the face that draws them
        (as _wrap measured them)."""
        fonts, baseline = self.fonts, self.y + size * 1.02
        known, glyph, cjk_widths = fonts.glyphs, fonts.glyph, fonts.cjk_widths
        self.pdf.set_text_color(color)
        start, face, width = 0, 0, 0.0
        for i, char in enumerate(line):
            tier, advance, _, neutral = known.get(char) or glyph(char)
            if neutral and face:
                cjk = cjk_widths.get(char) or fonts.cjk_width(char)
                if cjk >= 0:
                    tier, advance = 1, cjk
            if tier != face and i > start:
                self.run(x, baseline, line[start:i], face, size, bold, color)
                x, start, width = x + width * size, i, 0.0
            face = tier
            width += advance
        if start < len(line):
            self.run(x, baseline, line[start:], face, size, bold, color)

    def run(self, x: float, baseline: float, text: str, tier: int, size: float, bold: bool, color: int) -> None:
        pdf, face = self.pdf, self.fonts.face(tier)
        if pdf.font_family != face.family or pdf.font_size_pt != size:
            if face.family not in pdf.fonts:
                attach(pdf, face)
            pdf.set_font(face.family, "", size)
        if bold:  # outlines stroked as well as filled, in a q/Q block that restores the state
            with pdf.local_context(text_mode="FILL_STROKE", line_width=size * 0.045, draw_color=color):
                pdf.text(x, baseline, text)
        else:
            pdf.text(x, baseline, text)

    def block(
        self,
        text: Any,
        x: float = LEFT,
        width: float = RIGHT - LEFT,
        size: float = 9.5,
        bold: bool = False,
        color: int = 0,
        leading: float = 1.4,
    ) -> None:
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
        self.row(
            (label, LEFT, LABEL - 8, False, GREY),
            (value if answered else "Not answered", LEFT + LABEL, RIGHT - LEFT - LABEL, False, 0 if answered else GREY),
        )

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
    return Writer(pdf, font_set(cjk_number(language)), footer)
