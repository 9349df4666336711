"""A case: its messages, notes, the reporter's consent and exclusions. Only triage metadata is
clear; everything else is sealed or keyed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import models
from app.extensions import Model
from app.models import UTCDateTime, minute_now, new_id, utcnow

# What the program's figures read of each case of a period (app/insights/timings.py), kind
# first: reports and support requests are counted apart, each from its own part of the index.
FIGURES_COLUMNS = (
    "kind",
    "created_at",
    "level",
    "status",
    "acknowledged_at",
    "ack_due_at",
    "first_reply_at",
    "feedback_due_at",
    "closed_at",
)


class Case(Model):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    receipt_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The root version the receipt's index was made under (app/intake/finding.py re-keys it).
    receipt_root: Mapped[str] = mapped_column(String(16))
    # Keyed index of the form's one-time submission token, so a resent form files nothing twice.
    submission_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # Keyed digest of every answer, so a resent form is known to be unchanged (intake.services).
    submission_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    # When the receipt first opened the case (to the minute): from then on she has it, and a
    # resent form is not shown it again.
    receipt_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=minute_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=minute_now, onupdate=minute_now)

    # Clear metadata: the minimum needed to triage and run the queue.
    # report | support (a support request: app/vocabulary.py SUPPORT, its category too).
    kind: Mapped[str] = mapped_column(String(12), default="report", server_default="report")
    # When the reporter turned her support request into an incident report (app/intake/becoming.py).
    became_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    category: Mapped[str] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    signals: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="new")
    # Orders the queue: 0 waiting for acknowledgement, 1 open, 2 referred, 3 closed.
    queue_rank: Mapped[int] = mapped_column(Integer, default=0)
    # intake: committed, no worker has routed it yet; assigned: offered to a responder;
    # coordinators: no one eligible (offered again when someone fits); rerouting: a deadline
    # passed, routing runs again; reassigned: a coordinator gave it to someone, routing is done.
    routing_state: Mapped[str] = mapped_column(String(24), default="intake")
    # How many routing rounds the case has had (see app/triage/models.py RoutingRound).
    routing_round: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(8))
    county: Mapped[str | None] = mapped_column(String(24))
    is_named: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    feedback_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Has the reporter heard back? waiting → reminded (deadline near) → overdue, or answered
    # once staff write to them. Only the reminder job and the first staff message move it.
    feedback_stage: Mapped[str] = mapped_column(String(12), default="waiting")
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_to_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    important: Mapped[bool] = mapped_column(Boolean, default=False)
    # The reporter wrote (a message or an addition) and whoever has the case has not opened it
    # since; with nobody on it, until a coordinator opens it. Read with the queue's rows only.
    reporter_unread: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A code from vocabulary.CLOSE_REASONS; any words about it go in a sealed note.
    closed_reason: Mapped[str | None] = mapped_column(String(32))
    # For the program's figures (app/insights): when staff first wrote to the reporter, and when
    # the case was last closed.
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Retention (app/retention): when the reporter last came back (signed in or wrote), to the
    # day, which keeps her case a while longer; and a coordinator's legal hold (a code from
    # app.retention.holds.HOLD_REASONS), which keeps it until released.
    reporter_seen_on: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hold_reason: Mapped[str | None] = mapped_column(String(24))
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The case's data key, wrapped by a KEK; deleting the row shreds every sealed value.
    dek_scheme: Mapped[str] = mapped_column(String(32))
    dek_key_id: Mapped[str] = mapped_column(String(64))
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)

    # Sealed: the report itself, and contact details kept apart so they can be withheld.
    report_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)

    messages: Mapped[list[Message]] = relationship(
        back_populates="case",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Message.number",
    )

    notes: Mapped[list[CaseNote]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="CaseNote.created_at"
    )

    __table_args__ = (
        Index("ix_cases_routing_waiting", "routing_state", "level", "created_at"),
        # The queue: waiting cases first, by level, then by deadline.
        # The id ends each key so the index alone gives the queue's full order.
        Index("ix_cases_queue", "queue_rank", "level", "ack_due_at", "id"),
        Index("ix_cases_assignee_queue", "assigned_to_id", "queue_rank", "level", "ack_due_at", "id"),
        # The cases each person was given lately, by a coordinator too (app/triage/severe.py).
        Index("ix_cases_assignee_assigned", "assigned_to_id", "assigned_at"),
        # For counting the queue's filters without scanning every case.
        Index("ix_cases_status_level", "status", "level"),
        Index("ix_cases_category_language", "category", "language"),
        Index("ix_cases_feedback", "feedback_stage", "feedback_due_at"),
        # The program's figures read the cases of a period, from the index alone: a case's row
        # holds its sealed report, and reading those rows would cost the whole table.
        Index("ix_cases_figures", *FIGURES_COLUMNS),
    )

    @property
    def level_name(self) -> str:
        return f"L{self.level}"


class Message(Model):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # reporter | staff
    author: Mapped[str] = mapped_column(String(16))
    # The staff member who wrote it; reporters see only their pseudonym.
    author_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    # message | information (an addition to the report)
    kind: Mapped[str] = mapped_column(String(16), default="message")
    # To the minute (``app.models.minute_now``); ``number`` orders the thread.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=minute_now)
    number: Mapped[int] = mapped_column(Integer, default=0)
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship(back_populates="messages")


class CaseNote(Model):
    """An internal note: staff only, never shown to the reporter. Sealed."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)


