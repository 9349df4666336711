"""Fixtures for backups: an age key pair, the app set to back up to it, and an empty database
of the app's kind to restore into (a PostgreSQL database of its own, dropped afterwards)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from pyrage import x25519

from app import create_app
from app.config import BackupSettings
from app.extensions import db
from tests.conftest import PG_ADMIN_URL, PG_DATABASE, BrowserLikeClient, pg_url, settings_for


@dataclasses.dataclass(frozen=True)
class AgeKey:
    identity_file: Path
    recipient: str


def tool(name: str) -> str:
    """A command-line tool used for real (installed by .ci/run)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CONFIDE_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{name} is not installed (Debian packages age and postgresql-client)")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture
def age_key(tmp_path: Path) -> AgeKey:
    """An age key pair, its secret half in a file as age-keygen writes it."""
    identity = x25519.Identity.generate()
    path = tmp_path / "backup-key.txt"
    path.write_text(f"# created: for a test\n# public key: {identity.to_public()}\n{identity}\n")
    path.chmod(0o600)
    return AgeKey(path, str(identity.to_public()))


def backup_settings(key: AgeKey, tmp_path: Path) -> BackupSettings:
    return BackupSettings(recipients=(key.recipient,), recipients_file="", state_file=str(tmp_path / "last.json"))


@pytest.fixture
def backing_up(app: Flask, age_key: AgeKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The test's app, its backups encrypted to ``age_key``."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        for name in ("pg_dump", "pg_restore"):
            tool(name)
    settings = app.config["CONFIDE"]
    monkeypatch.setitem(app.config, "CONFIDE", dataclasses.replace(settings, backup=backup_settings(age_key, tmp_path)))
    return app


@pytest.fixture
def empty_database(app: Flask, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database of the app's kind."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'confide.db'}"
        return
    name = f"{PG_DATABASE}_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def app_on(database_url: str, keys_dir: Path, log_file: Path) -> Iterator[Flask]:
    """Another app, as a new deployment would run, on ``database_url``; its context pushed."""
    other = create_app(settings_for(database_url, keys_dir, log_file, queue_prefix="confide-test-restored"))
    other.test_client_class = BrowserLikeClient
    try:
        with other.app_context():
            yield other
            db.session.remove()
    finally:
        with other.app_context():
            db.engine.dispose()
