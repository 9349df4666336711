"""`flask staff reset`: the operator's way back in for someone who lost their sign-in."""

from __future__ import annotations

import click

from app.program import accounts
from app.staff.cli import staff_cli
from app.staff.services import StaffError, find_by_email


@staff_cli.command("reset")
@click.option("--email", required=True)
def reset_command(email: str) -> None:
    """Reset a person's sign-in and print a new one-time enrolment URL (the last line).

    As a coordinator's reset: the old password, authenticator app and recovery codes stop
    working at once and every session ends. It works for the last coordinator too: from the
    shell, it is how a program whose only coordinator lost their phone gets back in."""
    user = find_by_email(email)
    if user is None:
        raise click.ClickException(f"no account has the address {email.strip().lower()}")
    try:
        url = accounts.reset_sign_in(user, by=None)
    except StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Reset the sign-in of {user.email}. Their old password and codes no longer work.")
    click.echo("Send them this link, by a channel only they read; it works once:")
    click.echo(url)
