"""Account lifecycle, as the program runs it: each change to an account is made, its owner's
notice written to the outbox, both committed together, and then announced (audited).

Notices say what changed on the account, never how: no password, code, link or address
(``app.notify.sending`` words them). After an email change both addresses hear of it, the
old one first of all: whoever took an account over cannot keep its owner from noticing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from app.extensions import db
from app.models import new_id
from app.notify.service import Notice, raise_notices
from app.signals import announce
from app.staff import lifecycle
from app.staff.models import StaffUser
from app.staff.services import StaffError

T = TypeVar("T")
SYSTEM = ("", "system")


def _tell(user: StaffUser, kind: str, *, address: str | None = None) -> None:
    """Queue a content-free notice of ``kind`` (an ``account_*`` kind) for ``user``."""
    raise_notices([Notice(user.id, None, kind, f"{kind}:{user.id}:{new_id()}", address=address)])


@contextmanager
def _one_change() -> Iterator[None]:
    """A refused change leaves nothing half done and no lock held."""
    try:
        yield
    except StaffError:
        db.session.rollback()
        raise


def _by(by: StaffUser | None) -> tuple[str, str]:
    return (by.id, by.role) if by is not None else SYSTEM


def _run(change: Callable[[], T]) -> T:
    with _one_change():
        result = change()
    db.session.commit()
    return result


def edit_identity(user: StaffUser, *, by: StaffUser, name: str, email: str, role: str) -> list[str]:
    """A coordinator changes a person's name, email or role; returns the fields changed."""
    old_email = user.email

    def change() -> list[str]:
        changed = lifecycle.edit_identity(user, name=name, email=email, role=role)
        for field in changed:
            _tell(user, f"account_{field}")
        if "email" in changed:
            _tell(user, "account_email", address=old_email)
        return changed

    changed = _run(change)
    if changed:
        announce("staff_profile_changed", actor=by.id, role=by.role, staff=user.id, fields=changed)
    return changed


def reset_sign_in(user: StaffUser, *, by: StaffUser | None) -> str:
    """Reset ``user``'s sign-in (``by`` None: the operator); returns the new enrolment link."""

    def change() -> str:
        url = lifecycle.reset_sign_in(user, by=by)
        _tell(user, "account_reset")
        return url

    url = _run(change)
    actor, role = _by(by)
    announce("staff_reset", actor=actor, role=role, staff=user.id)
    return url


def issue_recovery_codes(user: StaffUser, *, by: StaffUser) -> list[str]:
    """New recovery codes for ``user``, to show once and pass on; the old ones stop working."""

    def change() -> list[str]:
        codes = lifecycle.issue_recovery_codes(user)
        _tell(user, "account_recovery_codes")
        return codes

    codes = _run(change)
    announce("staff_recovery_codes_issued", actor=by.id, role=by.role, staff=user.id, count=len(codes))
    return codes


def unlock(user: StaffUser, *, by: StaffUser) -> None:
    def change() -> None:
        lifecycle.unlock(user)
        _tell(user, "account_unlocked")

    _run(change)
    announce("staff_unlocked", actor=by.id, role=by.role, staff=user.id)


def deactivate(user: StaffUser, *, by: StaffUser) -> None:
    def change() -> None:
        lifecycle.close_account(user, by=by)
        _tell(user, "account_deactivated")

    _run(change)
    # Whatever the person had in hand is given back by its own feature (referrals: a counsel's).
    announce("staff_deactivated", actor=by.id, role=by.role, staff=user.id)


def reactivate(user: StaffUser, *, by: StaffUser) -> str | None:
    """Open ``user``'s account again; returns a new enrolment link if they never enrolled."""

    def change() -> str | None:
        url = lifecycle.reopen_account(user)
        _tell(user, "account_reactivated")
        return url

    url = _run(change)
    announce("staff_reactivated", actor=by.id, role=by.role, staff=user.id, link=url is not None)
    return url


def change_password(user: StaffUser, new_password: str) -> int:
    """The owner's new password (they proved it is them); every other session ends. Returns
    the session epoch it set, for the owner's own session to follow."""

    def change() -> int:
        epoch = lifecycle.change_password(user, new_password)
        _tell(user, "account_password")
        return epoch

    epoch = _run(change)
    announce("staff_password_changed", actor=user.id, role=user.role)
    return epoch


def offer_new_device(user: StaffUser) -> lifecycle.NewDevice:
    offer = lifecycle.offer_new_device(user)
    db.session.commit()
    return offer


def confirm_new_device(user: StaffUser, key: object, code: str) -> int:
    """The owner's codes now come from the new device; every other session ends. Returns the
    session epoch it set, for the owner's own session to follow."""

    def change() -> int:
        epoch = lifecycle.confirm_new_device(user, key, code)
        _tell(user, "account_device")
        return epoch

    epoch = _run(change)
    announce("staff_totp_changed", actor=user.id, role=user.role)
    return epoch
