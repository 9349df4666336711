"""Triage scoring: a pure function from a report's answers to a level and its signals.

It runs once, at intake, on the plaintext in memory. Only the result (the level and the
names of the signals that fired, never the words that matched) is stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.cases.content import ReportContent
from app.config import TriageSettings

L0, L1, L2, L3 = 0, 1, 2, 3

SEXUAL_VIOLENCE = {"rape", "sexual_assault"}
SERIOUS = {"sexual_harassment", "physical_assault", "threats", "practitioner_violation"}
RECENT = {"72h", "week", "unsure", ""}


@dataclass(frozen=True)
class Triage:
    level: int
    signals: tuple[str, ...]


@dataclass(frozen=True)
class TriageRules:
    """Signal-word patterns, compiled once from configuration."""

    patterns: Mapping[str, re.Pattern[str]]

    @classmethod
    def from_settings(cls, settings: TriageSettings) -> TriageRules:
        patterns = {}
        for signal, by_language in settings.signal_words.items():
            words = sorted({fold(w) for ws in by_language.values() for w in ws if w.strip()})
            if words:
                alternation = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
                patterns[signal] = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
        return cls(patterns=patterns)

    def words_found(self, text: str) -> set[str]:
        folded = fold(text)
        return {signal for signal, pattern in self.patterns.items() if pattern.search(folded)}


def fold(text: str) -> str:
    """Lower case, accents removed, typographic apostrophes made plain."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'").casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def score(category: str, answers: ReportContent, rules: TriageRules) -> Triage:
    """The level L0 (most urgent) to L3 and the signals behind it."""
    found = rules.words_found(answers.narrative) if answers.narrative else set()
    signals: list[str] = []

    def fire(name: str, condition: bool) -> bool:
        if condition:
            signals.append(name)
        return condition

    danger = fire("danger_now", answers.danger_now == "yes")
    danger |= fire("danger_words", "danger_now" in found)
    injury = fire("injury", answers.injured == "yes")
    injury |= fire("injury_words", "injury" in found)
    sexual = category in SEXUAL_VIOLENCE or fire(
        "sexual_assault_words", "sexual_assault" in found
    )
    recent_sexual = fire("recent_sexual_assault", sexual and answers.when in RECENT)
    coercion = fire("coercion", category == "exploitation")
    coercion |= fire("coercion_words", "coercion" in found)
    ongoing = fire("ongoing", answers.ongoing == "yes")
    threats = fire("threat_words", "threat" in found)
    record_only = fire("record_only", _only(answers.wants, "record_only"))

    if danger:
        level = L0
    elif record_only:
        level = L3
    elif injury or recent_sexual or coercion:
        level = L1
    elif sexual or category in SERIOUS or ongoing or threats:
        level = L2
    else:
        level = L3
    return Triage(level=level, signals=tuple(signals))


def _only(values: Iterable[str], wanted: str) -> bool:
    chosen = set(values)
    return chosen == {wanted}
