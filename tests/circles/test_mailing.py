"""The emails of circles, through a real SMTP server: content-free (no title, no place, no link,
no name), each sent once however often the periodic job runs, and the address deleted once
the meeting is over."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from email.header import decode_header, make_header
from email.message import Message

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import func, select, update

from app.circles import services
from app.circles.mailing import send_circle_mail
from app.circles.models import Circle, CircleRequest
from app.extensions import db
from app.models import utcnow
from app.notify.sending import send_pending
from app.triage.queue import queue_names, redis_connection
from tests.circles.factories import LINK, ask, code_from, make_circle, soon
from tests.conftest import run_worker
from tests.factories import Staff, make_staff
from tests.helpers import hidden_fields
from tests.smtp import Inbox

TITLE = "Quiet Harbor circle"
SECRETS = (TITLE, "Quiet Harbor", LINK, "meet.example.org", "Rosa", "Passcode 4471")


def _text(message: Message) -> str:
    subject = str(make_header(decode_header(message["Subject"])))
    return f"{subject}\n{message.get_payload(decode=True).decode()}"


def _content_free(message: Message) -> str:
    text = _text(message)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} in an email"
    assert "https://confide.example/circles/code" in text, "where to enter the code"
    return text


def _run_job(app: Flask) -> None:
    """The periodic job, as the clock queues it, run by a real RQ worker."""
    Queue(queue_names()[1], connection=redis_connection(), serializer="json").enqueue("workers.jobs.circle_mail")
    assert run_worker(app) == 1


def _email_kept() -> bool:
    db.session.rollback()
    return db.session.scalar(select(CircleRequest.email_sealed)) is not None


def test_the_reminder_is_content_free_sent_once_and_the_address_deleted_after(
    app: Flask, client: FlaskClient, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    circle = make_circle(title=TITLE, starts_at=soon(48), place="Passcode 4471")
    code = code_from(ask(client, circle.id, name="Rosa", email="rosa@example.org"))
    _run_job(app)
    assert inbox.to("rosa@example.org") == [], "two days ahead: not yet"

    db.session.execute(update(Circle).values(starts_at=soon(20)))
    db.session.commit()
    _run_job(app)
    _run_job(app)
    [reminder] = inbox.to("rosa@example.org")
    text = _content_free(reminder)
    assert "A reminder you asked for" in text and "starts on" in text
    assert code.replace("-", "") not in text.replace("-", ""), "the code is hers to keep, not mailed"
    assert _email_kept(), "kept until the meeting is over"

    # The meeting is over: her address goes, and nothing more is sent.
    db.session.execute(update(Circle).values(starts_at=utcnow() - timedelta(hours=3)))
    db.session.commit()
    _run_job(app)
    assert not _email_kept() and len(inbox.messages) == 1

    # A week on, the request itself (her name, the index of her code) is gone.
    db.session.execute(update(Circle).values(starts_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    _run_job(app)
    assert db.session.scalar(select(func.count()).select_from(CircleRequest)) == 0


def test_a_reminder_is_in_her_language(app: Flask, client: FlaskClient, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    circle = make_circle(title=TITLE, starts_at=soon(20))
    client.get("/language/es?next=/circles")
    ask(client, circle.id, name="Rosa", email="rosa@example.org")
    send_circle_mail()
    [reminder] = inbox.to("rosa@example.org")
    assert "El recordatorio que pidió" in _content_free(reminder)


def a_place_opens_for_rosa(app: Flask, client: FlaskClient, coordinator: Staff) -> Circle:
    """A full circle Rosa (who gave her email) waits for, until Ana gives up her place."""
    circle = make_circle(by=coordinator, title=TITLE, capacity=1)
    first = app.test_client()
    seated = ask(first, circle.id, name="Ana")
    ask(client, circle.id, name="Rosa", email="rosa@example.org")
    assert send_circle_mail().startswith("told 0"), "waiting is not news"
    first.post("/circles/code/leave", data=hidden_fields(seated.get_data(as_text=True)))
    return circle


def test_a_place_opened_a_change_and_a_cancellation_are_told_without_content(
    app: Flask, client: FlaskClient, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    coordinator = make_staff("coordinator")
    circle = a_place_opens_for_rosa(app, client, coordinator)
    send_circle_mail()
    send_circle_mail()
    [opened] = inbox.to("rosa@example.org")
    assert "A place opened for you" in _content_free(opened)

    fields = dataclasses.replace(_fields_of(circle), starts_at=circle.starts_at + timedelta(hours=1))
    services.change(circle, fields, by=coordinator.user)
    send_circle_mail()
    assert "changed" in _content_free(inbox.to("rosa@example.org")[-1])

    services.cancel(circle, by=coordinator.user)
    send_circle_mail()
    cancelled = inbox.to("rosa@example.org")
    assert len(cancelled) == 3 and "was cancelled" in _content_free(cancelled[-1])
    assert not _email_kept(), "a cancelled meeting's addresses go once told"


def test_a_change_before_she_was_told_of_her_place_still_tells_her_of_it(
    app: Flask, client: FlaskClient, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    coordinator = make_staff("coordinator")
    circle = a_place_opens_for_rosa(app, client, coordinator)
    later = circle.starts_at + timedelta(hours=1)
    services.change(circle, dataclasses.replace(_fields_of(circle), starts_at=later), by=coordinator.user)
    send_circle_mail()
    [told] = inbox.to("rosa@example.org")
    assert "A place opened for you" in _content_free(told), "with the new time, not only that it changed"


def test_a_longer_meeting_is_not_reminded_twice(app: Flask, client: FlaskClient, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    coordinator = make_staff("coordinator")
    circle = make_circle(by=coordinator, title=TITLE, starts_at=soon(20))
    ask(client, circle.id, name="Rosa", email="rosa@example.org")
    send_circle_mail()
    assert len(inbox.to("rosa@example.org")) == 1
    services.change(circle, dataclasses.replace(_fields_of(circle), minutes=circle.minutes + 30), by=coordinator.user)
    send_circle_mail()
    told = inbox.to("rosa@example.org")
    assert len(told) == 2 and "changed" in _content_free(told[-1]) and "A reminder" not in _text(told[-1])
    services.change(circle, dataclasses.replace(_fields_of(circle), starts_at=soon(22)), by=coordinator.user)
    send_circle_mail()
    assert sum("A reminder you asked for" in _text(message) for message in inbox.to("rosa@example.org")) == 2


def test_a_cancelled_circle_cannot_be_changed(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    circle = make_circle(by=coordinator, title=TITLE)
    services.cancel(circle, by=coordinator.user)
    later = dataclasses.replace(_fields_of(circle), starts_at=circle.starts_at + timedelta(hours=1))
    with pytest.raises(services.CircleError, match="was cancelled"):
        services.change(circle, later, by=coordinator.user)


def _fields_of(circle: Circle) -> services.CircleFields:
    return services.CircleFields(
        title=circle.title,
        language=circle.language,
        format=circle.format,
        where=services.where(circle),
        starts_at=circle.starts_at,
        minutes=circle.minutes,
        capacity=circle.capacity,
        facilitator_id=circle.facilitator_id,
        ground_rules=circle.ground_rules,
    )


def test_the_facilitators_email_names_neither_the_person_nor_the_circle(
    app: Flask, client: FlaskClient, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    willow = make_staff("responder", email="willow@example.org")
    circle = make_circle(facilitator=willow, title=TITLE)
    ask(client, circle.id, name="Rosa", email="rosa@example.org")
    assert send_pending() == 1
    [told] = inbox.to("willow@example.org")
    text = _text(told)
    assert "/staff/login" in text
    for secret in (*SECRETS, "rosa@example.org", "circle"):
        assert secret not in text


def test_a_mail_server_refusal_keeps_the_reminder_for_the_next_run(
    app: Flask, client: FlaskClient, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    circle = make_circle(title=TITLE, starts_at=soon(20))
    ask(client, circle.id, name="Rosa", email="rosa@example.org")
    settings = app.config["CONFIDE"]
    closed = dataclasses.replace(settings.mail, port=1)
    monkeypatch.setitem(app.config, "CONFIDE", dataclasses.replace(settings, mail=closed))
    assert send_circle_mail().startswith("told 0, reminded 0")
    monkeypatch.setitem(app.config, "CONFIDE", settings)
    assert send_circle_mail().startswith("told 0, reminded 1")
    assert len(inbox.to("rosa@example.org")) == 1 and port
