"""Reminders: a reporter still waiting to hear back, a case no coordinator has taken."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from app.casework.services import change_status, message_reporter
from app.extensions import db
from app.triage.reminders import remind_feedback, remind_unclaimed
from app.triage.routing import route_case
from tests.factories import make_case, make_staff
from tests.triage.test_routing import fresh, notes, responder


def test_whoever_has_the_case_is_reminded_before_the_feedback_deadline_then_coordinators_after(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple = responder()
    case = make_case()
    route_case(case.id)
    due = fresh(case).feedback_due_at

    assert remind_feedback(now=due - timedelta(days=4)) == 0
    assert notes("feedback_due") == []

    assert remind_feedback(now=due - timedelta(days=2)) == 1
    assert [n.staff_id for n in notes("feedback_due")] == [maple.id]
    # The job runs every minute; the reminder is raised once.
    assert remind_feedback(now=due - timedelta(days=1)) == 0
    assert len(notes("feedback_due")) == 1
    assert notes("feedback_overdue") == []

    assert remind_feedback(now=due + timedelta(minutes=1)) == 1
    assert [n.staff_id for n in notes("feedback_overdue")] == [coordinator.id]
    assert remind_feedback(now=due + timedelta(days=3)) == 0
    assert len(notes("feedback_overdue")) == 1


def test_no_reminder_once_someone_has_written_to_the_reporter(app: Flask) -> None:
    make_staff("coordinator")
    maple = responder()
    case = make_case()
    route_case(case.id)
    case = fresh(case)
    message_reporter(maple.user, case, "Thank you for telling us. I am here to help.")
    assert remind_feedback(now=case.feedback_due_at + timedelta(days=1)) == 0
    assert notes("feedback_due") == [] and notes("feedback_overdue") == []


def test_a_closed_case_needs_no_feedback_reminder(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    case = make_case()
    change_status(coordinator.user, fresh(case), "closed", reason="duplicate")
    assert remind_feedback(now=fresh(case).feedback_due_at + timedelta(days=1)) == 0
    assert notes("feedback_due") == [] and notes("feedback_overdue") == []


def test_an_unassigned_case_reminds_the_coordinators(app: Flask) -> None:
    first, second = make_staff("coordinator"), make_staff("coordinator")
    case = make_case()
    route_case(case.id)  # no responder exists: the coordinators have it
    due = fresh(case).feedback_due_at
    assert remind_feedback(now=due - timedelta(days=1)) == 1
    assert sorted(n.staff_id for n in notes("feedback_due")) == sorted([first.id, second.id])


def test_coordinators_hear_again_when_a_case_in_their_queue_passes_its_deadline(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    case = make_case()
    assert route_case(case.id) == "coordinators"
    due = fresh(case).ack_due_at
    assert remind_unclaimed(now=due - timedelta(minutes=1)) == 0
    assert remind_unclaimed(now=due + timedelta(minutes=1)) == 1
    assert [(n.staff_id, n.urgent) for n in notes("unclaimed")] == [(coordinator.id, False)]
    assert remind_unclaimed(now=due + timedelta(hours=5)) == 0
    assert len(notes("unclaimed")) == 1


def test_an_unclaimed_imminent_danger_case_pages_the_on_call_coordinator(app: Flask) -> None:
    on_call = make_staff("coordinator", on_duty=True)
    make_staff("coordinator", on_duty=False)
    case = make_case(narrative="He has a gun and is outside my door.")
    route_case(case.id)
    case = fresh(case)
    assert case.level == 0
    assert remind_unclaimed(now=case.ack_due_at + timedelta(minutes=1)) == 1
    assert [(n.staff_id, n.urgent) for n in notes("unclaimed")] == [(on_call.id, True)]


def test_a_taken_case_is_not_reminded(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    case = make_case()
    route_case(case.id)
    change_status(coordinator.user, fresh(case), "acknowledged")
    db.session.commit()
    assert remind_unclaimed(now=fresh(case).ack_due_at + timedelta(hours=1)) == 0
    assert notes("unclaimed") == []
