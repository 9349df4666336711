"""An account's life after enrolment: a coordinator edits it, resets its sign-in, makes new
recovery codes, unlocks, deactivates and reactivates it; its owner changes password and
authenticator app.

These functions change the account in the caller's transaction and never commit: the
caller (``app.program.accounts``) writes the person's notice to the outbox in the same
transaction, commits, and only then announces. Whatever would leave the program without a
coordinator who can sign in is refused (:func:`keep_a_coordinator`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.exc import IntegrityError

from app.crypto import DecryptionError
from app.extensions import db
from app.keystore import current_keyring
from app.models import take_write_lock
from app.signals import announce
from app.staff import credentials
from app.staff.models import ROLES, LoginFailures, StaffUser
from app.staff.services import (
    StaffError,
    cancel_invites,
    find_by_email,
    is_email_address,
    new_invite,
    normalize_email,
    replace_recovery_codes,
)

COORDINATOR, COUNSEL = "coordinator", "counsel"
LAST_COORDINATOR = (
    "{name} is the last coordinator who can sign in. Invite or enrol another coordinator first, "
    "so the program is never left without one."
)


def can_sign_in() -> ColumnElement[bool]:
    """An account that is open and has a password and an authenticator app."""
    return and_(StaffUser.active.is_(True), StaffUser.password_hash.is_not(None), StaffUser.totp_sealed.is_not(None))


def keep_a_coordinator(user: StaffUser) -> None:
    """Refuse (:class:`StaffError`) to let ``user`` lose access if they are the last
    coordinator who can sign in.

    The coordinators' rows stay locked until the caller commits (PostgreSQL; SQLite: the
    whole database), so two coordinators closing each other's accounts at once are
    serialised: the second one finds a single coordinator left and is refused."""
    take_write_lock(StaffUser.active)
    ids = db.session.scalars(
        select(StaffUser.id)
        .where(StaffUser.role == COORDINATOR, can_sign_in())
        .order_by(StaffUser.id)
        .with_for_update()
    ).all()
    db.session.refresh(user)
    if user.id in ids and len(ids) <= 1:
        raise StaffError(LAST_COORDINATOR.format(name=user.display_name))


def lock_account(user: StaffUser) -> None:
    """Start a change of ``user`` with their row (SQLite: the database) locked and re-read."""
    take_write_lock(StaffUser.active)
    db.session.execute(select(StaffUser.id).where(StaffUser.id == user.id).with_for_update())
    db.session.refresh(user)


def edit_identity(user: StaffUser, *, name: str, email: str, role: str) -> list[str]:
    """Change a person's name, email and role; returns the names of the fields that changed.

    Counsel are people of another organisation with their own directory entry and packets:
    their role does not change, nor does anyone become counsel by an edit."""
    name, email = name.strip(), normalize_email(email)
    if not is_email_address(email):
        raise StaffError("That is not an email address.")
    if role not in ROLES:
        raise StaffError(f"The role must be one of {', '.join(ROLES)}.")
    lock_account(user)
    if role != user.role and COUNSEL in (role, user.role):
        raise StaffError(
            "Counsel accounts keep their role. Deactivate the account and invite the person again instead."
        )
    if role != user.role and user.role == COORDINATOR:
        keep_a_coordinator(user)
    other = find_by_email(email)
    if other is not None and other.id != user.id:
        raise StaffError("Another account already uses that email address.")
    changed = [
        field
        for field, old, new in (("name", user.name, name), ("email", user.email, email), ("role", user.role, role))
        if old != new
    ]
    user.name, user.email, user.role = name, email, role
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise StaffError("Another account already uses that email address.") from None
    return changed


def reset_sign_in(user: StaffUser, *, by: StaffUser | None) -> str:
    """Clear password, authenticator and recovery codes, end every session, and make a new
    one-time enrolment link (returned, to be shown once). Nobody signs in with the old
    password or codes while the link waits to be used."""
    if by is not None and by.id == user.id:
        raise StaffError("You cannot reset your own sign-in: it would lock you out. Ask another coordinator.")
    lock_account(user)
    if not user.active:
        raise StaffError(f"{user.display_name} is deactivated. Reactivate the account first.")
    if by is not None and user.role == COORDINATOR:
        keep_a_coordinator(user)
    _forget_credentials(user)
    return new_invite(user)


def _forget_credentials(user: StaffUser) -> None:
    user.password_hash = None
    user.totp_sealed = user.totp_root = None
    user.pending_totp_sealed = None
    user.enrolled_at = None
    # Nobody is routed cases while they cannot sign in to see them, nor put back on duty by
    # the end of a break they took before.
    user.on_duty = False
    user.break_until = None
    user.session_epoch += 1
    replace_recovery_codes(user, count=0)
    _clear_failures(user)


def _clear_failures(user: StaffUser) -> None:
    db.session.execute(delete(LoginFailures).where(LoginFailures.staff_id == user.id))
    user.failed_logins = 0


def issue_recovery_codes(user: StaffUser) -> list[str]:
    """Ten new recovery codes for ``user`` (to show once); the old ones stop working."""
    lock_account(user)
    if not user.enrolled:
        raise StaffError(f"{user.display_name} has not finished setting up: enrolment makes their codes.")
    return replace_recovery_codes(user)


def unlock(user: StaffUser) -> None:
    """Forget every failed sign-in of ``user``: no wait from any place."""
    lock_account(user)
    _clear_failures(user)


def close_account(user: StaffUser, *, by: StaffUser) -> None:
    """Deactivate ``user`` and end every session they have; any enrolment link dies."""
    if user.id == by.id:
        raise StaffError("You cannot deactivate your own account.")
    lock_account(user)
    if not user.active:
        raise StaffError(f"{user.display_name} is already deactivated.")
    if user.role == COORDINATOR:
        keep_a_coordinator(user)
    user.active = False
    user.on_duty = False
    user.break_until = None
    user.session_epoch += 1
    cancel_invites(user)


def deactivate(user: StaffUser, *, by: StaffUser) -> None:
    """Close an account and end every session it has, at once, and commit (without telling
    its owner: ``app.program.accounts.deactivate`` does both)."""
    try:
        close_account(user, by=by)
    except StaffError:
        db.session.rollback()
        raise
    db.session.commit()
    # Whatever the person had in hand is given back by its own feature (referrals: a counsel's).
    announce("staff_deactivated", actor=by.id, role=by.role, staff=user.id)


def reopen_account(user: StaffUser) -> str | None:
    """Reactivate ``user``. Someone who had set up their sign-in signs in with it again (no
    session from before comes back); someone who had not gets a new enrolment link, returned."""
    lock_account(user)
    if user.active:
        raise StaffError(f"{user.display_name} is not deactivated.")
    user.active = True
    user.break_until = None  # a break from before stays over: duty is theirs to turn on
    user.session_epoch += 1
    _clear_failures(user)
    if user.enrolled:
        return None
    return new_invite(user)


def change_password(user: StaffUser, new_password: str) -> int:
    """Set ``user``'s own new password; every session of theirs ends (the caller keeps the
    one in hand with the returned epoch, see ``sessions.follow_epoch``). Its owner proved it
    is them first."""
    problem = credentials.password_problem(new_password, user_inputs=[user.email, user.name, "confide"])
    if problem is not None:
        raise StaffError(problem)
    lock_account(user)
    user.password_hash = credentials.hash_password(new_password)
    user.session_epoch += 1
    return user.session_epoch


@dataclass(frozen=True)
class NewDevice:
    """A TOTP secret offered to one browser: ``key`` stays in that browser's session."""

    key: str
    secret: str


