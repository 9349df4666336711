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
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import NamedTuple

from app.triage.clauses import Clause, Count, Words, distance, nearest, past_years
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
from app.triage.lexicon import Hit, Lexicon, fold

# Characters read of a narrative: more than twice the longest the report form takes, and a
# bound on the time a hostile post (a quarter-megabyte of one phrase) can take.
READ_AT_MOST = 50_000


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
        years = past_years(text, self.this_year)
        if years:
            hits["times"] = sorted([*hits.get("times", ()), *years])
        words = Words(text, hits, self.subjects)

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
        clauses: dict[int, Clause] = {}
        for hit in words.content:
            number = words.clause(hit.start)
            part = clauses.get(number) or clauses.setdefault(number, Clause(words, number))
            own = nearest(hit, part.tenses if hit.concept in TENSE_SENSITIVE else part.times)
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
                if clause(a.start) == clause(b.start) and distance(a, b, count) <= within:
                    made.append(found[a]._replace(concept=name, negated=found[a].negated or found[b].negated))
                    break
    return made
