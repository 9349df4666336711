"""Routing a case to a responder, and escalating when a deadline passes.

Jobs call these with an id; nothing here needs a case's plaintext.

A routing job routes its own case and, when more wait (a busy night, or the backlog after
an outage), up to ``triage.route_batch`` cases in all, in one transaction, the most urgent
and oldest first; it then takes their jobs off the queue. A transaction and an RQ job per
case cost several times the routing itself.

A case nobody fitted waits with the coordinators, and the round records why (the first
eligibility rule nobody passed). When a responder comes to fit (on duty, a language, a
training, room under the cap) :func:`offer_waiting` routes such cases again: a job queued on
the change, and the periodic sweep in case that job was lost. A coordinator's assignment
ends routing for the case (:func:`end_routing_for_assignment`).

Every round and escalation is announced (case_routed, case_escalated); a batch's rounds go
to the audit log in one transaction (app.signals.announce_each).

Under concurrency:

* the cases: the job's own case is locked, waiting for whoever holds it; the others are
  taken with SKIP LOCKED, so two workers never take the same one. Every change is still
  conditional on the routing state it was read in, so a job delivered twice routes once.
  (FOR NO KEY UPDATE: a reporter's message or consent, which only points at the case, does
  not wait for a batch.)
* the caseload caps: the responders who may be chosen are locked, in id order, before
  their open cases are counted (app/triage/eligibility.py).
* SQLite has no row locks: a routing transaction takes the database's write lock first.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, tuple_, update

from app.cases.exclusions import excluded_among
from app.cases.models import Case, ConsentRecord, take_write_lock
from app.config import current_settings
from app.extensions import db
from app.models import minute_now, utcnow
from app.notify.service import Coordinators, Notice, coordinators_for, raise_notices, to_coordinators
from app.signals import announce, announce_each
from app.staff.models import StaffUser
from app.triage.eligibility import OPEN_RANKS, Pool, lock_pool, roster, why_nobody
from app.triage.models import ROUTABLE, RoutingRound
from app.triage.severe import SEVERE_LEVELS
from app.triage.targets import ack_hours

log = logging.getLogger("confide.triage")

# What routing reads of a case: metadata only, never the sealed report.
_WAITING = (
    Case.id,
    Case.level,
    Case.created_at,
    Case.category,
    Case.language,
    Case.routing_state,
    Case.routing_round,
    Case.ack_due_at,
    Case.kind,
)


class RoutingConflict(RuntimeError):
    """A case changed under a routing transaction that had locked it: a bug, not a race."""


@dataclass(frozen=True)
class Routed:
    """What one routing transaction did."""

    # For the case named: assigned, coordinators, already-routed or missing.
    outcome: str
    # Every case routed, in the order decided: most urgent, then oldest, first.
    cases: tuple[str, ...] = ()
    # An urgent notice was raised, to be sent now rather than with the next digest.
    urgent: bool = False


@dataclass(frozen=True)
class _Decision:
    case: Any  # a row of _WAITING
    number: int
    staff_id: str | None
    due: datetime
    # With nobody eligible, why (eligibility.NOBODY_BECAUSE).
    reason: str | None = None

    @property
    def outcome(self) -> str:
        return "assigned" if self.staff_id else "coordinators"


def _due(case: Any, number: int, now: datetime) -> datetime:
    if number == 1:
        return case.ack_due_at
    return now + timedelta(hours=ack_hours(case.level, case.kind))


def _exclusions(case_ids: Sequence[str], candidates: Sequence[str]) -> dict[str, set[str]]:
    """For each case, those of ``candidates`` who must not get it: whom the reporter
    excluded, and who let one of its deadlines pass."""
    excluded: dict[str, set[str]] = defaultdict(set)
    for case_id, people in excluded_among(case_ids, candidates).items():
        excluded[case_id] |= people
    for case_id, staff_id in db.session.execute(
        select(RoutingRound.case_id, RoutingRound.staff_id).where(
            RoutingRound.case_id.in_(case_ids), RoutingRound.outcome == "missed", RoutingRound.staff_id.is_not(None)
        )
    ):
        if staff_id is not None:
            excluded[case_id].add(staff_id)
    return excluded


def _without_peer_support(case_ids: Sequence[str]) -> set[str]:
    """The cases whose reporter has not agreed that a peer responder reads the report: they
    are for the coordinators alone."""
    latest: dict[str, bool] = {}
    for case_id, granted in db.session.execute(
        select(ConsentRecord.case_id, ConsentRecord.granted)
        .where(
            ConsentRecord.case_id.in_(case_ids),
            ConsentRecord.purpose == "peer_support",
            ConsentRecord.recipient == "",
        )
        .order_by(ConsentRecord.id)
    ):
        latest[case_id] = granted
    return {case_id for case_id in case_ids if not latest.get(case_id, False)}


def withdraw_from_responder(case_id: str) -> str | None:
    """The reporter no longer wants a peer responder to read the report: a case a responder
    has goes to the coordinators, in the caller's transaction. Returns that responder's id;
    they and the coordinators are told (content-free notices)."""
    # The case's row first, held to the commit: routing, which locks it too, decides after
    # this, and reads the withdrawal. (SQLite: the caller's write holds the database.)
    case = db.session.scalars(
        select(Case).where(Case.id == case_id).with_for_update(key_share=True).execution_options(populate_existing=True)
    ).first()
    if case is None or case.assigned_to_id is None:
        return None
    holder = db.session.get(StaffUser, case.assigned_to_id)
    if holder is None or holder.role != "responder":
        return None
    # Given by routing or by a coordinator, the case leaves the responder all the same.
    db.session.execute(
        update(Case)
        .where(Case.id == case_id)
        .values(routing_state="coordinators", assigned_to_id=None, assigned_at=None)
        .execution_options(synchronize_session="fetch")
    )
    db.session.execute(
        update(RoutingRound)
        .where(RoutingRound.case_id == case_id, RoutingRound.outcome == "assigned")
        .values(outcome="withdrawn")
    )
    raise_notices(
        [
            Notice(holder.id, case_id, "unassigned", f"unassigned:{case_id}:{case.routing_round}"),
            *to_coordinators(
                coordinators_for([case_id]).told(case_id),
                "no_peer_support",
                case_id=case_id,
                key=f"no-peer-support:{case_id}:{case.routing_round}",
            ),
        ]
    )
    return holder.id


def _decide(batch: Sequence[Any], now: datetime, *, explain: bool = True) -> list[_Decision]:
    """The responder (or None: the coordinators) for each case, in order, each decision
    counting for the next; with ``explain``, why nobody could take a case left over."""
    coordinators_only = _without_peer_support([case.id for case in batch])
    pool = lock_pool({case.category for case in batch}, today=now.date(), now=now)
    excluded = _exclusions([case.id for case in batch], [responder.id for responder in pool.responders])
    decisions = []
    for case in batch:
        number = case.routing_round + 1
        staff_id = None
        if case.id not in coordinators_only:
            staff_id = pool.choose(
                case.language, case.category, excluded.get(case.id, ()), severe=case.level in SEVERE_LEVELS
            )
        decisions.append(_Decision(case, number, staff_id, _due(case, number, now)))
    if explain and any(d.staff_id is None for d in decisions):
        decisions = _explained(decisions, pool, excluded, coordinators_only, now)
    return decisions


def _explained(
    decisions: list[_Decision], pool: Pool, excluded: dict[str, set[str]], coordinators_only: set[str], now: datetime
) -> list[_Decision]:
    """The decisions, those that found nobody with the first eligibility rule that left no
    one. Read only when some case found nobody: the whole roster, the pool's loads as the
    batch left them (everyone who left the pool failed an earlier rule)."""
    candidates = roster(today=now.date(), loads={r.id: r.load for r in pool.responders})
    return [
        d
        if d.staff_id
        else _Decision(
            d.case,
            d.number,
            None,
            d.due,
            why_nobody(
                candidates,
                d.case.language,
                d.case.category,
                excluded.get(d.case.id, set()),
                peer_support=d.case.id not in coordinators_only,
            )
            or "cap",  # someone fitted only before the batch's own cases filled them
        )
        for d in decisions
    ]


def _notices(decisions: Sequence[_Decision]) -> list[Notice]:
    """Who hears of the decisions: the responder given a case, or the coordinators when
    nobody could take it; and, for imminent danger (L0), the on-call coordinators at once,
    whoever has the case. Never a coordinator the reporter excluded (see
    ``Coordinators.kept_away``), read once for the batch."""
    heard = [d.case.id for d in decisions if not d.staff_id or (d.case.level == 0 and d.number == 1)]
    coordinators = coordinators_for(heard) if heard else Coordinators({})
    notices: list[Notice] = []
    for decision in decisions:
        case_id, number = decision.case.id, decision.number
        if decision.staff_id:
            notices.append(
                Notice(decision.staff_id, case_id, "assigned", f"assigned:{case_id}:{number}", decision.case.level == 0)
            )
        else:
            key = f"no-eligible:{case_id}:{number}"
            notices += to_coordinators(coordinators.told(case_id), "no_eligible", case_id=case_id, key=key)
        if decision.case.level == 0 and number == 1:
            on_call = coordinators.told(case_id, on_call_only=True)
            notices += to_coordinators(on_call, "urgent", case_id=case_id, key=f"urgent:{case_id}", urgent=True)
    return notices


def _record(decisions: Sequence[_Decision], now: datetime) -> list[Notice]:
    """Write the decisions; returns the notices raised."""
    connection = db.session.connection()
    moved = connection.execute(
        update(Case)
        .where(
            Case.id == bindparam("case_id"),
            Case.routing_state == bindparam("from_state"),
            Case.routing_round == bindparam("from_round"),
        )
        .values(
            routing_state=bindparam("to_state"),
            routing_round=bindparam("number"),
            queued_at=now,
            assigned_to_id=bindparam("staff_id"),
            assigned_at=bindparam("at"),
        ),
        [
            {
                "case_id": d.case.id,
                "from_state": d.case.routing_state,
                "from_round": d.case.routing_round,
                "to_state": d.outcome,
                "number": d.number,
                "staff_id": d.staff_id,
                "at": now if d.staff_id else None,
            }
            for d in decisions
        ],
    )
    if moved.rowcount != len(decisions):
        raise RoutingConflict(f"{len(decisions) - moved.rowcount} of {len(decisions)} locked cases changed meanwhile")
    connection.execute(
        insert(RoutingRound),
        [
            {
                "case_id": d.case.id,
                "number": d.number,
                "staff_id": d.staff_id,
                "started_at": now,
                "due_at": d.due,
                "outcome": d.outcome,
                "reason": d.reason,
            }
            for d in decisions
        ],
    )
    chosen = {d.staff_id for d in decisions if d.staff_id}
    if chosen:
        connection.execute(update(StaffUser).where(StaffUser.id.in_(chosen)).values(last_assigned_at=now))
    notices = _notices(decisions)
    raise_notices(notices)
    return notices


def _announce_routed(decisions: Sequence[_Decision], notices: Sequence[Notice], *, again: bool = False) -> None:
    """One audit entry per case routed, written together (ids and codes only); ``again``:
    a waiting case offered to someone who now fits."""
    told: dict[str, list[str]] = defaultdict(list)
    for notice in notices:
        if notice.case_id and notice.staff_id:
            told[notice.case_id].append(notice.staff_id)
    announce_each(
        "case_routed",
        actor="",
        role="system",
        events=[
            (
                d.case.id,
                {
                    "round": d.number,
                    "outcome": d.outcome,
                    "staff": d.staff_id,
                    "reason": d.reason,
                    "notified": told.get(d.case.id, []),
                    **({"again": True} if again else {}),
                },
            )
            for d in decisions
        ],
    )


def route_case(case_id: str, *, now: datetime | None = None) -> str:
    """Assign a case to the best eligible responder, or hand it to the coordinators.

    Returns what happened: assigned, coordinators, already-routed or missing."""
    return route_batch(case_id, now=now).outcome


def route_batch(case_id: str, *, limit: int = 1, now: datetime | None = None) -> Routed:
    """Route ``case_id`` and, with ``limit`` above 1, the most urgent and oldest other
    waiting cases up to ``limit`` in all, in one transaction; then schedule the deadline
    checks and withdraw the other cases' jobs. If ``case_id`` is routed already, the
    others are routed all the same."""
    now = now or minute_now()  # what routing stores follows the report by seconds: minutes only
    try:
        take_write_lock()
        own = db.session.execute(select(*_WAITING).where(Case.id == case_id).with_for_update(key_share=True)).first()
        outcome = "missing" if own is None else ("" if own.routing_state in ROUTABLE else "already-routed")
        batch = [own] if own is not None and not outcome else []
        if limit > 1:
            batch += db.session.execute(
                select(*_WAITING)
                .where(Case.routing_state == "intake", Case.id != case_id)
                .order_by(Case.level, Case.created_at, Case.id)
                .limit(limit - len(batch))
                .with_for_update(skip_locked=True, key_share=True)
            ).all()
        # The job's own case takes its turn: an L0 case waiting beside it comes first.
        batch.sort(key=lambda case: (case.level, case.created_at, case.id))
        if not batch:
            db.session.rollback()
            return Routed(outcome)
        decisions = _decide(batch, now)
        notices = _record(decisions, now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    _announce_routed(decisions, notices)
    urgent = any(notice.urgent for notice in notices)
    for decision in decisions:
        # Ids only; after the commit, nothing here reads the database again.
        log.info("case %s round %d: %s", decision.case.id, decision.number, decision.outcome)
    from app.triage.queue import schedule_deadline_checks, withdraw_route_jobs

    schedule_deadline_checks([(d.case.id, d.number, d.due) for d in decisions if d.staff_id])
    others = [(d.case.id, d.case.level) for d in decisions if d.case.id != case_id]
    if others:
        withdrawn = withdraw_route_jobs(others)
        log.info(
            "case %s: %d other case(s) routed with it, %d of their jobs withdrawn", case_id, len(others), withdrawn
        )
    if not outcome:
        outcome = next(d.outcome for d in decisions if d.case.id == case_id)
    return Routed(outcome, tuple(d.case.id for d in decisions), urgent)


def offer_waiting(*, now: datetime | None = None) -> int:
    """Offer the cases waiting with the coordinators (nobody fitted when they were routed,
    nobody has taken them since) to whoever fits them now: someone came on duty, learnt a
    language, was trained, or has room under their cap again. Routing as usual, a new round
    each, with every exclusion; a case nobody fits yet stays where it is, with no new round
    and no new notice. Returns how many were given to someone.

    Taken a batch at a time, most urgent and oldest first, with SKIP LOCKED as route_batch
    takes its batch: two of these at once never give a case twice, and a case a routing job
    or a coordinator holds is left to them."""
    now = now or minute_now()
    limit = current_settings().triage.route_batch
    given = 0
    after: tuple[int, datetime, str] | None = None
    where = (Case.routing_state == "coordinators", Case.assigned_to_id.is_(None), Case.queue_rank.in_(OPEN_RANKS))
    # Most of the time nothing waits: a look at the index, no lock taken.
    if db.session.scalar(select(Case.id).where(*where).limit(1)) is None:
        db.session.rollback()
        return 0
    while True:
        waiting = select(*_WAITING).where(*where)
        if after is not None:
            waiting = waiting.where(tuple_(Case.level, Case.created_at, Case.id) > after)
        try:
            take_write_lock()
            batch = db.session.execute(
                waiting.order_by(Case.level, Case.created_at, Case.id)
                .limit(limit)
                .with_for_update(skip_locked=True, key_share=True)
            ).all()
            if not batch:
                db.session.rollback()
                return given
            after = (batch[-1].level, batch[-1].created_at, batch[-1].id)
            fitting = [d for d in _decide(batch, now, explain=False) if d.staff_id]
            notices = _record(fitting, now) if fitting else []
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        if fitting:
            _announce_routed(fitting, notices, again=True)
            from app.triage.queue import schedule_deadline_checks

            schedule_deadline_checks([(d.case.id, d.number, d.due) for d in fitting])
            log.info("%d waiting case(s) offered again and taken", len(fitting))
            given += len(fitting)
        if len(batch) < limit:
            return given


def release_cases(staff_id: str) -> list[tuple[str, int]]:
    """Someone who can no longer work (deactivated) gives back every open case they hold,
    acknowledged or not: each is routed again as after a missed deadline (their round ends
    "released"), and the coordinators are told. Its own transaction; returns the cases
    (id, level) to queue for routing: a lost job is made up for by the sweep."""
    try:
        take_write_lock()
        held = db.session.execute(
            select(Case.id, Case.level, Case.routing_round)
            .where(Case.assigned_to_id == staff_id, Case.queue_rank.in_(OPEN_RANKS))
            .order_by(Case.id)
            .with_for_update(key_share=True)
        ).all()
        if not held:
            db.session.rollback()
            return []
        ids = [case.id for case in held]
        db.session.execute(
            update(RoutingRound)
            .where(RoutingRound.case_id.in_(ids), RoutingRound.outcome == "assigned")
            .values(outcome="released")
        )
        db.session.execute(
            update(Case)
            .where(Case.id.in_(ids), Case.assigned_to_id == staff_id)
            .values(routing_state="rerouting", assigned_to_id=None, assigned_at=None)
            .execution_options(synchronize_session=False)
        )
        coordinators = coordinators_for(ids)
        raise_notices(
            [
                notice
                for case in held
                for notice in to_coordinators(
                    coordinators.told(case.id),
                    "released",
                    case_id=case.id,
                    key=f"released:{case.id}:{case.routing_round}",
                )
            ]
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    announce_each(
        "case_unassigned",
        actor="",
        role="system",
        events=[(case.id, {"previous": staff_id, "reason": "deactivated"}) for case in held],
    )
    log.info("%d open case(s) of staff %s routed again: deactivated", len(held), staff_id)
    return [(case.id, case.level) for case in held]


def end_routing_for_assignment(case_id: str) -> int | None:
    """A coordinator gave the case to someone: its open round ends (outcome reassigned)
    and routing leaves the case alone, so neither a routing job nor an old round's
    deadline moves it again. In the caller's transaction, which holds the case's row.
    Returns the round ended, if one was open."""
    open_round = db.session.execute(
        update(RoutingRound)
        .where(RoutingRound.case_id == case_id, RoutingRound.outcome.in_(("assigned", "coordinators")))
        .values(outcome="reassigned")
        .returning(RoutingRound.number)
    ).scalar()
    db.session.execute(
        update(Case)
        .where(Case.id == case_id)
        .values(routing_state="reassigned")
        .execution_options(synchronize_session="fetch")
    )
    return open_round


def check_deadline(case_id: str, number: int, *, now: datetime | None = None) -> str:
    """Escalate round ``number`` of a case if its deadline passed unacknowledged.

    Returns acknowledged, superseded, not-due, or the outcome of routing it again."""
    now = now or utcnow()
    case = db.session.get(Case, case_id, populate_existing=True)
    if case is None:
        return "missing"
    if case.acknowledged_at is not None:
        return "acknowledged"
    if case.routing_round != number or case.routing_state != "assigned":
        return "superseded"
    current = db.session.scalar(
        select(RoutingRound).where(RoutingRound.case_id == case.id, RoutingRound.number == number)
    )
    if current is None or current.outcome != "assigned":
        return "superseded"
    if current.due_at > now:
        return "not-due"
    missed_by = current.staff_id
    # The case's row first, as every writer locks a case before its rounds: a transaction
    # holding the case (a request becoming a report) and waiting for its round never meets
    # this one holding the round and waiting for the case.
    moved = db.session.execute(
        update(Case)
        .where(
            Case.id == case.id,
            Case.routing_state == "assigned",
            Case.routing_round == number,
            Case.acknowledged_at.is_(None),  # acknowledged meanwhile: it stays where it is
        )
        .values(routing_state="rerouting", assigned_to_id=None, assigned_at=None)
    )
    missed = db.session.execute(
        update(RoutingRound)
        .where(RoutingRound.id == current.id, RoutingRound.outcome == "assigned")
        .values(outcome="missed")
    )
    if not (missed.rowcount and moved.rowcount):  # type: ignore[attr-defined]
        db.session.rollback()
        return "superseded"
    coordinators = coordinators_for([case.id]).told(case.id)
    raise_notices(to_coordinators(coordinators, "escalated", case_id=case.id, key=f"escalated:{case.id}:{number}"))
    db.session.commit()
    announce(
        "case_escalated",
        actor="",
        role="system",
        case_id=case.id,
        round=number,
        staff=missed_by,
        notified=coordinators,
    )
    log.info("case %s round %d: deadline missed, routing again", case.id, number)
    return route_case(case.id, now=now)


def overdue_rounds(now: datetime | None = None) -> list[tuple[str, int]]:
    """Rounds past their deadline with the case still unacknowledged (backs up lost timers)."""
    now = now or utcnow()
    rows = db.session.execute(
        select(RoutingRound.case_id, RoutingRound.number)
        .join(Case, Case.id == RoutingRound.case_id)
        .where(
            RoutingRound.outcome == "assigned",
            RoutingRound.due_at <= now,
            Case.acknowledged_at.is_(None),
            Case.routing_round == RoutingRound.number,
        )
    ).all()
    return [(case_id, number) for case_id, number in rows]
