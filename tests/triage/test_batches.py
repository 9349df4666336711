"""Routing many waiting cases at once: one job takes the backlog, most urgent first, within
every caseload cap, and never routes a case twice, even with two workers at it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import func, select, text

from app import ROOT
from app.cases.models import Case
from app.extensions import db
from app.triage.models import RoutingRound
from app.triage.queue import queue_names, redis_connection
from app.triage.routing import route_batch, route_case
from tests.conftest import run_worker, worker_env
from tests.factories import make_case, make_staff
from tests.triage.test_races import just_before
from tests.triage.test_routing import fresh, notes, responder


def queued_ids() -> set[str]:
    return {
        job_id
        for name in queue_names()
        for job_id in Queue(name, connection=redis_connection(), serializer="json").get_job_ids()
    }


def rounds_per_case() -> Counter[str]:
    return Counter(db.session.scalars(select(RoutingRound.case_id)))


def test_one_job_routes_the_backlog_most_urgent_first_and_the_other_jobs_leave_the_queue(app: Flask) -> None:
    make_staff("coordinator")
    maple, birch = responder(pseudonym="Maple"), responder(pseudonym="Birch")
    older = [make_case() for _ in range(3)]  # L2
    hurt = make_case(injured="yes")  # L1, filed after them
    danger = make_case(danger_now="yes")  # L0, filed last
    assert [fresh(c).level for c in (older[0], hurt, danger)] == [2, 1, 0]

    routed = route_batch(older[2].id, limit=4)

    # Its own case first, then the most urgent and oldest of the others.
    assert routed.outcome == "assigned"
    assert routed.cases == (older[2].id, danger.id, hurt.id, older[0].id)
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


def test_two_routings_at_once_count_each_others_cases_against_the_cap(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    maple = responder(caseload_cap=1)
    first, second = make_case(), make_case()
    outcomes: dict[str, str] = {}

    def route_in_own_session(case_id: str) -> None:
        with app.app_context():
            outcomes[case_id] = route_case(case_id)

    other = threading.Thread(target=route_in_own_session, args=(second.id,))

    def start_the_other_and_let_it_block() -> None:
        # The first routing has locked Maple and is about to count her open cases.
        other.start()
        if db.engine.dialect.name == "postgresql":
            deadline = time.monotonic() + 30
            while _lock_waiters() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
        else:
            time.sleep(0.5)  # the other waits on SQLite's write lock (up to its 15 s timeout)
        assert other.is_alive(), "the second routing must wait for the first"

    with just_before("SELECT cases.assigned_to_id", start_the_other_and_let_it_block) as fired:
        route_in_own_session(first.id)
    other.join(timeout=60)
    assert fired and not other.is_alive()

    assert outcomes == {first.id: "assigned", second.id: "coordinators"}
    assert fresh(first).assigned_to_id == maple.id and fresh(second).assigned_to_id is None
    assert [n.staff_id for n in notes("no_eligible")] == [coordinator.id]


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

    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "workers", "--burst", "--no-cron"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    output = [worker.communicate(timeout=180)[0].decode(errors="replace") for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], output

    db.session.expire_all()
    assert rounds_per_case() == Counter({case.id: 1 for case in cases}), "every case routed exactly once"
    loads: dict[Any, int] = dict(
        db.session.execute(select(Case.assigned_to_id, func.count()).group_by(Case.assigned_to_id)).all()
    )
    assert loads == {**{p.id: cap for p, cap in zip(people, caps)}, None: 60 - sum(caps)}
    assert Counter(n.case_id for n in notes("assigned")) == Counter(
        {case.id: 1 for case in cases if fresh(case).assigned_to_id}
    ), "one notice per assignment"
    for name in queue_names():
        queue = Queue(name, connection=redis_client, serializer="json")
        assert queue.count == 0 and queue.failed_job_registry.count == 0
