"""A responder acknowledging a case at the moment its deadline check runs.

Each race is made to happen at one exact point, every time: a hook on the engine runs the
other side just before a chosen statement, in an app context (so a session and a database
connection) of its own, and that side commits before the statement goes out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from app.extensions import db
from app.models import utcnow
from app.triage.models import RoutingRound
from app.triage.routing import check_deadline, route_case
from tests.factories import make_case, make_staff, sign_in
from tests.helpers import hidden_fields
from tests.triage.test_routing import fresh, notes, responder


@contextmanager
def just_before(statement_start: str, other_side: Callable[[], None]) -> Iterator[list[str]]:
    """Run ``other_side`` once, just before the first statement that starts with
    ``statement_start`` goes to the database. Yields the statements it ran before."""
    fired: list[str] = []

    def hook(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not fired and statement.lstrip().upper().startswith(statement_start.upper()):
            fired.append(statement)
            other_side()

    event.listen(db.engine, "before_cursor_execute", hook)
    try:
        yield fired
    finally:
        event.remove(db.engine, "before_cursor_execute", hook)


def test_an_acknowledgement_that_lands_during_the_deadline_check_keeps_the_case_with_its_responder(
    app: Flask, client: FlaskClient
) -> None:
    make_staff("coordinator")
    maple, birch = responder(pseudonym="Maple"), responder(pseudonym="Birch")
    birch.user.last_assigned_at = utcnow()  # Maple is first in line, Birch next
    db.session.commit()
    case = make_case()
    assert route_case(case.id) == "assigned"
    assert fresh(case).assigned_to_id == maple.id
    due = fresh(case).ack_due_at
    assert sign_in(client, maple).status_code == 303
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    tokens = hidden_fields(page.get_data(as_text=True))
    pressed: list[int] = []

    def maple_presses_acknowledge() -> None:
        with app.app_context():
            pressed.append(client.post(f"/cases/{case.id}/acknowledge", data=tokens).status_code)

    # The check has read the case (unacknowledged, deadline passed) and is about to write.
    with just_before("UPDATE", maple_presses_acknowledge) as fired:
        outcome = check_deadline(case.id, 1, now=due + timedelta(minutes=1))
    assert fired and pressed == [303], "the acknowledgement must land inside the deadline check"
    assert outcome == "superseded"

    case = fresh(case)
    assert case.assigned_to_id == maple.id and case.routing_state == "assigned"
    assert case.acknowledged_at is not None and case.status == "acknowledged"
    assert client.get(f"/cases/{case.id}").status_code == 200, "Maple must still have the case"
    assert notes("escalated") == [], "the coordinators must not hear of a missed deadline"
    assert [n.staff_id for n in notes("assigned")] == [maple.id], "Birch must not be given the case"
    rounds = db.session.scalars(select(RoutingRound).order_by(RoutingRound.number)).all()
    assert [(r.staff_id, r.outcome) for r in rounds] == [(maple.id, "assigned")], "Maple missed nothing"


def test_an_acknowledgement_that_loses_the_race_to_the_deadline_check_leaves_the_next_responders_case_alone(
    app: Flask, client: FlaskClient
) -> None:
    make_staff("coordinator")
    maple, birch = responder(pseudonym="Maple"), responder(pseudonym="Birch")
    birch.user.last_assigned_at = utcnow()
    db.session.commit()
    case = make_case()
    assert route_case(case.id) == "assigned" and fresh(case).assigned_to_id == maple.id, "Maple first"
    due = fresh(case).ack_due_at
    assert sign_in(client, maple).status_code == 303, "Maple signs in"
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200, "Maple sees her case"
    outcomes: list[str] = []

    def deadline_check() -> None:
        with app.app_context():
            outcomes.append(check_deadline(case.id, 1, now=due + timedelta(minutes=1)))

    # Maple's request has loaded the case (still hers) and is about to record the acknowledgement.
    with just_before("UPDATE cases", deadline_check) as fired:
        answer = client.post(
            f"/cases/{case.id}/acknowledge", data=hidden_fields(page.get_data(as_text=True)), follow_redirects=True
        )
    assert bool(fired) and outcomes == ["assigned"], "the deadline check must land inside the acknowledgement"
    case = fresh(case)
    assert case.assigned_to_id == birch.id and case.routing_round == 2, "the case went on to Birch"
    birch_due = db.session.scalar(select(RoutingRound.due_at).where(RoutingRound.number == 2))
    assert birch_due is not None, "Birch's round has a deadline"
    # Birch has not read it: it must not show as acknowledged, and Birch's deadline must escalate.
    assert case.acknowledged_at is None and case.status == "new"
    assert check_deadline(case.id, 2, now=birch_due + timedelta(minutes=1)) == "coordinators"  # type: ignore[operator]
    # Maple is told plainly what happened, instead of seeing a case she no longer has.
    assert answer.request.path == "/cases" and "moved on while the page was open" in answer.get_data(as_text=True)
