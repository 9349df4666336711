"""Control characters typed or posted into any form never reach the database or a page."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.models import Case
from app.extensions import db
from app.text import closed_bidi
from tests.factories import make_staff, sign_in
from tests.helpers import hidden_fields, open_status, receipt_from, submit_report

SCANNER = "He came back\x00 at 9\x1b[31m pm\r\nand\x85 waited\x07"
CLEAN = "He came back at 9[31m pm\nand waited"


def test_reports_messages_and_notes_lose_their_control_characters(app: Flask, client: FlaskClient) -> None:
    reporter = app.test_client()
    receipt = receipt_from(submit_report(reporter, narrative=SCANNER))
    status = open_status(reporter, receipt).get_data(as_text=True)
    sent = reporter.post("/status/message", data={**hidden_fields(status), "body": SCANNER, "kind": "message"})
    assert sent.status_code == 303
    mine = reporter.get("/status/case").get_data(as_text=True)
    assert mine.count(CLEAN) == 2 and "\x00" not in mine and "\x1b" not in mine

    case_id = db.session.scalar(select(Case.id))
    sign_in(client, make_staff("coordinator", pseudonym="Heron"))
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert client.post(f"/cases/{case_id}/note", data={**hidden_fields(html), "note-note": SCANNER}).status_code == 303
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    reply = {**hidden_fields(html), "message-body": SCANNER}
    assert client.post(f"/cases/{case_id}/message", data=reply).status_code == 303
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert html.count(CLEAN) == 4 and not any(ch in html for ch in "\x00\x1b\x07\x85")


def test_a_direction_override_cannot_turn_the_page_around_it(app: Flask, client: FlaskClient) -> None:
    # U+202E would show everything after it right to left: the next column, the buttons.
    submit_report(app.test_client(), narrative="Call me \u202eenoyna llet ton od")
    case_id = db.session.scalar(select(Case.id))
    sign_in(client, make_staff("coordinator"))
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "\u202eenoyna llet ton od\u202c" in html
    assert closed_bidi("a\u2067b\u202ec\u2069d\u202b") == "a\u2067b\u202ec\u2069d\u202b\u202c"
    assert closed_bidi("plain") == "plain" and closed_bidi(3) == 3


def test_a_fields_own_filters_still_run(app: Flask) -> None:
    from werkzeug.datastructures import MultiDict

    from app.referrals.forms import CounselProfileForm

    with app.test_request_context():
        form = CounselProfileForm(formdata=MultiDict({"age_recipient": "  age1abc\x00  "}), meta={"csrf": False})
        assert form.age_recipient.data == "age1abc"
