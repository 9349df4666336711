"""A whole report in Chinese and in Korean, on a phone set to that language, JavaScript off.

The phone's own language picks the site's ("zh-CN" → 简体中文, "ko-KR" → 한국어): the form, the
confirmation, /status opened with the receipt typed in full-width characters as a Chinese or
Japanese keyboard gives them, a reply from the responder read, an answer sent, a consent choice
changed. Every page says it is in that language; the words looked for come from the catalog.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.cases.consent import current_consent
from app.cases.models import Case
from app.casework import services as cases
from app.extensions import db
from app.vocabulary import CATEGORIES, WANTS
from tests.e2e.conftest import LiveServer, phone_context
from tests.e2e.test_reporter_flow import Texts, expect_fits_phone
from tests.factories import make_staff

pytestmark = pytest.mark.e2e

# What each language's reporter writes, and how her phone names its language.
REPORTERS = {
    "zh-Hans": ("zh-CN", "老板拿走了我的护照，说我欠他八千美元。"),
    "ko": ("ko-KR", "사장님이 제 여권을 가져가고 빚을 갚으라고 해요."),
}
REPLIES = {"zh-Hans": "谢谢您告诉我们。您今晚安全吗？", "ko": "말씀해 주셔서 고마워요. 오늘 밤 안전하신가요?"}
ANSWERS = {"zh-Hans": "我现在安全，在朋友家。", "ko": "지금은 친구 집에 있어서 안전해요."}
FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@pytest.fixture(params=sorted(REPORTERS))
def reporter(request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer) -> Iterator[tuple[str, Page]]:
    """A phone whose language is Chinese or Korean, JavaScript off."""
    language: str = request.param
    context = phone_context(browser, live_server, locale=REPORTERS[language][0])
    try:
        yield language, context.new_page()
    finally:
        context.close()


def in_language(page: Page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect_fits_phone(page)


def test_a_whole_report_in_chinese_and_korean(reporter: tuple[str, Page], live_server: LiveServer, app: Flask) -> None:
    language, page = reporter
    texts = Texts(app, language)

    def t(msgid: Any) -> str:
        text, english = texts.lookup(msgid, language), texts.lookup(msgid, "en")
        assert text != english, f"not translated into {language}: {english!r}"
        return text

    marker = uuid.uuid4().hex[:8]
    narrative = f"{REPORTERS[language][1]} {marker}"

    # Home, in the phone's language, without choosing anything.
    page.goto("/")
    in_language(page, language)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("A safe place to tell someone"))
    page.get_by_role("link", name=t("Make a report"), exact=True).click()

    # The form.
    in_language(page, language)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Make a report"))
    page.locator("fieldset#category").get_by_role("radio", name=t(CATEGORIES["exploitation"]), exact=True).check()
    page.get_by_role("textbox", name=t("What happened, in your own words"), exact=True).fill(narrative)
    page.locator("fieldset#wants").get_by_role("checkbox", name=t(WANTS["peer"]), exact=True).check()
    page.get_by_role("button", name=t("Send my report"), exact=True).click()

    # The confirmation and its receipt.
    in_language(page, language)
    expect(page.get_by_role("heading", level=1).first).to_have_text(t("Your report was received"))
    receipt = page.locator("#receipt").inner_text().strip()
    assert re.fullmatch(r"\d{4}(-\d{4}){4}", receipt), receipt
    case = db.session.scalars(select(Case)).one()
    assert case.language == language

    # A peer responder who reads the language replies.
    responder = make_staff("responder", pseudonym="Mei", languages=("en", language))
    cases.assign(make_staff("coordinator").user, case, responder.id)
    cases.message_reporter(responder.user, case, REPLIES[language])
    db.session.commit()

    # Back with the receipt typed in full-width digits and dashes.
    page.get_by_role("link", name=t("Check my report"), exact=True).click()
    in_language(page, language)
    page.get_by_role("textbox", name=t("Your receipt"), exact=True).fill(receipt.translate(FULL_WIDTH))
    page.get_by_role("button", name=t("Open my report"), exact=True).click()
    in_language(page, language)
    expect(page.get_by_role("heading", level=1)).to_have_text(t("My report"))
    expect(page.locator("#narrative")).to_have_text(narrative)
    reply = page.locator("#conversation .message.from-staff")
    expect(reply.locator(".body")).to_have_text(REPLIES[language])
    expect(reply.locator(".meta")).to_contain_text(t("Peer responder"))

    # Her answer.
    page.get_by_role("textbox", name=t("Your message"), exact=True).fill(ANSWERS[language])
    page.get_by_role("button", name=t("Send"), exact=True).click()
    in_language(page, language)
    expect(page.get_by_role("status")).to_have_text(t("Sent. A peer responder will see it."))
    expect(page.locator("#conversation .message.from-reporter .body")).to_have_text(ANSWERS[language])

    # A consent choice changed: a legal referral, now allowed.
    legal = page.locator("#choices").get_by_role(
        "checkbox", name=t("My report may be shared with legal counsel if I ask for a referral."), exact=True
    )
    expect(legal).not_to_be_checked()
    legal.check()
    page.get_by_role("button", name=t("Save my choices"), exact=True).click()
    in_language(page, language)
    expect(page.get_by_role("status")).to_have_text(t("Your choices are saved."))
    expect(legal).to_be_checked()
    db.session.rollback()
    assert current_consent(case.id)["legal_referral"] is True

    live_server.check()
