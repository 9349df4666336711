"""Talk to a peer, in Spanish, on a phone with JavaScript off: the support request is routed by a
real RQ worker to the responder who speaks Spanish, answered, read and answered back through
/status, and then turned into an incident report without writing it again.

The reporter's words are looked up in the compiled catalog at run time, never written here in
Spanish: each must be translated, and is what the page shows. The responder is on a laptop with
JavaScript on (staff pages are English), and nothing there may complain.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask_babel import gettext
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.cases.models import Case, Message
from app.extensions import db
from app.vocabulary import CATEGORIES, SUPPORT_STATUSES
from tests.conftest import BrowserLikeClient, run_worker
from tests.e2e.conftest import Laptop, LiveServer
from tests.e2e.test_reporter_flow import expect_fits_phone, expect_language, expect_path
from tests.factories import Staff, make_staff, sign_in
from tests.triage.test_routing import trained

pytestmark = pytest.mark.e2e

CATEGORY = "exploitation"
RECEIPT_SHAPE = re.compile(r"^\d{4}(-\d{4}){4}$")
# Every interface text the reporter's side of this flow looks for.
TEXTS: tuple[Any, ...] = (
    "I'd like to talk with someone",
    "What is on your mind?",
    "Which language should we use with you?",
    "Send my request",
    "Your request was received",
    "This is the only time it is shown.",
    "Check my report",
    "Your receipt",
    "Open my report",
    "My request",
    SUPPORT_STATUSES["acknowledged"],
    "Peer responder",
    "Your message",
    "Send",
    "Sent. A peer responder will see it.",
    "Turn it into a report",
    "What happened, in your own words",
    CATEGORIES[CATEGORY],
    "Make it a report",
    "Your request is now a report. Your receipt and your messages stay the same.",
    "My report",
)


class Spanish:
    """The interface's words as a Spanish page shows them, each checked to be translated."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def lookup(self, msgid: Any, language: str) -> str:
        # A fresh app context: Flask-Babel caches the locale on ``g``.
        with self.app.app_context(), self.app.test_request_context(headers={"Accept-Language": language}):
            return gettext(msgid) if isinstance(msgid, str) else str(msgid)

    def __call__(self, msgid: Any) -> str:
        assert any(
            msgid == text if isinstance(msgid, str) and isinstance(text, str) else msgid is text for text in TEXTS
        ), f"add {msgid!r} to TEXTS"
        text, english = self.lookup(msgid, "es"), self.lookup(msgid, "en")
        assert text != english, f"not translated into Spanish: {english!r}"
        return text


def staff_browser(laptop: Laptop, app: Flask, live_server: LiveServer, who: Staff) -> Page:
    """The laptop, signed in as ``who`` through the real two-step form."""
    app.test_client_class = BrowserLikeClient
    client = app.test_client()
    assert sign_in(client, who).status_code == 303
    cookie = client.get_cookie("confide")
    assert cookie is not None
    laptop.page.context.add_cookies([{"name": "confide", "value": cookie.value, "url": live_server.url}])
    return laptop.page


