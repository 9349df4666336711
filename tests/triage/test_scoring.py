"""Triage scoring: the level a person reading the report would agree with."""

from __future__ import annotations

import pytest

from app.config import load_settings
from app.cases.content import ReportContent
from app.triage.scoring import TriageRules, score

RULES = TriageRules.from_settings(load_settings().triage)


def level(category: str = "other", **answers: object) -> int:
    return score(category, ReportContent(**answers), RULES).level  # type: ignore[arg-type]


def signals(category: str = "other", **answers: object) -> tuple[str, ...]:
    return score(category, ReportContent(**answers), RULES).signals  # type: ignore[arg-type]


def test_danger_now_is_l0_whatever_else_was_said() -> None:
    assert level(danger_now="yes") == 0
    assert level(danger_now="yes", wants=("record_only",)) == 0
    assert "danger_now" in signals(danger_now="yes")


@pytest.mark.parametrize(
    "narrative",
    [
        "He is HERE again, outside my door.",
        "Dice que me va a matar si hablo.",
        "Él está aquí, no me deja salir",
        "he’s going to kill me",
    ],
)
def test_danger_words_in_english_and_spanish_are_l0(narrative: str) -> None:
    assert level(narrative=narrative) == 0
    assert "danger_words" in signals(narrative=narrative)


def test_recent_sexual_assault_is_l1_and_older_l2() -> None:
    assert level(category="rape", when="72h") == 1
    assert level(category="sexual_assault", when="") == 1
    assert level(category="rape", when="older") == 2


def test_injury_and_coercion_are_l1() -> None:
    assert level(category="physical_assault", injured="yes") == 1
    assert level(category="exploitation") == 1
    assert level(narrative="The owner keeps my passport in the safe") == 1
    assert level(narrative="El dueño dice que le debo y guarda mi pasaporte") == 1
    assert "coercion_words" in signals(narrative="Tengo una deuda con ellos")


def test_serious_categories_and_ongoing_are_l2() -> None:
    for category in ("sexual_harassment", "physical_assault", "threats", "practitioner_violation"):
        assert level(category=category) == 2
    assert level(ongoing="yes") == 2
    assert level(narrative="He keeps following me to my car") == 2


def test_routine_and_record_only_are_l3() -> None:
    assert level() == 3
    assert level(category="rape", when="72h", wants=("record_only",)) == 3
    assert level(category="rape", when="72h", wants=("record_only", "peer")) == 1


def test_words_match_whole_words_only() -> None:
    # "grape" contains "rape"; "debtor" contains "debt": neither should fire.
    assert level(narrative="She brought grapes and talked about a debtor") == 3


def test_signal_names_never_carry_the_words() -> None:
    fired = signals(narrative="he raped me and took my passport")
    assert set(fired) == {"sexual_assault_words", "recent_sexual_assault", "coercion_words"}
