"""Who may take a case: the eligibility rules of routing, read from metadata only.

Eligible: an active, enrolled responder, on duty, trained for the case's category with a
record that has not expired, speaking the case's language, under their caseload cap, and
not excluded (by the reporter, or for having let this case's deadline pass).
Best: least loaded, then longest since their last assignment.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from app.cases.models import Case
from app.extensions import db
from app.staff.models import StaffUser, Training

# Statuses that count against a responder's caseload cap.
OPEN_RANKS = (0, 1)
NEVER = datetime.min
ANY_CATEGORY = "all"


def open_caseload(staff_ids: Collection[str]) -> dict[str, int]:
    """Open cases (waiting or in hand) assigned to each of ``staff_ids``."""
    if not staff_ids:
        return {}
    rows = db.session.execute(
        select(Case.assigned_to_id, func.count())
        .where(Case.assigned_to_id.in_(staff_ids), Case.queue_rank.in_(OPEN_RANKS))
        .group_by(Case.assigned_to_id)
    ).all()
    return {staff_id: count for staff_id, count in rows if staff_id is not None}


@dataclass
class Responder:
    """What routing needs to know of one responder; ``load`` and ``since`` change as the
    pool hands out cases."""

    id: str
    languages: frozenset[str]
    categories: set[str]
    cap: int
    load: int
    # When they were last given a case, and the order of that within this pool's
    # decisions (all of which happen at one "now").
    since: tuple[datetime, int]

    def may_take(self, language: str, category: str, excluded: Collection[str]) -> bool:
        return (
            self.load < self.cap
            and language in self.languages
            and (category in self.categories or ANY_CATEGORY in self.categories)
            and self.id not in excluded
        )


class Pool:
    """The responders who may take some case of a routing transaction.

    Made by :func:`lock_pool`, which holds their rows until the transaction ends, so the
    caseloads counted here stay true until the assignments are committed."""

    def __init__(self, responders: Iterable[Responder], now: datetime) -> None:
        self.responders = list(responders)
        self._now = now.replace(tzinfo=None)
        self._decisions = 0

    def choose(self, language: str, category: str, excluded: Collection[str]) -> str | None:
        """The best responder for a case, counted as having taken it; None if nobody may."""
        best: Responder | None = None
        for responder in self.responders:
            if responder.may_take(language, category, excluded) and (
                best is None or (responder.load, responder.since, responder.id) < (best.load, best.since, best.id)
            ):
                best = responder
        if best is None:
            return None
        self._decisions += 1
        best.load += 1
        best.since = (self._now, self._decisions)
        return best.id


def lock_pool(categories: Collection[str], *, today: date, now: datetime) -> Pool:
    """Every responder who may take a case in one of ``categories`` today, but for
    language, exclusions and caseload, which :meth:`Pool.choose` checks case by case.

    On PostgreSQL their rows are locked (in id order, so two routing transactions never
    deadlock; cases are always locked before responders) before their open cases are
    counted: another transaction that would give them a case waits until this one has
    committed its own. (SQLite: the caller holds
    the database's write lock, see routing.py.)"""
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.languages, StaffUser.caseload_cap, StaffUser.last_assigned_at, Training.category)
        .join(Training, Training.staff_id == StaffUser.id)
        .where(
            StaffUser.role == "responder",
            StaffUser.active.is_(True),
            StaffUser.on_duty.is_(True),
            StaffUser.enrolled_at.is_not(None),
            Training.category.in_({*categories, ANY_CATEGORY}),
            Training.expires_on >= today,
        )
        .order_by(StaffUser.id)
        # FOR NO KEY UPDATE: it waits for another routing transaction or a change to the
        # person, but not for rows that merely point at them (a report's exclusions).
        .with_for_update(of=StaffUser, key_share=True)
    ).all()
    people: dict[str, Responder] = {}
    for staff_id, languages, cap, last, category in rows:
        responder = people.get(staff_id)
        if responder is None:
            since = (last.replace(tzinfo=None) if last else NEVER, 0)
            responder = people[staff_id] = Responder(staff_id, frozenset(languages or ()), set(), cap, 0, since)
        responder.categories.add(category)
    for staff_id, load in open_caseload(list(people)).items():
        people[staff_id].load = load
    return Pool(people.values(), now)
