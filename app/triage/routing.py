"""Routing a case to a responder, and escalating when a deadline passes.

Jobs call these with an id; nothing here needs a case's plaintext. Every step is guarded by
a conditional UPDATE on the case's routing state, so a job delivered twice routes once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app.cases.models import Case
from app.extensions import db
from app.models import utcnow
from app.notify.service import notify_coordinators, notify_staff
from app.staff.models import StaffUser
from app.triage.eligibility import OPEN_RANKS, eligible_responders
from app.triage.models import CaseExclusion, RoutingRound

log = logging.getLogger("confide.triage")

# Routing states: intake (committed, no worker yet) → assigned | coordinators; a missed
# deadline moves an assigned case to rerouting, and routing runs again.
ROUTABLE = ("intake", "awaiting_assignment", "rerouting")


def _excluded(case: Case) -> set[str]:
    chosen = set(db.session.scalars(select(CaseExclusion.staff_id).where(CaseExclusion.case_id == case.id)))
    missed = db.session.scalars(
        select(RoutingRound.staff_id).where(
            RoutingRound.case_id == case.id, RoutingRound.outcome == "missed", RoutingRound.staff_id.is_not(None)
        )
    )
    return chosen | {staff_id for staff_id in missed if staff_id}


def _round_due(case: Case, now: datetime) -> datetime:
    if case.routing_round == 0:
        return case.ack_due_at
    hours = current_app.config["CONFIDE"].triage.ack_hours[case.level]
    return now + timedelta(hours=hours)


def _under_cap(staff: StaffUser) -> bool:
    # Lock the responder's row (PostgreSQL) so two workers cannot both fill their last place.
    db.session.execute(select(StaffUser.id).where(StaffUser.id == staff.id).with_for_update())
    load = db.session.scalar(
        select(func.count()).select_from(Case).where(Case.assigned_to_id == staff.id, Case.queue_rank.in_(OPEN_RANKS))
    )
    return (load or 0) < staff.caseload_cap


def route_case(case_id: str, *, now: datetime | None = None) -> str:
    """Assign a case to the best eligible responder, or hand it to the coordinators.

    Returns what happened: assigned, coordinators, already-routed or missing."""
    now = now or utcnow()
    case = db.session.get(Case, case_id, populate_existing=True)
    if case is None:
        return "missing"
    state = case.routing_state
    if state not in ROUTABLE:
        return "already-routed"
    number = case.routing_round + 1
    due = _round_due(case, now)
    chosen: StaffUser | None = None
    for candidate in eligible_responders(case, excluded=_excluded(case), today=now.date()):
        if _under_cap(candidate.staff):
            chosen = candidate.staff
            break
        db.session.rollback()
    values: dict[str, object] = {"routing_state": "assigned" if chosen else "coordinators", "routing_round": number, "queued_at": now}
    if chosen is not None:
        values.update(assigned_to_id=chosen.id, assigned_at=now)
    claimed = db.session.execute(
        update(Case).where(Case.id == case.id, Case.routing_state == state, Case.routing_round == number - 1).values(**values)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        db.session.rollback()
        return "already-routed"
    db.session.add(
        RoutingRound(
            case_id=case.id, number=number, staff_id=chosen.id if chosen else None, started_at=now, due_at=due,
            outcome="assigned" if chosen else "coordinators",
        )
    )
    if chosen is not None:
        chosen.last_assigned_at = now
        notify_staff(chosen.id, "assigned", case_id=case.id, key=f"assigned:{case.id}:{number}", urgent=case.level == 0)
    else:
        notify_coordinators("no_eligible", case_id=case.id, key=f"no-eligible:{case.id}:{number}")
    if case.level == 0 and number == 1:
        # Imminent danger: the on-call coordinators hear at once, whoever has the case.
        notify_coordinators("urgent", case_id=case.id, key=f"urgent:{case.id}", urgent=True, on_call_only=True)
    db.session.commit()
    outcome = "assigned" if chosen else "coordinators"
    # case_id, not case.id: after the commit that would read the whole row again.
    log.info("case %s round %d: %s", case_id, number, outcome)
    if chosen is not None:
        from app.triage.queue import schedule_deadline_check

        schedule_deadline_check(case_id, number, due)
    return outcome


def check_deadline(case_id: str, number: int, *, now: datetime | None = None) -> str:
    """Escalate round ``number`` of a case if its deadline passed unacknowledged.

    Returns acknowledged, superseded, not-due, or the outcome of routing it again."""
    now = now or utcnow()
    case = db.session.get(Case, case_id, populate_existing=True)
    if case is None:
        return "missing"
    if case.acknowledged_at is not None:
        return "acknowledged"
    if case.routing_round != number or case.routing_state != "assigned":
        return "superseded"
    current = db.session.scalar(select(RoutingRound).where(RoutingRound.case_id == case.id, RoutingRound.number == number))
    if current is None or current.outcome != "assigned":
        return "superseded"
    if current.due_at > now:
        return "not-due"
    missed = db.session.execute(
        update(RoutingRound).where(RoutingRound.id == current.id, RoutingRound.outcome == "assigned").values(outcome="missed")
    )
    moved = db.session.execute(
        update(Case)
        .where(
            Case.id == case.id,
            Case.routing_state == "assigned",
            Case.routing_round == number,
            Case.acknowledged_at.is_(None),  # acknowledged meanwhile: it stays where it is
        )
        .values(routing_state="rerouting", assigned_to_id=None, assigned_at=None)
    )
    if not (missed.rowcount and moved.rowcount):  # type: ignore[attr-defined]
        db.session.rollback()
        return "superseded"
    notify_coordinators("escalated", case_id=case.id, key=f"escalated:{case.id}:{number}")
    db.session.commit()
    log.info("case %s round %d: deadline missed, routing again", case.id, number)
    return route_case(case.id, now=now)


def overdue_rounds(now: datetime | None = None) -> list[tuple[str, int]]:
    """Rounds past their deadline with the case still unacknowledged (backs up lost timers)."""
    now = now or utcnow()
    rows = db.session.execute(
        select(RoutingRound.case_id, RoutingRound.number)
        .join(Case, Case.id == RoutingRound.case_id)
        .where(
            RoutingRound.outcome == "assigned",
            RoutingRound.due_at <= now,
            Case.acknowledged_at.is_(None),
            Case.routing_round == RoutingRound.number,
        )
    ).all()
    return [(case_id, number) for case_id, number in rows]