def test_a_spanish_support_request_is_routed_answered_and_turned_into_a_report(
    page: Page, laptop: Laptop, live_server: LiveServer, app: Flask
) -> None:
    t = Spanish(app)
    missing = [t.lookup(msgid, "en") for msgid in TEXTS if t.lookup(msgid, "es") == t.lookup(msgid, "en")]
    assert not missing, f"texts of this flow not in Spanish: {missing}"
    marker = f"e2e-{uuid.uuid4().hex[:12]}"
    on_her_mind = f"Mi jefe guarda mis propinas y no sé qué hacer. «{marker}» & <b>"
    to_reporter = f"Gracias por escribir. Estoy aquí para escucharte. {marker}-out"
    from_reporter = f"Gracias. Prefiero escribir por aquí. {marker}-in"
    # Two trained responders on duty: one speaks Spanish.
    trained(make_staff("responder", name="Ed Realname", pseudonym="Ed", languages=("en",)), "all")
    rosa = trained(make_staff("responder", name="Rosa Realname", pseudonym="Rosa", languages=("en", "es")), CATEGORY)

    # 1. From the home page in Spanish, the short way in.
    page.goto("/language/es?next=/")
    expect_language(page, "es")
    page.get_by_role("link", name=t("I'd like to talk with someone"), exact=True).click()
    expect_path(page, "/talk")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("I'd like to talk with someone"))
    expect(page.get_by_role("combobox", name=t("Which language should we use with you?"))).to_have_value("es")
    page.get_by_role("textbox", name=t("What is on your mind?"), exact=True).fill(on_her_mind)
    expect_fits_phone(page)
    page.get_by_role("button", name=t("Send my request"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Your request was received"))
    expect(page.get_by_text(t("This is the only time it is shown."), exact=True)).to_be_visible()
    receipt = page.locator("#receipt").inner_text().strip()
    assert RECEIPT_SHAPE.match(receipt), receipt
    expect_fits_phone(page)

    # 2. A real RQ worker routes it: to Rosa, who speaks Spanish, not to Ed, who does not.
    run_worker(app)
    case = db.session.scalars(select(Case)).one()
    case_id = case.id
    assert (case.kind, case.language, case.assigned_to_id) == ("support", "es", rosa.id)
    db.session.rollback()

    # 3. Rosa answers from the case page, which reads as a support request.
    staff = staff_browser(laptop, app, live_server, rosa)
    staff.goto(f"/cases/{case_id}")
    expect(staff.get_by_role("heading", level=1)).to_contain_text("Support request")
    expect(staff.locator("#narrative")).to_have_text(on_her_mind)
    conversation = staff.locator("#conversation")
    conversation.get_by_role("textbox", name="Message to the reporter", exact=True).fill(to_reporter)
    conversation.get_by_role("button", name="Send to the reporter", exact=True).click()
    expect(staff.get_by_role("status")).to_have_text(
        "Sent. The reporter will see it when they check with their receipt."
    )

    # 4. She reads the answer through /status and writes back.
    page.get_by_role("link", name=t("Check my report"), exact=True).click()
    expect_path(page, "/status")
    page.get_by_role("textbox", name=t("Your receipt"), exact=True).fill(receipt)
    page.get_by_role("button", name=t("Open my report"), exact=True).click()
    expect_path(page, "/status/case")
    expect_language(page, "es")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("My request"))
    expect(page.locator("#status-text")).to_have_text(t(SUPPORT_STATUSES["acknowledged"]))
    received = page.locator("#conversation .thread .message.from-staff")
    expect(received.locator(".body")).to_have_text(to_reporter)
    expect(received.locator(".meta")).to_contain_text(f"{t('Peer responder')} (Rosa)")
    page.get_by_role("textbox", name=t("Your message"), exact=True).fill(from_reporter)
    page.get_by_role("button", name=t("Send"), exact=True).click()
    expect(page.get_by_role("status")).to_have_text(t("Sent. A peer responder will see it."))
    expect(page.locator("#conversation .thread .message.from-reporter .body")).to_have_text(from_reporter)
    expect_fits_phone(page)

    # 5. She turns it into a report: what she wrote is already there; she adds what happened.
    page.get_by_role("link", name=t("Turn it into a report"), exact=True).click()
    expect_path(page, "/status/report")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Turn it into a report"))
    narrative = page.get_by_role("textbox", name=t("What happened, in your own words"), exact=True)
    expect(narrative).to_have_value(on_her_mind)
    expect_fits_phone(page)
    page.locator("fieldset#category").get_by_role("radio", name=t(CATEGORIES[CATEGORY]), exact=True).check()
    page.get_by_role("button", name=t("Make it a report"), exact=True).click()
    expect_path(page, "/status/case")
    expect(page.get_by_role("status")).to_have_text(
        t("Your request is now a report. Your receipt and your messages stay the same.")
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(t("My report"))
    expect(page.locator("#narrative")).to_have_text(on_her_mind)
    expect(page.locator("#conversation .thread .message")).to_have_count(2)

    # The same case, the same responder and conversation; Rosa's page says what happened.
    live_server.check()
    db.session.expire_all()
    case = db.session.scalars(select(Case)).one()
    assert (case.id, case.kind, case.category, case.assigned_to_id) == (case_id, "report", CATEGORY, rosa.id)
    assert len(db.session.scalars(select(Message)).all()) == 2
    db.session.rollback()
    staff.reload()
    expect(staff.get_by_role("heading", level=1)).to_contain_text("Exploitation or coercion")
    expect(staff.locator("#timeline")).to_contain_text("Turned the support request into an incident report.")
    laptop.check()
