"""A support request becomes an incident report: the reporter's own decision, through her receipt.

The same case changes kind: its receipt, conversation, responder and exclusions stay. What she
wrote and her contact details are sealed again as the report she sends, her choices recorded as
any change at /status is, and the report read by triage once more; a level never goes down, and
an acknowledgement deadline never moves later. It is counted as a report in the month it
becomes one (``cases.tallies``), and announced (``case_became_report``) for the audit log and
the staff timeline.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from app.cases.conversation import open_case_key
from app.cases.models import Case, take_write_lock
from app.cases.sealing import seal_json
from app.cases.tallies import answers_of, count_report, program_month
from app.extensions import db
from app.intake.choices import announce_consent, apply_consent
from app.intake.services import Submission, assess
from app.models import minute_now
from app.notify.service import coordinators_for, notify_holder, raise_notices, to_coordinators
from app.signals import announce
from app.triage.handback import hand_back_if_untrained
from app.triage.models import ROUTABLE, RoutingRound
from app.triage.queue import enqueue_route, schedule_deadline_checks
from app.triage.targets import ack_hours
from app.vocabulary import REPORT, SUPPORT

log = logging.getLogger("confide.intake")


class NotASupportRequest(Exception):
    """The case is a report already (turned into one before, or never a support request)."""


@dataclass(frozen=True)
class Became:
    level: int
    level_before: int


def make_report(case_id: str, submission: Submission, *, despite: tuple[str, ...] = ()) -> Became:
    """Turn the support request ``case_id`` into the report ``submission`` (the report form's
    answers; its language, exclusions and token are not used: the case keeps its own).

    ``despite`` names what would have refused the form (``app.vocabulary.FILED_DESPITE``): one
    that signals imminent danger is taken anyway. Raises NotASupportRequest, changing nothing,
    if the case is a report already."""
    try:
        take_write_lock()
        case = db.session.scalars(
            select(Case)
            .where(Case.id == case_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        ).one()
        if case.kind != SUPPORT:
            raise NotASupportRequest(case_id)
        # Her choices first: a withdrawal of peer support takes the case from its responder.
        consent = apply_consent(case_id, submission.consent)
        before = case.level
        scored = assess(submission)
        now = minute_now()
        case.kind, case.became_report_at = REPORT, now
        case.category, case.county = submission.category, submission.county or None
        case.level = min(before, scored.level)
        case.signals = list(dict.fromkeys([*case.signals, *scored.signals, *despite]))
        dek = open_case_key(case)
        case.report_sealed = seal_json(
            dek, asdict(submission.content), record="case", record_id=case.id, field="report"
        )
        case.is_named = submission.contact is not None
        case.contact_sealed = (
            seal_json(dek, asdict(submission.contact), record="case", record_id=case.id, field="contact")
            if submission.contact is not None
            else None
        )
        count_report(
            program_month(now),
            answers_of(
                category=case.category,
                level=case.level,
                county=case.county,
                language=case.language,
                named=case.is_named,
                context={k: getattr(submission.content, k) for k in ("setting", "perpetrator", "when")},
                consent=submission.consent,
            ),
        )
        deadline = _sooner_deadline(case, now)
        # A responder not trained for what the report turned out to be gives it back to routing
        # (whose new round has the report's deadline).
        untrained = hand_back_if_untrained(case)
        if untrained.gone is not None:
            deadline = None
        told = notify_holder(
            case.id, case.assigned_to_id, "became_report", key=f"became-report:{case.id}", urgent=case.level <= 1
        )
        if case.level == 0 and before > 0:
            # Imminent danger now: the on-call coordinators are paged as at intake (the same key,
            # so a case routing has paged already is not paged twice).
            on_call = coordinators_for([case.id]).told(case.id, on_call_only=True)
            raise_notices(to_coordinators(on_call, "urgent", case_id=case.id, key=f"urgent:{case.id}", urgent=True))
        level, routable = case.level, case.routing_state in ROUTABLE
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("case %s: a support request became a report at level L%d", case_id, level)
    announce(
        "case_became_report",
        actor="",
        role="reporter",
        case_id=case_id,
        level_before=before,
        level=level,
        notified=told,
        **({"untrained_holder": untrained.kept} if untrained.kept else {}),
    )
    announce_consent(case_id, consent)
    if untrained.gone is not None:
        announce(
            "case_unassigned", actor="", role="system", case_id=case_id, previous=untrained.gone, reason="not_trained"
        )
    if deadline is not None:
        schedule_deadline_checks([deadline])
    if untrained.gone is not None or (routable and level < before):
        enqueue_route(case_id, level)  # on the queue of its new level: routed (again) as a report
    return Became(level=level, level_before=before)


def _sooner_deadline(case: Case, now: datetime) -> tuple[str, int, datetime] | None:
    """An unacknowledged case whose new level asks for an answer sooner gets the sooner
    deadline, and so does the routing round it is in; returns that round's check to schedule."""
    if case.acknowledged_at is not None:
        return None
    due = now + timedelta(hours=ack_hours(case.level, REPORT))
    if due >= case.ack_due_at:
        return None
    case.ack_due_at = due
    current = db.session.scalar(
        select(RoutingRound).where(
            RoutingRound.case_id == case.id,
            RoutingRound.number == case.routing_round,
            RoutingRound.outcome == "assigned",
        )
    )
    if current is None or current.due_at <= due:
        return None
    current.due_at = due
    return case.id, current.number, due
