"""A reporter who does not want a peer responder to read her report is taken at her word:
the report, what she added and the conversation stay with the coordinators."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.consent import record_consent
from app.cases.models import Case, Message
from app.casework.services import CaseActionError, assign, view_case
from app.extensions import db
from app.intake.services import change_consent
from app.notify.models import Notification
from app.triage.routing import route_case
from tests.cases.test_case_page import act, as_reporter, notices, open_case, signed_in
from tests.factories import Staff, make_case, make_staff, sign_in
from tests.helpers import hidden_fields, open_status, receipt_from, submit_report
from tests.triage.test_races import just_before
from tests.triage.test_routing import responder


def case_row() -> Case:
    db.session.expire_all()
    return db.session.scalars(select(Case)).one()


def test_withdrawing_peer_support_takes_the_case_from_its_responder(app: Flask, client: FlaskClient) -> None:
    maple = responder(pseudonym="Maple")
    heron = make_staff("coordinator", pseudonym="Heron")
    reporter = app.test_client()
    receipt = receipt_from(submit_report(reporter, narrative="The owner keeps my passport."))
    case = case_row()
    assert route_case(case.id) == "assigned" and case_row().assigned_to_id == maple.id
    page = open_status(reporter, receipt).get_data(as_text=True)
    added = {**hidden_fields(page), "body": "He also took my phone.", "kind": "information"}
    assert reporter.post("/status/message", data=added).status_code == 303

    page = reporter.get("/status/case").get_data(as_text=True)
    choices = {k: v for k, v in hidden_fields(page).items() if k == "csrf_token"}
    # Every box unticked but the record: no peer support any more.
    assert reporter.post("/status/consent", data=choices).status_code == 303

    case = case_row()
    assert case.assigned_to_id is None and case.routing_state == "coordinators"
    kinds = {(n.staff_id == maple.id, n.kind) for n in db.session.scalars(select(Notification))}
    assert (True, "unassigned") in kinds and (False, "no_peer_support") in kinds
    # Maple can no longer open it; a coordinator sees all of it, the addition too.
    sign_in(client, maple)
    assert client.get(f"/cases/{case.id}").status_code == 404
    coordinator = app.test_client()
    sign_in(coordinator, heron)
    html = coordinator.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "The owner keeps my passport." in html and "He also took my phone." in html


def test_a_report_without_peer_support_goes_to_the_coordinators(app: Flask) -> None:
    maple = responder(pseudonym="Maple")
    submit_report(app.test_client(), peer_support=None)
    case = case_row()
    assert route_case(case.id) == "coordinators"
    with pytest.raises(CaseActionError, match="not agreed"):
        assign(make_staff("coordinator").user, case_row(), maple.id)


def holding_after_withdrawal(app: Flask) -> tuple[Staff, Case, FlaskClient]:
    """A case still in a responder's hands after its reporter withdrew consent to peer support
    (as when a coordinator's reassignment crosses the withdrawal): the reporter added to her
    report and wrote a message first. Returns the responder, the case and the reporter's browser."""
    maple = responder(pseudonym="Maple")
    case = make_case(assigned_to=maple, narrative="The owner keeps my passport.")
    reporter = as_reporter(app, case)
    for kind, body in (("information", "He also took my phone."), ("message", "Please write after six.")):
        page = reporter.get("/status/case").get_data(as_text=True)
        sent = reporter.post("/status/message", data={**hidden_fields(page), "kind": kind, "body": body})
        assert sent.status_code == 303
    record_consent(case.id, {"peer_support": False}, source="status")
    db.session.commit()
    assert case_row().assigned_to_id == maple.id
    return maple, case, reporter


def test_a_responder_still_holding_the_case_sees_nothing_the_reporter_wrote(app: Flask) -> None:
    maple, case, _ = holding_after_withdrawal(app)
    html = open_case(signed_in(app, maple), case)
    assert "has not agreed that a peer responder reads this report" in html
    for written in ("The owner keeps my passport.", "He also took my phone.", "Please write after six."):
        assert written not in html
    # Not on this page, nor on any other drawn from what the service hands a responder.
    view = view_case(maple.user, case_row())
    assert view.withheld and view.content.narrative == "" and view.messages == [] and view.notes == []
    # A coordinator still reads all of it.
    html = open_case(signed_in(app, make_staff("coordinator")), case)
    assert "He also took my phone." in html and "Please write after six." in html


def test_a_responder_still_holding_the_case_cannot_write_to_the_reporter(app: Flask) -> None:
    maple, case, reporter = holding_after_withdrawal(app)
    browser = signed_in(app, maple)
    page = open_case(browser, case)
    tokens = hidden_fields(page)
    # The page offers no message box; a message posted all the same is refused.
    assert "message-body" not in page
    sent = browser.post(
        f"/cases/{case.id}/message",
        data={**tokens, "message-csrf_token": tokens["csrf_token"], "message-body": "Can we talk tonight?"},
        follow_redirects=True,
    )
    refused = ("error", "The reporter has not agreed that a peer responder talks with them.")
    assert sent.status_code == 200 and refused in notices(sent.get_data(as_text=True))
    assert "Can we talk tonight?" not in reporter.get("/status/case").get_data(as_text=True)
    assert [m.author for m in db.session.scalars(select(Message))] == ["reporter", "reporter"]


def test_a_case_a_coordinator_gave_a_responder_leaves_her_when_peer_support_is_withdrawn(
    app: Flask, client: FlaskClient
) -> None:
    heron = make_staff("coordinator", pseudonym="Heron")
    reporter = app.test_client()
    receipt = receipt_from(submit_report(reporter, narrative="The owner keeps my passport."))
    # Nobody on duty: the case waits in the coordinators' queue, and a coordinator gives it on.
    assert route_case(case_row().id) == "coordinators"
    maple = responder(pseudonym="Maple")
    case = case_row()
    coordinator = signed_in(app, heron)
    given = act(coordinator, case, "assign", **{"assign-staff_id": maple.id})
    assert ("success", "Reassigned.") in notices(given.get_data(as_text=True))
    assert case_row().assigned_to_id == maple.id
    browser = signed_in(app, maple)
    her_page = open_case(browser, case)
    assert "The owner keeps my passport." in her_page

    open_status(reporter, receipt)
    page = reporter.get("/status/case").get_data(as_text=True)
    choices = {k: v for k, v in hidden_fields(page).items() if k == "csrf_token"}
    assert reporter.post("/status/consent", data=choices).status_code == 303

    case = case_row()
    assert case.assigned_to_id is None and case.routing_state == "coordinators"
    kinds = {(n.staff_id, n.kind) for n in db.session.scalars(select(Notification))}
    assert (maple.id, "unassigned") in kinds and (heron.id, "no_peer_support") in kinds
    assert browser.get(f"/cases/{case.id}").status_code == 404
    # A reply from the page she still has open reaches no one.
    reply = {**hidden_fields(her_page), "message-body": "Still there?"}
    assert browser.post(f"/cases/{case.id}/message", data=reply).status_code == 404
    assert db.session.scalars(select(Message)).all() == []
    # Nor can the coordinator give it back to her.
    assert f'value="{maple.id}"' not in open_case(coordinator, case)
    again = act(coordinator, case, "assign", **{"assign-staff_id": maple.id})
    assert case_row().assigned_to_id is None and "Reassigned." not in again.get_data(as_text=True)


def test_a_withdrawal_while_a_coordinator_gives_the_case_on_still_takes_it_from_the_responder(app: Flask) -> None:
    # She withdraws after the coordinator's click has read her consent, before it lands: the
    # withdrawal waits for the assignment, then takes the case back.
    heron, maple = make_staff("coordinator", pseudonym="Heron"), responder(pseudonym="Maple")
    case = make_case(narrative="The owner keeps my passport.")
    withdrawn = threading.Event()

    def withdraw() -> None:
        with app.app_context():
            change_consent(case.id, {"peer_support": False})
            db.session.remove()
        withdrawn.set()

    def her_click() -> None:
        threading.Thread(target=withdraw, daemon=True).start()
        withdrawn.wait(1.0)  # while the case's row is held, she waits for it

    with just_before("UPDATE cases SET updated_at", her_click):  # the assignment itself
        assign(heron.user, case, maple.id)
    assert withdrawn.wait(10)
    db.session.expire_all()
    after = case_row()
    assert after.assigned_to_id is None and after.routing_state == "coordinators"
    kinds = {(n.staff_id, n.kind) for n in db.session.scalars(select(Notification))}
    assert (maple.id, "unassigned") in kinds
