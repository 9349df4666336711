"""Who may take a case: the eligibility rules of routing, read from metadata only."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select

from app.cases.models import Case
from app.extensions import db
from app.staff.models import StaffUser, Training

# Statuses that count against a responder's caseload cap.
OPEN_RANKS = (0, 1)
NEVER = datetime.min


@dataclass(frozen=True)
class Candidate:
    staff: StaffUser
    load: int


def open_caseload(staff_ids: Collection[str]) -> dict[str, int]:
    """Open cases (waiting or in hand) assigned to each of ``staff_ids``."""
    if not staff_ids:
        return {}
    rows = db.session.execute(
        select(Case.assigned_to_id, func.count())
        .where(Case.assigned_to_id.in_(staff_ids), Case.queue_rank.in_(OPEN_RANKS))
        .group_by(Case.assigned_to_id)
    ).all()
    return {staff_id: count for staff_id, count in rows}


def eligible_responders(case: Case, *, excluded: Collection[str], today: date) -> list[Candidate]:
    """Responders who may take ``case``, best first.

    Eligible: an active, enrolled responder, on duty, trained for the case's category with a
    record that has not expired, speaking the case's language, under their caseload cap,
    and not excluded (by the reporter, or for having let this case's deadline pass).
    Best: least loaded, then longest since their last assignment."""
    trained = select(Training.staff_id).where(
        or_(Training.category == case.category, Training.category == "all"), Training.expires_on >= today
    )
    query = select(StaffUser).where(
        StaffUser.role == "responder",
        StaffUser.active.is_(True),
        StaffUser.on_duty.is_(True),
        StaffUser.enrolled_at.is_not(None),
        StaffUser.id.in_(trained),
    )
    if excluded:
        query = query.where(StaffUser.id.not_in(list(excluded)))
    people = [s for s in db.session.scalars(query) if case.language in (s.languages or [])]
    loads = open_caseload([s.id for s in people])
    candidates = [Candidate(s, loads.get(s.id, 0)) for s in people if loads.get(s.id, 0) < s.caseload_cap]

    def rank(candidate: Candidate) -> tuple[int, datetime, str]:
        last = candidate.staff.last_assigned_at
        return (candidate.load, last.replace(tzinfo=None) if last else NEVER, candidate.staff.id)

    return sorted(candidates, key=rank)
