"""Each report's answers are counted as it is filed, and can be counted again with the keyring."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, text

from app.cases import tallies as tallies_module
from app.cases.content import ContactDetails
from app.cases.models import Case, ReportTally
from app.cases.tallies import QUESTIONS, SEALED_QUESTIONS, answer_reader, program_month, recount
from app.extensions import db
from app.intake import services
from app.models import utcnow
from app.security import CSP
from app.vocabulary import SETTINGS
from tests.cases.test_queue import signed_in
from tests.factories import make_case, make_staff
from tests.insights.test_dashboard import table_rows
from tests.triage.test_races import just_before


def all_tallies() -> dict[tuple[str, str, str], int]:
    """Every month's counts, the sealed answers read back with the keyring as the figures do."""
    read = answer_reader("report")
    return {
        (row.month, row.question, read(row.month, row.question, row.answer)): row.count
        for row in db.session.scalars(select(ReportTally))
    }


def tallies() -> dict[tuple[str, str], int]:
    month = program_month(utcnow())
    return {(question, answer): n for (m, question, answer), n in all_tallies().items() if m == month}


def reports_counted() -> int:
    return sum(n for (question, _), n in tallies().items() if question == "category")


def filed_at(monkeypatch: pytest.MonkeyPatch, moment: datetime, **answers: Any) -> Case:
    """A case filed at ``moment`` (to the minute, as intake stores it)."""
    with monkeypatch.context() as patch:
        patch.setattr(services, "minute_now", lambda: moment.replace(second=0, microsecond=0))
        return make_case(**answers)


def file_elsewhere(app: Flask, failures: list[BaseException], **answers: Any) -> threading.Thread:
    """A report filed on a connection of its own, as another web process files it."""

    def file() -> None:
        with app.app_context():
            try:
                make_case(**answers)
            except BaseException as error:  # noqa: BLE001 - the test reports it
                failures.append(error)
            finally:
                db.session.remove()

    thread = threading.Thread(target=file, daemon=True)
    thread.start()
    return thread


def tallies_lock() -> str:
    """The statement that begins recount's writing (app/cases/tallies.py, _lock_tallies)."""
    return "LOCK TABLE report_tallies" if db.engine.dialect.name == "postgresql" else "UPDATE report_tallies"


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


def test_a_copy_of_the_database_does_not_tell_the_sealed_answers(app: Flask) -> None:
    for _ in range(6):
        make_case(county="hartford", setting="hotel", perpetrator="employer", when="72h")
    for _ in range(5):
        make_case(county="hartford", setting="clinic", perpetrator="client", when="week")

    rows = db.session.execute(text("SELECT month, kind, question, answer, count FROM report_tallies")).all()
    stored = " ".join(str(value) for row in rows for value in row)
    for answer in ("employer", "hotel", "72h", "client", "clinic", "week"):
        assert answer not in stored
    sealed = [answer for _, _, question, answer, _ in rows if question in SEALED_QUESTIONS]
    assert len(sealed) == 6 and all(re.fullmatch("[0-9a-f]{32}", answer) for answer in sealed)
    assert ("hartford", 11) in {(answer, count) for _, _, question, answer, count in rows if question == "county"}

    html = signed_in(app, make_staff("coordinator")).get("/insights").get_data(as_text=True)
    # Cells: the months, the period's total, the months before, the change.
    who = table_rows(html, "table-perpetrator")
    assert who["An employer or manager"][-4:-2] == ["6", "6"] and who["A client"][-4:-2] == ["5", "5"]
    assert who["Another therapist"][-4:-2] == ["0", "0"]
    assert table_rows(html, "table-setting")["A hotel"][-4:-2] == ["6", "6"]
    assert table_rows(html, "table-when")["In the last week"][-4:-2] == ["5", "5"]
    assert "Another answer" not in html


