"""How fast the program answered, level by level: the median and the 90th percentile of the
time to acknowledge, to first reply and to close, and the share that met its deadline.

A case counts towards a share once it is decided: done, or past its deadline undone (a case
nobody acknowledged in time is late, not left out). Each deadline is the one set when the
case was filed. Times and shares resting on fewer than five cases are withheld.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.dialects.postgresql import array

from app.cases.models import Case
from app.extensions import db
from app.insights.period import Period
from app.insights.suppression import MIN_BASE, rate
from app.models import utcnow


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
    within = and_(Case.created_at >= start, Case.created_at < end, Case.kind == kind)
    if db.session.get_bind().dialect.name == "postgresql":
        return _in_database(within)
    return _in_python(within)


def _in_python(within: ColumnElement[bool]) -> list[LevelTimes]:
    now = utcnow()
    rows = db.session.execute(
        select(
            Case.level,
            Case.created_at,
            Case.acknowledged_at,
            Case.ack_due_at,
            Case.first_reply_at,
            Case.feedback_due_at,
            Case.closed_at,
            Case.status,
        ).where(within)
    ).all()
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


def _in_database(within: ColumnElement[bool]) -> list[LevelTimes]:
    """PostgreSQL computes the percentiles itself: only five rows come back."""
    now = utcnow()
    ack = _seconds(Case.acknowledged_at, Case.created_at)
    reply = _seconds(Case.first_reply_at, Case.created_at)
    close = case((Case.status == "closed", _seconds(Case.closed_at, Case.created_at)))
    rows: Sequence[Any] = db.session.execute(
        select(
            Case.level,
            func.count(Case.acknowledged_at),
            _quantiles(ack),
            _count_if(Case.acknowledged_at <= Case.ack_due_at),
            _count_if(or_(Case.acknowledged_at.is_not(None), Case.ack_due_at < now)),
            func.count(Case.first_reply_at),
            _quantiles(reply),
            _count_if(Case.first_reply_at <= Case.feedback_due_at),
            _count_if(or_(Case.first_reply_at.is_not(None), Case.feedback_due_at < now)),
            func.count(close),
            _quantiles(close),
        )
        .where(within)
        .group_by(func.rollup(Case.level))
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
