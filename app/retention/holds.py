"""Legal holds: a coordinator keeps a case from being shredded, under the retention policy or
by its reporter, until they release it. The reason is a fixed choice (a code), so no words
about a court or a person are stored in the clear; setting and releasing are audited."""

from __future__ import annotations

from sqlalchemy import update

from app.access import COORDINATOR
from app.cases.models import Case
from app.extensions import db
from app.models import utcnow
from app.signals import announce
from app.staff.models import StaffUser

# Staff pages are in English; the reporter is told only that a hold exists, in plain words
# (app/intake/deleting.py).
HOLD_REASONS = {
    "litigation": "A lawsuit or claim is pending or expected",
    "subpoena": "A subpoena or court order",
    "investigation": "A law-enforcement or licensing investigation",
    "counsel": "Counsel asked us to keep it",
    "other": "Another legal reason (see the notes)",
}


class HoldError(Exception):
    """The hold cannot be changed; the message says why, for the coordinator."""


def set_hold(viewer: StaffUser, case: Case, reason: str) -> None:
    """Put a legal hold on ``case`` (a coordinator only; ``reason`` from HOLD_REASONS)."""
    if viewer.role != COORDINATOR:
        raise HoldError("Only a coordinator can put a case on legal hold.")
    if reason not in HOLD_REASONS:
        raise HoldError("Choose why the case must be kept.")
    moved = db.session.execute(
        update(Case).where(Case.id == case.id, Case.hold_reason.is_(None)).values(hold_reason=reason, held_at=utcnow())
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        db.session.rollback()
        raise HoldError("This case is already on legal hold.")
    db.session.commit()
    announce("case_hold_set", actor=viewer.id, role=viewer.role, case_id=case.id, reason=reason)


def release_hold(viewer: StaffUser, case: Case) -> None:
    """Release ``case``'s legal hold: from now on the retention policy applies again."""
    if viewer.role != COORDINATOR:
        raise HoldError("Only a coordinator can release a legal hold.")
    had = case.hold_reason
    moved = db.session.execute(
        update(Case).where(Case.id == case.id, Case.hold_reason.is_not(None)).values(hold_reason=None, held_at=None)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        db.session.rollback()
        raise HoldError("This case is not on legal hold.")
    db.session.commit()
    announce("case_hold_released", actor=viewer.id, role=viewer.role, case_id=case.id, reason=had)
