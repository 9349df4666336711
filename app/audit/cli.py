"""`flask audit verify` checks every link of the audit chain; `flask audit checkpoint`
keeps its head outside the database."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.audit.checkpoints import checkpoints_path, write_checkpoint
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
    where = f" at entry {problem.entry_id}" if problem.entry_id is not None else ""
    click.echo(f"Audit log BROKEN{where}: {problem.reason}.", err=True)
    raise SystemExit(1)


@audit_cli.command("checkpoint")
def checkpoint_command() -> None:
    """Append a checkpoint of the chain's head now (the workers do every few minutes)."""
    point = write_checkpoint()
    if point is None:
        click.echo("No new entries since the last checkpoint.")
    else:
        click.echo(f"Checkpoint written: entry {point.last_id} at {point.at}, to {checkpoints_path()}.")


def init_cli(app: Flask) -> None:
    app.cli.add_command(audit_cli)
