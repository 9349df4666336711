"""Job bodies. Each takes ids only and may run twice with the effect of once."""

from __future__ import annotations

import time

from app.config import current_settings
from workers.context import job_context


def route_case(case_id: str) -> str:
    """Route a committed case to a responder or to the coordinators, and with it other
    cases that wait (up to triage.route_batch in all)."""

    from app.notify.sending import send_pending
    from app.triage.routing import route_batch

    with job_context():
        routed = route_batch(case_id, limit=current_settings().triage.route_batch)
        if routed.urgent:
            # Imminent danger: the notices go now, not with the next digest. (One that
            # could not be sent earlier is tried again by the periodic pass, every minute.)
            send_pending(urgent_only=True)
        return routed.outcome


def check_deadline(case_id: str, number: int) -> str:
    """Escalate a routing round whose deadline passed unacknowledged."""
    from app.triage.routing import check_deadline as check

    with job_context():
        return check(case_id, number)


def offer_waiting() -> int:
    """Offer the cases waiting with the coordinators to whoever now fits them (queued when
    a responder's duty, languages, training or caseload changes; the sweep runs it too)."""
    from app.notify.sending import send_pending
    from app.triage.routing import offer_waiting as offer

    with job_context():
        given = offer()
        if given:
            send_pending(urgent_only=True)  # an L0 case's responder is told at once
        return given


def send_notifications() -> int:
    """Send the outbox as one digest per person (periodic)."""
    from app.notify.sending import send_pending

    with job_context():
        return send_pending()


def sweep_and_escalate(force: bool = False) -> str:
    """The periodic pass: queue unrouted cases again, put back on duty whoever's break is
    over, escalate overdue rounds whose timers were lost, and raise the feedback and
    unclaimed-case reminders."""
    import logging

    from app.extensions import db
    from app.intake.sessions import forget_idle_reporter_sessions
    from app.models import utcnow
    from app.notify.sending import send_pending
    from app.staff.breaks import end_due_breaks
    from app.staff.credentials import forget_old_failures
    from app.triage.queue import sweep
    from app.triage.reminders import remind_feedback, remind_unclaimed
    from app.triage.routing import check_deadline as check
    from app.triage.routing import offer_waiting as offer_waiting_now
    from app.triage.routing import overdue_rounds

    log = logging.getLogger("confide.triage")
    with job_context():
        queued = sweep(force=force)
        try:
            # Before the offer below: whoever is back from a break is offered what waits.
            back = len(end_due_breaks())
        except Exception as error:  # noqa: BLE001 - the rest of the pass still runs
            db.session.rollback()
            back = 0
            log.warning("breaks not ended (%s)", error.__class__.__name__)
        try:
            offered = offer_waiting_now()
        except Exception as error:  # noqa: BLE001 - the rest of the pass still runs
            db.session.rollback()
            offered = 0
            log.warning("waiting cases not offered (%s)", error.__class__.__name__)
        escalated = 0
        for case_id, number in overdue_rounds():
            try:
                outcome = check(case_id, number)
            except Exception as error:  # noqa: BLE001 - one failure must not stop the others
                db.session.rollback()
                log.warning("case %s round %d not escalated (%s)", case_id, number, error.__class__.__name__)
                continue
            escalated += outcome in ("assigned", "coordinators")
        reminded = remind_feedback() + remind_unclaimed()
        db.session.commit()
        forget_idle_reporter_sessions()
        forget_old_failures(utcnow())
        db.session.commit()
        send_pending(urgent_only=True)
        return (
            f"queued {queued}, back from a break {back}, offered {offered}, escalated {escalated}, reminded {reminded}"
        )


def audit_checkpoint() -> str:
    """Keep the audit chain's head outside the database (periodic; app/audit/checkpoints.py)."""
    from app.audit.checkpoints import write_checkpoint

    with job_context():
        point = write_checkpoint()
        return f"entry {point.last_id}" if point else "no new entries"


def circle_mail() -> str:
    """Tell those who asked about a circle what changed, remind them the day before, and delete
    their addresses once the meeting is over (periodic; app/circles/mailing.py)."""
    from app.circles.mailing import send_circle_mail

    with job_context():
        return send_circle_mail()


def rewrap_keys() -> str:
    """Wrap case keys again under the active KEK after a rotation, in batches, for up to
    REWRAP_SECONDS; what is left is the next run's (periodic, and queued by `flask keys rotate`;
    app/cases/rekeying.py)."""
    from app.cases.rekeying import REWRAP_SECONDS, rewrap_all, waiting
    from app.keystore import current_keyring

    with job_context():
        ring = current_keyring()
        stop = time.monotonic() + REWRAP_SECONDS
        moved = rewrap_all(ring, until=lambda: time.monotonic() > stop)
        return f"re-wrapped {moved}, {waiting(ring)} left" if moved else "nothing to re-wrap"


def retention() -> str:
    """Shred the cases whose time is up, and send the coordinators' weekly digest of those that
    go next (periodic; app/retention). The database says what is due: a pass killed half-way
    is finished by the next."""
    from app.retention.digest import raise_digest, send_digests
    from app.retention.shredding import shred_due

    with job_context():
        shredded = shred_due()
        raise_digest()
        sent = send_digests()
        return f"shredded {len(shredded)}, digests sent {sent}"


# The only functions a worker runs (workers/listed.py), by the names jobs give them.
JOBS = {
    f"{__name__}.{job.__name__}": job
    for job in (
        route_case,
        check_deadline,
        offer_waiting,
        send_notifications,
        sweep_and_escalate,
        audit_checkpoint,
        circle_mail,
        rewrap_keys,
        retention,
    )
}
