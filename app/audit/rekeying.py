"""Linking the audit chain again under the active root version, after `flask keys rotate-root`,
so the version it was linked under can retire.

Only a chain that verifies whole is linked again: every entry under the version it names, the
keyed head, and the checkpoints kept outside the database. A broken chain is refused, so
re-keying never launders an edit. The work is one transaction that holds the chain's head (new
entries wait for it): every link from the first entry made under an older version to the head
is made again under the active version, and the head sealed under it. Then the checkpoints file
is written again with the same checkpoints, each naming its entry's new link under a MAC of the
active version, and a fresh checkpoint of the head is added: the file outside the database pins
the chain as before, and whoever holds only the database still cannot rewrite it. The file
is held throughout (``checkpoints_held``), so no worker's checkpoint of the old chain lands
after it. One window stays: a stop between the commit and the file's replacement leaves the
old checkpoints naming the old links, and `flask audit verify` then names the first of them;
the operator compares it with the log's copy of the checkpoints and keeps the file aside.
"""

from __future__ import annotations

import json
import os
from typing import cast

from sqlalchemy import Table, bindparam, select, update

from app.audit.checkpoints import (
    Checkpoint,
    append_checkpoint,
    checkpoint_line,
    checkpoints_held,
    checkpoints_path,
    read_checkpoints,
)
from app.audit.log import ENTRY_COLUMNS, ChainKeys, entry_hash, entry_of, head_mac, verify
from app.audit.models import GENESIS, AuditEntry, AuditHead
from app.config import private_folder
from app.extensions import db
from app.keystore import current_keyring


class ChainBroken(Exception):
    """The chain does not verify: it is not linked again (see `flask audit verify`)."""


def rekey_audit() -> int:
    """Link the chain again under the active root version; returns how many links were made
    again (0: nothing was under an older version). Raises ChainBroken for a broken chain."""
    with checkpoints_held():  # no checkpoint of the chain as it was can land after the rewrite
        return _rekey_held()


def _rekey_held() -> int:
    ring = current_keyring()
    active = ring.active_root_id
    # Hold the head first: no entry can be added while the chain is checked and linked again.
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id))
    head = db.session.get(AuditHead, 1, populate_existing=True)
    points, _ = read_checkpoints()
    first = db.session.scalar(select(AuditEntry.id).where(AuditEntry.key_root != active).order_by(AuditEntry.id))
    stale_points = any(point.root != active for point in points)
    if head is None or (first is None and (head.key_root or "") == active and not stale_points):
        db.session.rollback()
        return 0
    problem = verify()
    if problem is not None:
        db.session.rollback()
        raise ChainBroken(problem.reason)
    key = ChainKeys()[active]
    start = first if first is not None else head.last_id + 1
    # The entries before ``start`` are linked under the active version already, and stay.
    prev = (
        GENESIS if start == 1 else db.session.scalars(select(AuditEntry.hash).where(AuditEntry.id == start - 1)).one()
    )
    new_links: dict[int, str] = {}
    changes = []
    for row in db.session.execute(select(*ENTRY_COLUMNS).where(AuditEntry.id >= start).order_by(AuditEntry.id)).all():
        entry = entry_of(row, json.loads(row.detail) if row.detail is not None else None, prev)
        link = entry_hash(key, entry)
        changes.append({"entry": row.id, "prev": prev, "link": link})
        new_links[row.id] = prev = link
    if changes:
        entries = cast(Table, AuditEntry.__table__)  # a statement of the table's own, run once per row
        db.session.execute(
            update(entries)
            .where(entries.c.id == bindparam("entry"))
            .values(prev_hash=bindparam("prev"), hash=bindparam("link"), key_root=active),
            changes,
        )
    last_hash = new_links.get(head.last_id, head.last_hash)
    db.session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_hash=last_hash, mac=head_mac(key, head.last_id, last_hash), key_root=active)
    )
    db.session.commit()
    _rewrite_checkpoints(points, new_links, active)
    append_checkpoint(again=True)
    return len(changes)


def _rewrite_checkpoints(points: list[Checkpoint], new_links: dict[int, str], active: str) -> None:
    """The checkpoints file again, each checkpoint naming its entry's new link, under the
    active version; written aside, then put in place at once."""
    path = checkpoints_path()
    if not points and not path.exists():
        return
    lines = [
        checkpoint_line(Checkpoint(p.at, p.last_id, new_links.get(p.last_id, p.last_hash), active)) for p in points
    ]
    private_folder(path.parent)
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("".join(lines))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