class CaseExclusion(Model):
    """A responder the reporter asked never to see their case (matched by pseudonym at intake),
    as a keyed index of case and person only (``cases.exclusions``)."""

    __tablename__ = "case_exclusions"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    staff_index: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    index_root: Mapped[str] = mapped_column(String(16))  # the root version of the index


class ConsentRecord(Model):
    """One decision by the reporter about one purpose; the newest per purpose is in force."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    # Empty for the programme as a whole; a counsel or responder id when consent is narrower.
    recipient: Mapped[str] = mapped_column(String(64), default="")
    # For the ways to be contacted, always False here: the choice is ``sealed_choice``, a keyed
    # index (``cases.consent``), so the table does not tell which ways to reach her exist.
    granted: Mapped[bool] = mapped_column(Boolean)
    sealed_choice: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    seal_root: Mapped[str | None] = mapped_column(String(16))  # the root version of sealed_choice
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=minute_now)
    # intake | status (changed later by the reporter through their receipt)
    source: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_consent_case_purpose", "case_id", "purpose", "id"),)


def take_write_lock() -> None:
    """SQLite: begin with the database's write lock, so no other writer can route, assign,
    acknowledge or withdraw between what this transaction reads and what it writes.
    PostgreSQL locks rows instead."""
    models.take_write_lock(ConsentRecord.granted)


class ReportTally(Model):
    """How many reports of one month (in the program's time zone) gave one answer to one
    question: the program's figures (app/insights) without reading any report.

    Counted as each report is filed (app/cases/tallies.py), the clear answers too, so the
    figures outlive a case's deletion. A month with one report holds that report's answers, so
    the answers kept sealed in the report (who did it, where, when) are stored only as keyed
    indexes, one per month: a copy of the database says that some report of March gave some
    answer to "who did it", not which. The clear answers (category, level, county, language,
    named, consent) are stored as they are, as the cases table shows them (and they stay once
    a case is deleted)."""

    __tablename__ = "report_tallies"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-03"
    # report | support: each kind has its own questions (app/cases/tallies.py)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    question: Mapped[str] = mapped_column(String(32), primary_key=True)
    # A sealed question's answer: the first 16 bytes of its keyed index, as hex.
    answer: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The root version of a sealed question's answer index (None for a clear question's answer).
    answer_root: Mapped[str | None] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=0)
