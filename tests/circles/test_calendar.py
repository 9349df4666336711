""" "Add to my calendar": an .ics file any calendar reads (parsed here with icalendar), with the
title and the time, a line on how to get the link, and never the link or the place."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar

from app.circles import services
from tests.circles.factories import LINK, PLACE, make_circle, soon
from tests.factories import make_staff


def test_the_calendar_file_holds_the_time_and_title_and_not_where(app: Flask, client: FlaskClient) -> None:
    starts = soon(30)
    circle = make_circle(title="Thursday circle", starts_at=starts, minutes=75, place="Passcode 4471")
    response = client.get(f"/circles/{circle.id}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    [event] = Calendar.from_ical(response.data).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Thursday circle"
    assert event.decoded("DTSTART") == starts
    assert event.decoded("DTEND") == starts + timedelta(minutes=75)
    assert f"https://confide.example/circles/{circle.id}" in str(event["DESCRIPTION"])
    for absent in ("LOCATION", "URL", "GEO", "CONFERENCE", "ATTACH"):
        assert absent not in event
    text = response.get_data(as_text=True)
    assert LINK not in text and "meet.example.org" not in text and "4471" not in text


def test_an_in_person_circle_keeps_its_address_out_of_the_calendar(app: Flask, client: FlaskClient) -> None:
    circle = make_circle(online=False, place=PLACE)
    text = client.get(f"/circles/{circle.id}/calendar.ics").get_data(as_text=True)
    assert "Quiet Lane" not in text and "Room 12" not in text


def test_the_calendar_line_is_in_her_language_and_a_cancelled_circle_says_so(app: Flask, client: FlaskClient) -> None:
    circle = make_circle()
    client.get("/language/es?next=/circles")
    [event] = Calendar.from_ical(client.get(f"/circles/{circle.id}/calendar.ics").data).walk("VEVENT")
    assert "Para recibir el enlace o la dirección" in str(event["DESCRIPTION"])
    assert "STATUS" not in event
    services.cancel(circle, by=make_staff("coordinator").user)
    [event] = Calendar.from_ical(client.get(f"/circles/{circle.id}/calendar.ics").data).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) > 0
