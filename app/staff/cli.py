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


@staff_cli.command("first-coordinator")
def first_coordinator_command() -> None:
    """While no coordinator has enrolled: print a one-time enrolment link for a first one."""
    from sqlalchemy import select

    from app.extensions import db
    from app.staff.models import StaffUser

    enrolled = db.session.scalar(
        select(StaffUser.id).where(StaffUser.role == "coordinator", StaffUser.enrolled_at.is_not(None))
    )
    if enrolled:
        return
    try:
        url = invite_staff("coordinator@confide.local", "coordinator", name="First coordinator")
    except StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo("First coordinator: open this link to set a password and TOTP")
    click.echo(f"(it works once; `flask staff invite` makes more): {url}")


def init_cli(app: Flask) -> None:
    app.cli.add_command(staff_cli)
