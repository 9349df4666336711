"""The help a reporter is shown matches what she told us, at every level, in her language."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.models import Case
from app.extensions import db
from tests.helpers import open_status, receipt_from, submit_report

TRAFFICKING = ("1-888-373-7888", "233733")
SEXUAL_ASSAULT = ("888-999-5545", "888-568-8332")
CRISIS = ("tel:988",)

# Serious but not recent (L2): a rape two years ago.
OLD_RAPE = {
    "en": "A client raped me at the spa two years ago. I never told anyone.",
    "es": "Un cliente me violó en el spa hace dos años. Nunca se lo conté a nadie.",
}
# Routine, "record it only" (L3): a passport held by a former employer, long over.
OLD_PASSPORT = {
    "en": "Two years ago my old boss kept my passport for a month. I left that job long ago.",
    "es": "Hace dos años mi antiguo jefe me quitó el pasaporte un mes. Dejé ese trabajo hace mucho.",
}


def confirmation(client: FlaskClient, language: str, **answers: object) -> str:
    client.get(f"/language/{language}")
    response = submit_report(client, language=language, **answers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def help_box(body: str) -> str:
    start = body.find('id="help"')
    return body[start : body.index("</section>", start)] if start >= 0 else ""


@pytest.mark.parametrize(
    ("language", "title", "text_label"),
    [("en", "Help for what you told us", "Text"), ("es", "Ayuda según lo que nos contó", "Enviar texto")],
)
def test_passport_and_debt_show_the_trafficking_hotline(
    client: FlaskClient, language: str, title: str, text_label: str
) -> None:
    body = confirmation(
        client, language, category="other", narrative="The owner keeps my passport and says I owe him $5,000"
    )
    box = help_box(body)
    assert title in box and all(number in box for number in TRAFFICKING)
    assert f"{text_label}:" in box
    assert not any(number in box for number in SEXUAL_ASSAULT)
    # Not urgent: the receipt comes first, the help right after it.
    assert body.index('id="receipt"') < body.index('id="help"')


@pytest.mark.parametrize("language", ["en", "es"])
def test_sexual_violence_shows_the_sexual_assault_hotlines(client: FlaskClient, language: str) -> None:
    box = help_box(confirmation(client, language, category="rape", when="72h"))
    assert all(number in box for number in SEXUAL_ASSAULT)
    assert not any(number in box for number in TRAFFICKING)
    assert ("Apoyo gratuito y confidencial" in box) == (language == "es")


@pytest.mark.parametrize(
    ("language", "title"),
    [("en", "You may be in danger. Get help now:"), ("es", "Puede que esté en peligro. Pida ayuda ahora:")],
)
def test_danger_puts_911_first_then_the_help_for_what_happened(client: FlaskClient, language: str, title: str) -> None:
    body = confirmation(
        client, language, category="exploitation", narrative="Me encerró en el cuarto y no me deja salir"
    )
    box = help_box(body)
    assert title in box
    assert box.index("tel:911") < box.index(TRAFFICKING[0])
    assert body.index('id="help"') < body.index('id="receipt"')


def filed_level() -> int:
    return db.session.scalars(select(Case.level)).one()


@pytest.mark.parametrize(
    ("language", "call_or_text"),
    [("en", "Call or text (English)"), ("es", "Llamar o enviar texto (inglés)")],
    ids=["en", "es"],
)
def test_an_old_rape_at_level_2_still_shows_the_sexual_assault_hotlines(
    client: FlaskClient, language: str, call_or_text: str
) -> None:
    body = confirmation(client, language, category="rape", when="older", narrative=OLD_RAPE[language])
    assert filed_level() == 2
    box = help_box(body)
    assert all(number in box for number in SEXUAL_ASSAULT) and f"{call_or_text}:" in box
    assert not any(number in box for number in TRAFFICKING) and "tel:911" not in box
    # No danger: the receipt comes first, the help right after it.
    assert body.index('id="receipt"') < body.index('id="help"')


@pytest.mark.parametrize(
    ("language", "about", "text_label"),
    [("en", "kept in debt by an employer", "Text"), ("es", "endeudado con un empleador", "Enviar texto")],
    ids=["en", "es"],
)
def test_a_passport_held_long_ago_recorded_only_at_level_3_still_shows_the_trafficking_hotline(
    client: FlaskClient, language: str, about: str, text_label: str
) -> None:
    body = confirmation(
        client, language, category="exploitation", when="older", wants=["record_only"], narrative=OLD_PASSPORT[language]
    )
    assert filed_level() == 3
    box = help_box(body)
    assert about in box and all(number in box for number in TRAFFICKING) and f"{text_label}:" in box
    assert not any(number in box for number in SEXUAL_ASSAULT) and "tel:911" not in box
    assert body.index('id="receipt"') < body.index('id="help"')


@pytest.mark.parametrize(
    ("language", "narrative", "about", "call_or_text"),
    [
        ("en", "I am so tired of this job, I want to die", "thinking about hurting yourself", "Call or text"),
        (
            "es",
            "Estoy agotada de este trabajo, no quiero vivir así",
            "Si piensa en hacerse daño",
            "Llamar o enviar texto",
        ),
    ],
    ids=["en", "es"],
)
def test_thoughts_of_suicide_show_the_crisis_line(
    client: FlaskClient, language: str, narrative: str, about: str, call_or_text: str
) -> None:
    box = help_box(confirmation(client, language, narrative=narrative))
    assert all(number in box for number in CRISIS)
    assert about in box and f"{call_or_text}:" in box
    assert not any(number in box for number in (*TRAFFICKING, *SEXUAL_ASSAULT))


@pytest.mark.parametrize("language", ["en", "es"])
def test_harassment_alone_shows_no_hotlines(client: FlaskClient, language: str) -> None:
    body = confirmation(client, language, category="sexual_harassment", narrative="He makes comments about my body")
    assert help_box(body) == ""
    assert "tel:911" not in body.split('id="receipt"')[0]


@pytest.mark.parametrize(
    ("language", "answers", "within", "hotline"),
    [
        ("en", {"danger_now": "yes", "category": "threats"}, "should read it within 1 hour", "tel:911"),
        ("en", {"category": "sexual_harassment"}, "should read it within 24 hours", None),
        ("es", {"category": "other", "narrative": "guarda mi pasaporte"}, "en un plazo de 4 horas", TRAFFICKING[0]),
        (
            "en",
            {"category": "exploitation", "when": "older", "wants": ["record_only"], "narrative": OLD_PASSPORT["en"]},
            "should read it within 72 hours",
            TRAFFICKING[0],
        ),
        (
            "es",
            {"category": "exploitation", "when": "older", "wants": ["record_only"], "narrative": OLD_PASSPORT["es"]},
            "en un plazo de 72 horas",
            TRAFFICKING[0],
        ),
    ],
)
def test_status_gives_the_cases_own_target_and_its_help(
    client: FlaskClient, language: str, answers: dict[str, str], within: str, hotline: str | None
) -> None:
    receipt = receipt_from(submit_report(client, language=language, **answers))
    client.get(f"/language/{language}")
    body = open_status(client, receipt).get_data(as_text=True)
    assert within in body
    assert 'id="answer-by"' in body and "30 days" not in body and "30 días" not in body
    if hotline:
        assert hotline in help_box(body)
    else:
        assert help_box(body) == ""
