"""The real clock process (`python -m workers.clock`) keeps the audit log anchored: it queues the
checkpoint job every `audit_checkpoint_minutes`, and a worker running it appends the chain's
head to the checkpoint file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask
from redis import Redis
from rq import Queue

from app import ROOT
from app.audit.checkpoints import read_checkpoints
from app.audit.models import AuditHead
from app.extensions import db
from app.signals import announce
from app.triage.queue import queue_names
from tests.conftest import run_worker, worker_env
from tests.triage.test_worker import tail, wait_for

# Not the example's 10: the clock must take the interval from the settings.
CHECKPOINT_MINUTES = 7


def test_the_clock_queues_an_audit_checkpoint_every_configured_interval(
    app: Flask, redis_client: Redis, keys_dir: Path, log_file: Path
) -> None:
    announce("staff_login", actor="", role="system")  # something in the log to anchor
    env = {**worker_env(app, keys_dir, log_file), "CONFIDE_AUDIT_CHECKPOINT_MINUTES": str(CHECKPOINT_MINUTES)}
    output_path = log_file.with_suffix(".clock-checkpoints")
    default = Queue(queue_names()[1], connection=redis_client, serializer="json")

    def checkpoint_jobs() -> list[str]:
        return [job_id for job_id in default.get_job_ids() if job_id.startswith("periodic-audit_checkpoint-")]

    started = time.time()
    with open(output_path, "wb") as output:
        clock = subprocess.Popen(
            [sys.executable, "-m", "workers.clock"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            queued = wait_for(checkpoint_jobs, 30)
        finally:
            clock.send_signal(signal.SIGTERM)
            assert clock.wait(timeout=30) == 0
    assert queued, "the clock never queued the audit checkpoint:\n" + tail(output_path)
    [job_id] = checkpoint_jobs()

    # Queued for this slot of the configured length, claimed for all hosts until the next.
    interval = CHECKPOINT_MINUTES * 60
    slot = int(job_id.rsplit("-", 1)[1])
    assert slot in {int(started // interval), int(time.time() // interval)}
    prefix = app.config["CONFIDE"].queue_prefix
    assert interval < redis_client.ttl(f"{prefix}:periodic:audit_checkpoint:{slot}") <= 2 * interval

    # A worker runs it: the chain's head is now kept outside the database.
    head = db.session.get(AuditHead, 1)
    assert head is not None and head.last_id > 0 and read_checkpoints() == ([], [])
    anchored = head.last_id
    run_worker(app)
    points, forged = read_checkpoints()
    assert len(points) == 1 and points[0].last_id >= anchored and not forged