def offer_new_device(user: StaffUser) -> NewDevice:
    """A new TOTP secret for ``user``, sealed and bound to a key only the asking browser gets;
    the current device keeps working until the new one confirms with a code."""
    key = secrets.token_urlsafe(16)
    secret = credentials.new_totp_secret()
    user.pending_totp_sealed = credentials.seal_totp(current_keyring(), user.id, secret, field=f"new-totp/{key}")
    return NewDevice(key, secret)


def offered_device(user: StaffUser, key: object) -> str | None:
    """The secret offered to the browser holding ``key``, if it is still the latest offer."""
    if not isinstance(key, str) or user.pending_totp_sealed is None:
        return None
    try:
        return credentials.open_totp(current_keyring(), user.id, user.pending_totp_sealed, field=f"new-totp/{key}")
    except DecryptionError:
        return None


def confirm_new_device(user: StaffUser, key: object, code: str) -> int:
    """Move ``user``'s sign-in codes to the offered device once a code from it matches;
    every session of theirs ends (the caller keeps the one in hand with the returned epoch)."""
    lock_account(user)
    secret = offered_device(user, key)
    if secret is None:
        raise StaffError("expired")
    step = credentials.matching_step(secret, code, after_step=0)
    if step is None:
        raise StaffError("code")
    user.totp_sealed = credentials.seal_totp(current_keyring(), user.id, secret)
    user.totp_root = current_keyring().active_root_id
    user.totp_last_step = step
    user.pending_totp_sealed = None
    user.session_epoch += 1
    return user.session_epoch
