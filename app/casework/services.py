"""Case handling for responders and coordinators: the queue, a case's page, and what they
do with it (acknowledge, assign, change status, notes, messages to the reporter).

Who may see a case is decided once, in :func:`app.cases.visibility.visible_case`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Subquery, func, select, update
from sqlalchemy.orm import aliased

from app.access import COORDINATOR, RESPONDER
from app.cases.consent import CONTACT_PURPOSES, current_consent
from app.cases.content import ContactDetails, ReportContent
from app.cases.conversation import ThreadMessage, add_message, open_case_key, read_thread
from app.cases.exclusions import cases_excluding, excluded_among
from app.cases.models import Case, CaseNote, take_write_lock
from app.cases.sealing import open_json, seal_json
from app.casework.timeline import TimelineEntry, timeline
from app.extensions import db
from app.models import new_id, utcnow
from app.notify.service import Notice, notify_reporter, raise_notices
from app.signals import announce
from app.staff.models import StaffUser
from app.staff.services import staff_directory
from app.triage.eligibility import RULES, Candidate, language_name, nobody_because, roster, why_not
from app.triage.models import RoutingRound
from app.triage.routing import end_routing_for_assignment
from app.vocabulary import CLOSE_REASONS, QUEUE_RANK, SUPPORT, TRANSITIONS

PER_PAGE = 50


class CaseActionError(Exception):
    """An action that cannot be taken on this case now; the message is for the person."""


@dataclass(frozen=True)
class QueueFilters:
    level: int | None = None
    status: str | None = None
    category: str | None = None
    language: str | None = None
    mine: bool = False
    # report | support (app/vocabulary.py KINDS)
    kind: str | None = None


@dataclass(frozen=True)
class QueueRow:
    id: str
    level: int
    category: str
    kind: str
    status: str
    language: str
    created_at: datetime
    ack_due_at: datetime
    acknowledged: bool
    important: bool
    assignee: str
    # The reporter wrote since whoever has the case last opened it.
    unread: bool = False


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int


def queue_conditions(viewer: StaffUser, filters: QueueFilters) -> list[ColumnElement[bool]]:
    """Which cases the queue (and its export) holds for ``viewer`` with ``filters``."""
    conditions: list[ColumnElement[bool]] = []
    if viewer.role != COORDINATOR or filters.mine:
        conditions.append(Case.assigned_to_id == viewer.id)
    else:
        # A case whose reporter kept this coordinator away is not theirs to see, even listed.
        kept_away = cases_excluding(viewer.id)
        if kept_away:
            conditions.append(Case.id.not_in(kept_away))
    if filters.level is not None:
        conditions.append(Case.level == filters.level)
    if filters.status:
        conditions.append(Case.status == filters.status)
    if filters.category:
        conditions.append(Case.category == filters.category)
    if filters.language:
        conditions.append(Case.language == filters.language)
    if filters.kind:
        conditions.append(Case.kind == filters.kind)
    return conditions


def queue_page(viewer: StaffUser, filters: QueueFilters, page: int = 1) -> QueuePage:
    """One page of the queue: waiting cases first, by level, then by deadline.

    Only clear metadata is read; nothing is decrypted."""
    conditions = queue_conditions(viewer, filters)
    total = db.session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(1, page), pages)
    order = (Case.queue_rank, Case.level, Case.ack_due_at, Case.id)
    # The page's ids come from the index alone; only those 50 rows are then read, so a deep
    # page does not fetch every row it skips.
    page_ids = (
        select(Case.id).where(*conditions).order_by(*order).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).subquery()
    return QueuePage(
        rows=queue_rows(page_ids, order),
        total=total,
        page=page,
        pages=pages,
    )


def queue_rows(chosen: Subquery, order: Sequence[Any]) -> list[QueueRow]:
    """The queue's rows of the cases whose ids ``chosen`` selects, in ``order``: clear
    metadata and the assignee's name, read in one statement."""
    assignee = aliased(StaffUser)
    rows = db.session.execute(
        select(
            Case.id,
            Case.level,
            Case.category,
            Case.kind,
            Case.status,
            Case.language,
            Case.created_at,
            Case.ack_due_at,
            Case.acknowledged_at,
            Case.important,
            Case.reporter_unread,
            assignee.name.label("assignee_name"),
            assignee.email.label("assignee_email"),
            assignee.pseudonym.label("assignee_pseudonym"),
        )
        .join(chosen, chosen.c.id == Case.id)
        .outerjoin(assignee, assignee.id == Case.assigned_to_id)
        .order_by(*order)
    ).all()
    return [
        QueueRow(
            id=r.id,
            level=r.level,
            category=r.category,
            kind=r.kind,
            status=r.status,
            language=r.language,
            created_at=r.created_at,
            ack_due_at=r.ack_due_at,
            acknowledged=r.acknowledged_at is not None,
            important=r.important,
            unread=r.reporter_unread,
            assignee=staff_label(r.assignee_name, r.assignee_email, r.assignee_pseudonym) if r.assignee_email else "",
        )
        for r in rows
    ]


