"""Triage scoring: the level a trained coordinator would agree with, in any language."""

from __future__ import annotations

import dataclasses
import re

import pytest

from app import create_app
from app.cases.content import ReportContent
from app.config import ConfigError, load_settings
from app.triage.lexicon import fold
from app.triage.scoring import TriageRules, score

SETTINGS = load_settings()
RULES = TriageRules.from_settings(SETTINGS.triage)


def level(category: str = "other", **answers: object) -> int:
    return score(category, ReportContent(**answers), RULES).level  # type: ignore[arg-type]


def signals(category: str = "other", **answers: object) -> tuple[str, ...]:
    """The rules that fired and what the narrative speaks of, as `flask triage explain` shows."""
    triage = score(category, ReportContent(**answers), RULES)  # type: ignore[arg-type]
    return triage.signals + triage.details


def test_danger_answer_is_l0_whatever_else_was_said() -> None:
    assert level(danger_now="yes") == 0
    assert level(danger_now="yes", wants=("record_only",), when="older") == 0
    assert "danger_answer" in signals(danger_now="yes")


@pytest.mark.parametrize(
    "narrative",
    [
        "he's at my door with a knife",
        "He is waiting outside with a gun",
        "Está afuera de mi casa ahora mismo con una pistola",
        "Ele está na minha porta agora com uma faca",
        "他现在就在我门外，手里拿着刀",
        "그 남자가 지금 문 앞에 있어요. 칼을 들고 있어요",
        # Mixed languages: the form's language does not matter.
        "mi jefe está drunk y tiene un cuchillo, he is in the living room",
    ],
)
def test_a_weapon_with_the_person_near_now_is_l0_in_every_language(narrative: str) -> None:
    assert level(narrative=narrative) == 0
    assert "armed_presence" in signals(narrative=narrative)


@pytest.mark.parametrize(
    "narrative",
    [
        "I'm locked in the back room and the owner took my phone",
        "El dueño me encerró en el cuarto y no me deja salir",
        "O patrão me trancou no quarto dos fundos",
        "老板把我锁在店里，不让我出去",
        "사장이 나를 가게에 가둬 놓고 못 나가게 해요",
        "I am hiding in the bathroom at the hotel, he is still in the room",
    ],
)
def test_being_locked_in_or_hiding_now_is_l0(narrative: str) -> None:
    assert level(narrative=narrative) == 0


@pytest.mark.parametrize(
    ("narrative", "rule"),
    [
        ("남자 네 명이 가게에 들어와서 제 동료를 때리고 있어요. 저는 창고에 숨었어요.", "attacked_now"),
        ("有两个喝醉的男人在前台打我同事，把她推倒在地上，老板不在。", "attacked_now"),
        (
            "The client bolted the door and put my phone in his pocket. I'm typing on my work phone in his bathroom.",
            "writing_in_secret",
        ),
        ("有个男的从店里一直跟着我，现在我在公交站，他就站在我后面。", "stalked_now"),
        (
            "Alguien está intentando forzar la puerta de atrás y ya rompió el vidrio. "
            "Estoy sola y me encerré en la cabina.",
            "barricaded",
        ),
    ],
)
def test_danger_told_without_the_obvious_words(narrative: str, rule: str) -> None:
    assert level(narrative=narrative) == 0
    assert rule in signals(narrative=narrative)


def test_a_habit_of_violence_is_not_an_attack_this_minute() -> None:
    assert level(narrative="My boss keeps hitting me when I am slow, every day") > 0


def test_a_threat_to_kill_tonight_is_l0_and_one_without_nearness_l1() -> None:
    assert level(narrative="He texted that he will kill me tonight when I close") == 0
    assert level(narrative="O dono disse que vai me matar hoje quando fechar") == 0
    assert level(narrative="He said he would kill me if I ever told anyone") == 1


