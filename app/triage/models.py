"""Routing records: every routing decision made for a case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models import UTCDateTime, utcnow

# Routing states of a case: intake (committed, no worker yet) → assigned | coordinators; a
# missed deadline moves an assigned case to rerouting, and routing runs again; a case left with
# the coordinators goes to a responder who comes to fit it (routing.offer_waiting); a
# coordinator's assignment makes it reassigned, which routing leaves alone.
ROUTABLE = ("intake", "awaiting_assignment", "rerouting")


class RoutingRound(Model):
    """One routing decision: offered to a responder (or to the coordinators) until a deadline.

    A case's rounds are numbered 1, 2, …; a deadline check names its round, so a check
    for a round that has been superseded does nothing."""

    __tablename__ = "routing_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # A responder, or None when no one was eligible and the coordinators have the case.
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # assigned | coordinators | missed (a responder's deadline passed unacknowledged) |
    # unclaimed (the coordinators' deadline passed and they were reminded) | reassigned (a
    # coordinator gave the case to someone; routing leaves it alone from then on)
    outcome: Mapped[str] = mapped_column(String(16))
    # With nobody eligible: why, the first rule no one passed (eligibility.NOBODY_BECAUSE).
    reason: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        UniqueConstraint("case_id", "number", name="uq_routing_rounds_case_number"),
        # The cases each responder was given lately (app/triage/severe.py), read as routing runs.
        Index("ix_routing_rounds_staff_started", "staff_id", "started_at"),
    )
