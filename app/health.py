"""Health and metrics for the operators' tools: /healthz, /readyz, /metrics.

/healthz says the process answers and touches nothing else, so a supervisor restarts only a
process that is stuck. /readyz says whether the database and Redis answer, each within a
couple of seconds; it is ready (200) when the database answers, so a load balancer sends no
requests to a process that cannot file a report. Redis is named but does not decide: without
it reports are still filed and kept, and the sweep routes them when it returns, whereas a
load balancer that took every web process out while Redis restarted would turn reporters away.
/metrics is Prometheus's text format, computed from the database and Redis at each scrape,
so any one of gunicorn's processes gives the same figures and none keeps counters of its own.
Metrics show how busy the program is: they are closed (404) unless ``metrics_token`` is set
and the scraper sends it as a bearer token. No case, person or address is in any of them.

Nothing here logs a client address, and a failure is reported by kind only: an error's text
can name a host or a connection URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.access import PUBLIC, allow, constant_time_equal
from app.cases.models import Case
from app.config import current_settings
from app.extensions import db
from app.models import utcnow
from app.triage.models import ROUTABLE
from app.triage.queue import live_workers, queue_names, redis_connection

log = logging.getLogger("confide.health")

blueprint = Blueprint("health", __name__)

# libpq counts whole seconds and takes 2 as its least useful value.
PROBE_SECONDS = 2


@blueprint.get("/healthz")
@allow(PUBLIC)
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")


@blueprint.get("/readyz")
@allow(PUBLIC)
def readyz() -> tuple[Response, int]:
    checks = {"database": _database_answers(), "redis": _redis_answers()}
    ready = checks["database"]
    states = {name: "ok" if fine else "unavailable" for name, fine in checks.items()}
    return jsonify({"ready": ready, **states}), 200 if ready else 503


@blueprint.get("/metrics")
@allow(PUBLIC)  # no session opens it: only the scraper's bearer token does (_require_token)
def metrics() -> Response:
    _require_token()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConfideCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encoder(registry), content_type=content_type)


def _require_token() -> None:
    """404, as for a page that does not exist, unless the configured token is presented."""
    token = current_settings().metrics_token
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        abort(404)
    if not constant_time_equal(presented.strip(), token):
        abort(404)


def _probe_engine() -> Engine:
    """An engine for the readiness check alone: a new connection each time, given up after
    PROBE_SECONDS (the app's own pool would wait as long as the driver does)."""
    engine: Engine | None = current_app.extensions.get("confide_probe_engine")
    if engine is None:
        url = db.engine.url
        connect_args: dict[str, object] = {}
        if url.get_backend_name() == "postgresql":
            connect_args = {"connect_timeout": PROBE_SECONDS}
        elif url.get_backend_name() == "sqlite":
            connect_args = {"timeout": PROBE_SECONDS}
        engine = create_engine(url, poolclass=NullPool, hide_parameters=True, connect_args=connect_args)
        current_app.extensions["confide_probe_engine"] = engine
    return engine


def _database_answers() -> bool:
    try:
        with _probe_engine().connect() as connection:
            if connection.dialect.name == "postgresql":
                # For this transaction only: a pooler may hand the server connection on.
                timeout = PROBE_SECONDS * 1000
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {timeout}")
            connection.exec_driver_sql("SELECT 1")
    except (SQLAlchemyError, OSError) as error:
        log.warning("readiness: the database does not answer (%s)", error.__class__.__name__)
        return False
    return True


def _redis_answers() -> bool:
    # The app's client gives up after one second connecting and two waiting for an answer.
    try:
        redis_connection().ping()
    except RedisError as error:
        log.warning("readiness: Redis does not answer (%s)", error.__class__.__name__)
        return False
    return True


class ConfideCollector(Collector):
    """The figures an on-call person watches, read from the database and Redis when scraped.

    Counts only, labelled by queue or level: never a case, a person or anything they wrote.
    If one source does not answer, its figures are left out and
    ``confide_metrics_source_up{source=...}`` is 0, so an alert can tell "none" from "unknown".
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "confide_metrics_source_up",
            "1 if this scrape read its figures from the source, 0 if the source did not answer.",
            labels=["source"],
        )
        for source, read in (("database", self._database), ("redis", self._redis)):
            try:
                families, answered = list(read()), 1
            except (SQLAlchemyError, RedisError, OSError) as error:
                if source == "database":
                    db.session.rollback()
                log.warning("metrics: %s does not answer (%s)", source, error.__class__.__name__)
                families, answered = [], 0
            up.add_metric([source], answered)
            yield from families
        yield up

    def _database(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        waiting, oldest = db.session.execute(
            select(func.count(), func.min(Case.created_at)).where(Case.routing_state.in_(ROUTABLE))
        ).one()
        yield GaugeMetricFamily(
            "confide_cases_awaiting_routing",
            "Cases filed or sent back for routing that no worker has routed yet.",
            value=waiting,
        )
        yield GaugeMetricFamily(
            "confide_cases_awaiting_routing_oldest_age_seconds",
            "Seconds since the oldest case awaiting routing was filed (to the minute); 0: none.",
            value=_age_seconds(oldest, now),
        )
        past = dict(
            db.session.execute(
                select(Case.level, func.count())
                .where(
                    Case.acknowledged_at.is_(None),
                    Case.status != "closed",
                    Case.ack_due_at <= now,
                )
                .group_by(Case.level)
            ).all()
        )
        breached = GaugeMetricFamily(
            "confide_cases_past_ack_deadline",
            "Unacknowledged cases past the deadline promised to the reporter, by level.",
            labels=["level"],
        )
        for level in range(len(current_settings().triage.ack_hours)):
            breached.add_metric([f"L{level}"], past.get(level, 0))
        yield breached

    def _redis(self) -> Iterator[GaugeMetricFamily]:
        redis = redis_connection()
        failed = GaugeMetricFamily(
            "confide_jobs_failed",
            "Jobs in each queue's failed-job registry (routing, deadline checks, periodic passes).",
            labels=["queue"],
        )
        for name in queue_names():
            queue = Queue(name, connection=redis, serializer="json")
            # Counted as it stands: a scrape changes nothing (workers clear expired entries).
            failed.add_metric([name], queue.failed_job_registry.get_job_count(cleanup=False))
        yield failed
        yield GaugeMetricFamily(
            "confide_workers",
            "Worker processes alive (each works every queue, urgent first).",
            value=live_workers(),
        )


def _age_seconds(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0