@pytest.mark.parametrize(
    "narrative",
    [
        "Two years ago a client came to my door with a knife. He is in prison now.",
        "He said he would come back with a gun, but he never did.",
        "Hace años un cliente me amenazó con una pistola, pero se mudó y nunca volvió.",
        "几年前有个客人拿刀威胁过我，他已经坐牢了。",
        "몇 년 전에 손님이 칼로 위협한 적이 있었어요. 지금은 감옥에 있어요.",
        "Há dois anos um cliente me ameaçou de morte, mas ele foi preso.",
    ],
)
def test_past_and_resolved_danger_pages_nobody(narrative: str) -> None:
    assert level(narrative=narrative) >= 2


@pytest.mark.parametrize(
    ("narrative", "expected"),
    [
        # A closing sentence may be about someone else: danger told before it stays.
        ("Client with a knife at the front desk, screaming he will kill me. My manager quit and never came back.", 0),
        ("他拿着刀在门外。上次那个人已经坐牢了。", 0),
        ("The owner locked me in the back room. The other girl ran away and never came back.", 0),
        # The past is a sentence's own: a trafficking story often starts with how she came.
        ("I came to this country last year. The owner took my passport. I sleep at the spa.", 1),
        ("Llegué hace dos años. Ahora la dueña guarda mi pasaporte y no me paga.", 1),
        # A year gone by is the past ("In 2019 ... a knife"), for a stalker near now too.
        ("In 2019 a boss pulled a knife on me. Now a client parks outside the spa and texts me.", 2),
        # ... but not a number that holds one (a phone number, an amount, a case number).
        ("Ticket 120194: client outside my door with a knife", 0),
        ("Case 12019: client outside my door with a knife", 0),
        ("Case 20193: client outside my door with a knife", 0),
    ],
)
def test_time_words_reach_only_as_far_as_their_sentence(narrative: str, expected: int) -> None:
    assert level(narrative=narrative) == expected


@pytest.mark.parametrize(
    "narrative",
    [
        "He did not have a knife and he is not at my door",
        "No tenía ningún arma.",
        "他没有拿刀",
        "칼은 없었어요",
    ],
)
def test_a_denied_weapon_is_not_one(narrative: str) -> None:
    assert "weapon" not in signals(narrative=narrative)
    assert level(narrative=narrative) >= 2


def test_a_negation_that_belongs_to_something_else_denies_nothing() -> None:
    assert level(narrative="No no he is at my door with a knife") == 0
    # Portuguese "no" is "in the", not "no".
    assert level(narrative="o ex dela vem hoje a noite aqui no spa matar ela, ele tem revolver") == 0


@pytest.mark.parametrize(
    ("narrative", "signal"),
    [
        ("老板拿走了我的护照，说我欠他八千美元，我每天住在店里。", "passport"),
        ("사장이 제 여권을 가져갔고 빚을 갚기 전에는 떠날 수 없다고 해요.", "passport"),
        ("They keep my passport in the office safe and say I owe $8,000. I sleep on the massage table.", "debt"),
        ("La gerente se quedó con mis papeles y no me pagan", "documents_held"),
        ("Durmo no spa e não me pagam", "unpaid_work"),
    ],
)
def test_coercion_signs_are_l1_without_a_space_between_words(narrative: str, signal: str) -> None:
    assert level(narrative=narrative) == 1
    assert signal in signals(narrative=narrative)


def test_l1_harm_sexual_violence_and_injury() -> None:
    assert level(category="rape", when="72h") == 1
    assert level(category="sexual_assault", when="") == 1
    assert level(category="rape", when="older") == 2
    assert level(narrative="A client choked me during the session yesterday") == 1
    assert level(narrative="Un cliente me empujó y me rompí la muñeca") == 1
    assert level(category="physical_assault", injured="yes") == 1


@pytest.mark.parametrize(
    "narrative",
    [
        "Estoy tan cansada que quiero morirme.",
        "A veces tengo ganas de morirme después del trabajo.",
        "Some nights I think I'd be better off dead.",
        "Tenho vontade de morrer quando volto para o quarto.",
        "我真的活不下去了",
        "가끔은 그냥 죽어버리고 싶어요",
    ],
)
def test_the_everyday_ways_of_saying_she_wants_to_die_are_heard(narrative: str) -> None:
    assert level(narrative=narrative) <= 1
    assert "self_harm" in signals(narrative=narrative)


