"""Whoever can write to Redis cannot run code in the worker: only Confide's own jobs run, and
only as JSON. Each test puts a hostile job on a real queue and runs a real worker over it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import Flask
from redis import Redis
from rq import Callback, Queue
from rq.job import Job, JobStatus

from app import ROOT
from app.triage.queue import queue_names
from tests.conftest import REDIS_URL, worker_env
from workers.periodic import Ticker


class MakesADirectory:
    """Unpickled, this object makes a directory: what a hostile pickle could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.makedirs, (str(self.path),)


def run_worker(app: Flask, keys_dir: Path, log_file: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "workers", "--burst"],
        cwd=ROOT,
        env=worker_env(app, keys_dir, log_file),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_job_naming_any_other_function_fails_without_running(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path, tmp_path: Path
) -> None:
    target = tmp_path / "made-by-a-job"
    queue = Queue(queue_names()[0], connection=redis_client, serializer="json")
    job = queue.enqueue("os.makedirs", str(target))
    run_worker(app, keys_dir, log_file)
    assert not target.exists()
    job = Job.fetch(job.id, connection=redis_client, serializer="json")
    assert job.get_status() == JobStatus.FAILED
    assert "not a Confide job" in (job.latest_result().exc_string or "")


def test_a_listed_job_naming_a_callback_does_not_run(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path
) -> None:
    queue = Queue(queue_names()[0], connection=redis_client, serializer="json")
    plain = queue.enqueue("workers.jobs.send_notifications")
    hooked = queue.enqueue("workers.jobs.send_notifications", on_success=Callback("builtins.print"))
    run_worker(app, keys_dir, log_file)
    assert Job.fetch(plain.id, connection=redis_client, serializer="json").get_status() == JobStatus.FINISHED
    assert Job.fetch(hooked.id, connection=redis_client, serializer="json").get_status() == JobStatus.FAILED


def test_a_pickled_job_is_never_unpickled(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path, tmp_path: Path
) -> None:
    target = tmp_path / "made-by-a-pickle"
    # RQ's default serializer is pickle: a job written with it carries code.
    Queue(queue_names()[0], connection=redis_client).enqueue("workers.jobs.route_case", MakesADirectory(target))
    Queue(queue_names()[1], connection=redis_client).enqueue("workers.jobs.route_case", MakesADirectory(target))
    run_worker(app, keys_dir, log_file)
    assert not target.exists()


def test_periodic_jobs_are_queued_once_a_slot_for_every_host(app: Flask, redis_client: Redis) -> None:
    prefix = app.config["CONFIDE"].queue_prefix
    hosts = [Ticker(REDIS_URL, prefix, {"sweep_and_escalate": 60}) for _ in range(3)]
    default = Queue(queue_names()[1], connection=redis_client, serializer="json")
    now = 1_800_000_000.0
    assert sum(host.tick(now) for host in hosts) == 1
    assert sum(host.tick(now + 30) for host in hosts) == 0  # the same minute
    assert sum(host.tick(now + 60) for host in hosts) == 1
    names = [default.fetch_job(job_id).func_name for job_id in default.get_job_ids()]
    assert names == ["workers.jobs.sweep_and_escalate"] * 2


def test_periodic_jobs_wait_out_a_redis_outage(app: Flask) -> None:
    away = Ticker("redis://127.0.0.1:1/0", app.config["CONFIDE"].queue_prefix, {"sweep_and_escalate": 60})
    assert away.tick(1_800_000_000.0) == 0
    assert away.redis_away
