"""Consent, recorded per purpose as an append-only history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models import UTCDateTime, utcnow


class ConsentRecord(db.Model):
    """One decision by the reporter about one purpose; the newest per purpose is in force."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    # Empty for the programme as a whole; a counsel or responder id when consent is narrower.
    recipient: Mapped[str] = mapped_column(String(64), default="")
    granted: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # intake | status (changed later by the reporter through their receipt)
    source: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_consent_case_purpose", "case_id", "purpose", "id"),)
