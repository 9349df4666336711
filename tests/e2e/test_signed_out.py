"""Signed out while writing, on a phone with JavaScript off: the message she sends after the
idle limit is not lost. The receipt page keeps it; her receipt brings it back, filled in, to send."""

from __future__ import annotations

import time
import uuid

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app import security
from app.cases.models import Message
from app.extensions import db
from tests.e2e.conftest import LiveServer
from tests.e2e.test_reporter_flow import expect_fits_phone, expect_path
from tests.helpers import receipt_from, submit_report

pytestmark = pytest.mark.e2e


def test_a_message_sent_after_the_idle_limit_comes_back_to_send(
    page: Page, live_server: LiveServer, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt = receipt_from(submit_report(app.test_client()))
    words = f"I was called in again tonight and I am scared to go. {uuid.uuid4().hex[:8]}"
    page.goto("/status")
    page.get_by_role("textbox", name="Your receipt", exact=True).fill(receipt)
    page.get_by_role("button", name="Open my report", exact=True).click()
    expect_path(page, "/status/case")
    page.get_by_role("textbox", name="Your message", exact=True).fill(words)

    # She puts the phone down; half an hour later she presses Send.
    later = int(time.time()) + 31 * 60
    monkeypatch.setattr(security, "_now_ts", lambda: later)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check my report")
    expect(page.locator("#kept")).to_have_text(
        "What you wrote is not lost. Enter your receipt: it will be shown to you again, for you to check and send."
    )
    page.locator("details.kept-words summary").click()  # opens without JavaScript
    expect(page.get_by_role("textbox", name="What you wrote", exact=True)).to_have_value(words)
    expect_fits_phone(page)
    assert db.session.scalars(select(Message)).all() == []
    db.session.rollback()
    monkeypatch.undo()  # the clock as it is again: she signs in now

    page.get_by_role("textbox", name="Your receipt", exact=True).fill(receipt)
    page.get_by_role("button", name="Open my report", exact=True).click()
    expect(page.get_by_role("textbox", name="Your message", exact=True)).to_have_value(words)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Sent. A peer responder will see it.")
    expect(page.locator("#conversation .thread .message.from-reporter .body")).to_have_text(words)
    live_server.check()
