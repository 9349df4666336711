"""Inviting, enrolling, signing in and managing staff accounts."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta

from flask import current_app, g, has_request_context
from sqlalchemy import delete, func, or_, select, update

from app.config import current_settings
from app.crypto import DecryptionError, blind_index
from app.extensions import db
from app.keystore import current_keyring
from app.models import utcnow
from app.signals import announce
from app.staff import credentials
from app.staff.models import ROLES, LoginFailures, RecoveryCode, StaffInvite, StaffUser

log = logging.getLogger("confide.staff")
INVITE_PURPOSE = "staff-invite"


class StaffError(Exception):
    """A request about an account that cannot be done; the message is for the person."""


def staff_directory() -> dict[str, StaffUser]:
    """Every account by id, read once per request: a page naming many colleagues
    (authors, assignee, timeline, reassign list) asks the database once."""
    if has_request_context() and "staff_directory" in g:
        return g.staff_directory
    directory = {user.id: user for user in db.session.scalars(select(StaffUser))}
    if has_request_context():
        g.staff_directory = directory
    return directory


def normalize_email(email: str) -> str:
    return email.strip().lower()


# An address as people type them: no spaces, quotes, brackets or control characters, one @,
# and a domain with a dot. Stricter than RFC 5321 allows, as a staff address may be.
EMAIL_RE = re.compile(r"[^\s@<>()\[\],;:\"\\\x00-\x1f\x7f]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)+")


def is_email_address(email: str) -> bool:
    return len(email) <= 254 and EMAIL_RE.fullmatch(normalize_email(email)) is not None


def find_by_email(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(StaffUser.email == normalize_email(email)))


def invite_url(token: str) -> str:
    return current_app.config["CONFIDE"].public_link(f"/staff/enrol/{token}")


def invite_staff(email: str, role: str, *, name: str = "", by: StaffUser | None = None) -> str:
    """Create an account, or invite again one that never enrolled or was deactivated; returns
    the one-time enrolment URL. A deactivated person invited again starts afresh: the account
    opens with the new role, and the old password and authenticator no longer work.

    An open account waiting for its enrolment (never enrolled, or reset) only gets a new
    link: who it is stays as it is, since a change of name or role goes through the identity
    edit (``app.program.accounts.edit_identity``), with its rules and its notice to the
    owner. Asked for another role, the invitation is refused."""
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    email = normalize_email(email)
    if not is_email_address(email):
        raise StaffError("that is not an email address")
    user = find_by_email(email)
    if user is not None and user.enrolled and user.active:
        raise StaffError(f"{email} already has an account (to help them back in, reset their sign-in)")
    if user is not None and user.active and user.role != role:
        raise StaffError(
            f"{email} already has an account as {user.role}. Inviting again only sends a new link: "
            "to change the role, edit the person's name, email and role on their page."
        )
    reopened = user is not None and not user.active
    if user is None:
        user = StaffUser(email=email, name=name.strip(), role=role)
        db.session.add(user)
        db.session.flush()
    elif reopened:
        user.role, user.name = role, name.strip() or user.name
        user.active = True
        # No session from before comes back, nor any credential.
        user.session_epoch += 1
        user.password_hash = user.totp_sealed = user.totp_root = user.pending_totp_sealed = None
        user.enrolled_at = None
        replace_recovery_codes(user, count=0)
    url = new_invite(user)
    db.session.commit()
    actor, actor_role = (by.id, by.role) if by else ("", "system")
    if reopened:
        announce("staff_reactivated", actor=actor, role=actor_role, staff=user.id, link=True)
    announce("staff_invited", actor=actor, role=actor_role, staff=user.id, as_role=role)
    return url


def new_invite(user: StaffUser) -> str:
    """A new one-time enrolment link for ``user``, in the caller's transaction; any earlier
    link for this person stops working. Only a keyed index of its token is stored."""
    cancel_invites(user)
    token = secrets.token_urlsafe(32)
    hours = current_settings().invite_valid_hours
    db.session.add(
        StaffInvite(
            staff_id=user.id,
            token_index=blind_index(current_keyring(), INVITE_PURPOSE, token),
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    return invite_url(token)


def cancel_invites(user: StaffUser) -> None:
    db.session.execute(
        update(StaffInvite)
        .where(StaffInvite.staff_id == user.id, StaffInvite.used_at.is_(None))
        .values(used_at=utcnow())
    )


def open_invite(token: str) -> StaffInvite | None:
    """The invite for ``token`` if it is unused and unexpired."""
    if not token or len(token) > 200:
        return None
    # Under each root version in the keyring: a link sent before `flask keys rotate-root` still
    # opens (it lives ``invite_valid_hours``, so it needs no version of its own).
    ring = current_keyring()
    indexes = [blind_index(ring, INVITE_PURPOSE, token, version=version) for version in ring.root_versions()]
    invite = db.session.scalar(select(StaffInvite).where(StaffInvite.token_index.in_(indexes)))
    if invite is None or invite.used_at is not None or invite.expires_at < utcnow():
        return None
    if not invite.staff.active:
        return None
    return invite


def start_enrolment(invite: StaffInvite) -> str:
    """Make a new TOTP secret for this invite, for the browser that asked; returns the key
    that browser keeps (in its session) to see it. A secret made before no longer opens."""
    nonce = secrets.token_urlsafe(16)
    secret = credentials.new_totp_secret()
    invite.pending_totp_sealed = credentials.seal_totp(
        current_keyring(), invite.staff_id, secret, field=f"pending-totp/{nonce}"
    )
    db.session.commit()
    return nonce


def enrolment_secret(invite: StaffInvite, nonce: object) -> str | None:
    """The TOTP secret this browser was shown (``nonce`` from its session), or None."""
    if not isinstance(nonce, str) or invite.pending_totp_sealed is None:
        return None
    try:
        return credentials.open_totp(
            current_keyring(), invite.staff_id, invite.pending_totp_sealed, field=f"pending-totp/{nonce}"
        )
    except DecryptionError:
        return None  # another browser started enrolment since


def enrol(invite: StaffInvite, secret: str, password: str, code: str) -> list[str]:
    """Set password and TOTP from an invite; returns fresh recovery codes to show once.

    The invite is spent by a conditional update first: of two posts at once, one enrols."""
    ring = current_keyring()
    user = invite.staff
    problem = credentials.password_problem(password, user_inputs=[user.email, user.name, "confide"])
    if problem is not None:
        raise StaffError(problem)
    step = credentials.matching_step(secret, code, after_step=0)
    if step is None:
        raise StaffError("code")
    now = utcnow()
    spent = db.session.execute(
        update(StaffInvite)
        .where(StaffInvite.id == invite.id, StaffInvite.used_at.is_(None))
        .values(used_at=now, pending_totp_sealed=None)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise StaffError("used")
    user.password_hash = credentials.hash_password(password)
    user.totp_sealed, user.totp_root = credentials.seal_totp(ring, user.id, secret), ring.active_root_id
    user.totp_last_step = step
    user.enrolled_at = now
    user.active = True
    codes = replace_recovery_codes(user)
    db.session.commit()
    announce("staff_enrolled", actor=user.id, role=user.role)
    return codes


def replace_recovery_codes(user: StaffUser, *, count: int = credentials.RECOVERY_CODES) -> list[str]:
    """``count`` new recovery codes for ``user`` (returned, to show once); the old ones go."""
    ring = current_keyring()
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))
    codes = credentials.new_recovery_codes()[:count]
    db.session.add_all(
        RecoveryCode(staff_id=user.id, code_index=credentials.recovery_index(ring, c), code_root=ring.active_root_id)
        for c in codes
    )
    return codes


def check_password_step(email: str, password: str, source: str) -> tuple[StaffUser, int] | None:
    """First factor: the account and the session epoch it had when its password was checked.
    None for a wrong password, an unknown or inactive account, or a try that must wait
    (``credentials.is_locked``); ``source`` is the client's keyed hash."""
    user = find_by_email(email)
    epoch = user.session_epoch if user is not None else 0
    now = utcnow()
    ok = credentials.check_password(user, password)
    if user is None:
        announce("staff_login_failed", actor="", role="system", step="password")
        return None
    waiting = credentials.is_locked(user, source, now)
    if not user.active or not user.enrolled or waiting or not ok:
        if user.active and not ok and not waiting:
            credentials.note_failure(user, source, now)
        db.session.commit()
        announce("staff_login_failed", actor=user.id, role=user.role, step="password")
        return None
    db.session.commit()
    return user, epoch


