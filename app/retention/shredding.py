"""Crypto-shredding a case: its wrapped data key and every ciphertext go for good, in one
transaction; what the program's figures need stays, de-identified.

One transaction does it all, so a process killed half-way leaves the case whole, and the
next periodic pass (or her next press of the button) does it again; a case already gone is
nothing to do. Deleting the case's row deletes, by the database's cascades, its messages,
notes, consent records, exclusions, reporter sessions, routing rounds, notifications, pages
and referrals. Before that, in the same transaction: its open referrals are revoked and
counsel told to destroy their copies (``referrals.ending``); what recount counts of it is
kept as counts of its month (``cases.tallies.count_shredded``); its clear metadata becomes a
statistics row with no id of the case (``CaseStatistic``); and its id joins the content-free
list of shredded cases (``ShreddedCase``), for a restore from an older backup to shred again.

SQLite overwrites deleted rows (``PRAGMA secure_delete``, set on every connection), and its
write-ahead log is emptied into the file after each shredding, so no older copy of a page
lingers beside it. PostgreSQL's deleted rows are gone for every query at once, and their
space is reclaimed by (auto)vacuum.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, text

from app.cases.models import Case, CaseNote, Message, take_write_lock
from app.cases.tallies import count_shredded, program_month
from app.extensions import db
from app.models import utcnow
from app.referrals.ending import end_before_shredding
from app.referrals.services import announce_pending
from app.retention.models import CaseStatistic, ShreddedCase
from app.retention.policy import case_expires_at, expiring_by
from app.signals import announce

log = logging.getLogger("confide.retention")

# Why a case is shredded: its time was up, or its reporter deleted it.
RETENTION = "retention"
REPORTER = "reporter"
# Why its open referrals were revoked (app/referrals/vocabulary.py REVOKE_REASONS).
REVOKE_REASON = {RETENTION: "retention", REPORTER: "report_deleted"}


class CaseHeld(Exception):
    """The case is under a legal hold: nothing was deleted."""


@dataclass(frozen=True)
class Shredded:
    """What went, in counts (the audit log keeps the same)."""

    case_id: str
    messages: int
    notes: int
    referrals_revoked: int


def shred_case(case_id: str, *, reason: str, now: datetime | None = None) -> Shredded | None:
    """Shred ``case_id`` now, for ``reason`` (RETENTION: only if its time is still up, checked
    under the lock; REPORTER: at once). Commits. Returns None if there was nothing to do (the
    case is gone already, or no longer due); raises CaseHeld under a legal hold."""
    now = now or utcnow()
    db.session.rollback()  # a transaction of its own, begun with the lock
    _lock(case_id)
    case = db.session.get(Case, case_id, populate_existing=True)
    if case is None:
        db.session.rollback()
        return None
    if case.hold_reason is not None:
        db.session.rollback()
        raise CaseHeld(case_id)
    if reason == RETENTION:
        until = case_expires_at(case)
        if until is None or until > now:
            db.session.rollback()
            return None
    pending, revoked = end_before_shredding(case_id, REVOKE_REASON[reason])
    count_shredded(case_id)
    db.session.add(_statistics(case, reason))
    messages = db.session.scalar(select(func.count()).select_from(Message).where(Message.case_id == case_id)) or 0
    notes = db.session.scalar(select(func.count()).select_from(CaseNote).where(CaseNote.case_id == case_id)) or 0
    db.session.add(
        ShreddedCase(case_id=case_id, shredded_on=now.replace(hour=0, minute=0, second=0, microsecond=0), reason=reason)
    )
    db.session.expunge(case)
    db.session.execute(delete(Case).where(Case.id == case_id), execution_options={"synchronize_session": False})
    db.session.commit()
    _empty_write_ahead_log()
    announce_pending(pending)
    role = "reporter" if reason == REPORTER else "system"
    announce(
        "case_shredded",
        actor="",
        role=role,
        case_id=case_id,
        reason=reason,
        messages=messages,
        notes=notes,
        referrals_revoked=revoked,
    )
    log.info("case %s shredded (%s)", case_id, reason)
    return Shredded(case_id, messages, notes, revoked)


def _lock(case_id: str) -> None:
    """Hold the case still: nobody adds a message, a hold or a referral while it goes."""
    take_write_lock()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Case.id).where(Case.id == case_id).with_for_update())


def _statistics(case: Case, reason: str) -> CaseStatistic:
    return CaseStatistic(
        kind=case.kind,
        month=program_month(case.created_at),
        category=case.category,
        level=case.level,
        county=case.county,
        status=case.status,
        closed_reason=case.closed_reason,
        ended_by=reason,
        created_at=case.created_at,
        ack_due_at=case.ack_due_at,
        acknowledged_at=case.acknowledged_at,
        feedback_due_at=case.feedback_due_at,
        first_reply_at=case.first_reply_at,
        closed_at=case.closed_at,
    )


def _empty_write_ahead_log() -> None:
    """SQLite: copy the log into the database file and empty it, so the pages as they were
    before the shredding are not left in it. Best effort: a reader holding an old snapshot
    keeps part of it until the next time."""
    if db.session.get_bind().dialect.name != "sqlite":
        return
    try:
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - the shredding itself is done and committed
        db.session.rollback()
        log.warning("write-ahead log not emptied (%s)", error.__class__.__name__)


# Cases one hourly pass shreds at most: about 13 ms each (bench/lifecycle.py), so a backlog (a
# retention policy turned on, say) goes in days, not months, and a pass stays well under a minute.
PASS_LIMIT = 2000


def shred_due(*, now: datetime | None = None, limit: int = PASS_LIMIT) -> list[Shredded]:
    """Shred up to ``limit`` cases whose time is up (the periodic pass), each in its own
    transaction, soonest first; one that fails is left for the next pass."""
    now = now or utcnow()
    done = []
    for due in expiring_by(now)[:limit]:
        db.session.rollback()  # the listing's read ends: each case is read again under its lock
        try:
            shredded = shred_case(due.case_id, reason=RETENTION, now=now)
        except CaseHeld:
            continue
        except Exception as error:  # noqa: BLE001 - one case must not stop the others
            db.session.rollback()
            log.warning("case %s not shredded (%s); tried again next time", due.case_id, error.__class__.__name__)
            continue
        if shredded is not None:
            done.append(shredded)
    return done
