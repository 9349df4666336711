"""`flask backup create`: one consistent snapshot of the database, encrypted to the program's
backup recipients, with a manifest that says what it holds and which keys it needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyrage import x25519

from app.backup.archive import BackupFileError, encrypted_zip, file_chunks, parse_recipients
from app.backup.databases import PG_DUMP_NAME, SQLITE_NAME, postgres_dump, sqlite_copy
from app.backup.manifest import MANIFEST_NAME, Manifest, keyring_metadata
from app.backup.state import record_backup
from app.config import ROOT, Settings, current_settings
from app.extensions import db
from app.keystore import current_keyring
from app.models import utcnow
from app.signals import announce


@dataclass(frozen=True)
class Made:
    manifest: Manifest
    path: Path
    bytes: int


def backup_recipients(settings: Settings) -> list[x25519.Recipient]:
    """The age public keys of ``backup.recipients`` and ``backup.recipients_file``."""
    recipients = parse_recipients(list(settings.backup.recipients), "backup.recipients")
    if settings.backup.recipients_file:
        path = Path(settings.backup.recipients_file)
        path = path if path.is_absolute() else ROOT / path
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise BackupFileError(f"cannot read backup.recipients_file {path}: {error.__class__.__name__}") from None
        recipients += parse_recipients(lines, str(path))
    if not recipients:
        raise BackupFileError(
            "no backup recipients: list the age public keys of whoever may restore in backup.recipients "
            "or backup.recipients_file (config.example.toml)"
        )
    return recipients


def make_backup(out: Path, shredded: list[str] | None = None) -> Made:
    """Write a backup of the app's database to ``out`` (a new file, mode 0600), encrypted to
    the backup recipients; ``shredded``: the case ids shredded so far, kept in the manifest.
    Records the time in ``backup.state_file`` and announces ``backup_created``."""
    settings = current_settings()
    recipients = backup_recipients(settings)
    ring, engine, created_at = current_keyring(), db.engine, utcnow()
    with encrypted_zip(out, recipients) as archive:
        if engine.dialect.name == "postgresql":
            with postgres_dump(engine) as (facts, chunks):
                dump = archive.stream(PG_DUMP_NAME, chunks)
        elif engine.dialect.name == "sqlite":
            with sqlite_copy(engine) as (facts, copy), open(copy, "rb") as handle:
                dump = archive.stream(SQLITE_NAME, file_chunks(handle), compress=True)
        else:
            raise BackupFileError(f"cannot back up a {engine.dialect.name} database")
        manifest = Manifest(
            created_at=created_at,
            database=engine.dialect.name,
            schema_revision=facts.revision,
            dump_name=dump.name,
            dump_bytes=dump.bytes,
            dump_sha256=dump.sha256,
            tables=facts.tables,
            keyring=keyring_metadata(ring, facts.wraps),
            audit=facts.audit,
            shredded=tuple(sorted(set(shredded or ()))),
        )
        archive.add(MANIFEST_NAME, manifest.to_json())
    size = out.stat().st_size
    record_backup(settings, utcnow(), size)
    announce(
        "backup_created",
        actor="",
        role="operator",
        database=manifest.database,
        cases=manifest.tables.get("cases", 0),
        bytes=size,
        recipients=len(recipients),
    )
    return Made(manifest, out, size)
