"""`flask referrals export`: hand a counsel every referral they may open, in one age file."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.referrals.export import ExportError, plan_export, write_export
from app.referrals.packet import PacketError

referrals_cli = AppGroup("referrals", help="Referrals to counsel.")


@referrals_cli.command("export")
@click.option("--counsel", "email", required=True, help="The counsel's account email.")
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only referrals sent on or after this day (UTC)."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write, e.g. firm.zip.age.",
)
@click.option(
    "--jobs", type=click.IntRange(1, 64), help="Processes that render PDFs (default: one per CPU for large exports)."
)
def export_command(email: str, since: datetime | None, out: Path, jobs: int | None) -> None:
    """Write every open referral for one counsel, encrypted to their age key."""
    if not out.parent.is_dir():
        raise click.ClickException(f"The folder {out.parent} does not exist.")
    try:
        plan = plan_export(email, since.date() if since else None)
    except ExportError as error:
        raise click.ClickException(str(error)) from None
    if not plan.referral_ids:
        raise click.ClickException(
            f"{plan.counsel.email} has no open referrals{' since then' if since else ''}; nothing written."
        )
    with click.progressbar(length=len(plan.referral_ids), label="Making packets", file=sys.stderr) as bar:
        try:
            count = write_export(
                plan, out, step=lambda: bar.update(1), jobs=jobs or default_jobs(len(plan.referral_ids))
            )
        except PacketError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{count} referral(s) written to {out}, encrypted to {plan.counsel.email}'s age key.")
    click.echo(f"They open it with: age -d -i key.txt {out.name} > referrals.zip")


def default_jobs(referrals: int) -> int:
    """Starting a rendering process costs about as much as a hundred packets: worth it for a
    large export only."""
    return min(os.cpu_count() or 1, 4) if referrals >= 200 else 1


def init_cli(app: Flask) -> None:
    app.cli.add_command(referrals_cli)