def check_second_factor(user: StaffUser, code: str, source: str) -> bool:
    """A TOTP code, or an unused recovery code (which is then spent)."""
    now = utcnow()
    ring = current_keyring()
    waiting = credentials.is_locked(user, source, now)
    if not user.active or waiting:
        ok = False
    elif credentials.accept_totp(ring, user, code):
        ok = True
    else:
        ok = _spend_recovery_code(user, code)
    if ok:
        credentials.note_success(user, source, now)
    elif not waiting:
        credentials.note_failure(user, source, now, code=True)
    db.session.commit()
    if ok:
        announce("staff_login", actor=user.id, role=user.role)
    else:
        announce("staff_login_failed", actor=user.id, role=user.role, step="code")
    return ok


def _spend_recovery_code(user: StaffUser, code: str) -> bool:
    if len(code) > 40:
        return False
    # One statement claims the code, so two requests racing with it cannot both win. Its index
    # was made under the root version it names: each version still in the keyring is tried.
    ring = current_keyring()
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.staff_id == user.id,
            or_(
                *(
                    (RecoveryCode.code_root == version)
                    & (RecoveryCode.code_index == credentials.recovery_index(ring, code, version))
                    for version in ring.root_versions()
                )
            ),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return bool(spent.rowcount)  # type: ignore[attr-defined]


def unused_recovery_codes(user: StaffUser) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.staff_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def failed_sign_ins(user: StaffUser) -> int:
    """Failed sign-ins of ``user`` still counted towards a wait (forgotten after a day)."""
    return (
        db.session.scalar(
            select(func.coalesce(func.sum(LoginFailures.failures), 0)).where(
                LoginFailures.staff_id == user.id, LoginFailures.source != credentials.ANYWHERE
            )
        )
        or 0
    )


def sign_out_everywhere(user: StaffUser) -> None:
    """End every session of ``user``: this browser's, and any copy of its cookie."""
    user.session_epoch += 1
    db.session.commit()


def reauthenticate(user: StaffUser, password: str, code: str, source: str) -> bool:
    if not credentials.check_password(user, password):
        if not credentials.is_locked(user, source, utcnow()):
            credentials.note_failure(user, source, utcnow())
        db.session.commit()
        announce("staff_login_failed", actor=user.id, role=user.role, step="reauth")
        return False
    if not check_second_factor(user, code, source):
        return False
    announce("staff_reauthenticated", actor=user.id, role=user.role)
    return True
