"""A case whose category changed under its responder, who is not trained for the new one.

A support request goes to anyone with current training; the report it becomes may be of a
category (a sexual assault, trafficking) the program trains peers for. The responder who had
the request then gives the case back: it is routed again, their round ending "released" as when
someone can no longer work; they are told it left them, and the coordinators that it is being
routed again. Content-free notices only. One who has acknowledged it keeps it until the
coordinators, told, decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from app.cases.models import Case
from app.extensions import db
from app.models import utcnow
from app.notify.service import Notice, coordinators_for, raise_notices, to_coordinators
from app.staff.models import StaffUser, Training
from app.triage.eligibility import OPEN_RANKS, trained_for
from app.triage.models import RoutingRound


@dataclass(frozen=True)
class HandBack:
    """Whose training does not cover the case now: ``gone`` if it left them for routing,
    ``kept`` if they keep it until the coordinators decide."""

    gone: str | None = None
    kept: str | None = None


def hand_back_if_untrained(case: Case) -> HandBack:
    """Take ``case`` from its responder if their current training does not cover its category,
    in the caller's transaction, which holds the case's row.

    Only a case routing gave them and they have not acknowledged goes back: once they talk
    with her, or a coordinator chose them, the coordinators are told and decide."""
    holder = db.session.get(StaffUser, case.assigned_to_id) if case.assigned_to_id else None
    if holder is None or holder.role != "responder" or case.queue_rank not in OPEN_RANKS:
        return HandBack()  # a coordinator may hold any case; a closed one waits for nobody
    categories = set(
        db.session.scalars(
            select(Training.category).where(Training.staff_id == holder.id, Training.expires_on >= utcnow().date())
        )
    )
    if trained_for(case.category, categories):
        return HandBack()
    if case.acknowledged_at is not None or case.routing_state != "assigned":
        told = coordinators_for([case.id]).told(case.id)
        raise_notices(to_coordinators(told, "untrained_holder", case_id=case.id, key=f"untrained:{case.id}"))
        return HandBack(kept=holder.id)
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
    return HandBack(gone=holder.id)
