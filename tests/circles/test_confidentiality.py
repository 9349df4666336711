"""Where a circle meets, and the name and email of those who ask, are never readable at rest:
not in the database files, not in Redis, not in the logs. Nor is anyone's code. The test writes
unique markers, goes through everything that touches them, then searches for them."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue
from sqlalchemy import update

from app.circles.models import Circle
from app.extensions import db
from app.notify.sending import send_pending
from app.triage.queue import queue_names, redis_connection
from tests.circles.factories import ask, code_from, make_circle, open_code, soon
from tests.conftest import run_worker
from tests.factories import make_staff, sign_in
from tests.smtp import Inbox
from tests.test_confidentiality import database_bytes, redis_values


def test_circle_markers_never_appear_at_rest(
    app: Flask,
    client: FlaskClient,
    redis_client: Redis,
    log_file: Path,
    caplog: pytest.LogCaptureFixture,
    smtp: tuple[Inbox, int],
) -> None:
    caplog.set_level(logging.DEBUG)
    inbox, _ = smtp
    marker = f"MARKER{secrets.token_hex(8)}"
    link = f"https://meet.example.org/{marker}-link"
    willow = make_staff("responder", email="willow@example.org")
    circle = make_circle(facilitator=willow, link=link, place=f"{marker}-place", starts_at=soon(48))
    answer = ask(client, circle.id, name=f"{marker}-name", email=f"{marker.lower()}@example.org")
    assert link in answer.get_data(as_text=True), "she must be able to read it"
    code = code_from(answer)
    assert link in open_code(app.test_client(), code).get_data(as_text=True)
    # Everything that reads the sealed values runs: the facilitator's page, the emails, the job.
    staff = app.test_client()
    sign_in(staff, willow)
    assert f"{marker}-name" in staff.get(f"/staff/circles/{circle.id}").get_data(as_text=True)
    db.session.execute(update(Circle).values(starts_at=soon(20)))
    db.session.commit()
    send_pending()
    Queue(queue_names()[1], connection=redis_connection(), serializer="json").enqueue("workers.jobs.circle_mail")
    run_worker(app)
    assert len(inbox.to(f"{marker.lower()}@example.org")) == 1, "the reminder went"

    needles = [marker.encode(), marker.lower().encode(), code.encode(), code.replace("-", "").encode()]
    stored = database_bytes(app)
    assert b"circle_requests" in stored, "the search must cover the rows themselves"
    for needle in needles:
        assert needle not in stored, needle
    in_redis = redis_values(redis_client)
    assert any(b"workers.jobs.circle_mail" in value for value in in_redis), "the job must be searched"
    for value in in_redis:
        for needle in needles:
            assert needle not in value, f"found in Redis: {value[:80]!r}"
    # The test's own mail server (aiosmtpd, logging as "mail.log") stands for the world outside.
    ours = [record for record in caplog.records if record.name != "mail.log"]
    logged = log_file.read_text(encoding="utf-8") + "\n".join(record.getMessage() for record in ours)
    assert "circle request" in logged, "the mail was logged, by the request's id"
    for needle in needles:
        assert needle.decode() not in logged
    assert "127.0.0.1" not in logged
