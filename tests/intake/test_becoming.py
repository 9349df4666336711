"""A support request turned into an incident report by the reporter, from /status, without
retyping: the same case, receipt and conversation; read again by triage; counted as a report
then; announced; and never done by a form she did not send from her own page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cases.consent import current_consent
from app.cases.models import Case, Message, ReportTally
from app.cases.tallies import answer_reader
from app.casework.services import acknowledge
from app.extensions import db
from app.intake.finding import find_case_by_receipt
from app.models import utcnow
from app.notify.models import Notification
from app.triage.models import RoutingRound
from app.triage.routing import route_case
from app.triage.targets import ack_hours
from tests.cases.test_queue import signed_in
from tests.factories import make_staff
from tests.helpers import form_values, hidden_fields, open_status, receipt_from, submit_report, submit_support
from tests.notify.test_paging import NARRATIVE
from tests.triage.test_routing import responder, trained

WORDS = "A client keeps asking me for 'extras' & I feel <uneasy>. I want to talk first."


def fresh(case_id: str) -> Case:
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    assert case is not None
    return case


def support_request(client: FlaskClient, **answers: Any) -> tuple[str, str]:
    """A support request filed and opened with its receipt in ``client``: (receipt, case id)."""
    receipt = receipt_from(submit_support(client, **answers))
    case_id = find_case_by_receipt(receipt)
    assert case_id is not None
    assert open_status(client, receipt).status_code == 200
    return receipt, case_id


def the_form(client: FlaskClient) -> dict[str, list[str]]:
    page = client.get("/status/report")
    assert page.status_code == 200
    return form_values(page.get_data(as_text=True), "/status/report")


def tallies(kind: str) -> dict[tuple[str, str], int]:
    """The tallies of ``kind``, sealed answers read back as the figures read them."""
    read = answer_reader(kind)
    rows = db.session.scalars(select(ReportTally).where(ReportTally.kind == kind))
    return {(row.question, read(row.month, row.question, row.answer)): row.count for row in rows}


def became(case_id: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.case_id == case_id, AuditEntry.action == "case_became_report")
        )
    )


def test_she_turns_her_request_into_a_report_without_retyping(app: Flask, client: FlaskClient) -> None:
    maple = responder(pseudonym="Maple")
    receipt, case_id = support_request(
        client, narrative=WORDS, identity="named", name="Mina", phone="860-555-0100", contact_phone="y"
    )
    route_case(case_id)
    client.post(
        "/status/message", data={**hidden_fields(client.get("/status/case").get_data(as_text=True)), "body": "Hello?"}
    )

    page = client.get("/status/report").get_data(as_text=True)
    assert "<h1>Turn it into a report</h1>" in page
    typed = form_values(page, "/status/report")
    # What she wrote, how to reach her and her choices are already there.
    assert typed["narrative"] == [WORDS]
    assert typed["name"] == ["Mina"] and typed["phone"] == ["860-555-0100"] and typed["identity"] == ["named"]
    assert typed["contact_phone"] == ["y"] and typed["peer_support"] == ["y"] and "legal_referral" not in typed
    # She adds what a report needs.
    answer = client.post(
        "/status/report", data={**typed, "category": "sexual_assault", "perpetrator": "client", "when": "week"}
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/status/case#report")
    shown = client.get("/status/case").get_data(as_text=True)
    assert "<h1>My report</h1>" in shown and "Your request is now a report." in shown
    assert "Other sexual assault or unwanted sexual contact" in shown and 'href="/status/report"' not in shown

    case = fresh(case_id)
    assert (case.kind, case.category, case.assigned_to_id) == ("report", "sexual_assault", maple.id)
    assert case.became_report_at is not None and case.is_named
    assert case.level == 1, "recent sexual violence, read again by triage"
    assert find_case_by_receipt(receipt) == case_id, "the same receipt opens it"
    assert [m.author for m in db.session.scalars(select(Message))] == ["reporter"], "the same conversation"
    assert current_consent(case_id)["contact_phone"]
    # Counted as a report now; its count as a support request stays.
    assert tallies("report")[("category", "sexual_assault")] == 1 and tallies("report")[("when", "week")] == 1
    assert tallies("support")[("level", "L3")] == 1
    [entry] = became(case_id)
    assert entry.actor_role == "reporter" and entry.detail["level_before"] == 3 and entry.detail["level"] == 1
    assert entry.detail["notified"] == [maple.id]
    assert db.session.scalar(select(Notification.urgent).where(Notification.kind == "became_report")) is True

    staff = signed_in(app, make_staff("coordinator"))
    case_page = staff.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Turned the support request into an incident report. Read again by triage: now L1, from L3." in case_page
    assert "Began as a support request" in case_page and str(escape(WORDS)) in case_page

    # Once a report, there is nothing more to turn into one.
    again = client.get("/status/report")
    assert again.status_code == 303 and again.headers["Location"].endswith("/status/case")
    assert client.post("/status/report", data={**typed, "category": "other"}).status_code == 303
    assert len(became(case_id)) == 1 and fresh(case_id).category == "sexual_assault"


def test_a_responder_not_trained_for_the_report_gives_it_back(app: Flask, client: FlaskClient) -> None:
    maple = trained(make_staff("responder", pseudonym="Maple"), "exploitation")
    _, case_id = support_request(client, narrative=WORDS)
    route_case(case_id)
    assert fresh(case_id).assigned_to_id == maple.id, "any training will do for a support request"
    birch = trained(make_staff("responder", pseudonym="Birch"), "sexual_assault")

    answer = client.post("/status/report", data={**the_form(client), "category": "sexual_assault", "when": "week"})
    assert answer.status_code == 303
    case = fresh(case_id)
    assert (case.kind, case.assigned_to_id, case.routing_state) == ("report", None, "rerouting")
    assert case.ack_due_at <= utcnow() + timedelta(hours=ack_hours(case.level, "report")), "the report's deadline"
    assert route_case(case_id) == "assigned" and fresh(case_id).assigned_to_id == birch.id
    told = {(note.staff_id, note.kind) for note in db.session.scalars(select(Notification))}
    assert (maple.id, "unassigned") in told and (maple.id, "became_report") not in told

    staff = signed_in(app, make_staff("coordinator"))
    page = staff.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "in a category they are not trained for, so it is routed again" in page


def test_a_responder_who_acknowledged_it_keeps_it_and_the_coordinators_decide(app: Flask, client: FlaskClient) -> None:
    maple = trained(make_staff("responder", pseudonym="Maple"), "exploitation")
    ana = make_staff("coordinator")
    _, case_id = support_request(client, narrative=WORDS)
    route_case(case_id)
    acknowledge(maple.user, fresh(case_id))
    client.post("/status/report", data={**the_form(client), "category": "sexual_assault", "when": "week"})
    assert fresh(case_id).assigned_to_id == maple.id, "she and her peer are talking already"
    told = {(note.staff_id, note.kind) for note in db.session.scalars(select(Notification))}
    assert (ana.id, "untrained_holder") in told
    page = signed_in(app, ana).get(f"/cases/{case_id}").get_data(as_text=True)
    assert "(Maple) has no current training for this category: coordinators, decide who keeps it." in page


def test_a_responder_trained_for_the_report_keeps_it(client: FlaskClient) -> None:
    maple = trained(make_staff("responder"), "threats")
    _, case_id = support_request(client, narrative=WORDS)
    route_case(case_id)
    client.post("/status/report", data={**the_form(client), "category": "threats"})
    assert fresh(case_id).assigned_to_id == maple.id


def test_a_level_never_goes_down(client: FlaskClient) -> None:
    _, case_id = support_request(client, narrative=NARRATIVE)
    assert fresh(case_id).level == 0
    answer = client.post(
        "/status/report", data={**the_form(client), "narrative": "It is over now.", "category": "other"}
    )
    assert answer.status_code == 303
    case = fresh(case_id)
    assert case.kind == "report" and case.level == 0


def test_danger_told_in_the_report_is_answered_at_once(app: Flask, client: FlaskClient) -> None:
    ana = make_staff("coordinator", on_duty=True)
    maple = responder()
    _, case_id = support_request(client)
    route_case(case_id)
    before = fresh(case_id)
    assert before.level == 3 and before.ack_due_at - before.created_at == timedelta(hours=72)

    answer = client.post("/status/report", data={**the_form(client), "category": "threats", "danger_now": "yes"})
    assert answer.status_code == 303
    case = fresh(case_id)
    assert case.level == 0 and "danger_answer" in case.signals
    # A sooner deadline for whoever has it, the round too; the on-call coordinator is told now.
    assert case.ack_due_at <= utcnow() + timedelta(hours=1)
    current = db.session.scalars(select(RoutingRound).where(RoutingRound.case_id == case_id)).one()
    assert current.due_at == case.ack_due_at and current.staff_id == maple.id
    urgent = db.session.scalars(select(Notification).where(Notification.urgent.is_(True))).all()
    assert {(note.staff_id, note.kind) for note in urgent} == {(ana.id, "urgent"), (maple.id, "became_report")}
    page = client.get("/status/case").get_data(as_text=True)
    assert page.index('href="tel:911"') < page.index('id="status"')


def test_a_forged_post_cannot_turn_her_request_into_a_report(app: Flask, client: FlaskClient) -> None:
    _, case_id = support_request(client, narrative=WORDS)
    forged = {key: value for key, value in the_form(client).items() if key != "csrf_token"}
    forged.update(category="other", narrative="Written by someone else")

    # Her own browser, made to post by another page: no token, or a token of another session.
    for token in ({}, {"csrf_token": hidden_fields(signed_out_page(app))["csrf_token"]}):
        refused = client.post("/status/report", data={**forged, **token})
        body = refused.get_data(as_text=True)
        assert refused.status_code == 400 and "For your safety this page expired" in body
        assert "Written by someone else" in body  # given back to her, never acted on
    # With no session of hers (a browser the receipt never opened), the receipt page.
    stranger = app.test_client()
    refused = stranger.post(
        "/status/report", data={**forged, "csrf_token": hidden_fields(signed_out_page(app))["csrf_token"]}
    )
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/status")
    # Another reporter's own session turns her own case only.
    other = app.test_client()
    _, other_id = support_request(other)
    assert other.post("/status/report", data={**the_form(other), "category": "other"}).status_code == 303
    assert fresh(other_id).kind == "report"

    case = fresh(case_id)
    assert case.kind == "support" and case.category == "support" and not became(case_id)
    # Only the other case is counted as a report.
    assert sum(n for (question, _), n in tallies("report").items() if question == "category") == 1


def signed_out_page(app: Flask) -> str:
    return app.test_client().get("/status").get_data(as_text=True)


def test_answers_that_need_another_look_come_back_whole_unless_in_danger(client: FlaskClient) -> None:
    _, case_id = support_request(client, narrative=WORDS)
    typed = the_form(client)
    refused = client.post("/status/report", data=typed)  # no category
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "Some answers need another look." in body and "Please choose what comes closest." in body
    assert form_values(body, "/status/report")["narrative"] == [WORDS]
    assert fresh(case_id).kind == "support"
    # In danger, it is taken with what can be used.
    taken = client.post("/status/report", data={**typed, "narrative": NARRATIVE})
    assert taken.status_code == 303
    case = fresh(case_id)
    assert (case.kind, case.category, case.level) == ("report", "other", 0) and "form_errors" in case.signals


def test_the_form_reads_in_another_language_with_what_she_wrote(client: FlaskClient) -> None:
    _, case_id = support_request(client, narrative=WORDS)
    switched = client.post("/status/report/language", data={**the_form(client), "switch_language": "es"})
    body = switched.get_data(as_text=True)
    assert switched.status_code == 200 and '<html lang="es"' in body
    assert form_values(body, "/status/report")["narrative"] == [WORDS]
    assert fresh(case_id).kind == "support"


def test_a_report_has_nothing_to_turn_into(client: FlaskClient) -> None:
    receipt = receipt_from(submit_report(client))
    page = open_status(client, receipt).get_data(as_text=True)
    assert 'href="/status/report"' not in page
    answer = client.get("/status/report")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/status/case")
