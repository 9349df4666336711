"""Appending to the hash-chained audit log, and verifying the chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, cast, insert, select, update

from app.audit.checkpoints import Checkpoint, checkpoints_path, read_checkpoints
from app.audit.models import GENESIS, AuditEntry, AuditHead
from app.crypto.keyring import FIRST_ROOT
from app.extensions import db
from app.keystore import current_keyring
from app.models import conflict_insert, minute_now, utcnow


def chain_key(version: str | None = None) -> bytes:
    """The chain is keyed: whoever can write to the database but lacks the keyring cannot
    recompute the links after editing a row. Under root version ``version`` (None: the active
    one); each entry names the version it was linked under."""
    return current_keyring().derive("audit/chain", version=version)


class ChainKeys(dict[str, bytes]):
    """The chain's key of each root version still in the keyring, derived once each."""

    def __missing__(self, version: str) -> bytes:
        ring = current_keyring()
        if version not in ring.roots:
            raise KeyError(version)
        self[version] = key = chain_key(version)
        return key


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


def head_mac(key: bytes, last_id: int, last_hash: str) -> str:
    """The head's seal: moving it back to an earlier entry needs the keyring."""
    return hmac.new(key, f"head|{last_id}|{last_hash}".encode(), hashlib.sha256).hexdigest()


def _advance_head(connection: Connection, count: int = 1) -> tuple[int, str]:
    """Reserve ``count`` entry ids; returns the first and the link it follows."""
    # The UPDATE takes the write lock before the head is read, so concurrent writers
    # queue up here instead of forking the chain.
    row = connection.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_id=AuditHead.last_id + count)
        .returning(AuditHead.last_id, AuditHead.last_hash)
    ).first()
    if row is None:
        # The very first entry makes the head, unless another first entry just made it: that
        # one then goes first, and this one queues behind it as every later entry does.
        first = conflict_insert(AuditHead, connection.dialect.name).on_conflict_do_nothing()
        if connection.execute(first.values(id=1, last_id=count, last_hash=GENESIS).returning(AuditHead.id)).first():
            return 1, GENESIS
        return _advance_head(connection, count)
    return int(row[0]) - count + 1, str(row[1])


def append(action: str, *, actor_id: str, actor_role: str, case_id: str | None, detail: dict[str, Any]) -> AuditEntry:
    """Add one entry, committed at once in a transaction of its own.

    Its own connection, not the request's session: writing the log neither commits the
    caller's unfinished work nor expires the objects the caller is still using."""
    key = chain_key()
    with db.engine.begin() as connection:
        entry = _append_on(connection, key, action, actor_id, actor_role, case_id, detail)
    return entry


def _active_root() -> str:
    return current_keyring().active_root_id


def append_many(
    action: str, *, actor_id: str, actor_role: str, events: Sequence[tuple[str | None, dict[str, Any]]]
) -> list[AuditEntry]:
    """Add one entry per event (a case id and its details), chained one after the other and
    committed together: a routing batch's entries cost one transaction, not one each."""
    if not events:
        return []
    key = chain_key()
    with db.engine.begin() as connection:
        return _append_all(
            connection, key, [(action, actor_id, actor_role, case_id, detail) for case_id, detail in events]
        )


_COLUMN_NAMES = ("id", "at", "actor_id", "actor_role", "action", "case_id", "detail", "prev_hash", "hash", "key_root")


def _append_on(
    connection: Connection,
    key: bytes,
    action: str,
    actor_id: str,
    actor_role: str,
    case_id: str | None,
    detail: dict[str, Any],
) -> AuditEntry:
    return _append_all(connection, key, [(action, actor_id, actor_role, case_id, detail)])[0]


def _append_all(
    connection: Connection, key: bytes, rows: Sequence[tuple[str, str, str, str | None, dict[str, Any]]]
) -> list[AuditEntry]:
    entry_id, prev_hash = _advance_head(connection, len(rows))
    root, entries = _active_root(), []
    for action, actor_id, actor_role, case_id, detail in rows:
        entry = AuditEntry(
            id=entry_id,
            # A reporter's action to the minute: the log must not time her more finely than the case.
            at=minute_now() if actor_role == "reporter" else utcnow(),
            actor_id=actor_id,
            actor_role=actor_role,
            action=action,
            case_id=case_id,
            # Through JSON and back, so the hash covers exactly what the database will return.
            detail=json.loads(json.dumps(detail, default=str)),
            prev_hash=prev_hash,
            key_root=root,
        )
        entry.hash = entry_hash(key, entry)
        entries.append(entry)
        entry_id, prev_hash = entry_id + 1, entry.hash
    connection.execute(insert(AuditEntry), [{name: getattr(e, name) for name in _COLUMN_NAMES} for e in entries])
    last = entries[-1]
    connection.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_hash=last.hash, mac=head_mac(key, last.id, last.hash), key_root=root)
    )
    return entries


