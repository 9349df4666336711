"""Coming back with a receipt: read the case, talk, change choices, leave safely."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.conversation import add_message
from app.cases.models import Case, ConsentRecord, Message
from app.extensions import db
from tests.helpers import csrf_token, hidden_fields, is_checked, open_status, receipt_from, submit_report


def filed(client: FlaskClient, **answers: object) -> str:
    return receipt_from(submit_report(client, **answers))


def test_receipt_opens_the_report(client: FlaskClient) -> None:
    receipt = filed(client, narrative="The manager locked the back door.")
    page = open_status(client, receipt.replace("-", " "))
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "The manager locked the back door." in body
    assert "Received. A trained peer responder will read it soon." in body
    # The receipt is never shown again.
    assert receipt not in body and receipt.replace("-", "") not in body


def test_wrong_receipt_is_refused_kindly(client: FlaskClient) -> None:
    filed(client)
    page = open_status(client, "0000-0000-0000-0000-0000")
    assert page.status_code == 400
    assert "could not find a report with that receipt" in page.get_data(as_text=True)
    assert client.get("/status/case").status_code == 303


def test_status_pages_need_a_receipt(client: FlaskClient) -> None:
    response = client.get("/status/case")
    assert response.status_code == 303 and response.headers["Location"].endswith("/status")
    token = csrf_token(client, "/status")
    # A message is kept on the receipt page (tests/intake/test_resume.py), never sent.
    assert client.post("/status/message", data={"csrf_token": token, "body": "hi"}).status_code == 400
    assert db.session.scalars(select(Message)).all() == []


def test_reporter_and_responder_talk_through_the_receipt(client: FlaskClient) -> None:
    receipt = filed(client)
    page = open_status(client, receipt).get_data(as_text=True)
    response = client.post(
        "/status/message",
        data={**hidden_fields(page), "body": "Is anyone there? ¿Hay alguien?", "kind": "message"},
        follow_redirects=True,
    )
    assert "Is anyone there? ¿Hay alguien?" in response.get_data(as_text=True)
    message = db.session.scalars(select(Message)).one()
    assert message.author == "reporter"
    assert b"alguien" not in message.body_sealed

    add_message(db.session.get(Case, message.case_id), "I'm here. You are not alone.", author="staff")
    body = client.get("/status/case").get_data(as_text=True)
    assert "I&#39;m here. You are not alone." in body
    assert body.index("Is anyone there?") < body.index("You are not alone.")


def test_empty_or_overlong_message_keeps_the_text(client: FlaskClient, app: Flask) -> None:
    page = open_status(client, filed(client)).get_data(as_text=True)
    empty = client.post("/status/message", data={**hidden_fields(page), "body": "", "kind": "message"})
    assert empty.status_code == 400 and "Please write something first." in empty.get_data(as_text=True)
    long_text = "x" * (app.config["CONFIDE"].message_max_chars + 1)
    response = client.post("/status/message", data={**hidden_fields(page), "body": long_text, "kind": "message"})
    assert response.status_code == 400
    assert long_text in response.get_data(as_text=True)
    assert db.session.scalars(select(Message)).all() == []


def test_consent_changes_are_kept_as_history(client: FlaskClient) -> None:
    receipt = filed(client, legal_referral="y")
    page = open_status(client, receipt).get_data(as_text=True)
    assert is_checked(page, "legal_referral")
    client.post("/status/consent", data={**hidden_fields(page), "peer_support": "y"})
    case_id = db.session.scalar(select(Case.id))
    legal = db.session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.case_id == case_id, ConsentRecord.purpose == "legal_referral")
        .order_by(ConsentRecord.id)
    ).all()
    assert [(r.granted, r.source) for r in legal] == [(True, "intake"), (False, "status")]
    body = client.get("/status/case").get_data(as_text=True)
    assert not is_checked(body, "legal_referral") and is_checked(body, "peer_support")


def test_sign_out_ends_the_session(client: FlaskClient) -> None:
    page = open_status(client, filed(client)).get_data(as_text=True)
    response = client.post("/status/logout", data=hidden_fields(page), follow_redirects=True)
    assert "You are signed out" in response.get_data(as_text=True)
    assert client.get("/status/case").status_code == 303


def test_idle_session_ends_after_30_minutes(client: FlaskClient) -> None:
    open_status(client, filed(client))
    assert client.get("/status/case").status_code == 200
    with client.session_transaction() as session:
        session["seen"] -= 31 * 60
    response = client.get("/status/case", follow_redirects=True)
    assert "signed out after a while without activity" in response.get_data(as_text=True)
    assert client.get("/status/case").status_code == 303


def test_quick_exit_ends_the_session_and_leaves(client: FlaskClient, app: Flask) -> None:
    open_status(client, filed(client))
    response = client.get("/exit")
    assert response.status_code == 303
    assert response.headers["Location"] == app.config["CONFIDE"].quick_exit_url
    assert client.get("/status/case").status_code == 303


def _typed(receipt: str, digits: str, separator: str) -> str:
    """``receipt`` as a phone keyboard in another script would type it."""
    plain = receipt.replace("-", "")
    table = {str(n): d for n, d in enumerate(digits)} if digits else {}
    groups = ["".join(table.get(ch, ch) for ch in plain[i : i + 4]) for i in range(0, 20, 4)]
    return separator.join(groups)


@pytest.mark.parametrize(
    ("digits", "separator"),
    [
        ("０１２３４５６７８９", "－"),  # full width, as a Chinese keyboard in full-width mode types
        ("", "\u3000"),  # ideographic spaces
        ("", "ー"),  # the katakana long mark many CJK keyboards give for a dash
        ("", "—"),
        ("", "．"),
        ("٠١٢٣٤٥٦٧٨٩", " "),  # Arabic-Indic digits
    ],
)
def test_a_receipt_typed_on_any_keyboard_opens_the_report(client: FlaskClient, digits: str, separator: str) -> None:
    receipt = filed(client)
    page = open_status(client, _typed(receipt, digits, separator)).get_data(as_text=True)
    assert "Received." in page


def test_a_receipt_too_short_or_not_digits_is_told_apart_from_an_unknown_one(client: FlaskClient) -> None:
    receipt = filed(client)
    short = open_status(client, receipt[:-1]).get_data(as_text=True)
    assert "A receipt has 20 digits, and we read 19" in short
    letters = open_status(client, receipt[:-1] + "x").get_data(as_text=True)
    assert "A receipt has only digits" in letters
    unknown = "9" * 20 if receipt.replace("-", "") != "9" * 20 else "1" * 20
    assert "We could not find a report with that receipt" in open_status(client, unknown).get_data(as_text=True)
    # In the reporter's language too.
    client.get("/language/es")
    spanish = open_status(client, receipt[:-1]).get_data(as_text=True)
    assert "Un comprobante tiene 20 números y leímos 19" in spanish


def test_a_stylesheet_never_writes_her_session(client: FlaskClient) -> None:
    """Its answer can arrive after the page's and would put an older cookie back."""
    open_status(client, filed(client))
    with client.session_transaction() as session:
        session["seen"] -= 60
    answer = client.get("/static/style.css")
    answer.close()
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert "Set-Cookie" in client.get("/status/case").headers, "a page is activity"
