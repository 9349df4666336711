"""When a case's time is up (the ``[retention]`` settings), and which cases' time is up.

Only a closed case ever expires: an open one is someone's work. It is kept ``closed_days``
after it was last closed; ``record_only_days`` when it was closed as recorded only, as the
reporter asked; ``unacknowledged_days`` when nobody ever acknowledged it (spam, duplicates).
The reporter coming back (signing in, writing) keeps it at least ``activity_days`` after she
last did. A legal hold keeps it, whatever the dates say, until a coordinator releases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.cases.models import Case
from app.config import RetentionSettings, current_settings
from app.extensions import db

# How often the periodic pass shreds what is due and sends the digest (workers/clock.py): a
# case goes at most this late; the digest's notices are raised once a week whenever it runs.
RETENTION_SECONDS = 3600


@dataclass(frozen=True)
class Expiring:
    """A case whose time is up by ``expires_at``."""

    case_id: str
    expires_at: datetime


def expires_at(
    *,
    status: str,
    closed_at: datetime | None,
    closed_reason: str | None,
    acknowledged_at: datetime | None,
    reporter_seen_on: datetime | None,
    hold_reason: str | None,
    rules: RetentionSettings,
) -> datetime | None:
    """When a case with these clear columns may be shredded; None while it must be kept."""
    if status != "closed" or closed_at is None or hold_reason is not None:
        return None
    if closed_reason == "record_only":
        days = rules.record_only_days
    elif acknowledged_at is None:
        days = rules.unacknowledged_days
    else:
        days = rules.closed_days
    until = closed_at + timedelta(days=days)
    if reporter_seen_on is not None:
        until = max(until, reporter_seen_on + timedelta(days=rules.activity_days))
    return until


def case_expires_at(case: Case) -> datetime | None:
    """When ``case`` may be shredded under the settings in force; None while it must be kept."""
    return expires_at(
        status=case.status,
        closed_at=case.closed_at or case.updated_at,
        closed_reason=case.closed_reason,
        acknowledged_at=case.acknowledged_at,
        reporter_seen_on=case.reporter_seen_on,
        hold_reason=case.hold_reason,
        rules=current_settings().retention,
    )


def expiring_by(moment: datetime) -> list[Expiring]:
    """The cases whose time is up by ``moment``, soonest first.

    Read from clear columns only. The database narrows them to the closed cases without a
    hold closed long enough ago for the shortest period to have passed; the exact date of
    each is worked out here, the same way on both databases."""
    rules = current_settings().retention
    shortest = min(rules.closed_days, rules.record_only_days, rules.unacknowledged_days)
    # A case closed before closing times were kept: its last change is when it was closed.
    closed_at = func.coalesce(Case.closed_at, Case.updated_at)
    rows = db.session.execute(
        select(
            Case.id,
            Case.status,
            closed_at.label("closed_at"),
            Case.closed_reason,
            Case.acknowledged_at,
            Case.reporter_seen_on,
            Case.hold_reason,
        ).where(Case.status == "closed", Case.hold_reason.is_(None), closed_at <= moment - timedelta(days=shortest))
    ).all()
    found = []
    for row in rows:
        until = expires_at(
            status=row.status,
            closed_at=row.closed_at,
            closed_reason=row.closed_reason,
            acknowledged_at=row.acknowledged_at,
            reporter_seen_on=row.reporter_seen_on,
            hold_reason=row.hold_reason,
            rules=rules,
        )
        if until is not None and until <= moment:
            found.append(Expiring(row.id, until))
    return sorted(found, key=lambda each: (each.expires_at, each.case_id))
