"""An app context for job bodies, created once per worker process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

_app: Flask | None = None


def worker_app() -> Flask:
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


@contextmanager
def job_context() -> Iterator[None]:
    """A fresh app context, so every job has a database session of its own.

    It is for the app already in use (tests), or else the worker's. Jobs run one after
    another in the worker's process; each returns its connection to the pool when it ends."""
    app = current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]
    with app.app_context():
        try:
            yield
        finally:
            from app.extensions import db

            db.session.remove()
