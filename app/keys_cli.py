"""`flask keys ...`: create, inspect, rotate and retire the keyring. Never prints a secret.

Rotation makes a new KEK active at once (every process reads the keyring again when it
changes, app/keystore.py) and leaves wrapping the case keys again to the workers, in batches
that survive any stop (app/cases/rekeying.py); the command follows them with a progress bar,
and does the rest itself if no worker is there. The KEK it replaced leaves the keyring only
by `flask keys retire`: once it wraps nothing and ``kek_retire_after_days`` have passed.
"""

from __future__ import annotations

import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError
from rq import Queue

from app.audit.rekeying import ChainBroken
from app.cases.rekeying import rewrap_all, waiting, wrapped_by
from app.config import current_settings
from app.crypto import Keyring, KeyringError, create_keyring, load_keyring
from app.crypto.keyring import keyring_path, save_keyring
from app.keys_uses import describe, rekey_sealed, root_uses
from app.keystore import keys_dir
from app.signals import announce
from app.triage.queue import queue_names, redis_connection

keys_cli = AppGroup("keys", help="The keyring that protects every report.")

# How long `flask keys rotate` waits for a worker to make progress before doing the work itself.
NO_WORKER_SECONDS = 10.0


def _keys_dir() -> Path:
    return keys_dir(current_settings())


def _load() -> Keyring:
    try:
        return load_keyring(_keys_dir())
    except KeyringError as error:
        raise click.ClickException(str(error)) from None


def _save(ring: Keyring) -> None:
    save_keyring(ring)
    current_app.extensions["confide_keyring"] = ring


def _retire_from(ring: Keyring, key_id: str) -> datetime | None:
    since = ring.superseded.get(key_id)
    return since + timedelta(days=current_settings().kek_retire_after_days) if since else None


def _retire_root_from(ring: Keyring, version: str) -> datetime | None:
    since = ring.root_superseded.get(version)
    return since + timedelta(days=current_settings().kek_retire_after_days) if since else None


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
    ring = _load()
    mode = stat.S_IMODE(ring.path.stat().st_mode)
    click.echo(f"keyring:    {ring.path} (mode {mode:04o})")
    click.echo(f"active KEK: {ring.active_kek_id}")
    counts = wrapped_by()
    for key_id in sorted(ring.keks):
        wraps = counts.pop(key_id, 0)
        if key_id == ring.active_kek_id:
            click.echo(f"  {key_id} (active): wraps {wraps} case key(s)")
            continue
        use = f"wraps {wraps} case key(s), being re-wrapped" if wraps else None
        _superseded(key_id, ring.superseded.get(key_id), _retire_from(ring, key_id), use, "wraps")
    for key_id, count in counts.items():
        click.echo(f"  {key_id} MISSING from keyring: {count} case(s) cannot be opened")
    _root_status(ring)


def _superseded(name: str, since: datetime | None, retire: datetime | None, use: str | None, verb: str) -> None:
    """One superseded KEK or root version: what still uses it (``use``, None: nothing), or
    when `flask keys retire` may remove it."""
    when = f"superseded {since:%Y-%m-%d %H:%M} UTC" if since else "superseded"
    if use is not None:
        click.echo(f"  {name} ({when}): {use}")
    elif retire and retire > datetime.now(UTC):
        click.echo(f"  {name} ({when}): {verb} nothing; `flask keys retire` removes it from {retire:%Y-%m-%d}")
    else:
        click.echo(f"  {name} ({when}): {verb} nothing; retire it with `flask keys retire`")


def _root_status(ring: Keyring) -> None:
    click.echo(f"active root: {ring.active_root_id}")
    uses = root_uses()
    for version in [ring.active_root_id, *ring.older_roots()]:
        protected = describe(uses.pop(version, []))
        if version == ring.active_root_id:
            click.echo(f"  {version} (active): protects {protected}")
            continue
        use = f"protects {protected}, being re-keyed" if protected != "nothing" else None
        _superseded(version, ring.root_superseded.get(version), _retire_root_from(ring, version), use, "protects")
    for version, protects in uses.items():
        click.echo(f"  {version} MISSING from keyring: {describe(protects)} cannot be used")


def _queue_rewrap() -> bool:
    try:
        Queue(queue_names()[1], connection=redis_connection(), serializer="json").enqueue(
            "workers.jobs.rewrap_keys", description="rewrap_keys", result_ttl=3600, failure_ttl=86400
        )
    except RedisError:
        return False
    return True


def _follow(ring: Keyring, total: int) -> int:
    """A progress bar while the workers re-wrap; the rest done here if none makes progress."""
    with click.progressbar(length=total, label="Re-wrapping case keys", show_pos=True) as bar:
        left, last_change = total, time.monotonic()
        while left:
            time.sleep(0.5)
            now_left = waiting(ring)
            if now_left < left:
                bar.update(left - now_left)
                left, last_change = now_left, time.monotonic()
            elif time.monotonic() - last_change > NO_WORKER_SECONDS:
                click.echo("\nNo worker is re-wrapping: doing the rest here.", err=True)
                rewrap_all(ring, done=bar.update)
                left = 0
    return total


