"""The real worker process: routes what is queued, runs the periodic jobs, stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask
from redis import Redis
from rq import Queue, Worker

from app import ROOT
from app.cases.models import Case
from app.extensions import db
from app.triage.queue import queue_names
from tests.conftest import REDIS_URL
from tests.factories import make_case
from tests.triage.test_routing import responder


def worker_env(app: Flask, keys_dir: Path, log_file: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "CONFIDE_ENV": "test",
        "CONFIDE_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CONFIDE_REDIS_URL": REDIS_URL,
        "CONFIDE_KEYS_DIR": str(keys_dir),
        "CONFIDE_LOG_FILE": str(log_file),
        "CONFIDE_QUEUE_PREFIX": app.config["CONFIDE"].queue_prefix,
    }
    env.pop("CONFIDE_CONFIG", None)
    return env


def wait_for(condition, seconds: float = 30) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_worker_routes_then_stops_gracefully_on_sigterm(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path
) -> None:
    maple = responder()
    case = make_case()
    process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=worker_env(app, keys_dir, log_file))
    try:

        def routed() -> bool:
            db.session.expire_all()
            found = db.session.get(Case, case.id)
            return found is not None and found.assigned_to_id == maple.id

        assert wait_for(routed), "the worker did not route the queued case"
        # RQ's cron has started the periodic jobs on their own queue.
        periodic = Queue(f"{app.config['CONFIDE'].queue_prefix}-periodic", connection=redis_client)
        assert wait_for(lambda: len(periodic.finished_job_registry) > 0), "no periodic job ran"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    queues = [Queue(name, connection=redis_client) for name in queue_names()]
    assert all(Worker.all(queue=queue) == [] for queue in queues), "workers must deregister on SIGTERM"
