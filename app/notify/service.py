"""Raising notifications. They are written to the outbox in the caller's transaction and
sent later, in batches (see app/notify/sending.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import utcnow
from app.notify.models import Notification
from app.staff.models import StaffUser


def _insert_once(**values: Any) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(Notification).values(created_at=utcnow(), **values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )


def notify_staff(staff_id: str, kind: str, *, case_id: str | None, key: str, urgent: bool = False) -> None:
    """Tell one staff member that something needs them. ``key`` makes it happen once."""
    _insert_once(recipient="staff", staff_id=staff_id, case_id=case_id, kind=kind, urgent=urgent, dedupe_key=key)


def notify_coordinators(
    kind: str, *, case_id: str | None, key: str, urgent: bool = False, on_call_only: bool = False
) -> None:
    """Tell the coordinators; ``on_call_only`` reaches those on duty (all of them if none is)."""
    coordinators = list(
        db.session.scalars(
            select(StaffUser).where(
                StaffUser.role == "coordinator", StaffUser.active.is_(True), StaffUser.enrolled_at.is_not(None)
            )
        )
    )
    if on_call_only and any(c.on_duty for c in coordinators):
        coordinators = [c for c in coordinators if c.on_duty]
    for coordinator in coordinators:
        notify_staff(coordinator.id, kind, case_id=case_id, key=f"{key}:{coordinator.id}", urgent=urgent)


def notify_reporter(case_id: str, kind: str, *, key: str) -> None:
    """A content-free note to a reporter who gave an email and agreed to be emailed."""
    _insert_once(recipient="reporter", staff_id=None, case_id=case_id, kind=kind, urgent=False, dedupe_key=key)
