"""Finding a case by its receipt, under whichever root version its keyed index was made.

The index is looked up under the active root version first, then under each older one still
in the keyring. Found under an older one, the case's index is made again under the active
version at once: only the reporter holds her receipt, so the day she comes back is the only
day it can be re-keyed; the old root version retires when no receipt needs it any more.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, update

from app.cases.models import Case
from app.extensions import db
from app.intake.receipts import ReceiptCode
from app.keystore import current_keyring


def find_case_by_receipt(typed: str) -> str | None:
    """The case id for a typed receipt, or None. Only keyed indexes are compared; a match
    under an older root version is re-keyed to the active one (and committed)."""
    receipt = ReceiptCode.parse(typed)
    if receipt is None:
        return None
    ring = current_keyring()
    for version in ring.root_versions():
        case_id = db.session.scalar(
            select(Case.id).where(
                Case.receipt_root == version, Case.receipt_index == receipt.keyed_index(ring, version)
            )
        )
        if case_id is None:
            continue
        if version != ring.active_root_id:
            db.session.execute(
                update(Case)
                .where(Case.id == case_id, Case.receipt_root == version)
                .values(receipt_index=receipt.keyed_index(ring), receipt_root=ring.active_root_id)
            )
            db.session.commit()
        return case_id
    return None


def receipt_matches(receipt: ReceiptCode) -> ColumnElement[bool]:
    """A condition on cases: ``receipt`` is theirs, under whichever root version."""
    ring = current_keyring()
    return or_(
        *(
            (Case.receipt_root == version) & (Case.receipt_index == receipt.keyed_index(ring, version))
            for version in ring.root_versions()
        )
    )
