"""Support requests in the program's figures: counted apart from the reports, protected as a
population of their own, and counted as a report when one becomes a report."""

from __future__ import annotations

import secrets

from flask import Flask
from sqlalchemy import select

from app.cases.content import ReportContent
from app.cases.models import ReportTally
from app.extensions import db
from app.insights import figures
from app.insights.period import Period, this_month
from app.intake.becoming import make_report
from app.intake.services import Submission
from tests.cases.test_queue import signed_in
from tests.factories import make_staff, make_support_request
from tests.insights.test_dashboard import csv_table, file_reports, table_rows
from tests.referrals.test_pdf import text_of

ON_HER_MIND = "narrative-marker-support never a figure"


def into_report(case_id: str, category: str = "exploitation") -> None:
    make_report(
        case_id,
        Submission(
            category=category,
            language="en",
            content=ReportContent(narrative=ON_HER_MIND),
            submission_token=secrets.token_urlsafe(16),
            consent={"peer_support": True},
        ),
    )


def test_support_requests_have_a_section_of_their_own(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    requests = [make_support_request(narrative=ON_HER_MIND) for _ in range(5)]
    requests += [make_support_request(narrative=ON_HER_MIND, language="es") for _ in range(2)]
    file_reports(6, category="threats")
    browser = signed_in(app, coordinator)

    html = browser.get("/insights").get_data(as_text=True)
    assert '<h2 id="support">Support requests</h2>' in html and ON_HER_MIND not in html
    level = table_rows(html, "support-level")
    assert level["L3 · routine"][-4] == "7" and level["All support requests"][-4] == "7"
    assert table_rows(html, "support-language")["Spanish"][-4] == "fewer than 5"
    # The reports' tables count the reports alone.
    assert table_rows(html, "table-category")["All reports"][-4] == "6"
    assert table_rows(html, "table-category")["Threats, stalking or psychological abuse"][-4] == "6"
    assert "support-category" not in html and "support-county" not in html
    assert table_rows(html, "table-support-times")["L3"][0] == "acknowledge 72 h, reply 30 days"

    # One becomes a report: a report now, this month; its count as a request stays.
    into_report(requests[0].id)
    html = browser.get("/insights").get_data(as_text=True)
    assert table_rows(html, "table-category")["All reports"][-4] == "7"
    assert (
        table_rows(html, "table-category")[
            "Exploitation or coercion (wages, debt, documents, housing, forced services)"
        ][-4]
        == "fewer than 5"
    )
    assert table_rows(html, "support-level")["All support requests"][-4] == "7"

    body = browser.get("/insights/figures.csv").get_data(as_text=True)
    assert csv_table(body, "Support requests: Level")["All support requests"][-4] == "7"
    assert csv_table(body, "Support requests: Language")["Spanish"][-4] == "fewer than 5"
    assert "Support requests: time to answer" in body and ON_HER_MIND not in body
    text = text_of(browser.get("/insights/summary.pdf").data)
    assert text.count("\f") == 1 and "Support requests, by level" in text


def test_each_kind_is_a_population_of_its_own(app: Flask) -> None:
    for _ in range(3):
        make_support_request()
    file_reports(7)
    with app.test_request_context():  # the answers' names are the English labels
        view = figures.dashboard(Period(this_month(), this_month()))
    assert {table.table.population for table in view.support.values()} == {"support requests"}
    assert {table.table.population for table in view.reports.values()} == {"reports"}
    # Three requests are fewer than five wherever they show; seven reports are shown.
    assert str(view.support["level"].cell("total", "total")) == "fewer than 5"
    assert str(view.reports["level"].cell("total", "total")) == "7"


def test_recount_counts_the_reports_requests_became_and_keeps_the_requests_counts(app: Flask) -> None:
    kept = make_support_request(language="es")
    turned = make_support_request()
    # (A request whose level its report raised is counted again at the raised level: the level
    # it was sent at is not kept.)
    into_report(turned.id, "other")
    file_reports(2, setting="hotel")

    def counted() -> dict[tuple[str, str, str, str], int]:
        db.session.expire_all()
        rows = db.session.scalars(select(ReportTally))
        return {(row.month, row.kind, row.question, row.answer): row.count for row in rows}

    before = counted()
    assert kept.id != turned.id
    db.session.query(ReportTally).filter(ReportTally.kind == "report").delete()
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["insights", "recount"])
    assert result.exit_code == 0, result.output
    assert "Counted the answers of 3 reports." in result.output
    assert counted() == before  # the requests' own counts stay as intake made them
