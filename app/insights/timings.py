"""How fast the program answered, level by level: the median and the 90th percentile of the
time to acknowledge, to first reply and to close, and the share that met its deadline.

A case shredded under the retention policy, or by its reporter, counts as it did, from the
statistics row it left (app/retention/models.py).

A case counts towards a share once it is decided: done, or past its deadline undone (a case
nobody acknowledged in time is late, not left out). Each deadline is the one set when the
case was filed. Times and shares resting on fewer than five cases are withheld.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Subquery, case, func, or_, select, union_all
from sqlalchemy.dialects.postgresql import array

from app.cases.models import Case
from app.extensions import db
from app.insights.period import Period
from app.insights.suppression import MIN_BASE, rate
from app.models import utcnow
from app.retention.models import CaseStatistic


@dataclass(frozen=True)
class Times:
    """Median and 90th percentile in seconds (None: withheld), and the share on time."""

    median: float | None
    p90: float | None
    on_time: float | None = None


@dataclass(frozen=True)
class LevelTimes:
    level: int | None  # None: every level together
    acknowledge: Times
    reply: Times
    close: Times


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated between neighbours (as PostgreSQL's
    percentile_cont), so both databases give the same figure."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _times(seconds: list[float], on_time: int | None = None, decided: int | None = None) -> Times:
    share = rate(on_time, decided) if on_time is not None and decided is not None else None
    if len(seconds) < MIN_BASE:
        return Times(None, None, share)
    seconds.sort()
    return Times(percentile(seconds, 0.5), percentile(seconds, 0.9), share)


def _enough(n: int, value: float | None) -> float | None:
    return value if n >= MIN_BASE else None


def by_level(period: Period, kind: str = "report") -> list[LevelTimes]:
    """One row per level (L0 to L3), then one for all levels together, of the cases of
    ``kind`` (a support request that became a report is a report, from when it was sent)."""
    start, end = period.bounds()
    cases = _cases_of(start, end, kind)
    if db.session.get_bind().dialect.name == "postgresql":
        return _in_database(cases)
    return _in_python(cases)


COLUMNS = (
    "level",
    "created_at",
    "acknowledged_at",
    "ack_due_at",
    "first_reply_at",
    "feedback_due_at",
    "closed_at",
    "status",
)


def _cases_of(start: datetime, end: datetime, kind: str) -> Subquery:
    """The figures' columns of the cases of ``kind`` filed from ``start`` to ``end``: those
    kept, and the statistics rows of those shredded (app/retention), which count as they did."""
    kept = select(*(getattr(Case, name) for name in COLUMNS)).where(
        Case.created_at >= start, Case.created_at < end, Case.kind == kind
    )
    shredded = select(*(getattr(CaseStatistic, name) for name in COLUMNS)).where(
        CaseStatistic.created_at >= start, CaseStatistic.created_at < end, CaseStatistic.kind == kind
    )
    return union_all(kept, shredded).subquery("figures")


def _in_python(cases: Subquery) -> list[LevelTimes]:
    now = utcnow()
    rows = db.session.execute(select(*(cases.c[name] for name in COLUMNS))).all()
    result = []
    for level in (0, 1, 2, 3, None):
        mine = [row for row in rows if level is None or row.level == level]
        ack = [(r.acknowledged_at - r.created_at).total_seconds() for r in mine if r.acknowledged_at]
        ack_on_time = sum(1 for r in mine if r.acknowledged_at and r.acknowledged_at <= r.ack_due_at)
        ack_decided = sum(1 for r in mine if r.acknowledged_at or r.ack_due_at < now)
        reply = [(r.first_reply_at - r.created_at).total_seconds() for r in mine if r.first_reply_at]
        reply_on_time = sum(1 for r in mine if r.first_reply_at and r.first_reply_at <= r.feedback_due_at)
        reply_decided = sum(1 for r in mine if r.first_reply_at or r.feedback_due_at < now)
        close = [(r.closed_at - r.created_at).total_seconds() for r in mine if r.status == "closed" and r.closed_at]
        result.append(
            LevelTimes(
                level,
                _times(ack, ack_on_time, ack_decided),
                _times(reply, reply_on_time, reply_decided),
                _times(close),
            )
        )
    return result


def _seconds(later: Any, earlier: Any) -> ColumnElement[float]:
    # date_part gives a float: EXTRACT gives a numeric, many times slower to sort.
    return cast(ColumnElement[float], func.date_part("epoch", later - earlier))


def _quantiles(value: ColumnElement[float]) -> ColumnElement[list[float]]:
    """The median and the 90th percentile, from one sort."""
    return cast(ColumnElement[list[float]], func.percentile_cont(array([0.5, 0.9])).within_group(value))


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return cast(ColumnElement[int], func.count().filter(condition))


def _in_database(cases: Subquery) -> list[LevelTimes]:
    """PostgreSQL computes the percentiles itself: only five rows come back."""
    now = utcnow()
    c = cases.c
    ack = _seconds(c.acknowledged_at, c.created_at)
    reply = _seconds(c.first_reply_at, c.created_at)
    close = case((c.status == "closed", _seconds(c.closed_at, c.created_at)))
    rows: Sequence[Any] = db.session.execute(
        select(
            c.level,
            func.count(c.acknowledged_at),
            _quantiles(ack),
            _count_if(c.acknowledged_at <= c.ack_due_at),
            _count_if(or_(c.acknowledged_at.is_not(None), c.ack_due_at < now)),
            func.count(c.first_reply_at),
            _quantiles(reply),
            _count_if(c.first_reply_at <= c.feedback_due_at),
            _count_if(or_(c.first_reply_at.is_not(None), c.feedback_due_at < now)),
            func.count(close),
            _quantiles(close),
        ).group_by(func.rollup(c.level))
    ).all()
    found: dict[int | None, Any] = {row[0]: row for row in rows}
    result = []
    for level in (0, 1, 2, 3, None):
        row = found.get(level)
        if row is None:
            result.append(LevelTimes(level, Times(None, None), Times(None, None), Times(None, None)))
            continue
        (_, n_ack, ack, ack_on, ack_decided, n_reply, reply, r_on, r_decided, n_close, close) = row
        (ack50, ack90), (r50, r90), (c50, c90) = (pair or (None, None) for pair in (ack, reply, close))
        result.append(
            LevelTimes(
                level,
                Times(_enough(n_ack, ack50), _enough(n_ack, ack90), rate(ack_on, ack_decided)),
                Times(_enough(n_reply, r50), _enough(n_reply, r90), rate(r_on, r_decided)),
                Times(_enough(n_close, c50), _enough(n_close, c90)),
            )
        )
    return result
