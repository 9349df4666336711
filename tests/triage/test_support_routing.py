"""Support requests are routed to on-duty responders by language: any current training record
qualifies a trained peer; the reassign list and "why nobody" say so; their own deadline holds."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.config import SupportSettings
from app.extensions import db
from app.triage.models import RoutingRound
from app.triage.routing import check_deadline, route_case
from tests.cases.test_case_page import open_case, signed_in
from tests.factories import make_case, make_staff, make_support_request
from tests.triage.test_routing import fresh, trained


def test_any_current_training_qualifies_a_peer_who_speaks_her_language(app: Flask) -> None:
    # Each is passed by for one reason; the last fits: Spanish, on duty, trained in one category.
    trained(make_staff("responder", languages=("en",)), "exploitation")  # no Spanish
    make_staff("responder", languages=("es",))  # no training at all
    lapsed = make_staff("responder", languages=("es",))
    trained(lapsed, "all", expires=date.today() - timedelta(days=1), completed=date.today() - timedelta(days=400))
    trained(make_staff("responder", languages=("es",), on_duty=False), "all")  # off duty
    rosa = trained(make_staff("responder", languages=("en", "es")), "exploitation")
    request = make_support_request(language="es")
    assert route_case(request.id) == "assigned"
    assert fresh(request).assigned_to_id == rosa.id
    # A report in another category is not hers: her training is for exploitation only.
    report = make_case(category="sexual_harassment", language="es")
    assert route_case(report.id) == "coordinators"


def test_why_nobody_and_the_reassign_list_speak_of_any_training(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    make_staff("responder", name="Untrained Realname", languages=("ko",))
    request = make_support_request(language="ko")
    assert route_case(request.id) == "coordinators"
    [reason] = db.session.scalars(select(RoutingRound.reason).where(RoutingRound.case_id == request.id)).all()
    assert reason == "training"

    browser = signed_in(app, coordinator)
    page = unescape(open_case(browser, request))
    shown = re.search(r'<p class="notice" id="nobody-eligible">(.*?)</p>', page, re.S)
    words = "no responder on duty who speaks Korean has any current training"
    assert shown and shown.group(1).startswith(f"Nobody eligible: {words} (when it was last routed).")
    assert f"Nobody eligible (round 1): {words}; left with the coordinators." in page
    assert "for this category" not in page
    listed = unescape(browser.get(f"/cases/{request.id}?reassign=1").get_data(as_text=True))
    assert "Untrained Realname, responder — no current training<" in listed
    assert "any current training, under their cap" in listed


def test_a_missed_deadline_routes_it_again_with_its_own_target(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = dataclasses.replace(app.config["CONFIDE"], support=SupportSettings(ack_hours=48))
    monkeypatch.setitem(app.config, "CONFIDE", settings)
    first = trained(make_staff("responder"), "threats")
    request = make_support_request()
    assert route_case(request.id) == "assigned"
    due = fresh(request).ack_due_at
    assert due - fresh(request).created_at == timedelta(hours=48)
    second = trained(make_staff("responder"), "rape")
    assert check_deadline(request.id, 1, now=due + timedelta(minutes=1)) == "assigned"
    assert fresh(request).assigned_to_id == second.id != first.id
    [_, again] = db.session.scalars(
        select(RoutingRound).where(RoutingRound.case_id == request.id).order_by(RoutingRound.number)
    ).all()
    assert again.due_at - again.started_at == timedelta(hours=48)
