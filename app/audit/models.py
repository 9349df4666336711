"""The audit log: append-only, each row chained to the one before by a SHA-256 hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models import UTCDateTime, utcnow

GENESIS = "0" * 64


class AuditEntry(Model):
    """Who did what, to which case, when. Never content."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A staff id; empty for the reporter (through their receipt) or the system.
    actor_id: Mapped[str] = mapped_column(String(36), default="")
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[str | None] = mapped_column(String(36), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The root version of the key the link was made with (app/audit/rekeying.py makes it again).
    key_root: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        # The audit viewer: one person's or one action's entries, newest first; a time range.
        Index("ix_audit_log_actor", "actor_id", "id"),
        Index("ix_audit_log_action", "action", "id"),
        Index("ix_audit_log_at", "at"),
    )


class AuditHead(Model):
    """One row: the last entry's number and hash. Updating it first serialises writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    # HMAC of the two above under the chain's key (``audit.log.head_mac``).
    mac: Mapped[str | None] = mapped_column(String(64))
    key_root: Mapped[str | None] = mapped_column(String(16))  # the root version of ``mac``'s key
