"""Which face draws each character of a packet, and how wide it is (app.pdf.typeset)."""

from __future__ import annotations

import unicodedata
from functools import cache

from app.pdf.fontcache import cjk_face, dejavu_face
from app.pdf.fonts import REPLACEMENT, Face


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
