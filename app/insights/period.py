"""The months a coordinator looks at, in the program's time zone, and the months before them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, literal

from app.config import current_settings

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
LONGEST = 24  # months: one table must still fit a page
DEFAULT_LENGTH = 12


def _shift(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _parse(text: str | None) -> date | None:
    found = MONTH.match(text or "")
    return date(int(found[1]), int(found[2]), 1) if found else None


@dataclass(frozen=True)
class Period:
    """Whole months, ``first`` to ``last`` included."""

    first: date
    last: date

    @cached_property
    def months(self) -> tuple[str, ...]:
        count = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1
        return tuple(f"{_shift(self.first, n):%Y-%m}" for n in range(count))

    @property
    def length(self) -> int:
        return len(self.months)

    def previous(self) -> Period:
        """The same number of months just before."""
        return Period(_shift(self.first, -self.length), _shift(self.first, -1))

    def bounds(self) -> tuple[datetime, datetime]:
        """Its start and end as UTC instants: midnight of the first day and of the day after."""
        zone = ZoneInfo(current_settings().display_timezone)
        start = datetime(self.first.year, self.first.month, 1, tzinfo=zone)
        after = _shift(self.last, 1)
        end = datetime(after.year, after.month, 1, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def month_of(self, column: Any) -> Any:
        """A SQL expression: the index in :attr:`months` of the month ``column`` (a UTC time
        inside the period) falls in, in the program's time zone, on either database."""
        starts = self.month_starts()
        if not starts:
            return literal(0)
        return case(*((column < start, n) for n, start in enumerate(starts)), else_=len(starts))

    def month_starts(self) -> list[datetime]:
        """The UTC instant each month after the first begins (to sort times into months)."""
        zone = ZoneInfo(current_settings().display_timezone)
        return [datetime(int(m[:4]), int(m[5:]), 1, tzinfo=zone).astimezone(UTC) for m in self.months[1:]]

    @property
    def label(self) -> str:
        if self.first == self.last:
            return f"{self.first:%B %Y}"
        return f"{self.first:%B %Y} to {self.last:%B %Y}"


def this_month() -> date:
    now = datetime.now(UTC).astimezone(ZoneInfo(current_settings().display_timezone))
    return date(now.year, now.month, 1)


def period_from(first: str | None, last: str | None) -> tuple[Period, str | None]:
    """The period asked for (months as "2026-03"), or the last twelve months; with a problem to
    show when what was asked could not be used as it was."""
    current = this_month()
    end = _parse(last) or current
    start = _parse(first) or _shift(end, 1 - DEFAULT_LENGTH)
    problem = None
    if (first and _parse(first) is None) or (last and _parse(last) is None):
        problem = "A month was not understood; showing the last twelve months instead."
        end, start = current, _shift(current, 1 - DEFAULT_LENGTH)
    if end > current:
        end = current
    if start > end:
        start, end = end, start
    if Period(start, end).length > LONGEST:
        start = _shift(end, 1 - LONGEST)
        problem = f"At most {LONGEST} months are shown at once; these are the last {LONGEST} of them."
    return Period(start, end), problem


def month_choices(back: int = 60) -> list[str]:
    """The months a coordinator may choose, newest first."""
    current = this_month()
    return [f"{_shift(current, -n):%Y-%m}" for n in range(back)]
