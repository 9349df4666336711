"""The coordinators' weekly digest: the cases to be shredded within ``retention.digest_days``.

Content-free: how many, and for each its reference, the date and a link to its page, where a
coordinator can put it on legal hold. The periodic pass raises one notice per coordinator and
ISO week (the outbox's dedupe key makes it once, however often the pass runs), then sends the
notices of this kind itself, each claimed with one UPDATE before its email goes and given back
if the mail server refuses it, as the outbox's own sending does. The list is read when the
email is sent, so a case held or shredded meanwhile is not in it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from app.cases.references import reference
from app.config import current_settings
from app.extensions import db
from app.models import utcnow
from app.notify.mail import Mail, MailError, send
from app.notify.models import Notification
from app.notify.service import coordinator_ids, raise_notices, to_coordinators
from app.retention.policy import Expiring, expiring_by
from app.signals import announce
from app.staff.models import StaffUser

log = logging.getLogger("confide.retention")

# The outbox's own sending leaves notices of this kind to this module (notify.sending.OWN_MAIL).
DIGEST = "retention_digest"


def raise_digest(now: datetime | None = None) -> int:
    """This week's digest notice for each coordinator, if any case goes within the digest's
    days (committed); returns how many coordinators are to be told."""
    now = now or utcnow()
    if not _soon(now):
        return 0
    year, week, _ = now.isocalendar()
    told = coordinator_ids()
    raise_notices(to_coordinators(told, DIGEST, case_id=None, key=f"retention-digest:{year}-W{week:02d}"))
    db.session.commit()
    return len(told)


def _soon(now: datetime) -> list[Expiring]:
    return expiring_by(now + timedelta(days=current_settings().retention.digest_days))


def digest_mail(staff: StaffUser, soon: list[Expiring]) -> Mail:
    """The digest for ``staff``: counts, references, dates and links only."""
    settings = current_settings()
    zone = ZoneInfo(settings.display_timezone)
    days = settings.retention.digest_days
    count = len(soon)
    cases = "1 case" if count == 1 else f"{count} cases"
    lines = [
        f"Under the retention policy, {cases} will be deleted for good (crypto-shredded) within the next "
        f"{days} days, each on or after the date shown, unless its reporter comes back or a coordinator "
        "puts it on legal hold:",
        "",
        *(
            f"{reference(each.case_id)}  {each.expires_at.astimezone(zone):%Y-%m-%d}  "
            f"{settings.public_link(f'/cases/{each.case_id}')}"
            for each in soon
        ),
        "",
        "To keep a case, open it and put it on legal hold.",
        "",
        "This email says nothing more on purpose.",
    ]
    subject = f"Confide: {cases} to be deleted in the next {days} days"
    return Mail(to=staff.email, subject=subject, body="\n".join(lines) + "\n", who=f"staff {staff.id}")


def send_digests(now: datetime | None = None) -> int:
    """Send the digest notices waiting in the outbox; returns how many emails went."""
    now = now or utcnow()
    waiting = db.session.execute(
        select(Notification.id, Notification.staff_id).where(
            Notification.sent_at.is_(None), Notification.kind == DIGEST
        )
    ).all()
    if not waiting:
        return 0
    soon = _soon(now)
    db.session.rollback()
    sent = 0
    for note_id, staff_id in waiting:
        claimed = db.session.execute(
            update(Notification)
            .where(Notification.id == note_id, Notification.sent_at.is_(None))
            .values(sent_at=utcnow())
        )
        db.session.commit()
        staff = db.session.get(StaffUser, staff_id or "")
        if not claimed.rowcount or staff is None or not staff.active or not soon:  # type: ignore[attr-defined]
            continue
        try:
            send(current_settings().mail, digest_mail(staff, soon))
        except MailError as error:
            log.warning("retention digest not sent (%s); it will be tried again", error)
            db.session.execute(update(Notification).where(Notification.id == note_id).values(sent_at=None))
            db.session.commit()
            continue
        sent += 1
    if sent:
        announce("retention_digest_sent", actor="", role="system", cases=len(soon), emails=sent)
    return sent
