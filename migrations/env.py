"""Alembic environment: runs migrations on the app's own engine, online only."""

from __future__ import annotations

from alembic import context
from flask import current_app
from sqlalchemy import Connection

from app import import_models
from app.extensions import db

import_models()  # every table on the metadata, as the app has them


def run_migrations() -> None:
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by dropping it; with foreign keys on, SQLite would
            # delete every row that refers to it (a case's messages, consent...). Off for the
            # migration only, and on again before the connection goes back to the pool.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # the migration's own transaction must be the only one
        try:
            _run(connection)
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=db.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # A data migration may take longer than the app's own statements may.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = 0")
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `flask db upgrade`")
if not current_app:
    raise SystemExit("migrations run inside the app: use `flask db upgrade`")
run_migrations()
