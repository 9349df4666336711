"""Paging: imminent danger reaches a coordinator through a second channel besides email.

Each urgent notice to someone who set a paging address (app/staff/paging.py) is paged once:
the page is claimed by writing its attempt first, one per notice (a unique key), so a send job
run twice, or by two workers at once, pages nobody twice. When every page for a case has
failed, the next coordinator with a paging address who has not been paged for it (on duty
first, then the others, oldest account first) gets an urgent notice of their own, emailed and
paged like the first, until a page gets through or nobody is left. A coordinator the reporter
excluded is never a fallback, and a page to one does not count as got through: they cannot
open the case (unless she excluded every coordinator: see ``Coordinators.kept_away``). Every
attempt is kept, never the address, and coordinators see them on the case page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.models import conflict_insert, utcnow
from app.notify.models import Notification, PageAttempt
from app.notify.service import Notice, coordinators_for, raise_notices
from app.signals import announce
from app.staff.models import StaffUser
from app.staff.paging import UNREADABLE, PageOutcome, paging_url, send_page
from app.staff.services import staff_directory

log = logging.getLogger("confide.notify")

PAGED_KINDS = ("urgent",)
# An urgent notice older than this is no longer paged: the case is long past waking anyone for.
PAGE_WITHIN = timedelta(hours=1)
# A page claimed this long ago with no outcome was cut short (its worker stopped).
INTERRUPTED_AFTER = timedelta(minutes=2)
INTERRUPTED = "interrupted"
# Each round pages the fallbacks of the one before; there are never more rounds than people.
MAX_ROUNDS = 100


def send_pages() -> int:
    """Page every urgent notice not paged yet, falling back where every page for a case
    failed; returns how many pages got through."""
    delivered = 0
    failed = _close_interrupted()
    for _ in range(MAX_ROUNDS):
        unpaged = _unpaged()
        kept_away = _kept_away(sorted({case_id for _, case_id, _ in unpaged}))
        for note_id, case_id, staff_id in unpaged:
            outcome = _page_once(note_id, case_id, staff_id)
            if outcome is None:
                continue
            if outcome.ok and staff_id not in kept_away.get(case_id, set()):
                delivered += 1
            else:
                failed.add(case_id)
        fell_back = [case_id for case_id in sorted(failed) if _fall_back(case_id)]
        failed = set()
        if not fell_back:
            break
    return delivered


def _kept_away(case_ids: list[str]) -> dict[str, set[str]]:
    """For each case, the coordinators who cannot act on it: a page to them is no answer."""
    if not case_ids:
        return {}
    coordinators = coordinators_for(case_ids)
    return {case_id: coordinators.kept_away(case_id) for case_id in case_ids}


def _unpaged() -> list[tuple[int, str, str]]:
    rows = db.session.execute(
        select(Notification.id, Notification.case_id, Notification.staff_id)
        .join(StaffUser, StaffUser.id == Notification.staff_id)
        .outerjoin(PageAttempt, PageAttempt.notification_id == Notification.id)
        .where(
            Notification.kind.in_(PAGED_KINDS),
            Notification.created_at >= utcnow() - PAGE_WITHIN,
            Notification.recipient == "staff",
            Notification.case_id.is_not(None),
            PageAttempt.id.is_(None),
            StaffUser.active.is_(True),
            StaffUser.paging_sealed.is_not(None),
        )
        .order_by(Notification.id)
    ).all()
    db.session.rollback()
    return [(note_id, str(case_id), str(staff_id)) for note_id, case_id, staff_id in rows]


def _claim(note_id: int, case_id: str, staff_id: str) -> int | None:
    """Write the attempt before the page goes: whoever writes it first pages, once."""
    statement = conflict_insert(PageAttempt, db.session.get_bind().dialect.name).values(
        notification_id=note_id, case_id=case_id, staff_id=staff_id, at=utcnow()
    )
    claimed = db.session.execute(
        statement.on_conflict_do_nothing(index_elements=["notification_id"]).returning(PageAttempt.id)
    ).scalar_one_or_none()
    db.session.commit()
    return claimed


def _page_once(note_id: int, case_id: str, staff_id: str) -> PageOutcome | None:
    attempt_id = _claim(note_id, case_id, staff_id)
    if attempt_id is None:
        return None
    staff = db.session.get(StaffUser, staff_id)
    try:
        url = paging_url(staff) if staff is not None else None
    except Exception as error:  # noqa: BLE001 - a key or record problem; the next coordinator is paged
        log.warning("paging address of staff %s not opened (%s)", staff_id, error.__class__.__name__)
        url = None
    db.session.rollback()  # no transaction held open while the page goes out
    outcome = send_page(url) if url else PageOutcome(False, UNREADABLE)
    db.session.execute(
        update(PageAttempt).where(PageAttempt.id == attempt_id).values(ok=outcome.ok, error=outcome.error)
    )
    db.session.commit()
    if outcome.ok:
        log.info("page to staff %s for case %s delivered", staff_id, case_id)
    else:
        log.warning("page to staff %s for case %s failed (%s)", staff_id, case_id, outcome.error)
    announce("case_paged", actor="", role="system", case_id=case_id, staff=staff_id, ok=outcome.ok, error=outcome.error)
    return outcome


def _close_interrupted() -> set[str]:
    """Count pages claimed long ago with no outcome as failed; returns their cases."""
    cases = (
        db.session.execute(
            update(PageAttempt)
            .where(PageAttempt.ok.is_(None), PageAttempt.at < utcnow() - INTERRUPTED_AFTER)
            .values(ok=False, error=INTERRUPTED)
            .returning(PageAttempt.case_id)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    return set(cases)


def paging_order(kept_away: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Coordinators who can be paged, but for ``kept_away``, in the order fallbacks reach them:
    on duty first, then the others, each group oldest account first."""
    return [
        staff_id
        for staff_id in db.session.scalars(
            select(StaffUser.id)
            .where(
                StaffUser.role == "coordinator",
                StaffUser.active.is_(True),
                StaffUser.enrolled_at.is_not(None),
                StaffUser.paging_sealed.is_not(None),
            )
            .order_by(StaffUser.on_duty.desc(), StaffUser.created_at, StaffUser.id)
        )
        if staff_id not in kept_away
    ]


