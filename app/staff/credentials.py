"""Passwords, TOTP and recovery codes. Plain functions over a StaffUser and the keyring."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, update
from zxcvbn import zxcvbn

from app.crypto import Keyring, blind_index, open_field, seal_field
from app.extensions import db
from app.models import conflict_insert, delete_where
from app.staff.models import LoginFailures, StaffUser

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
TOTP_STEP = 30
# Sign-in back-off. From one source, after LOCK_AFTER failures each try must wait, one minute
# doubling to LOCK_FOR at most, counted from the last failure; a try while waiting is refused
# uncounted, so guesses cannot stretch the wait, and the right password and code always work
# once it is over. Other sources are not held back: guessing passwords from many addresses
# locks nobody out. Wrong codes are different, because only someone with the password gets
# to enter one: past ACCOUNT_LOCK_AFTER of them from anywhere, every source waits (a row
# with the source ANYWHERE), and the owner hears of it when she next signs in.
LOCK_AFTER = 5
ACCOUNT_LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)
ANYWHERE = ""

# argon2id with the library's defaults (RFC 9106 low-memory profile).
hasher = PasswordHasher()
# Verified against when the email is unknown, so both cases take the same time.
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


def password_problem(password: str, *, user_inputs: list[str]) -> str | None:
    """Why a new password is refused, or None if it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "short"
    if len(password) > MAX_PASSWORD_LENGTH:
        return "long"
    # zxcvbn knows the most common passwords, names, words and keyboard patterns.
    if zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u])["score"] < 3:
        return "common"
    return None


def hash_password(password: str) -> str:
    return hasher.hash(password)


def check_password(user: StaffUser | None, password: str) -> bool:
    """Constant work whether or not the account exists."""
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        ok = hasher.verify(stored, password[:MAX_PASSWORD_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if ok and user is not None and hasher.check_needs_rehash(stored):
        user.password_hash = hasher.hash(password)
    return ok and user is not None and user.password_hash is not None


def _totp_key(ring: Keyring, version: str | None = None) -> bytes:
    return ring.derive("staff/totp", version=version)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def seal_totp(ring: Keyring, staff_id: str, secret: str, *, field: str = "totp") -> bytes:
    return seal_field(_totp_key(ring), secret.encode(), record="staff", record_id=staff_id, field=field)


def open_totp(ring: Keyring, staff_id: str, sealed: bytes, *, field: str = "totp", version: str | None = None) -> str:
    """A TOTP secret sealed under root version ``version`` (None: the active one; the row names it)."""
    key = _totp_key(ring, version)
    return open_field(key, sealed, record="staff", record_id=staff_id, field=field).decode()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Confide")


def matching_step(secret: str, code: str, *, after_step: int, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (one step of clock drift allowed), if later than
    ``after_step``; a code already used is never accepted again."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // TOTP_STEP)
    for step in (current - 1, current, current + 1):
        if step > after_step and hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


def accept_totp(ring: Keyring, user: StaffUser, code: str, *, now: float | None = None) -> bool:
    """Accept a code at most once, even when two requests race with it."""
    if user.totp_sealed is None:
        return False
    step = matching_step(
        open_totp(ring, user.id, user.totp_sealed, version=user.totp_root),
        code,
        after_step=user.totp_last_step,
        now=now,
    )
    if step is None:
        return False
    claimed = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, StaffUser.totp_last_step < step)
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return False
    user.totp_last_step = step
    return True


def new_recovery_codes() -> list[str]:
    def one() -> str:
        chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        return f"{chars[:5]}-{chars[5:]}"

    return [one() for _ in range(RECOVERY_CODES)]


def recovery_index(ring: Keyring, code: str, version: str | None = None) -> bytes:
    """The keyed index of a recovery code, under root version ``version`` (None: the active one)."""
    normalized = "".join(ch for ch in code.lower() if ch.isalnum())
    return blind_index(ring, "staff-recovery", normalized, version=version)


def wait_after(failures: int, after: int) -> timedelta:
    """How long a source (or everyone) must wait after its last failure."""
    if failures < after:
        return timedelta(0)
    return min(timedelta(minutes=2 ** min(failures - after, 10)), LOCK_FOR)


def is_locked(user: StaffUser, source: str, now: datetime) -> bool:
    """Whether a sign-in to ``user`` from ``source`` must wait now."""
    for where, after in ((source, LOCK_AFTER), (ANYWHERE, ACCOUNT_LOCK_AFTER)):
        row = db.session.get(LoginFailures, (user.id, where))
        if row is not None and row.last_at + wait_after(row.failures, after) > now:
            return True
    return False


def note_failure(user: StaffUser, source: str, now: datetime, *, code: bool = False) -> None:
    """Count a failure (not while waiting: see :func:`is_locked`), in SQL so that parallel
    guesses are never lost; a wrong ``code`` counts for every source too."""
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(failed_logins=StaffUser.failed_logins + 1)
        .execution_options(synchronize_session=False)
    )
    dialect = db.session.get_bind().dialect.name
    for where in (source, ANYWHERE) if code else (source,):
        statement = conflict_insert(LoginFailures, dialect)
        statement = statement.values(staff_id=user.id, source=where, failures=1, last_at=now)
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["staff_id", "source"],
                set_={"failures": LoginFailures.failures + 1, "last_at": now},
            )
        )
    db.session.refresh(user, ["failed_logins"])


def forget_old_failures(now: datetime) -> int:
    """Failures older than a day are forgotten (sources change daily anyway)."""
    return delete_where(LoginFailures, LoginFailures.last_at < now - timedelta(days=1))


def note_success(user: StaffUser, source: str, now: datetime) -> None:
    db.session.execute(
        delete(LoginFailures).where(LoginFailures.staff_id == user.id, LoginFailures.source.in_((source, ANYWHERE)))
    )
    user.failed_logins = 0
    user.last_login_at = now
