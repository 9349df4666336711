"""Triage scoring: a pure function from a report's answers to a level and its signals.

It runs once, at intake, on the plaintext in memory. Only the result (the level and the names of
the signals behind it, never the words that matched) is stored.

Levels (see DESIGN): L0 imminent danger now; L1 recent sexual violence, injury, or signs of
trafficking or coercion; L2 serious (harassment, threats, violence, ongoing misconduct); L3
routine, past and resolved, or "record it only". The narrative is read in every language at once
(:mod:`app.triage.reading`); the rules below combine what it speaks of, so that "he is at my door"
and "he has a knife" together are danger now, while either alone, or both two years ago, is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.cases.content import ReportContent
from app.config import TriageSettings
from app.triage.reading import Reader, Reading

L0, L1, L2, L3 = 0, 1, 2, 3

SEXUAL_VIOLENCE = {"rape", "sexual_assault"}
SERIOUS = {"sexual_harassment", "physical_assault", "threats", "practitioner_violation"}
RECENT = {"72h", "week", "unsure", ""}
LONG_AGO = {"year", "older"}

THREAT_TO_LIFE = ("weapon", "kill_threat")
# Danger now with a plea for help, or with nothing else needed.
WITH_A_PLEA = ("weapon", "kill_threat", "attack", "held_back", "presence", "door_locked", "strangulation")
# Signs that someone who cannot leave is held there now.
HELD_WITH = (
    "help_now",
    "fear",
    "presence",
    "attack",
    "documents_held",
    "covert",
    "escape",
    "hiding",
    "door_locked",
)
COERCION = (
    "passport",
    "documents_held",
    "debt",
    "living_at_work",
    "unpaid_work",
    "immigration_threat",
    "held_back",
    "confinement",
    "door_locked",
    "escape",
)
HARM = ("injury", "strangulation")
SERIOUS_WORDS = ("threat", "violence", "presence", "sexual_violence", "attack", *THREAT_TO_LIFE)
# Told of the past, still serious unless the matter is closed.
GRAVE = (*THREAT_TO_LIFE, "confinement", "sexual_violence", *HARM)
# Words that only help read others ("took" + "my phone"); never signals of their own.
PARTS = {
    "papers", "belongings", "keeping", "sleeping", "workplace", "now", "fear", "soon", "arriving",
    "covert", "alone",
}
# Signals shown when a report names these only in the past, or denies them.
NOTABLE = (*THREAT_TO_LIFE, "confinement", "sexual_violence", *HARM, *COERCION, "threat", "violence")


@dataclass(frozen=True)
class Triage:
    level: int
    signals: tuple[str, ...]


@dataclass(frozen=True)
class TriageRules:
    """The lexicon, compiled once from configuration."""

    reader: Reader

    @classmethod
    def from_settings(cls, settings: TriageSettings) -> TriageRules:
        words: dict[str, dict[str, tuple[str, ...]]] = {}
        for table in (settings.lexicon, settings.added_words):
            for concept, by_language in table.items():
                for language, phrases in by_language.items():
                    words.setdefault(concept, {}).setdefault(language, ())
                    words[concept][language] += tuple(phrases)
        return cls(reader=Reader(words))


def score(category: str, answers: ReportContent, rules: TriageRules) -> Triage:
    """The level L0 (most urgent) to L3 and the signals behind it."""
    reading = rules.reader.read(answers.narrative, long_ago=answers.when in LONG_AGO)
    signals: list[str] = []

    def fire(name: str, condition: bool) -> bool:
        if condition:
            signals.append(name)
        return condition

    # Answers first: they are the reporter's own word.
    danger = fire("danger_answer", answers.danger_now == "yes")
    unsure = fire("danger_unsure", answers.danger_now == "unsure")
    injured = fire("injured_answer", answers.injured == "yes")
    ongoing = fire("ongoing_answer", answers.ongoing == "yes")
    record_only = fire("record_only", _only(answers.wants, "record_only"))

    danger |= fire("armed_presence", reading.now("presence") and reading.known(*THREAT_TO_LIFE))
    danger |= fire("armed_now", reading.said_to_be_now("weapon", in_so_many_words=True))
    danger |= fire("death_threat_soon", reading.now("soon") and reading.live("kill_threat"))
    danger |= fire("confined_now", reading.now("confinement", "hiding"))
    danger |= fire(
        "locked_in_now",
        reading.now("door_locked")
        and (reading.said_to_be_now("door_locked") or reading.now("held_back", *HELD_WITH) or unsure),
    )
    danger |= fire(
        "held_now", reading.now_unconditional("held_back") and reading.now("now", *HELD_WITH)
    )
    danger |= fire("attack_now", reading.now("attack") and reading.now("now", "help_now"))
    danger |= fire("plea_for_help", reading.now("help_now") and reading.now(*WITH_A_PLEA))
    danger |= fire(
        "present_after_harm", reading.now("presence") and reading.live("strangulation", "attack")
    )
    danger |= fire(
        "stalked_now",
        reading.now("presence")
        and reading.live("threat", "violence")
        and (
            reading.said_to_be_now("presence", in_so_many_words=True)
            or reading.now("alone", "held_back", "hiding")
        ),
    )
    danger |= fire("self_harm_now", reading.now("self_harm") and reading.now("now"))
    danger |= fire(
        "unsure_and_threatened",
        unsure and reading.live(*THREAT_TO_LIFE) and reading.live("presence", "now", "soon"),
    )

    story_in_past = reading.looks_back and not reading.live(
        *NOTABLE, "presence", "attack", "self_harm"
    )
    sexual = category in SEXUAL_VIOLENCE or reading.live("sexual_violence")
    urgent = fire("injury", reading.live(*HARM) or (injured and answers.when not in LONG_AGO))
    # The reporter's own "in the last week" stands; unanswered, the words decide.
    recent = answers.when in ("72h", "week") or (answers.when in RECENT and not story_in_past)
    urgent |= fire("recent_sexual_violence", sexual and recent)
    urgent |= fire(
        "coercion",
        reading.live(*COERCION) or (category == "exploitation" and not story_in_past),
    )
    urgent |= fire("threat_to_life", reading.live(*THREAT_TO_LIFE, "attack"))
    urgent |= fire("self_harm", reading.live("self_harm"))
    urgent |= unsure and reading.live("threat", "violence", "presence", "held_back")

    serious = (
        sexual
        or ongoing
        or reading.live(*SERIOUS_WORDS)
        or (category in SERIOUS and not story_in_past)
        or (not reading.resolved and any(
            how == "past" and concept in GRAVE for concept, how in reading.concepts().items()
        ))
    )

    signals.extend(_described(reading))
    if danger:
        level = L0
    elif record_only:
        level = L3
    elif urgent:
        level = L1
    elif serious:
        level = L2
    else:
        level = L3
    return Triage(level=level, signals=tuple(dict.fromkeys(signals)))


def _described(reading: Reading) -> list[str]:
    """What the narrative speaks of, as signal names: ``weapon``, ``past:weapon``, ``denied:weapon``."""
    out = []
    for concept, how in sorted(reading.concepts().items()):
        if concept in PARTS:
            continue
        if how == "live":
            out.append(concept)
        elif concept in NOTABLE:
            out.append(f"{'denied' if how == 'negated' else how}:{concept}")
    return out


def _only(values: Iterable[str], wanted: str) -> bool:
    chosen = set(values)
    return chosen == {wanted}
