"""Reading a narrative: which concepts it speaks of, and whether each is now, past or denied.

A concept found in the text is not yet a signal. "He has a knife" and "he had a knife two years
ago, he is in prison now" both name a weapon; only the first is a danger now. Each concept found
gets a time frame from the words around it:

- the nearest time word in the same clause decides (``now`` and ``present``: "right now",
  "tonight", "he is"; ``recent``: "yesterday"; ``past``: "years ago", "in 2019"; ``resolved``:
  "he is in jail", "never came back"); a verb's tense ("was", Korean 었) counts only for states
  that end (being near, hiding, being held);
- a clause without one takes the distant past from the clauses before it in its sentence ("Two
  years ago, he came with a knife"), but never from another sentence, which may tell of
  something else ("I came here last year. The owner took my passport.");
- a ``resolved`` clause closes what its sentence told before it without a time word of its
  own ("He threatened to kill me, but he moved away").

A concept is denied when a negation comes just before it in the same clause ("he did not have a
knife", "没有刀") or, in Korean, just after it ("칼은 없었어요"). Words listed under ``ignore``
hide any word inside them ("칼퇴" is leaving work on time, not a knife). "If" and "every night"
make what follows not this one time.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import NamedTuple

from app.triage.concepts import (
    FRAME_WORDS,
    NOW,
    PAIRS,
    PAST,
    PRESENT,
    RECENT,
    RESOLVED,
    ROLES,
    TENSE,
    TENSE_SENSITIVE,
    check_concepts,
)
from app.triage.lexicon import Hit, Lexicon, fold, is_dense, syllable_counter

# Clauses end at punctuation, and at the words listed under ``clause_break`` ("but", "但是").
_PUNCTUATION = re.compile(r"[.!?;:\n。！？；：…,、]")
_SENTENCE_ENDS = frozenset(".!?\n。！？…")
# Characters read of a narrative: more than twice the longest the report form takes, and a
# bound on the time a hostile post (a quarter-megabyte of one phrase) can take.
READ_AT_MOST = 50_000
NEGATION_WORDS = 3  # a negation at most this many words before a Latin-script word denies it
NEGATION_CHARS = 2  # ... and this many characters in Chinese and Korean
NEGATION_AFTER_CHARS = 3


class Found(NamedTuple):
    """A concept as the narrative speaks of it."""

    concept: str
    frame: str  # present, recent, past or resolved
    negated: bool = False
    hypothetical: bool = False
    conditional: bool = False
    # The frame came from a time word in the concept's own clause, not from before.
    marked: bool = False
    # Its sentence says "now" ("right now", "en este momento", 现在, 지금).
    said_now: bool = False


class Reading:
    """What a narrative speaks of, and how: the questions triage asks of it."""

    def __init__(self, found: Iterable[Found] = (), *, looks_back: bool = False) -> None:
        self.found = tuple(found)
        # The narrative places something in the past or closes it ("years ago", "in jail").
        self.looks_back = looks_back
        self._live: set[str] = set()
        self._now: set[str] = set()
        self._steady: set[str] = set()
        self._marked: set[str] = set()
        self._said_now: set[str] = set()
        for f in self.found:
            if f.negated:
                continue
            if f.frame in (PRESENT, RECENT):
                self._live.add(f.concept)
            if f.frame == PRESENT and not f.hypothetical:
                self._now.add(f.concept)
                if not f.conditional:
                    self._steady.add(f.concept)
                if f.marked or f.said_now:
                    self._marked.add(f.concept)
                if f.said_now:
                    self._said_now.add(f.concept)

    def live(self, *concepts: str) -> bool:
        """Any of ``concepts`` is happening now or happened lately, and is not denied."""
        return not self._live.isdisjoint(concepts)

    def now(self, *concepts: str) -> bool:
        """Any of ``concepts`` is happening at the time of writing, not denied or supposed."""
        return not self._now.isdisjoint(concepts)

    def now_unconditional(self, concept: str) -> bool:
        """``concept`` holds now, and not only until something is done ("until I pay")."""
        return concept in self._steady

    def said_to_be_now(self, concept: str, *, in_so_many_words: bool = False) -> bool:
        """``concept`` happens now by a time word of its own clause ("tonight", "he is") or a
        "now" in its sentence; with ``in_so_many_words``, by that "now" ("right now", 现在)."""
        return concept in (self._said_now if in_so_many_words else self._marked)

    def concepts(self) -> dict[str, str]:
        """Each concept found, with how it reads: live, or only past, resolved or denied."""
        summary: dict[str, str] = {}
        rank = {"live": 0, PAST: 1, RESOLVED: 2, "negated": 3}
        for f in self.found:
            how = "negated" if f.negated else "live" if f.frame in (PRESENT, RECENT) else f.frame
            if f.concept not in summary or rank[how] < rank[summary[f.concept]]:
                summary[f.concept] = how
        return summary


class Reader:
    """Reads narratives with a lexicon built once from ``words[concept][language]``.

    A year before ``this_year`` ("in 2019", "2019년에", "2019年") is a word of the distant past."""

    def __init__(self, words: Mapping[str, Mapping[str, Iterable[str]]], *, this_year: int | None = None) -> None:
        check_concepts(words)
        self.this_year = this_year or date.today().year
        # Subject words are looked up only between a negation and what it may deny.
        self.subjects = frozenset(fold(word) for phrases in words.get("subject", {}).values() for word in phrases)
        self.lexicon = Lexicon(
            {concept: by_language for concept, by_language in words.items() if concept != "subject"},
            ROLES,
        )

    def read(self, narrative: str, *, long_ago: bool = False) -> Reading:
        """What ``narrative`` speaks of; ``long_ago``: the reporter said it happened long ago,
        so only a time word of the present makes something current."""
        if not narrative.strip():
            return Reading()
        text = fold(narrative[:READ_AT_MOST])
        hits = self.lexicon.find(text)
        years = _past_years(text, self.this_year)
        if years:
            hits["times"] = sorted([*hits.get("times", ()), *years])
        words = _Words(text, hits, self.subjects)

        # The frame a clause inherits from the clauses before it in its sentence: "Two years
        # ago, he came with a knife" puts the knife in the past, "I came here last year. The
        # owner took my passport." leaves the passport now. After "yesterday" the story is back
        # in the present; the reporter's "long ago" holds wherever no time word says otherwise.
        initial = PAST if long_ago else PRESENT
        changes: dict[int, tuple[list[int], list[str]]] = {}  # sentence: clauses, new frames
        for number, last in words.last_time_word_by_clause():
            frame = FRAME_WORDS[last.concept]
            at, to = changes.setdefault(words.sentence(number), ([], []))
            at.append(number)
            to.append(PAST if frame == RESOLVED else PRESENT if frame == RECENT else frame)
        # Clauses that close what came before them in their sentence ("..., but he is in
        # prison now"); a closing sentence of its own may be about someone else.
        closing: dict[int, list[int]] = {}
        for hit in words.times:
            if hit.concept == RESOLVED:
                number = words.clause(hit.start)
                closing.setdefault(words.sentence(number), []).append(number)

        found: dict[Hit, Found] = {}
        now_sentences = set()  # sentences that say "now" ("Now I'm at the bus stop, he is ...")
        for hit in words.times:
            if hit.concept == NOW:
                found[hit] = Found(NOW, PRESENT, marked=True)
                now_sentences.add(words.sentence(words.clause(hit.start)))
        clauses: dict[int, _Clause] = {}
        for hit in words.content:
            number = words.clause(hit.start)
            part = clauses.get(number) or clauses.setdefault(number, _Clause(words, number))
            own = _nearest(hit, part.tenses if hit.concept in TENSE_SENSITIVE else part.times)
            sentence = words.sentence(number)
            if own is not None:
                frame = RECENT if own.concept == TENSE else FRAME_WORDS[own.concept]
            else:
                at, to = changes.get(sentence, _UNCHANGED)
                index = bisect.bisect_left(at, number)
                frame = to[index - 1] if index else initial
            if (own is None or frame == RECENT) and frame in (PRESENT, RECENT):
                # "He threatened to kill me, but he is in prison now."
                later = closing.get(sentence, ())
                if bisect.bisect_right(later, number) < len(later):
                    frame = RESOLVED
            found[hit] = Found(
                hit.concept,
                frame,
                part.denies(hit),
                part.supposed(hit),
                part.conditional,
                own is not None,
                sentence in now_sentences,
            )
        looks_back = any(FRAME_WORDS[h.concept] in (PAST, RESOLVED) for h in words.times)
        pairs = _pairs(found, words.clause, words.count)
        return Reading((*found.values(), *pairs), looks_back=looks_back)


# A sentence whose clauses keep the frame they inherit.
_UNCHANGED: tuple[list[int], list[str]] = ([], [])


def _end(hit: Hit) -> int:
    return hit.end


class _Sorted(list[Hit]):
    """Words in text order, with range queries on where they start."""

    def __init__(self, hits: Iterable[Hit] = ()) -> None:
        super().__init__(hits)
        self.starts = [hit.start for hit in self]

    def within(self, low: int, high: int) -> list[Hit]:
        return self[bisect.bisect_left(self.starts, low) : bisect.bisect_left(self.starts, high)]


class _Words:
    """The words of a narrative sorted by what they do, and its clauses."""

    def __init__(self, text: str, found: dict[str, list[Hit]], subjects: frozenset[str]) -> None:
        self.text = text
        self.subjects = subjects
        self.count = syllable_counter(text)
        if "ignore" in found or "not_negation" in found:
            found = _without_ignored(found)
        self.content = [hit for role, hits in found.items() if role not in _NOT_CONTENT for hit in hits]
        self.content.sort()
        self.times = _Sorted(found.get("times", ()))
        self.modifiers = _Sorted(found.get("modifiers", ()))
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


class _Clause:
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

    def __init__(self, words: _Words, number: int) -> None:
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


def _past_years(text: str, this_year: int) -> list[Hit]:
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


def _distance(a: Hit, b: Hit, count: Count) -> int:
    """Characters between two words (a Korean syllable counting as one), 0 if they overlap."""
    start, end = min(a.end, b.end), max(a.start, b.start)
    return count(start, end) if end > start else 0


def _nearest(hit: Hit, markers: list[Hit]) -> Hit | None:
    """The marker closest to ``hit`` (``markers`` in text order); ties go to the one before
    ("he is outside, was")."""
    if len(markers) < 2:
        return markers[0] if markers else None
    # Only the few markers around the word's place can be the closest.
    at = bisect.bisect_left(markers, (hit.start,))
    near = markers[max(0, at - 3) : at + 3]
    return min(near, key=lambda m: (max(0, m.start - hit.end, hit.start - m.end), m.start > hit.start))


def _pairs(found: dict[Hit, Found], clause: Callable[[int], int], count: Count) -> list[Found]:
    """Concepts that two words make together in one clause ("took" ... "my phone"), once for
    each first word."""
    made = []
    by_concept: dict[str, list[Hit]] = {}
    for hit in found:
        by_concept.setdefault(hit.concept, []).append(hit)
    for name, (firsts, seconds, within) in PAIRS.items():
        lefts = [hit for concept in firsts for hit in by_concept.get(concept, ())]
        if not lefts:
            continue
        rights = sorted(hit for concept in seconds for hit in by_concept.get(concept, ()))
        starts = [hit.start for hit in rights]
        for a in lefts:
            # Only second words starting near the first can be within reach (no word is
            # longer than a hundred characters).
            nearby = rights[
                bisect.bisect_left(starts, a.start - within - 100) : bisect.bisect_right(starts, a.end + within)
            ]
            for b in nearby:
                if clause(a.start) == clause(b.start) and _distance(a, b, count) <= within:
                    made.append(found[a]._replace(concept=name, negated=found[a].negated or found[b].negated))
                    break
    return made
