"""Staff accounts: responders, coordinators and counsel, each with password and TOTP."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models import UTCDateTime, new_id, utcnow

ROLES = ("responder", "coordinator", "counsel")


class StaffUser(Model):
    __tablename__ = "staff_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    # What reporters see instead of the real name; reporters may exclude a pseudonym.
    pseudonym: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The TOTP secret, sealed under a key derived from the keyring.
    totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The root version the TOTP secret was sealed under (app/rekey.py seals it again).
    totp_root: Mapped[str | None] = mapped_column(String(16))
    # A coordinator's paging address (an Apprise URL: app/staff/paging.py), sealed like the
    # TOTP secret: it often holds a token, and is never shown again in full.
    paging_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    paging_root: Mapped[str | None] = mapped_column(String(16))  # the root version it was sealed under
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    # A new TOTP secret offered on the profile page, sealed and bound to the browser that
    # asked (like StaffInvite.pending_totp_sealed), until a code from the new device confirms it.
    pending_totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Raised to end every session of this account at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # No longer read or written: waits are counted per source (LoginFailures). Kept until a
    # migration drops it.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    # A break the person took ("I need a break", app/staff/breaks.py): off duty until then, and
    # back on duty once the periodic sweep finds the time passed. Kept here, not in a Redis
    # timer, so a break ends even after every process was restarted. None: no break with a
    # return time (off duty until they turn it back on, or on duty).
    break_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    caseload_cap: Mapped[int] = mapped_column(Integer, default=5)
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["en"])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    trainings: Mapped[list[Training]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", order_by="Training.expires_on"
    )

    @property
    def enrolled(self) -> bool:
        return self.password_hash is not None and self.totp_sealed is not None

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def label(self) -> str:
        """Real name and, if set, the pseudonym reporters see."""
        return f"{self.display_name} ({self.pseudonym})" if self.pseudonym else self.display_name


class LoginFailures(Model):
    """Failed sign-ins on one account from one source (a keyed, daily-changing hash of the
    address, never the address), since that source last signed in there."""

    __tablename__ = "staff_login_failures"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffInvite(Model):
    """A one-time enrolment link. Only a keyed index of its token is stored."""

    __tablename__ = "staff_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    token_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The TOTP secret offered on the enrolment page, sealed, until enrolment completes.
    pending_totp_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)

    staff: Mapped[StaffUser] = relationship()


class RecoveryCode(Model):
    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    code_index: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The root version the code's index was made under (kept until the code is spent or replaced).
    code_root: Mapped[str] = mapped_column(String(16))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Training(Model):
    """A completed course that qualifies a responder for a category until it expires."""

    __tablename__ = "staff_trainings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    course: Mapped[str] = mapped_column(String(200))
    # A case category code, or "all" for a course that covers every category.
    category: Mapped[str] = mapped_column(String(32))
    completed_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)

    staff: Mapped[StaffUser] = relationship(back_populates="trainings")
