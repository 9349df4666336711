"""Triage scoring: a pure function from a report's answers to a level and its signals.

It runs once, at intake, on the plaintext in memory. Only the result (the level and the names of
the rules behind it, never the words that matched) is stored.

Levels (see DESIGN): L0 imminent danger now; L1 recent sexual violence, injury, or signs of
trafficking or coercion; L2 serious (harassment, threats, violence, ongoing misconduct); L3
routine, past and resolved, or "record it only". The narrative is read in every language at once
(:mod:`app.triage.reading`); the rules below combine what it speaks of, so that "he is at my door"
and "he has a knife" together are danger now, while either alone, or both two years ago, is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.cases.content import ReportContent
from app.config import TriageSettings
from app.triage.reading import Reader, Reading

L0, L1, L2, L3 = 0, 1, 2, 3

SEXUAL_VIOLENCE = {"rape", "sexual_assault"}
SERIOUS = {"sexual_harassment", "physical_assault", "threats", "practitioner_violation"}
RECENT_ANSWERS = {"72h", "week", "unsure", ""}  # "When did it happen?" answers near enough
LONG_AGO = {"year", "older"}

THREAT_TO_LIFE = ("weapon", "kill_threat")
# Danger now with a plea for help, or with nothing else needed.
WITH_A_PLEA = ("weapon", "kill_threat", "attack", "held_back", "presence", "door_locked", "strangulation")
# Signs that someone who cannot leave is held there now.
HELD_WITH = (
    "help_now",
    "barricade",
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
# She is alone with it: hiding, shut in a room, writing in secret, afraid, asking for help.
ALONE_WITH_IT = ("hiding", "barricade", "covert", "alone", "fear", "help_now")
UNSURE_WITH = (
    *THREAT_TO_LIFE,
    "threat",
    "violence",
    "attack",
    "strangulation",
    "presence",
    "held_back",
    "confinement",
    "door_locked",
    "hiding",
    "barricade",
)
SERIOUS_WORDS = ("threat", "violence", "presence", "sexual_violence", "attack", *THREAT_TO_LIFE)
# Told of the past, still serious unless the matter is closed.
GRAVE = (*THREAT_TO_LIFE, "confinement", "sexual_violence", *HARM)
# Words that only help read others ("took" + "my phone"); never signals of their own.
PARTS = {
    "papers",
    "belongings",
    "keeping",
    "sleeping",
    "workplace",
    "now",
    "fear",
    "soon",
    "arriving",
    "covert",
    "alone",
}
# Signals shown when a report names these only in the past, or denies them.
NOTABLE = (*THREAT_TO_LIFE, "confinement", "sexual_violence", *HARM, *COERCION, "threat", "violence")


@dataclass(frozen=True)
class Triage:
    level: int
    # The rules that fired: the answers and the combinations behind the level ("armed_presence",
    # "coercion"). Stored with the case, in the clear, so they stay coarse.
    signals: tuple[str, ...]
    # What the narrative speaks of, concept by concept ("weapon", "past:weapon"): shown by
    # `flask triage explain`, never stored.
    details: tuple[str, ...] = ()


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
    # The answers first: they are the reporter's own word.
    said = {
        "danger_answer": answers.danger_now == "yes",
        "danger_unsure": answers.danger_now == "unsure",
        "injured_answer": answers.injured == "yes",
        "ongoing_answer": answers.ongoing == "yes",
        "record_only": set(answers.wants) == {"record_only"},
    }
    danger = _danger_now(reading, unsure=said["danger_unsure"])
    urgent = _urgent(category, answers, reading, said)
    fired = [name for rules in (said, danger, urgent) for name, on in rules.items() if on]
    if said["danger_answer"] or any(danger.values()):
        level = L0
    elif said["record_only"]:
        level = L3
    elif any(urgent.values()):
        level = L1
    elif _serious(category, reading, said["ongoing_answer"]):
        level = L2
    else:
        level = L3
    return Triage(level=level, signals=tuple(fired), details=tuple(_described(reading)))


def _danger_now(r: Reading, *, unsure: bool) -> dict[str, bool]:
    """The ways a narrative tells of danger at this moment (L0), each a signal's name."""
    return {
        # A weapon or a threat to kill, now or lately, and the person here or near.
        "armed_presence": r.now("presence") and r.live(*THREAT_TO_LIFE),
        "armed_now": r.said_to_be_now("weapon", in_so_many_words=True),
        "death_threat_soon": r.now("soon") and r.live("kill_threat"),
        "confined_now": r.now("confinement", "hiding"),
        # A locked door alone may be the reporter's own; with "tonight", or another sign, not.
        "locked_in_now": r.now("door_locked")
        and (r.said_to_be_now("door_locked") or r.now("held_back", *HELD_WITH) or unsure),
        # "Won't let me leave" alone may be about a shift ("before 11"); with another sign, not.
        "held_now": r.now_unconditional("held_back") and r.now("now", *HELD_WITH),
        "attack_now": r.now("attack") and r.now("now", "help_now"),
        # "He is hitting me now": violence told with "now" in its own clause.
        "violence_now": r.said_to_be_now("violence", in_so_many_words=True),
        "plea_for_help": r.now("help_now") and r.now(*WITH_A_PLEA),
        "present_after_harm": r.now("presence") and r.live("strangulation", "attack"),
        # An attack going on ("he is hitting her"), and she hiding, alone, afraid or writing in
        # secret ("keeps hitting me" alone may be a habit, not this minute).
        "attacked_now": r.now("attack") and r.live(*ALONE_WITH_IT, "presence"),
        # Violence with the person here now, and she alone, afraid or writing in secret.
        "violence_near": r.now("violence") and r.now("presence") and r.now(*ALONE_WITH_IT),
        # Writing in secret (a hidden phone, from his bathroom) while held or hurt.
        "writing_in_secret": r.now("covert")
        and r.now("held_back", "door_locked", "documents_held", "attack", "confinement"),
        # A threatening person here, said to be here at a time ("now", "tonight"), or with her
        # alone or hiding.
        "stalked_now": r.now("presence")
        and r.live("threat", "violence")
        and (r.said_to_be_now("presence") or r.now("alone", "held_back", "hiding", "barricade")),
        # Behind a door she locked, from someone who threatens or hurts her.
        "barricaded": r.now("barricade")
        and (r.now("presence") or r.live(*THREAT_TO_LIFE, "threat", "attack", "violence", "strangulation")),
        "self_harm_now": r.now("self_harm") and r.now("now"),
        # Unsure whether she is in danger, and telling of threats, violence or someone near:
        # her doubt is reason enough to look at once.
        "unsure_and_threatened": unsure and r.live(*UNSURE_WITH),
    }


