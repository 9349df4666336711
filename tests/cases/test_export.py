"""The case list as CSV: the queue's filters, metadata only, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cases.content import ContactDetails
from app.cases.exclusions import exclude
from app.casework import services
from app.casework.export import safe_cell
from app.extensions import db
from tests.cases.test_queue import queue_page, signed_in
from tests.factories import make_case, make_staff
from tests.staff.test_accounts import age_session

MARKER = "narrative-marker-export never in a spreadsheet"


def rows_of(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def test_the_export_holds_the_filtered_list_and_nothing_of_the_reports(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    responder = make_staff("responder", name="Riley Realname", pseudonym="Alder")
    danger = make_case(
        danger_now="yes",
        narrative=MARKER,
        assigned_to=responder,
        contact=ContactDetails(name="Maria Example", email="maria@example.org"),
        consent={"contact_email": True},
    )
    make_case(narrative=MARKER)
    browser = signed_in(app, coordinator)
    page = queue_page(browser, "?level=0")
    link = page.split('id="export"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    assert urlsplit(link).path == "/cases/export.csv" and "level=0" in link

    answer = browser.get(link.replace("&amp;", "&"))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    body = answer.get_data(as_text=True)
    [row] = rows_of(body)
    assert row["reference"] == f"#{danger.id[:8]}" and row["case id"] == danger.id
    assert row["level"] == "L0" and row["status"] == "New" and row["language"] == "en"
    assert row["assigned to"] == "Riley Realname (Alder)"
    for secret in (MARKER, "Maria", "maria@example.org", danger.receipt, danger.receipt.replace("-", "")):  # type: ignore[attr-defined]
        assert secret not in body

    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export_made")).all()
    assert entry.actor_id == coordinator.id
    assert entry.detail["kind"] == "case_list" and entry.detail["count"] == 1 and entry.detail["level"] == 0


def test_a_cell_a_spreadsheet_would_run_is_made_text(client: FlaskClient, app: Flask) -> None:
    for dangerous in ('=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(dangerous) == "'" + dangerous
    assert safe_cell("Riley") == "Riley" and safe_cell(None) == ""
    coordinator = make_staff("coordinator")
    sly = make_staff("responder", name='=HYPERLINK("http://evil.example","click")')
    make_case(assigned_to=sly)
    browser = signed_in(app, coordinator)
    [row] = rows_of(browser.get("/cases/export.csv").get_data(as_text=True))
    assert row["assigned to"].startswith("'=HYPERLINK(")


def test_the_export_asks_again_who_you_are_after_a_while(client: FlaskClient, app: Flask) -> None:
    make_case()
    browser = signed_in(app, make_staff("coordinator"))
    age_session(browser, reauth=6 * 60)
    asked = browser.get("/cases/export.csv?level=2")
    location = urlsplit(asked.headers["Location"])
    assert asked.status_code == 303 and location.path == "/staff/reauth"
    assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export_made")).all()


def test_responders_have_no_export_link(client: FlaskClient, app: Flask) -> None:
    responder = make_staff("responder")
    make_case(assigned_to=responder)
    assert 'id="export"' not in queue_page(signed_in(app, responder))


def test_a_coordinator_the_reporter_kept_away_finds_her_case_in_no_list(client: FlaskClient, app: Flask) -> None:
    """Not in the queue, not in the CSV, not in the audit log: the case page refuses them,
    and the lists around it do not tell them of it either."""
    kept_away, other = make_staff("coordinator", name="Kept Away"), make_staff("coordinator", name="Other One")
    hers, open_case = make_case(narrative=MARKER), make_case(narrative=MARKER)
    exclude(hers.id, kept_away.id)
    db.session.commit()
    services.assign(other.user, hers, other.id)
    browser = signed_in(app, kept_away)
    queue = queue_page(browser)
    assert f"#{open_case.id[:8]}" in queue and f"#{hers.id[:8]}" not in queue
    listed = [row["case id"] for row in rows_of(browser.get("/cases/export.csv").get_data(as_text=True))]
    assert listed == [open_case.id]
    log = browser.get(f"/staff/audit?case=%23{hers.id[:8]}").get_data(as_text=True)
    assert f"#{hers.id[:8]}" not in log.split('id="audit"', 1)[1]
    # Her other coordinator sees it everywhere.
    browser = signed_in(app, other)
    assert f"#{hers.id[:8]}" in queue_page(browser)
    assert hers.id in browser.get("/cases/export.csv").get_data(as_text=True)
    assert f"#{hers.id[:8]}" in browser.get(f"/staff/audit?case=%23{hers.id[:8]}").get_data(as_text=True)
