"""Cases nobody fitted: why, on the case page; offered again (through a real RQ worker) when
someone comes to fit them; routing and escalation on the timeline and in the audit log; and a
coordinator's assignment that ends routing's part."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import date, timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select, text

from app.audit.log import verify
from app.audit.models import AuditEntry
from app.cases.exclusions import exclude
from app.cases.models import Case
from app.casework.services import assign, change_status
from app.extensions import db
from app.models import utcnow
from app.staff.profiles import add_training, update_profile
from app.triage.models import RoutingRound
from app.triage.queue import queue_names, redis_connection
from app.triage.routing import check_deadline, offer_waiting, route_case
from app.vocabulary import CLOSE_REASONS
from tests.cases.test_case_page import open_case, signed_in
from tests.conftest import run_worker
from tests.factories import Staff, make_case, make_staff
from tests.helpers import hidden_fields, open_status
from tests.triage.test_batches import one_minute_apart
from tests.triage.test_races import just_before
from tests.triage.test_routing import fresh, notes, responder, trained


def rounds(case: Case) -> list[tuple[int, str | None, str, str | None]]:
    db.session.expire_all()
    return [
        (r.number, r.staff_id, r.outcome, r.reason)
        for r in db.session.scalars(
            select(RoutingRound).where(RoutingRound.case_id == case.id).order_by(RoutingRound.number)
        )
    ]


def waiting(case: Case, reason: str) -> None:
    """The case went to the coordinators because of ``reason``."""
    assert fresh(case).routing_state == "coordinators" and fresh(case).assigned_to_id is None
    assert rounds(case)[-1][2:] == ("coordinators", reason)


def profile(staff: Staff, by: Staff, **changes: object) -> None:
    user = staff.user
    db.session.refresh(user)
    current: dict[str, object] = {
        "pseudonym": user.pseudonym,
        "languages": list(user.languages),
        "on_duty": user.on_duty,
        "caseload_cap": user.caseload_cap,
    }
    update_profile(user, by=by.user, **{**current, **changes})  # type: ignore[arg-type]


def test_a_waiting_case_goes_to_a_responder_who_comes_on_duty(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple = responder(languages=("en", "ko"), on_duty=False)
    case = make_case(language="ko")
    run_worker(app)
    waiting(case, "off_duty")
    told = len(notes("no_eligible"))

    profile(maple, coordinator, on_duty=True)
    assert run_worker(app) >= 1  # the job the change queued

    case = fresh(case)
    assert case.assigned_to_id == maple.id and case.routing_state == "assigned" and case.routing_round == 2
    assert rounds(case) == [(1, None, "coordinators", "off_duty"), (2, maple.id, "assigned", None)]
    assert [n.case_id for n in notes("assigned") if n.staff_id == maple.id] == [case.id]
    assert len(notes("no_eligible")) == told  # nobody told twice that nobody fits
    # Its deadline is watched like any round's.
    scheduled = Queue(queue_names()[0], connection=redis_connection()).scheduled_job_registry.get_job_ids()
    assert f"deadline-{case.id}-2" in scheduled
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.action == "case_routed")
    ).all()[-1]
    assert entry.detail == {
        "round": 2,
        "outcome": "assigned",
        "staff": maple.id,
        "reason": None,
        "notified": [maple.id],
        "again": True,
    }


def test_a_waiting_case_goes_to_a_responder_who_learns_its_language(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple = responder(languages=("en",))
    case = make_case(language="ko")
    run_worker(app)
    waiting(case, "language")

    profile(maple, coordinator, languages=["en", "ko"])
    run_worker(app)
    assert fresh(case).assigned_to_id == maple.id


def test_a_waiting_case_goes_to_a_responder_newly_trained_for_it(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple = trained(make_staff("responder"), "exploitation")
    case = make_case(category="sexual_harassment")
    run_worker(app)
    waiting(case, "training")

    today = date.today()
    add_training(
        maple.user,
        by=coordinator.user,
        course="Harassment",
        category="sexual_harassment",
        completed_on=today,
        expires_on=today + timedelta(days=365),
    )
    run_worker(app)
    assert fresh(case).assigned_to_id == maple.id


def test_a_waiting_case_goes_to_a_responder_whose_case_closes(app: Flask) -> None:
    make_staff("coordinator")
    maple = responder(caseload_cap=1)
    held = make_case()
    run_worker(app)
    assert fresh(held).assigned_to_id == maple.id
    case = make_case()
    run_worker(app)
    waiting(case, "cap")

    change_status(maple.user, fresh(held), "closed", reason="resolved")
    run_worker(app)
    assert fresh(case).assigned_to_id == maple.id


def test_a_waiting_case_goes_to_a_responder_whose_case_is_given_to_someone_else(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple = responder(caseload_cap=1)
    held = make_case()
    run_worker(app)
    case = make_case()
    run_worker(app)
    waiting(case, "cap")

    assign(coordinator.user, fresh(held), coordinator.id)
    run_worker(app)
    assert fresh(case).assigned_to_id == maple.id


def test_an_offer_keeps_every_exclusion(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    kept_away = responder(on_duty=False)
    late = responder()
    case = make_case()
    exclude(case.id, kept_away.id)
    db.session.commit()
    run_worker(app)
    assert fresh(case).assigned_to_id == late.id
    # Late lets the deadline pass; nobody else fits, so the case waits.
    assert check_deadline(case.id, 1, now=utcnow() + timedelta(days=30)) == "coordinators"
    waiting(case, "excluded")

    profile(kept_away, coordinator, on_duty=True)  # excluded by the reporter
    profile(late, coordinator, caseload_cap=9)  # missed this case's deadline
    run_worker(app)
    waiting(case, "excluded")
    assert len(rounds(case)) == 2

    fitting = responder(on_duty=False)
    profile(fitting, coordinator, on_duty=True)
    run_worker(app)
    assert fresh(case).assigned_to_id == fitting.id


def test_a_case_without_peer_support_is_offered_only_once_the_reporter_agrees(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    maple = responder(on_duty=False)
    case = make_case(consent={"peer_support": False})
    run_worker(app)
    waiting(case, "no_consent")
    profile(maple, coordinator, on_duty=True)
    run_worker(app)
    waiting(case, "no_consent")

    # She agrees after all, through her receipt.
    reporter = app.test_client()
    assert open_status(reporter, case.receipt).status_code == 200  # type: ignore[attr-defined]
    page = reporter.get("/status/case").get_data(as_text=True)
    choices = {"peer_support": "y", **{k: v for k, v in hidden_fields(page).items() if k == "csrf_token"}}
    assert reporter.post("/status/consent", data=choices).status_code == 303
    run_worker(app)
    assert fresh(case).assigned_to_id == maple.id


def test_the_periodic_sweep_offers_waiting_cases_when_the_job_was_lost(app: Flask) -> None:
    maple = responder(on_duty=False)
    case = make_case()
    run_worker(app)
    waiting(case, "off_duty")
    # Changed with no signal, as if the job it queued had been lost with Redis.
    db.session.execute(text("UPDATE staff_users SET on_duty = :yes WHERE id = :id"), {"yes": True, "id": maple.id})
    db.session.commit()
    assert run_worker(app) == 0 and fresh(case).assigned_to_id is None

    Queue(queue_names()[1], connection=redis_connection(), serializer="json").enqueue("workers.jobs.sweep_and_escalate")
    run_worker(app)
    assert fresh(case).assigned_to_id == maple.id


def _off_duty() -> list[str]:
    responder(on_duty=False)
    return []


def _language() -> list[str]:
    responder(languages=("en",))
    return []


def _cap() -> list[str]:
    full = responder(languages=("en", "ko"), caseload_cap=1)
    make_case(assigned_to=full)
    return []


def _excluded() -> list[str]:
    return [responder(languages=("en", "ko")).id]


def _training() -> list[str]:
    expired = make_staff("responder", languages=("en", "ko"))
    trained(expired, expires=date.today() - timedelta(days=1), completed=date.today() - timedelta(days=400))
    trained(make_staff("responder", languages=("en", "ko")), "exploitation")
    return []


def _no_consent() -> list[str]:
    responder(languages=("en", "ko"))
    return []


# Each cause: the team that leaves nobody for a Korean case (whom the reporter excludes), and
# how the case page says it.
CAUSES: dict[str, tuple[Callable[[], list[str]], str]] = {
    "off_duty": (_off_duty, "no responder is on duty"),
    "language": (_language, "no responder on duty speaks Korean"),
    "cap": (_cap, "everyone who fits is at their caseload cap"),
    "excluded": (_excluded, "everyone who fits is excluded (by the reporter, or for letting a deadline pass)"),
    "training": (_training, "no responder on duty who speaks Korean has current training for this category"),
    "no_consent": (_no_consent, "the reporter has not agreed that a peer responder reads the report"),
    "no_responders": (list, "there is no active responder"),
}


@pytest.mark.parametrize("cause", list(CAUSES))
def test_a_case_nobody_fits_says_why_on_its_page(app: Flask, client: FlaskClient, cause: str) -> None:
    coordinator = make_staff("coordinator")
    if cause != "no_responders":
        make_staff("responder", languages=("ko",), on_duty=False)  # off duty and untrained: passed by first
    setup, words = CAUSES[cause]
    kept_away = setup()
    db.session.execute(text("UPDATE cases SET routing_state = 'assigned' WHERE assigned_to_id IS NOT NULL"))
    db.session.commit()
    case = make_case(language="ko", consent={"peer_support": cause != "no_consent"})
    for staff_id in kept_away:
        exclude(case.id, staff_id)
    db.session.commit()
    assert route_case(case.id) == "coordinators"
    waiting(case, cause)

    page = unescape(open_case(signed_in(app, coordinator), case))
    shown = re.search(r'<p class="notice" id="nobody-eligible">(.*?)</p>', page, re.S)
    assert shown and shown.group(1).startswith(f"Nobody eligible: {words} (when it was last routed).")
    assert f"Nobody eligible (round 1): {words}; left with the coordinators." in page  # and on the timeline


def test_routing_and_escalation_are_on_the_timeline_and_in_an_unbroken_audit_log(
    app: Flask, client: FlaskClient
) -> None:
    coordinator = make_staff("coordinator", name="Cora")
    maple = responder(name="Maple Realname")
    birch = responder(name="Birch Realname")
    db.session.execute(
        text("UPDATE staff_users SET last_assigned_at = :t WHERE id = :id"), {"t": utcnow(), "id": birch.id}
    )
    db.session.commit()
    cases = [make_case() for _ in range(3)]
    run_worker(app)  # one job routes the three, one audit transaction records them
    case = cases[0]
    first = fresh(case).assigned_to_id
    other = birch if first == maple.id else maple
    assert check_deadline(case.id, 1, now=utcnow() + timedelta(days=3)) == "assigned"
    assert fresh(case).assigned_to_id == other.id

    page = unescape(open_case(signed_in(app, coordinator), case))
    timeline = re.search(r'<section id="timeline">(.*?)</section>', page, re.S)
    assert timeline
    events = [e.strip() for e in re.findall(r"</time> · (.*?)</li>", timeline.group(1))]
    first_name = "Maple Realname" if first == maple.id else "Birch Realname"
    assert [e for e in events if "Opened the case" not in e] == [
        f"the system · Routed to {other.user.name} (round 2). Notice sent to {other.user.name}.",
        f"the system · Deadline passed for {first_name} (round 1): routed again. Notice sent to Cora.",
        f"the system · Routed to {first_name} (round 1). Notice sent to {first_name}.",
    ]
    routed = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "case_routed")).all()
    assert {e.case_id for e in routed} == {c.id for c in cases}
    assert verify() is None


def test_a_coordinators_assignment_ends_routing_for_the_case(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple, birch = responder(), responder()
    case = make_case()
    run_worker(app)
    first = fresh(case).assigned_to_id
    second = birch if first == maple.id else maple

    assign(coordinator.user, fresh(case), second.id)
    case = fresh(case)
    assert case.assigned_to_id == second.id and case.routing_state == "reassigned"
    assert rounds(case)[-1][2] == "reassigned"
    # The old round's deadline passes: nothing moves.
    assert check_deadline(case.id, 1, now=utcnow() + timedelta(days=30)) == "superseded"
    assert route_case(case.id) == "already-routed"
    assert fresh(case).assigned_to_id == second.id

    # Given away before any worker routed it: its routing job leaves it where it is.
    early = make_case()
    assign(coordinator.user, fresh(early), coordinator.id)
    run_worker(app)
    assert fresh(early).assigned_to_id == coordinator.id and rounds(early) == []


def test_two_offers_at_once_give_a_waiting_case_once(app: Flask) -> None:
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: the second offer waits for the first")
    make_staff("coordinator")
    maple, birch = responder(on_duty=False), responder(on_duty=False)
    case = make_case()
    run_worker(app)
    waiting(case, "off_duty")
    db.session.execute(text("UPDATE staff_users SET on_duty = :yes WHERE role = 'responder'"), {"yes": True})
    db.session.commit()
    other: list[int] = []

    def another_worker_offers() -> None:
        with app.app_context():
            other.append(offer_waiting())

    # The first offer has chosen a responder and is about to write the round.
    with just_before("INSERT INTO routing_rounds", another_worker_offers) as fired:
        given = offer_waiting()
    assert fired and (given, other) == (1, [0])
    assert [r[2] for r in rounds(case)] == ["coordinators", "assigned"]
    assert len([n for n in notes("assigned") if n.case_id == case.id]) == 1
    assert fresh(case).assigned_to_id in (maple.id, birch.id)


def test_many_waiting_cases_are_offered_a_batch_at_a_time_past_those_nobody_fits(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = app.config["CONFIDE"]
    monkeypatch.setitem(
        app.config, "CONFIDE", dataclasses.replace(settings, triage=dataclasses.replace(settings.triage, route_batch=2))
    )
    coordinator = make_staff("coordinator")
    maple = responder(on_duty=False, caseload_cap=10)
    cases = [make_case(language="ko"), make_case(language="ko"), *(make_case() for _ in range(3))]
    one_minute_apart(cases)  # oldest first: the Korean two
    run_worker(app)
    for case in cases:
        waiting(case, "off_duty")

    profile(maple, coordinator, on_duty=True)
    run_worker(app)
    # The first batch holds only the two Korean cases, which nobody fits: the next ones are
    # offered all the same.
    assert [fresh(case).assigned_to_id for case in cases] == [None, None, maple.id, maple.id, maple.id]
    assert [len(rounds(case)) for case in cases] == [1, 1, 2, 2, 2]


def test_a_deactivated_responders_open_cases_are_routed_again_at_once(client: FlaskClient, app: Flask) -> None:
    """Acknowledged or not, what a deactivated responder held goes to someone who can work it,
    and its page says why; a closed case stays as it was."""
    coordinator = make_staff("coordinator", name="Cora Lead")
    rosa = responder(name="Rosa Responder")
    new, seen, done = (make_case() for _ in range(3))
    run_worker(app)
    for case in (new, seen, done):
        assert fresh(case).assigned_to_id == rosa.id
    for case in (seen, done):
        change_status(rosa.user, fresh(case), "acknowledged")
    change_status(rosa.user, fresh(done), "closed", reason=next(iter(CLOSE_REASONS)))
    ben = responder(name="Ben Backup")

    browser = signed_in(app, coordinator)
    page = browser.get(f"/staff/people/{rosa.id}").get_data(as_text=True)
    assert browser.post(f"/staff/people/{rosa.id}/deactivate", data=hidden_fields(page)).status_code == 303
    assert run_worker(app) >= 2

    for case in (new, seen):
        case = fresh(case)
        assert case.assigned_to_id == ben.id and case.routing_state == "assigned"
        assert rounds(case)[0][2] == "released" and rounds(case)[-1][1:3] == (ben.id, "assigned")
    assert fresh(done).assigned_to_id == rosa.id and fresh(done).status == "closed"
    assert len(notes("released")) == 2
    timeline = unescape(open_case(browser, seen))
    assert "The case left Rosa Responder: their account was deactivated, so it is routed again." in timeline
