"""Operator commands for the triage queue."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from app.triage.explain import explain
from app.triage.queue import sweep
from app.triage.rules import current_rules

triage_cli = AppGroup("triage", help="The triage queue.")


@triage_cli.command("sweep")
def sweep_command() -> None:
    """Queue every case that has not reached a worker yet (e.g. after a Redis outage)."""
    count = sweep()
    click.echo(f"{count} case(s) queued for routing.")


@triage_cli.command("explain")
def explain_command() -> None:
    """Score reports given as JSON lines on standard input, one result line each.

    Each line holds a report with the report form's codes (language, category, narrative,
    danger_now, injured, ongoing, when, wants); a missing field is an unanswered question.
    Each output line is {"level": "L0", "signals": [...]}, or {"error": "..."} for a line that
    is not a report; the lines after it are still scored. Nothing is stored or logged.
    """
    rules = current_rules()
    for line in sys.stdin:
        line = line.rstrip("\n")
        result = explain(line, rules) if line.strip() else {"error": "empty line"}
        click.echo(json.dumps(result, ensure_ascii=False))


def init_cli(app: Flask) -> None:
    app.cli.add_command(triage_cli)