def test_serious_is_l2_and_routine_l3() -> None:
    for category in ("sexual_harassment", "physical_assault", "threats", "practitioner_violation"):
        assert level(category=category) == 2
    assert level(ongoing="yes") == 2
    assert level(narrative="A former client keeps messaging me and says he knows where I work") == 2
    assert level() == 3
    assert level(narrative="工作太累了，手腕一直疼，想找人聊聊。") == 3
    assert level(category="threats", when="older", narrative="Last year a client threatened me but he moved away.") == 3


def test_record_only_is_l3_unless_someone_is_in_danger() -> None:
    assert level(category="rape", when="72h", wants=("record_only",)) == 3
    assert level(category="rape", when="72h", wants=("record_only", "peer")) == 1
    assert level(narrative="he is outside my door with a gun", wants=("record_only",)) == 0


def test_text_is_folded_before_it_is_read() -> None:
    assert fold("ＨＥ ＨＡＳ Ａ ＫＮＩＦＥ") == "he has a knife"
    assert fold("Él está AQUÍ — won’t") == "el esta aqui — wont"
    assert level(narrative="ｈｅ ｉｓ ｏｕｔｓｉｄｅ ｗｉｔｈ ａ ｇｕｎ") == 0
    # A letter typed once for twice, or held down.
    assert level(narrative="they took my pasport") == 1
    assert level(narrative="he is outside with a kniiiife") == 0
    # Korean endings fuse into the syllable before: 두 + ㄴ다 = 둔다.
    assert "threat" in signals(narrative="가만 안 둔다고 했어요")


def test_words_match_whole_words_only() -> None:
    # "grapes" holds "rape", "debtor" "debt", "stable" "stab": none of them fire.
    assert level(narrative="She brought grapes and talked about a debtor in a stable") == 3


@pytest.mark.parametrize(
    "narrative",
    [
        # A massage gun is a tool; 칼국수 is noodle soup, not a knife (칼).
        "The client is at my door with a massage gun",
        "지금 칼국수 먹으러 나가는데 손님이 문 앞에 있어요",
    ],
)
def test_a_word_inside_a_harmless_one_is_not_read(narrative: str) -> None:
    assert level(narrative=narrative) > 0


def test_signals_name_concepts_never_the_words() -> None:
    narrative = "Zebulon raped me and took my passport; two years ago Zebulon had a gun"
    fired = signals(narrative=narrative)
    assert fired == tuple(dict.fromkeys(fired))
    assert {"sexual_violence", "passport", "past:weapon"} <= set(fired)
    assert all(re.fullmatch(r"(?:past:|denied:|resolved:)?[a-z_]+", signal) for signal in fired)
    assert "zebulon" not in " ".join(fired)
    # Stored with the case: only the rules that fired, not what the narrative speaks of.
    stored = score("other", ReportContent(narrative=narrative), RULES).signals
    assert set(stored) == {"recent_sexual_violence", "coercion"}


def test_a_program_adds_words_without_a_release() -> None:
    assert level(narrative="he is outside with a zorblat") != 0
    triage = dataclasses.replace(SETTINGS.triage, added_words={"weapon": {"es": ("zorblat",)}})
    assert (
        score("other", ReportContent(narrative="he is outside with a zorblat"), TriageRules.from_settings(triage)).level
        == 0
    )


def test_an_unknown_concept_in_the_lexicon_stops_the_app() -> None:
    settings = load_settings(overrides={"triage": {"added_words": {"wepon": {"en": ["sword"]}}}})
    with pytest.raises(ConfigError, match="wepon"):
        create_app(settings)


def test_the_example_configuration_has_words_for_every_concept() -> None:
    from app.triage.concepts import CONCEPTS

    lexicon = SETTINGS.triage.lexicon
    assert set(lexicon) == set(CONCEPTS)
    assert all(any(words for words in lexicon[concept].values()) for concept in CONCEPTS)
