"""Sending the outbox: one email per person per run, so a busy night makes a digest.

Each batch is claimed with one UPDATE before it is sent, so two workers never send the same
notification, and a failed send puts the batch back for the next run."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import select, update

from app.cases.consent import current_consent
from app.cases.models import Case
from app.cases.sealing import open_json
from app.config import current_settings
from app.extensions import db
from app.i18n import in_language
from app.models import utcnow
from app.notify.mail import Mail, MailError, send
from app.notify.models import Notification
from app.notify.paging import send_pages
from app.staff.models import StaffUser

log = logging.getLogger("confide.notify")


def _claim(ids: Sequence[int]) -> list[int]:
    claimed = (
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.sent_at.is_(None))
            .values(sent_at=utcnow())
            .returning(Notification.id)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    return list(claimed)


def _release(ids: Sequence[int]) -> None:
    db.session.execute(update(Notification).where(Notification.id.in_(ids)).values(sent_at=None))
    db.session.commit()


# Notices a feature sends as emails of its own (app/retention/digest.py), left alone here.
OWN_MAIL = ("retention_digest",)
# Notices whose email must say one fixed, content-free thing more than "sign in": what only
# the email can still tell, because what it is about no longer exists in Confide.
STAFF_SENTENCES = {
    "referral_deleted": (
        "A report that was referred to you has been deleted from Confide, and its referral withdrawn. "
        "Please destroy every copy of its packet you downloaded, printed or forwarded, and anything "
        "made from it. Your referrals page no longer lists it."
    ),
}


def staff_mail(staff: StaffUser, urgent: bool, kinds: Sequence[str] = ()) -> Mail:
    sign_in = current_settings().public_link("/staff/login")
    if urgent:
        subject = "Confide: urgent, please sign in now"
        body = f"Something urgent needs you now. Sign in to Confide:\n{sign_in}\n"
    else:
        subject = "Confide: something needs your attention"
        body = f"Something new needs your attention. Sign in to Confide:\n{sign_in}\n"
    for kind in dict.fromkeys(kinds):
        if kind in STAFF_SENTENCES:
            body += f"\n{STAFF_SENTENCES[kind]}\n"
    body += "\nThis email says nothing more on purpose.\n"
    return Mail(to=staff.email, subject=subject, body=body, who=f"staff {staff.id}")


# What each account notice tells its owner: a subject, and the sentence the email says.
ACCOUNT_NOTICES = {
    "account_reset": (
        "your sign-in was reset",
        "Your Confide sign-in was reset by a coordinator. Your old password, authenticator app and "
        "recovery codes no longer work; a coordinator will give you a new link to set up your account.",
    ),
    "account_recovery_codes": (
        "new recovery codes",
        "A coordinator made new recovery codes for your Confide account. Your old recovery codes no longer work.",
    ),
    "account_unlocked": (
        "your sign-in was unlocked",
        "A coordinator cleared the wait after failed sign-ins on your Confide account.",
    ),
    "account_deactivated": (
        "your account was deactivated",
        "Your Confide account was deactivated by a coordinator, and you were signed out everywhere.",
    ),
    "account_reactivated": ("your account was reactivated", "Your Confide account was reactivated by a coordinator."),
    "account_password": (
        "your password was changed",
        "Your Confide password was changed, and every other session of yours was signed out.",
    ),
    "account_device": (
        "your authenticator app was changed",
        "Your Confide sign-in codes now come from a new authenticator app, and every other session "
        "of yours was signed out.",
    ),
    "account_name": ("your name was changed", "A coordinator changed the name on your Confide account."),
    "account_email": (
        "your email address was changed",
        "A coordinator changed the email address of your Confide account. Notices now go to the new address.",
    ),
    "account_role": ("your role was changed", "A coordinator changed your role in Confide."),
}


def account_mail(staff: StaffUser, kinds: Sequence[str], address: str | None) -> Mail:
    """What changed on ``staff``'s account, plainly, and nothing else: no link, no value."""
    lines = [ACCOUNT_NOTICES[kind] for kind in dict.fromkeys(kinds)]
    subject = f"Confide: {lines[0][0]}" if len(lines) == 1 else "Confide: changes to your account"
    body = "\n\n".join(sentence for _, sentence in lines)
    body += "\n\nIf this was not you, or you did not expect it, tell a coordinator at once.\n"
    body += "\nThis email says nothing more on purpose.\n"
    return Mail(to=address or staff.email, subject=subject, body=body, who=f"staff {staff.id}")


