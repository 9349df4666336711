"""The two databases' own ways to take a consistent snapshot and to load one into an empty
database: pg_dump and pg_restore for PostgreSQL, SQLite's online backup API for SQLite.

The facts a manifest records (rows per table, schema revision, which KEK wraps how many case
keys, the audit chain's head) are read from the very snapshot that is dumped: PostgreSQL's
exported snapshot shared with pg_dump, or the SQLite copy itself.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.audit.models import AuditHead
from app.backup.archive import CHUNK, BackupFileError
from app.cases.models import Case

PG_DUMP_NAME = "database.pgdump"
SQLITE_NAME = "database.sqlite3"


@dataclass(frozen=True)
class Facts:
    tables: dict[str, int]
    revision: str | None
    wraps: dict[str, int]
    audit: dict[str, Any]


def read_facts(connection: Connection) -> Facts:
    """Rows per table, the schema revision, case keys per KEK and the audit head, as
    ``connection`` sees them."""
    names = sorted(inspect(connection).get_table_names())
    tables = {name: int(connection.scalar(select(func.count()).select_from(table(name))) or 0) for name in names}
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    by_key = select(Case.dek_key_id, func.count()).group_by(Case.dek_key_id)
    wraps = {str(key_id): int(count) for key_id, count in connection.execute(by_key)}
    head = connection.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)).first()
    audit = {"last_id": int(head[0]), "last_hash": str(head[1])} if head else {"last_id": 0, "last_hash": None}
    return Facts(tables, revision, wraps, audit)


def is_empty(engine: Engine) -> bool:
    """Whether the database holds no table at all (a restore goes only into such a one)."""
    with engine.connect() as connection:
        return not inspect(connection).get_table_names()


# PostgreSQL


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A connection string for pg_dump and pg_restore, and their environment: the password, if
    any, goes in PGPASSWORD, never on a command line that any user of the host can read."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


@contextmanager
def postgres_dump(engine: Engine) -> Iterator[tuple[Facts, Iterator[bytes]]]:
    """The facts of one snapshot, and pg_dump's custom-format dump of that same snapshot as
    chunks. The snapshot is held open until the dump is read."""
    connection = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    try:
        with connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar()
            # The app's limits would end this transaction while pg_dump is still reading.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
            facts = read_facts(connection)
            conninfo, env = _libpq(engine.url.render_as_string(hide_password=False))
            # The fastest compression: sealed values hardly compress, and bytea's hex escapes
            # (half of it) compress as well at 1 as at 6, in half the time (bench/lifecycle.py).
            command = ["pg_dump", "--format=custom", "--compress=1", f"--snapshot={snapshot}", f"--dbname={conninfo}"]
            with tempfile.TemporaryFile() as stderr, _started(command, stderr, env) as process:
                try:
                    yield facts, _drain(process, stderr, "pg_dump")
                finally:
                    if process.poll() is None:  # the dump was not read to its end
                        process.kill()
    finally:
        connection.close()


def _started(command: list[str], stderr: Any, env: dict[str, str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
    except FileNotFoundError:
        raise BackupFileError(_not_installed(command[0])) from None


def _not_installed(program: str) -> str:
    return f"{program} is not installed (Debian package postgresql-client, of the server's version or newer)"


def _drain(process: subprocess.Popen[bytes], stderr: Any, program: str) -> Iterator[bytes]:
    while chunk := process.stdout.read(CHUNK):  # type: ignore[union-attr]  # stdout=PIPE
        yield chunk
    if process.wait() != 0:
        stderr.seek(0)
        raise BackupFileError(f"{program} failed: {_first_error(stderr.read(), process.returncode)}")


def postgres_restore(engine: Engine, dump: Path) -> None:
    """Load a custom-format dump into ``engine``'s (empty) database, all of it or nothing."""
    conninfo, env = _libpq(engine.url.render_as_string(hide_password=False))
    command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    try:
        done = subprocess.run([*command, f"--dbname={conninfo}", str(dump)], capture_output=True, env=env, check=False)
    except FileNotFoundError:
        raise BackupFileError(_not_installed("pg_restore")) from None
    if done.returncode != 0:
        raise BackupFileError(f"pg_restore failed: {_first_error(done.stderr, done.returncode)}")


def _first_error(said: bytes, status: int) -> str:
    """The line of a PostgreSQL tool's output that says what went wrong (the ones after it
    quote the statement, which is schema, never a row)."""
    lines = [line.strip() for line in said.decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    return (errors or lines or [f"exit status {status}"])[0]


# SQLite


def sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupFileError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


@contextmanager
def sqlite_copy(engine: Engine) -> Iterator[tuple[Facts, Path]]:
    """A consistent copy of the SQLite database (its online backup API), in a private
    temporary folder removed afterwards, and the facts read from that copy."""
    with tempfile.TemporaryDirectory(prefix="confide-backup-") as folder:
        copy = Path(folder) / SQLITE_NAME
        os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        _sqlite_backup(sqlite_path(engine), copy)
        copied = create_engine(f"sqlite:///{copy}", poolclass=NullPool)
        try:
            with copied.connect() as connection:
                facts = read_facts(connection)
        finally:
            copied.dispose()
        yield facts, copy


def sqlite_restore(engine: Engine, copy: Path) -> None:
    """Load the SQLite database ``copy`` into ``engine``'s (empty) database file, mode 0600."""
    target = sqlite_path(engine)
    engine.dispose()  # no connection of this process keeps the empty file's pages
    if not target.exists():
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    target.chmod(0o600)
    _sqlite_backup(copy, target)
    engine.dispose()


def _sqlite_backup(source: Path, target: Path) -> None:
    origin, destination = sqlite3.connect(source), sqlite3.connect(target)
    try:
        origin.backup(destination)
    except sqlite3.Error as error:
        raise BackupFileError(f"the SQLite backup failed: {error}") from None
    finally:
        destination.close()
        origin.close()
