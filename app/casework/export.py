"""The case list as CSV, for coordinators: the queue's cases with its filters, metadata only.

No content, contact details or receipts: only what the queue itself shows in the clear.
Rows are read in batches and written as they are read, so a long list costs no memory.
A cell a spreadsheet would take for a formula (it starts with = + - @, a tab or a carriage
return) is written with a leading apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select

from app.cases.models import Case
from app.cases.references import reference
from app.casework.services import QueueFilters, queue_conditions
from app.config import current_settings
from app.extensions import db
from app.i18n import in_language
from app.signals import announce
from app.staff.models import StaffUser
from app.staff.services import staff_directory
from app.vocabulary import CASE_LABELS, CLOSE_REASONS, COUNTIES, STATUS_NAMES

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


def safe_cell(value: object) -> str:
    """``value`` as a cell no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def header() -> list[str]:
    zone = current_settings().display_timezone
    return [
        "reference",
        "case id",
        f"received ({zone})",
        "level",
        "category",
        "status",
        "language",
        "county",
        "assigned to",
        f"acknowledged ({zone})",
        f"acknowledge by ({zone})",
        "closed because",
    ]


def _csv_line(cells: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()


def case_list_csv(viewer: StaffUser, filters: QueueFilters) -> Iterator[str]:
    """The lines of the CSV file (header first) of the cases the queue holds for ``viewer``
    with ``filters``. The export is audited (``export_made``) as it starts, with the count
    and the filters as codes."""
    conditions = queue_conditions(viewer, filters)
    count = db.session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    announce(
        "export_made",
        actor=viewer.id,
        role=viewer.role,
        kind="case_list",
        count=count,
        level=filters.level,
        status=filters.status,
        category=filters.category,
        language=filters.language,
        mine=filters.mine,
        case_kind=filters.kind,
    )
    with in_language("en"):  # staff pages, and so their exports, are in English
        # A support request's category column says so.
        categories = {code: str(label) for code, label in CASE_LABELS.items()}
    return _lines(conditions, categories)


def _lines(conditions: list[ColumnElement[bool]], categories: dict[str, str]) -> Iterator[str]:
    zone = ZoneInfo(current_settings().display_timezone)
    names = {staff_id: person.label for staff_id, person in staff_directory().items()}

    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    yield _csv_line(header())
    query = (
        select(
            Case.id,
            Case.created_at,
            Case.level,
            Case.category,
            Case.status,
            Case.language,
            Case.county,
            Case.assigned_to_id,
            Case.acknowledged_at,
            Case.ack_due_at,
            Case.closed_reason,
        )
        .where(*conditions)
        .order_by(Case.created_at, Case.id)
        .execution_options(yield_per=BATCH)
    )
    for row in db.session.execute(query):
        yield _csv_line(
            [
                reference(row.id),
                row.id,
                when(row.created_at),
                f"L{row.level}",
                categories.get(row.category, row.category),
                STATUS_NAMES.get(row.status, row.status),
                row.language,
                COUNTIES.get(row.county or "", row.county or ""),
                names.get(row.assigned_to_id or "", ""),
                when(row.acknowledged_at),
                when(row.ack_due_at),
                CLOSE_REASONS.get(row.closed_reason or "", row.closed_reason or ""),
            ]
        )
