"""`flask rights seed`: the articles Confide ships, added to the library where it lacks them."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.rights.library import LibraryError
from app.rights.seed import SeedError, seed

rights_cli = AppGroup("rights", help="The know-your-rights library.")


@rights_cli.command("seed")
def seed_command() -> None:
    """Add and publish the shipped articles the library does not hold yet, in the program's
    languages. Safe to run again: nothing already there is changed."""
    try:
        added = seed()
    except (SeedError, LibraryError) as error:
        raise click.ClickException(str(error)) from None
    for name in added:
        click.echo(f"Added and published {name}.")
    click.echo(f"The library has every shipped article ({len(added)} added now).")


def init_cli(app: Flask) -> None:
    app.cli.add_command(rights_cli)
