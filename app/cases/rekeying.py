"""Wrapping every case's data key again under the active KEK, after `flask keys rotate`.

Only the wrapped keys change: 60 bytes a case, never a sealed value. The work goes in batches,
each its own transaction, so it can stop anywhere (a killed worker, a restart) and pick up
where it stopped: what is left is simply every case whose key is wrapped by another KEK. Each
row is written only if it is still wrapped by the KEK it was read under, so two runs at once
never undo each other's work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update

from app.cases.models import Case
from app.cases.sealing import case_owner
from app.crypto import Keyring, WrappedKey, unwrap_dek, wrap_dek
from app.extensions import db

BATCH = 2000
# How long one background run goes on (workers.jobs.rewrap_keys), and how often one starts:
# a run stops before the next is due, and a rotation left half done is finished within a minute.
REWRAP_SECONDS = 45
REWRAP_EVERY_SECONDS = 60


def waiting(ring: Keyring) -> int:
    """Case keys wrapped by a KEK of ``ring`` other than the active one."""
    older = [key_id for key_id in ring.keks if key_id != ring.active_kek_id]
    if not older:
        return 0
    return db.session.scalar(select(func.count()).select_from(Case).where(Case.dek_key_id.in_(older))) or 0


def wrapped_by(key_ids: list[str] | None = None) -> dict[str, int]:
    """How many case keys each KEK wraps (all KEKs named in the database, or ``key_ids``)."""
    query = select(Case.dek_key_id, func.count()).group_by(Case.dek_key_id)
    if key_ids is not None:
        query = query.where(Case.dek_key_id.in_(key_ids))
    return {key_id: int(count) for key_id, count in db.session.execute(query)}


def rewrap_batch(ring: Keyring, limit: int = BATCH) -> int:
    """Wrap up to ``limit`` case keys again under the active KEK, in one transaction; returns
    how many were. Keys wrapped by a KEK not in ``ring`` are left alone (and shown by
    ``flask keys status``)."""
    older = [key_id for key_id in ring.keks if key_id != ring.active_kek_id]
    if not older:
        return 0
    rows = db.session.execute(
        select(Case.id, Case.dek_scheme, Case.dek_key_id, Case.dek_wrapped)
        .where(Case.dek_key_id.in_(older))
        .order_by(Case.id)
        .limit(limit)
    ).all()
    changes = []
    for case_id, scheme, key_id, blob in rows:
        owner = case_owner(case_id)
        dek = unwrap_dek(ring, WrappedKey(scheme=scheme, key_id=key_id, blob=blob), owner=owner)
        wrapped = wrap_dek(ring, dek, owner=owner)
        changes.append(
            {"case": case_id, "was": key_id, "scheme": wrapped.scheme, "key_id": wrapped.key_id, "blob": wrapped.blob}
        )
    if changes:
        table = cast(Table, Case.__table__)  # a statement of the table's own, run once per row
        cases = table.c
        db.session.execute(
            update(table)
            .where(cases.id == bindparam("case"), cases.dek_key_id == bindparam("was"))
            .values(dek_scheme=bindparam("scheme"), dek_key_id=bindparam("key_id"), dek_wrapped=bindparam("blob")),
            changes,
        )
    db.session.commit()
    return len(changes)


def rewrap_all(
    ring: Keyring, *, done: Callable[[int], None] | None = None, until: Callable[[], bool] | None = None
) -> int:
    """Batches until no case key is left under an older KEK (or ``until()`` says stop); calls
    ``done(n)`` after each batch. Returns how many keys were wrapped again."""
    total = 0
    while until is None or not until():
        moved = rewrap_batch(ring)
        if not moved:
            break
        total += moved
        if done is not None:
            done(moved)
    return total
