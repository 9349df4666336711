"""The queue at /cases, as a responder or a coordinator sees it."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from app.cases.consent import record_consent
from app.cases.models import Case
from app.casework import services
from app.extensions import db
from app.models import utcnow
from tests.factories import Staff, make_case, make_staff, sign_in

CASE_LINK = re.compile(r'<a href="/cases/([0-9a-f-]{36})">')
ROW = re.compile(r'<tr(?: class="([^"]*)")?>(.*?)</tr>', re.S)


def signed_in(app: Flask, staff: Staff) -> FlaskClient:
    """A browser of its own for ``staff``, signed in through the real form."""
    browser = app.test_client()
    assert sign_in(browser, staff).status_code == 303
    return browser


def queue_page(browser: FlaskClient, query: str = "") -> str:
    response = browser.get(query if query.startswith("/") else f"/cases{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def listed(html: str) -> list[str]:
    """The case ids in the queue table, top to bottom."""
    table = html.split('<table class="table queue" id="queue">', 1)[1].split("</table>", 1)[0]
    return CASE_LINK.findall(table)


def row_of(html: str, case: Case) -> tuple[str, str]:
    """The (classes, cells) of the row for ``case``."""
    for classes, cells in ROW.findall(html):
        if f"/cases/{case.id}" in cells:
            return classes, cells
    raise AssertionError(f"case {case.id} is not in the queue:\n{html}")


def status(case: Case, to: str, by: Staff, reason: str = "") -> None:
    services.change_status(by.user, db.session.get(Case, case.id), to, reason=reason)  # type: ignore[arg-type]


def test_waiting_cases_come_first_by_level_then_deadline(client: FlaskClient, app: Flask) -> None:
    a, b = make_staff("responder", pseudonym="Willow"), make_staff("responder", pseudonym="Cedar")
    l3_waiting = make_case(category="other", assigned_to=a)
    l2_late = make_case(assigned_to=a)
    l2_early = make_case(assigned_to=a)
    l1_waiting = make_case(category="rape", assigned_to=a)
    l0_waiting = make_case(danger_now="yes", assigned_to=a)
    l0_acknowledged = make_case(danger_now="yes", assigned_to=a)
    l3_in_progress = make_case(category="other", assigned_to=a)
    l1_referred = make_case(category="rape", assigned_to=a)
    l0_closed = make_case(danger_now="yes", assigned_to=a)
    someone_elses = make_case(danger_now="yes", assigned_to=b)
    assert [c.level for c in (l0_waiting, l1_waiting, l2_late, l3_waiting)] == [0, 1, 2, 3]
    # Received later but due sooner: the deadline orders the queue, not arrival.
    l2_early.ack_due_at = l2_late.ack_due_at - timedelta(hours=1)
    db.session.commit()
    status(l0_acknowledged, "acknowledged", a)
    for step in ("acknowledged", "in_progress"):
        status(l3_in_progress, step, a)
    coordinator = make_staff("coordinator")
    record_consent(l1_referred.id, {"legal_referral": True}, source="status")
    db.session.commit()
    for step in ("acknowledged", "referred"):
        status(l1_referred, step, coordinator)
    status(l0_closed, "closed", a, reason="duplicate")

    html = queue_page(signed_in(app, a))
    assert listed(html) == [
        c.id
        for c in (
            l0_waiting,
            l1_waiting,
            l2_early,
            l2_late,
            l3_waiting,  # waiting for acknowledgement
            l0_acknowledged,
            l3_in_progress,  # open
            l1_referred,
            l0_closed,
        )
    ]
    assert someone_elses.id not in html
    assert "9 cases." in html and "<h1>My cases</h1>" in html
    # A waiting case shows its countdown; an acknowledged one does not.
    assert "left</time>" in row_of(html, l2_late)[1]
    assert "<td>—</td>" in row_of(html, l0_acknowledged)[1]


def test_an_overdue_case_stands_out(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder")
    late, on_time = make_case(assigned_to=a), make_case(assigned_to=a)
    late.ack_due_at = utcnow() - timedelta(hours=2, minutes=5)
    db.session.commit()
    html = queue_page(signed_in(app, a))
    classes, cells = row_of(html, late)
    assert "overdue" in classes.split() and "overdue by 2 h" in cells
    classes, cells = row_of(html, on_time)
    assert "overdue" not in classes and "overdue" not in cells
    assert listed(html) == [late.id, on_time.id]


def test_a_responder_sees_their_cases_and_a_coordinator_sees_all(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder", name="Alice Realname", pseudonym="Willow")
    b = make_staff("responder", name="Bob Realname", pseudonym="Cedar")
    coordinator = make_staff("coordinator", name="Cora Realname")
    a_cases = {make_case(assigned_to=a).id, make_case(category="rape", assigned_to=a).id}
    b_case = make_case(assigned_to=b).id
    unassigned = make_case().id

    html = queue_page(signed_in(app, a))
    assert set(listed(html)) == a_cases and "2 cases." in html and "<h1>My cases</h1>" in html
    assert 'name="mine"' not in html  # "assigned to me" is all a responder has anyway

    html = queue_page(signed_in(app, b))
    assert listed(html) == [b_case] and "1 case." in html

    html = queue_page(signed_in(app, coordinator))
    assert set(listed(html)) == a_cases | {b_case, unassigned} and "<h1>All cases</h1>" in html
    _, cells = row_of(html, db.session.get(Case, b_case))  # type: ignore[arg-type]
    assert "<td>Bob Realname (Cedar)</td>" in cells  # colleagues by name, with the pseudonym reporters see
    _, cells = row_of(html, db.session.get(Case, unassigned))  # type: ignore[arg-type]
    assert "<td>unassigned</td>" in cells


def test_each_filter_narrows_the_queue(client: FlaskClient, app: Flask) -> None:
    a, b = make_staff("responder"), make_staff("responder")
    coordinator = make_staff("coordinator")
    rape_en = make_case(category="rape", assigned_to=a)
    harassment_es = make_case(language="es")
    other_en = make_case(category="other", assigned_to=b)
    # Acknowledging an unassigned case makes it the coordinator's own.
    services.acknowledge(coordinator.user, db.session.get(Case, harassment_es.id))  # type: ignore[arg-type]
    for step in ("acknowledged", "in_progress"):
        status(other_en, step, b)
    browser = signed_in(app, coordinator)

    assert listed(queue_page(browser)) == [rape_en.id, harassment_es.id, other_en.id]
    html = queue_page(browser, "?level=1")
    assert listed(html) == [rape_en.id] and '<option value="1" selected>L1</option>' in html
    html = queue_page(browser, "?status=acknowledged")
    assert listed(html) == [harassment_es.id] and '<option value="acknowledged" selected>' in html
    assert listed(queue_page(browser, "?status=in_progress")) == [other_en.id]
    html = queue_page(browser, "?category=other")
    assert listed(html) == [other_en.id] and '<option value="other" selected>' in html
    html = queue_page(browser, "?language=es")
    assert listed(html) == [harassment_es.id] and '<option value="es" lang="es" selected>Español</option>' in html
    html = queue_page(browser, "?mine=1")
    assert listed(html) == [harassment_es.id] and "<h1>My cases</h1>" in html
    assert 'name="mine" value="1" checked' in html
    html = queue_page(browser, "?level=2&language=en")
    assert listed(html) == [] and "No cases match." in html and "0 cases." in html
    # Values that are not on the form are ignored rather than refused.
    assert len(listed(queue_page(browser, "?level=7&status=deleted&category=x&language=fr"))) == 3

    # A responder's filters apply within their own cases only.
    responder = signed_in(app, a)
    assert listed(queue_page(responder, "?category=rape")) == [rape_en.id]
    assert listed(queue_page(responder, "?category=other")) == []
    assert listed(queue_page(responder, "?language=es")) == []


def test_the_queue_is_paginated_by_fifty(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    cases = [make_case(language="es") for _ in range(53)]
    make_case()  # filtered out below
    # Filing 53 can cross a minute boundary; one shared deadline leaves the id to order them.
    due = cases[0].ack_due_at
    for case in cases:
        case.ack_due_at = due
    db.session.commit()
    browser = signed_in(app, coordinator)

    first = queue_page(browser, "?language=es")
    assert len(listed(first)) == 50 and "53 cases." in first
    assert "Page 1 of 2" in first and "Previous" not in first
    next_link = re.search(r'<a href="([^"]+)">Next →</a>', first)
    assert next_link, "no link to the next page"
    assert "language=es" in next_link.group(1), "the filter is lost on the next page"

    second = queue_page(browser, next_link.group(1).replace("&amp;", "&"))
    assert len(listed(second)) == 3 and "Page 2 of 2" in second
    assert "Next →" not in second and "← Previous" in second
    # Same level and deadline, so by id: the pages continue
    # each other, nothing twice, nothing lost.
    both = listed(first) + listed(second)
    assert both == sorted(both) and set(both) == {c.id for c in cases}

    assert listed(queue_page(browser, "?language=es&page=99")) == listed(second)
    assert listed(queue_page(browser, "?language=es&page=abc")) == listed(first)
    assert listed(queue_page(browser, "?language=es&page=0")) == listed(first)
    assert "Page 1 of 2" not in queue_page(browser, "?language=en")  # one page: no page links
