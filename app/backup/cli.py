"""`flask backup create` and `flask backup restore`: plain words for the operator, never a
secret and never a report's content."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.backup.archive import BackupFileError, read_identities
from app.backup.making import make_backup
from app.backup.restoring import SAMPLE, restore_backup
from app.backup.shreds import ShredListError, read_shred_list, recorded
from app.backup.state import last_backup, state_path
from app.config import current_settings

backup_cli = AppGroup("backup", help="Encrypted backups of the database, and restoring them.")


def _shred_list(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return read_shred_list(path)
    except ShredListError as error:
        raise click.ClickException(str(error)) from None


@backup_cli.command("create")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="New file, FILE.age."
)
@click.option(
    "--shred-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="More case ids shredded, one a line, beside the database's own list: kept in the backup.",
)
def create_command(out: Path, shred_list: Path | None) -> None:
    """Back up the database, encrypted with age to the backup recipients (backup.recipients)."""
    try:
        made = make_backup(out, [*recorded(), *_shred_list(shred_list)])
    except BackupFileError as error:
        raise click.ClickException(str(error)) from None
    manifest = made.manifest
    click.echo(f"Backup written to {made.path} ({made.bytes:,} bytes), encrypted to the backup recipients.")
    click.echo(
        f"It holds the {manifest.database} database at schema {manifest.schema_revision}: "
        f"{manifest.tables.get('cases', 0):,} case(s), {manifest.audit.get('last_id', 0):,} audit entries."
    )
    needed = sorted(key_id for key_id, kek in manifest.keyring["keks"].items() if kek["wraps"])
    click.echo(f"Restoring it needs the keyring with {', '.join(needed) or 'its root secret'}; the keyring is")
    click.echo("not in the backup: keep its own offline backup apart from this file.")


@backup_cli.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--identity",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The age secret key file of a backup recipient (read, never kept).",
)
@click.option(
    "--shred-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The live system's shredded case ids, one a line: shredded again in the restored copy.",
)
@click.option("--sample", default=SAMPLE, show_default=True, help="Cases whose report is opened to prove the keys.")
def restore_command(backup: Path, identity: Path, shred_list: Path | None, sample: int) -> None:
    """Restore BACKUP into the app's database, which must be empty, and verify it."""
    shredded = _shred_list(shred_list)
    try:
        done = restore_backup(backup, read_identities(identity), shredded, sample)
    except BackupFileError as error:
        raise click.ClickException(str(error)) from None
    manifest = done.manifest
    click.echo(f"Restored the {manifest.database} backup made {manifest.created_at:%Y-%m-%d %H:%M} UTC:")
    click.echo(
        f"  {done.rows:,} row(s) in {len(manifest.tables)} table(s), {manifest.tables.get('cases', 0):,} case(s)."
    )
    if done.upgraded_to:
        click.echo(f"  Schema brought from {manifest.schema_revision} up to {done.upgraded_to}.")
    click.echo(f"  Shredded again: {done.shredded_again} case(s) on the shred list.")
    click.echo(f"  Audit log: {done.audit_entries:,} entries checked.")
    click.echo(f"  Sample: {done.opened} of {done.sampled} case(s) opened with the current keyring.")
    for note in done.notes:
        click.echo(f"Note: {note}.")
    if done.problems:
        for problem in done.problems:
            click.echo(f"PROBLEM: {problem}.", err=True)
        raise SystemExit(1)
    click.echo("Verified: the restored database is whole and opens with this keyring.")


@backup_cli.command("shred-list")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="A file (default: print).")
def shred_list_command(out: Path | None) -> None:
    """The ids of the cases shredded so far (nothing else): keep the newest with the backups, and
    give it to `flask backup restore --shred-list` so they stay shredded in a restored copy."""
    lines = "".join(f"{case_id}\n" for case_id in recorded())
    if out is None:
        click.echo(lines, nl=False)
        return
    out.write_text(lines)
    out.chmod(0o600)
    click.echo(f"{len(lines.splitlines())} shredded case id(s) written to {out}.")


@backup_cli.command("status")
def status_command() -> None:
    """When the last backup was made, and where that is recorded."""
    settings = current_settings()
    when = last_backup(settings)
    if when is None:
        click.echo(f"No backup recorded in {state_path(settings)}.")
    else:
        click.echo(f"Last backup: {when:%Y-%m-%d %H:%M} UTC (recorded in {state_path(settings)}).")


def init_cli(app: Flask) -> None:
    app.cli.add_command(backup_cli)
