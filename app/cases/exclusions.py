"""Whom a reporter asked to keep away from her report, kept as keyed indexes.

A row names the case and an HMAC of the case and the staff member under a key from the
keyring, never the staff member: someone with a copy of the database cannot tell whom a
reporter feared. Routing and the coordinators' pages, which have the keyring, test the
people they are about to offer the case to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select

from app.cases.models import CaseExclusion
from app.crypto.blind_index import blind_index, blind_indexer
from app.extensions import db
from app.keystore import current_keyring

PURPOSE = "case-exclusion"


def exclusion_index(case_id: str, staff_id: str) -> bytes:
    return blind_index(current_keyring(), PURPOSE, f"{case_id}|{staff_id}")


def exclude(case_id: str, staff_id: str) -> None:
    """Record that ``staff_id`` must never get ``case_id`` (in the caller's transaction)."""
    db.session.add(CaseExclusion(case_id=case_id, staff_index=exclusion_index(case_id, staff_id)))


def excluded_among(case_ids: Sequence[str], staff_ids: Iterable[str]) -> dict[str, set[str]]:
    """For each case, those of ``staff_ids`` its reporter excluded."""
    stored: dict[str, set[bytes]] = defaultdict(set)
    for case_id, index in db.session.execute(
        select(CaseExclusion.case_id, CaseExclusion.staff_index).where(CaseExclusion.case_id.in_(case_ids))
    ):
        stored[case_id].add(index)
    if not stored:
        return {}
    people = list(staff_ids)
    index_of = blind_indexer(current_keyring(), PURPOSE)
    return {
        case_id: {staff_id for staff_id in people if index_of(f"{case_id}|{staff_id}") in indexes}
        for case_id, indexes in stored.items()
    }


def cases_excluding(staff_id: str) -> set[str]:
    """Every case whose reporter asked to keep ``staff_id`` away. Reads every exclusion (a
    reporter's rare choice: few rows) and tests each against this one person."""
    index_of = blind_indexer(current_keyring(), PURPOSE)
    return {
        case_id
        for case_id, index in db.session.execute(select(CaseExclusion.case_id, CaseExclusion.staff_index))
        if index_of(f"{case_id}|{staff_id}") == index
    }


def is_excluded(case_id: str, staff_id: str) -> bool:
    """Whether the reporter of ``case_id`` asked to keep ``staff_id`` away."""
    index = exclusion_index(case_id, staff_id)
    return db.session.get(CaseExclusion, (case_id, index)) is not None


def exclusion_count(case_id: str) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(CaseExclusion).where(CaseExclusion.case_id == case_id)) or 0
    )
