"""Fixture chain: settings → app (per database) → clean db and Redis → client.

Every test that takes ``app`` (or anything built on it) runs on SQLite and on PostgreSQL.
Redis and the databases are real servers; set CONFIDE_REQUIRE_POSTGRES=1 (as .ci/run does)
to fail instead of skipping when PostgreSQL cannot be reached.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from app import create_app
from app.config import load_settings
from app.crypto import create_keyring
from app.extensions import db, limiter
from app.staff import credentials
from tests import totp
from tests.smtp import smtp  # noqa: F401 - the real SMTP server, a fixture for every test

REDIS_URL = os.environ.get("CONFIDE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_ADMIN_URL = os.environ.get("CONFIDE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_DATABASE = os.environ.get("CONFIDE_TEST_PG_DATABASE", "confide_test")
BACKENDS = ["sqlite", "postgresql"]


# Fixtures that reach a server (the database, Redis, a browser): a test that asks for none of
# them is a unit test, marked so, and `make unit` runs those alone in seconds.
SERVICES = frozenset({"database_url", "base_app", "app", "client", "redis_client", "live_server", "phone", "browser"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICES.isdisjoint(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.unit)


def _require_postgres() -> bool:
    return os.environ.get("CONFIDE_REQUIRE_POSTGRES") == "1"


def pg_url(database: str = PG_DATABASE) -> str:
    return re.sub(r"/[^/]*$", f"/{database}", PG_ADMIN_URL).replace("postgresql://", "postgresql+psycopg://", 1)


def recreate_pg_database(database: str) -> str:
    """A fresh, empty PostgreSQL database; returns its SQLAlchemy URL."""
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
    except psycopg.OperationalError as error:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {error}"
        if _require_postgres():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return pg_url(database)


@pytest.fixture(autouse=True)
def totp_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's TOTP check reads tests/totp.py's clock, which a test moves on rather than
    wait half a minute for a fresh code; each test starts at the real time."""
    totp.CLOCK.offset = 0.0
    monkeypatch.setattr(credentials, "time", types.SimpleNamespace(time=totp.now))


@pytest.fixture(scope="session")
def redis_client() -> Redis:
    client = Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except RedisError as error:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {error}", pytrace=False)
    return client


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    create_keyring(directory)
    return directory


@pytest.fixture(scope="session")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "confide.log"


def settings_for(database_url: str, keys_dir: Path, log_file: Path, **overrides: Any) -> Any:
    base: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "redis_url": REDIS_URL,
        "keys_dir": str(keys_dir),
        "log_file": str(log_file),
        "audit_checkpoints": str(log_file.with_suffix(".checkpoints")),
        "queue_prefix": "confide-test",
        # Not a loopback address, so a client address in a log cannot hide behind a link.
        "public_url": "https://confide.example",
        # Every request reads the figures afresh (tests/insights/test_dashboard.py tests keeping them).
        "insights_cache_seconds": 0,
        # Never in the project's own folder; no backup is made here unless a test makes one.
        "backup": {"state_file": str(log_file.with_name("no-backup-made.json"))},
        "rate_limits": {
            "report": "1000 per minute",
            "report_all": "1000 per minute",
            "status": "1000 per minute",
            "staff_login": "1000 per minute",
            "staff_search": "1000 per minute",
        },
    }
    base.update(overrides)
    return load_settings(overrides=base)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'confide.db'}"
    return recreate_pg_database(PG_DATABASE)


@pytest.fixture(scope="session")
def base_app(database_url: str, keys_dir: Path, log_file: Path) -> Iterator[Flask]:
    app = create_app(settings_for(database_url, keys_dir, log_file))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def clean_database() -> None:
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(base_app: Flask, redis_client: Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    redis_client.flushdb()
    # Queues of this test's own: no worker left over from another test can take its jobs.
    settings = base_app.config["CONFIDE"]
    prefix = f"{settings.queue_prefix}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(base_app.config, "CONFIDE", dataclasses.replace(settings, queue_prefix=prefix))
    # One Limiter object serves every app a test process makes, and it remembers a Redis it
    # found dead (Flask-Limiter then counts in memory until it checks again): a test that
    # pointed an app at a dead Redis must not leave the next one counting in memory.
    limiter._storage_dead = False
    with base_app.app_context():
        clean_database()
        Path(settings.audit_checkpoints).unlink(missing_ok=True)  # they were of the last test's log
        yield base_app
        db.session.remove()


class BrowserLikeClient(FlaskClient):
    """Each request in its own app context, as in a real server, so nothing cached in ``g``
    leaks between requests; afterwards the test's own session sees what was committed."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.rollback()
        return response


@contextlib.contextmanager
def app_with_limits(base_app: Flask, keys_dir: Path, log_file: Path, name: str, **limits: str) -> Iterator[Flask]:
    """Another app on the same database, with the rate limits ``limits`` (the others as tests
    have them), its queues under a prefix of its own."""
    defaults = {"report": "1000 per minute", "status": "1000 per minute", "staff_login": "1000 per minute"}
    limited = create_app(
        settings_for(
            base_app.config["SQLALCHEMY_DATABASE_URI"],
            keys_dir,
            log_file,
            rate_limits=defaults | {"staff_search": "1000 per minute"} | limits,
            queue_prefix=f"confide-test-{name}",
        )
    )
    limited.test_client_class = BrowserLikeClient
    try:
        yield limited
    finally:
        with limited.app_context():
            redis = limited.extensions.get("confide_redis")
            if redis is not None:
                redis.close()
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = BrowserLikeClient
    return app.test_client()


def run_worker(app: Flask) -> int:
    """Work every queued job in this process with a real RQ worker; returns how many ran.

    A job that fails fails the test."""
    from app.triage.queue import queue_names, redis_connection

    queues = [Queue(name, connection=redis_connection(), serializer="json") for name in queue_names()]
    waiting = sum(queue.count for queue in queues)
    SimpleWorker(queues, connection=redis_connection(), serializer="json").work(burst=True)
    failed = [job_id for queue in queues for job_id in queue.failed_job_registry.get_job_ids()]
    assert not failed, f"jobs failed: {failed}"
    assert sum(queue.count for queue in queues) == 0
    return waiting


def worker_env(app: Flask, keys_dir: Path, log_file: Path) -> dict[str, str]:
    """The environment for a real `python -m workers` process serving ``app``'s database."""
    settings = app.config["CONFIDE"]
    env = {
        **os.environ,
        "CONFIDE_ENV": "test",
        "CONFIDE_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CONFIDE_REDIS_URL": REDIS_URL,
        "CONFIDE_KEYS_DIR": str(keys_dir),
        "CONFIDE_LOG_FILE": str(log_file),
        "CONFIDE_AUDIT_CHECKPOINTS": settings.audit_checkpoints,
        "CONFIDE_QUEUE_PREFIX": settings.queue_prefix,
        # The links in the worker's mail, as the app's (see settings_for).
        "CONFIDE_PUBLIC_URL": settings.public_url,
    }
    env.pop("CONFIDE_CONFIG", None)
    return env