def staff_label(name: str, email: str, pseudonym: str | None) -> str:
    """How staff pages name a colleague: real name, then the pseudonym reporters see."""
    return f"{name or email} ({pseudonym})" if pseudonym else (name or email)


@dataclass(frozen=True)
class CaseView:
    case: Case
    content: ReportContent
    contact: ContactDetails | None
    contact_allowed: tuple[str, ...]
    messages: list[ThreadMessage]
    notes: list[tuple[datetime, str, str]]
    consent: dict[str, bool]
    assignee: StaffUser | None
    timeline: list[TimelineEntry] = field(default_factory=list)
    # True when the reporter withdrew consent to peer support and the viewer is no coordinator.
    withheld: bool = False
    # Whether this viewer may mark the case referred now (a coordinator, with consent).
    can_refer: bool = False
    # With nobody on the case because routing found nobody eligible: why, in plain English.
    nobody_because: str = ""


def _mark_read(viewer: StaffUser, case: Case) -> None:
    """What the reporter wrote is read once whoever has the case opens it (with nobody on
    it, a coordinator): their read is the one that counts, not a coordinator's look at a
    responder's case."""
    holder = case.assigned_to_id
    if not case.reporter_unread or (holder != viewer.id and (holder is not None or viewer.role != COORDINATOR)):
        return
    same_holder = Case.assigned_to_id.is_(None) if holder is None else Case.assigned_to_id == holder
    db.session.execute(
        update(Case)
        .where(Case.id == case.id, same_holder)
        # updated_at as it was: reading changes nothing of the case.
        .values(reporter_unread=False, updated_at=Case.updated_at)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _nobody_because(case: Case) -> str:
    if case.assigned_to_id is not None or case.routing_state != "coordinators":
        return ""
    reason = db.session.scalar(
        select(RoutingRound.reason)
        .where(RoutingRound.case_id == case.id, RoutingRound.staff_id.is_(None))
        .order_by(RoutingRound.number.desc())
        .limit(1)
    )
    return nobody_because(reason, case.language, case.category)


def view_case(viewer: StaffUser, case: Case) -> CaseView:
    """Decrypt a case for ``viewer``; the view is audited, and marks read what the reporter
    wrote if the viewer has the case."""
    consent = current_consent(case.id)
    if viewer.role == COORDINATOR or consent["peer_support"]:
        _mark_read(viewer, case)
    dek = open_case_key(case)
    report = open_json(dek, case.report_sealed, record="case", record_id=case.id, field="report")
    report["wants"] = tuple(report.get("wants", ()))
    # Without consent to peer support, the report is for coordinators only.
    withheld = viewer.role != COORDINATOR and not consent["peer_support"]
    if withheld:
        report = {"narrative": ""}
    allowed = tuple(p for p in CONTACT_PURPOSES if consent[p])
    contact = None
    # Contact details only where the reporter agreed to be contacted at all.
    if case.contact_sealed is not None and not withheld and (allowed or viewer.role == COORDINATOR):
        contact = ContactDetails(
            **open_json(dek, case.contact_sealed, record="case", record_id=case.id, field="contact")
        )
    names = _staff_names({n.author_id for n in case.notes if n.author_id})
    notes = (
        [
            (
                n.created_at,
                names.get(n.author_id or "", "someone"),
                open_json(dek, n.body_sealed, record="note", record_id=n.id, field="body"),
            )
            for n in case.notes
        ]
        if not withheld
        else []
    )
    view = CaseView(
        case=case,
        content=ReportContent(**report),
        contact=contact,
        contact_allowed=allowed,
        # What the reporter added goes with the report.
        messages=[] if withheld else read_thread(case, dek, for_reporter=False),
        notes=notes,
        consent=consent,
        assignee=staff_directory().get(case.assigned_to_id) if case.assigned_to_id else None,
        timeline=timeline(case.id, language=case.language, category=case.category),
        withheld=withheld,
        can_refer=viewer.role == COORDINATOR and consent["legal_referral"],
        nobody_because=_nobody_because(case),
    )
    announce(
        "case_viewed",
        actor=viewer.id,
        role=viewer.role,
        case_id=case.id,
        contact_shown=contact is not None,
        report_shown=not withheld,
    )
    return view


def _staff_names(ids: set[str]) -> dict[str, str]:
    directory = staff_directory()
    return {staff_id: directory[staff_id].label for staff_id in ids if staff_id in directory}


def _set_status(case: Case, status: str) -> None:
    case.status = status
    case.queue_rank = QUEUE_RANK[status]
    case.updated_at = utcnow()
    if status == "closed":
        case.closed_at = case.updated_at


MOVED_ON = (
    "This case moved on while the page was open: its deadline passed and it went to someone "
    "else. Reload the page to see where it is now."
)


def acknowledge(viewer: StaffUser, case: Case) -> None:
    """Record that someone has read the case, if it is still where the viewer saw it.

    Written with a conditional UPDATE: if a deadline check has meanwhile passed the case on
    to the next responder, the acknowledgement must not land on their case (CaseActionError)."""
    if case.acknowledged_at is not None:
        return
    now = utcnow()
    holder = case.assigned_to_id
    values: dict[str, Any] = {"acknowledged_at": now, "updated_at": now}
    if case.status == "new":
        values.update(status="acknowledged", queue_rank=QUEUE_RANK["acknowledged"])
    if holder is None:
        values.update(assigned_to_id=viewer.id, assigned_at=now)
    same_holder = Case.assigned_to_id.is_(None) if holder is None else Case.assigned_to_id == holder
    done = db.session.execute(
        update(Case).where(Case.id == case.id, Case.acknowledged_at.is_(None), same_holder).values(**values)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        db.session.rollback()
        raise CaseActionError(MOVED_ON)
    db.session.commit()
    announce("case_acknowledged", actor=viewer.id, role=viewer.role, case_id=case.id)


def assign(viewer: StaffUser, case: Case, staff_id: str) -> None:
    """Claim (assign to oneself) or, for coordinators, reassign to a responder."""
    if staff_id != viewer.id and viewer.role != COORDINATOR:
        raise CaseActionError("Only coordinators can reassign a case.")
    target = db.session.get(StaffUser, staff_id)
    if target is None or not target.active or target.role not in (RESPONDER, COORDINATOR):
        raise CaseActionError("Choose an active responder.")
    # The case's row first (SQLite: the database), held to the commit, as a withdrawal of consent
    # holds it: she withdraws either before her consent is read here, or after this lands, and
    # then takes the case back.
    take_write_lock()
    db.session.scalars(
        select(Case).where(Case.id == case.id).with_for_update(key_share=True).execution_options(populate_existing=True)
    ).first()
    if target.id in excluded_staff(case.id):
        raise CaseActionError("The reporter asked that this person not see the case.")
    if target.role == RESPONDER and not current_consent(case.id)["peer_support"]:
        raise CaseActionError("The reporter has not agreed that a peer responder reads this case.")
    previous = case.assigned_to_id
    case.assigned_to_id, case.assigned_at = target.id, utcnow()
    # The case's row first, then the person's: the order routing locks them in, so the
    # two never wait for each other in a circle.
    db.session.flush()
    # Routing is done with the case: no routing job and no old round's deadline moves it now.
    ended = end_routing_for_assignment(case.id)
    target.last_assigned_at = utcnow()
    notices = []
    stamp = new_id()  # each reassignment tells them anew
    if target.id != viewer.id:
        notices.append(Notice(target.id, case.id, "assigned", f"assigned:{case.id}:{stamp}", case.level == 0))
    if previous and previous not in (target.id, viewer.id):
        notices.append(Notice(previous, case.id, "unassigned", f"unassigned:{case.id}:{stamp}"))
    raise_notices(notices)
    db.session.commit()
    announce(
        "case_assigned",
        actor=viewer.id,
        role=viewer.role,
        case_id=case.id,
        to=target.id,
        previous=previous,
        round=ended,
        notified=[notice.staff_id for notice in notices],
    )


def change_status(viewer: StaffUser, case: Case, status: str, *, reason: str = "") -> None:
    if status not in TRANSITIONS.get(case.status, ()):
        raise CaseActionError(f"A {case.status.replace('_', ' ')} case cannot become {status.replace('_', ' ')}.")
    if status == "acknowledged":
        acknowledge(viewer, case)
        return
    if status == "closed" and reason not in CLOSE_REASONS:
        raise CaseActionError("Choose why the case is closed.")
    if status == "referred":
        if viewer.role != COORDINATOR:
            raise CaseActionError("Only a coordinator can refer a case to counsel.")
        if not current_consent(case.id)["legal_referral"]:
            raise CaseActionError("The reporter has not agreed to a legal referral.")
    old = case.status
    _set_status(case, status)
    if case.acknowledged_at is None:
        case.acknowledged_at = utcnow()
    case.closed_reason = reason if status == "closed" else None
    db.session.commit()
    announce(
        "case_status_changed",
        actor=viewer.id,
        role=viewer.role,
        case_id=case.id,
        old=old,
        new=status,
        reason=reason or None,
    )


def set_important(viewer: StaffUser, case: Case, important: bool) -> None:
    case.important = important
    db.session.commit()
    announce("case_flagged", actor=viewer.id, role=viewer.role, case_id=case.id, important=important)


def add_note(viewer: StaffUser, case: Case, body: str) -> None:
    dek = open_case_key(case)
    note = CaseNote(id=new_id(), case_id=case.id, author_id=viewer.id)
    note.body_sealed = seal_json(dek, body, record="note", record_id=note.id, field="body")
    db.session.add(note)
    db.session.commit()
    announce("note_added", actor=viewer.id, role=viewer.role, case_id=case.id)


def message_reporter(viewer: StaffUser, case: Case, body: str) -> None:
    if viewer.role == RESPONDER and not current_consent(case.id)["peer_support"]:
        raise CaseActionError("The reporter has not agreed that a peer responder talks with them.")
    message_id = add_message(case, body, author="staff", author_id=viewer.id)
    if case.is_named:
        # Sent only if they gave an email and agreed to be emailed (checked when sending).
        notify_reporter(case.id, "message", key=f"message:{message_id}")
        db.session.commit()
    if case.acknowledged_at is None:
        try:
            acknowledge(viewer, case)
        except CaseActionError:
            pass  # the message is sent; the case, moved on meanwhile, waits for its new responder
    announce("message_sent", actor=viewer.id, role=viewer.role, case_id=case.id, direction="to_reporter")


def excluded_staff(case_id: str) -> set[str]:
    """The staff the reporter asked to keep away from the case."""
    return excluded_among([case_id], staff_directory().keys()).get(case_id, set())


@dataclass(frozen=True)
class AssignOption:
    """Someone a coordinator may give the case to, and, for a responder routing would pass
    by, why (empty when they fit)."""

    staff: StaffUser
    why_not: str = ""
    # For one who fits: their open cases against their cap, "2/5 cases".
    load: str = ""

    @property
    def label(self) -> str:
        if self.staff.role == COORDINATOR:
            return f"{self.staff.label}, coordinator"
        return f"{self.staff.label}, responder — {self.why_not or f'eligible, {self.load}'}"


def assignable_staff(case: Case, *, peer_support: bool) -> list[AssignOption]:
    """Who a coordinator may give the case to: responders who fit it (as routing would
    choose: least loaded first), then coordinators, then the other responders with why they
    do not fit (off duty, language, training, cap). Never anyone the reporter excluded; only
    coordinators if the reporter does not want a peer responder to read it (``peer_support``,
    her consent, which the caller has read)."""
    excluded = excluded_staff(case.id)
    roles = (RESPONDER, COORDINATOR) if peer_support else (COORDINATOR,)
    directory = staff_directory()
    fit: list[tuple[int, str, AssignOption]] = []
    coordinators: list[tuple[int, str, AssignOption]] = []
    others: list[tuple[int, str, AssignOption]] = []
    for candidate in roster(today=utcnow().date(), roles=roles):
        person = directory.get(candidate.id)
        if person is None or candidate.id in excluded:
            continue
        name = (person.name or person.email).casefold()
        if candidate.role == COORDINATOR:
            coordinators.append((0, name, AssignOption(person)))
            continue
        rule = why_not(candidate, case.language, case.category)
        if rule is None:
            fit.append((candidate.load, name, AssignOption(person, "", f"{candidate.load}/{candidate.cap} cases")))
        else:
            others.append((RULES.index(rule), name, AssignOption(person, _why_not_words(rule, candidate, case))))
    return [option for group in (fit, coordinators, others) for *_, option in sorted(group, key=lambda o: o[:2])]


def _why_not_words(rule: str, candidate: Candidate, case: Case) -> str:
    if rule == "off_duty":
        return "off duty"
    if rule == "language":
        return f"doesn't speak {language_name(case.language)}"
    if rule == "training":
        return "no current training" if case.category == SUPPORT else "no current training for this category"
    return f"at cap {candidate.load}/{candidate.cap}"
