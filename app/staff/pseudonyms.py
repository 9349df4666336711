"""Pseudonyms compared as people read them, so an exclusion cannot be dodged.

A reporter who writes "peer b", "Peer-B" or "PeerB" means "Peer B"; a pseudonym with a Cyrillic
"а" in "Ana", or a zero-width space inside, must not slip past her exclusion of "Ana". Both
sides are reduced to a key: compatibility forms folded (NFKC), case and accents dropped,
anything but letters and digits dropped (spaces, punctuation, invisible and direction marks),
and letters that look like Latin ones (Cyrillic, Greek...) read as those. New pseudonyms are
refused when they hide characters, mix scripts, or share a key with another person's.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from confusable_homoglyphs import confusables


def pseudonym_key(text: str) -> str:
    """What ``text`` reads as: two pseudonyms with the same key are one to a reader."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(_looks_like(ch) for ch in decomposed if unicodedata.category(ch)[0] in "LN")


@lru_cache(maxsize=4096)
def _looks_like(ch: str) -> str:
    if ch.isascii():
        return ch
    found = confusables.is_confusable(ch, preferred_aliases=["latin"])
    for glyph in found[0]["homoglyphs"] if found else ():
        if glyph["c"].isascii() and glyph["c"].isalnum():
            return glyph["c"].casefold()
    return ch


def pseudonym_problem(text: str) -> str | None:
    """Why ``text`` cannot be a pseudonym, or None."""
    if any(unicodedata.category(ch)[0] == "C" or (ch.isspace() and ch != " ") for ch in text):
        return "A pseudonym may not hold invisible or control characters."
    if not pseudonym_key(text):
        return "A pseudonym needs at least one letter or digit."
    letters = "".join(ch for ch in text if ch.isalpha())
    if confusables.is_mixed_script(letters):
        return "Write a pseudonym in one alphabet: mixed alphabets look like other names."
    return None
