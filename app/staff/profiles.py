"""Responder profiles: languages, duty, caseload cap, pseudonym and training records."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from app.config import current_settings
from app.extensions import db
from app.signals import announce
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
) -> None:
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
    user.pseudonym = pseudonym
    user.languages = [code for code in current_settings().languages if code in set(languages)]
    user.on_duty = bool(on_duty) and user.active
    # Duty turned back on by hand ends a break (app/staff/breaks.py): the sweep must not end
    # it again later, nor would it put someone who has turned duty off meanwhile back on.
    back_from_break = user.on_duty and user.break_until is not None
    if user.on_duty:
        user.break_until = None
    if caseload_cap is not None:
        user.caseload_cap = caseload_cap
    db.session.commit()
    announce("staff_profile_changed", actor=by.id, role=by.role, staff=user.id)
    if back_from_break:
        announce("staff_break_ended", actor=by.id, role=by.role, staff=user.id, how="by_hand")


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
