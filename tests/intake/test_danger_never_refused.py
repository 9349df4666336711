"""A report that signals danger is never turned away; whatever is refused keeps every word."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from app.cases.models import Case
from app.config import load_settings
from app.extensions import db
from tests.conftest import BrowserLikeClient, settings_for
from tests.factories import make_staff, sign_in
from tests.helpers import hidden_fields, receipt_from, report_answers, submit_report

IN_DANGER = {"danger_now": "yes", "narrative": "Please, he came back and I am scared"}


def cases() -> list[Case]:
    return list(db.session.scalars(select(Case)))


def case_of(response: Any) -> Case:
    """The case a confirmation page gave the receipt of (times are kept to the minute, so
    the newest case cannot be told by its time)."""
    from app.intake.finding import find_case_by_receipt

    case_id = find_case_by_receipt(receipt_from(response))
    assert case_id is not None
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    assert case is not None
    return case


@contextmanager
def app_with_limits(base_app: Flask, app: Flask, keys_dir: Path, log_file: Path, **limits: str) -> Iterator[Flask]:
    defaults = load_settings().rate_limits
    limited_app = create_app(
        settings_for(
            base_app.config["SQLALCHEMY_DATABASE_URI"],
            keys_dir,
            log_file,
            rate_limits={"report": defaults.report, "report_all": defaults.report_all, **limits},
            queue_prefix=app.config["CONFIDE"].queue_prefix,
        )
    )
    limited_app.test_client_class = BrowserLikeClient
    try:
        yield limited_app
    finally:
        with limited_app.app_context():
            if "confide_redis" in limited_app.extensions:
                limited_app.extensions["confide_redis"].close()
            db.engine.dispose()


@pytest.fixture
def limited(base_app: Flask, app: Flask, keys_dir: Path, log_file: Path) -> Iterator[FlaskClient]:
    """A client of an app with the limits a deployment has by default."""
    with app_with_limits(base_app, app, keys_dir, log_file) as limited_app:
        yield limited_app.test_client()


def test_the_12th_report_of_the_hour_in_danger_gets_a_receipt_and_911_first(limited: FlaskClient) -> None:
    answers = [submit_report(limited, narrative=f"Report {n}").status_code for n in range(1, 12)]
    assert 429 in answers, "eleven reports in a minute from one connection are over the limit"
    response = submit_report(limited, **IN_DANGER)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.index("tel:911") < body.index('id="receipt"')
    last = case_of(response)
    assert last.level == 0 and "over_limit" in last.signals


def test_danger_in_the_words_alone_passes_the_limit_too(limited: FlaskClient) -> None:
    while submit_report(limited).status_code != 429:
        pass
    response = submit_report(limited, narrative="他现在就在我门外，手里拿着刀")
    assert response.status_code == 200
    assert case_of(response).level == 0


def test_a_refused_report_keeps_every_word_with_911_first(limited: FlaskClient) -> None:
    while submit_report(limited).status_code != 429:
        pass
    count = len(cases())
    refused = submit_report(limited, narrative="My manager keeps 50% of my tips & calls me <names>")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "My manager keeps 50% of my tips &amp; calls me &lt;names&gt;" in body
    assert "Nothing you wrote is lost" in body
    assert body.index('href="tel:911"') < body.index("Nothing you wrote is lost")
    assert len(cases()) == count


def test_an_expired_form_in_danger_is_filed_and_marked(client: FlaskClient) -> None:
    client.get("/report")
    response = client.post("/report", data=report_answers(**IN_DANGER, csrf_token="expired"))
    assert response.status_code == 200
    receipt_from(response)
    (case,) = cases()
    assert case.level == 0 and "form_expired" in case.signals


def test_a_resent_danger_report_is_never_refused(client: FlaskClient) -> None:
    page = client.get("/report").get_data(as_text=True)
    data = {**hidden_fields(page), **report_answers(**IN_DANGER)}
    first, again = client.post("/report", data=data), client.post("/report", data=data)
    # At once (a double tap): one case, and the receipt shown is the one that opens it.
    assert first.status_code == again.status_code == 200
    assert len(cases()) == 1 and case_of(again).level == 0
    # Long after (Back, then send): no receipt is given again, and it is filed again.
    for case in db.session.scalars(select(Case)):
        case.created_at -= timedelta(hours=1)
    db.session.commit()
    later = client.post("/report", data=data)
    assert later.status_code == 200
    assert sorted("resent" in case.signals for case in cases()) == [False, True]
    assert "resent" in case_of(later).signals and "tel:911" in later.get_data(as_text=True)


def test_wrong_answers_do_not_stop_a_danger_report(client: FlaskClient) -> None:
    response = submit_report(
        client,
        category=None,
        when="tomorrow",
        phone="860-555-0100",
        website="autofilled",
        narrative="Está en la puerta ahora mismo con una pistola",
    )
    assert response.status_code == 200
    (case,) = cases()
    assert case.level == 0 and case.category == "other" and "form_errors" in case.signals
    # The number typed under "anonymous" is kept: it is how a responder can reach her.
    assert case.is_named


def test_wrong_answers_without_danger_are_given_back(client: FlaskClient) -> None:
    response = submit_report(client, category=None, narrative="My wrist hurts after long shifts")
    assert response.status_code == 400
    assert "My wrist hurts after long shifts" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0


def test_coordinators_see_why_a_report_came_in_despite_a_refusal(client: FlaskClient, app: Flask) -> None:
    client.get("/report")
    client.post("/report", data=report_answers(**IN_DANGER, csrf_token="expired"))
    (case,) = cases()
    staff = client.application.test_client()
    sign_in(staff, make_staff(role="coordinator"))
    body = staff.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="filed-despite-form_expired"' in body
    assert "its form had expired" in body


def test_a_report_the_database_cannot_take_comes_back_whole(
    app: Flask, keys_dir: Path, log_file: Path, tmp_path: Path
) -> None:
    # A database server that does not answer (a socket nobody listens on): nothing is saved.
    broken = create_app(
        settings_for(
            f"postgresql+psycopg://confide@/nowhere?host={tmp_path}",
            keys_dir,
            log_file,
            queue_prefix=app.config["CONFIDE"].queue_prefix,
        )
    )
    broken.test_client_class = BrowserLikeClient
    client = broken.test_client()
    response = submit_report(client, **{**IN_DANGER, "narrative": "He is outside & I am <scared>"})
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "He is outside &amp; I am &lt;scared&gt;" in body
    assert "If you are in danger, call 911 now. We could not save your report just now." in body
    assert body.index('href="tel:911"') < body.index("He is outside")
    assert hidden_fields(body)["submission"]
    with broken.app_context():
        db.engine.dispose()


def test_a_form_given_back_is_sent_again_as_it_is(client: FlaskClient) -> None:
    page = client.get("/report").get_data(as_text=True)
    first = hidden_fields(page)["submission"]
    refused = client.post("/report", data={**hidden_fields(page), **report_answers(category=None)})
    assert refused.status_code == 400
    given_back = hidden_fields(refused.get_data(as_text=True))
    # A token that came with the post is never kept: it may have been planted.
    assert given_back["submission"] != first
    again = client.post("/report", data={**given_back, **report_answers()})
    assert again.status_code == 200
    receipt_from(again)


def test_a_planted_token_neither_drops_her_report_nor_tells_who_filed(client: FlaskClient, app: Flask) -> None:
    # Someone who knows a form's token files with it first, from a browser of his own.
    planted = hidden_fields(client.get("/report").get_data(as_text=True))["submission"]
    other = app.test_client()
    mine = hidden_fields(other.get("/report").get_data(as_text=True))
    assert other.post("/report", data={**mine, "submission": planted, **report_answers()}).status_code == 200
    # His page makes her browser post the form with that token: the post is refused and
    # given back with a token of its own, so her report goes in.
    forged = client.post("/report", data={"submission": planted, **report_answers(narrative="Mine")})
    given_back = hidden_fields(forged.get_data(as_text=True))
    assert forged.status_code == 400 and given_back["submission"] != planted
    filed = client.post("/report", data={**given_back, **report_answers(narrative="Mine")})
    assert filed.status_code == 200
    assert "resent" not in case_of(filed).signals


def test_the_ceiling_for_everyone_gives_reports_back_but_takes_danger(
    base_app: Flask, app: Flask, keys_dir: Path, log_file: Path
) -> None:
    with app_with_limits(base_app, app, keys_dir, log_file, report_all="3 per minute") as ceiling:
        people = [ceiling.test_client() for _ in range(5)]
        for n, person in enumerate(people):
            person.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"  # five connections
        # Reports in danger do not use up the ceiling.
        for person in people[:3]:
            assert submit_report(person, **IN_DANGER).status_code == 200
        assert [submit_report(person).status_code for person in people[:4]] == [200, 200, 200, 429]
        refused = submit_report(people[4], narrative="Just want it on record").get_data(as_text=True)
        assert "Very many reports are arriving just now" in refused
        assert "Just want it on record" in refused
        danger = submit_report(people[4], **IN_DANGER)
        assert danger.status_code == 200
        assert "over_limit" in case_of(danger).signals
