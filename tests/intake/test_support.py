"""A support request ("I'd like to talk with someone"): a case of its own kind, filed, scored
and sealed as a report is, with a receipt, the same /status conversation and choices, and
never refused when it signals danger."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.cases.models import Case, Message, ReportTally
from app.config import SupportSettings
from app.extensions import db
from app.intake.finding import find_case_by_receipt
from app.notify.models import Notification
from tests.conftest import run_worker
from tests.helpers import hidden_fields, open_status, receipt_from, submit_support, support_answers
from tests.intake.test_danger_never_refused import limited  # noqa: F401 - a fixture
from tests.notify.test_paging import NARRATIVE, Pager, coordinator, pager  # noqa: F401 - pager is a fixture

THREATENED = "My manager threatens me every week and says I will lose my job."


def case_of(response: object) -> Case:
    case_id = find_case_by_receipt(receipt_from(response))  # type: ignore[arg-type]
    assert case_id is not None
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    assert case is not None
    return case


def cases() -> int:
    return db.session.scalar(select(func.count()).select_from(Case)) or 0


def test_home_leads_to_a_short_form_of_its_own(client: FlaskClient) -> None:
    home = client.get("/").get_data(as_text=True)
    assert 'href="/talk"' in home and "I'd like to talk with someone" in home
    form = client.get("/talk").get_data(as_text=True)
    assert "What is on your mind?" in form and 'action="/talk"' in form
    # Nothing of an incident is asked.
    for question in ("What happened?", "Who did it?", "Where did it happen?", "Are you in danger right now?"):
        assert question not in form


def test_a_support_request_is_filed_as_its_own_kind_with_a_receipt(client: FlaskClient) -> None:
    response = submit_support(client, language="es")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your request was received" in body and "Your report was received" not in body
    case = case_of(response)
    assert (case.kind, case.category, case.level, case.language) == ("support", "support", 3, "es")
    assert case.ack_due_at - case.created_at == timedelta(hours=72)
    assert b"shoulders" not in case.report_sealed and not case.is_named
    counted = {(row.kind, row.question, row.answer): row.count for row in db.session.scalars(select(ReportTally))}
    # Counted as a support request, with its own questions, and never as a report.
    assert counted == {
        ("support", "level", "L3"): 1,
        ("support", "language", "es"): 1,
        ("support", "named", "anonymous"): 1,
        ("support", "peer_support", "yes"): 1,
        ("support", "legal_referral", "no"): 1,
        ("support", "identity_to_counsel", "no"): 1,
    }


def test_nothing_has_to_be_written(client: FlaskClient) -> None:
    response = submit_support(client, narrative="")
    assert response.status_code == 200
    page = open_status(client, receipt_from(response)).get_data(as_text=True)
    assert "You did not write anything, and that is fine." in page


def test_how_to_reach_her_is_asked_in_its_own_words_and_kept_sealed(client: FlaskClient) -> None:
    refused = submit_support(client, identity="named", phone="860-555-0100", name=None)
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "Please write a name (any name you like), or choose your receipt only." in body
    assert "860-555-0100" in body and "Long shifts, and my shoulders ache." in body
    assert cases() == 0
    typed_but_not_chosen = submit_support(client, phone="860-555-0100")
    assert "You chose your receipt only but wrote contact details." in typed_but_not_chosen.get_data(as_text=True)

    response = submit_support(client, identity="named", name="Mina", phone="860-555-0100", contact_text="y")
    case = case_of(response)
    assert case.is_named and case.contact_sealed is not None and b"Mina" not in case.contact_sealed
    page = open_status(client, receipt_from(response)).get_data(as_text=True)
    assert "Mina" in page


def test_danger_in_what_she_writes_makes_it_L0_with_help_first_and_a_page(
    app: Flask,
    client: FlaskClient,
    pager: Pager,  # noqa: F811
) -> None:
    coordinator("Ana", on_duty=True, paging=pager.url("/ana/topic"))
    response = submit_support(client, narrative=NARRATIVE)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.index('href="tel:911"') < body.index('id="receipt"')
    assert "We have asked the on-call coordinator to look at your request at once." in body
    case = case_of(response)
    assert case.kind == "support" and case.level == 0
    assert case.ack_due_at - case.created_at == timedelta(hours=1), "danger keeps its own target"
    run_worker(app)  # routing, then the urgent notices at once
    assert len(pager.to("/ana/topic")) == 1
    urgent = db.session.scalars(select(Notification).where(Notification.kind == "urgent")).all()
    assert [note.case_id for note in urgent] == [case.id]


@pytest.mark.parametrize(
    ("own", "narrative", "expected"), [(72, "", 72), (48, "", 48), (48, THREATENED, 24), (12, THREATENED, 12)]
)
def test_the_acknowledgement_target_is_configured_and_a_raised_level_keeps_a_sooner_one(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, own: int, narrative: str, expected: int
) -> None:
    settings = dataclasses.replace(app.config["CONFIDE"], support=SupportSettings(ack_hours=own))
    monkeypatch.setitem(app.config, "CONFIDE", settings)
    case = case_of(submit_support(client, narrative=narrative))
    assert case.level == (2 if narrative else 3)
    assert case.ack_due_at - case.created_at == timedelta(hours=expected)


def test_the_status_page_gives_her_own_target(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = dataclasses.replace(app.config["CONFIDE"], support=SupportSettings(ack_hours=48))
    monkeypatch.setitem(app.config, "CONFIDE", settings)
    page = open_status(client, receipt_from(submit_support(client))).get_data(as_text=True)
    assert "should read it within 48 hours of when you sent it" in page


def test_over_the_limits_it_comes_back_whole_and_in_danger_it_is_filed(limited: FlaskClient) -> None:  # noqa: F811
    while (refused := submit_support(limited, narrative="I feel worn out & <alone>")).status_code != 429:
        pass
    body = refused.get_data(as_text=True)
    assert "Too many requests have come from this connection in a short time." in body
    assert "I feel worn out &amp; &lt;alone&gt;" in body
    assert body.index('href="tel:911"') < body.index("Nothing you wrote is lost")
    response = submit_support(limited, narrative=NARRATIVE)
    assert response.status_code == 200
    case = case_of(response)
    assert case.level == 0 and "over_limit" in case.signals


def test_an_expired_form_comes_back_whole_unless_it_signals_danger(client: FlaskClient) -> None:
    client.get("/talk")
    refused = client.post("/talk", data=support_answers(narrative="Just tired, nothing urgent", csrf_token="old"))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "For your safety this page expired before it was sent." in body and "Just tired, nothing urgent" in body
    assert cases() == 0
    filed = client.post("/talk", data=support_answers(narrative=NARRATIVE, csrf_token="old"))
    assert filed.status_code == 200
    case = case_of(filed)
    assert case.level == 0 and "form_expired" in case.signals


def test_a_request_sent_twice_is_kept_once(client: FlaskClient) -> None:
    page = client.get("/talk").get_data(as_text=True)
    data = {**hidden_fields(page), **support_answers()}
    first, again = client.post("/talk", data=data), client.post("/talk", data=data)
    assert first.status_code == again.status_code == 200
    assert "Your request was sent twice, and we kept it once." in again.get_data(as_text=True)
    assert receipt_from(first) == receipt_from(again) and cases() == 1


def test_the_form_reads_in_another_language_with_what_she_wrote(client: FlaskClient) -> None:
    page = client.get("/talk").get_data(as_text=True)
    switched = client.post(
        "/talk/language",
        data={**hidden_fields(page), **support_answers(narrative="Estoy cansada & sola"), "switch_language": "es"},
    )
    body = switched.get_data(as_text=True)
    assert switched.status_code == 200 and '<html lang="es"' in body
    assert "Estoy cansada &amp; sola" in body and cases() == 0


def test_the_status_page_speaks_of_her_request(client: FlaskClient) -> None:
    receipt = receipt_from(submit_support(client, narrative="Can we talk about a client who scares me?"))
    page = open_status(client, receipt).get_data(as_text=True)
    assert "<h1>My request</h1>" in page and "What is on your mind?" in page
    assert "Can we talk about a client who scares me?" in page
    assert "What happened?" not in page and "More information for my report" not in page
    assert "A trained peer responder may read what I write and reply to me." in page
    assert 'href="/status/report"' in page
    # Everything she writes is a message: there is no report to add to.
    client.post("/status/message", data={**hidden_fields(page), "body": "Thank you", "kind": "information"})
    assert [m.kind for m in db.session.scalars(select(Message))] == ["message"]
