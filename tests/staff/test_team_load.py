"""The coordinators see the load across the team, and are prompted to check in with someone
who has had more severe cases in a week than the program's limit; responders may not."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import utcnow
from tests.factories import make_case, make_staff, sign_in
from tests.staff.test_wellbeing import given, page, press_break
from tests.triage.test_routing import responder

TEAM = "/staff/people/load"


def row(html: str, staff_id: str) -> list[str]:
    """The cells of a person's row in the load table, as read."""
    found = re.search(rf'<tr id="load-{staff_id}">(.*?)</tr>', html, re.S)
    assert found, "no row for them"
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", "", cell)).split())
        for cell in re.findall(r"<td>(.*?)</td>", found[1], re.S)
    ]


def test_coordinators_see_everyones_load_and_a_prompt_over_the_limit(app: Flask, client: FlaskClient) -> None:
    cora = make_staff("coordinator", name="Cora", on_duty=False)
    dana, finn = responder(name="Dana"), responder(name="Finn", caseload_cap=8, on_duty=False)
    gale = make_staff("responder", name="Gale", on_duty=False)  # untrained, off duty: nothing given
    now = utcnow()
    for hours in (80, 50, 30, 2):  # four severe cases this week: one over the limit of 3
        given(dana, level=0 if hours > 40 else 1, at=now - timedelta(hours=hours))
    # Dana out of the way: the next cases go to Finn.
    dana.user.on_duty, finn.user.on_duty = False, True
    db.session.commit()
    for hours in (100, 60, 20):  # three: at the limit, not over it
        given(finn, level=1, at=now - timedelta(hours=hours))
    given(finn, level=2, at=now - timedelta(hours=1))
    held_by_cora = make_case(assigned_to=cora)  # a coordinator who takes cases is listed too
    held_by_cora.level = 0
    db.session.commit()
    finns_browser = app.test_client()
    sign_in(finns_browser, finn)
    assert press_break(finns_browser, until="2h").status_code == 303

    sign_in(client, cora)
    html = page(client, TEAM)
    prompt = "Dana has had 4 severe cases in 7 days. Consider a check-in, or routing fewer severe cases to them."
    assert prompt in html and "Finn has had" not in html
    assert row(html, dana.id) == ["Dana", "off duty", "4 / 5", "4", "2 hours"]
    assert row(html, finn.id)[0] == "Finn"
    assert row(html, finn.id)[1].startswith("on a break until ")
    assert row(html, finn.id)[2:] == ["4 / 8", "3", "20 hours"]
    assert row(html, gale.id) == ["Gale", "off duty", "0 / 5", "0", "none yet"]
    assert row(html, cora.id) == ["Cora (coordinator)", "off duty", "1 / 5", "1", "less than an hour"]
    # The most severe cases first.
    assert html.index(f"load-{dana.id}") < html.index(f"load-{finn.id}") < html.index(f"load-{cora.id}")

    people = page(client, "/staff/people")
    assert prompt in people and f'href="{TEAM}"' in people
    assert "on a break until" in people

    # A program that allows more a week is not prompted.
    settings = app.config["CONFIDE"]
    looser = dataclasses.replace(settings, wellbeing=dataclasses.replace(settings.wellbeing, severe_week_limit=4))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.config, "CONFIDE", looser)
        assert "Consider a check-in" not in page(client, TEAM)
        assert "Consider a check-in" not in page(client, "/staff/people")


def test_responders_may_not_see_the_teams_load(app: Flask, client: FlaskClient) -> None:
    birch = responder(name="Birch")
    given(birch, level=0, at=utcnow())
    dana = make_staff("responder", name="Dana")
    sign_in(client, dana)
    refused = page(client, TEAM, status=404)
    assert "Birch" not in refused and 'id="load"' not in refused
    own = page(client)
    assert "Birch" not in own and 'href="/staff/people/load"' not in own
