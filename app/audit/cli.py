"""`flask audit verify`: check every link of the audit chain."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.audit.log import verify
from app.audit.models import AuditEntry
from app.extensions import db

audit_cli = AppGroup("audit", help="The tamper-evident audit log.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Exit 0 if the chain is whole; otherwise name the first broken entry and exit 1."""
    problem = verify()
    total = db.session.scalar(select(func.count()).select_from(AuditEntry))
    if problem is None:
        click.echo(f"Audit log intact: {total} entries, every link verified.")
        return
    click.echo(f"Audit log BROKEN at entry {problem.entry_id}: {problem.reason}.", err=True)
    raise SystemExit(1)


def init_cli(app: Flask) -> None:
    app.cli.add_command(audit_cli)
