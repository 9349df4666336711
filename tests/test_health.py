"""/healthz, /readyz and /metrics against the real database and Redis, and against servers
that are down or do not answer."""

from __future__ import annotations

import dataclasses
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, SimpleWorker
from werkzeug.test import TestResponse

from app import create_app
from app.casework.services import acknowledge
from app.config import ConfigError, load_settings
from app.extensions import db
from app.models import utcnow
from app.triage.queue import ALIVE_SECONDS, ROUTE_JOB, queue_names, redis_connection, worker_alive_key
from app.triage.routing import route_case
from tests.conftest import settings_for
from tests.factories import make_case, make_staff
from workers.listed import ListedJob

TOKEN = secrets.token_urlsafe(32)
# An address from the documentation range, so that finding it in the log can mean one thing.
CLIENT_ADDRESS = "203.0.113.77"


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def silent_server() -> Iterator[int]:
    """A local port that takes connections and never says a word (a hung server)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


@contextmanager
def another_app(keys_dir: Path, log_file: Path, database_url: str, **overrides: Any) -> Iterator[Flask]:
    other = create_app(settings_for(database_url, keys_dir, log_file, **overrides))
    try:
        yield other
    finally:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def with_token(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setitem(app.config, "CONFIDE", dataclasses.replace(app.config["CONFIDE"], metrics_token=TOKEN))
    return app


def scrape(client: FlaskClient, token: str = TOKEN) -> TestResponse:
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}"})


def figures(response: TestResponse) -> dict[str, float]:
    """Each sample as name{label="value"} → value, read with Prometheus's own parser."""
    assert response.status_code == 200, response.status_code
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def test_healthz_answers_with_neither_database_nor_redis(keys_dir: Path, log_file: Path) -> None:
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/confide"
    with another_app(keys_dir, log_file, nowhere, redis_url=f"redis://127.0.0.1:{closed_port()}/0") as down:
        client = down.test_client()
        response = client.get("/healthz")
        assert response.status_code == 200 and response.get_data(as_text=True) == "ok\n"
        assert response.headers["Cache-Control"] == "no-store"
        # The same app is not ready, and says why.
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json() == {
            "ready": False,
            "database": "unavailable",
            "redis": "unavailable",
        }


def test_readyz_when_the_database_and_redis_answer(app: Flask, client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"ready": True, "database": "ok", "redis": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_stays_ready_and_names_redis_when_nothing_listens_there(
    base_app: Flask, app: Flask, keys_dir: Path, log_file: Path
) -> None:
    port = closed_port()
    database = base_app.config["SQLALCHEMY_DATABASE_URI"]
    with another_app(keys_dir, log_file, database, redis_url=f"redis://:hunter2secret@127.0.0.1:{port}/0") as down:
        response = down.test_client().get("/readyz")
    # Reports are still filed without Redis: the load balancer must keep sending reporters.
    assert response.status_code == 200
    assert response.get_json() == {"ready": True, "database": "ok", "redis": "unavailable"}
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    for secret in ("hunter2secret", str(port), "redis://", "Traceback", "Error"):
        assert secret not in body


def test_readyz_gives_up_on_servers_that_never_answer(keys_dir: Path, log_file: Path) -> None:
    answers: list[TestResponse] = []
    with silent_server() as database_port, silent_server() as redis_port:
        hung = f"postgresql+psycopg://postgres@127.0.0.1:{database_port}/confide"
        with another_app(keys_dir, log_file, hung, redis_url=f"redis://127.0.0.1:{redis_port}/0") as down:
            # Asked from a thread, so that a probe with no limit fails this test instead of
            # hanging it (closing the silent servers then ends its wait).
            asking = threading.Thread(target=lambda: answers.append(down.test_client().get("/readyz")))
            started = time.monotonic()
            asking.start()
            # Two seconds for each, not the drivers' own waits (PostgreSQL's has no end).
            asking.join(timeout=8)
            took = time.monotonic() - started
            assert not asking.is_alive(), "readyz was still waiting after 8 s"
    assert answers[0].status_code == 503, f"answered in {took:.1f} s"
    assert answers[0].get_json() == {
        "ready": False,
        "database": "unavailable",
        "redis": "unavailable",
    }


def test_metrics_are_404_unless_the_configured_token_is_sent(app: Flask, client: FlaskClient) -> None:
    unconfigured = scrape(client, "")
    assert unconfigured.status_code == 404 and "confide_" not in unconfigured.get_data(as_text=True)
    assert scrape(client).status_code == 404, "no token configured: closed to every token"
    settings = app.config["CONFIDE"]
    app.config["CONFIDE"] = dataclasses.replace(settings, metrics_token=TOKEN)
    try:
        refused = [
            client.get("/metrics"),
            scrape(client, TOKEN[:-1]),
            scrape(client, TOKEN + "x"),
            scrape(client, secrets.token_urlsafe(32)),
            client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}),
            client.get("/metrics", headers={"Authorization": TOKEN}),
        ]
        for response in refused:
            assert response.status_code == 404
            assert "confide_" not in response.get_data(as_text=True)
            assert response.headers["Cache-Control"] == "no-store"
        opened = scrape(client)
        assert opened.status_code == 200
        assert opened.headers["Cache-Control"] == "no-store"
        assert opened.mimetype == "text/plain"
        assert "confide_cases_awaiting_routing 0.0" in opened.get_data(as_text=True)
        assert client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    finally:
        app.config["CONFIDE"] = settings


