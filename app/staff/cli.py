"""`flask staff invite`: the first coordinator, and anyone else, from the shell."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.staff.models import ROLES
from app.staff.services import StaffError, invite_staff

staff_cli = AppGroup("staff", help="Staff accounts.")


@staff_cli.command("invite")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--email", required=True)
@click.option("--name", default="")
def invite_command(role: str, email: str, name: str) -> None:
    """Create an account and print its one-time enrolment URL (the last line)."""
    try:
        url = invite_staff(email, role, name=name)
    except StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Invited {email} as {role}. Send them this link; it works once:")
    click.echo(url)


def init_cli(app: Flask) -> None:
    app.cli.add_command(staff_cli)
