"""Reminders the periodic job raises: a reporter still waiting to hear back, and cases in the
coordinators' queue that no one has taken by their acknowledgement deadline.

Like every notification they say only that something needs attention. Each reminder is raised
once: a conditional UPDATE moves the case on before the notice is written, in one transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.cases.models import Case
from app.config import current_settings
from app.extensions import db
from app.models import utcnow
from app.notify.service import notify_coordinators, notify_staff
from app.triage.models import RoutingRound


def remind_feedback(now: datetime | None = None) -> int:
    """Remind whoever has a case when its feedback deadline nears with no word to the
    reporter yet, and tell the coordinators once it has passed. Returns reminders raised."""
    now = now or utcnow()
    lead = timedelta(days=current_settings().triage.feedback_reminder_days)
    rows = db.session.execute(
        select(Case.id, Case.feedback_stage, Case.feedback_due_at, Case.assigned_to_id, Case.status)
        .where(Case.feedback_stage.in_(("waiting", "reminded")), Case.feedback_due_at <= now + lead)
        .order_by(Case.feedback_due_at)
    ).all()
    raised = 0
    for case_id, stage, due, assignee, status in rows:
        if status == "closed":
            stage_now = "closed"
        elif due <= now:
            stage_now = "overdue"
        elif stage == "waiting":
            stage_now = "reminded"
        else:
            continue
        moved = db.session.execute(
            update(Case).where(Case.id == case_id, Case.feedback_stage == stage).values(feedback_stage=stage_now)
        )
        if not moved.rowcount:  # type: ignore[attr-defined]  # a staff message came first
            db.session.rollback()
            continue
        if stage_now == "overdue":
            notify_coordinators("feedback_overdue", case_id=case_id, key=f"feedback-overdue:{case_id}")
        if stage_now != "closed":
            if assignee is not None:
                notify_staff(assignee, "feedback_due", case_id=case_id, key=f"feedback-due:{case_id}:{assignee}")
            elif stage_now == "reminded":
                notify_coordinators("feedback_due", case_id=case_id, key=f"feedback-due:{case_id}")
            raised += 1
        db.session.commit()
    return raised


def remind_unclaimed(now: datetime | None = None) -> int:
    """Tell the coordinators again about cases in their queue that are past the
    acknowledgement deadline with no one on them. Returns reminders raised."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Case.id, Case.level, RoutingRound.number)
        .join(RoutingRound, (RoutingRound.case_id == Case.id) & (RoutingRound.number == Case.routing_round))
        .where(
            Case.routing_state == "coordinators",
            Case.acknowledged_at.is_(None),
            Case.status != "closed",
            RoutingRound.outcome == "coordinators",
            RoutingRound.due_at <= now,
        )
    ).all()
    for case_id, level, number in rows:
        # Marking the round settles it: the reminder is raised once per round.
        marked = db.session.execute(
            update(RoutingRound)
            .where(
                RoutingRound.case_id == case_id, RoutingRound.number == number, RoutingRound.outcome == "coordinators"
            )
            .values(outcome="unclaimed")
        )
        if marked.rowcount:  # type: ignore[attr-defined]
            notify_coordinators(
                "unclaimed",
                case_id=case_id,
                key=f"unclaimed:{case_id}:{number}",
                urgent=level == 0,
                on_call_only=level == 0,
            )
        db.session.commit()
    return len(rows)
