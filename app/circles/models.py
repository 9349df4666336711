"""Peer circles and the requests for their place or link.

What anyone may read about a circle (its title, language, time, length, capacity, ground rules)
is clear; where it meets is sealed, for it is shown only to those who ask. A request keeps the
first name or pseudonym its person chose and the email she may have given, both sealed, and a
keyed index of her code, never the code."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models import UTCDateTime, new_id, utcnow

FORMATS = ("online", "in_person")


class Circle(Model):
    """One meeting of a peer circle, published by a coordinator."""

    __tablename__ = "circles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(16))
    # online | in_person
    format: Mapped[str] = mapped_column(String(16))
    # The place and the link, sealed together (app/circles/sealing.py).
    where_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    seal_root: Mapped[str] = mapped_column(String(16))  # the root version it is sealed under
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    facilitator_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"), index=True)
    # Empty: the standard ground rules, shown to each reader in her language (app/circles/rules.py).
    ground_rules: Mapped[str] = mapped_column(Text, default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One more at every change: a calendar that imports the circle again takes the newest.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)


class CircleRequest(Model):
    """Someone asked for a circle's place or link. ``seated``: she has a place (otherwise she
    waits for one). ``notice``: what she is still to be told by email ("seated", "cancelled"),
    if she gave an address."""

    __tablename__ = "circle_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    circle_id: Mapped[str] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    code_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The root version the code's index was made under; re-keyed when she uses it.
    code_root: Mapped[str] = mapped_column(String(16))
    name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    email_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    seal_root: Mapped[str] = mapped_column(String(16))  # the root version both are sealed under
    # The site's language when she asked: her emails are written in it.
    language: Mapped[str] = mapped_column(String(16))
    # The order she asked in, among those who asked for this circle: places go in this order.
    position: Mapped[int] = mapped_column(Integer)
    seated: Mapped[bool] = mapped_column(Boolean)
    # She gave up her place (or her place in the queue).
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    notice: Mapped[str | None] = mapped_column(String(16))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # To the minute, as everything a reporter does.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("circle_id", "position", name="uq_circle_requests_position"),
        Index("ix_circle_requests_circle", "circle_id", "seated", "withdrawn"),
    )
