"""Healing within a minute: a worker killed mid-routing is taken over by another, a job whose
worker died is queued again by the sweep, a worker outlives Redis going away during a job, and
a deadline timer lost with Redis is caught by the periodic scan.

Real processes (`python -m workers`, `python -m workers.clock`), real Redis servers (one of
them started here, to be killed), the real database.
"""

from __future__ import annotations

import gc
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from app import ROOT, create_app
from app.cases.models import Case
from app.extensions import db
from app.models import utcnow
from app.notify.models import Notification
from app.triage.models import RoutingRound
from app.triage.queue import queue_names, redis_connection, sweep, worker_alive_key
from app.triage.routing import route_case
from tests.conftest import REDIS_URL, settings_for, worker_env
from tests.factories import make_case, make_staff
from tests.triage.test_routing import responder
from tests.triage.test_worker import tail, wait_for

HEAL_SECONDS = 60


def routed_once(case_id: str) -> bool:
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    if case is None or case.assigned_to_id is None:
        return False
    rounds = db.session.scalar(select(func.count()).select_from(RoutingRound).where(RoutingRound.case_id == case_id))
    assert rounds == 1, f"case routed {rounds} times"
    return True


def hold_case_row(case_id: str):  # type: ignore[no-untyped-def]
    """A connection holding the case's row (PostgreSQL) or the write lock (SQLite), so a
    routing job blocks half-way through its transaction."""
    blocker = db.engine.connect()
    if blocker.dialect.name == "sqlite":
        blocker.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        blocker.begin()
        blocker.exec_driver_sql("SELECT id FROM cases WHERE id = %(id)s FOR UPDATE", {"id": case_id})
    return blocker


def release_connections() -> None:
    """Close the pool's connections now, and collect here what these fault tests leave: on
    PostgreSQL one psycopg connection is left unclosed after a process is killed under it
    (not yet traced), and its ResourceWarning must not fail whichever test runs next."""
    db.session.remove()
    db.engine.dispose()
    gc.collect()


# The warning release_connections() collects; any other warning still fails these tests.
LEFT_OPEN = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def start(args: list[str], env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    with output.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def test_a_started_job_of_a_dead_worker_is_queued_again_by_the_sweep(app: Flask, redis_client: Redis) -> None:
    case = make_case()
    job = Job.fetch(f"route-{case.id}", connection=redis_client, serializer="json")
    queue = Queue(job.origin, connection=redis_client, serializer="json")
    queue.remove(job.id)  # taken off the queue by a worker...
    job.worker_name = "worker-on-a-host-that-died"
    job.set_status(JobStatus.STARTED)
    job.save()
    redis_client.set(worker_alive_key(job.worker_name), "1", ex=10)

    # ...that is alive: its job is left to it.
    assert sweep() == 1 and queue.get_job_ids() == []
    # It died: its liveness key expired. The next sweep queues the job again, once.
    redis_client.delete(worker_alive_key(job.worker_name))
    assert sweep() == 1 and queue.get_job_ids() == [job.id]
    assert Job.fetch(job.id, connection=redis_client, serializer="json").get_status() == JobStatus.QUEUED
    assert sweep() == 1 and queue.get_job_ids() == [job.id]  # waiting now: not queued twice
    maple = responder()
    route_case(case.id)
    assert routed_once(case.id) and db.session.get(Case, case.id).assigned_to_id == maple.id  # type: ignore[union-attr]


@LEFT_OPEN
def test_a_worker_killed_mid_transaction_is_taken_over_within_a_minute(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path
) -> None:
    maple = responder()
    env = worker_env(app, keys_dir, log_file)
    output = log_file.with_suffix(".healing")
    workers = {}
    clock = start(["workers.clock"], env, output)
    try:
        for _ in range(2):  # two workers, each waiting for work before the next starts
            process = start(["workers"], env, output)
            workers[process.pid] = process
            assert wait_for(lambda: len(Worker.all(connection=redis_client)) >= len(workers)), tail(output)
        case = make_case(narrative="He took my passport.")  # not routed yet: the row is free
        blocker = hold_case_row(case.id)
        try:
            job_id = f"route-{case.id}"
            assert wait_for(
                lambda: Job.fetch(job_id, connection=redis_client, serializer="json").get_status() == JobStatus.STARTED
            ), "the routing job never started:\n" + tail(output)
            owner = Job.fetch(job_id, connection=redis_client, serializer="json").worker_name
            (pid,) = [w.pid for w in Worker.all(connection=redis_client) if w.name == owner]
            workers[pid].send_signal(signal.SIGKILL)  # mid-transaction: it waits on the row
            workers[pid].wait(timeout=30)
            killed_at = time.monotonic()
        finally:
            blocker.rollback()
            blocker.close()
        assert wait_for(lambda: routed_once(case.id), HEAL_SECONDS), (
            f"not routed within {HEAL_SECONDS} s of the kill:\n" + tail(output)
        )
        healed = time.monotonic() - killed_at
        assert db.session.get(Case, case.id).assigned_to_id == maple.id  # type: ignore[union-attr]
        assert (
            db.session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "assigned"))
            == 1
        )
        assert healed < HEAL_SECONDS
    finally:
        stop(clock, *workers.values())
        release_connections()


