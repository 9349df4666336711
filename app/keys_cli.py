"""`flask keys ...`: create, inspect and rotate the keyring. Never prints a secret."""

from __future__ import annotations

import stat
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.cases.models import Case
from app.cases.sealing import rewrap_case_key
from app.config import current_settings
from app.crypto import KeyringError, create_keyring, load_keyring
from app.crypto.keyring import keyring_path, save_keyring
from app.extensions import db
from app.keystore import keys_dir

keys_cli = AppGroup("keys", help="The keyring that protects every report.")


def _keys_dir() -> Path:
    return keys_dir(current_settings())


@keys_cli.command("init")
@click.option("--if-missing", is_flag=True, help="Do nothing if a keyring already exists.")
def init_command(if_missing: bool) -> None:
    """Create a new keyring (mode 0600). Refuses to replace an existing one."""
    if if_missing and keyring_path(_keys_dir()).exists():
        click.echo(f"Keyring already present at {keyring_path(_keys_dir())}.")
        return
    try:
        ring = create_keyring(_keys_dir())
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Created {ring.path} with key {ring.active_kek_id}.")
    click.echo("Back it up somewhere other than the database backups.")


@keys_cli.command("status")
def status_command() -> None:
    """Show the keyring's state and how many case keys each KEK wraps."""
    try:
        ring = load_keyring(_keys_dir())
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    mode = stat.S_IMODE(ring.path.stat().st_mode)
    click.echo(f"keyring:    {ring.path} (mode {mode:04o})")
    click.echo(f"active KEK: {ring.active_kek_id}")
    counts = dict(db.session.execute(select(Case.dek_key_id, func.count()).group_by(Case.dek_key_id)).all())
    for key_id in sorted(ring.keks):
        marker = " (active)" if key_id == ring.active_kek_id else ""
        click.echo(f"  {key_id}{marker}: wraps {counts.pop(key_id, 0)} case key(s)")
    for key_id, count in counts.items():
        click.echo(f"  {key_id} MISSING from keyring: {count} case(s) cannot be opened")


@keys_cli.command("rotate")
def rotate_command() -> None:
    """Add a new KEK, make it active and re-wrap every case key under it."""
    try:
        ring = load_keyring(_keys_dir()).with_new_kek()
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    save_keyring(ring)
    current_app.extensions["confide_keyring"] = ring
    moved = 0
    for case in db.session.scalars(select(Case).where(Case.dek_key_id != ring.active_kek_id)):
        rewrap_case_key(ring, case)
        moved += 1
    db.session.commit()
    click.echo(f"New active key {ring.active_kek_id}; re-wrapped {moved} case key(s).")


def init_cli(app: Flask) -> None:
    app.cli.add_command(keys_cli)
