"""A reporter on a phone with JavaScript off, in English and in Spanish, from home to sign-out.

Expected words are looked up in the compiled catalog at run time, never written here in
Spanish: the test checks that each one is translated (differs from the English) and that
it is what the page shows, by finding buttons, links and fields by that accessible name.
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

from app.cases.models import Case
from app.extensions import db
from app.vocabulary import CATEGORIES, STATUSES, WANTS
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

CATEGORY = "sexual_harassment"
WANT = "peer"
COUNTY = "hartford"
RECEIPT_SHAPE = re.compile(r"^\d{4}(-\d{4}){4}$")
SCREENSHOTS = {
    "report-en": "/tmp/confide-e2e-report-en.png",
    "confirmation-es": "/tmp/confide-e2e-confirmation-es.png",
}

# Every interface text this flow looks for, so a missing translation is reported all at once.
FLOW_TEXTS: tuple[Any, ...] = (
    "Language",
    "A safe place to tell someone",
    "Make a report",
    "What happened?",
    CATEGORIES[CATEGORY],
    "What happened, in your own words",
    "In which county?",
    "What would help?",
    WANTS[WANT],
    "Send my report",
    "Some answers need another look. Everything you wrote is still here.",
    "Please choose what comes closest. You can explain below.",
    "Your report was received",
    "This is the only time it is shown.",
    "Check my report",
    "Your receipt",
    "Open my report",
    "My report",
    STATUSES["new"],
    "Your message",
    "Send",
    "Sent. A peer responder will see it.",
    "You",
    "Sign out",
    "You are signed out. Keep your receipt safe to come back.",
)


class Texts:
    """The interface's words in one language, as the app's catalog has them now."""

    def __init__(self, app: Flask, language: str) -> None:
        self.app = app
        self.language = language

    def lookup(self, msgid: Any, language: str) -> str:
        # A fresh app context: Flask-Babel caches the locale on ``g``, and the ``app``
        # fixture's context (which a request context would otherwise reuse) must not keep it.
        with self.app.app_context(), self.app.test_request_context(headers={"Accept-Language": language}):
            # Plain msgids go through gettext; lazy labels (vocabularies) render as they would.
            return gettext(msgid) if isinstance(msgid, str) else str(msgid)

    def untranslated(self) -> list[str]:
        return [
            self.lookup(msgid, "en")
            for msgid in FLOW_TEXTS
            if self.lookup(msgid, self.language) == self.lookup(msgid, "en")
        ]

    def __call__(self, msgid: Any) -> str:
        known = any(
            msgid == text if isinstance(msgid, str) and isinstance(text, str) else msgid is text for text in FLOW_TEXTS
        )
        assert known, f"add {msgid!r} to FLOW_TEXTS"
        text = self.lookup(msgid, self.language)
        if self.language != "en":
            english = self.lookup(msgid, "en")
            assert text != english, f"not translated into {self.language}: {english!r}"
        return text


def expect_language(page: Page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)


def expect_path(page: Page, path: str) -> None:
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+{re.escape(path)}(#.*)?$"))


def expect_fits_phone(page: Page) -> None:
    """Nothing pushes the page wider than the phone (no sideways scrolling)."""
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]}px wide on a {widths[1]}px screen"


@pytest.mark.parametrize("language", ["en", "es"])
def test_reporter_flow_without_javascript(page: Page, live_server: LiveServer, app: Flask, language: str) -> None:
    t = Texts(app, language)
    if language != "en":
        missing = t.untranslated()
        assert not missing, f"{len(missing)} texts of this flow are not in {language}: {missing}"
    marker = f"e2e-{uuid.uuid4().hex[:12]}"
    narrative = f"He said things about my body during the session. «{marker}» ñ & <b>"
    message = f"One more thing — {marker}-message"

    # Home, in the browser's language; switching language is a plain link.
    page.goto("/")
    expect_language(page, "en")
    if language != "en":
        name = app.config["CONFIDE"].language_names[language]  # in its own script
        languages = page.get_by_role("navigation", name=Texts(app, "en")("Language"))
        languages.get_by_role("link", name=name, exact=True).click()
        expect_path(page, "/")
        expect_language(page, language)
        expect(languages.get_by_role("link", name=name)).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("A safe place to tell someone"))
    expect_fits_phone(page)

    # The report form.
    page.get_by_role("link", name=t("Make a report"), exact=True).click()
    expect_path(page, "/report")
    expect_language(page, language)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Make a report"))
    # Question groups by their stable id; the legend may carry more than the question.
    categories = page.locator("fieldset#category")
    expect(categories.locator("legend")).to_contain_text(t("What happened?"))
    category = categories.get_by_role("radio", name=t(CATEGORIES[CATEGORY]), exact=True)
    narrative_box = page.get_by_role("textbox", name=t("What happened, in your own words"), exact=True)
    county = page.get_by_role("combobox", name=t("In which county?"), exact=True)
    wants = page.locator("fieldset#wants")
    expect(wants.locator("legend")).to_contain_text(t("What would help?"))
    want = wants.get_by_role("checkbox", name=t(WANTS[WANT]), exact=True)
    send_report = page.get_by_role("button", name=t("Send my report"), exact=True)

    narrative_box.fill(narrative)
    county.select_option(COUNTY)
    want.check()

    if language == "en":
        # Once: forget the one required answer; nothing typed is lost.
        send_report.click()
        expect_path(page, "/report")
        expect(page.locator("#form-notice")).to_have_text(
            t("Some answers need another look. Everything you wrote is still here.")
        )
        expect(page.locator("#category-errors")).to_have_text(
            t("Please choose what comes closest. You can explain below.")
        )
        expect(narrative_box).to_have_value(narrative)
        expect(county).to_have_value(COUNTY)
        expect(want).to_be_checked()
        expect(category).not_to_be_checked()
        expect_fits_phone(page)
        page.screenshot(path=SCREENSHOTS["report-en"], full_page=True)

    category.check()
    send_report.click()

    # The receipt, shown once.
    expect_path(page, "/report")
    expect_language(page, language)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Your report was received"))
    expect(page.get_by_text(t("This is the only time it is shown."), exact=True)).to_be_visible()
    receipt = page.locator("#receipt").inner_text().strip()
    assert RECEIPT_SHAPE.match(receipt), receipt
    expect_fits_phone(page)
    if language == "es":
        page.screenshot(path=SCREENSHOTS["confirmation-es"], full_page=True)

    # Back in with the receipt, typed with spaces as a person might.
    page.get_by_role("link", name=t("Check my report"), exact=True).click()
    expect_path(page, "/status")
    expect_language(page, language)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Check my report"))
    page.get_by_role("textbox", name=t("Your receipt"), exact=True).press_sequentially(receipt.replace("-", " "))
    page.get_by_role("button", name=t("Open my report"), exact=True).click()

    expect_path(page, "/status/case")
    expect_language(page, language)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("My report"))
    expect(page.locator("#narrative")).to_have_text(narrative)
    expect(page.locator("#status-text")).to_have_text(t(STATUSES["new"]))
    expect_fits_phone(page)

    # A message to the peer responder appears in the conversation.
    page.get_by_role("textbox", name=t("Your message"), exact=True).fill(message)
    page.get_by_role("button", name=t("Send"), exact=True).click()
    expect_path(page, "/status/case")
    expect_language(page, language)
    expect(page.get_by_role("status")).to_have_text(t("Sent. A peer responder will see it."))
    sent = page.locator("#conversation .thread .message.from-reporter")
    expect(sent).to_have_count(1)
    expect(sent.locator(".body")).to_have_text(message)
    expect(sent.locator(".meta")).to_contain_text(t("You"))

    # Sign out: the status page asks for a receipt again.
    page.get_by_role("button", name=t("Sign out"), exact=True).click()
    expect_path(page, "/status")
    expect_language(page, language)
    expect(page.get_by_role("status")).to_have_text(t("You are signed out. Keep your receipt safe to come back."))
    for path in ("/status", "/status/case"):
        page.goto(path)
        expect_path(page, "/status")
        expect(page.get_by_role("heading", level=1)).to_have_text(t("Check my report"))
        expect(page.get_by_role("textbox", name=t("Your receipt"), exact=True)).to_have_value("")
    expect(page.get_by_text(marker)).to_have_count(0)

    # One case, in the reporter's language, however many times the form was sent.
    live_server.check()
    cases = db.session.scalars(select(Case)).all()
    assert [case.language for case in cases] == [language]
