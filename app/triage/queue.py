"""Putting cases on the RQ queue. Only case ids ever go to Redis.

The database is the source of truth: a case whose enqueue fails (Redis down) stays in the
``intake`` routing state, and :func:`sweep` puts it on the queue again later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.cases.models import Case
from app.config import current_settings
from app.extensions import db
from app.triage.models import ROUTABLE

log = logging.getLogger("confide.triage")

ROUTE_JOB = "workers.jobs.route_case"


def redis_connection() -> Redis:
    """The app's Redis client, created once per app with short time-outs."""
    client = current_app.extensions.get("confide_redis")
    if client is None:
        client = Redis.from_url(
            current_settings().redis_url,
            socket_connect_timeout=1,
            socket_timeout=2,
            health_check_interval=30,
        )
        current_app.extensions["confide_redis"] = client
    return client


def queue_names() -> tuple[str, str]:
    """The urgent queue first: workers always drain it before the other."""
    prefix = current_settings().queue_prefix
    return f"{prefix}-urgent", f"{prefix}-default"


def _queue_for(level: int) -> Queue:
    urgent, default = queue_names()
    return Queue(urgent if level <= 1 else default, connection=redis_connection(), serializer="json")


PENDING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def _route_job_id(case_id: str) -> str:
    return f"route-{case_id}"


def enqueue_route(case_id: str, level: int) -> bool:
    """Queue routing for a committed case. False (and logged) if Redis is unreachable."""
    try:
        _queue_for(level).enqueue(
            ROUTE_JOB,
            case_id,
            job_id=_route_job_id(case_id),
            result_ttl=3600,
            failure_ttl=7 * 86400,
            description="route_case",
        )
    except RedisError as error:
        log.warning("case %s not queued (%s); the sweep will queue it", case_id, error.__class__.__name__)
        return False
    return True


def withdraw_route_jobs(cases: Sequence[tuple[str, int]]) -> int:
    """Take off the queue the routing jobs of ``cases`` (id, level), which another case's
    job has routed: they would find nothing to do. A job a worker has already taken is
    left to run (it finds its case routed). Returns how many were withdrawn."""
    if not cases:
        return 0
    redis = redis_connection()
    try:
        with redis.pipeline(transaction=False) as pipe:
            for case_id, level in cases:
                _queue_for(level).remove(_route_job_id(case_id), pipeline=pipe)
            removed = pipe.execute()
        # Off the queue, nobody can take them any more: their records go too.
        pairs = zip(cases, removed, strict=True)
        gone = [Job.key_for(_route_job_id(case_id)) for (case_id, _), count in pairs if count]
        if gone:
            redis.delete(*gone)
    except RedisError as error:
        log.warning("routing jobs not withdrawn (%s); they will find their cases routed", error.__class__.__name__)
        return 0
    return len(gone)


OFFER_JOB = "workers.jobs.offer_waiting"


def enqueue_offer(why: str) -> bool:
    """Queue a look for waiting cases someone now fits (``why``: the event, for the job's
    description). False if Redis is away: the periodic sweep looks every time it runs."""
    try:
        _queue_for(1).enqueue(OFFER_JOB, result_ttl=600, failure_ttl=7 * 86400, description=f"offer_waiting {why}")
    except RedisError as error:
        log.warning("waiting cases not looked at (%s); the sweep will", error.__class__.__name__)
        return False
    return True


DEADLINE_JOB = "workers.jobs.check_deadline"


def schedule_deadline_checks(rounds: Sequence[tuple[str, int, datetime]]) -> bool:
    """Ask the worker's scheduler to check each round (case id, number, deadline) when its
    deadline passes. If Redis is away the periodic overdue scan catches them instead."""
    if not rounds:
        return True
    queue = Queue(queue_names()[0], connection=redis_connection(), serializer="json")
    try:
        with redis_connection().pipeline() as pipe:
            for case_id, number, due in rounds:
                queue.enqueue_at(
                    due,
                    DEADLINE_JOB,
                    case_id,
                    number,
                    job_id=f"deadline-{case_id}-{number}",
                    result_ttl=3600,
                    failure_ttl=7 * 86400,
                    pipeline=pipe,
                )
            pipe.execute()
    except RedisError as error:
        log.warning("%d deadline check(s) not scheduled (%s)", len(rounds), error.__class__.__name__)
        return False
    return True