@keys_cli.command("rotate")
@click.option("--wait/--no-wait", default=True, help="Follow the re-wrap with a progress bar (default).")
@click.option("--here", is_flag=True, help="Re-wrap in this process instead of the workers.")
def rotate_command(wait: bool, here: bool) -> None:
    """Make a new KEK active; every case key is wrapped again under it in the background."""
    old = _load()
    try:
        ring = old.with_new_kek()
    except KeyringError as error:
        raise click.ClickException(str(error)) from None
    _save(ring)
    total = waiting(ring)
    announce(
        "key_rotated", actor="", role="operator", key=ring.active_kek_id, replaced=old.active_kek_id, waiting=total
    )
    click.echo(f"New active key {ring.active_kek_id}; {total} case key(s) to re-wrap under it.")
    if here:
        with click.progressbar(length=total, label="Re-wrapping case keys", show_pos=True) as bar:
            moved = rewrap_all(ring, done=bar.update)
        click.echo(f"Re-wrapped {moved} case key(s).")
    elif not _queue_rewrap():
        click.echo("Redis is unreachable: the workers' periodic re-wrap picks it up, or run `flask keys rewrap`.")
    elif wait and total:
        _follow(ring, total)
        click.echo(f"Re-wrapped {total} case key(s).")
    else:
        click.echo("The workers are re-wrapping them; `flask keys status` shows how far they are.")
    days = current_settings().kek_retire_after_days
    click.echo(f"{old.active_kek_id} can be retired with `flask keys retire` in {days} day(s), once it wraps nothing.")


@keys_cli.command("rewrap")
def rewrap_command() -> None:
    """Finish re-wrapping case keys under the active KEK here (after a stop, say)."""
    ring = _load()
    total = waiting(ring)
    with click.progressbar(length=total, label="Re-wrapping case keys", show_pos=True) as bar:
        moved = rewrap_all(ring, done=bar.update)
    click.echo(f"Re-wrapped {moved} case key(s).")


def _rekey(ring: Keyring) -> None:
    try:
        done = rekey_sealed(ring)
    except ChainBroken as error:
        raise click.ClickException(
            f"the audit chain does not verify ({error}); it was not linked again under {ring.active_root_id}."
            " Everything else was. See `flask audit verify`."
        ) from None
    click.echo(f"Sealed {done} row(s) again under {ring.active_root_id}.")


@keys_cli.command("rekey")
def rekey_command() -> None:
    """Seal, index and link again under the active root version everything the server can
    (all but receipts, circle codes and recovery codes: those only their holders can)."""
    _rekey(_load())


@keys_cli.command("rotate-root")
def rotate_root_command() -> None:
    """Make a new version of the root secret active, and re-key under it here everything
    the server can; what only its holder can re-key is, the next time it is used."""
    old = _load()
    ring = old.with_new_root()
    _save(ring)
    announce("key_rotated", actor="", role="operator", key=ring.active_root_id, replaced=old.active_root_id, waiting=0)
    click.echo(f"New active root version {ring.active_root_id}.")
    _rekey(ring)
    click.echo(
        "Restart the web processes: they sign sessions under the new version from then on, and still accept"
        f" those signed under {old.active_root_id} while it is in the keyring. Reporters signed in now sign in again."
    )
    days = current_settings().kek_retire_after_days
    click.echo(
        f"{old.active_root_id} can be retired with `flask keys retire` in {days} day(s), once it protects nothing"
        " (receipts and circle codes are re-keyed as they are used: `flask keys status` counts them)."
    )


@keys_cli.command("retire")
def retire_command() -> None:
    """Remove from the keyring every superseded KEK that wraps no case key any more, and every
    superseded root version that protects nothing any more, superseded at least
    ``kek_retire_after_days`` ago."""
    ring = _load()
    older = sorted(key_id for key_id in ring.keks if key_id != ring.active_kek_id)
    counts = wrapped_by(older)
    retired = []
    for key_id in older:
        retire = _retire_from(ring, key_id)
        if counts.get(key_id):
            click.echo(f"{key_id}: still wraps {counts[key_id]} case key(s); kept (see `flask keys status`).")
        elif retire and retire > datetime.now(UTC):
            click.echo(f"{key_id}: kept until {retire:%Y-%m-%d} (kek_retire_after_days).")
        else:
            ring = ring.without_kek(key_id)
            retired.append(key_id)
    ring, retired_roots = _retire_roots(ring)
    retired += retired_roots
    if not retired:
        click.echo("Nothing retired.")
        return
    _save(ring)
    for key_id in retired:
        announce("key_retired", actor="", role="operator", key=key_id)
        click.echo(f"{key_id}: retired; it is gone from the keyring.")
    click.echo("Make a new offline backup of the keyring; keep the old one while older database backups are kept.")


def _retire_roots(ring: Keyring) -> tuple[Keyring, list[str]]:
    """``ring`` without the superseded root versions that protect nothing and are old enough."""
    uses, retired = root_uses(), []
    for version in ring.older_roots():
        retire = _retire_root_from(ring, version)
        if version in uses:
            click.echo(f"{version}: still protects {describe(uses[version])}; kept (see `flask keys status`).")
        elif retire and retire > datetime.now(UTC):
            click.echo(f"{version}: kept until {retire:%Y-%m-%d} (kek_retire_after_days).")
        else:
            ring = ring.without_root(version)
            retired.append(version)
    return ring, retired


def init_cli(app: Flask) -> None:
    app.cli.add_command(keys_cli)
