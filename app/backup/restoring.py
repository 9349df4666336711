"""`flask backup restore`: a backup into an empty database, then proof that it serves.

Everything that can be checked before the database is touched is: the file opens with the
identity given, its manifest and dump's SHA-256 agree, the operator's keyring holds every KEK
its cases need (and the same root secret), the code knows its schema, and the target holds no
table. The backup is decrypted into a private temporary folder (mode 0700), removed at the end.
After loading: the schema is brought up to this version's, the rows are counted against the
manifest, the shred list is applied again, the audit chain is verified, and a sample of cases
each has its data key unwrapped and its report opened with the current keyring.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from pyrage import x25519
from sqlalchemy import func, select

from app.audit.checkpoints import read_checkpoints
from app.audit.log import verify
from app.backup.archive import BackupFileError, decrypt, member_chunks
from app.backup.databases import is_empty, postgres_restore, read_facts, sqlite_restore
from app.backup.manifest import MANIFEST_NAME, Manifest, keyring_problems
from app.backup.shreds import reapply
from app.cases.models import Case
from app.cases.sealing import case_key, open_json
from app.config import ROOT
from app.crypto import DecryptionError, KeyringError
from app.extensions import db
from app.keystore import current_keyring
from app.signals import announce

SAMPLE = 50


@dataclass
class Restored:
    manifest: Manifest
    rows: int = 0
    upgraded_to: str | None = None
    shredded_again: int = 0
    audit_entries: int = 0
    sampled: int = 0
    opened: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _migrations() -> ScriptDirectory:
    return ScriptDirectory(str(ROOT / "migrations"))


def _refusals(manifest: Manifest, database: str) -> list[str]:
    refusals = []
    if manifest.database != database:
        refusals.append(f"it is a {manifest.database} backup and the app's database is {database}")
    refusals += keyring_problems(manifest.keyring, current_keyring())
    known = {script.revision for script in _migrations().walk_revisions()}
    if manifest.schema_revision and manifest.schema_revision not in known:
        refusals.append(
            f"it was made by a newer version of Confide (schema {manifest.schema_revision}): "
            "restore it with that version"
        )
    if not is_empty(db.engine):
        refusals.append("the app's database is not empty: restore only into a new, empty database")
    return refusals


def _unpack(path: Path, identities: list[x25519.Identity], folder: Path) -> tuple[Manifest, Path]:
    """The manifest, and the dump checked against it and written to ``folder`` (mode 0600)."""
    decrypted = decrypt(path, identities, folder)
    try:
        with zipfile.ZipFile(decrypted) as archive:
            try:
                manifest = Manifest.from_json(archive.read(MANIFEST_NAME))
            except (KeyError, ValueError) as error:
                raise BackupFileError(f"{path} is not a Confide backup: {error}") from None
            dump = folder / "dump"
            digest, size = hashlib.sha256(), 0
            with os.fdopen(os.open(dump, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as sink:
                for chunk in member_chunks(archive, manifest.dump_name):
                    digest.update(chunk)
                    size += len(chunk)
                    sink.write(chunk)
    except (zipfile.BadZipFile, KeyError):
        raise BackupFileError(f"{path} is not a Confide backup (no readable archive inside)") from None
    finally:
        decrypted.unlink()  # the dump alone is needed from here
    if digest.hexdigest() != manifest.dump_sha256 or size != manifest.dump_bytes:
        raise BackupFileError(f"{path}: the database dump does not match its manifest (damaged?)")
    return manifest, dump


def restore_backup(
    path: Path, identities: list[x25519.Identity], shred_list: Iterable[str] = (), sample: int = SAMPLE
) -> Restored:
    """Restore the backup at ``path`` into the app's (empty) database and verify it. Raises
    BackupFileError, touching nothing, if it cannot be restored here; what verification
    finds wrong afterwards is in ``problems``."""
    engine = db.engine
    with tempfile.TemporaryDirectory(prefix="confide-restore-") as folder:
        os.chmod(folder, 0o700)
        manifest, dump = _unpack(path, identities, Path(folder))
        refusals = _refusals(manifest, engine.dialect.name)
        if refusals:
            raise BackupFileError("not restored: " + "; ".join(refusals))
        db.session.remove()
        if engine.dialect.name == "postgresql":
            postgres_restore(engine, dump)
        else:
            sqlite_restore(engine, dump)
    done = Restored(manifest)
    _check_rows(done)
    head = _migrations().get_current_head()
    if manifest.schema_revision != head:
        upgrade()
        done.upgraded_to = head
    done.shredded_again = reapply({*manifest.shredded, *shred_list})
    _check_audit(done)
    _check_sample(done, sample)
    if not done.problems:
        announce(
            "backup_restored",
            actor="",
            role="operator",
            made=manifest.created_at.isoformat(timespec="seconds"),
            cases=manifest.tables.get("cases", 0),
            shredded_again=done.shredded_again,
            sampled=done.sampled,
        )
    return done


def _check_rows(done: Restored) -> None:
    with db.engine.connect() as connection:
        facts = read_facts(connection)
    done.rows = sum(facts.tables.values())
    for table, expected in sorted(done.manifest.tables.items()):
        if facts.tables.get(table) != expected:
            done.problems.append(f"table {table}: {facts.tables.get(table)} row(s) restored, the backup had {expected}")
    if facts.audit != done.manifest.audit:
        done.problems.append("the audit log's head is not the one the backup recorded")


def _check_audit(done: Restored) -> None:
    through = int(done.manifest.audit.get("last_id") or 0)
    problem = verify(checkpoints_through=through)
    done.audit_entries = through
    if problem is not None:
        where = f" at entry {problem.entry_id}" if problem.entry_id is not None else ""
        done.problems.append(f"audit log broken{where}: {problem.reason}")
    points, _ = read_checkpoints()
    later = max((point.last_id for point in points if point.last_id > through), default=None)
    if later is not None:
        done.notes.append(
            f"the audit checkpoints file saw entries up to {later}; this backup's log ends at {through}: "
            "what happened after the backup was made is not in it. `flask audit verify` will say so until "
            "that file is moved aside (keep it: it is the record of the log as it was)"
        )


def _check_sample(done: Restored, sample: int) -> None:
    ring = current_keyring()
    cases = db.session.scalars(select(Case).order_by(func.random()).limit(sample)).all()
    for case in cases:
        done.sampled += 1
        try:
            open_json(case_key(ring, case), case.report_sealed, record="case", record_id=case.id, field="report")
        except (DecryptionError, KeyringError, ValueError):
            continue
        done.opened += 1
    if done.opened < done.sampled:
        done.problems.append(f"{done.sampled - done.opened} of {done.sampled} sampled case(s) do not open")
    db.session.rollback()
