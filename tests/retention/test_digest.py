"""The coordinators' weekly digest of what the retention policy deletes next."""

from __future__ import annotations

from datetime import timedelta
from email.message import Message

from flask import Flask
from rq import Queue
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.models import utcnow
from app.notify.sending import send_pending
from app.triage.queue import queue_names, redis_connection
from tests.conftest import run_worker
from tests.factories import make_staff
from tests.retention.helpers import MARKER, closed_case
from tests.smtp import Inbox


def digests(inbox: Inbox, address: str | None = None) -> list[Message]:
    """The digests in ``inbox`` (to ``address``); the other mail (new cases) is not for here."""
    mail = inbox.to(address) if address else [message for _, message in inbox.messages]
    return [message for message in mail if "to be deleted" in message["Subject"]]


def run_retention_pass(app: Flask) -> None:
    Queue(queue_names()[1], connection=redis_connection(), serializer="json").enqueue("workers.jobs.retention")
    run_worker(app)


def test_each_coordinator_gets_one_digest_a_week_with_references_and_links_only(
    app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    coordinators = [make_staff("coordinator"), make_staff("coordinator")]
    responder = make_staff("responder")
    soon, later = closed_case(), closed_case()
    soon.closed_at = utcnow() - timedelta(days=360)  # deleted in five days
    db.session.commit()
    soon_id, later_id = soon.id, later.id

    run_retention_pass(app)
    run_retention_pass(app)  # the pass runs every hour: still one digest this week
    send_pending()  # and the outbox's own digests leave it alone
    for coordinator in coordinators:
        mail = digests(inbox, coordinator.user.email)
        assert len(mail) == 1, "one digest per coordinator and week"
        assert mail[0]["Subject"] == "Confide: 1 case to be deleted in the next 14 days"
        body = mail[0].get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert f"#{soon_id[:8]}" in body and f"https://confide.example/cases/{soon_id}" in body
        assert later_id[:8] not in body and MARKER not in body
    assert not digests(inbox, responder.user.email)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retention_digest_sent")).one()
    assert entry.detail == {"cases": 1, "emails": 2}


def test_no_digest_when_nothing_goes_soon(app: Flask, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    make_staff("coordinator")
    closed_case()
    run_retention_pass(app)
    send_pending()
    assert digests(inbox) == []
