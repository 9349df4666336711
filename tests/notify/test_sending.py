"""Notifications reach people through a real SMTP server, batched and content-free."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from app.cases.content import ContactDetails
from app.casework.services import message_reporter
from app.extensions import db
from app.notify.sending import send_pending
from app.triage.routing import route_case
from tests.factories import make_case, make_staff
from tests.smtp import Inbox
from tests.smtp import free_port as _free_port
from tests.triage.test_routing import responder


def test_a_busy_night_makes_one_digest_each_and_says_nothing_of_the_cases(app: Flask, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    coordinator = make_staff("coordinator", email="cora@example.org")
    maple = responder(email="maple@example.org", caseload_cap=10)
    narratives = [f"narrative {n} about the spa owner" for n in range(5)]
    for narrative in narratives:
        route_case(make_case(category="exploitation", narrative=narrative).id)
    maple.user.on_duty = False
    db.session.commit()
    route_case(make_case(category="rape", when="72h").id)  # no one eligible: the coordinators hear
    assert send_pending() == 2
    assert len(inbox.to("maple@example.org")) == 1 and len(inbox.to("cora@example.org")) == 1
    for _, message in inbox.messages:
        text = (message["Subject"] + message.get_payload()).lower()
        assert "/staff/login" in text
        for secret in ("exploitation", "rape", "spa owner", "l1", "level", "narrative"):
            assert secret not in text, secret
    assert send_pending() == 0, "nothing is sent twice"
    assert coordinator.user.email == "cora@example.org"


def test_urgent_notices_go_at_once_and_the_rest_wait_for_the_digest(app: Flask, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    make_staff("coordinator", email="oncall@example.org", on_duty=True)
    responder(email="maple@example.org", caseload_cap=10)
    route_case(make_case(category="other").id)
    route_case(make_case(danger_now="yes").id)
    assert send_pending(urgent_only=True) == 2
    assert "urgent" in inbox.to("oncall@example.org")[0]["Subject"]
    assert "urgent" in inbox.to("maple@example.org")[0]["Subject"]
    assert send_pending() == 1, "the routine assignment still waits for its digest"


def test_a_mail_server_outage_loses_no_notice(
    app: Flask, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    responder(email="maple@example.org")
    route_case(make_case().id)
    settings = app.config["CONFIDE"]
    down = dataclasses.replace(settings.mail, port=_free_port())
    monkeypatch.setitem(app.config, "CONFIDE", dataclasses.replace(settings, mail=down))
    assert send_pending() == 0
    monkeypatch.setitem(app.config, "CONFIDE", settings)
    assert send_pending() == 1
    assert len(inbox.to("maple@example.org")) == 1


def test_a_reporter_who_agreed_hears_a_message_waits_in_their_language(app: Flask, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    maple = responder(languages=("en", "es"))
    agreed = make_case(
        language="es",
        contact=ContactDetails(name="Ana", email="ana@example.org"),
        consent={"contact_email": True},
        assigned_to=maple,
    )
    declined = make_case(contact=ContactDetails(name="Bo", email="bo@example.org"), assigned_to=maple)
    message_reporter(maple.user, agreed, "Estoy aquí para ayudarle. Secret words.")
    message_reporter(maple.user, declined, "Hello")
    assert send_pending() == 1
    [mail] = inbox.to("ana@example.org")
    assert mail["Subject"] == "Tiene un mensaje nuevo"
    assert "/status" in mail.get_payload() and "Secret words" not in mail.get_payload()
    assert inbox.to("bo@example.org") == []
