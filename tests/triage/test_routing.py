"""Routing: the right responder, nobody ineligible, escalation when a deadline passes."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask
from sqlalchemy import event, func, select

from app.cases.exclusions import exclude, excluded_among
from app.cases.models import Case, CaseExclusion
from app.extensions import db
from app.models import utcnow
from app.notify.models import Notification
from app.staff.models import Training
from app.triage.models import RoutingRound
from app.triage.routing import check_deadline, overdue_rounds, route_batch, route_case, withdraw_from_responder
from tests.factories import Staff, make_case, make_staff


def trained(
    staff: Staff, category: str = "all", *, expires: date | None = None, completed: date | None = None
) -> Staff:
    today = date.today()
    db.session.add(
        Training(
            staff_id=staff.id,
            course="Trauma-informed peer support",
            category=category,
            completed_on=completed or today - timedelta(days=30),
            expires_on=expires or today + timedelta(days=365),
        )
    )
    db.session.commit()
    return staff


def responder(**kwargs: object) -> Staff:
    return trained(make_staff("responder", **kwargs))  # type: ignore[arg-type]


def fresh(case: Case) -> Case:
    db.session.expire_all()
    found = db.session.get(Case, case.id)
    assert found is not None
    return found


def notes(kind: str | None = None) -> list[Notification]:
    query = select(Notification).order_by(Notification.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query))


def test_a_trained_on_duty_responder_who_speaks_the_language_gets_the_case(app: Flask) -> None:
    maple = responder(languages=("en", "es"))
    case = make_case(language="es")
    assert route_case(case.id) == "assigned"
    case = fresh(case)
    assert case.assigned_to_id == maple.id and case.routing_state == "assigned"
    assert [(n.staff_id, n.kind) for n in notes()] == [(maple.id, "assigned")]


def test_each_eligibility_rule_excludes(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    off_duty = responder(on_duty=False)
    wrong_language = responder(languages=("es",))
    untrained = make_staff("responder")
    other_category = trained(make_staff("responder"), "exploitation")
    expired = trained(make_staff("responder"), "sexual_harassment", expires=date.today() - timedelta(days=1))
    full = responder(caseload_cap=1)
    make_case(assigned_to=full)
    inactive = responder()
    inactive.user.active = False
    db.session.commit()
    case = make_case(category="sexual_harassment", language="en")
    assert route_case(case.id) == "coordinators"
    case = fresh(case)
    assert case.assigned_to_id is None and case.routing_state == "coordinators"
    assert [(n.staff_id, n.kind) for n in notes()] == [(coordinator.id, "no_eligible")]
    # Each was turned away by its one defect: mend it, and that person gets the next case.
    mends = [
        (off_duty, lambda: setattr(off_duty.user, "on_duty", True)),
        (wrong_language, lambda: setattr(wrong_language.user, "languages", ["es", "en"])),
        (untrained, lambda: trained(untrained, "sexual_harassment")),
        (other_category, lambda: trained(other_category, "sexual_harassment")),
        (expired, lambda: trained(expired, "sexual_harassment")),
        (full, lambda: setattr(full.user, "caseload_cap", 2)),
        (inactive, lambda: setattr(inactive.user, "active", True)),
    ]
    for person, mend in mends:
        mend()
        db.session.commit()
        next_case = make_case(category="sexual_harassment", language="en")
        assert route_case(next_case.id) == "assigned"
        assert fresh(next_case).assigned_to_id == person.id
        person.user.on_duty = False  # out of the way of the next check
        db.session.commit()


def test_a_responder_the_reporter_excluded_never_gets_the_case(app: Flask) -> None:
    excluded = responder(pseudonym="Birch")
    case = make_case()
    exclude(case.id, excluded.id)
    db.session.commit()
    assert route_case(case.id) == "coordinators"


def test_least_loaded_first_then_longest_since_last_assignment(app: Flask) -> None:
    busy, idle_recent, idle_long_ago = responder(), responder(), responder()
    make_case(assigned_to=busy)
    idle_recent.user.last_assigned_at = utcnow() - timedelta(minutes=5)
    idle_long_ago.user.last_assigned_at = utcnow() - timedelta(days=3)
    db.session.commit()
    first = make_case()
    assert route_case(first.id) == "assigned"
    assert fresh(first).assigned_to_id == idle_long_ago.id
    second = make_case()
    route_case(second.id)
    # idle_long_ago now has one case, like busy; idle_recent has none.
    assert fresh(second).assigned_to_id == idle_recent.id


def test_routing_twice_assigns_once_and_notifies_once(app: Flask) -> None:
    responder()
    case = make_case()
    assert route_case(case.id) == "assigned"
    assert route_case(case.id) == "already-routed"
    assert db.session.scalar(select(func.count()).select_from(RoutingRound)) == 1
    assert len(notes("assigned")) == 1


def test_imminent_danger_pages_the_on_call_coordinator_at_once(app: Flask) -> None:
    on_call = make_staff("coordinator", on_duty=True)
    make_staff("coordinator", on_duty=False)
    maple = responder()
    case = make_case(danger_now="yes")
    assert fresh(case).level == 0
    route_case(case.id)
    urgent = notes("urgent")
    assert [(n.staff_id, n.urgent) for n in urgent] == [(on_call.id, True)]
    assert [(n.staff_id, n.urgent) for n in notes("assigned")] == [(maple.id, True)]


def test_a_missed_deadline_goes_to_the_next_responder_and_tells_the_coordinators(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    first, second = responder(), responder()
    first.user.last_assigned_at = utcnow() - timedelta(days=2)
    second.user.last_assigned_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    case = make_case(category="rape", when="72h")
    route_case(case.id)
    case = fresh(case)
    assert case.assigned_to_id == first.id and case.level == 1
    due = case.ack_due_at
    assert check_deadline(case.id, 1, now=due - timedelta(minutes=1)) == "not-due"
    assert overdue_rounds(now=due - timedelta(minutes=1)) == []
    assert overdue_rounds(now=due + timedelta(minutes=1)) == [(case.id, 1)]
    assert check_deadline(case.id, 1, now=due + timedelta(minutes=1)) == "assigned"
    case = fresh(case)
    assert case.assigned_to_id == second.id and case.routing_round == 2
    assert [n.staff_id for n in notes("escalated")] == [coordinator.id]
    rounds = db.session.scalars(select(RoutingRound).order_by(RoutingRound.number)).all()
    assert [(r.staff_id, r.outcome) for r in rounds] == [(first.id, "missed"), (second.id, "assigned")]
    # The old round's check, delivered late or twice, does nothing.
    assert check_deadline(case.id, 1, now=due + timedelta(hours=9)) == "superseded"


def test_an_acknowledged_case_does_not_escalate(app: Flask) -> None:
    maple = responder()
    case = make_case()
    route_case(case.id)
    case = fresh(case)
    case.acknowledged_at = utcnow()
    db.session.commit()
    assert check_deadline(case.id, 1, now=case.ack_due_at + timedelta(hours=1)) == "acknowledged"
    assert fresh(case).assigned_to_id == maple.id
    assert notes("escalated") == []


def test_the_report_form_lets_a_reporter_exclude_responders_by_pseudonym(app: Flask) -> None:
    from tests.helpers import submit_report

    birch = responder(pseudonym="Birch")
    client = app.test_client()
    response = submit_report(client, exclude=" birch , Nobody-By-This-Name")
    assert response.status_code == 200
    case = db.session.scalars(select(Case)).one()
    assert excluded_among([case.id], [birch.id, "someone-else"]) == {case.id: {birch.id}}
    # The database itself names nobody: a keyed index of case and person only (and the root
    # version of its key).
    row = db.session.execute(select(CaseExclusion.__table__)).one()._mapping
    assert set(row) == {"case_id", "staff_index", "index_root"} and birch.id not in str(dict(row))
    assert route_case(case.id) == "coordinators"


def kept_from(case: Case, *people: Staff) -> Case:
    for person in people:
        exclude(case.id, person.id)
    db.session.commit()
    return case


def told(kind: str, case: Case) -> set[str]:
    return {n.staff_id or "" for n in notes(kind) if n.case_id == case.id}


def test_coordinators_the_reporter_excluded_hear_nothing_of_an_urgent_case(app: Flask) -> None:
    ana = make_staff("coordinator", on_duty=True)
    ben = make_staff("coordinator", on_duty=True)
    cleo = make_staff("coordinator", on_duty=False)
    # No responder: each case goes to the coordinators, and each is imminent danger (L0).
    away_from_ana = kept_from(make_case(danger_now="yes"), ana)
    away_from_the_on_call = kept_from(make_case(danger_now="yes"), ana, ben)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert len(route_batch(away_from_ana.id, limit=10).cases) == 2
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    assert told("urgent", away_from_ana) == {ben.id}
    assert told("no_eligible", away_from_ana) == {ben.id, cleo.id}
    # Nobody on duty may open it: the coordinators off duty are woken instead.
    assert told("urgent", away_from_the_on_call) == {cleo.id}
    assert told("no_eligible", away_from_the_on_call) == {cleo.id}
    # The batch reads the exclusions for the responders and for the coordinators, not per case.
    assert sum("case_exclusions" in statement for statement in statements) <= 2


def test_a_reporter_who_excluded_every_coordinator_still_has_them_told_of_danger(app: Flask) -> None:
    # Nobody else could act on the case: imminent danger is never left unheard.
    ana = make_staff("coordinator", on_duty=True)
    ben = make_staff("coordinator", on_duty=False)
    case = kept_from(make_case(danger_now="yes"), ana, ben)
    assert route_case(case.id) == "coordinators"
    assert told("urgent", case) == {ana.id}
    assert told("no_eligible", case) == {ana.id, ben.id}


def test_an_escalation_skips_the_coordinators_the_reporter_excluded(app: Flask) -> None:
    ana = make_staff("coordinator")
    ben = make_staff("coordinator")
    responder(), responder()
    case = kept_from(make_case(category="rape", when="72h"), ana)
    route_case(case.id)
    case = fresh(case)
    first = case.assigned_to_id
    assert check_deadline(case.id, 1, now=case.ack_due_at + timedelta(minutes=1)) == "assigned"
    assert fresh(case).assigned_to_id not in (None, first)
    assert told("escalated", case) == {ben.id}


def test_a_withdrawn_case_is_announced_to_the_coordinators_the_reporter_did_not_exclude(app: Flask) -> None:
    ana = make_staff("coordinator")
    ben = make_staff("coordinator")
    maple = responder()
    case = kept_from(make_case(), ana)
    assert route_case(case.id) == "assigned"
    assert withdraw_from_responder(case.id) == maple.id
    db.session.commit()
    assert told("no_peer_support", case) == {ben.id}
    assert told("unassigned", case) == {maple.id}
