"""Coordinators publish, change and cancel circles; everyone reads the upcoming ones.

Every change is committed, then announced (app/signals.py), and the audit log records it with
ids and field names only: never a title, a place or a link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from app.circles.models import Circle, CircleRequest
from app.circles.places import locked_circle, seat_waiting
from app.circles.sealing import Where, active_root, open_where, seal_where
from app.extensions import db
from app.models import new_id, utcnow
from app.signals import announce
from app.staff.models import StaffUser

# Meetings longer than this are not offered; the list looks this far back for one still under way.
LONGEST = timedelta(hours=8)
# Who may facilitate: people who already hold the program's conversations.
FACILITATOR_ROLES = ("responder", "coordinator")


class CircleError(Exception):
    """A change that cannot be made; the message is for the coordinator."""


@dataclass(frozen=True)
class CircleFields:
    """A circle as a coordinator describes it; ``starts_at`` in UTC."""

    title: str
    language: str
    format: str
    where: Where
    starts_at: datetime
    minutes: int
    capacity: int
    facilitator_id: str | None
    ground_rules: str


def is_open(circle: Circle, now: datetime | None = None) -> bool:
    """Whether someone may still ask for the circle: not cancelled, not over."""
    return circle.cancelled_at is None and (now or utcnow()) < circle.ends_at


def upcoming(now: datetime | None = None) -> list[Circle]:
    """The circles anyone may still join, soonest first."""
    now = now or utcnow()
    circles = db.session.scalars(
        select(Circle)
        .where(Circle.cancelled_at.is_(None), Circle.starts_at > now - LONGEST)
        .order_by(Circle.starts_at, Circle.id)
    )
    return [circle for circle in circles if is_open(circle, now)]


def for_staff(viewer: StaffUser, now: datetime | None = None) -> tuple[list[Circle], list[Circle]]:
    """The circles a staff member sees, upcoming and past (the last 30 days): every one for a
    coordinator, those they facilitate for a responder."""
    now = now or utcnow()
    query = select(Circle).where(Circle.starts_at > now - timedelta(days=30))
    if viewer.role != "coordinator":
        query = query.where(Circle.facilitator_id == viewer.id)
    circles = list(db.session.scalars(query.order_by(Circle.starts_at, Circle.id)))
    ahead = [circle for circle in circles if circle.cancelled_at is None and now < circle.ends_at]
    return ahead, [circle for circle in reversed(circles) if circle not in ahead]


def facilitators() -> list[StaffUser]:
    """The people a coordinator may name as a circle's facilitator."""
    return list(
        db.session.scalars(
            select(StaffUser)
            .where(
                StaffUser.role.in_(FACILITATOR_ROLES), StaffUser.active.is_(True), StaffUser.enrolled_at.is_not(None)
            )
            .order_by(StaffUser.name, StaffUser.email)
        )
    )


def _check(fields: CircleFields) -> None:
    if fields.facilitator_id is not None and fields.facilitator_id not in {p.id for p in facilitators()}:
        raise CircleError("Choose a facilitator from the list: a responder or coordinator with an active account.")


def where(circle: Circle) -> Where:
    """Where the circle meets, opened: for those who asked, its facilitator and coordinators."""
    return open_where(circle.id, circle.where_sealed, circle.seal_root)


def publish(fields: CircleFields, *, by: StaffUser) -> Circle:
    """Publish a new circle; it is listed at once."""
    _check(fields)
    circle = Circle(id=new_id(), version=0, created_at=utcnow())
    _apply(circle, fields)
    db.session.add(circle)
    db.session.commit()
    announce("circle_published", actor=by.id, role=by.role, circle=circle.id, facilitator=circle.facilitator_id)
    return circle


def _apply(circle: Circle, fields: CircleFields) -> list[str]:
    """Write ``fields`` on ``circle``; returns the names of the fields that changed."""
    changed = []
    if circle.where_sealed is None or where(circle) != fields.where:
        circle.where_sealed, circle.seal_root = seal_where(circle.id, fields.where), active_root()
        changed.append("where")
    for name in ("title", "language", "format", "starts_at", "minutes", "capacity", "facilitator_id", "ground_rules"):
        value = getattr(fields, name)
        if getattr(circle, name) != value:
            setattr(circle, name, value)
            changed.append(name)
    circle.updated_at = utcnow()
    return changed


def change(circle: Circle, fields: CircleFields, *, by: StaffUser) -> list[str]:
    """Change a circle. Those who asked about it are told by email when its time or place
    changes (content-free), reminded again for a new time, and given a place that opens.
    A cancelled circle stays cancelled."""
    if circle.cancelled_at is not None:
        raise CircleError("This circle was cancelled: publish a new one instead.")
    _check(fields)
    locked_circle(circle.id)
    changed = _apply(circle, fields)
    if not changed:
        db.session.rollback()
        return []
    circle.version += 1
    asked = (CircleRequest.circle_id == circle.id) & CircleRequest.withdrawn.is_(False)
    if "starts_at" in changed:  # a new time: a new reminder (a longer meeting starts as it did)
        db.session.execute(update(CircleRequest).where(asked).values(reminded_at=None))
    if {"starts_at", "minutes", "where", "format"} & set(changed):
        # One not yet told that a place opened for her still is: that email gives the new time.
        db.session.execute(
            update(CircleRequest)
            .where(
                asked,
                CircleRequest.email_sealed.is_not(None),
                or_(CircleRequest.notice.is_(None), CircleRequest.notice.not_in(("seated", "cancelled"))),
            )
            .values(notice="changed")
        )
    seat_waiting(circle)
    db.session.commit()
    announce("circle_changed", actor=by.id, role=by.role, circle=circle.id, fields=changed)
    return changed


def cancel(circle: Circle, *, by: StaffUser) -> None:
    """Cancel a circle: taken off the list, and those who asked and gave an email are told."""
    if circle.cancelled_at is not None:
        return
    circle.cancelled_at = circle.updated_at = utcnow()
    circle.version += 1
    db.session.execute(
        update(CircleRequest)
        .where(
            CircleRequest.circle_id == circle.id,
            CircleRequest.withdrawn.is_(False),
            CircleRequest.email_sealed.is_not(None),
        )
        .values(notice="cancelled")
    )
    db.session.commit()
    announce("circle_cancelled", actor=by.id, role=by.role, circle=circle.id)
