"""The program's figures as a coordinator reads them: on the page, in the CSV, in the PDF."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cases.models import Case
from app.extensions import db
from app.insights import keeping
from app.insights.period import this_month
from app.models import utcnow
from tests.cases.test_queue import signed_in
from tests.factories import make_case, make_staff
from tests.referrals.test_pdf import text_of
from tests.staff.test_accounts import age_session

MARKER = "narrative-marker-insights never a figure"


def file_reports(count: int, **answers: str) -> list[Case]:
    return [make_case(narrative=MARKER, **answers) for _ in range(count)]


def table_rows(page: str, table_id: str) -> dict[str, list[str]]:
    """A table of the page as {row name: its cells}."""
    table = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row)
        if name:
            rows[name[1]] = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>.*?</td>", row)]
    return rows


def csv_table(body: str, title: str) -> dict[str, list[str]]:
    lines = list(csv.reader(io.StringIO(body)))
    start = next(n for n, line in enumerate(lines) if line and line[0] == title)
    rows = {}
    for line in lines[start + 1 :]:
        if not line:
            break
        rows[line[0]] = line[1:]
    return rows


def test_a_county_with_three_reports_reads_fewer_than_5_with_its_complement_withheld(
    app: Flask, tmp_path: Path
) -> None:
    coordinator = make_staff("coordinator")
    file_reports(3, county="hartford", setting="hotel")
    file_reports(9, county="new_haven", setting="clinic")
    file_reports(6, setting="clinic")
    browser = signed_in(app, coordinator)

    page = browser.get("/insights")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    month = f"{this_month():%b %Y}"
    assert month in html
    county = table_rows(html, "table-county")
    # Cells: the months, the period's total, the months before, the change. 3 is never printed.
    assert county["Hartford"][-4:-2] == ["fewer than 5", "fewer than 5"]
    assert county["Not answered"][-4:-2] == ["withheld", "withheld"]  # else 18 - 9 - 6 gives 3 back
    assert county["New Haven"][-4:-2] == ["9", "9"]
    assert county["All reports"][-4:-2] == ["18", "18"]
    assert table_rows(html, "table-setting")["A hotel"][-4] == "fewer than 5"
    assert MARKER not in html

    download = browser.get("/insights/figures.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    body = download.get_data(as_text=True)
    rows = csv_table(body, "County")
    assert rows["Hartford"][-4:-2] == ["fewer than 5", "fewer than 5"]
    assert rows["Not answered"][-4:-2] == ["withheld", "withheld"]
    assert rows["New Haven"][-4:-2] == ["9", "9"]

    summary = browser.get("/insights/summary.pdf")
    assert summary.status_code == 200 and summary.mimetype == "application/pdf"
    text = text_of(summary.data)
    assert text.count("\f") == 1  # one page
    assert re.search(r"Hartford\s+fewer than 5", text)
    assert re.search(r"Not answered\s+withheld", text)
    assert MARKER not in body and MARKER not in text

    exports = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export_made")).all()
    assert [entry.detail["kind"] for entry in exports] == ["figures_csv", "figures_pdf"]
    assert all(entry.actor_id == coordinator.id for entry in exports)


def test_times_to_answer_are_withheld_below_five_cases_and_shown_from_five(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    now = utcnow()
    cases = file_reports(6)
    for hours, case in enumerate(cases, start=1):  # acknowledged after 1, 2, ... 5 hours
        case.created_at = now - timedelta(hours=hours)
        case.ack_due_at = case.created_at + timedelta(hours=24)
        case.acknowledged_at = now if hours < 5 else None
    cases[-1].created_at = now - timedelta(days=2)  # never acknowledged: late
    cases[-1].ack_due_at = now - timedelta(days=1)
    db.session.commit()
    browser = signed_in(app, coordinator)
    # Cells: target, then median, 90th percentile and share on time for acknowledging, ...
    times = table_rows(browser.get("/insights").get_data(as_text=True), "table-times")
    assert times["L2"][1:4] == ["withheld", "withheld", "80%"]  # four acknowledged: no median

    cases[4].acknowledged_at = now
    db.session.commit()
    times = table_rows(browser.get("/insights").get_data(as_text=True), "table-times")
    assert times["L2"][1:4] == ["3 h", "4 h 36 min", "83%"]  # five of six on time
    assert times["All levels"][1:4] == ["3 h", "4 h 36 min", "83%"]
    assert times["L0"][1:4] == ["withheld", "withheld", "withheld"]


def test_exports_ask_for_a_fresh_confirmation_first(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    browser = signed_in(app, coordinator)
    age_session(browser, reauth=3600)
    for path in ("/insights/figures.csv", "/insights/summary.pdf"):
        answer = browser.get(path)
        assert answer.status_code == 303 and "/staff/reauth" in answer.headers["Location"]
    assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export_made")).all()


def test_a_period_is_chosen_and_compared_with_the_months_before(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    file_reports(7, county="tolland")
    browser = signed_in(app, coordinator)
    current = this_month()
    month = f"{current:%Y-%m}"
    html = browser.get(f"/insights?from={month}&to={month}").get_data(as_text=True)
    county = table_rows(html, "table-county")
    # one month: its cell, the total, the month before (none), no change to speak of
    assert county["Tolland"] == ["7", "7", "0", ""]
    fallback = browser.get("/insights?from=nonsense", follow_redirects=True).get_data(as_text=True)
    assert "A month was not understood" in fallback and len(table_rows(fallback, "table-county")["Tolland"]) == 15


def test_a_share_on_time_is_withheld_where_its_level_count_is(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    now = utcnow()
    cases = file_reports(3) + file_reports(7, danger_now="yes")  # three at L2, seven at L0
    for n, case in enumerate(cases):
        case.created_at = now - timedelta(hours=30)
        case.ack_due_at = case.created_at + timedelta(hours=24)
        case.acknowledged_at = now - timedelta(hours=(28 if n else 2))  # the first late
    db.session.commit()
    html = signed_in(app, coordinator).get("/insights").get_data(as_text=True)
    levels = table_rows(html, "table-level")
    assert levels["L2 · serious"][-3] == "fewer than 5" and levels["L0 · imminent danger"][-3] != "7"
    times = table_rows(html, "table-times")
    # 2 of 3 on time, or 6 of 7, would give back the withheld counts.
    assert times["L2"][3] == "withheld" and times["L0"][3] == "withheld"
    assert times["All levels"][3] == "90%"


def test_figures_are_kept_a_minute_and_the_page_says_when_they_were_made(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["CONFIDE"] = dataclasses.replace(app.config["CONFIDE"], insights_cache_seconds=60)
    clock = [1000.0]
    monkeypatch.setattr(keeping.time, "monotonic", lambda: clock[0])
    coordinator = make_staff("coordinator")
    file_reports(7, county="tolland")
    browser = signed_in(app, coordinator)
    month = f"{this_month():%Y-%m}"

    def tolland() -> tuple[str, str]:
        html = browser.get(f"/insights?from={month}&to={month}").get_data(as_text=True)
        made = re.search(r'<p class="small" id="made-at">(.*?)</p>', html)
        assert made is not None and "reloading within 60 seconds of that shows the same figures" in made[1]
        return table_rows(html, "table-county")["Tolland"][0], made[1]

    first, made = tolland()
    file_reports(2, county="tolland")
    clock[0] += 59
    assert tolland() == (first, made) == ("7", made), "the same figures within the minute"
    clock[0] += 2
    assert tolland()[0] == "9", "worked out again after it"
