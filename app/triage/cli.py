"""Operator commands for the triage queue."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.triage.queue import sweep

triage_cli = AppGroup("triage", help="The triage queue.")


@triage_cli.command("sweep")
def sweep_command() -> None:
    """Queue every case that has not reached a worker yet (e.g. after a Redis outage)."""
    count = sweep()
    click.echo(f"{count} case(s) queued for routing.")


def init_cli(app: Flask) -> None:
    app.cli.add_command(triage_cli)