def send_account_notices() -> int:
    """Send account notices, one email per person and address, whatever the account's state
    (a deactivated person hears of it); an address kept for a notice is forgotten once sent."""
    rows = db.session.execute(
        select(Notification.id, Notification.staff_id, Notification.kind, Notification.address)
        .where(Notification.sent_at.is_(None), Notification.kind.in_(ACCOUNT_NOTICES))
        .order_by(Notification.id)
    ).all()
    batches: dict[tuple[str, str | None], list[tuple[int, str]]] = defaultdict(list)
    for note_id, staff_id, kind, address in rows:
        batches[(staff_id or "", address)].append((note_id, kind))
    db.session.rollback()
    sent = 0
    for (staff_id, address), notes in batches.items():
        staff = db.session.get(StaffUser, staff_id)
        claimed = _claim([note_id for note_id, _ in notes])
        if not claimed or staff is None:
            continue
        try:
            send(current_settings().mail, account_mail(staff, [kind for _, kind in notes], address))
        except MailError as error:
            log.warning("mail not sent (%s); it will be tried again", error)
            _release(claimed)
            continue
        db.session.execute(update(Notification).where(Notification.id.in_(claimed)).values(address=None))
        db.session.commit()
        sent += 1
    return sent


def reporter_mail(case: Case) -> Mail | None:
    """A note that a message waits, in the reporter's language; None if they cannot get one."""
    if case.contact_sealed is None or not current_consent(case.id)["contact_email"]:
        return None
    from app.cases.conversation import open_case_key

    contact = open_json(open_case_key(case), case.contact_sealed, record="case", record_id=case.id, field="contact")
    address = (contact.get("email") or "").strip()
    if not address:
        return None
    with in_language(case.language):
        subject = _("You have a new message")
        body = _(
            "A new message is waiting for you. To read it, open %(url)s and enter your receipt.\n\n"
            "If you did not expect this email, you can ignore it.",
            url=current_settings().public_link("/status"),
        )
    return Mail(to=address, subject=subject, body=body, who=f"reporter of case {case.id}")


def send_pending(*, urgent_only: bool = False) -> int:
    """Send what is waiting; returns how many emails went out. Account notices go at once;
    urgent notices are paged first (app/notify/paging.py), so the emails include those to
    whoever a page fell back to."""
    account_sent = send_account_notices()
    try:
        send_pages()
    except Exception as error:  # noqa: BLE001 - paging must never hold back the emails
        db.session.rollback()
        log.warning("pages not sent (%s); they will be tried again", error.__class__.__name__)
    query = select(
        Notification.id,
        Notification.recipient,
        Notification.staff_id,
        Notification.case_id,
        Notification.urgent,
        Notification.kind,
    ).where(Notification.sent_at.is_(None), Notification.kind.not_in((*ACCOUNT_NOTICES, *OWN_MAIL)))
    if urgent_only:
        query = query.where(Notification.urgent.is_(True))
    batches: dict[tuple[str, str], list[int]] = defaultdict(list)
    kinds: dict[tuple[str, str], list[str]] = defaultdict(list)
    urgent: set[tuple[str, str]] = set()
    rows = db.session.execute(query.order_by(Notification.id))
    for note_id, recipient, staff_id, case_id, is_urgent, kind in rows:
        target = (recipient, (staff_id if recipient == "staff" else case_id) or "")
        batches[target].append(note_id)
        kinds[target].append(kind)
        if is_urgent:
            urgent.add(target)
    db.session.rollback()
    sent = 0
    settings = current_settings().mail
    for (recipient, target_id), ids in batches.items():
        try:
            mail = _compose(
                recipient, target_id, urgent=(recipient, target_id) in urgent, kinds=kinds[(recipient, target_id)]
            )
        except Exception as error:  # noqa: BLE001 - one bad batch must not block the others
            db.session.rollback()
            log.warning("notices %s not composed (%s); they will be tried again", ids, error.__class__.__name__)
            continue
        claimed = _claim(ids)
        if not claimed or mail is None:
            continue
        try:
            send(settings, mail)
        except MailError as error:
            log.warning("mail not sent (%s); it will be tried again", error)
            _release(claimed)
            continue
        sent += 1
    return sent + account_sent


def _compose(recipient: str, target_id: str, *, urgent: bool, kinds: Sequence[str] = ()) -> Mail | None:
    if recipient == "staff":
        staff = db.session.get(StaffUser, target_id)
        return staff_mail(staff, urgent, kinds) if staff is not None and staff.active else None
    case = db.session.get(Case, target_id)
    return reporter_mail(case) if case is not None else None
