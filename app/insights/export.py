"""The dashboard's figures for a board or a funder: a CSV of every table, and a one-page PDF.

Both are made from the same protected figures as the page (``page.rows``): a count from 1 to 4
reads "fewer than 5", its complement "withheld", in the file as on the screen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime

from app.cases.tallies import SUPPORT_QUESTIONS
from app.casework.export import safe_cell
from app.insights import page
from app.insights.figures import SECTIONS, SUPPORT_SECTION, SUPPORT_TITLES, TITLES, Dashboard
from app.pdf import typeset
from app.pdf.typeset import GREY, LEFT, RIGHT, Writer

NOTE = (
    "Counts from 1 to 4 are shown as 'fewer than 5', and some other counts are withheld so that "
    "they cannot be worked out from the totals. Times and shares resting on fewer than 5 cases are withheld."
)


def figures_csv(view: Dashboard) -> str:
    buffer = io.StringIO()
    out = csv.writer(buffer)

    def line(*cells: object) -> None:
        out.writerow([safe_cell(cell) for cell in cells])

    line("Confide: program figures", view.period.label, f"compared with {view.previous.label}")
    line(NOTE)
    months = [page.month_name(m) for m in view.period.months]
    for section, questions in (*SECTIONS, ("Referrals to counsel", ("referrals",))):
        line()
        line(section)
        for question in questions:
            line()
            title = "Referrals by stage reached" if question == "referrals" else TITLES[question]
            line(title, *months, "Total", f"Total, {view.previous.label}", "Change")
            shown = page.referral_rows(view) if question == "referrals" else page.rows(view, question)
            for row in shown:
                before = "" if question == "referrals" else row.before
                line(row.name, *row.months, row.total, before, row.change)
    line()
    line(SUPPORT_SECTION)
    for question in SUPPORT_QUESTIONS:
        line()
        title = f"{SUPPORT_SECTION}: {SUPPORT_TITLES[question]}"
        line(title, *months, "Total", f"Total, {view.previous.label}", "Change")
        for row in page.rows(view, question, "support"):
            line(row.name, *row.months, row.total, row.before, row.change)
    for title, kind in (("Time to answer", "report"), (f"{SUPPORT_SECTION}: time to answer", "support")):
        line()
        _times(line, title, page.level_rows(view, kind))
    return buffer.getvalue()


def _times(line: Callable[..., None], title: str, levels: list[page.LevelRow]) -> None:
    line(title, "Target", "Acknowledge: median", "90th percentile", "On time", "First reply: median")
    line("", "", "", "", "", "", "90th percentile", "On time", "Close: median", "90th percentile")
    for level in levels:
        line(
            level.name,
            level.target,
            page.duration(level.acknowledge.median),
            page.duration(level.acknowledge.p90),
            page.share(level.acknowledge.on_time),
            page.duration(level.reply.median),
            page.duration(level.reply.p90),
            page.share(level.reply.on_time),
            page.duration(level.close.median),
            page.duration(level.close.p90),
        )


# Two columns of tables: answer, this period, the period before.
COLUMN = (RIGHT - LEFT - 18) / 2
SIZE = 7.6
LEFT_TABLES = ("level", "category", "setting", "perpetrator", "support")
RIGHT_TABLES = ("county", "language", "when", "referrals")
TIMES_AT = (0, 60, 115, 170, 225, 280, 335, 390, 445)


def _fit(writer: Writer, text: str, size: float) -> str:
    """``text`` cut to the width left of the figures (the CSV and the page give it whole)."""
    lines = writer.lines(text, COLUMN - 122, size)
    return lines[0] if len(lines) == 1 else lines[0].rstrip(" ,(") + "…"


def _table(writer: Writer, x: float, title: str, rows: list[page.Row], before: bool = True) -> None:
    writer.y += 5
    writer.draw(x, _fit(writer, title, SIZE + 1), SIZE + 1, bold=True)
    writer.draw(x + COLUMN - 112, "Period", SIZE, color=GREY)
    if before:
        writer.draw(x + COLUMN - 52, "Before", SIZE, color=GREY)
    writer.y += (SIZE + 1) * 1.45
    for row in rows:
        writer.draw(x, _fit(writer, row.name, SIZE), SIZE, bold=row is rows[-1])
        writer.draw(x + COLUMN - 112, str(row.total), SIZE)
        if before:
            writer.draw(x + COLUMN - 52, str(row.before), SIZE, color=GREY)
        writer.y += SIZE * 1.32


def summary_pdf(view: Dashboard, *, made: datetime) -> bytes:
    """One page: each table's totals for the period beside the period before, then the times."""
    writer = typeset.start(
        "Confide: program figures",
        f"Confide · program figures · {view.period.label} · made {made:%Y-%m-%d}",
        created=made,
        language="en",
    )
    writer.draw(LEFT, "Program figures", 15, bold=True)
    writer.y += 22
    writer.block(f"{view.period.label}, compared with {view.previous.label} (grey).", size=9)
    writer.block(NOTE, size=7.5, color=GREY)
    top = lowest = writer.y
    for x, questions in ((LEFT, LEFT_TABLES), (LEFT + COLUMN + 18, RIGHT_TABLES)):
        writer.y = top
        for question in questions:
            if question == "referrals":
                _table(writer, x, "Referrals to counsel, by stage", page.referral_rows(view), before=False)
            elif question == "support":
                _table(writer, x, f"{SUPPORT_SECTION}, by level", page.rows(view, "level", "support"))
            else:
                _table(writer, x, TITLES[question], page.rows(view, question))
        lowest = max(lowest, writer.y)
    writer.y = lowest + 8
    writer.draw(LEFT, "Time to answer", SIZE + 1, bold=True)
    writer.y += (SIZE + 1) * 1.45
    heads = ("", "Acknowledged", "", "", "First reply", "", "", "Closed", "")
    for n, head in enumerate(heads):
        writer.draw(LEFT + TIMES_AT[n], head, SIZE, color=GREY)
    writer.y += SIZE * 1.32
    for n, head in enumerate(("Level", *("median", "90%", "on time") * 2, "median", "90%")):
        writer.draw(LEFT + TIMES_AT[n], head, SIZE, color=GREY)
    writer.y += SIZE * 1.32
    for level in page.level_rows(view):
        ack, reply, close = level.acknowledge, level.reply, level.close
        cells = (
            level.name,
            page.duration(ack.median),
            page.duration(ack.p90),
            page.share(ack.on_time),
            page.duration(reply.median),
            page.duration(reply.p90),
            page.share(reply.on_time),
            page.duration(close.median),
            page.duration(close.p90),
        )
        for n, cell in enumerate(cells):
            writer.draw(LEFT + TIMES_AT[n], cell, SIZE, bold=n == 0)
        writer.y += SIZE * 1.32
    return writer.finish()
