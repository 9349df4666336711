"""A case whose category changed under its responder, who is not trained for the new one.

A support request goes to anyone with current training; the report it becomes may be of a
category (a sexual assault, trafficking) the program trains peers for. The responder who had
the request then gives the case back: it is routed again, their round ending "released" as when
someone can no longer work; they are told it left them, and the coordinators that it is being
routed again. Content-free notices only.
"""

from __future__ import annotations

from sqlalchemy import select, update

from app.cases.models import Case
from app.extensions import db
from app.models import utcnow
from app.notify.service import Notice, coordinators_for, raise_notices, to_coordinators
from app.staff.models import StaffUser, Training
from app.triage.eligibility import trained_for
from app.triage.models import RoutingRound


def hand_back_if_untrained(case: Case) -> str | None:
    """Take ``case`` from its responder if their current training does not cover its category,
    in the caller's transaction, which holds the case's row. Returns that responder's id."""
    holder = db.session.get(StaffUser, case.assigned_to_id) if case.assigned_to_id else None
    if holder is None or holder.role != "responder":
        return None  # a coordinator may hold any case
    categories = set(
        db.session.scalars(
            select(Training.category).where(Training.staff_id == holder.id, Training.expires_on >= utcnow().date())
        )
    )
    if trained_for(case.category, categories):
        return None
    db.session.execute(
        update(RoutingRound)
        .where(RoutingRound.case_id == case.id, RoutingRound.outcome == "assigned")
        .values(outcome="released")
    )
    case.routing_state, case.assigned_to_id, case.assigned_at = "rerouting", None, None
    raise_notices(
        [
            Notice(holder.id, case.id, "unassigned", f"unassigned:{case.id}:{case.routing_round}"),
            *to_coordinators(
                coordinators_for([case.id]).told(case.id),
                "released",
                case_id=case.id,
                key=f"released:{case.id}:{case.routing_round}",
            ),
        ]
    )
    return holder.id