def _fetch_or_none(job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=redis_connection(), serializer="json")
    except NoSuchJobError:
        return None


def _route_jobs(case_ids: Sequence[str]) -> list[Job | None]:
    """Each case's routing job (None: there is none), read in a few round trips."""
    found: list[Job | None] = []
    redis = redis_connection()
    for start in range(0, len(case_ids), 1000):
        chunk = [_route_job_id(case_id) for case_id in case_ids[start : start + 1000]]
        try:
            found += Job.fetch_many(chunk, connection=redis, serializer="json")
        except NoSuchJobError:  # a damaged record among them: one at a time, then
            found += [_fetch_or_none(job_id) for job_id in chunk]
    return found


# The periodic sweep's interval (workers/clock.py): with ALIVE_SECONDS, a case whose worker died
# mid-job is queued again within half a minute.
SWEEP_SECONDS = 20

# A worker process says it is alive by keeping this key fresh (workers/__main__.py); a job it
# had started is orphaned once the key is gone.
ALIVE_SECONDS = 10


def worker_alive_key(worker_name: str) -> str:
    return f"{current_app.config['CONFIDE'].queue_prefix}:alive:{worker_name}"


def live_workers() -> int:
    """Worker processes whose liveness key is fresh. Unlike RQ's own registry, which a Redis
    restart empties while the workers go on, the keys are written again within seconds."""
    pattern = worker_alive_key("*")
    return sum(1 for _key in redis_connection().scan_iter(match=pattern, count=500))


def _orphaned(jobs: Sequence[Job]) -> set[str]:
    """The ids of started jobs whose worker is no longer alive (killed, or its host gone)."""
    started = [job for job in jobs if job.get_status(refresh=False) == JobStatus.STARTED]
    if not started:
        return set()
    with redis_connection().pipeline(transaction=False) as pipe:
        for job in started:
            pipe.exists(worker_alive_key(job.worker_name or "-"))
        alive = pipe.execute()
    return {job.id for job, living in zip(started, alive, strict=True) if not living}


def sweep(*, force: bool = False) -> int:
    """Queue again every case that no worker has routed yet. Returns how many are queued
    now, counting those whose job was still waiting.

    A case whose job waits in a queue, or runs in a worker that is alive, is left alone;
    a job shown as running in a worker that died (its liveness key expired) is queued
    again: routing twice has the effect of routing once. With ``force`` (at worker start)
    any job shown as running is queued again. (Queueing a waiting job again would put its
    id in the queue twice.)"""
    rows = db.session.execute(
        select(Case.id, Case.level).where(Case.routing_state.in_(ROUTABLE)).order_by(Case.created_at)
    ).all()
    if not rows:
        return 0
    unless = {JobStatus.QUEUED} if force else PENDING
    try:
        jobs = _route_jobs([case_id for case_id, _ in rows])
        orphaned = _orphaned([job for job in jobs if job is not None])
    except RedisError as error:
        log.warning("sweep: %d waiting cases, Redis unreachable (%s)", len(rows), error.__class__.__name__)
        return 0
    queued = again = 0
    for (case_id, level), job in zip(rows, jobs, strict=True):
        if job is not None and job.get_status(refresh=False) in unless and job.id not in orphaned:
            queued += 1
        elif enqueue_route(case_id, level):
            queued += 1
            again += job is not None and job.id in orphaned
    if again:
        log.warning("sweep: %d routing job(s) of a worker that died queued again", again)
    log.info("sweep: %d of %d waiting cases queued", queued, len(rows))
    return queued
