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


def _base_url() -> str:
    return current_settings().public_url.rstrip("/")


def staff_mail(staff: StaffUser, urgent: bool) -> Mail:
    if urgent:
        subject = "Confide: urgent, please sign in now"
        body = f"Something urgent needs you now. Sign in to Confide:\n{_base_url()}/staff/login\n"
    else:
        subject = "Confide: something needs your attention"
        body = f"Something new needs your attention. Sign in to Confide:\n{_base_url()}/staff/login\n"
    body += "\nThis email says nothing more on purpose.\n"
    return Mail(to=staff.email, subject=subject, body=body, who=f"staff {staff.id}")


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
            url=f"{_base_url()}/status",
        )
    return Mail(to=address, subject=subject, body=body, who=f"reporter of case {case.id}")


def send_pending(*, urgent_only: bool = False) -> int:
    """Send what is waiting; returns how many emails went out."""
    query = select(
        Notification.id, Notification.recipient, Notification.staff_id, Notification.case_id, Notification.urgent
    ).where(Notification.sent_at.is_(None))
    if urgent_only:
        query = query.where(Notification.urgent.is_(True))
    batches: dict[tuple[str, str], list[int]] = defaultdict(list)
    urgent: set[tuple[str, str]] = set()
    for note_id, recipient, staff_id, case_id, is_urgent in db.session.execute(query.order_by(Notification.id)):
        target = (recipient, (staff_id if recipient == "staff" else case_id) or "")
        batches[target].append(note_id)
        if is_urgent:
            urgent.add(target)
    db.session.rollback()
    sent = 0
    settings = current_settings().mail
    for (recipient, target_id), ids in batches.items():
        try:
            mail = _compose(recipient, target_id, urgent=(recipient, target_id) in urgent)
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
    return sent


def _compose(recipient: str, target_id: str, *, urgent: bool) -> Mail | None:
    if recipient == "staff":
        staff = db.session.get(StaffUser, target_id)
        return staff_mail(staff, urgent) if staff is not None and staff.active else None
    case = db.session.get(Case, target_id)
    return reporter_mail(case) if case is not None else None
