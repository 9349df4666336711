"""Reading the audit log page by page, newest first, for the coordinators' audit viewer.

Pages are keyed by entry number (``before``), not counted from the start, so the hundredth
page costs what the first does; every filter has an index (person, action, time; case).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from app.audit.log import Break, verify
from app.audit.models import AuditEntry
from app.extensions import db

PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilters:
    # A staff id; or, with no id, everyone of ``actor_role`` ("reporter", "system", "operator").
    actor_id: str | None = None
    actor_role: str | None = None
    action: str | None = None
    # The case: its id's first characters, as a range (app.cases.references.reference_range).
    case_range: tuple[str, str | None] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_detail(self) -> dict[str, Any]:
        """The filters as the audit entry of the viewing records them (ids and codes)."""
        return {
            "person": self.actor_id or self.actor_role,
            "action": self.action,
            "case": self.case_range[0] if self.case_range else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    # The ``before`` of the next (older) page, or None on the last page.
    older: int | None


def _conditions(filters: AuditFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.actor_id:
        conditions.append(AuditEntry.actor_id == filters.actor_id)
    elif filters.actor_role:
        conditions += [AuditEntry.actor_id == "", AuditEntry.actor_role == filters.actor_role]
    if filters.action:
        conditions.append(AuditEntry.action == filters.action)
    if filters.case_range:
        start, upper = filters.case_range
        conditions.append(AuditEntry.case_id >= start)
        if upper is not None:
            conditions.append(AuditEntry.case_id < upper)
    if filters.since:
        conditions.append(AuditEntry.at >= filters.since)
    if filters.until:
        conditions.append(AuditEntry.at < filters.until)
    return conditions


def audit_page(filters: AuditFilters, before: int | None = None, *, hidden_cases: Collection[str] = ()) -> AuditPage:
    """Up to ``PER_PAGE`` entries matching ``filters``, newest first, numbered below ``before``;
    none about ``hidden_cases`` (those whose reporter kept the viewer away)."""
    conditions = _conditions(filters)
    if hidden_cases:
        conditions.append(or_(AuditEntry.case_id.is_(None), AuditEntry.case_id.not_in(hidden_cases)))
    if before is not None:
        conditions.append(AuditEntry.id < before)
    entries = list(
        db.session.scalars(select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc()).limit(PER_PAGE + 1))
    )
    older = entries[PER_PAGE - 1].id if len(entries) > PER_PAGE else None
    return AuditPage(entries[:PER_PAGE], older)


def action_label(action: str) -> str:
    """ "case_viewed" → "Case viewed"."""
    return action.replace("_", " ").capitalize()


# Details that name a colleague by id.
STAFF_KEYS = frozenset({"to", "previous", "counsel", "staff", "person", "by", "target"})


def describe(detail: dict[str, Any] | None, names: dict[str, str]) -> list[tuple[str, str]]:
    """An entry's detail as (what, value) pairs a person reads: colleagues by name, yes/no."""
    described = []
    for key, value in sorted((detail or {}).items()):
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, str) and (key in STAFF_KEYS or value in names):
            shown = names.get(value, "a former account")
        elif isinstance(value, list):
            shown = ", ".join(str(item) for item in value)
        else:
            shown = str(value)
        described.append((key.replace("_", " "), shown))
    return described


@dataclass(frozen=True)
class ChainCheck:
    problem: Break | None
    entries: int
    seconds: float


def check_chain() -> ChainCheck:
    """The same check as `flask audit verify`, timed, with the number of entries it covered."""
    started = time.monotonic()
    problem = verify()
    entries = db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return ChainCheck(problem, entries, time.monotonic() - started)