def _urgent(category: str, answers: ReportContent, r: Reading, said: dict[str, bool]) -> dict[str, bool]:
    """The ways a report tells of harm or coercion to answer within hours (L1)."""
    story_in_past = _story_in_past(r)
    sexual = category in SEXUAL_VIOLENCE or r.live("sexual_violence")
    # The reporter's own "in the last week" stands; unanswered, the words decide.
    recent = answers.when in ("72h", "week") or (answers.when in RECENT_ANSWERS and not story_in_past)
    return {
        "injury": r.live(*HARM) or (said["injured_answer"] and answers.when not in LONG_AGO),
        "recent_sexual_violence": sexual and recent,
        "coercion": r.live(*COERCION) or (category == "exploitation" and not story_in_past),
        "threat_to_life": r.live(*THREAT_TO_LIFE, "attack"),
        "self_harm": r.live("self_harm"),
    }


def _serious(category: str, r: Reading, ongoing: bool) -> bool:
    """Serious (L2): harassment, threats, violence, or grave harm told of the past and not
    closed; a serious category whose story is all in the past is routine (L3)."""
    story_in_past = _story_in_past(r)
    grave_past = any(how == "past" and concept in GRAVE for concept, how in r.concepts().items())
    return (
        category in SEXUAL_VIOLENCE
        or ongoing
        or r.live(*SERIOUS_WORDS)
        or (category in SERIOUS and not story_in_past)
        or grave_past
    )


def _story_in_past(r: Reading) -> bool:
    """All the narrative tells of is past or over ("years ago", "he moved away")."""
    return r.looks_back and not r.live(*NOTABLE, "presence", "attack", "self_harm")


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
