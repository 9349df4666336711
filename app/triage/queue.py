"""Putting cases on the RQ queue. Only case ids ever go to Redis.

The database is the source of truth: a case whose enqueue fails (Redis down) stays in the
``intake`` routing state, and :func:`sweep` puts it on the queue again later.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.cases.models import Case
from app.extensions import db

log = logging.getLogger("confide.triage")

ROUTE_JOB = "workers.jobs.route_case"


def redis_connection() -> Redis:
    """The app's Redis client, created once per app with short time-outs."""
    client = current_app.extensions.get("confide_redis")
    if client is None:
        client = Redis.from_url(
            current_app.config["CONFIDE"].redis_url,
            socket_connect_timeout=1,
            socket_timeout=2,
            health_check_interval=30,
        )
        current_app.extensions["confide_redis"] = client
    return client


def queue_names() -> tuple[str, str]:
    """The urgent queue first: workers always drain it before the other."""
    prefix = current_app.config["CONFIDE"].queue_prefix
    return f"{prefix}-urgent", f"{prefix}-default"


def _queue_for(level: int) -> Queue:
    urgent, default = queue_names()
    return Queue(urgent if level <= 1 else default, connection=redis_connection(), serializer="json")


PENDING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def _route_job_id(case_id: str) -> str:
    return f"route-{case_id}"


def enqueue_route(case_id: str, level: int, *, unless: Collection[JobStatus] = ()) -> bool:
    """Queue routing for a committed case. False (and logged) if Redis is unreachable.

    A case whose job is already in one of the states ``unless`` is left alone."""
    try:
        if unless:
            try:
                job = Job.fetch(_route_job_id(case_id), connection=redis_connection(), serializer="json")
            except NoSuchJobError:
                job = None
            if job is not None and job.get_status(refresh=False) in unless:
                return True
        _queue_for(level).enqueue(
            ROUTE_JOB,
            case_id,
            job_id=_route_job_id(case_id),
            result_ttl=3600,
            failure_ttl=7 * 86400,
            description="route_case",
        )
    except RedisError as error:
        log.warning(
            "case %s not queued (%s); the sweep will queue it", case_id, error.__class__.__name__
        )
        return False
    return True


DEADLINE_JOB = "workers.jobs.check_deadline"


def schedule_deadline_check(case_id: str, number: int, due: datetime) -> bool:
    """Ask the worker's scheduler to check round ``number`` when its deadline passes.

    If Redis is away the periodic overdue scan catches the deadline instead."""
    try:
        Queue(queue_names()[0], connection=redis_connection(), serializer="json").enqueue_at(
            due,
            DEADLINE_JOB,
            case_id,
            number,
            job_id=f"deadline-{case_id}-{number}",
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )
    except RedisError as error:
        log.warning("deadline check for case %s not scheduled (%s)", case_id, error.__class__.__name__)
        return False
    return True


def sweep(*, force: bool = False) -> int:
    """Queue again every case that no worker has routed yet. Returns how many were queued.

    Normally a case whose job is still waiting or running is left alone. With ``force`` (at
    worker start) only a case whose job still waits in a queue is: a job shown as running
    may belong to a worker that was killed, and routing twice has the effect of routing once.
    (Queueing a waiting job again would put its id in the queue twice.)"""
    rows = db.session.execute(
        select(Case.id, Case.level)
        .where(Case.routing_state.in_(("intake", "awaiting_assignment", "rerouting")))
        .order_by(Case.created_at)
    ).all()
    unless = {JobStatus.QUEUED} if force else PENDING
    queued = sum(1 for case_id, level in rows if enqueue_route(case_id, level, unless=unless))
    if rows:
        log.info("sweep: %d of %d waiting cases queued", queued, len(rows))
    return queued
