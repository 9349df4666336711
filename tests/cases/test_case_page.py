"""The case page at /cases/<id>: what a responder or coordinator does, and what the reporter sees."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.audit.models import AuditEntry
from app.cases.content import ContactDetails
from app.cases.models import Case, CaseNote, Message
from app.extensions import db
from tests.factories import Staff, make_case, make_staff, sign_in
from tests.helpers import hidden_fields, open_status

# What the reporter reads at /status for each status (hand-written, as they would read it).
REPORTER_SEES = {
    "New": "Received. A trained peer responder will read it soon.",
    "Acknowledged": "A peer responder has read your report.",
    "In progress": "A peer responder is working on your report.",
    "Referred": "Your report was referred to legal counsel, as you agreed.",
    "Closed": "This case is closed. You can still write to us here.",
    "Reopened": "Your case was reopened. A peer responder is working on it.",
}
# The statuses the page offers next, for each status.
OFFERED_NEXT = {
    "New": ["Acknowledged", "Closed"],
    "Acknowledged": ["In progress", "Referred", "Closed"],
    "In progress": ["Referred", "Closed"],
    "Referred": ["In progress", "Closed"],
    "Closed": ["Reopened"],
    "Reopened": ["In progress", "Referred", "Closed"],
}
CODES = {name: name.lower().replace(" ", "_") for name in REPORTER_SEES}


def signed_in(app: Flask, staff: Staff) -> FlaskClient:
    """A browser of its own for ``staff``, signed in through the real form."""
    browser = app.test_client()
    assert sign_in(browser, staff).status_code == 303
    return browser


def as_reporter(app: Flask, case: Case) -> FlaskClient:
    browser = app.test_client()
    assert open_status(browser, case.receipt).status_code == 200  # type: ignore[attr-defined]
    return browser


def open_case(browser: FlaskClient, case: Case) -> str:
    response = browser.get(f"/cases/{case.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def act(browser: FlaskClient, case: Case, action: str, **fields: str) -> TestResponse:
    """Press a button on the case page (with the page's own tokens) and follow the redirect."""
    page = open_case(browser, case)
    return browser.post(f"/cases/{case.id}/{action}", data={**hidden_fields(page), **fields}, follow_redirects=True)


def set_status(browser: FlaskClient, case: Case, status: str, reason: str = "") -> str:
    response = act(browser, case, "status", **{"status-status": CODES.get(status, status), "status-reason": reason})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert match, f"no {name} section on the page"
    return match.group(1)


def shown_status(html: str) -> str:
    """The status on the case page, without the closing reason shown beside it."""
    match = re.search(r'<p class="small">#[0-9a-f]{8} · ([^·<(]+?)(?: \(([^)]*)\))? · language', html)
    assert match, "no status line on the case page"
    return match.group(1)


def shown_close_reason(html: str) -> str | None:
    match = re.search(r'<p class="small">#[0-9a-f]{8} · Closed \(([^)]*)\) · language', html)
    return match.group(1) if match else None


def notices(html: str) -> list[tuple[str, str]]:
    found = re.findall(r'<p class="notice notice-(\w+)" role="status">(.*?)</p>', html)
    return [(kind, unescape(text)) for kind, text in found]


def offered(html: str) -> list[str]:
    select_html = re.search(r'<select id="status-status" name="status-status"[^>]*>(.*?)</select>', html, re.S)
    if select_html is None:
        return []
    options = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select_html.group(1))
    return [name for value, name in options if value]


def reporter_status(reporter: FlaskClient) -> str:
    response = reporter.get("/status/case")
    assert response.status_code == 200
    match = re.search(r'<p class="status-text" id="status-text">([^<]*)</p>', response.get_data(as_text=True))
    assert match, "no status on the reporter's page"
    return unescape(match.group(1))


def fresh(case: Case) -> Case:
    db.session.expire_all()
    found = db.session.get(Case, case.id)
    assert found is not None
    return found


