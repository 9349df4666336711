"""Column types and helpers shared by every feature's models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, delete, exists, false, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import TypeDecorator

from app.extensions import db


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which has no zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def minute_now() -> datetime:
    """Now, to the minute: what is stored of when a reporter did something. Deadlines need no
    more, and a time to the second would help match a report to a network's own logs."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def delete_where(model: Any, condition: Any) -> int:
    """Delete the rows of ``model`` that meet ``condition`` (not committed); returns how many.

    Looked for first: on SQLite any DELETE waits for the database's write lock, even with
    nothing to delete, and a periodic clean-up must not wait behind a long write for nothing."""
    if not db.session.scalar(select(exists().where(condition))):
        return 0
    gone = db.session.execute(delete(model).where(condition))
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]


def new_id() -> str:
    return str(uuid.uuid4())


def conflict_insert(model: Any, dialect: str) -> Any:
    """An INSERT into ``model`` that can say what a conflict does (ON CONFLICT), in the words of
    ``dialect`` (the connection's: PostgreSQL's or SQLite's)."""
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(model)


def take_write_lock(column: Any) -> None:
    """SQLite has no row locks: begin with the database's write lock, by a write to
    ``column`` (a mapped attribute) that changes nothing, so that no other writer runs between
    what this transaction reads and what it writes. PostgreSQL locks rows instead."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.connection().execute(update(column.class_).where(false()).values({column.key: column}))
