"""Into the queue: ids only in Redis, routed once, and nothing lost when Redis is away."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select

from app import ROOT, create_app
from app.cases.models import Case
from app.extensions import db
from app.triage.queue import enqueue_route, sweep
from tests.conftest import REDIS_URL, BrowserLikeClient, run_worker, settings_for, worker_env
from tests.helpers import receipt_from, submit_report


def only_case() -> Case:
    db.session.expire_all()
    return db.session.scalars(select(Case)).one()


def test_job_carries_the_case_id_only(client: FlaskClient, redis_client: Redis) -> None:
    receipt_from(submit_report(client, narrative="nobody should see this in redis"))
    case = only_case()
    raw = redis_client.hget(f"rq:job:route-{case.id}", "data")
    assert raw is not None
    function, _instance, args, kwargs = json.loads(zlib.decompress(raw))
    assert function == "workers.jobs.route_case"
    assert args == [case.id] and kwargs == {}


def test_worker_routes_the_case_to_the_coordinators_when_no_one_is_eligible(client: FlaskClient, app: Flask) -> None:
    submit_report(client, category="rape", when="72h")
    assert only_case().routing_state == "intake"
    assert run_worker(app) == 1
    case = only_case()
    assert case.routing_state == "coordinators"
    assert case.queued_at is not None
    assert case.level == 1
    assert case.ack_due_at - case.created_at == timedelta(hours=app.config["CONFIDE"].triage.ack_hours[1])


def test_the_same_job_twice_routes_once(client: FlaskClient, app: Flask) -> None:
    submit_report(client)
    run_worker(app)
    first = only_case().queued_at
    assert enqueue_route(only_case().id, 2)
    assert run_worker(app) == 1
    assert only_case().queued_at == first


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except Exception:
            time.sleep(0.05)
    client.close()
    return process


@pytest.fixture
def private_redis() -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A Redis server of the test's own, which the test may stop and start again."""
    port = _free_port()
    processes = [_start_redis(port)]
    yield port, processes
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_redis_outage_at_intake_loses_nothing(
    base_app: Flask,
    app: Flask,
    private_redis: tuple[int, list[subprocess.Popen[bytes]]],
    keys_dir: Path,
    log_file: Path,
) -> None:
    port, processes = private_redis
    url = f"redis://127.0.0.1:{port}/0"
    # Only the queue loses its Redis. (Rate-limit counters live in a process-wide limiter,
    # which must not be left pointing at this short-lived server.)
    settings = settings_for(
        base_app.config["SQLALCHEMY_DATABASE_URI"], keys_dir, log_file, redis_url=url, rate_limit_storage_url=REDIS_URL
    )
    outage_app = create_app(settings)
    outage_app.test_client_class = BrowserLikeClient
    try:
        client = outage_app.test_client()
        assert submit_report(client, narrative="before").status_code == 200
        processes[0].terminate()
        processes[0].wait(timeout=10)
        during = submit_report(client, narrative="during the outage")
        assert during.status_code == 200
        receipt_from(during)
        db.session.expire_all()
        assert [c.routing_state for c in db.session.scalars(select(Case))] == ["intake", "intake"]

        processes.append(_start_redis(port))  # back, and empty: it kept nothing
        with outage_app.app_context():
            assert sweep() == 2
            assert run_worker(outage_app) == 2
        db.session.expire_all()
        assert {c.routing_state for c in db.session.scalars(select(Case))} == {"coordinators"}
    finally:
        with outage_app.app_context():
            outage_app.extensions["confide_redis"].close()
            db.engine.dispose()


def test_sweep_command_queues_stuck_cases(client: FlaskClient, app: Flask, redis_client: Redis) -> None:
    submit_report(client)
    redis_client.flushdb()  # as if Redis had restarted empty
    result = app.test_cli_runner().invoke(args=["triage", "sweep"])
    assert result.exit_code == 0 and "1 case(s) queued" in result.output
    assert run_worker(app) == 1
    assert only_case().routing_state == "coordinators"


def test_real_worker_process_sweeps_at_start(
    client: FlaskClient, base_app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path
) -> None:
    submit_report(client)
    redis_client.flushdb()
    env = worker_env(base_app, keys_dir, log_file)
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert only_case().routing_state == "coordinators"


def test_sweep_leaves_waiting_jobs_alone(client: FlaskClient, app: Flask) -> None:
    submit_report(client)
    assert sweep() == 1  # counted as queued: its job is already waiting
    assert run_worker(app) == 1, "the waiting job must not be queued a second time"


def test_a_forced_sweep_at_worker_start_queues_a_waiting_job_once(client: FlaskClient, app: Flask) -> None:
    submit_report(client)
    assert sweep(force=True) == 1
    assert run_worker(app) == 1, "a job still waiting in its queue must not be queued a second time"
    assert only_case().routing_state == "coordinators"


def test_a_forced_sweep_queues_again_a_job_a_killed_worker_left_running(
    client: FlaskClient, app: Flask, redis_client: Redis
) -> None:
    from rq.job import Job, JobStatus

    from app.triage.queue import redis_connection

    submit_report(client)
    case = only_case()
    job = Job.fetch(f"route-{case.id}", connection=redis_connection(), serializer="json")
    # The worker that took it was killed: the job says started, and is in no queue.
    for key in redis_client.keys("*-default"):
        redis_client.delete(key)
    job.set_status(JobStatus.STARTED)
    assert sweep(force=True) == 1
    assert run_worker(app) == 1 and only_case().routing_state == "coordinators"


def test_a_damaged_job_record_does_not_stop_the_sweep(client: FlaskClient, app: Flask, redis_client: Redis) -> None:
    submit_report(client)
    submit_report(client, narrative="A second report.")
    damaged, healthy = sorted(db.session.scalars(select(Case)), key=lambda case: case.created_at)
    # One job's record lost its body (a partial write, a hand edit): RQ cannot read it.
    redis_client.hdel(f"rq:job:route-{damaged.id}", "data")
    assert sweep(force=True) == 2, "both cases have a job that can run"
    run_worker(app)
    db.session.expire_all()
    assert {damaged.routing_state, healthy.routing_state} == {"coordinators"}
