"""Taking a report, and everything a reporter does later with their receipt.

These functions do the work for the views and can be called from a command, a job or a
test alike. Plaintext lives only in memory here: it is scored, then sealed, then stored.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.cases.consent import current_consent, record_initial_consent
from app.cases.content import ContactDetails, ReportContent
from app.cases.conversation import ThreadMessage, add_message, open_case_key, read_thread
from app.cases.models import Case
from app.cases.sealing import new_case_key, open_json, seal_json
from app.cases.tallies import answers_of, count_report, program_month
from app.config import current_settings
from app.crypto import blind_index
from app.extensions import db
from app.intake.choices import announce_consent, apply_consent
from app.intake.receipts import ReceiptCode
from app.intake.sessions import note_reporter_activity
from app.keystore import current_keyring
from app.models import minute_now, new_id
from app.notify.service import notify_holder
from app.referrals.services import ReporterReferral, reporter_referrals
from app.signals import announce
from app.triage.queue import enqueue_route
from app.triage.rules import current_rules
from app.triage.scoring import Triage, score
from app.triage.targets import ack_hours
from app.vocabulary import SUPPORT

log = logging.getLogger("confide.intake")

SUBMISSION_PURPOSE = "submission"


class DuplicateSubmission(Exception):
    """This form was already filed (e.g. the browser resent it)."""


@dataclass(frozen=True)
class Submission:
    category: str
    language: str
    content: ReportContent
    submission_token: str
    county: str = ""
    contact: ContactDetails | None = None
    consent: dict[str, bool] = field(default_factory=dict)
    # Pseudonyms of responders the reporter does not want to see the case.
    exclude: tuple[str, ...] = ()
    # report, or support: a support request ("I'd like to talk with someone"), whose category
    # is app.vocabulary.SUPPORT and whose content is what is on her mind (``narrative``).
    kind: str = "report"


@dataclass(frozen=True)
class Filed:
    case_id: str
    receipt: ReceiptCode
    triage: Triage
    # Names the reporter asked to keep away that are no one's pseudonym (shown to her once).
    unmatched: tuple[str, ...] = ()
    # The form had been filed before: this page shows its receipt again.
    shown_again: bool = False


def due_times(level: int, received: datetime, kind: str = "report") -> tuple[datetime, datetime]:
    """When a case of ``kind`` at ``level`` must be acknowledged, and when the reporter must hear back."""
    return (
        received + timedelta(hours=ack_hours(level, kind)),
        received + timedelta(days=current_settings().triage.feedback_days),
    )


def assess(submission: Submission) -> Triage:
    """The report's triage, from its answers in memory."""
    return score(submission.category, submission.content, current_rules())


def submit_report(submission: Submission, *, triage: Triage | None = None, despite: tuple[str, ...] = ()) -> Filed:
    """Score, seal and store a report (or a support request: ``submission.kind``), then queue
    it for routing after the commit.

    ``despite`` names what would have refused the report (``app.vocabulary.FILED_DESPITE``): a report
    that signals imminent danger is filed anyway, and the coordinators see why it came in so.

    A form filed before that comes again unchanged is shown its receipt again, when its first
    answer may never have been seen (``_shown_again``), and is otherwise refused as a
    duplicate. One that comes again changed, or signalling danger, is filed as well, marked
    ``resent``: nothing typed is lost, and danger is never refused."""
    ring = current_keyring()
    content = submission.content
    triage = triage or assess(submission)
    received = minute_now()
    ack_due, feedback_due = due_times(triage.level, received, submission.kind)
    receipt = ReceiptCode.for_submission(ring, submission.submission_token)
    case = Case(
        id=new_id(),
        receipt_index=receipt.keyed_index(ring),
        receipt_root=ring.active_root_id,
        submission_index=blind_index(ring, SUBMISSION_PURPOSE, submission.submission_token),
        submission_digest=submission_digest(submission),
        created_at=received,
        kind=submission.kind,
        category=submission.category,
        level=triage.level,
        signals=[*triage.signals, *despite],
        language=submission.language,
        county=submission.county or None,
        is_named=submission.contact is not None,
        ack_due_at=ack_due,
        feedback_due_at=feedback_due,
    )
    dek = new_case_key(ring, case)
    case.report_sealed = seal_json(dek, asdict(content), record="case", record_id=case.id, field="report")
    if submission.contact is not None:
        case.contact_sealed = seal_json(
            dek, asdict(submission.contact), record="case", record_id=case.id, field="contact"
        )
    # Kept before the commit: reading them after it would reload the row.
    case_id, submission_index, digest = case.id, case.submission_index, case.submission_digest
    db.session.add(case)
    try:
        db.session.flush()
        record_initial_consent(case_id, submission.consent)
        count_report(
            program_month(received),
            answers_of(
                category=submission.category,
                level=triage.level,
                county=submission.county,
                language=submission.language,
                named=submission.contact is not None,
                context={"setting": content.setting, "perpetrator": content.perpetrator, "when": content.when},
                consent=submission.consent,
            ),
            kind=submission.kind,
        )
        unmatched = _record_exclusions(case_id, submission.exclude)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        first = db.session.scalar(select(Case).where(Case.submission_index == submission_index))
        if first is None:
            raise
        # A case filed before digests were kept counts as the same report, but its receipt was
        # not made from the token: it is never shown again.
        if first.submission_digest is None or hmac.compare_digest(first.submission_digest, digest or b""):
            again = _shown_again(first, receipt) if first.submission_digest is not None else None
            if again is not None:
                return again
            if triage.level != 0:
                raise DuplicateSubmission() from None
        # Changed since it was first sent (Back, more written, another choice), or in danger:
        # kept as well.
        fresh = replace(submission, submission_token=secrets.token_urlsafe(24))
        return submit_report(fresh, triage=triage, despite=(*despite, "resent"))
    log.info("case %s received at level L%d", case_id, triage.level)
    enqueue_route(case_id, triage.level)
    return Filed(case_id=case_id, receipt=receipt, triage=triage, unmatched=unmatched)


