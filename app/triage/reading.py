"""Reading a narrative: which concepts it speaks of, and whether each is now, past or denied.

A concept found in the text is not yet a signal. "He has a knife" and "he had a knife two years
ago, he is in prison now" both name a weapon; only the first is a danger now. Each concept found
gets a time frame from the words around it:

- the nearest time word in the same clause decides (``now`` and ``present``: "right now",
  "tonight", "he is"; ``recent``: "yesterday", "was"; ``past``: "years ago"; ``resolved``:
  "he is in jail", "never came back");
- a clause without one carries on the frame the text was in ("Two years ago, he came with a
  knife" puts the knife in the past);
- a ``resolved`` clause also closes what was told before it without a time word of its own
  ("He threatened to kill me but he moved away").

A concept is denied when a negation comes just before it in the same clause ("he did not have a
knife", "没有刀") or, in Korean, just after it ("칼은 없었어요"). Words listed under ``ignore``
hide any word they overlap ("칼퇴" is leaving work on time, not a knife).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from app.triage.lexicon import Hit, Lexicon, fold, is_dense, syllable_counter

NOW, PRESENT, RECENT, PAST, RESOLVED = "now", "present", "recent", "past", "resolved"
FRAME_WORDS = {NOW: PRESENT, PRESENT: PRESENT, RECENT: RECENT, PAST: PAST, RESOLVED: RESOLVED}
# A verb's tense ("was", "estaba", Korean 었) says when a state held: whether he *was* at the
# door, or *is*. It says little of other things ("he locked me in" still holds), so it frames
# only these concepts, and does not carry over to the next clause.
TENSE = "past_tense"
TENSE_SENSITIVE = {"presence", "attack", "hiding", "held_back", "help_now"}
MODIFIERS = (
    "negation",
    "negation_after",
    "not_negation",
    "clause_break",
    "subject",
    "hypothetical",
    "habitual",
    "condition",
    "ignore",
)

# What the configuration's lexicon may name, and what each concept means. Frame words and
# modifiers shape how the others are read; the rest are what triage weighs.
CONCEPTS = {
    "weapon": "a knife, gun or other weapon",
    "kill_threat": "a threat to kill, shoot or stab",
    "presence": "the person is here or near: at the door, outside, in the room, on the way",
    "confinement": "locked in, shut in, held, the door blocked",
    "held_back": "not allowed to leave (weaker alone: may be about a debt or a shift)",
    "hiding": "hiding from someone",
    "attack": "an attack going on as they write",
    "help_now": "a plea for help at once",
    "fear": "fear",
    "self_harm": "thoughts of suicide or self-harm",
    "injury": "bleeding, broken bones, hospital, bruises",
    "strangulation": "choking or strangling",
    "violence": "hitting, pushing, slapping",
    "sexual_violence": "rape, sexual assault, unwanted sexual touching",
    "threat": "threats, stalking, following",
    "passport": "a passport, visa, green card or work permit (held by someone else)",
    "papers": "papers, documents, ID (coercion when taken or kept: see keeping)",
    "belongings": "a phone, keys, shoes (coercion when taken or kept: see keeping)",
    "keeping": "taking or keeping someone's things",
    "debt": "a debt to the employer, an agency or for the journey",
    "living_at_work": "living or sleeping at work",
    "sleeping": "sleeping or living (at work when near a workplace word)",
    "workplace": "the spa, the shop, the massage table",
    "unpaid_work": "work without pay, wages or tips kept",
    "immigration_threat": "threats to report them to immigration or the police",
    NOW: "now, this very moment",
    PRESENT: "words of the present: today, tonight, still, he is",
    RECENT: "words of the recent past: yesterday, last week",
    TENSE: "verbs in a past tense: was, were, estaba, Korean 었/았 (see TENSE_SENSITIVE)",
    PAST: "words of the distant past: years ago, last year",
    RESOLVED: "words that close a matter: he is in jail, moved away, never came back",
    "negation": "not, never, no (before what it denies)",
    "negation_after": "a negation that follows what it denies (Korean)",
    "not_negation": "words holding a negation word that deny nothing (Portuguese \"no spa\")",
    "clause_break": "but, however, 但是, 하지만: a new clause begins",
    "subject": "he, she, I: a negation before one belongs to something else (\"no, he is here\")",
    "hypothetical": "if, someday: what follows is not happening",
    "habitual": "every night, always: what the clause tells is not this one time",
    "condition": "until, unless: leaving depends on something (a debt)",
    "ignore": "words that contain a signal word but mean something else",
    "soon": "tonight, today, when we close: when a threat is for",
    "arriving": "coming, on the way (presence when soon: \"coming tonight\")",
    "door_locked": "a door locked or padlocked (confinement when now, or with other signs)",
    "covert": "writing in secret: a hidden phone, from the bathroom",
    "alone": "alone: nobody else is there",
    "escape": "trying to escape",
}
# Pairs that mean a concept when near each other in one clause: (first, second, within chars).
PAIRS = {
    "documents_held": (("papers", "belongings"), ("keeping",), 60),
    "living_at_work": (("sleeping",), ("workplace",), 40),
    "presence": (("arriving",), ("soon",), 30),
}

# Clauses end at punctuation, and at the words listed under ``clause_break`` ("but", "但是").
_PUNCTUATION = re.compile(r"[.!?;:\n。！？；：…,、]")
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
    # Its clause says "now" ("right now", "en este momento", 现在, 지금).
    said_now: bool = False


class Reading:
    """What a narrative speaks of, and how: the questions triage asks of it."""

    def __init__(self, found: Iterable[Found] = (), *, looks_back: bool = False, resolved: bool = False) -> None:
        self.found = tuple(found)
        # The narrative places something in the past or closes it ("years ago", "in jail").
        self.looks_back = looks_back
        # ... and closes it.
        self.resolved = resolved
        self._live: set[str] = set()
        self._known: set[str] = set()
        self._now: set[str] = set()
        self._steady: set[str] = set()
        self._marked: set[str] = set()
        self._said_now: set[str] = set()
        for f in self.found:
            if f.negated:
                continue
            if f.frame != RESOLVED:
                self._known.add(f.concept)
            if f.frame in (PRESENT, RECENT):
                self._live.add(f.concept)
            if f.frame == PRESENT and not f.hypothetical:
                self._now.add(f.concept)
                if not f.conditional:
                    self._steady.add(f.concept)
                if f.marked:
                    self._marked.add(f.concept)
                if f.said_now:
                    self._said_now.add(f.concept)

    def live(self, *concepts: str) -> bool:
        """Any of ``concepts`` is happening now or happened lately, and is not denied."""
        return not self._live.isdisjoint(concepts)

    def known(self, *concepts: str) -> bool:
        """Any of ``concepts`` is told of, now or before, not denied and not a closed matter
        ("he showed me a gun once" still counts when he is at the door now)."""
        return not self._known.isdisjoint(concepts)

    def now(self, *concepts: str) -> bool:
        """Any of ``concepts`` is happening at the time of writing, not denied or supposed."""
        return not self._now.isdisjoint(concepts)

    def now_unconditional(self, concept: str) -> bool:
        """``concept`` holds now, and not only until something is done ("until I pay")."""
        return concept in self._steady

    def said_to_be_now(self, concept: str, *, in_so_many_words: bool = False) -> bool:
        """``concept`` happens now by a time word of its own clause ("tonight", "he is"); with
        ``in_so_many_words``, by "now" itself ("right now", "en este momento", 现在)."""
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


def check_concepts(names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(CONCEPTS))
    if unknown:
        raise ValueError(
            f"unknown triage concept {unknown[0]!r}; known: {', '.join(sorted(CONCEPTS))}"
        )


class Reader:
    """Reads narratives with a lexicon built once from ``words[concept][language]``."""

    def __init__(self, words: Mapping[str, Mapping[str, Iterable[str]]]) -> None:
        check_concepts(words)
        # Subject words are looked up only between a negation and what it may deny.
        self.subjects = frozenset(
            fold(word) for phrases in words.get("subject", {}).values() for word in phrases
        )
        self.lexicon = Lexicon({concept: by_language for concept, by_language in words.items() if concept != "subject"})

    def read(self, narrative: str, *, long_ago: bool = False) -> Reading:
        """What ``narrative`` speaks of; ``long_ago``: the reporter said it happened long ago,
        so only a time word of the present makes something current."""
        if not narrative.strip():
            return Reading()
        text = fold(narrative)
        words = _Words(text, _without_ignored(self.lexicon.find(text)), self.subjects)

        # The frame each clause inherits: only the distant past carries on ("Two years ago,
        # he came with a knife."); after "yesterday" a story soon comes back to the present.
        initial = PAST if long_ago else PRESENT
        changes: list[int] = []  # clauses after which the inherited frame changes
        frames: list[str] = []  # ... and what it changes to
        for number, last in words.last_time_word_by_clause():
            frame = FRAME_WORDS[last.concept]
            changes.append(number)
            frames.append(PAST if frame == RESOLVED else PRESENT if frame == RECENT else frame)
        # Clauses that close what came before ("he is in prison now").
        closing = [words.clause(h.start) for h in words.times if h.concept == RESOLVED]

        found: dict[Hit, Found] = {}
        for hit in words.now:
            found[hit] = Found(NOW, PRESENT, marked=True)
        clauses: dict[int, _Clause] = {}
        for hit in words.content:
            number = words.clause(hit.start)
            part = clauses.get(number) or clauses.setdefault(number, _Clause(words, number))
            own = _nearest(hit, part.tenses if hit.concept in TENSE_SENSITIVE else part.times)
            if own is not None:
                frame = RECENT if own.concept == TENSE else FRAME_WORDS[own.concept]
            else:
                at = bisect.bisect_left(changes, number)
                frame = frames[at - 1] if at else initial
            if (own is None or frame == RECENT) and frame in (PRESENT, RECENT):
                # What was told without a time of its own is over when a later clause closes
                # it: "He threatened to kill me, but he is in prison now."
                if bisect.bisect_right(closing, number) < len(closing):
                    frame = RESOLVED
            found[hit] = Found(
                concept=hit.concept,
                frame=frame,
                negated=part.denies(hit),
                hypothetical=part.habitual or any(end <= hit.start for end in part.supposing),
                conditional=part.conditional,
                marked=own is not None,
                said_now=part.said_now,
            )
        looks_back = any(FRAME_WORDS[h.concept] in (PAST, RESOLVED) for h in words.times)
        pairs = _pairs(found, words.clause, words.count)
        return Reading((*found.values(), *pairs), looks_back=looks_back, resolved=bool(closing))


class _Sorted(list[Hit]):
    """Words in text order, with range queries on where they start."""

    def __init__(self, hits: Iterable[Hit] = ()) -> None:
        super().__init__(hits)
        self.starts = [hit.start for hit in self]

    def within(self, low: int, high: int) -> list[Hit]:
        return self[bisect.bisect_left(self.starts, low) : bisect.bisect_left(self.starts, high)]


# Words that shape how others are read, each kept in a list of its own.
_ROLES = {TENSE, "negation", "negation_after", "hypothetical", "habitual", "condition", "clause_break"}


class _Words:
    """The words of a narrative sorted by what they do, and its clauses."""

    def __init__(self, text: str, hits: list[Hit], subjects: frozenset[str]) -> None:
        self.text = text
        self.subjects = subjects
        self.count = syllable_counter(text)
        roles: dict[str, list[Hit]] = {}
        for hit in hits:
            concept = hit.concept
            if concept in FRAME_WORDS:
                role = "times"
            elif concept in _ROLES:
                role = concept
            elif concept in MODIFIERS:
                continue
            else:
                role = "content"
            roles.setdefault(role, []).append(hit)

        def get(role: str) -> _Sorted:
            return _Sorted(roles.get(role, ()))

        self.content = roles.get("content", [])
        self.times = get("times")
        self.tenses = _Sorted(sorted((*self.times, *roles.get(TENSE, ()))))
        self.now = _Sorted(h for h in self.times if h.concept == NOW)
        self.negations = get("negation")
        self.negations_after = get("negation_after")
        # For "if ..." what matters is where it ends: what follows is supposed, not told.
        self.supposing = get("hypothetical")
        self.habitual = get("habitual")
        self.conditions = get("condition")
        self.breaks = sorted(
            [m.start() for m in _PUNCTUATION.finditer(text)]
            + [h.start for h in roles.get("clause_break", ())]
        )

    def clause(self, position: int) -> int:
        return bisect.bisect_right(self.breaks, position)

    def last_time_word_by_clause(self) -> list[tuple[int, Hit]]:
        """For each clause with time words, its number and the last of them."""
        last: dict[int, Hit] = {}
        for hit in self.times:
            number = self.clause(hit.start)
            if number not in last or hit.end >= last[number].end:
                last[number] = hit
        return sorted(last.items())


class _Clause:
    """What one clause holds besides its concepts: time words, negations, "if", "until"."""

    __slots__ = (
        "words", "low", "high", "times", "tenses", "negations", "negations_after", "supposing",
        "habitual", "conditional", "said_now",
    )

    def __init__(self, words: _Words, number: int) -> None:
        breaks = words.breaks
        low = self.low = breaks[number - 1] if number else 0
        high = self.high = breaks[number] if number < len(breaks) else len(words.text)
        self.words = words
        self.times = words.times.within(low, high)
        self.tenses = words.tenses.within(low, high)
        self.negations = words.negations.within(low, high)
        self.negations_after = words.negations_after.within(low, high)
        self.supposing = [h.end for h in words.supposing.within(low, high)]
        self.habitual = bool(words.habitual.within(low, high))
        self.conditional = bool(words.conditions.within(low, high))
        self.said_now = any(h.concept == NOW for h in self.times)

    def denies(self, hit: Hit) -> bool:
        """A negation just before ``hit`` ("no knife", "没有刀"), or just after it in Korean
        ("칼은 없었어요"); not one followed by "he" or "I" ("no, he is at the door")."""
        text, count = self.words.text, self.words.count
        before = [n for n in self.negations if n.end <= hit.start]
        if before:
            negation = before[-1]  # the nearest: any earlier one is farther, or behind it
            between = text[negation.end : hit.start]
            if not self.words.subjects.intersection(between.split()):
                if is_dense(text[hit.start]) or is_dense(text[negation.start]):
                    if count(negation.end, hit.start) - between.count(" ") <= NEGATION_CHARS:
                        return True
                elif between.count(" ") <= NEGATION_WORDS:
                    return True
        after = [n for n in self.negations_after if n.start >= hit.end]
        return bool(after) and count(hit.end, after[0].start) <= NEGATION_AFTER_CHARS


def _without_ignored(hits: list[Hit]) -> list[Hit]:
    """Drops words inside an ``ignore`` word, and negations inside a ``not_negation`` word."""
    spans = [h for h in hits if h.concept in ("ignore", "not_negation")]
    if not spans:
        return hits
    starts = [h.start for h in hits]
    dropped = set()
    for span in spans:
        # Hits are in text order: those inside the span start within it.
        for index in range(bisect.bisect_left(starts, span.start), bisect.bisect_left(starts, span.end)):
            hit = hits[index]
            if hit.end <= span.end and (span.concept == "ignore" or hit.concept == "negation"):
                dropped.add(index)
    return [
        hit
        for index, hit in enumerate(hits)
        if index not in dropped and hit.concept not in ("ignore", "not_negation")
    ]


Count = Callable[[int, int], int]


def _distance(a: Hit, b: Hit, count: Count) -> int:
    """Characters between two words (a Korean syllable counting as one), 0 if they overlap."""
    start, end = min(a.end, b.end), max(a.start, b.start)
    return count(start, end) if end > start else 0


def _nearest(hit: Hit, markers: list[Hit]) -> Hit | None:
    """The marker closest to ``hit``; ties go to the one before ("he is outside, was")."""
    if not markers:
        return None
    return min(markers, key=lambda m: (max(0, m.start - hit.end, hit.start - m.end), m.start > hit.start))


def _pairs(found: dict[Hit, Found], clause: Callable[[int], int], count: Count) -> list[Found]:
    """Concepts that two words make together in one clause ("took" ... "my phone")."""
    made = []
    for name, (firsts, seconds, within) in PAIRS.items():
        lefts = [hit for hit in found if hit.concept in firsts]
        rights = [hit for hit in found if hit.concept in seconds] if lefts else []
        for a in lefts:
            for b in rights:
                if clause(a.start) == clause(b.start) and _distance(a, b, count) <= within:
                    made.append(
                        found[a]._replace(concept=name, negated=found[a].negated or found[b].negated)
                    )
    return made
