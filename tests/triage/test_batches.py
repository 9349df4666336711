"""Routing many waiting cases at once: one job takes the backlog, most urgent first, within
every caseload cap, and never routes a case twice, even with two workers at it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import event, func, select, text, update

from app import ROOT
from app.cases.exclusions import exclude, excluded_among
from app.cases.models import Case
from app.extensions import db
from app.models import utcnow
from app.staff.services import staff_directory
from app.triage.models import RoutingRound
from app.triage.queue import queue_names, redis_connection
from app.triage.routing import route_batch, route_case
from tests.conftest import run_worker, worker_env
from tests.factories import make_case, make_staff
from tests.triage.test_races import just_before
from tests.triage.test_routing import fresh, notes, responder, trained
from tests.triage.test_worker import wait_for


def queued_ids() -> set[str]:
    return {
        job_id
        for name in queue_names()
        for job_id in Queue(name, connection=redis_connection(), serializer="json").get_job_ids()
    }


def rounds_per_case() -> Counter[str]:
    return Counter(db.session.scalars(select(RoutingRound.case_id)))


def one_minute_apart(cases: list[Any]) -> None:
    """Times are kept to the minute: file ``cases`` a minute after one another."""
    start = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=len(cases))
    for number, case in enumerate(cases):
        db.session.execute(update(Case).where(Case.id == case.id).values(created_at=start + timedelta(minutes=number)))
    db.session.commit()


def test_one_job_routes_the_backlog_most_urgent_first_and_the_other_jobs_leave_the_queue(app: Flask) -> None:
    make_staff("coordinator")
    maple, birch = responder(pseudonym="Maple"), responder(pseudonym="Birch")
    older = [make_case() for _ in range(3)]  # L2
    hurt = make_case(injured="yes")  # L1, filed after them
    danger = make_case(danger_now="yes")  # L0, filed last
    one_minute_apart([*older, hurt, danger])
    assert [fresh(c).level for c in (older[0], hurt, danger)] == [2, 1, 0]

    routed = route_batch(older[2].id, limit=4)

    # Its own case and the most urgent and oldest of the others, decided most urgent first.
    assert routed.outcome == "assigned"
    assert routed.cases == (danger.id, hurt.id, older[0].id, older[2].id)
    assert routed.urgent, "an L0 case pages the on-call coordinator at once"
    assert fresh(older[1]).routing_state == "intake", "the batch was full"
    # Least loaded first, within the batch too: two cases each.
    loads = Counter(fresh(c).assigned_to_id for c in (older[2], danger, hurt, older[0]))
    assert loads == {maple.id: 2, birch.id: 2}
    # The jobs of the other cases it routed are gone from the queue; the waiting case's is
    # not (nor its own: called here, not by a worker, it is still queued).
    assert queued_ids() == {f"route-{older[1].id}", f"route-{older[2].id}"}
    assert not Job.exists(f"route-{danger.id}", connection=redis_connection())
    # Each assigned case has its deadline check scheduled.
    scheduled = Queue(queue_names()[0], connection=redis_connection()).scheduled_job_registry.get_job_ids()
    assert {f"deadline-{c.id}-1" for c in (older[2], danger, hurt, older[0])} <= set(scheduled)

    assert run_worker(app) == 2
    assert fresh(older[1]).routing_state == "assigned"
    assert set(rounds_per_case().values()) == {1} and len(rounds_per_case()) == 5
    assert len(notes("assigned")) == 5


def test_a_batch_keeps_every_caseload_cap(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple, birch = responder(caseload_cap=2), responder(caseload_cap=3)
    make_case(assigned_to=birch)  # Birch has one open case already
    waiting = [make_case() for _ in range(5)]
    db.session.execute(text("UPDATE cases SET routing_state = 'assigned' WHERE assigned_to_id IS NOT NULL"))
    db.session.commit()

    routed = route_batch(waiting[0].id, limit=50)

    assert len(routed.cases) == 5
    states = Counter((fresh(c).routing_state, fresh(c).assigned_to_id) for c in waiting)
    assert states == {("assigned", maple.id): 2, ("assigned", birch.id): 2, ("coordinators", None): 1}
    assert [n.staff_id for n in notes("no_eligible")] == [coordinator.id]


def test_a_job_whose_case_went_with_another_still_routes_what_waits(app: Flask) -> None:
    responder()
    first, second, third = make_case(), make_case(), make_case()
    assert route_case(first.id) == "assigned"

    routed = route_batch(first.id, limit=10)

    assert routed.outcome == "already-routed"
    assert set(routed.cases) == {second.id, third.id}
    assert set(rounds_per_case().values()) == {1}


def _lock_waiters() -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def test_two_batches_at_once_count_each_others_cases_against_the_caps(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple, birch = responder(caseload_cap=1), responder(caseload_cap=2)
    cases = [make_case() for _ in range(4)]
    one_minute_apart(cases)
    routed: dict[str, Any] = {}
    issued = threading.Event()

    def route_in_own_session(case_id: str) -> None:
        with app.app_context():
            routed[case_id] = route_batch(case_id, limit=2)

    other = threading.Thread(target=route_in_own_session, args=(cases[2].id,))

    def note_the_others_first_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread() is other:
            issued.set()

    def start_the_other_and_let_it_block() -> None:
        # The first batch has locked its cases and the responders, and is about to count
        # their open cases.
        other.start()
        assert issued.wait(30), "the second batch never reached the database"
        if db.engine.dialect.name == "postgresql":
            deadline = time.monotonic() + 30
            while _lock_waiters() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
        else:
            time.sleep(0.3)  # its first statement waits for SQLite's write lock (15 s at most)
        assert other.is_alive(), "the second batch must wait for the first"

    event.listen(db.engine, "before_cursor_execute", note_the_others_first_statement)
    try:
        with just_before("SELECT cases.assigned_to_id", start_the_other_and_let_it_block) as fired:
            route_in_own_session(cases[0].id)
        other.join(timeout=60)
    finally:
        event.remove(db.engine, "before_cursor_execute", note_the_others_first_statement)
    assert fired and not other.is_alive()

    assert {case_id: set(r.cases) for case_id, r in routed.items()} == {
        cases[0].id: {cases[0].id, cases[1].id},
        cases[2].id: {cases[2].id, cases[3].id},
    }, "each batch took cases of its own"
    holders = Counter(fresh(case).assigned_to_id for case in cases)
    assert holders == {maple.id: 1, birch.id: 2, None: 1}, "nobody over their cap"
    assert [n.staff_id for n in notes("no_eligible")] == [coordinator.id]


def test_a_batch_applies_each_cases_own_rules(app: Flask) -> None:
    make_staff("coordinator")
    maple = responder(pseudonym="Maple", languages=("en",))
    birch = responder(pseudonym="Birch", languages=("es",))
    cedar = trained(make_staff("responder", pseudonym="Cedar", languages=("en",)), "exploitation")
    excluded_maple = make_case(language="en")
    exclude(excluded_maple.id, maple.id)
    db.session.commit()
    spanish = make_case(language="es")
    exploitation = make_case(language="en", category="exploitation")

    route_batch(spanish.id, limit=10)

    # Maple is excluded, Birch speaks no English, Cedar is not trained for harassment.
    assert fresh(excluded_maple).routing_state == "coordinators"
    assert fresh(spanish).assigned_to_id == birch.id
    assert fresh(exploitation).assigned_to_id in (maple.id, cedar.id)


def test_two_workers_at_once_route_every_case_once_within_every_cap(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path, tmp_path: Path
) -> None:
    make_staff("coordinator")
    caps = (9, 14, 11)
    people = [responder(caseload_cap=cap) for cap in caps]
    cases = [make_case(injured="yes" if n % 5 == 0 else "") for n in range(60)]
    config = tmp_path / "small-batches.toml"
    config.write_text("[triage]\nroute_batch = 4\n")
    env = {**worker_env(app, keys_dir, log_file), "CONFIDE_CONFIG": str(config)}
    queues = [Queue(name, connection=redis_client, serializer="json") for name in queue_names()]
    # Until both workers have a job in hand, routing waits: on the responders' rows
    # (PostgreSQL) or the database's write lock (SQLite).
    blocker = db.engine.connect()
    if blocker.dialect.name == "sqlite":
        blocker.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        blocker.begin()
        blocker.exec_driver_sql("SELECT id FROM staff_users ORDER BY id FOR UPDATE")

    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "workers", "--burst"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    try:
        # Hold both workers inside a routing job, so that their batches run at once.
        assert wait_for(lambda: sum(len(queue.started_job_registry) for queue in queues) == 2, 60), (
            "both workers must be routing at the same moment"
        )
    finally:
        blocker.rollback()
        blocker.close()
    output = [worker.communicate(timeout=180)[0].decode(errors="replace") for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], output
    jobs_run = sum(text.count("Job OK") for text in output)
    # 15 batches of 4; beyond them, only jobs a worker took just before the other withdrew
    # them, and a job the second worker's start-up sweep queued again: far fewer than 60.
    assert 2 <= jobs_run <= 45, f"the backlog goes in batches of 4, not a job per case: {jobs_run} jobs"

    db.session.expire_all()
    assert rounds_per_case() == Counter({case.id: 1 for case in cases}), "every case routed exactly once"
    loads: dict[Any, int] = dict(
        db.session.execute(select(Case.assigned_to_id, func.count()).group_by(Case.assigned_to_id)).all()
    )
    assert loads == {**{p.id: cap for p, cap in zip(people, caps, strict=True)}, None: 60 - sum(caps)}
    assert Counter(n.case_id for n in notes("assigned")) == Counter(
        {case.id: 1 for case in cases if fresh(case).assigned_to_id}
    ), "one notice per assignment"
    for queue in queues:
        assert queue.count == 0 and queue.failed_job_registry.count == 0


def test_a_report_filed_while_a_routing_holds_its_responders_does_not_wait_for_it(app: Flask) -> None:
    import secrets

    from app.cases.content import ReportContent
    from app.intake.services import Submission, submit_report

    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: a report waits for any routing's write lock")
    maple = responder(pseudonym="Maple")
    waiting = make_case()
    filed: list[str] = []

    def file_a_report_excluding_maple() -> None:
        with app.app_context():
            submission = Submission(
                category="sexual_harassment",
                language="en",
                content=ReportContent(narrative="A client followed me to my car."),
                submission_token=secrets.token_urlsafe(16),
                consent={"peer_support": True},
                exclude=("Maple",),
            )
            filed.append(submit_report(submission).case_id)

    reporter = threading.Thread(target=file_a_report_excluding_maple)

    def file_it_meanwhile() -> None:
        # The routing has locked Maple's row and is about to count her cases. The report's
        # exclusion points at that row: it must not wait for the routing to end.
        reporter.start()
        reporter.join(timeout=20)
        assert not reporter.is_alive(), "the report waited for the routing"

    with just_before("SELECT cases.assigned_to_id", file_it_meanwhile) as fired:
        assert route_case(waiting.id) == "assigned"
    reporter.join(timeout=60)
    assert fired and len(filed) == 1
    excluded = sorted(excluded_among([filed[0]], staff_directory().keys()).get(filed[0], set()))
    assert excluded == [maple.id]


def test_a_coordinator_reassigning_a_case_a_routing_holds_waits_for_it_without_deadlock(app: Flask) -> None:
    from app.casework.services import assign
    from app.staff.models import StaffUser

    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no row locks to wait on in a circle")
    coordinator = make_staff("coordinator")
    maple = responder(pseudonym="Maple")
    responder(pseudonym="Birch")
    case = make_case()
    errors: list[BaseException] = []

    def coordinator_gives_it_to_maple() -> None:
        with app.app_context():
            try:
                viewer = db.session.get(StaffUser, coordinator.id)
                held = db.session.get(Case, case.id)
                assert viewer is not None and held is not None
                assign(viewer, held, maple.id)
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)

    other = threading.Thread(target=coordinator_gives_it_to_maple)

    def reassign_meanwhile() -> None:
        # The routing holds the case and is about to lock the responders.
        other.start()
        deadline = time.monotonic() + 30
        while _lock_waiters() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert other.is_alive(), "the reassignment must wait for the routing that holds the case"

    with just_before("SELECT staff_users.id, staff_users.languages", reassign_meanwhile) as fired:
        assert route_case(case.id) == "assigned"
    other.join(timeout=60)
    assert fired and not other.is_alive() and errors == []
    # The coordinator's choice came last, and stands.
    assert fresh(case).assigned_to_id == maple.id
