"""Reporter sessions, kept on the server so that signing out ends them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models import UTCDateTime


class ReporterSession(Model):
    """A browser signed in with a receipt. The cookie holds a random token; only a keyed
    index of it is kept here, beside the case it opens. Signing out, "Leave quickly" and
    idleness delete the row, and with it every copy of the cookie."""

    __tablename__ = "reporter_sessions"

    token_index: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # To the minute: enough for the idle limit, no more.
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
