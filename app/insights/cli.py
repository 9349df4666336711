"""`flask insights recount`: count every filed report's and support request's answers again,
with the keyring."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.cases.tallies import recount

insights_cli = AppGroup("insights", help="The program's figures.")


@insights_cli.command("recount")
def recount_command() -> None:
    """Count every report's answers again from the cases themselves (the sealed ones opened
    with the keyring, in memory only): after upgrading from a version that did not count them,
    or to check them. Replaces the counts of the months that have cases, while reports keep
    coming in; a month whose cases are all deleted keeps its counts."""
    counted = recount()
    click.echo(f"Counted the answers of {counted.reports} reports.")
    if counted.months:
        click.echo(f"Counted again: {', '.join(counted.months)}. Other months are kept as they were.")


def init_cli(app: Flask) -> None:
    app.cli.add_command(insights_cli)
