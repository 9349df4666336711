"""The figures laid out as people read them: rows of a table, times in words, charts. The page,
the CSV and the PDF all read these, so the three always agree."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from app.config import current_settings
from app.insights import charts
from app.insights.figures import Dashboard
from app.insights.suppression import SHOWN, TOTAL, Figure, ProtectedTable
from app.insights.timings import LevelTimes, Times
from app.triage.targets import ack_hours

CHARTED = ("category", "level", "setting", "perpetrator", "county", "language", "when")


@dataclass(frozen=True)
class Row:
    name: str
    months: list[Figure]
    total: Figure
    before: Figure

    @property
    def change(self) -> str:
        """The change since the period before, when both counts are shown."""
        now, then = self.total.value, self.before.value
        if now is None or then is None or self.total.state != "shown" or self.before.state != "shown" or not then:
            return ""
        percent = round((now - then) * 100 / then)
        return f"{percent:+d}%" if percent else "no change"


def month_name(month: str) -> str:
    return f"{date(int(month[:4]), int(month[5:]), 1):%b %Y}"


ALL = {"report": "All reports", "support": "All support requests"}


def rows(view: Dashboard, question: str, kind: str = "report") -> list[Row]:
    """One row per answer, then the row of all reports (or support requests: ``kind``)."""
    tables, befores = view.tables(kind)
    table, before = tables[question], befores[question]
    names = (view.names if kind == "report" else view.support_names)[question]
    result = []
    for answer in table.table.rows:
        result.append(
            Row(
                names.get(answer, answer),
                [table.cell(answer, month) for month in table.table.columns],
                table.cell(answer, TOTAL),
                before.cell(answer, TOTAL),
            )
        )
    result.append(
        Row(
            ALL[kind],
            [table.cell(TOTAL, month) for month in table.table.columns],
            table.cell(TOTAL, TOTAL),
            before.cell(TOTAL, TOTAL),
        )
    )
    return result


def referral_rows(view: Dashboard) -> list[Row]:
    table = view.referrals
    unknown = Figure(None, "withheld")
    result = [
        Row(
            view.names["referrals"].get(stage, stage),
            [table.cell(stage, month) for month in table.table.columns],
            table.cell(stage, TOTAL),
            unknown,
        )
        for stage in table.table.rows
    ]
    result.append(
        Row("All referrals", [table.cell(TOTAL, m) for m in table.table.columns], table.cell(TOTAL, TOTAL), unknown)
    )
    return result


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "withheld"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest:02d} min" if hours < 10 and rest else f"{round(minutes / 60)} h"
    return f"{seconds / 86400:.1f} days"


def share(value: float | None) -> str:
    return "withheld" if value is None else f"{round(value * 100)}%"


@dataclass(frozen=True)
class LevelRow:
    name: str
    target: str
    acknowledge: Times
    reply: Times
    close: Times


def level_rows(view: Dashboard, kind: str = "report") -> list[LevelRow]:
    """The times of reports (or support requests: ``kind``) by level, then of all levels."""
    feedback_days = current_settings().triage.feedback_days
    times = view.times if kind == "report" else view.support_times
    counts = (view.reports if kind == "report" else view.support)["level"]
    return [_level_row(_shared_safely(level, counts), kind, feedback_days) for level in times]


def _shared_safely(times: LevelTimes, counts: ProtectedTable) -> LevelTimes:
    """``times`` with its shares on time withheld unless the level's count is shown: 86% on
    time speaks of 6 of 7, which gives back a count the level table withheld."""
    level = TOTAL if times.level is None else f"L{times.level}"
    if counts.cell(level, TOTAL).state == SHOWN:
        return times
    return replace(
        times,
        acknowledge=replace(times.acknowledge, on_time=None),
        reply=replace(times.reply, on_time=None),
    )


def _level_row(times: LevelTimes, kind: str, feedback_days: int) -> LevelRow:
    if times.level is None:
        return LevelRow("All levels", f"reply {feedback_days} days", times.acknowledge, times.reply, times.close)
    return LevelRow(
        f"L{times.level}",
        f"acknowledge {ack_hours(times.level, kind)} h, reply {feedback_days} days",
        times.acknowledge,
        times.reply,
        times.close,
    )


def chart_urls(view: Dashboard) -> dict[str, str]:
    """The charts of the page as data URLs: reports per month, then each charted question's
    answers in this period and the one before."""
    per_month = view.per_month()
    months = per_month.table.columns
    urls = {
        "months": charts.bars(
            tuple(f"{date(int(m[:4]), int(m[5:]), 1):%b %y}" for m in months),
            (("Reports", charts.values([per_month.cell(TOTAL, m) for m in months])),),
        )
    }
    for question in CHARTED:
        shown = rows(view, question)[:-1]
        urls[question] = charts.bars(
            tuple(_short(row.name) for row in shown),
            (
                ("This period", charts.values([row.total for row in shown])),
                ("The months before", charts.values([row.before for row in shown])),
            ),
            horizontal=True,
        )
    return urls


def _short(name: str, length: int = 34) -> str:
    """A label short enough to leave the bars room; the table beside gives it whole."""
    return name if len(name) <= length else name[: length - 1].rstrip(" ,(") + "…"
