"""`flask staff ...`: the first coordinator, invitations and the list of people, from the shell
(`flask staff reset` is app.program.cli's: a reset tells its owner by email)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.staff.models import ROLES, StaffUser
from app.staff.services import StaffError, invite_staff

staff_cli = AppGroup("staff", help="Staff accounts.")


@staff_cli.command("invite")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--email", required=True)
@click.option("--name", default="")
def invite_command(role: str, email: str, name: str) -> None:
    """Create an account and print its one-time enrolment URL (the last line).

    A deactivated person is invited afresh: their account opens again with this role, and
    their old password and authenticator app no longer work."""
    try:
        url = invite_staff(email, role, name=name)
    except StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Invited {email} as {role}. Send them this link; it works once:")
    click.echo(url)


@staff_cli.command("first-coordinator")
@click.option("--email", default="coordinator@confide.local", show_default=True)
@click.option("--name", default="First coordinator", show_default=True)
def first_coordinator_command(email: str, name: str) -> None:
    """While no coordinator can sign in: print a one-time enrolment link for a first one."""
    from app.staff.lifecycle import can_sign_in

    if db.session.scalar(select(StaffUser.id).where(StaffUser.role == "coordinator", can_sign_in())):
        click.echo("A coordinator can already sign in: they invite others (or use `flask staff invite`).")
        return
    try:
        url = invite_staff(email, "coordinator", name=name)
    except StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo("First coordinator: open this link to set a password and TOTP")
    click.echo(f"(it works once; `flask staff invite` makes more): {url}")


def _when(user: StaffUser) -> str:
    return user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"


@staff_cli.command("list")
def list_command() -> None:
    """Everyone with an account: email, name, role, state, duty, last sign-in. No secrets."""
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.email)).all()
    rows = [("EMAIL", "NAME", "ROLE", "ACTIVE", "ENROLLED", "ON DUTY", "LAST SIGN-IN")]
    rows += [
        (
            user.email,
            user.name or "-",
            user.role,
            "yes" if user.active else "no",
            "yes" if user.enrolled else "no",
            "yes" if user.on_duty else "no",
            _when(user),
        )
        for user in people
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def init_cli(app: Flask) -> None:
    app.cli.add_command(staff_cli)
