"""Triage and routing: each report's urgency, the responder it goes to, the deadlines."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.triage import cli
    from app.triage.rules import init_rules

    init_rules(app)
    cli.init_cli(app)