def submission_digest(submission: Submission) -> bytes:
    """A keyed digest of everything the form said, its token included: a resent form with the
    same digest is the same report, one with any answer changed is not."""
    fields = asdict(submission)
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=list)
    return blind_index(current_keyring(), "submission-content", canonical)


# How long after filing a form sent again is shown its receipt again: a double tap or a
# connection lost on the way back takes seconds; someone at the same browser later gets nothing.
SHOWN_AGAIN_WINDOW = timedelta(minutes=5)


def _shown_again(case: Case, receipt: ReceiptCode) -> Filed | None:
    """The receipt of a case filed moments ago by the form this browser sends again, when
    its first answer may never have reached the screen: a double tap (the browser shows only
    the last answer), or a connection lost between the saving and the page.

    The receipt is made from the form's token (``ReceiptCode.for_submission``), so it is the
    one the first answer carried: nothing is written, and nothing else stops working. Only this
    browser holds the token (``intake.tokens``); and only within ``SHOWN_AGAIN_WINDOW`` of the
    filing, before the receipt has ever opened the case, since after that she has it."""
    if case.receipt_used_at is not None or minute_now() - case.created_at > SHOWN_AGAIN_WINDOW:
        return None
    announce("receipt_shown_again", actor="", role="reporter", case_id=case.id)
    log.info("case %s: receipt shown again to the browser that filed it", case.id)
    return Filed(
        case_id=case.id,
        receipt=receipt,
        triage=Triage(level=case.level, signals=tuple(case.signals)),
        shown_again=True,
    )


def _record_exclusions(case_id: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """Keep the ids of the responders the reporter named (compared as they read:
    ``staff.pseudonyms``); returns the names that are no one's."""
    from app.cases.exclusions import exclude
    from app.staff.models import StaffUser
    from app.staff.pseudonyms import pseudonym_key

    wanted = {pseudonym_key(name): name.strip() for name in names if pseudonym_key(name)}
    if not wanted:
        return ()
    matched = set()
    for staff_id, pseudonym in db.session.execute(
        select(StaffUser.id, StaffUser.pseudonym).where(StaffUser.pseudonym.is_not(None))
    ):
        key = pseudonym_key(pseudonym or "")
        if key in wanted and staff_id not in matched:
            matched.add(staff_id)
            exclude(case_id, staff_id)
            wanted[key] = ""
    return tuple(name for name in wanted.values() if name)


@dataclass(frozen=True)
class ReporterView:
    case: Case
    content: ReportContent
    contact: ContactDetails | None
    messages: list[ThreadMessage]
    consent: dict[str, bool]
    referrals: list[ReporterReferral]


def reporter_report(case_id: str) -> tuple[Case, ReportContent, ContactDetails | None, bytes]:
    """The reporter's own case, report and contact details, and the case's data key."""
    case = db.get_or_404(Case, case_id)
    dek = open_case_key(case)
    report = open_json(dek, case.report_sealed, record="case", record_id=case.id, field="report")
    report["wants"] = tuple(report.get("wants", ()))
    contact = None
    if case.contact_sealed is not None:
        contact = ContactDetails(
            **open_json(dek, case.contact_sealed, record="case", record_id=case.id, field="contact")
        )
    return case, ReportContent(**report), contact, dek


def reporter_view(case_id: str) -> ReporterView:
    """A case as its reporter sees it: their report, the conversation, their choices."""
    case, content, contact, dek = reporter_report(case_id)
    return ReporterView(
        case=case,
        content=content,
        contact=contact,
        messages=read_thread(case, dek, for_reporter=True),
        consent=current_consent(case.id),
        referrals=reporter_referrals(case.id),
    )


def add_reporter_message(case_id: str, body: str, *, kind: str = "message") -> str:
    """A message or an addition to the report, from the reporter through their receipt."""
    case = db.get_or_404(Case, case_id)
    if case.kind == SUPPORT:
        kind = "message"  # a support request has no report to add to
    # Whoever has the case hears of it (the coordinators if nobody does), in the transaction
    # that stores it; at once for the two most urgent levels, else with the next digest.
    told = notify_holder(
        case.id, case.assigned_to_id, "reporter_wrote", key=f"reporter-wrote:{new_id()}", urgent=case.level <= 1
    )
    note_reporter_activity(case.id)
    message_id = add_message(case, body, author="reporter", kind=kind)
    announce(
        "message_sent",
        actor="",
        role="reporter",
        case_id=case.id,
        kind=kind,
        direction="from_reporter",
        notified=told,
    )
    return message_id


def change_consent(case_id: str, choices: dict[str, bool]) -> list[str]:
    """Record the reporter's new choices; returns the purposes that changed."""
    db.get_or_404(Case, case_id)
    change = apply_consent(case_id, choices)
    db.session.commit()
    announce_consent(case_id, change)
    return change.changed
