"""Asking for circles and trying codes are limited per connection, like reports and receipts;
a request over the limit is given back with what was typed, and nothing is kept."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from app.circles.models import CircleRequest
from app.extensions import db
from tests.circles.factories import ask, make_circle, open_code
from tests.conftest import app_with_limits


def test_requests_and_code_tries_are_limited_per_connection(
    base_app: Flask, app: Flask, keys_dir: Path, log_file: Path
) -> None:
    with (
        app_with_limits(
            base_app, keys_dir, log_file, "circles-limited", report="2 per minute", status="2 per minute"
        ) as limited,
        limited.app_context(),
    ):
        circle = make_circle()
        browser = limited.test_client()
        assert ask(browser, circle.id, name="Uno").status_code == 200
        assert ask(browser, circle.id, name="Dos").status_code == 200
        stopped = ask(browser, circle.id, name="Tres")
        assert stopped.status_code == 429
        html = stopped.get_data(as_text=True)
        assert "Too many requests" in html and 'value="Tres"' in html
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(CircleRequest)) == 2

        for _ in range(2):
            assert open_code(browser, "1234-5678-9012-3456-7890").status_code == 400
        assert open_code(browser, "1234-5678-9012-3456-7890").status_code == 429
