"""Finding a case by its reference ("#1a2b3c4d", the start of its id) or by the receipt a
reporter reads out on the phone.

A reference is looked up as a range of the primary key (``id >= start and id < next``), so
the index answers it at any size. A receipt is normalised exactly as the reporter's own
/status page does (:class:`app.intake.receipts.ReceiptCode`) and looked up through its keyed
index: the database compares one HMAC for equality, nothing is compared here, and the receipt
itself is never stored, logged or put in a URL. Every search is audited (``case_searched``:
the kind and how many were found, never what was typed).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select

from app.access import COORDINATOR
from app.cases.exclusions import excluded_among
from app.cases.models import Case
from app.cases.references import reference_range
from app.casework.services import QueueRow, queue_rows
from app.intake.finding import receipt_matches
from app.intake.receipts import ReceiptCode
from app.signals import announce
from app.staff.models import StaffUser

MOST_SHOWN = 20

REFERENCE, RECEIPT = "reference", "receipt"


@dataclass(frozen=True)
class SearchResult:
    # REFERENCE, RECEIPT, or "" when what was typed is neither.
    kind: str
    rows: list[QueueRow]
    # More cases matched than are shown: the reference was too short.
    more: bool = False


def find_cases(viewer: StaffUser, typed: str) -> SearchResult:
    """The cases ``viewer`` may open that ``typed`` names, as a reference or a receipt.

    Typed with "#" it is a reference; otherwise twenty digits are a receipt, and anything
    else that can be the start of an id is a reference. Responders find only their own
    cases; coordinators every case but those whose reporter kept them away."""
    receipt = None if typed.strip().startswith("#") else ReceiptCode.parse(typed)
    condition: ColumnElement[bool]
    if receipt is not None:
        kind = RECEIPT
        condition = receipt_matches(receipt)
        start = ""
    else:
        bounds = reference_range(typed)
        if bounds is None:
            return SearchResult("", [])
        kind = REFERENCE
        start, upper = bounds
        condition = Case.id >= start
        if upper is not None:
            condition = condition & (Case.id < upper)
    conditions = [condition]
    if viewer.role != COORDINATOR:
        conditions.append(Case.assigned_to_id == viewer.id)
    rows = _rows(conditions, MOST_SHOWN + 1)
    # The range is exact; the check costs nothing on the few rows read.
    rows = [row for row in rows if row.id.startswith(start)]
    if viewer.role == COORDINATOR and rows:
        kept_away = excluded_among([row.id for row in rows], [viewer.id])
        rows = [row for row in rows if viewer.id not in kept_away.get(row.id, set())]
    more = len(rows) > MOST_SHOWN
    rows = rows[:MOST_SHOWN]
    announce(
        "case_searched",
        actor=viewer.id,
        role=viewer.role,
        case_id=rows[0].id if len(rows) == 1 else None,
        kind=kind,
        found=len(rows),
        more=more,
    )
    return SearchResult(kind, rows, more)


def _rows(conditions: list[ColumnElement[bool]], limit: int) -> list[QueueRow]:
    ids = select(Case.id).where(*conditions).order_by(Case.id).limit(limit).subquery()
    return queue_rows(ids, (Case.id,))
