"""The audit viewer at /staff/audit: coordinators read the log, filter it, and check the chain."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.audit.browse import PER_PAGE
from app.audit.models import AuditEntry
from app.casework import services
from app.extensions import db
from app.models import utcnow
from app.signals import announce
from tests.cases.test_queue import signed_in
from tests.factories import make_case, make_staff
from tests.helpers import hidden_fields

ROW = re.compile(r"<tr>\s*<td>(\d+)</td>(.*?)</tr>", re.S)


def rows(html: str) -> list[tuple[int, str]]:
    table = html.split('<table class="table audit" id="audit">', 1)[1].split("</table>", 1)[0]
    return [(int(number), re.sub(r"<[^>]+>", " ", cells)) for number, cells in ROW.findall(table)]


def page(browser: FlaskClient, query: str = "") -> str:
    answer = browser.get(f"/staff/audit{query}")
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def test_a_coordinator_reads_the_log_newest_first_in_plain_words(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator", name="Casey Coordinator")
    responder = make_staff("responder", name="Riley Realname", pseudonym="Alder")
    case = make_case(assigned_to=responder)
    services.assign(coordinator.user, case, coordinator.id)
    browser = signed_in(app, coordinator)
    html = page(browser)
    assert '<a href="/staff/audit">Audit log</a>' in html, "linked from the staff navigation"
    listed = rows(html)
    numbers = [number for number, _ in listed]
    assert numbers == sorted(numbers, reverse=True)
    assigned = next(cells for _, cells in listed if "Case assigned" in cells)
    assert "Casey Coordinator" in assigned and f"#{case.id[:8]}" in assigned
    assert "previous: Riley Realname (Alder)" in assigned and "to: Casey Coordinator" in assigned
    # Viewing the log is itself in it, with the filters it was read with.
    browser.get(f"/staff/audit?action=case_assigned&case=%23{case.id[:8]}")
    viewed = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "audit_viewed").order_by(AuditEntry.id.desc())
    ).first()
    assert viewed is not None and viewed.actor_id == coordinator.id
    assert viewed.detail["action"] == "case_assigned" and viewed.detail["case"] == case.id[:8]


def test_each_filter_narrows_the_log(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    responder = make_staff("responder", name="Riley Realname")
    first, second = make_case(assigned_to=responder), make_case(assigned_to=responder)
    services.set_important(responder.user, first, True)
    services.set_important(coordinator.user, second, True)
    browser = signed_in(app, coordinator)

    by_person = rows(page(browser, f"?person={responder.id}"))
    assert by_person and all("Riley Realname" in cells for _, cells in by_person)
    flagged = rows(page(browser, "?action=case_flagged"))
    assert len(flagged) == 2 and all("Case flagged" in cells for _, cells in flagged)
    for_case = rows(page(browser, f"?case=%23{second.id[:8]}"))
    assert for_case and all(f"#{second.id[:8]}" in cells for _, cells in for_case)
    assert not any(f"#{first.id[:8]}" in cells for _, cells in for_case)
    # The first case's entries moved back two days: a range ending yesterday holds them alone.
    db.session.execute(update(AuditEntry).where(AuditEntry.case_id == first.id).values(at=utcnow() - timedelta(days=2)))
    db.session.commit()
    # Days are the program's (display_timezone), as a coordinator types them.
    zone = ZoneInfo(app.config["CONFIDE"].display_timezone)
    yesterday = (utcnow().astimezone(zone) - timedelta(days=1)).date().isoformat()
    old = rows(page(browser, f"?until={yesterday}"))
    assert old and all(f"#{first.id[:8]}" in cells for _, cells in old)
    assert not any(
        f"#{first.id[:8]}" in cells for _, cells in rows(page(browser, f"?since={yesterday}&action=case_flagged"))
    )
    unread = browser.get("/staff/audit?case=Maria")
    assert unread.status_code == 400 and rows(unread.get_data(as_text=True)) == [], "no entries under a bad filter"
    # Those without an account: the system's entries alone.
    announce("case_flagged", actor="", role="system", important=False)
    by_system = rows(page(browser, "?person=role:system"))
    assert len(by_system) == 1 and "the system" in by_system[0][1]


def test_the_log_is_paged_by_entry_number(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    for _ in range(PER_PAGE + 10):
        announce("case_flagged", actor=coordinator.id, role="coordinator", important=True)
    browser = signed_in(app, coordinator)
    html = page(browser, "?action=case_flagged")
    first = rows(html)
    assert len(first) == PER_PAGE
    older = re.search(r'<a href="([^"]+)">Older', html)
    assert older is not None
    second = rows(page(browser, older.group(1).replace("&amp;", "&").removeprefix("/staff/audit")))
    assert len(second) == 10 and max(n for n, _ in second) < min(n for n, _ in first)


def check(browser: FlaskClient) -> str:
    form = hidden_fields(page(browser))
    answer = browser.post("/staff/audit/verify", data={"csrf_token": form["csrf_token"]}, follow_redirects=True)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_the_chain_check_from_the_page(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    make_case()
    browser = signed_in(app, coordinator)
    assert "Audit log intact:" in check(browser)
    # Someone with database access edits an entry: the check names it.
    victim = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
    assert victim is not None
    db.session.execute(update(AuditEntry).where(AuditEntry.id == victim.id).values(actor_role="someone"))
    db.session.commit()
    shown = check(browser)
    assert f"Audit log BROKEN at entry {victim.id}" in shown
    checks = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit_verified")).all()
    assert [(c.detail["intact"], c.detail["broken_at"]) for c in checks] == [(True, None), (False, victim.id)]


def test_a_forged_check_runs_nothing(client: FlaskClient, app: Flask) -> None:
    browser = signed_in(app, make_staff("coordinator"))
    browser.post("/staff/audit/verify", data={})
    assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit_verified")).all()


def test_a_log_too_large_to_check_in_a_page_is_sent_to_the_command(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.program import audit_log

    monkeypatch.setattr(audit_log, "CHECK_IN_PAGE_MOST", 1)
    make_case()
    shown = check(signed_in(app, make_staff("coordinator")))
    assert "too many to check while the page waits" in shown and "flask audit verify" in shown
    assert not db.session.scalars(select(AuditEntry).where(AuditEntry.action == "audit_verified")).all()
