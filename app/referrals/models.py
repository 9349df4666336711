"""Counsel and their referrals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models import UTCDateTime, new_id, utcnow


class CounselProfile(Model):
    """What coordinators need to choose counsel, and the key a packet is encrypted to."""

    __tablename__ = "counsel_profiles"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    firm: Mapped[str] = mapped_column(String(200), default="")
    # Codes from app.referrals.vocabulary.PRACTICE_AREAS.
    practice_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Language tags counsel can work in (any, not only the ones the site is translated into).
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["en"])
    # An age X25519 recipient, "age1…"; validated on entry.
    age_recipient: Mapped[str] = mapped_column(String(128), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Referral(Model):
    """One referral of a case to one counsel, from draft to closed (or revoked).

    The packet is stored only as age ciphertext to the counsel's recipient: nobody here can
    read it back. Revoking a referral deletes the packet."""

    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    counsel_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    # draft | sent | acknowledged | accepted | declined | closed | revoked
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # Whether the packet names the reporter (their consent when it was sent).
    identity_disclosed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A code from app.referrals.vocabulary: why counsel declined, or why it was revoked.
    reason: Mapped[str | None] = mapped_column(String(32))
    packet: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    packet_sha256: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_referrals_counsel_status", "counsel_id", "status", "sent_at"),)
