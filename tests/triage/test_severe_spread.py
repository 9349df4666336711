"""With ``wellbeing.prefer_fewer_severe``, a severe case (L0, L1) goes to whoever was given the
fewest severe cases in the last 7 days; off (the default), and for L2 and L3 cases, routing
chooses as always. Routed by a real RQ worker."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import event

from app.cases.models import Case
from app.casework.services import change_status
from app.extensions import db
from app.models import utcnow
from tests.conftest import run_worker
from tests.factories import Staff, make_case
from tests.staff.test_wellbeing import given
from tests.triage.test_routing import fresh, responder


@pytest.fixture
def prefer(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    def set_to(on: bool) -> None:
        settings = app.config["CONFIDE"]
        wellbeing = dataclasses.replace(settings.wellbeing, prefer_fewer_severe=on)
        monkeypatch.setitem(app.config, "CONFIDE", dataclasses.replace(settings, wellbeing=wellbeing))

    return set_to


def a_hard_week() -> tuple[Staff, Staff]:
    """Dana was given two severe cases this week, both closed since, and nothing after; Birch
    none, but a routine case a few minutes ago. By load and time since, Dana comes first."""
    dana = responder(name="Dana")
    now = utcnow()
    for hours in (30, 20):
        change_status(dana.user, given(dana, level=0, at=now - timedelta(hours=hours)), "closed", reason="resolved")
    birch = responder(name="Birch")
    dana.user.on_duty = False
    db.session.commit()
    change_status(birch.user, given(birch, level=3, at=now - timedelta(minutes=5)), "closed", reason="resolved")
    dana.user.on_duty = True
    db.session.commit()
    return dana, birch


def routed(level: int) -> Case:
    case = make_case()
    case.level = level
    db.session.commit()
    return case


def test_by_default_routing_ignores_recent_severe_cases(app: Flask) -> None:
    dana, _birch = a_hard_week()
    case = routed(1)
    run_worker(app)
    assert fresh(case).assigned_to_id == dana.id


def test_preferring_fewer_severe_cases_gives_a_severe_case_to_the_one_spared(
    app: Flask, prefer: Callable[[bool], None]
) -> None:
    prefer(True)
    dana, birch = a_hard_week()
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        severe = routed(1)
        run_worker(app)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert fresh(severe).assigned_to_id == birch.id
    # The severe cases of the whole pool are counted in one query, not one per person.
    assert sum("routing_rounds" in s and "UNION ALL" in s for s in statements) == 1

    # A routine case is routed as always: Dana, who holds nothing, is least loaded.
    routine = routed(2)
    run_worker(app)
    assert fresh(routine).assigned_to_id == dana.id


def test_a_batch_counts_the_severe_cases_it_hands_out(app: Flask, prefer: Callable[[bool], None]) -> None:
    prefer(True)
    dana, birch = a_hard_week()
    birch.user.caseload_cap = 10
    db.session.commit()
    # Three severe cases routed together: Birch takes the first two (0, then 1 severe this
    # week against Dana's 2); the third goes to Dana: 2 severe cases each by then, and she
    # holds fewer open ones.
    cases = [routed(0), routed(1), routed(1)]
    run_worker(app)
    holders = [fresh(case).assigned_to_id for case in cases]
    assert sorted(holders) == sorted([birch.id, birch.id, dana.id])
