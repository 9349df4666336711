"""A therapist asks for a circle's link or place: shown to her then, and with her code later,
and to nobody else; a full circle gives a place in the queue, and a place given up goes to the
next in it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.circles.models import CircleRequest
from app.circles.sealing import open_name
from app.extensions import db
from app.notify.models import Notification
from tests.circles.factories import LINK, PLACE, ask, code_from, make_circle, open_code
from tests.factories import make_staff
from tests.helpers import hidden_fields


def _requests() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(CircleRequest)) or 0


def test_the_link_is_shown_after_asking_and_nowhere_before(app: Flask, client: FlaskClient) -> None:
    circle = make_circle(title="Tuesday talk")
    listed = client.get("/circles").get_data(as_text=True)
    assert "Tuesday talk" in listed
    page = client.get(f"/circles/{circle.id}").get_data(as_text=True)
    form = client.get(f"/circles/{circle.id}/ask").get_data(as_text=True)
    calendar = client.get(f"/circles/{circle.id}/calendar.ics").get_data(as_text=True)
    for shown in (listed, page, form, calendar):
        assert LINK not in shown and "meet.example.org" not in shown

    answer = ask(client, circle.id, name="Rosa")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "You have a place" in html and f'href="{LINK}"' in html
    code = code_from(answer)

    # Another browser, with no code, sees no more than before; with the code, the link.
    other = app.test_client()
    assert LINK not in other.get(f"/circles/{circle.id}").get_data(as_text=True)
    again = open_code(other, code)
    assert again.status_code == 200 and LINK in again.get_data(as_text=True)
    wrong = open_code(other, "1234-5678-9012-3456-7890")
    assert wrong.status_code == 400 and LINK not in wrong.get_data(as_text=True)
    assert "could not find a request" in wrong.get_data(as_text=True)


def test_a_place_in_person_is_shown_only_to_those_who_ask(app: Flask, client: FlaskClient) -> None:
    circle = make_circle(online=False, place=PLACE)
    assert "Quiet Lane" not in client.get(f"/circles/{circle.id}").get_data(as_text=True)
    html = ask(client, circle.id).get_data(as_text=True)
    assert PLACE in html and "Join the meeting" not in html


def test_a_forged_request_without_the_form_token_keeps_nothing_and_shows_nothing(
    app: Flask, client: FlaskClient
) -> None:
    circle = make_circle()
    # A page elsewhere makes her browser post the form: it has no CSRF token to send.
    forged = client.post(f"/circles/{circle.id}/ask", data={"name": "Planted"})
    assert forged.status_code == 400
    html = forged.get_data(as_text=True)
    assert LINK not in html and "circle-code" not in html
    assert "page expired" in html and 'value="Planted"' in html, "her form is given back, nothing kept"
    assert _requests() == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    # Nor can a forged post show a request, or give up a place, by its code.
    code = code_from(ask(client, circle.id))
    fresh = app.test_client()
    for url in ("/circles/code", "/circles/code/leave"):
        response = fresh.post(url, data={"code": code})
        assert response.status_code == 400 and LINK not in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalars(select(CircleRequest)).one().withdrawn is False


def test_a_form_sent_twice_keeps_one_request_and_shows_the_same_code(app: Flask, client: FlaskClient) -> None:
    circle = make_circle()
    page = client.get(f"/circles/{circle.id}/ask").get_data(as_text=True)
    data = {**hidden_fields(page), "name": "Mina"}
    first = client.post(f"/circles/{circle.id}/ask", data=data)
    second = client.post(f"/circles/{circle.id}/ask", data=data)
    assert code_from(first) == code_from(second)
    assert 'id="shown-again"' in second.get_data(as_text=True)
    assert _requests() == 1
    # The same form's token from another browser is no token there: a new request.
    other = app.test_client()
    other.get(f"/circles/{circle.id}/ask")
    third = other.post(
        f"/circles/{circle.id}/ask",
        data={**hidden_fields(other.get(f"/circles/{circle.id}/ask").get_data(as_text=True)), "name": "Mina"}
        | {"submission": data["submission"]},
    )
    assert code_from(third) != code_from(first) and _requests() == 2


def test_a_full_circle_gives_a_place_in_the_queue_and_a_place_given_up_goes_to_it(
    app: Flask, client: FlaskClient
) -> None:
    circle = make_circle(capacity=1)
    first = app.test_client()
    seated = ask(first, circle.id, name="Ana")
    waiting = ask(client, circle.id, name="Bea", email="bea@example.org")
    html = waiting.get_data(as_text=True)
    assert "You are in the queue" in html and LINK not in html
    assert "Full." in client.get(f"/circles/{circle.id}").get_data(as_text=True)

    # Ana gives up her place with her code; Bea has it now, and is to be told by email.
    page = seated.get_data(as_text=True)
    left = first.post("/circles/code/leave", data=hidden_fields(page))
    assert left.status_code == 200 and "You gave up your place" in left.get_data(as_text=True)
    assert LINK not in left.get_data(as_text=True)
    now = open_code(client, code_from(waiting)).get_data(as_text=True)
    assert "You have a place" in now and LINK in now
    db.session.rollback()
    ana, bea = db.session.scalars(select(CircleRequest).order_by(CircleRequest.position)).all()
    assert bea.seated and bea.notice == "seated"
    assert ana.withdrawn and open_name(ana.id, ana.name_sealed, ana.seal_root) == "", (
        "the name she gave goes when she leaves"
    )


def test_a_cancelled_or_past_circle_takes_no_request_and_shows_no_link(app: Flask, client: FlaskClient) -> None:
    from app.circles import services

    circle = make_circle()
    code = code_from(ask(client, circle.id))
    coordinator = make_staff("coordinator")
    services.cancel(circle, by=coordinator.user)
    assert "Evening circle" not in client.get("/circles").get_data(as_text=True)
    assert "cancelled" in client.get(f"/circles/{circle.id}").get_data(as_text=True)
    asked = client.get(f"/circles/{circle.id}/ask")
    assert asked.status_code == 303 and asked.headers["Location"].endswith(f"/circles/{circle.id}")
    shown = open_code(client, code).get_data(as_text=True)
    assert "This meeting was cancelled" in shown and LINK not in shown


def test_the_facilitator_is_told_that_someone_asked_and_nothing_more(app: Flask, client: FlaskClient) -> None:
    willow = make_staff("responder", pseudonym="Willow")
    circle = make_circle(facilitator=willow, title="Sunday circle")
    ask(client, circle.id, name="Rosa", email="rosa@example.org")
    notice = db.session.scalars(select(Notification)).one()
    assert notice.staff_id == willow.id and notice.case_id is None and notice.kind == "circle_request"