class RedisServer:
    """A Redis server of a test's own, on a free port, to be killed and started again."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            cwd=self.folder,
        )
        assert wait_for(self.answers, 10), "the test's Redis did not start"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def answers(self) -> bool:
        client = Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            return bool(client.ping())
        except RedisError:
            return False
        finally:
            client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@LEFT_OPEN
def test_a_worker_outlives_redis_going_away_during_a_job(
    base_app: Flask, app: Flask, own_redis: RedisServer, keys_dir: Path, log_file: Path
) -> None:
    maple = responder()
    other = create_app(
        settings_for(
            base_app.config["SQLALCHEMY_DATABASE_URI"],
            keys_dir,
            log_file,
            queue_prefix=app.config["CONFIDE"].queue_prefix,
            redis_url=own_redis.url,
            rate_limit_storage_url=REDIS_URL,  # the process-wide limiter must not keep this short-lived server
        )
    )
    env = {**worker_env(app, keys_dir, log_file), "CONFIDE_REDIS_URL": own_redis.url}
    output = log_file.with_suffix(".redis-away")
    worker = start(["workers"], env, output)
    try:
        with other.app_context():
            private = redis_connection()
            assert wait_for(lambda: len(Worker.all(connection=private)) == 1), tail(output)
            first = make_case(narrative="First, while Redis goes away.")
            blocker = hold_case_row(first.id)
            try:
                assert wait_for(
                    lambda: (
                        Job.fetch(f"route-{first.id}", connection=private, serializer="json").get_status()
                        == JobStatus.STARTED
                    )
                ), tail(output)
                own_redis.kill()  # Redis gone, mid-job
            finally:
                blocker.rollback()
                blocker.close()
            assert wait_for(lambda: routed_once(first.id), 30), "the job in hand was lost:\n" + tail(output)
            time.sleep(2)  # the worker has met the dead connection by now
            assert worker.poll() is None, "the worker quit when Redis went away:\n" + tail(output)

            own_redis.start()  # back, and empty
            second = make_case(narrative="Second, after Redis came back.")
            assert wait_for(lambda: routed_once(second.id), HEAL_SECONDS), (
                "the worker did not take work again after Redis returned:\n" + tail(output)
            )
            assert worker.poll() is None
            assert db.session.get(Case, second.id).assigned_to_id == maple.id  # type: ignore[union-attr]
            db.session.remove()
    finally:
        stop(worker)
        with other.app_context():
            db.engine.dispose()
        release_connections()


def test_a_deadline_timer_lost_with_redis_is_caught_by_the_periodic_scan(app: Flask, redis_client: Redis) -> None:
    from workers.jobs import sweep_and_escalate

    coordinator = make_staff("coordinator")
    first, second = responder(), responder()
    first.user.last_assigned_at = utcnow() - timedelta(days=2)
    second.user.last_assigned_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    case = make_case(category="rape", when="72h")
    route_case(case.id)
    assert db.session.get(Case, case.id).assigned_to_id == first.id  # type: ignore[union-attr]
    # Redis restarted: the deadline check RQ's scheduler held is gone.
    urgent = Queue(queue_names()[0], connection=redis_client, serializer="json")
    assert f"deadline-{case.id}-1" in urgent.scheduled_job_registry.get_job_ids()
    redis_client.flushdb()
    # Time passes beyond the deadline (moved back, as a clock moving on would).
    round_ = db.session.scalars(select(RoutingRound).where(RoutingRound.case_id == case.id)).one()
    round_.due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    sweep_and_escalate()

    db.session.expire_all()
    escalated = db.session.get(Case, case.id)
    assert escalated is not None and escalated.assigned_to_id == second.id and escalated.routing_round == 2
    assert [n.staff_id for n in db.session.scalars(select(Notification).where(Notification.kind == "escalated"))] == [
        coordinator.id
    ]


def test_the_clock_schedules_again_after_redis_restarts(
    app: Flask, own_redis: RedisServer, keys_dir: Path, log_file: Path
) -> None:
    env = {**worker_env(app, keys_dir, log_file), "CONFIDE_REDIS_URL": own_redis.url}
    output = log_file.with_suffix(".clock")
    clock = start(["workers.clock"], env, output)
    private = Redis.from_url(own_redis.url)
    urgent = Queue(queue_names()[0], connection=private, serializer="json")
    try:

        def moved_when_due(job_id: str) -> bool:
            urgent.enqueue_at(utcnow() + timedelta(seconds=1), "workers.jobs.check_deadline", "case", 1, job_id=job_id)
            return wait_for(lambda: job_id in urgent.get_job_ids(), 15)

        assert moved_when_due("deadline-before"), "the clock did not move a due check:\n" + tail(output)
        own_redis.kill()
        time.sleep(2)
        assert clock.poll() is None, "the clock quit when Redis went away:\n" + tail(output)
        own_redis.start()  # back, and empty: the scheduler's locks are gone with it
        assert moved_when_due("deadline-after"), "the clock did not schedule after Redis returned:\n" + tail(output)
        assert clock.poll() is None
    finally:
        stop(clock)
        private.close()
