""" "Delete my report" at /status: she is told what goes and what stays, confirms, and it is
gone; an open referral is revoked first and counsel told; a legal hold is explained instead."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cases.models import Case, Message
from app.extensions import db
from app.notify.models import Notification
from app.notify.sending import send_pending
from app.referrals.models import Referral
from app.retention import holds
from app.retention.models import CaseStatistic
from tests.factories import make_case, make_counsel, make_referral, make_staff, make_support_request
from tests.helpers import hidden_fields, open_status
from tests.retention.helpers import MARKER
from tests.smtp import Inbox


def test_she_deletes_her_report_and_counsel_are_told_to_destroy_their_copies(
    app: Flask, client: FlaskClient, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    case = make_case(narrative=MARKER, consent={"legal_referral": True})
    referral = make_referral(case, counsel, coordinator)
    case_id, referral_id = case.id, referral.id
    send_pending()
    inbox.messages.clear()
    page = open_status(client, case.receipt).get_data(as_text=True)  # type: ignore[attr-defined]
    assert 'href="/status/delete"' in page

    asking = client.get("/status/delete").get_data(as_text=True)
    assert "What will be deleted, for good" in asking and "Only a count in our statistics" in asking
    # Pressing the button without ticking the box deletes nothing.
    unticked = client.post("/status/delete", data=hidden_fields(asking))
    assert unticked.status_code == 400 and "Tick the box to confirm" in unticked.get_data(as_text=True)
    # Nor does a request forged from elsewhere, without her page's token.
    assert client.post("/status/delete", data={"understood": "y"}).status_code in (400, 303)
    assert db.session.get(Case, case_id) is not None

    done = client.post("/status/delete", data={**hidden_fields(asking), "understood": "y"})
    assert done.status_code == 200
    assert "Your report has been deleted" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Case, case_id) is None
    assert not db.session.scalars(select(Message).where(Message.case_id == case_id)).all()
    assert db.session.get(Referral, referral_id) is None
    assert db.session.scalar(select(CaseStatistic.ended_by)) == "reporter"
    # She is signed out: her page and her receipt open nothing any more.
    assert client.get("/status/case").headers["Location"].endswith("/status")
    assert "Received on" not in open_status(client, case.receipt).get_data(as_text=True)  # type: ignore[attr-defined]

    revoked = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "referral_status_changed", AuditEntry.case_id == case_id)
    ).all()
    assert [(e.detail["new"], e.detail["reason"]) for e in revoked][-1] == ("revoked", "report_deleted")
    shredded = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "case_shredded")).one()
    assert shredded.actor_role == "reporter" and shredded.detail["referrals_revoked"] == 1
    # Counsel hear it by email, content-free; the notice outlived the case.
    notices = db.session.scalars(select(Notification.kind).where(Notification.staff_id == counsel.id)).all()
    assert "referral_deleted" in notices
    send_pending()
    mail = inbox.to(counsel.user.email)
    assert len(mail) == 1
    body = mail[0].get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "Please destroy every copy of its packet" in body
    assert MARKER not in body and case_id not in body


def test_a_legal_hold_is_explained_in_plain_words_and_nothing_is_deleted(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    case = make_case(narrative=MARKER)
    open_status(client, case.receipt)  # type: ignore[attr-defined]
    asking = client.get("/status/delete").get_data(as_text=True)
    # A coordinator puts it on hold while she reads the page.
    holds.set_hold(coordinator.user, case, "litigation")

    tried = client.post("/status/delete", data={**hidden_fields(asking), "understood": "y"})
    text = tried.get_data(as_text=True)
    assert tried.status_code == 409 and "the law requires us to keep it" in text and "Nothing has been deleted" in text
    assert "Delete it now" not in text and "litigation" not in text and "subpoena" not in text.lower()
    db.session.expire_all()
    assert db.session.get(Case, case.id) is not None
    assert client.get("/status/case").status_code == 200, "she is still signed in"
    assert "the law requires us to keep it" in client.get("/status/delete").get_data(as_text=True)


def test_a_support_request_is_deleted_in_her_words(app: Flask, client: FlaskClient) -> None:
    request = make_support_request()
    open_status(client, request.receipt)  # type: ignore[attr-defined]
    asking = client.get("/status/delete").get_data(as_text=True)
    assert "Delete my request" in asking
    done = client.post("/status/delete", data={**hidden_fields(asking), "understood": "y"})
    assert "Your request has been deleted" in done.get_data(as_text=True)
