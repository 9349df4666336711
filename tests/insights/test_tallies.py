"""Each report's answers are counted as it is filed, and can be counted again with the keyring."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from app.cases.models import ReportTally
from app.cases.tallies import QUESTIONS, program_month
from app.extensions import db
from app.models import utcnow
from app.security import CSP
from tests.cases.test_queue import signed_in
from tests.factories import make_case, make_staff


def tallies() -> dict[tuple[str, str], int]:
    rows = db.session.scalars(select(ReportTally).where(ReportTally.month == program_month(utcnow())))
    return {(row.question, row.answer): row.count for row in rows}


def test_a_filed_report_is_counted_once_for_every_question(app: Flask) -> None:
    make_case(category="exploitation", county="windham", setting="outcall", perpetrator="employer", when="week")
    make_case(category="exploitation", language="es", consent={"legal_referral": True})
    counted = tallies()
    for question in QUESTIONS:  # every question sums to the two reports
        assert sum(n for (q, _), n in counted.items() if q == question) == 2, question
    assert counted[("category", "exploitation")] == 2
    assert counted[("county", "windham")] == 1 and counted[("county", "unanswered")] == 1
    assert counted[("setting", "outcall")] == 1 and counted[("perpetrator", "employer")] == 1
    assert counted[("when", "week")] == 1 and counted[("language", "es")] == 1
    assert counted[("legal_referral", "yes")] == 1 and counted[("peer_support", "yes")] == 2
    assert counted[("named", "anonymous")] == 2


def test_recount_opens_the_sealed_answers_and_counts_them_again(app: Flask) -> None:
    make_case(setting="hotel", perpetrator="client", when="72h", county="hartford")
    make_case(setting="hotel")
    before = tallies()
    db.session.query(ReportTally).delete()
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["insights", "recount"])
    assert result.exit_code == 0, result.output
    assert "Counted the answers of 2 reports and 0 support requests." in result.output
    assert tallies() == before and before[("setting", "hotel")] == 2


def test_only_the_figures_page_lets_images_come_from_data_urls(app: Flask) -> None:
    browser = signed_in(app, make_staff("coordinator"))
    figures = browser.get("/insights")
    assert "img-src 'self' data:" in figures.headers["Content-Security-Policy"]
    assert "script-src 'self'" in figures.headers["Content-Security-Policy"]
    assert browser.get("/cases").headers["Content-Security-Policy"] == CSP
    assert "data:" not in CSP