def test_acknowledging_shows_the_reporter_someone_read_it(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder", name="Alice Realname", pseudonym="Willow")
    case = make_case(assigned_to=a, narrative="He cornered me in the supply room.")
    reporter = as_reporter(app, case)
    assert reporter_status(reporter) == REPORTER_SEES["New"]
    browser = signed_in(app, a)

    html = open_case(browser, case)
    assert "He cornered me in the supply room." in section(html, "report")  # decrypted on view
    assert shown_status(html) == "New" and "Acknowledge within" in html

    html = act(browser, case, "acknowledge").get_data(as_text=True)
    assert ("success", "Acknowledged. The reporter sees that someone has read their report.") in notices(html)
    assert shown_status(html) == "Acknowledged"
    assert "Acknowledge within" not in html and f"/cases/{case.id}/acknowledge" not in html
    assert fresh(case).acknowledged_at is not None
    assert reporter_status(reporter) == REPORTER_SEES["Acknowledged"]


def test_every_allowed_status_change(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder", pseudonym="Willow")
    walked = make_case(assigned_to=a, consent={"legal_referral": True})
    reporter = as_reporter(app, walked)
    # Referral to counsel is a coordinator's step, so a coordinator walks the workflow.
    browser = signed_in(app, make_staff("coordinator"))
    walk = [
        ("Acknowledged", ""),
        ("In progress", ""),
        ("Referred", ""),
        ("In progress", ""),
        ("Closed", "resolved"),
        ("Reopened", ""),
        ("Referred", ""),
        ("Closed", "no_response"),
        ("Reopened", ""),
        ("In progress", ""),
        ("Closed", "duplicate"),
        ("Reopened", ""),
        ("Closed", "resolved"),
    ]
    current = "New"
    assert offered(open_case(browser, walked)) == OFFERED_NEXT[current]
    for status, reason in walk:
        html = set_status(browser, walked, status, reason)
        assert ("success", f"Status: {status}.") in notices(html), f"{current} → {status}: {notices(html)}"
        assert shown_status(html) == status
        assert offered(html) == OFFERED_NEXT[status], f"after {status}"
        assert reporter_status(reporter) == REPORTER_SEES[status]
        current = status
    # The three changes the walk does not take.
    for path in (["Closed"], ["Acknowledged", "Referred"], ["Acknowledged", "Closed"]):
        case = make_case(assigned_to=a, consent={"legal_referral": True})
        assert shown_status(open_case(browser, case)) == "New"
        for status in path:
            html = set_status(browser, case, status, "record_only" if status == "Closed" else "")
            assert shown_status(html) == status, f"{' → '.join(path)}: {notices(html)}"
    changes = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.case_id == walked.id, AuditEntry.action == "case_status_changed")
        .order_by(AuditEntry.id)
    ).all()
    # Acknowledging from the form is recorded as an acknowledgement, not a status change.
    assert [(e.detail["old"], e.detail["new"]) for e in changes] == [
        (CODES[before], CODES[after]) for before, (after, _) in zip([s for s, _ in walk], walk[1:], strict=False)
    ]


