"""An app context for job bodies, created once per worker process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, has_app_context

_app: Flask | None = None


def worker_app() -> Flask:
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


@contextmanager
def job_context() -> Iterator[None]:
    """Reuse the caller's app context (tests, in-process workers) or push the worker's."""
    if has_app_context():
        yield
        return
    with worker_app().app_context():
        yield
