"""The severe cases (L0 and L1) each person was given: how many lately, and when the last.

"Given" is read from two places, because neither alone holds every case put in someone's
hands:

* the routing history (RoutingRound: ``staff_id``, ``started_at``), which keeps every case
  routing gave a responder, even one that later went to someone else (a missed deadline, a
  coordinator's reassignment, a withdrawal of consent);
* the case itself (``assigned_to_id``, ``assigned_at``), for what a coordinator gave or
  claimed, which routing never records: a coordinator's assignment ends routing's part.

A case found in both, or given twice, counts once. (A case a coordinator gave someone and
then took away again is in neither: the audit log alone remembers it, and routing must not
read the audit log.) Metadata only: ids, levels and times.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, distinct, func, select, union_all

from app.cases.models import Case
from app.extensions import db
from app.triage.models import RoutingRound

SEVERE_LEVELS = (0, 1)
# "Lately": the last 7 days, for the figures, the coordinators' prompt and routing alike.
RECENT = timedelta(days=7)


@dataclass(frozen=True)
class Severe:
    """One person's severe cases: how many given since the window began, and the last ever."""

    recent: int
    last_at: datetime | None


def _given(staff_ids: Collection[str], since: datetime | None) -> Any:
    """(staff_id, case_id, at) for every severe case given to one of ``staff_ids``, since
    ``since`` if given; duplicates left to the caller."""
    routed = (
        select(
            RoutingRound.staff_id.label("staff_id"),
            RoutingRound.case_id.label("case_id"),
            RoutingRound.started_at.label("at"),
        )
        .join(Case, Case.id == RoutingRound.case_id)
        .where(RoutingRound.staff_id.in_(staff_ids), Case.level.in_(SEVERE_LEVELS))
    )
    held = select(Case.assigned_to_id, Case.id, Case.assigned_at).where(
        Case.assigned_to_id.in_(staff_ids), Case.assigned_at.is_not(None), Case.level.in_(SEVERE_LEVELS)
    )
    if since is not None:
        routed = routed.where(RoutingRound.started_at >= since)
        held = held.where(Case.assigned_at >= since)
    return union_all(routed, held).subquery()


def recent_severe_counts(staff_ids: Collection[str], *, now: datetime) -> dict[str, int]:
    """How many severe cases each of ``staff_ids`` was given in the RECENT window: one grouped
    query, reading only the window (for routing, which runs it with the pool locked)."""
    if not staff_ids:
        return {}
    given = _given(staff_ids, now - RECENT)
    rows = db.session.execute(
        select(given.c.staff_id, func.count(distinct(given.c.case_id))).group_by(given.c.staff_id)
    ).all()
    return {staff_id: count for staff_id, count in rows if staff_id is not None}


def severe_history(staff_ids: Collection[str], *, now: datetime) -> dict[str, Severe]:
    """Each of ``staff_ids``'s severe cases in the RECENT window, and when they were given the
    last one (however long ago): one grouped query. Everyone asked about has an answer."""
    found = {staff_id: Severe(0, None) for staff_id in staff_ids}
    if not staff_ids:
        return found
    given = _given(staff_ids, None)
    in_window = case((given.c.at >= now - RECENT, given.c.case_id), else_=None)
    rows = db.session.execute(
        select(given.c.staff_id, func.count(distinct(in_window)), func.max(given.c.at)).group_by(given.c.staff_id)
    ).all()
    for staff_id, recent, last in rows:
        if staff_id in found:
            found[staff_id] = Severe(int(recent), last)
    return found
