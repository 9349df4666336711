"""A circle's places: how many are taken, and who waiting for one is given it when one opens.

Places go in the order people asked. Every change of places is made with the circle locked
(the database's write lock on SQLite, the circle's row on PostgreSQL), so two people asking for
the last place at once never both get it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from app.circles.models import Circle, CircleRequest
from app.extensions import db
from app.models import take_write_lock


@dataclass(frozen=True)
class Room:
    """How a circle's places stand: taken, and how many wait for one."""

    seated: int
    waiting: int
    capacity: int

    @property
    def full(self) -> bool:
        return self.seated >= self.capacity


def rooms(circle_ids: Sequence[str]) -> dict[str, Room]:
    """How the places of each circle stand, in two queries however many circles."""
    if not circle_ids:
        return {}
    counts = db.session.execute(
        select(CircleRequest.circle_id, CircleRequest.seated, func.count())
        .where(CircleRequest.circle_id.in_(circle_ids), CircleRequest.withdrawn.is_(False))
        .group_by(CircleRequest.circle_id, CircleRequest.seated)
    ).all()
    capacity = dict(db.session.execute(select(Circle.id, Circle.capacity).where(Circle.id.in_(circle_ids))).all())
    taken = {(circle_id, bool(seated)): count for circle_id, seated, count in counts}
    return {
        circle_id: Room(taken.get((circle_id, True), 0), taken.get((circle_id, False), 0), capacity.get(circle_id, 0))
        for circle_id in circle_ids
    }


def locked_circle(circle_id: str) -> Circle | None:
    """The circle, locked against other changes of its places until the commit."""
    take_write_lock(Circle.updated_at)
    return db.session.scalar(select(Circle).where(Circle.id == circle_id).with_for_update())


def seated_count(circle_id: str) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(CircleRequest)
            .where(
                CircleRequest.circle_id == circle_id, CircleRequest.seated.is_(True), CircleRequest.withdrawn.is_(False)
            )
        )
        or 0
    )


def seat_waiting(circle: Circle) -> int:
    """Give the places that are free to those waiting, first come first; each who gave an
    email is to be told (content-free). Not committed; returns how many were seated."""
    free = circle.capacity - seated_count(circle.id)
    if free <= 0 or circle.cancelled_at is not None:
        return 0
    waiting = db.session.scalars(
        select(CircleRequest)
        .where(
            CircleRequest.circle_id == circle.id, CircleRequest.seated.is_(False), CircleRequest.withdrawn.is_(False)
        )
        .order_by(CircleRequest.position)
        .limit(free)
    ).all()
    for request in waiting:
        request.seated = True
        if request.email_sealed is not None:
            request.notice = "seated"
    return len(waiting)
