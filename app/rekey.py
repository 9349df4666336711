"""Sealing values again under the active root version, after `flask keys rotate-root`.

Each table that keeps values sealed under a key derived from the root names, per row, the root
version it used. One batch opens up to ``limit`` rows sealed under an older version still in the
keyring, seals them again under the active one and commits; a row is written only if it is as it
was read, so a change made meanwhile (a new TOTP device, a new paging address) is never undone,
and the next batch finds what is left. Any stop leaves nothing half done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute

from app.crypto import Keyring
from app.extensions import db

BATCH = 500

# (row id, column name, the sealed value, the root version it was sealed under) -> sealed anew
Reseal = Callable[[Any, str, bytes, str], bytes]


def reseal_batch(
    ring: Keyring,
    version: InstrumentedAttribute[Any],
    columns: Sequence[InstrumentedAttribute[Any]],
    reseal: Reseal,
    *,
    limit: int = BATCH,
) -> int:
    """Seal again under the active root version up to ``limit`` rows whose ``version`` column
    names an older one; returns how many were. Commits."""
    older = ring.older_roots()
    if not older:
        return 0
    model = version.class_
    key = model.id
    rows = db.session.execute(select(key, version, *columns).where(version.in_(older)).order_by(key).limit(limit)).all()
    for row in rows:
        row_id, was = row[0], row[1]
        values: dict[str, Any] = {version.key: ring.active_root_id}
        unchanged = [key == row_id, version == was]
        for column, sealed in zip(columns, row[2:], strict=True):
            if sealed is None:
                unchanged.append(column.is_(None))
                continue
            values[column.key] = reseal(row_id, column.key, sealed, was)
            unchanged.append(column == sealed)
        db.session.execute(update(model).where(*unchanged).values(values))
    db.session.commit()
    return len(rows)


def reseal_all(
    ring: Keyring, version: InstrumentedAttribute[Any], columns: Sequence[InstrumentedAttribute[Any]], reseal: Reseal
) -> int:
    """Batches until no row of the table names an older root version still in the keyring."""
    total = 0
    while moved := reseal_batch(ring, version, columns, reseal):
        total += moved
    return total