@dataclass(frozen=True)
class Break:
    entry_id: int | None
    reason: str


ENTRY_COLUMNS = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.actor_id,
    AuditEntry.actor_role,
    AuditEntry.action,
    AuditEntry.case_id,
    AuditEntry.prev_hash,
    AuditEntry.hash,
    AuditEntry.key_root,
    # As text, parsed here: a detail edited into invalid JSON is a broken row, not a crash.
    cast(AuditEntry.detail, Text).label("detail"),
)


def entry_of(row: Any, detail: dict[str, Any] | None, prev_hash: str) -> AuditEntry:
    """The entry a row of ENTRY_COLUMNS holds, as linked after ``prev_hash``, to hash again."""
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        action=row.action,
        case_id=row.case_id,
        detail=detail,
        prev_hash=prev_hash,
    )


def verify(batch: int = 5000, *, checkpoints_through: int | None = None) -> Break | None:
    """The first place the chain is broken, or None if every link holds: every row, the
    keyed head, and the checkpoints kept outside the database (``audit.checkpoints``). Each
    entry, the head and each checkpoint is checked under the root version it names.

    ``checkpoints_through``: heed only the checkpoints of entries up to that one (a restored
    backup's log ends where the backup was made; the checkpoints after it saw entries lost
    with it, which the restore reports apart)."""
    keys = ChainKeys()
    points, forged = read_checkpoints()
    if checkpoints_through is not None:
        points = [point for point in points if point.last_id <= checkpoints_through]
    if forged:
        return Break(None, f"line {forged[0]} of {checkpoints_path()} is not a genuine checkpoint")
    seen_by = {point.last_id: point for point in points}
    query = select(*ENTRY_COLUMNS).order_by(AuditEntry.id).execution_options(yield_per=batch)
    with db.session.execute(query) as rows:
        problem, last_seen, last_hash = _first_break(keys, rows, seen_by)
    if problem is not None:
        return problem
    latest = max(points, key=lambda p: p.last_id, default=None)
    if latest is not None and latest.last_id > last_seen:
        return Break(
            last_seen + 1,
            f"entries after {last_seen} are missing (the checkpoint of {latest.at} saw entry {latest.last_id})",
        )
    head = db.session.get(AuditHead, 1)
    if head is None:
        if last_seen:
            return Break(last_seen, "the chain's head record is missing")
        return None
    if head.last_id != last_seen or head.last_hash != last_hash:
        return Break(last_seen + 1, f"entries after {last_seen} are missing (the log ends early)")
    head_root = head.key_root or FIRST_ROOT
    try:
        head_key = keys[head_root]
    except KeyError:
        return Break(head.last_id, f"the chain's head is sealed under {head_root}, which is not in the keyring")
    if not hmac.compare_digest(head.mac or "", head_mac(head_key, head.last_id, head.last_hash)):
        return Break(head.last_id, "the chain's head was moved (its seal does not match)")
    return None


def _first_break(keys: ChainKeys, rows: Iterable[Any], seen_by: dict[int, Checkpoint]) -> tuple[Break | None, int, str]:
    expected_id, expected_prev, last_seen = 1, GENESIS, 0
    for row in rows:
        if row.id != expected_id:
            return Break(row.id, f"entry {expected_id} is missing before entry {row.id}"), last_seen, expected_prev
        if row.prev_hash != expected_prev:
            return Break(row.id, f"entry {row.id} does not follow entry {row.id - 1}"), last_seen, expected_prev
        try:
            detail = json.loads(row.detail) if row.detail is not None else None
        except ValueError:
            return (
                Break(row.id, f"entry {row.id} was changed after it was written (its detail is not JSON)"),
                last_seen,
                expected_prev,
            )
        entry = entry_of(row, detail, row.prev_hash)
        try:
            key = keys[row.key_root]
        except KeyError:
            reason = f"entry {row.id} was linked under {row.key_root}, which is not in the keyring"
            return Break(row.id, reason), last_seen, expected_prev
        if not hmac.compare_digest(entry_hash(key, entry), row.hash):
            return Break(row.id, f"entry {row.id} was changed after it was written"), last_seen, expected_prev
        point = seen_by.get(row.id)
        if point is not None and point.last_hash != row.hash:
            return (
                Break(row.id, f"entry {row.id} is not the one the checkpoint of {point.at} saw"),
                last_seen,
                expected_prev,
            )
        expected_id, expected_prev, last_seen = row.id + 1, row.hash, row.id
    return None, last_seen, expected_prev
