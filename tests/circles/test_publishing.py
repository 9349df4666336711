"""Coordinators publish, change and cancel circles on the staff pages; the time is the one they
typed, in the program's time zone; the audit log keeps every change without its words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.circles.models import Circle, CircleRequest
from app.circles.rules import standard_rules_text
from app.extensions import db
from tests.circles.factories import LINK, PLACE, ask, make_circle
from tests.factories import Staff, make_staff, sign_in
from tests.helpers import hidden_fields

ZONE = ZoneInfo("America/New_York")


def _next_year() -> int:
    return datetime.now(UTC).year + 1


def _form(client: FlaskClient, path: str, **answers: Any) -> dict[str, Any]:
    """The form at ``path`` as the page fills it in, with ``answers`` typed over it."""
    html = client.get(path).get_data(as_text=True)
    return {**hidden_fields(html), **answers}


def _publish(client: FlaskClient, chosen: Staff, **answers: Any) -> Any:
    year = _next_year()
    data = _form(
        client,
        "/staff/circles/new",
        title="Summer evening circle",
        language="es",
        format="online",
        link=LINK,
        place="Passcode 4471",
        day=f"{year}-07-14",
        time="18:30",
        minutes="90",
        capacity="10",
        facilitator=chosen.id,
        ground_rules=standard_rules_text(),
    )
    return client.post("/staff/circles/new", data={**data, **answers})


def test_a_coordinator_publishes_a_circle_at_the_time_typed_in_the_program_zone(
    app: Flask, client: FlaskClient
) -> None:
    coordinator = make_staff("coordinator")
    willow = make_staff("responder", name="Willow Facilitator")
    sign_in(client, coordinator)
    published = _publish(client, willow)
    assert published.status_code == 303, published.get_data(as_text=True)[-2000:]
    circle = db.session.scalars(select(Circle)).one()
    year = _next_year()
    # 18:30 in New York in July is 22:30 UTC (summer time).
    assert circle.starts_at == datetime(year, 7, 14, 22, 30, tzinfo=UTC)
    assert circle.facilitator_id == willow.id and circle.capacity == 10 and circle.language == "es"
    assert circle.ground_rules == "", "rules left as they are stay the standard ones, translated"
    assert LINK.encode() not in circle.where_sealed and b"4471" not in circle.where_sealed

    # Listed for therapists, at the time typed, in their language; the standard rules in Spanish.
    client.get("/language/es?next=/circles")
    listed = client.get("/circles").get_data(as_text=True)
    assert "Summer evening circle" in listed and "18:30" in listed and "Español" in listed
    page = client.get(f"/circles/{circle.id}").get_data(as_text=True)
    assert "Lo que se dice en el círculo" in page

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "circle_published")).one()
    assert entry.actor_id == coordinator.id and entry.detail["circle"] == circle.id
    assert "Summer" not in str(entry.detail) and LINK not in str(entry.detail)


def test_the_form_refuses_what_cannot_be_a_circle(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    sign_in(client, coordinator)
    year = _next_year()
    cases = [
        ({"link": ""}, "An online circle needs the link"),
        ({"link": "javascript:alert(1)"}, "starting with https://"),
        ({"format": "in_person", "place": ""}, "needs its address"),
        # The clocks skip 2:00 to 3:00 on the second Sunday of March in New York.
        ({"day": _second_sunday_of_march(year), "time": "02:30"}, "does not exist"),
        ({"day": "2020-01-01"}, "later than now"),
        ({"facilitator": make_staff("counsel").id}, "Not a valid choice"),
    ]
    for answers, problem in cases:
        response = _publish(client, coordinator, **answers)
        assert response.status_code == 400, answers
        assert problem in response.get_data(as_text=True), (answers, problem)
    assert db.session.scalars(select(Circle)).all() == []


def _second_sunday_of_march(year: int) -> str:
    day = datetime(year, 3, 8)
    while day.weekday() != 6:
        day += timedelta(days=1)
    return day.date().isoformat()


def test_editing_changes_the_circle_and_tells_those_who_asked(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    circle = make_circle(by=coordinator, online=False, place=PLACE, capacity=1)
    ask(app.test_client(), circle.id, name="Ana", email="ana@example.org")
    ask(app.test_client(), circle.id, name="Bea", email="bea@example.org")
    sign_in(client, coordinator)
    path = f"/staff/circles/{circle.id}/edit"
    form = _form(client, path)
    assert form["csrf_token"] and PLACE in client.get(path).get_data(as_text=True)
    before = circle.starts_at
    local = before.astimezone(ZONE) + timedelta(days=1)
    edited = client.post(
        path,
        data={
            **form,
            "title": "Evening circle, moved",
            "language": "en",
            "format": "in_person",
            "place": "Room 3, 12 Elm Street",
            "day": local.date().isoformat(),
            "time": local.strftime("%H:%M"),
            "minutes": "60",
            "capacity": "2",
            "facilitator": coordinator.id,
            "ground_rules": "No names.\nLeave when you like.",
        },
    )
    assert edited.status_code == 303, edited.get_data(as_text=True)[-2000:]
    db.session.expire_all()
    changed = db.session.get(Circle, circle.id)
    assert changed is not None and changed.starts_at == before + timedelta(days=1) and changed.minutes == 60
    page = client.get(f"/circles/{circle.id}").get_data(as_text=True)
    assert "Evening circle, moved" in page and "No names." in page and "Room 3" not in page
    # Ana is to be told of the change; a second place opened, and Bea, who waited, is to be
    # told it is hers (the new time with it).
    ana, bea = db.session.scalars(select(CircleRequest).order_by(CircleRequest.position)).all()
    assert ana.seated and ana.notice == "changed"
    assert bea.seated and bea.notice == "seated"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "circle_changed")).one()
    assert set(entry.detail["fields"]) >= {"title", "where", "starts_at", "minutes", "capacity", "ground_rules"}
    assert "Elm" not in str(entry.detail)


def test_cancelling_takes_the_circle_off_the_list(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    circle = make_circle(by=coordinator, title="Morning circle")
    sign_in(client, coordinator)
    page = client.get(f"/staff/circles/{circle.id}").get_data(as_text=True)
    cancelled = client.post(f"/staff/circles/{circle.id}/cancel", data=hidden_fields(page))
    assert cancelled.status_code == 303
    assert "Morning circle" not in client.get("/circles").get_data(as_text=True)
    assert "(cancelled)" in client.get("/staff/circles").get_data(as_text=True)
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("circle_%")).order_by(AuditEntry.id)
    ).all()
    # The coordinator facilitates it too: opening its page showed her the names, on the record.
    assert actions == ["circle_published", "circle_viewed", "circle_cancelled"]