def test_metrics_follow_the_cases_waiting_to_be_routed(with_token: Flask, client: FlaskClient) -> None:
    waiting, oldest = (
        "confide_cases_awaiting_routing",
        "confide_cases_awaiting_routing_oldest_age_seconds",
    )
    seen = figures(scrape(client))
    assert seen[waiting] == 0 and seen[oldest] == 0
    first = make_case()
    seen = figures(scrape(client))
    # Filing times are kept to the minute: a case filed now is under a minute old.
    assert seen[waiting] == 1 and 0 <= seen[oldest] < 60 + 5
    # It has waited two hours (a night with no worker).
    first.created_at = first.created_at - timedelta(hours=2)
    db.session.commit()
    assert 7200 <= figures(scrape(client))[oldest] < 7200 + 65
    second = make_case(narrative="My manager keeps my passport.")
    seen = figures(scrape(client))
    assert seen[waiting] == 2 and 7200 <= seen[oldest] < 7200 + 65, "the oldest, not the newest"
    # A worker routes the old one (nobody is on duty: the coordinators get it).
    assert route_case(first.id) == "coordinators"
    response = scrape(client)
    seen = figures(response)
    assert seen[waiting] == 1 and 0 <= seen[oldest] < 65
    assert route_case(second.id) == "coordinators"
    seen = figures(scrape(client))
    assert seen[waiting] == 0 and seen[oldest] == 0
    body = response.get_data(as_text=True)
    for case in (first, second):
        assert case.id not in body and case.id.replace("-", "") not in body
        assert case.receipt not in body  # type: ignore[attr-defined]


def test_metrics_count_cases_past_their_acknowledgement_deadline(with_token: Flask, client: FlaskClient) -> None:
    case = make_case()
    level = f'confide_cases_past_ack_deadline{{level="L{case.level}"}}'
    seen = figures(scrape(client))
    assert {name: value for name, value in seen.items() if "past_ack" in name} == {
        f'confide_cases_past_ack_deadline{{level="L{n}"}}': 0 for n in range(4)
    }
    case.ack_due_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert figures(scrape(client))[level] == 1
    acknowledge(make_staff("coordinator").user, case)
    assert figures(scrape(client))[level] == 0
    assert case.id not in scrape(client).get_data(as_text=True)


def test_metrics_count_failed_jobs_and_live_workers(with_token: Flask, client: FlaskClient) -> None:
    urgent, default = queue_names()
    seen = figures(scrape(client))
    for name in (urgent, default):
        assert seen[f'confide_jobs_failed{{queue="{name}"}}'] == 0
    assert seen["confide_workers"] == 0
    redis = redis_connection()
    queues = [Queue(name, connection=redis, serializer="json") for name in (urgent, default)]
    # A routing job that cannot run (it names no case) fails in a real worker.
    queues[0].enqueue(ROUTE_JOB)
    SimpleWorker(queues, connection=redis, serializer="json", job_class=ListedJob).work(burst=True)
    seen = figures(scrape(client))
    assert seen[f'confide_jobs_failed{{queue="{urgent}"}}'] == 1
    assert seen[f'confide_jobs_failed{{queue="{default}"}}'] == 0
    assert seen["confide_workers"] == 0, "a burst worker is gone when done"
    # Two worker processes keep their liveness keys fresh (workers/__main__.py).
    for name in ("host-a.1", "host-b.2"):
        redis.set(worker_alive_key(name), "1", ex=ALIVE_SECONDS)
    assert figures(scrape(client))["confide_workers"] == 2
    # One killed without a word: its key expires with its last refresh.
    redis.delete(worker_alive_key("host-a.1"))
    assert figures(scrape(client))["confide_workers"] == 1
    assert "host-b" not in scrape(client).get_data(as_text=True)


def test_metrics_still_answer_when_redis_does_not(base_app: Flask, app: Flask, keys_dir: Path, log_file: Path) -> None:
    make_case()
    database = base_app.config["SQLALCHEMY_DATABASE_URI"]
    settings = app.config["CONFIDE"]
    with another_app(
        keys_dir,
        log_file,
        database,
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        queue_prefix=settings.queue_prefix,
        metrics_token=TOKEN,
    ) as down:
        seen = figures(scrape(down.test_client()))
    assert seen['confide_metrics_source_up{source="database"}'] == 1
    assert seen['confide_metrics_source_up{source="redis"}'] == 0
    assert seen["confide_cases_awaiting_routing"] == 1
    assert not any(name.startswith(("confide_workers", "confide_jobs_failed")) for name in seen)


def test_nothing_is_logged_with_the_client_address(base_app: Flask, app: Flask, keys_dir: Path, log_file: Path) -> None:
    start = log_file.stat().st_size if log_file.exists() else 0
    database = base_app.config["SQLALCHEMY_DATABASE_URI"]
    with another_app(
        keys_dir,
        log_file,
        database,
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        metrics_token=TOKEN,
    ) as down:
        client = down.test_client()
        client.environ_base["REMOTE_ADDR"] = CLIENT_ADDRESS
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").get_json()["redis"] == "unavailable"
        assert scrape(client, "wrong").status_code == 404
        assert scrape(client).status_code == 200
    with log_file.open(encoding="utf-8") as handle:
        handle.seek(start)
        logged = handle.read()
    assert "readiness: Redis does not answer (ConnectionError)" in logged, "the failure is logged, by kind"
    assert CLIENT_ADDRESS not in logged


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="metrics_token must be at least 32 characters"):
        load_settings(overrides={"metrics_token": "letmein"})
    assert load_settings(overrides={"metrics_token": TOKEN}).metrics_token == TOKEN
    assert load_settings().metrics_token == "", "closed unless configured"