def _fall_back(case_id: str) -> bool:
    """If every page for ``case_id`` failed, notify and page the next coordinator instead;
    returns whether someone was."""
    attempts = list(
        db.session.scalars(select(PageAttempt).where(PageAttempt.case_id == case_id).order_by(PageAttempt.id))
    )
    kept_away = _kept_away([case_id]).get(case_id, set()) if attempts else set()
    # One got through to someone who can open the case, or one is under way (its own failure
    # would fall back in its turn).
    unanswered = [attempt for attempt in attempts if attempt.fallback_staff_id is None]
    if any(attempt.ok is not False and attempt.staff_id not in kept_away for attempt in attempts) or not unanswered:
        db.session.rollback()
        return False
    tried = {attempt.staff_id for attempt in attempts}
    following = next((staff_id for staff_id in paging_order(kept_away) if staff_id not in tried), None)
    if following is None:
        db.session.rollback()
        return False
    raise_notices([Notice(following, case_id, "urgent", f"urgent:{case_id}:{following}", urgent=True)])
    unanswered[-1].fallback_staff_id = following
    db.session.commit()
    log.warning("case %s: every page failed; paging staff %s instead", case_id, following)
    return True


@dataclass(frozen=True)
class PageLine:
    """One page as coordinators read it on the case page."""

    at: datetime
    staff: str
    ok: bool | None
    error: str | None
    # Who was paged instead after this page failed, and how that page went (None: not yet).
    fallback: str | None
    fallback_ok: bool | None
    # This page failed and nobody was left to page instead.
    nobody_else: bool


def page_history(case_id: str) -> list[PageLine]:
    """Every page for the case, oldest first."""
    attempts = list(
        db.session.scalars(select(PageAttempt).where(PageAttempt.case_id == case_id).order_by(PageAttempt.id))
    )
    if not attempts:
        return []
    people = staff_directory()
    outcome = {attempt.staff_id: attempt.ok for attempt in attempts}
    kept_away = _kept_away([case_id]).get(case_id, set())
    settled = all(attempt.ok is False or attempt.staff_id in kept_away for attempt in attempts)

    def name(staff_id: str | None) -> str:
        person = people.get(staff_id or "")
        return person.display_name if person else "a former coordinator"

    return [
        PageLine(
            at=attempt.at,
            staff=name(attempt.staff_id),
            ok=attempt.ok,
            error=attempt.error,
            fallback=name(attempt.fallback_staff_id) if attempt.fallback_staff_id else None,
            fallback_ok=outcome.get(attempt.fallback_staff_id or ""),
            nobody_else=settled and attempt is attempts[-1] and attempt.fallback_staff_id is None,
        )
        for attempt in attempts
    ]
