"""The notification outbox: what someone should hear about, until it has been sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models import UTCDateTime, utcnow


class Notification(Model):
    """Content-free by construction: a kind, a recipient and a case id; never text."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # staff | reporter
    recipient: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One notification per event, however often the job that raised it runs.
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    # Where an account notice goes instead of the person's current address: the old address
    # after an email change, so a hijacked account is noticed. Cleared once sent.
    address: Mapped[str | None] = mapped_column(String(254))

    __table_args__ = (
        Index("ix_notifications_unsent", "sent_at", "recipient", "staff_id"),
        # The urgent notices still to be paged (app/notify/paging.py).
        Index("ix_notifications_kind_created", "kind", "created_at"),
    )


class PageAttempt(Model):
    """One page of an urgent notice through a coordinator's paging address: when, whether it
    got through, and the kind of failure (a short code or an exception's class name, never
    the address or a reply). ``notification_id`` is unique: a notice is paged at most once."""

    __tablename__ = "page_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # None while the page is under way.
    ok: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(64))
    # Who was paged instead, after this page failed.
    fallback_staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
