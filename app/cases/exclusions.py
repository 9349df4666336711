"""Whom a reporter asked to keep away from her report, kept as keyed indexes.

A row names the case and an HMAC of the case and the staff member under a key from the
keyring, never the staff member: someone with a copy of the database cannot tell whom a
reporter feared. Routing and the coordinators' pages, which have the keyring, test the
people they are about to offer the case to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import func, or_, select

from app.cases.models import CaseExclusion
from app.crypto.blind_index import blind_index, blind_indexer
from app.extensions import db
from app.keystore import current_keyring

PURPOSE = "case-exclusion"


def exclusion_index(case_id: str, staff_id: str, version: str | None = None) -> bytes:
    return blind_index(current_keyring(), PURPOSE, f"{case_id}|{staff_id}", version=version)


def exclude(case_id: str, staff_id: str) -> None:
    """Record that ``staff_id`` must never get ``case_id`` (in the caller's transaction)."""
    root = current_keyring().active_root_id
    db.session.add(CaseExclusion(case_id=case_id, staff_index=exclusion_index(case_id, staff_id), index_root=root))


def _indexers() -> dict[str, Callable[[str], bytes]]:
    """An indexer for each root version in the keyring: each row is tested under its own."""
    ring = current_keyring()
    return {version: blind_indexer(ring, PURPOSE, version=version) for version in ring.root_versions()}


def excluded_among(case_ids: Sequence[str], staff_ids: Iterable[str]) -> dict[str, set[str]]:
    """For each case, those of ``staff_ids`` its reporter excluded."""
    stored: dict[str, set[tuple[str, bytes]]] = defaultdict(set)
    for case_id, index, root in db.session.execute(
        select(CaseExclusion.case_id, CaseExclusion.staff_index, CaseExclusion.index_root).where(
            CaseExclusion.case_id.in_(case_ids)
        )
    ):
        stored[case_id].add((root, index))
    if not stored:
        return {}
    people, indexers = list(staff_ids), _indexers()
    return {
        case_id: {
            staff_id
            for staff_id in people
            for root in {root for root, _ in indexes} & indexers.keys()
            if (root, indexers[root](f"{case_id}|{staff_id}")) in indexes
        }
        for case_id, indexes in stored.items()
    }


def cases_excluding(staff_id: str) -> set[str]:
    """Every case whose reporter asked to keep ``staff_id`` away. Reads every exclusion (a
    reporter's rare choice: few rows) and tests each against this one person."""
    indexers = _indexers()
    return {
        case_id
        for case_id, index, root in db.session.execute(
            select(CaseExclusion.case_id, CaseExclusion.staff_index, CaseExclusion.index_root)
        )
        if root in indexers and indexers[root](f"{case_id}|{staff_id}") == index
    }


def is_excluded(case_id: str, staff_id: str) -> bool:
    """Whether the reporter of ``case_id`` asked to keep ``staff_id`` away."""
    found = select(CaseExclusion.case_id).where(
        CaseExclusion.case_id == case_id,
        or_(
            *(
                (CaseExclusion.index_root == version) & (CaseExclusion.staff_index == index_of(f"{case_id}|{staff_id}"))
                for version, index_of in _indexers().items()
            )
        ),
    )
    return db.session.scalar(found) is not None


def exclusion_count(case_id: str) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(CaseExclusion).where(CaseExclusion.case_id == case_id)) or 0
    )
