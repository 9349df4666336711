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

from sqlalchemy import Table, bindparam, func, select, text, update

from app.cases.models import Case
from app.cases.sealing import case_owner
from app.crypto import Keyring, WrappedKey, unwrap_dek, wrap_dek
from app.crypto.envelope import SCHEME_KEK_AESGCM
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


def rewrap_batch(ring: Keyring, limit: int = BATCH, after: str = "") -> tuple[int, str | None]:
    """Wrap up to ``limit`` case keys again under the active KEK, in one transaction, taking
    cases in id order from after ``after``; returns how many were, and the last case id
    looked at (None: none was left). Keys wrapped by a KEK not in ``ring`` are left alone
    (and shown by ``flask keys status``)."""
    older = [key_id for key_id in ring.keks if key_id != ring.active_kek_id]
    if not older:
        return 0, None
    rows = db.session.execute(
        select(Case.id, Case.dek_scheme, Case.dek_key_id, Case.dek_wrapped)
        .where(Case.id > after, Case.dek_key_id.in_(older))
        .order_by(Case.id)
        .limit(limit)
    ).all()
    if not rows:
        db.session.rollback()
        return 0, None
    changes = []
    for case_id, scheme, key_id, blob in rows:
        owner = case_owner(case_id)
        dek = unwrap_dek(ring, WrappedKey(scheme=scheme, key_id=key_id, blob=blob), owner=owner)
        changes.append((case_id, key_id, wrap_dek(ring, dek, owner=owner).blob))
    if changes:
        _write(changes, scheme=SCHEME_KEK_AESGCM, key_id=ring.active_kek_id)
    db.session.commit()
    return len(changes), rows[-1].id


# PostgreSQL: the whole batch in one statement, its rows as arrays.
BATCH_UPDATE = text(
    "UPDATE cases SET dek_scheme = :scheme, dek_key_id = :key_id, dek_wrapped = v.blob"
    " FROM unnest(CAST(:ids AS varchar[]), CAST(:was AS varchar[]), CAST(:blobs AS bytea[])) AS v(id, was, blob)"
    " WHERE cases.id = v.id AND cases.dek_key_id = v.was"
)


def _write(changes: list[tuple[str, str, bytes]], *, scheme: str, key_id: str) -> None:
    """Store each (case, the KEK it was read under, its key wrapped anew), if that KEK still
    wraps it."""
    if db.session.get_bind().dialect.name == "postgresql":
        ids, was, blobs = (list(column) for column in zip(*changes, strict=True))
        db.session.execute(BATCH_UPDATE, {"scheme": scheme, "key_id": key_id, "ids": ids, "was": was, "blobs": blobs})
        return
    table = cast(Table, Case.__table__)  # a statement of the table's own, run once per row
    cases = table.c
    db.session.execute(
        update(table)
        .where(cases.id == bindparam("case"), cases.dek_key_id == bindparam("was"))
        .values(dek_scheme=scheme, dek_key_id=key_id, dek_wrapped=bindparam("blob")),
        [{"case": case_id, "was": was, "blob": blob} for case_id, was, blob in changes],
    )


def rewrap_all(
    ring: Keyring, *, done: Callable[[int], None] | None = None, until: Callable[[], bool] | None = None
) -> int:
    """Batches through the cases in id order until none is left under an older KEK (or
    ``until()`` says stop); calls ``done(n)`` after each batch. Returns how many keys were
    wrapped again. A case wrapped under an older KEK meanwhile, behind the pass, is the
    next run's."""
    total, after = 0, ""
    while until is None or not until():
        moved, last = rewrap_batch(ring, after=after)
        if last is None:
            break
        total, after = total + moved, last
        if done is not None:
            done(moved)
    return total
