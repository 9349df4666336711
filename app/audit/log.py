"""Appending to the hash-chained audit log, and verifying the chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from app.audit.models import GENESIS, AuditEntry, AuditHead
from app.extensions import db
from app.keystore import current_keyring
from app.models import utcnow


def chain_key() -> bytes:
    """The chain is keyed: whoever can write to the database but lacks the keyring cannot
    recompute the links after editing a row."""
    return current_keyring().derive("audit/chain")


def entry_hash(key: bytes, entry: AuditEntry) -> str:
    """The link of ``entry``: an HMAC over the previous link and every field of the entry."""
    body = json.dumps(
        [
            entry.id,
            entry.at.isoformat(timespec="microseconds"),
            entry.actor_id,
            entry.actor_role,
            entry.action,
            entry.case_id,
            entry.detail,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hmac.new(key, f"{entry.prev_hash}|{body}".encode(), hashlib.sha256).hexdigest()


def _advance_head(connection: Connection) -> tuple[int, str]:
    # The UPDATE takes the write lock before the head is read, so concurrent writers
    # queue up here instead of forking the chain.
    row = connection.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_id=AuditHead.last_id + 1)
        .returning(AuditHead.last_id, AuditHead.last_hash)
    ).first()
    if row is None:
        connection.execute(insert(AuditHead).values(id=1, last_id=1, last_hash=GENESIS))
        return 1, GENESIS
    return int(row[0]), str(row[1])


def append(
    action: str, *, actor_id: str, actor_role: str, case_id: str | None, detail: dict[str, Any]
) -> AuditEntry:
    """Add one entry, committed at once in a transaction of its own.

    Its own connection, not the request's session: writing the log neither commits the
    caller's unfinished work nor expires the objects the caller is still using."""
    key = chain_key()
    with db.engine.begin() as connection:
        entry = _append_on(connection, key, action, actor_id, actor_role, case_id, detail)
    return entry


def _append_on(
    connection: Connection,
    key: bytes,
    action: str,
    actor_id: str,
    actor_role: str,
    case_id: str | None,
    detail: dict[str, Any],
) -> AuditEntry:
    entry_id, prev_hash = _advance_head(connection)
    entry = AuditEntry(
        id=entry_id,
        at=utcnow(),
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        case_id=case_id,
        # Through JSON and back, so the hash covers exactly what the database will return.
        detail=json.loads(json.dumps(detail, default=str)),
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(key, entry)
    columns = ("id", "at", "actor_id", "actor_role", "action", "case_id", "detail", "prev_hash", "hash")
    connection.execute(insert(AuditEntry).values({name: getattr(entry, name) for name in columns}))
    connection.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.hash))
    return entry


@dataclass(frozen=True)
class Break:
    entry_id: int | None
    reason: str


def verify(batch: int = 5000) -> Break | None:
    """The first place the chain is broken, or None if every link holds."""
    key = chain_key()
    query = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=batch)
    with db.session.scalars(query) as entries:
        problem, last_seen, last_hash = _first_break(key, entries)
    if problem is not None:
        return problem
    head = db.session.get(AuditHead, 1)
    if head is None:
        if last_seen:
            return Break(last_seen, "the chain's head record is missing")
        return None
    if head.last_id != last_seen or head.last_hash != last_hash:
        return Break(last_seen + 1, f"entries after {last_seen} are missing (the log ends early)")
    return None


def _first_break(key: bytes, entries: Iterable[AuditEntry]) -> tuple[Break | None, int, str]:
    expected_id, expected_prev, last_seen = 1, GENESIS, 0
    for entry in entries:
        if entry.id != expected_id:
            return Break(entry.id, f"entry {expected_id} is missing before entry {entry.id}"), last_seen, expected_prev
        if entry.prev_hash != expected_prev:
            return Break(entry.id, f"entry {entry.id} does not follow entry {entry.id - 1}"), last_seen, expected_prev
        recomputed = entry_hash(key, entry)
        if not hmac.compare_digest(recomputed, entry.hash):
            return Break(entry.id, f"entry {entry.id} was changed after it was written"), last_seen, expected_prev
        expected_id, expected_prev, last_seen = entry.id + 1, entry.hash, entry.id
    return None, last_seen, expected_prev
