"""Keyed indexes of a case that the server can make again from what it holds, made again under
the active root version after `flask keys rotate-root` (part of `flask keys rekey`).

A consent choice is an index of its case, purpose and choice: the choice is found by trying
both under the row's version. An exclusion is an index of its case and a staff member: every
staff member is tried. A tally's sealed answer is an index of its month, kind, question and
answer: every answer the form offers is tried. Each batch commits; a row is replaced only as it
was read. An index that matches nothing known (a person since deleted, an answer the form no
longer offers) is replaced by a random one under the active version: it matched nothing before
and matches nothing after, and it keeps counting as it did.
"""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy import delete, select

from app.cases.consent import sealed_choice
from app.cases.exclusions import PURPOSE as EXCLUSION_PURPOSE
from app.cases.models import CaseExclusion, ConsentRecord, ReportTally
from app.cases.tallies import (
    INDEX_BYTES,
    SEALED_QUESTIONS,
    SHREDDED,
    UNANSWERED,
    add_stored,
    answer_reader,
    stored_answer,
)
from app.crypto import Keyring
from app.crypto.blind_index import blind_indexer
from app.extensions import db
from app.rekey import BATCH, reseal_all


def rekey_consent(ring: Keyring) -> int:
    """Every sealed consent choice under an older root version, indexed anew."""

    def reseal(record_id: int, _: str, sealed: bytes, version: str) -> bytes:
        record = db.session.get_one(ConsentRecord, record_id)
        granted = hmac.compare_digest(sealed, sealed_choice(record.case_id, record.purpose, True, version))
        return sealed_choice(record.case_id, record.purpose, granted)

    return reseal_all(ring, ConsentRecord.seal_root, [ConsentRecord.sealed_choice], reseal)


def rekey_exclusions(ring: Keyring, staff_ids: list[str]) -> int:
    """Every exclusion under an older root version, indexed anew; ``staff_ids``: everyone."""
    older, total = ring.older_roots(), 0
    while older:
        rows = db.session.execute(
            select(CaseExclusion.case_id, CaseExclusion.staff_index, CaseExclusion.index_root)
            .where(CaseExclusion.index_root.in_(older))
            .limit(BATCH)
        ).all()
        if not rows:
            break
        index_now = blind_indexer(ring, EXCLUSION_PURPOSE)
        for case_id, index, version in rows:
            index_then = blind_indexer(ring, EXCLUSION_PURPOSE, version=version)
            staff = next((s for s in staff_ids if index_then(f"{case_id}|{s}") == index), None)
            new = index_now(f"{case_id}|{staff}") if staff else secrets.token_bytes(len(index))
            gone = db.session.execute(
                delete(CaseExclusion).where(CaseExclusion.case_id == case_id, CaseExclusion.staff_index == index)
            )
            if gone.rowcount:  # type: ignore[attr-defined]
                db.session.add(CaseExclusion(case_id=case_id, staff_index=new, index_root=ring.active_root_id))
        db.session.commit()
        total += len(rows)
    return total


def rekey_tallies(ring: Keyring) -> int:
    """Every tally of a sealed answer under an older root version, indexed anew and added to
    the tally of the same answer under the active version."""
    older, total = ring.older_roots(), 0
    while older:
        rows = (
            db.session.execute(select(ReportTally).where(ReportTally.answer_root.in_(older)).limit(BATCH))
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            month, kind, question, answer, count = row.month, row.kind, row.question, row.answer, row.count
            # What shredded reports left is indexed as a report's (tallies.count_shredded).
            indexed_as = "report" if kind == SHREDDED else kind
            code = answer_reader(indexed_as, row.answer_root)(month, question, answer)
            db.session.delete(row)
            db.session.flush()
            if question in SEALED_QUESTIONS and code in {*SEALED_QUESTIONS[question], UNANSWERED}:
                add_stored({(month, question, stored_answer(indexed_as)(month, question, code)): count}, kind)
            else:  # an answer the form no longer offers: it reads as "another" before and after
                random_answer = secrets.token_bytes(INDEX_BYTES).hex()
                db.session.add(
                    ReportTally(
                        month=month,
                        kind=kind,
                        question=question,
                        answer=random_answer,
                        answer_root=ring.active_root_id,
                        count=count,
                    )
                )
        db.session.commit()
        total += len(rows)
    return total
