"""What is left of a crypto-shredded case: a de-identified statistics row, and its id in the
list of shredded cases. Neither holds a word the reporter wrote or a way to find her."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models import UTCDateTime


class CaseStatistic(Model):
    """The clear metadata of one shredded case that the program's figures read
    (app/insights/timings.py reads these rows with the cases'), and nothing else: no case id,
    no receipt, no key, no signal, no assignee. Its own id is a counter, so the row cannot be
    joined back to the case's id in the audit log or in :class:`ShreddedCase`."""

    __tablename__ = "case_statistics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(12))
    # The month it was filed, in the program's time zone ("2026-03").
    month: Mapped[str] = mapped_column(String(7))
    category: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    county: Mapped[str | None] = mapped_column(String(24))
    # The outcome: its status and close reason when it was shredded.
    status: Mapped[str] = mapped_column(String(20))
    closed_reason: Mapped[str | None] = mapped_column(String(32))
    # Why it went: retention (its time was up) or reporter (she deleted it).
    ended_by: Mapped[str] = mapped_column(String(12))
    # The times the figures measure, as the case held them (to the minute when she acted).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_case_statistics_created", "created_at", "kind"),)


class ShreddedCase(Model):
    """The id of a case that was crypto-shredded, when (to the day) and why: content-free, so
    that a database restored from a backup made before can be shredded again."""

    __tablename__ = "shredded_cases"

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    shredded_on: Mapped[datetime] = mapped_column(UTCDateTime())
    # retention | reporter
    reason: Mapped[str] = mapped_column(String(12))