def test_only_a_coordinator_refers_and_only_with_consent(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder")
    consented = make_case(assigned_to=a, consent={"legal_referral": True})
    not_consented = make_case(assigned_to=a)
    responder = signed_in(app, a)
    set_status(responder, consented, "Acknowledged")
    assert "Referred" not in offered(open_case(responder, consented))
    html = set_status(responder, consented, "Referred")  # a forged form
    assert ("error", "Only a coordinator can refer a case to counsel.") in notices(html)
    coordinator = signed_in(app, make_staff("coordinator"))
    set_status(coordinator, not_consented, "Acknowledged")
    assert "Referred" not in offered(open_case(coordinator, not_consented))
    html = set_status(coordinator, not_consented, "Referred")
    assert ("error", "The reporter has not agreed to a legal referral.") in notices(html)
    assert shown_status(set_status(coordinator, consented, "Referred")) == "Referred"


def test_a_change_the_workflow_does_not_allow_is_refused_with_a_reason(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder")
    case = make_case(assigned_to=a, consent={"legal_referral": True})
    browser = signed_in(app, make_staff("coordinator"))
    html = set_status(browser, case, "Referred")  # not offered for a new case: a stale or forged form
    assert ("error", "A new case cannot become referred.") in notices(html)
    assert shown_status(html) == "New" and fresh(case).status == "new"

    set_status(browser, case, "Closed", "resolved")
    html = set_status(browser, case, "In progress")
    assert ("error", "A closed case cannot become in progress.") in notices(html)
    assert shown_status(html) == "Closed"


def test_closing_needs_a_reason_and_reopening_clears_it(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder")
    case = make_case(assigned_to=a)
    reporter = as_reporter(app, case)
    browser = signed_in(app, a)
    set_status(browser, case, "Acknowledged")

    for reason in ("", "because I said so"):
        html = set_status(browser, case, "Closed", reason)
        assert shown_status(html) == "Acknowledged", f"closed with reason {reason!r}"
        if reason == "":
            assert ("error", "Choose why the case is closed.") in notices(html)
    assert fresh(case).status == "acknowledged" and reporter_status(reporter) == REPORTER_SEES["Acknowledged"]

    html = set_status(browser, case, "Closed", "reporter_withdrew")
    assert shown_status(html) == "Closed" and fresh(case).closed_reason == "reporter_withdrew"
    assert reporter_status(reporter) == REPORTER_SEES["Closed"]

    html = set_status(browser, case, "Reopened")
    assert shown_status(html) == "Reopened" and fresh(case).closed_reason is None
    assert reporter_status(reporter) == REPORTER_SEES["Reopened"]


def test_marking_referred_needs_the_reporters_consent_to_a_legal_referral(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder")
    case = make_case(assigned_to=a, consent={"legal_referral": False})
    reporter = as_reporter(app, case)
    browser = signed_in(app, a)
    set_status(browser, case, "Acknowledged")
    html = set_status(browser, case, "Referred")
    assert shown_status(html) == "Acknowledged", "a case was marked referred without the reporter's consent"
    assert reporter_status(reporter) != REPORTER_SEES["Referred"]  # "... as you agreed", which they did not


def test_notes_are_sealed_and_shown_to_staff_only(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder", name="Alice Realname", pseudonym="Willow")
    case = make_case(assigned_to=a)
    reporter = as_reporter(app, case)
    browser = signed_in(app, a)
    marker = "note-marker-7c2 called the clinic owner"

    response = act(browser, case, "note", **{"note-note": marker})
    html = response.get_data(as_text=True)
    assert response.request.path == f"/cases/{case.id}" and ("success", "Note added.") in notices(html)
    notes = section(html, "notes")
    assert marker in notes and "Alice Realname (Willow)" in notes
    row = db.session.execute(select(CaseNote.__table__)).one()
    for value in row:
        raw = value if isinstance(value, bytes) else str(value).encode()
        assert marker.encode() not in raw and b"clinic owner" not in raw
    assert marker not in reporter.get("/status/case").get_data(as_text=True)

    empty = browser.post(f"/cases/{case.id}/note", data={**hidden_fields(open_case(browser, case)), "note-note": " "})
    assert empty.status_code == 400 and "Write the note first." in empty.get_data(as_text=True)
    assert len(db.session.scalars(select(CaseNote)).all()) == 1


def test_staff_and_reporter_talk_and_the_reporter_sees_a_pseudonym_only(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder", name="Alice Realname", pseudonym="Willow")
    case = make_case(assigned_to=a)
    reporter = as_reporter(app, case)
    browser = signed_in(app, a)
    marker = "message-marker-91b we are here for you"

    html = act(browser, case, "message", **{"message-body": marker}).get_data(as_text=True)
    assert ("success", "Sent. The reporter will see it when they check with their receipt.") in notices(html)
    assert marker in section(html, "conversation")
    # Writing to the reporter acknowledges the case.
    assert shown_status(html) == "Acknowledged" and reporter_status(reporter) == REPORTER_SEES["Acknowledged"]
    stored = db.session.execute(select(Message.__table__)).one()
    for value in stored:
        raw = value if isinstance(value, bytes) else str(value).encode()
        assert marker.encode() not in raw and b"here for you" not in raw

    page = reporter.get("/status/case").get_data(as_text=True)
    conversation = section(page, "conversation")
    assert marker in conversation and "Peer responder (Willow)" in conversation
    assert "Alice" not in page and "Realname" not in page and a.user.email not in page

    reply = reporter.post(
        "/status/message",
        data={**hidden_fields(page), "kind": "message", "body": "reply-marker-3d4 thank you"},
        follow_redirects=True,
    )
    assert "reply-marker-3d4 thank you" in section(reply.get_data(as_text=True), "conversation")
    conversation = section(open_case(browser, case), "conversation")
    assert "reply-marker-3d4 thank you" in conversation
    assert conversation.index(marker) < conversation.index("reply-marker-3d4")
    assert re.search(r'class="message from-reporter">\s*<p class="meta">Reporter ·', conversation)


def test_a_staff_member_without_a_pseudonym_is_just_a_peer_responder_to_the_reporter(
    client: FlaskClient, app: Flask
) -> None:
    coordinator = make_staff("coordinator", name="Cora Realname")
    case = make_case()
    act(signed_in(app, coordinator), case, "message", **{"message-body": "Hello from the programme."})
    page = as_reporter(app, case).get("/status/case").get_data(as_text=True)
    assert "Hello from the programme." in page
    assert "Cora" not in page and "Realname" not in page and coordinator.user.email not in page


NAMED = ContactDetails(name="Dana Named", email="dana@example.org", phone="860-555-0142", code_word="bluebird")


def test_a_responder_sees_only_the_contact_ways_the_reporter_agreed_to(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder")
    case = make_case(assigned_to=a, contact=NAMED, consent={"contact_email": True})
    browser = signed_in(app, a)
    contact = section(open_case(browser, case), "contact")
    assert "dana@example.org" in contact and "Email (allowed)" in contact and "Dana Named" in contact
    assert "860-555-0142" not in contact and "Phone" not in contact
    assert "Shown to coordinators only" not in contact

    # The reporter later allows a call too; the responder sees the phone from then on.
    reporter = as_reporter(app, case)
    page = reporter.get("/status/case").get_data(as_text=True)
    saved = reporter.post(
        "/status/consent",
        data={
            "csrf_token": hidden_fields(page)["csrf_token"],
            **dict.fromkeys(("peer_support", "contact_email", "contact_phone"), "y"),
        },
        follow_redirects=True,
    )
    assert "Your choices are saved." in saved.get_data(as_text=True)
    contact = section(open_case(browser, case), "contact")
    assert "860-555-0142" in contact and "Phone (call allowed)" in contact


def test_without_contact_consent_a_responder_sees_no_contact_but_a_coordinator_does_with_a_warning(
    client: FlaskClient, app: Flask
) -> None:
    a = make_staff("responder")
    coordinator = make_staff("coordinator")
    case = make_case(assigned_to=a, contact=NAMED, consent={})
    anonymous = make_case(assigned_to=a)

    responder = signed_in(app, a)
    html = open_case(responder, case)
    assert "has not agreed to be contacted" in section(html, "contact")
    for detail in ("Dana Named", "dana@example.org", "860-555-0142", "bluebird"):
        assert detail not in html
    assert "Anonymous report" in section(open_case(responder, anonymous), "contact")

    contact = section(open_case(signed_in(app, coordinator), case), "contact")
    assert "Shown to coordinators only: the reporter has not agreed to be contacted." in contact
    assert "Dana Named" in contact and "bluebird" in contact
    views = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.case_id == case.id, AuditEntry.action == "case_viewed")
        .order_by(AuditEntry.id)
    ).all()
    assert [(v.actor_role, v.detail["contact_shown"]) for v in views] == [("responder", False), ("coordinator", True)]


def test_the_important_flag_toggles(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder")
    case = make_case(assigned_to=a)
    browser = signed_in(app, a)
    assert "☆ Mark important" in open_case(browser, case)
    assert 'title="Important"' not in browser.get("/cases").get_data(as_text=True)

    html = act(browser, case, "important").get_data(as_text=True)
    assert "★ Important" in html and fresh(case).important
    assert 'title="Important">★</span>' in browser.get("/cases").get_data(as_text=True)

    html = act(browser, case, "important").get_data(as_text=True)
    assert "☆ Mark important" in html and not fresh(case).important


def test_a_coordinator_reassigns_a_case_from_one_responder_to_another(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder", name="Alice Realname", pseudonym="Willow")
    b = make_staff("responder", name="Bob Realname", pseudonym="Cedar")
    counsel = make_staff("counsel")
    coordinator = make_staff("coordinator", name="Cora Realname")
    case = make_case(assigned_to=a)
    alice, bob, cora = signed_in(app, a), signed_in(app, b), signed_in(app, coordinator)
    assert case.id in alice.get("/cases").get_data(as_text=True)
    assert case.id not in bob.get("/cases").get_data(as_text=True)
    assert "Reassign" not in open_case(alice, case)  # only coordinators reassign

    html = act(cora, case, "assign", **{"assign-staff_id": b.id}).get_data(as_text=True)
    assert ("success", "Reassigned.") in notices(html) and "assigned to Bob Realname (Cedar)" in html
    assert case.id not in alice.get("/cases").get_data(as_text=True)
    assert alice.get(f"/cases/{case.id}").status_code == 404
    assert case.id in bob.get("/cases").get_data(as_text=True)
    assert "assigned to Bob Realname (Cedar)" in open_case(bob, case)

    # Counsel is not on the list, and a forged choice changes nothing.
    page = open_case(cora, case)
    assert counsel.id not in page
    act(cora, case, "assign", **{"assign-staff_id": counsel.id})
    assert fresh(case).assigned_to_id == b.id

    html = act(cora, case, "claim").get_data(as_text=True)
    assert ("success", "The case is yours.") in notices(html) and "assigned to Cora Realname" in html
    assert case.id not in bob.get("/cases").get_data(as_text=True)
    assigned = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.case_id == case.id, AuditEntry.action == "case_assigned")
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.detail["previous"], e.detail["to"]) for e in assigned] == [(a.id, b.id), (b.id, coordinator.id)]


def test_the_timeline_lists_what_happened_newest_first(client: FlaskClient, app: Flask) -> None:
    a = make_staff("responder", name="Alice Realname", pseudonym="Willow")
    case = make_case(assigned_to=a)
    reporter = as_reporter(app, case)
    browser = signed_in(app, a)
    act(browser, case, "acknowledge")
    set_status(browser, case, "In progress")
    act(browser, case, "message", **{"message-body": "How are you doing?"})
    page = reporter.get("/status/case").get_data(as_text=True)
    reporter.post("/status/message", data={**hidden_fields(page), "kind": "message", "body": "Better, thanks."})
    act(browser, case, "note", **{"note-note": "Reporter is safe."})
    act(browser, case, "important")

    timeline = section(open_case(browser, case), "timeline")
    events = [unescape(e).strip() for e in re.findall(r"</time> · (.*?)</li>", timeline)]
    assert all(" · " in e for e in events)
    happened = [e for e in events if not e.endswith("Opened the case.")]
    assert happened == [
        "Alice Realname (Willow) · Marked the case important.",
        "Alice Realname (Willow) · Added an internal note.",
        "reporter · Wrote a message. Notice sent to Alice Realname (Willow).",
        "Alice Realname (Willow) · Wrote to the reporter.",
        "Alice Realname (Willow) · Status changed to In progress.",
        "Alice Realname (Willow) · Acknowledged the case.",
    ]
    assert events[0] == "Alice Realname (Willow) · Opened the case."  # this very view
    assert events.count("Alice Realname (Willow) · Opened the case.") >= 6
    assert "How are you doing?" not in timeline and "Reporter is safe." not in timeline