def test_an_answer_the_form_no_longer_offers_is_shown_as_another_answer(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        make_case(setting="clinic")
    for _ in range(6):
        make_case(setting="hotel")
    monkeypatch.delitem(SETTINGS, "clinic")  # a later version dropped it from the form

    html = signed_in(app, make_staff("coordinator")).get("/insights").get_data(as_text=True)
    where = table_rows(html, "table-setting")
    assert where["Another answer"][-4:-2] == ["5", "5"] and where["A hotel"][-4:-2] == ["6", "6"]
    assert "A clinic or spa" not in where
    assert "Another answer" not in table_rows(html, "table-perpetrator")


def test_recount_opens_the_sealed_answers_and_counts_them_again(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    filed_at(monkeypatch, utcnow() - timedelta(days=40), setting="outcall", perpetrator="employer", when="month")
    make_case(setting="hotel", perpetrator="client", when="72h", county="hartford", consent={"legal_referral": True})
    make_case(setting="hotel", language="es", contact=ContactDetails(name="Ana", email="ana@example.org"))
    before = all_tallies()
    db.session.execute(delete(ReportTally))
    db.session.commit()
    monkeypatch.setattr(tallies_module, "BATCH", 2)  # cases opened two at a time, as 500 at a time
    result = app.test_cli_runner().invoke(args=["insights", "recount"])
    assert result.exit_code == 0, result.output
    assert "Counted the answers of 3 reports." in result.output
    assert all_tallies() == before
    assert before[(program_month(utcnow()), "setting", "hotel")] == 2
    assert before[(program_month(utcnow()), "named", "named")] == 1


def test_recount_after_a_case_is_deleted_keeps_the_months_it_finds_no_case_in(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = utcnow() - timedelta(days=40)
    gone = filed_at(monkeypatch, earlier, setting="outcall", perpetrator="employer")
    make_case(setting="hotel")
    make_case(setting="hotel")
    before = all_tallies()
    db.session.execute(delete(Case).where(Case.id == gone.id))
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["insights", "recount"])
    assert result.exit_code == 0, result.output
    assert "Counted the answers of 2 reports." in result.output
    assert f"Counted again: {program_month(utcnow())}." in result.output
    assert all_tallies() == before
    assert before[(program_month(earlier), "perpetrator", "employer")] == 1


def test_a_report_filed_between_the_reading_and_the_writing_is_counted_once(app: Flask) -> None:
    make_case(setting="hotel")
    make_case(setting="hotel")
    failures: list[BaseException] = []

    def file_now() -> None:  # after recount has read every case, before it writes
        file_elsewhere(app, failures, setting="clinic").join(20)

    with just_before(tallies_lock(), file_now) as fired:
        counted = recount()
    assert fired and failures == []
    assert counted.reports == 3
    assert reports_counted() == 3
    assert tallies()[("setting", "hotel")] == 2 and tallies()[("setting", "clinic")] == 1


def test_a_report_filed_while_recount_writes_waits_for_it_and_is_counted_once(app: Flask) -> None:
    make_case(setting="hotel")
    make_case(setting="hotel")
    failures: list[BaseException] = []
    filing: list[threading.Thread] = []
    waited: list[bool] = []

    def file_now() -> None:  # recount holds the tallies' lock
        filing.append(file_elsewhere(app, failures, setting="clinic"))
        filing[0].join(1.0)
        waited.append(filing[0].is_alive())

    with just_before("DELETE FROM report_tallies", file_now):
        counted = recount()
    filing[0].join(20)
    assert waited == [True] and not filing[0].is_alive() and failures == []
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count()).select_from(Case)) == 3
    assert counted.reports == 2  # the third came after: it counted itself
    assert reports_counted() == 3
    assert tallies()[("setting", "hotel")] == 2 and tallies()[("setting", "clinic")] == 1


def test_only_the_figures_page_lets_images_come_from_data_urls(app: Flask) -> None:
    browser = signed_in(app, make_staff("coordinator"))
    figures = browser.get("/insights")
    assert "img-src 'self' data:" in figures.headers["Content-Security-Policy"]
    assert "script-src 'self'" in figures.headers["Content-Security-Policy"]
    assert browser.get("/cases").headers["Content-Security-Policy"] == CSP
    assert "data:" not in CSP
