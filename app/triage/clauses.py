"""A narrative's structure for app.triage.reading: its words sorted by what they do, its
sentences and clauses, and within a clause the time words, negations and conditions near a
concept. Every question is a search in a sorted list, so a long narrative stays fast.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable

from app.triage.concepts import PAST, ROLES, TENSE
from app.triage.lexicon import Hit, is_dense, syllable_counter

# Clauses end at punctuation, and at the words listed under ``clause_break`` ("but", "但是").
_PUNCTUATION = re.compile(r"[.!?;:\n。！？；：…,、]")
_SENTENCE_ENDS = frozenset(".!?\n。！？…")
NEGATION_WORDS = 3  # a negation at most this many words before a Latin-script word denies it
NEGATION_CHARS = 2  # ... and this many characters in Chinese and Korean
NEGATION_AFTER_CHARS = 3


def _end(hit: Hit) -> int:
    return hit.end


class Sorted(list[Hit]):
    """Words in text order, with range queries on where they start."""

    def __init__(self, hits: Iterable[Hit] = ()) -> None:
        super().__init__(hits)
        self.starts = [hit.start for hit in self]

    def within(self, low: int, high: int) -> list[Hit]:
        return self[bisect.bisect_left(self.starts, low) : bisect.bisect_left(self.starts, high)]


class Words:
    """The words of a narrative sorted by what they do, and its clauses."""

    def __init__(self, text: str, found: dict[str, list[Hit]], subjects: frozenset[str]) -> None:
        self.text = text
        self.subjects = subjects
        self.count = syllable_counter(text)
        if "ignore" in found or "not_negation" in found:
            found = _without_ignored(found)
        self.content = [hit for role, hits in found.items() if role not in _NOT_CONTENT for hit in hits]
        self.content.sort()
        self.times = Sorted(found.get("times", ()))
        self.modifiers = Sorted(found.get("modifiers", ()))
        self.breaks = sorted(
            [m.start() for m in _PUNCTUATION.finditer(text)] + [h.start for h in found.get("breaks", ())]
        )
        # Sentences end at some of the clauses' ends (breaks hold those of every clause).
        self.sentence_ends = [at for at in self.breaks if text[at] in _SENTENCE_ENDS]

    def clause(self, position: int) -> int:
        return bisect.bisect_right(self.breaks, position)

    def sentence(self, clause: int) -> int:
        """The sentence a clause belongs to (sentences end at . ! ? and new lines)."""
        start = self.breaks[clause - 1] if clause else 0
        return bisect.bisect_right(self.sentence_ends, start)

    def last_time_word_by_clause(self) -> list[tuple[int, Hit]]:
        """For each clause with time words, its number and the last of them."""
        last: dict[int, Hit] = {}
        for hit in self.times:
            number = self.clause(hit.start)
            if number not in last or hit.end >= last[number].end:
                last[number] = hit
        return sorted(last.items())


_NOT_CONTENT = set(ROLES.values())


class Clause:
    """What one clause holds besides its concepts: time words, negations, "if", "until".

    Every question asked of it is a search in a sorted list, so a clause of thousands of
    words (a pasted document, or a hostile post) is read in time proportional to its size."""

    __slots__ = (
        "words",
        "times",
        "tenses",
        "negations",
        "negation_ends",
        "negations_after",
        "negation_after_starts",
        "first_supposing",
        "habitual",
        "conditional",
    )

    def __init__(self, words: Words, number: int) -> None:
        breaks = words.breaks
        low = breaks[number - 1] if number else 0
        high = breaks[number] if number < len(breaks) else len(words.text)
        self.words = words
        self.times = self.tenses = words.times.within(low, high)
        self.negations: list[Hit] = []
        self.negations_after: list[Hit] = []
        self.first_supposing = high  # where the first "if" ends: what follows is supposed
        self.habitual = self.conditional = False
        tenses = []
        for hit in words.modifiers.within(low, high):
            concept = hit.concept
            if concept == TENSE:
                tenses.append(hit)
            elif concept == "negation":
                self.negations.append(hit)
            elif concept == "negation_after":
                self.negations_after.append(hit)
            elif concept == "hypothetical":
                self.first_supposing = min(self.first_supposing, hit.end)
            elif concept == "habitual":
                self.habitual = True
            elif concept == "condition":
                self.conditional = True
        if tenses:
            self.tenses = sorted(self.times + tenses)
        if len(self.negations) > 1:
            self.negations.sort(key=_end)
        self.negation_ends = [n.end for n in self.negations] if self.negations else []
        self.negation_after_starts = [n.start for n in self.negations_after] if self.negations_after else []

    def supposed(self, hit: Hit) -> bool:
        """Told as habit ("every night") or after an "if": not happening this one time."""
        return self.habitual or self.first_supposing <= hit.start

    def denies(self, hit: Hit) -> bool:
        """A negation just before ``hit`` ("no knife", "没有刀"), or just after it in Korean
        ("칼은 없었어요"); not one followed by "he" or "I" ("no, he is at the door")."""
        if not self.negation_ends and not self.negation_after_starts:
            return False
        text, count = self.words.text, self.words.count
        # The nearest negation ending before the word: any earlier one is farther, or behind it.
        at = bisect.bisect_right(self.negation_ends, hit.start)
        if at:
            negation = self.negations[at - 1]
            between = text[negation.end : hit.start]
            if not self.words.subjects.intersection(between.split()):
                if is_dense(text[hit.start]) or is_dense(text[negation.start]):
                    if count(negation.end, hit.start) - between.count(" ") <= NEGATION_CHARS:
                        return True
                elif between.count(" ") <= NEGATION_WORDS:
                    return True
        at = bisect.bisect_left(self.negation_after_starts, hit.end)
        return at < len(self.negations_after) and (
            count(hit.end, self.negation_after_starts[at]) <= NEGATION_AFTER_CHARS
        )


_YEAR = re.compile(r"(?:19[5-9]|20[0-9])[0-9]")  # digits around it are checked after: faster


def past_years(text: str, this_year: int) -> list[Hit]:
    """The years before this one in ``text``, as words of the distant past."""
    if "19" not in text and "20" not in text:
        return []
    return [
        Hit(m.start(), m.end(), PAST)
        for m in _YEAR.finditer(text)
        if int(m.group()) < this_year
        and not text[m.start() - 1 : m.start()].isdigit()
        and not text[m.end() : m.end() + 1].isdigit()
    ]


def _without_ignored(found: dict[str, list[Hit]]) -> dict[str, list[Hit]]:
    """Drops words inside an ``ignore`` word ("칼퇴" is no knife), and negations inside a
    ``not_negation`` word (Portuguese "no spa" denies nothing)."""
    ignored, exceptions = found.get("ignore", ()), found.get("not_negation", ())
    kept = {}
    for role, hits in found.items():
        if role in ("ignore", "not_negation"):
            continue
        dropped = {
            hit
            for spans, only in ((ignored, None), (exceptions if role == "modifiers" else (), "negation"))
            for span in spans
            # The words starting inside the span (hits are in text order), if they end in it.
            for hit in hits[bisect.bisect_left(hits, (span.start,)) : bisect.bisect_left(hits, (span.end,))]
            if hit.end <= span.end and only in (None, hit.concept)
        }
        kept[role] = [hit for hit in hits if hit not in dropped] if dropped else hits
    return kept


Count = Callable[[int, int], int]


def distance(a: Hit, b: Hit, count: Count) -> int:
    """Characters between two words (a Korean syllable counting as one), 0 if they overlap."""
    start, end = min(a.end, b.end), max(a.start, b.start)
    return count(start, end) if end > start else 0


def nearest(hit: Hit, markers: list[Hit]) -> Hit | None:
    """The marker closest to ``hit`` (``markers`` in text order); ties go to the one before
    ("he is outside, was")."""
    if len(markers) < 2:
        return markers[0] if markers else None
    # Only the few markers around the word's place can be the closest.
    at = bisect.bisect_left(markers, (hit.start,))
    near = markers[max(0, at - 3) : at + 3]
    return min(near, key=lambda m: (max(0, m.start - hit.end, hit.start - m.end), m.start > hit.start))
