"""The emails of those who asked for a circle and gave an address, and the address's end.

A periodic job (``workers.jobs.circle_mail``) runs :func:`send_circle_mail`; the database says
what is due, so running it twice sends nothing twice. Each email is claimed (one UPDATE) before
it goes and given back if the mail server refuses it. The emails are content-free: no title,
no place, no link to the meeting; only when, and where to enter the code. The address is
deleted once the meeting is over (at once if she gives up her place), and every request some
days after that."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, delete, or_, select, update

from app.circles.display import when
from app.circles.models import Circle, CircleRequest
from app.circles.sealing import open_email
from app.config import current_settings
from app.extensions import db
from app.i18n import in_language
from app.models import utcnow
from app.notify.mail import Mail, MailError, send

log = logging.getLogger("confide.circles")

# How often the periodic pass runs (workers/clock.py): a reminder goes at most this late.
CIRCLE_MAIL_SECONDS = 300
REMIND_BEFORE = timedelta(hours=24)
# How long the names and codes of a past circle are kept, so that a code still opens a page
# saying the meeting is over.
KEEP_AFTER = timedelta(days=7)


def _when(circle: Circle) -> dict[str, str]:
    return when(circle.starts_at)


def _code_page() -> str:
    return current_settings().public_link("/circles/code")


def reminder_mail(circle: Circle) -> tuple[str, str]:
    """Subject and body of the reminder, in the language in force."""
    body = _(
        "A meeting you asked about starts on %(day)s at %(time)s (%(zone)s). To see the "
        "details, open %(url)s and enter your code.",
        url=_code_page(),
        **_when(circle),
    )
    return _("A reminder you asked for"), body


NOTICES: dict[str, Callable[[Circle], tuple[str, str]]] = {
    "seated": lambda circle: (
        _("A place opened for you"),
        _(
            "A place opened for you in a meeting you asked about, on %(day)s at %(time)s (%(zone)s). "
            "To see the details, open %(url)s and enter your code.",
            url=_code_page(),
            **_when(circle),
        ),
    ),
    "changed": lambda circle: (
        _("A meeting you asked about changed"),
        _(
            "A meeting you asked about changed. It is now on %(day)s at %(time)s (%(zone)s). "
            "To see the details, open %(url)s and enter your code.",
            url=_code_page(),
            **_when(circle),
        ),
    ),
    "cancelled": lambda circle: (
        _("A meeting you asked about was cancelled"),
        _(
            "A meeting you asked about, on %(day)s at %(time)s (%(zone)s), was cancelled. "
            "To see more, open %(url)s and enter your code.",
            url=_code_page(),
            **_when(circle),
        ),
    ),
}


def _mail(request: CircleRequest, circle: Circle, compose: Callable[[Circle], tuple[str, str]]) -> Mail | None:
    if request.email_sealed is None:
        return None
    with in_language(request.language):
        subject, body = compose(circle)
        body += "\n\n" + _("If you did not expect this email, you can ignore it.") + "\n"
    address = open_email(request.id, request.email_sealed, request.seal_root)
    return Mail(to=address, subject=subject, body=body, who=f"circle request {request.id}")


def _send_claimed(
    request_id: str,
    compose: Callable[[Circle], tuple[str, str]],
    give_back: dict[str, object],
    *,
    unless: ColumnElement[bool],
) -> bool:
    """Send one claimed email. If it cannot go, the claim is undone with ``give_back``, unless
    the request has moved on since (``unless``: a later notice, say), and tried again next run."""
    try:
        request = db.session.get(CircleRequest, request_id)
        circle = db.session.get(Circle, request.circle_id) if request else None
        mail = _mail(request, circle, compose) if request and circle else None
        db.session.rollback()  # no transaction held open while the mail goes out
        if mail is None:
            return False
        send(current_settings().mail, mail)
    except Exception as error:  # noqa: BLE001 - one email must not hold back the others
        db.session.rollback()
        # A mail error names only the request and the failure's kind; any other is named by its kind.
        why = error if isinstance(error, MailError) else error.__class__.__name__
        log.warning("circle mail for request %s not sent (%s); it will be tried again", request_id, why)
        db.session.execute(update(CircleRequest).where(CircleRequest.id == request_id, unless).values(**give_back))
        db.session.commit()
        return False
    return True


def _claim(condition: ColumnElement[bool], values: dict[str, object]) -> list[str]:
    claimed = db.session.execute(update(CircleRequest).where(condition).values(**values).returning(CircleRequest.id))
    ids = [str(request_id) for request_id in claimed.scalars()]
    db.session.commit()
    return ids


def send_notices() -> int:
    """Tell those with news (a place, a change, a cancellation); returns how many were told."""
    sent = 0
    due = db.session.execute(
        select(CircleRequest.id, CircleRequest.notice).where(
            CircleRequest.notice.is_not(None), CircleRequest.email_sealed.is_not(None)
        )
    ).all()
    db.session.rollback()
    for request_id, notice in due:
        if notice not in NOTICES:
            continue
        if _claim((CircleRequest.id == request_id) & (CircleRequest.notice == notice), {"notice": None}):
            sent += _send_claimed(
                request_id, NOTICES[notice], {"notice": notice}, unless=CircleRequest.notice.is_(None)
            )
    return sent


def send_reminders() -> int:
    """Remind, once, those with a place in a circle that starts within the next day."""
    now = utcnow()
    due = db.session.scalars(
        select(CircleRequest.id)
        .join(Circle, Circle.id == CircleRequest.circle_id)
        .where(
            CircleRequest.email_sealed.is_not(None),
            CircleRequest.reminded_at.is_(None),
            CircleRequest.seated.is_(True),
            CircleRequest.withdrawn.is_(False),
            Circle.cancelled_at.is_(None),
            Circle.starts_at > now,
            Circle.starts_at <= now + REMIND_BEFORE,
        )
    ).all()
    db.session.rollback()
    sent = 0
    for request_id in due:
        if _claim((CircleRequest.id == request_id) & CircleRequest.reminded_at.is_(None), {"reminded_at": now}):
            sent += _send_claimed(
                request_id, reminder_mail, {"reminded_at": None}, unless=CircleRequest.reminded_at == now
            )
    return sent


def forget() -> tuple[int, int]:
    """Delete the addresses of meetings that are over (or cancelled, once told), and the
    requests of meetings long past; returns how many of each."""
    now = utcnow()
    asked_about = select(CircleRequest.circle_id)
    started = db.session.scalars(select(Circle).where(Circle.starts_at <= now, Circle.id.in_(asked_about)))
    over = [circle for circle in started if circle.ends_at <= now or circle.cancelled_at is not None]
    cancelled = select(Circle.id).where(Circle.cancelled_at.is_not(None))
    addresses = db.session.execute(
        update(CircleRequest)
        .where(
            CircleRequest.email_sealed.is_not(None),
            or_(
                CircleRequest.circle_id.in_([circle.id for circle in over]),
                and_(CircleRequest.circle_id.in_(cancelled), CircleRequest.notice.is_(None)),
            ),
        )
        .values(email_sealed=None, notice=None)
    )
    long_past = [circle.id for circle in over if circle.ends_at <= now - KEEP_AFTER]
    requests = db.session.execute(delete(CircleRequest).where(CircleRequest.circle_id.in_(long_past)))
    db.session.commit()
    return int(addresses.rowcount or 0), int(requests.rowcount or 0)  # type: ignore[attr-defined]


def send_circle_mail() -> str:
    """The periodic pass: news, reminders, then what is no longer needed is deleted."""
    told, reminded = send_notices(), send_reminders()
    addresses, requests = forget()
    return f"told {told}, reminded {reminded}, forgot {addresses} addresses and {requests} requests"
