"""Appending to the hash-chained audit log, and verifying the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from app.audit.models import GENESIS, AuditEntry, AuditHead
from app.extensions import db
from app.models import utcnow


def entry_hash(
    prev_hash: str,
    *,
    entry_id: int,
    at: datetime,
    actor_id: str,
    actor_role: str,
    action: str,
    case_id: str | None,
    detail: dict[str, Any],
) -> str:
    body = json.dumps(
        [entry_id, at.isoformat(timespec="microseconds"), actor_id, actor_role, action, case_id, detail],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


def _advance_head() -> tuple[int, str]:
    # The UPDATE takes the write lock before the head is read, so concurrent writers
    # queue up here instead of forking the chain.
    row = db.session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_id=AuditHead.last_id + 1)
        .returning(AuditHead.last_id, AuditHead.last_hash)
    ).first()
    if row is None:
        db.session.execute(insert(AuditHead).values(id=1, last_id=1, last_hash=GENESIS))
        return 1, GENESIS
    return int(row[0]), str(row[1])


def append(
    action: str, *, actor_id: str, actor_role: str, case_id: str | None, detail: dict[str, Any]
) -> AuditEntry:
    """Add one entry and commit it."""
    entry_id, prev_hash = _advance_head()
    at = utcnow()
    clean_detail = json.loads(json.dumps(detail, default=str))
    digest = entry_hash(
        prev_hash,
        entry_id=entry_id,
        at=at,
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        case_id=case_id,
        detail=clean_detail,
    )
    entry = AuditEntry(
        id=entry_id,
        at=at,
        actor_id=actor_id,
        actor_role=actor_role,
        action=action,
        case_id=case_id,
        detail=clean_detail,
        prev_hash=prev_hash,
        hash=digest,
    )
    db.session.add(entry)
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=digest))
    db.session.commit()
    return entry


@dataclass(frozen=True)
class Break:
    entry_id: int | None
    reason: str


def verify(batch: int = 5000) -> Break | None:
    """The first place the chain is broken, or None if every link holds."""
    expected_id, expected_prev = 1, GENESIS
    last_seen = 0
    query = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=batch)
    for entry in db.session.scalars(query):
        if entry.id != expected_id:
            return Break(entry.id, f"entry {expected_id} is missing before entry {entry.id}")
        if entry.prev_hash != expected_prev:
            return Break(entry.id, f"entry {entry.id} does not follow entry {entry.id - 1}")
        recomputed = entry_hash(
            entry.prev_hash,
            entry_id=entry.id,
            at=entry.at,
            actor_id=entry.actor_id,
            actor_role=entry.actor_role,
            action=entry.action,
            case_id=entry.case_id,
            detail=entry.detail,
        )
        if recomputed != entry.hash:
            return Break(entry.id, f"entry {entry.id} was changed after it was written")
        expected_id, expected_prev, last_seen = entry.id + 1, entry.hash, entry.id
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.last_id != last_seen or head.last_hash != expected_prev):
        return Break(last_seen + 1, f"entries after {last_seen} are missing (the log ends early)")
    return None
