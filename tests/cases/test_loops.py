"""Loops that close on the case pages: a reporter's reply reaches whoever has the case and
stays marked unread until they open it; a reassignment tells the new and the old assignee;
the reassign list puts who fits first and says why the others do not."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.exclusions import exclude
from app.cases.models import Case
from app.extensions import db
from app.notify.models import Notification
from app.notify.sending import send_pending
from app.staff.models import Training
from tests.cases.test_case_page import act, as_reporter, fresh, open_case, signed_in
from tests.factories import Staff, make_case, make_staff
from tests.helpers import hidden_fields
from tests.smtp import Inbox
from tests.triage.test_routing import trained


def reporter_writes(app: Flask, case: object, body: str = "He came back today.", kind: str = "message") -> None:
    reporter = as_reporter(app, case)  # type: ignore[arg-type]
    page = reporter.get("/status/case").get_data(as_text=True)
    response = reporter.post("/status/message", data={**hidden_fields(page), "kind": kind, "body": body})
    assert response.status_code == 303


def queue_row(html: str, case_id: str) -> str:
    match = re.search(rf'<tr[^>]*>(?:(?!</tr>).)*?/cases/{case_id}"(?:(?!</tr>).)*</tr>', html, re.S)
    assert match, "the case is not in the queue"
    return match.group(0)


def marked_new(browser: object, case_id: str) -> bool:
    html = browser.get("/cases").get_data(as_text=True)  # type: ignore[attr-defined]
    return "New message" in queue_row(html, case_id)


def notices_to(staff: Staff, kind: str) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.staff_id == staff.id, Notification.kind == kind)
            .order_by(Notification.id)
        )
    )


def test_a_reporters_reply_reaches_the_assignee_and_stays_new_until_they_open_it(
    app: Flask,
    client: FlaskClient,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, _ = smtp
    maple = make_staff("responder", email="maple@example.org", name="Maple")
    coordinator = make_staff("coordinator", email="cora@example.org")
    case = make_case(assigned_to=maple)
    alice, cora = signed_in(app, maple), signed_in(app, coordinator)
    assert not marked_new(alice, case.id)

    reporter_writes(app, case, "He came back today and waited by my car.")

    # Whoever has the case is told (content-free), with the next digest for an L2 case.
    [notice] = notices_to(maple, "reporter_wrote")
    assert notice.case_id == case.id and not notice.urgent
    assert not notices_to(coordinator, "reporter_wrote")
    assert send_pending() >= 1
    [mail] = inbox.to("maple@example.org")
    assert "waited by my car" not in mail.get_payload() and case.id not in mail.get_payload()
    assert not inbox.to("cora@example.org")

    # Marked in the queue, for her and for a coordinator looking at the whole queue.
    assert marked_new(alice, case.id) and marked_new(cora, case.id)
    # A coordinator's look does not count as read: it is the assignee's.
    open_case(cora, case)
    assert marked_new(alice, case.id) and marked_new(cora, case.id)
    page = open_case(alice, case)
    assert "waited by my car" in page
    assert not marked_new(alice, case.id) and not marked_new(cora, case.id)

    # An addition to the report counts the same.
    reporter_writes(app, case, "The car was a red van.", kind="information")
    assert len(notices_to(maple, "reporter_wrote")) == 2 and marked_new(alice, case.id)


def test_a_reply_on_an_urgent_case_is_sent_at_once_and_with_nobody_on_it_reaches_the_coordinators(
    app: Flask, client: FlaskClient
) -> None:
    maple = make_staff("responder")
    coordinators = [make_staff("coordinator"), make_staff("coordinator")]
    hurt = make_case(injured="yes", assigned_to=maple)
    assert hurt.level == 1
    reporter_writes(app, hurt)
    [notice] = notices_to(maple, "reporter_wrote")
    assert notice.urgent

    waiting = make_case()  # with nobody on it
    reporter_writes(app, waiting)
    for coordinator in coordinators:
        [notice] = notices_to(coordinator, "reporter_wrote")
        assert notice.case_id == waiting.id and not notice.urgent
    cora = signed_in(app, coordinators[0])
    assert marked_new(cora, waiting.id)
    open_case(cora, waiting)  # nobody has it: a coordinator's read counts
    assert not marked_new(cora, waiting.id)


def test_a_reply_with_nobody_on_the_case_skips_the_coordinators_the_reporter_excluded(
    app: Flask, client: FlaskClient
) -> None:
    ana, ben = make_staff("coordinator"), make_staff("coordinator")
    waiting = make_case()
    exclude(waiting.id, ana.id)
    db.session.commit()
    reporter_writes(app, waiting)
    assert not notices_to(ana, "reporter_wrote"), "she cannot open the case: she is not told of it"
    [notice] = notices_to(ben, "reporter_wrote")
    assert notice.case_id == waiting.id


def test_a_reassignment_tells_the_new_assignee_and_the_old_one(app: Flask, client: FlaskClient) -> None:
    a = make_staff("responder", name="Alice")
    b = make_staff("responder", name="Bob")
    coordinator = make_staff("coordinator", name="Cora")
    case = make_case(assigned_to=a)
    cora = signed_in(app, coordinator)

    act(cora, case, "assign", **{"assign-staff_id": b.id})
    assert fresh(case).assigned_to_id == b.id
    assert [n.case_id for n in notices_to(b, "assigned")] == [case.id]
    assert [n.case_id for n in notices_to(a, "unassigned")] == [case.id]

    # Back again: each reassignment is told anew.
    act(cora, case, "assign", **{"assign-staff_id": a.id})
    assert len(notices_to(a, "assigned")) == 1 and len(notices_to(b, "unassigned")) == 1

    # A coordinator who takes it is not told of her own doing; the one who had it is.
    act(cora, case, "claim")
    assert not notices_to(coordinator, "assigned")
    assert len(notices_to(a, "unassigned")) == 2

    timeline = unescape(open_case(cora, case))
    assert "Cora · Took the case, from Alice. Notice sent to Alice." in timeline
    assert "Cora · Assigned the case to Bob, from Alice. Notice sent to Bob, Alice." in timeline


def reassign_page(browser: FlaskClient, case: Case) -> str:
    """The case page with its reassign list, as "Reassign…" opens it."""
    link = open_case(browser, case).split('id="reassign-link"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    answer = browser.get(unescape(link))
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def choices(html: str) -> list[str]:
    found = re.search(r'<select id="assign-staff_id" name="assign-staff_id"[^>]*>(.*?)</select>', html, re.S)
    assert found, "no reassign list on the page"
    return [unescape(label) for label in re.findall(r"<option[^>]*>([^<]*)</option>", found.group(1))]


def test_the_reassign_list_puts_who_fits_first_and_says_why_the_others_do_not(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator", name="Cora")
    busy = trained(make_staff("responder", name="Busy Fit", languages=("ko",)))
    idle = trained(make_staff("responder", name="Idle Fit", languages=("ko", "en")))
    off = trained(make_staff("responder", name="Off Duty", languages=("ko",), on_duty=False))
    english = trained(make_staff("responder", name="English Only"))
    untrained = make_staff("responder", name="Untrained", languages=("ko",))
    expired = make_staff("responder", name="Expired", languages=("ko",))
    db.session.add(
        Training(
            staff_id=expired.id,
            course="Peer support",
            category="all",
            completed_on=date.today() - timedelta(days=800),
            expires_on=date.today() - timedelta(days=1),
        )
    )
    full = trained(make_staff("responder", name="Full", languages=("ko",), caseload_cap=1))
    excluded = trained(make_staff("responder", name="Kept Away", pseudonym="Juniper", languages=("ko",)))
    make_case(assigned_to=busy)
    make_case(assigned_to=full)
    case = make_case(language="ko")
    exclude(case.id, excluded.id)
    db.session.commit()
    cora = signed_in(app, coordinator)

    listed = choices(reassign_page(cora, case))
    assert listed == [
        "Choose who should have it…",
        "Idle Fit, responder — eligible, 0/5 cases",
        "Busy Fit, responder — eligible, 1/5 cases",
        "Cora, coordinator",
        "Off Duty, responder — off duty",
        "English Only, responder — doesn't speak Korean",
        "Expired, responder — no current training for this category",
        "Untrained, responder — no current training for this category",
        "Full, responder — at cap 1/1",
    ]
    page = reassign_page(cora, case)
    assert "Kept Away" not in page and "Juniper" not in page and excluded.id not in page
    assert {off.id, english.id, untrained.id} <= set(re.findall(r'<option value="([^"]+)"', page))
    # Nothing is chosen for the coordinator: Reassign pressed as the page came moves nothing.
    offered = page.split('id="assign-staff_id"', 1)[1].split("</select>", 1)[0]
    assert "selected" not in offered and '<option value="">' in offered
    pressed = act(cora, case, "assign", **{"assign-staff_id": ""})
    assert "Choose who should have the case, then press Reassign." in unescape(pressed.get_data(as_text=True))
    assert fresh(case).assigned_to_id is None

    # Without consent to peer support, coordinators only.
    private = make_case(language="ko", consent={"peer_support": False})
    assert choices(reassign_page(cora, private)) == ["Choose who should have it…", "Cora, coordinator"]
    assert idle.id not in open_case(cora, private)
