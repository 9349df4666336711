"""A reporter who does not want a peer responder to read her report is taken at her word:
the report, what she added and the conversation stay with the coordinators."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.models import Case
from app.casework.services import CaseActionError, assign
from app.extensions import db
from app.notify.models import Notification
from app.triage.routing import route_case
from tests.factories import make_staff, sign_in
from tests.helpers import hidden_fields, open_status, receipt_from, submit_report
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
