"""Finding what a narrative speaks of, in every supported language at once.

A lexicon maps concepts (a weapon, being locked in, a passport held...) to words and phrases in
any number of languages. Text and words are folded the same way, then every word of every
language is found in one pass (Aho–Corasick), whatever language the form was in: people mix
languages.

Folding: compatibility forms (full-width ｋｎｉｆｅ, half-width ｶﾀｶﾅ) become ordinary ones; case and
accents go; apostrophes go ("won't" = "wont"); every word is also known with its doubled
letters typed once ("pasport", "kil"), and a letter held down counts once ("kniiife", "nowww");
hyphens inside words go ("matar-me" = "matarme"). Latin-script words
match whole words only; a word ending in ``*`` also matches longer words it begins
("threaten*" finds "threatened"). Chinese, Japanese and Korean have no spaces between words, so
their words match anywhere, and spaces between their characters are ignored ("못 나가게" =
"못나가게"); a space between two Chinese characters stands for a comma. Korean syllables are
split into their letters (jamo), because endings fuse into the syllable before them: "두" is
the start of "둔" (가만 안 두 → 가만 안 둔다), "죽이" of "죽인다".
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import ahocorasick

_APOSTROPHES = re.compile("['\u2018\u2019\u02bc\u0060\u00b4\uff07]")
# Scripts written without spaces between words: Han, kana, Hangul (syllables and jamo).
DENSE = "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_DENSE_RE = re.compile(f"[{DENSE}]")
# (Spaces are single by then; starting at the space lets the search skip ahead to each one.)
_SPACE_BETWEEN_DENSE = re.compile(f" (?<=[{DENSE}] )(?=[{DENSE}])")
# Chinese written without punctuation uses spaces for it; Korean puts spaces between words.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_BETWEEN_HAN = re.compile(f" (?<=[{HAN}] )(?=[{HAN}])")
_REPEATS = re.compile(r"([a-z])\1+")
_ELONGATED = re.compile(r"([a-z])\1\1")
_INNER_HYPHEN = re.compile(r"[-\u2010\u2011](?<=[a-z].)(?=[a-z])")
_MARKS = re.compile("[\u0300-\u036f]")
# Vowels and final consonants of a split Korean syllable: they add no length of their own.
_JAMO_TAIL = re.compile("[\u1160-\u11ff]")


def fold(text: str) -> str:
    """Text as the lexicon reads it (see the module's docstring)."""
    if text.isascii():
        text = text.replace("'", "").replace("`", "").lower()
    else:
        # Compatibility decomposition folds full-width forms, splits accents from their
        # letters and Korean syllables into their letters, in one step.
        text = _MARKS.sub("", unicodedata.normalize("NFKD", _APOSTROPHES.sub("", text)).casefold())
    if "-" in text or "\u2010" in text or "\u2011" in text:
        text = _INNER_HYPHEN.sub("", text)
    if _ELONGATED.search(text):
        text = _REPEATS.sub(r"\1", text)  # every Latin word is also known with single letters
    text = " ".join(text.split())
    if not text.isascii() and _DENSE_RE.search(text):
        text = _SPACE_BETWEEN_HAN.sub(",", text)
        text = _SPACE_BETWEEN_DENSE.sub("", text)
    return text


def syllable_counter(folded: str) -> Callable[[int, int], int]:
    """Counts characters of ``folded`` between two positions, a split Korean syllable as one."""
    if folded.isascii() or not _JAMO_TAIL.search(folded):
        return lambda start, end: end - start
    return lambda start, end: end - start - len(_JAMO_TAIL.findall(folded, start, end))


def is_dense(text: str) -> bool:
    """Whether ``text`` begins in a script written without spaces between words."""
    return bool(text) and _DENSE_RE.match(text) is not None


class Hit(NamedTuple):
    """One word of ``concept`` found at ``start:end`` in the folded text (in text order when
    sorted)."""

    start: int
    end: int
    concept: str


class Lexicon:
    """Every word of every concept, compiled once into three automatons: one for Latin-script
    words, matched in a view of the text where anything but a letter or digit is a space (so
    a word is found whole, between spaces), one for Korean (in its letters, jamo), one for
    Chinese and Japanese (spelt in bytes, see :func:`han_view`)."""

    def __init__(
        self, words: Mapping[str, Mapping[str, Iterable[str]]], roles: Mapping[str, str] | None = None
    ) -> None:
        """``words[concept][language]`` lists the words and phrases of a concept; ``roles``
        sorts concepts into the lists :meth:`find` returns (a concept not named is its own)."""
        roles = roles or {}
        latin: dict[str, set[tuple[str, str]]] = {}
        jamo: dict[str, set[tuple[str, str]]] = {}
        han: dict[str, set[tuple[str, str]]] = {}
        for concept, by_language in words.items():
            tagged = (roles.get(concept, concept), concept)
            for phrases in by_language.values():
                for phrase in phrases:
                    open_end = phrase.rstrip().endswith("*")
                    key = fold(phrase.strip().rstrip("*").strip())
                    if not key:
                        continue
                    if is_dense(key):
                        (han if _HAN_OR_KANA.search(key) else jamo).setdefault(key, set()).add(tagged)
                        continue
                    # A letter typed once for twice is a common slip ("pasport", "kil").
                    for variant in {key, _REPEATS.sub(r"\1", key)}:
                        padded = " " + latin_view(variant) + ("" if open_end else " ")
                        latin.setdefault(padded, set()).add(tagged)
        self.size = len(latin) + len(jamo) + len(han)
        self._latin = _automaton(latin)
        self._jamo = _automaton(jamo, view=str)
        self._han = _automaton(han, view=han_view)

    def find(self, folded: str) -> dict[str, list[Hit]]:
        """Every word found in ``folded`` (text already passed through :func:`fold`), in lists
        by role, each in text order."""
        found: defaultdict[str, list[Hit]] = defaultdict(list)
        new = tuple.__new__  # a Hit without the cost of its constructor: this runs per word
        if self._latin is not None:
            view = " " + latin_view(folded) + " "
            for last, (back, length, tags) in self._latin.iter(view):
                start = last - back - 1  # the view has one more character at the front
                end = start + length
                for role, concept in tags:
                    found[role].append(new(Hit, (start, end, concept)))
        if not folded.isascii():
            dense: tuple[tuple[Any, Callable[[str], str], re.Pattern[str]], ...] = (
                (self._jamo, str, _JAMO),
                (self._han, han_view, _HAN_OR_KANA),
            )
            for automaton, view_of, script in dense:
                if automaton is None or not script.search(folded):
                    continue
                step = 2 if view_of is han_view else 1  # positions in the view per character
                # Only the stretches holding Chinese or Korean: the automaton is slow over others.
                for stretch in _DENSE_STRETCH.finditer(folded):
                    offset = stretch.start()
                    for last, (back, length, tags) in automaton.iter(view_of(stretch.group())):
                        start, odd = divmod(last - back, step)
                        if odd:
                            continue  # from the second byte of one character into the next
                        start += offset
                        end = start + length
                        for role, concept in tags:
                            found[role].append(new(Hit, (start, end, concept)))
        for hits in found.values():
            hits.sort()
        return found


_DENSE_STRETCH = re.compile(f"[^a-z\\s]*[{DENSE}][^a-z\\s]*")
_JAMO = re.compile("[\u1100-\u11ff]")
_HAN_OR_KANA = re.compile(f"[\u3040-\u30ff{HAN}]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ASCII_VIEW = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789" else 32 for c in range(256))


def latin_view(folded: str) -> str:
    """``folded`` with anything but a-z and 0-9 made a space, keeping every position."""
    # Each character outside ASCII becomes one "?", which the table makes a space.
    return folded.encode("ascii", "replace").translate(_ASCII_VIEW).decode("ascii")


def han_view(text: str) -> str:
    """``text`` with each character spelt as its two bytes in UTF-16 (a character beyond them,
    an emoji, as one that no word holds).

    The automaton looks for a character's next step among all the steps it knows there, one by
    one: at the start of a word, thousands of Chinese characters. Spelt in bytes, a step is one
    of at most 256, and a match starting on an odd byte is no match."""
    view = text.encode("utf-16-be")
    if len(view) != 2 * len(text):
        view = _ASTRAL.sub("\ufffd", text).encode("utf-16-be")
    return view.decode("latin-1")


def _automaton(
    keys: dict[str, set[tuple[str, str]]], *, view: Callable[[str], str] | None = None
) -> ahocorasick.Automaton | None:
    """The automaton of ``keys``, each spelt by ``view`` (none: a Latin key, padded)."""
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    for key, concepts in keys.items():
        # From the key's last position in the view back to the word's start, and the word's
        # length in the text (a padded key has a space before the word, and maybe after).
        if view is None:
            spelt, length, back = key, len(key.strip(" ")), len(key) - 2
        else:
            spelt = view(key)
            length, back = len(key), len(spelt) - 1
        automaton.add_word(spelt, (back, length, tuple(sorted(concepts))))  # (role, concept) pairs
    automaton.make_automaton()
    return automaton
