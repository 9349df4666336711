"""The facilitator sees the names people chose for their circle, and the count; a coordinator
sees the count; another responder sees nothing of it, and the attempt is on the record."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from tests.circles.factories import LINK, ask, make_circle
from tests.factories import make_staff, sign_in


def test_the_facilitator_sees_the_chosen_names_and_the_count(app: Flask, client: FlaskClient) -> None:
    willow = make_staff("responder", pseudonym="Willow")
    circle = make_circle(facilitator=willow, capacity=2)
    for name in ("Rosa", "Mina", "Lupe"):
        ask(app.test_client(), circle.id, name=name, email=f"{name.lower()}@example.org")
    sign_in(client, willow)
    listed = client.get("/staff/circles").get_data(as_text=True)
    assert "Evening circle" in listed and "2 of 2" in listed
    page = client.get(f"/staff/circles/{circle.id}").get_data(as_text=True)
    assert "Rosa" in page and "Mina" in page and "Lupe</bdi> (waiting for a place)" in page
    assert "2 of 2 taken; 1 waiting" in page
    assert "@example.org" not in page, "only the names they chose, never their email"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "circle_viewed")).one()
    assert entry.actor_id == willow.id and "Rosa" not in str(entry.detail)


def test_a_coordinator_sees_the_count_but_not_the_names(app: Flask, client: FlaskClient) -> None:
    willow = make_staff("responder")
    circle = make_circle(facilitator=willow)
    ask(app.test_client(), circle.id, name="Rosa")
    sign_in(client, make_staff("coordinator"))
    page = client.get(f"/staff/circles/{circle.id}").get_data(as_text=True)
    assert "1 of 8 taken; 0 waiting" in page
    assert "Rosa" not in page and "Only the facilitator sees the names" in page
    assert LINK in page, "coordinators keep the circle's details"


def test_another_responder_sees_nothing_of_the_circle(app: Flask, client: FlaskClient) -> None:
    circle = make_circle(facilitator=make_staff("responder"))
    ask(app.test_client(), circle.id, name="Rosa")
    other = make_staff("responder")
    sign_in(client, other)
    assert "Evening circle" not in client.get("/staff/circles").get_data(as_text=True)
    refused = client.get(f"/staff/circles/{circle.id}")
    assert refused.status_code == 404 and "Rosa" not in refused.get_data(as_text=True)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "access_denied")).one()
    assert entry.actor_id == other.id and entry.detail["circle"] == circle.id
