"""The keyring as tests that change it need it: put back afterwards, and apps that start
from it afresh, as a restarted process would."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.crypto import load_keyring
from app.extensions import db
from tests.conftest import BrowserLikeClient, settings_for


@pytest.fixture
def own_keyring(app: Flask, keys_dir: Path) -> Iterator[Path]:
    """The shared test keyring, put back as it was after the test."""
    original = (keys_dir / "keyring.json").read_bytes()
    try:
        yield keys_dir
    finally:
        (keys_dir / "keyring.json").write_bytes(original)
        app.extensions["confide_keyring"] = load_keyring(keys_dir)


@contextlib.contextmanager
def restarted(app: Flask, keys_dir: Path, log_file: Path) -> Iterator[Flask]:
    """A new app on the same database and keyring folder, reading the keyring as it is now."""
    settings = app.config["CONFIDE"]
    fresh = create_app(
        settings_for(app.config["SQLALCHEMY_DATABASE_URI"], keys_dir, log_file, queue_prefix=settings.queue_prefix)
    )
    fresh.test_client_class = BrowserLikeClient
    try:
        yield fresh
    finally:
        with fresh.app_context():
            db.engine.dispose()
