"""Responder profiles: languages, duty, caseload cap, pseudonym and training records."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select

from app.config import current_settings
from app.extensions import db
from app.signals import announce
from app.staff.lifecycle import lock_account
from app.staff.models import StaffUser, Training
from app.staff.pseudonyms import pseudonym_key, pseudonym_problem
from app.staff.services import StaffError


def update_profile(
    user: StaffUser,
    *,
    by: StaffUser,
    pseudonym: str | None,
    languages: Sequence[str],
    on_duty: bool,
    caseload_cap: int | None = None,
) -> datetime | None:
    """Save ``user``'s profile as ``by`` set it. Returns the return time of a break that
    duty left off has cancelled, if one was."""
    pseudonym = re.sub(" {2,}", " ", (pseudonym or "").strip()) or None
    if pseudonym is not None and pseudonym != user.pseudonym:
        problem = pseudonym_problem(pseudonym)
        if problem:
            raise StaffError(problem)
        key = pseudonym_key(pseudonym)
        others = db.session.scalars(
            select(StaffUser.pseudonym).where(StaffUser.pseudonym.is_not(None), StaffUser.id != user.id)
        )
        if any(pseudonym_key(other or "") == key for other in others):
            raise StaffError("Another person already uses that pseudonym, or one that reads the same.")
    # The break as it is now, not as the page showed it: the sweep may have ended it meanwhile.
    lock_account(user)
    user.pseudonym = pseudonym
    user.languages = [code for code in current_settings().languages if code in set(languages)]
    user.on_duty = bool(on_duty) and user.active
    # Duty set by hand overrides a break (app/staff/breaks.py). On, it ends the break now.
    # Off, it ends the break's return: whoever asked to be taken off is not put back on duty
    # by the sweep later.
    return_at = user.break_until
    user.break_until = None
    if caseload_cap is not None:
        user.caseload_cap = caseload_cap
    db.session.commit()
    announce("staff_profile_changed", actor=by.id, role=by.role, staff=user.id)
    if return_at is None:
        return None
    if user.on_duty:
        announce("staff_break_ended", actor=by.id, role=by.role, staff=user.id, how="by_hand")
        return None
    announce("staff_break_return_cancelled", actor=by.id, role=by.role, staff=user.id, until=return_at.isoformat())
    return return_at


def add_training(
    user: StaffUser, *, by: StaffUser, course: str, category: str, completed_on: date, expires_on: date
) -> Training:
    training = Training(
        staff_id=user.id, course=course.strip(), category=category, completed_on=completed_on, expires_on=expires_on
    )
    db.session.add(training)
    db.session.commit()
    announce("staff_profile_changed", actor=by.id, role=by.role, staff=user.id, training="added")
    return training


def remove_training(user: StaffUser, training_id: int, *, by: StaffUser) -> None:
    training = db.session.get(Training, training_id)
    if training is None or training.staff_id != user.id:
        raise StaffError("No such training record.")
    db.session.delete(training)
    db.session.commit()
    announce("staff_profile_changed", actor=by.id, role=by.role, staff=user.id, training="removed")
