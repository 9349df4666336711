"""A responder, from invitation to a conversation with a reporter, in two browsers at once.

The reporter is on a phone with JavaScript off (``page``); the responder is on a laptop
with JavaScript on (``laptop``), and nothing there may log an error, break the Content
Security Policy or fail to load. Staff pages are English only, so texts are written here.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from app.cases.models import Case
from app.casework import services as cases
from app.extensions import db
from app.staff.credentials import TOTP_STEP
from app.staff.models import StaffUser
from app.vocabulary import CATEGORIES, WANTS
from tests.e2e.conftest import Laptop, LiveServer
from tests.factories import make_staff
from tests.totp import step_now

pytestmark = pytest.mark.e2e

CATEGORY = "sexual_harassment"
RECEIPT_SHAPE = re.compile(r"^\d{4}(-\d{4}){4}$")
RECOVERY_CODE_SHAPE = re.compile(r"^[0-9A-Za-z]{5}-[0-9A-Za-z]{5}$")
PASSWORD = "copper walrus tundra ballad"
SCREENSHOTS = {
    "case": "/tmp/confide-e2e-case.png",
    "queue": "/tmp/confide-e2e-queue.png",
}


def expect_path(page: Page, path: str) -> None:
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+{re.escape(path)}([?#].*)?$"))


def on_live_server(url: str, live_server: LiveServer) -> str:
    """The same URL with the live server's origin instead of the configured public_url."""
    live = urlsplit(live_server.url)
    return urlunsplit(urlsplit(url)._replace(scheme=live.scheme, netloc=live.netloc))


def english(app: Flask, label: object) -> str:
    """A vocabulary label as an English page shows it (lazy labels need a request)."""
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "en"}):
        return str(label)


def notice(page: Page) -> Locator:
    return page.get_by_role("status")


def file_report(page: Page, app: Flask, narrative: str) -> str:
    """A reporter on a phone files an anonymous report; returns the receipt."""
    page.goto("/report")
    page.locator("fieldset#category").get_by_role("radio", name=english(app, CATEGORIES[CATEGORY]), exact=True).check()
    page.get_by_role("textbox", name="What happened, in your own words", exact=True).fill(narrative)
    page.locator("fieldset#wants").get_by_role("checkbox", name=english(app, WANTS["peer"]), exact=True).check()
    page.get_by_role("button", name="Send my report", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your report was received")
    receipt = page.locator("#receipt").inner_text().strip()
    assert RECEIPT_SHAPE.match(receipt), receipt
    return receipt


def open_status(page: Page, receipt: str) -> None:
    page.goto("/status")
    page.get_by_role("textbox", name="Your receipt", exact=True).fill(receipt)
    page.get_by_role("button", name="Open my report", exact=True).click()
    expect_path(page, "/status/case")
    expect(page.get_by_role("heading", level=1)).to_have_text("My report")


def test_responder_enrols_signs_in_and_talks_with_the_reporter(
    page: Page, laptop: Laptop, live_server: LiveServer, app: Flask
) -> None:
    marker = f"e2e-{uuid.uuid4().hex[:12]}"
    narrative = f"He kept commenting on my body. «{marker}» ñ & <b>"
    to_reporter = f"Thank you for telling us. Are you safe tonight? {marker}-out"
    from_reporter = f"Yes, I am safe at home. {marker}-in"
    email = f"responder-{marker}@example.org"
    pseudonym = f"Wren {marker[-4:]}"
    staff = laptop.page

    # 1. A reporter files a report and keeps the receipt.
    receipt = file_report(page, app, narrative)
    case = db.session.scalars(select(Case)).one()
    case_id = case.id

    # 2. A coordinator invites a responder from the shell; the link is the last line.
    result = app.test_cli_runner().invoke(args=["staff", "invite", "--role", "responder", "--email", email])
    assert result.exit_code == 0, result.output
    enrol_url = on_live_server(result.output.strip().splitlines()[-1], live_server)
    assert urlsplit(enrol_url).path.startswith("/staff/enrol/"), result.output

    # 3. The responder enrols: key from the page into the "authenticator", password, code.
    staff.goto(enrol_url)
    expect(staff.get_by_role("heading", level=1)).to_have_text("Set up your account")
    staff.get_by_role("button", name="Show my key").click()
    secret = staff.locator("#totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    step = step_now()
    staff.get_by_role("textbox", name="Choose a password", exact=True).fill(PASSWORD)
    staff.get_by_role("textbox", name="The same password again", exact=True).fill(PASSWORD)
    staff.get_by_role("textbox", name="The six-digit code your app shows now", exact=True).fill(
        totp.at(step * TOTP_STEP)
    )
    staff.get_by_role("button", name="Finish setting up", exact=True).click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("You are set up")
    codes = staff.locator("#recovery-codes li").all_inner_texts()
    assert codes and all(RECOVERY_CODE_SHAPE.match(code.strip()) for code in codes), codes
    assert len(set(codes)) == len(codes), codes

    # 4. Routing is a later issue: a coordinator assigns the case through the real service
    #    (app.casework.services.assign, audited), as they would with the Reassign form.
    db.session.rollback()
    responder = db.session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
    assert responder.enrolled and responder.role == "responder"
    coordinator = make_staff("coordinator")
    routed = db.session.get(Case, case_id)
    assert routed is not None
    cases.assign(coordinator.user, routed, responder.id)
    db.session.rollback()

    # 5. Sign in: password, then a code from the next time step (the enrolment code is spent;
    #    one step of drift is accepted, so nobody waits for the phone to show a new one).
    staff.get_by_role("link", name="Sign in", exact=True).click()
    expect_path(staff, "/staff/login")
    staff.get_by_role("textbox", name="Email", exact=True).fill(email)
    staff.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    staff.get_by_role("button", name="Continue", exact=True).click()
    expect_path(staff, "/staff/login/code")
    staff.get_by_role("textbox", name="Code from your authenticator app", exact=True).fill(
        totp.at((step + 1) * TOTP_STEP)
    )
    staff.get_by_role("button", name="Sign in", exact=True).click()
    expect_path(staff, "/cases")

    # A pseudonym first, as a responder would before writing to anyone.
    staff_nav = staff.get_by_role("navigation", name="Staff")
    staff_nav.get_by_role("link", name="Profile", exact=True).click()
    expect_path(staff, "/staff/profile")
    staff.get_by_role("textbox", name="Pseudonym reporters see", exact=True).fill(pseudonym)
    staff.get_by_role("checkbox", name="On duty: new cases may be routed to me", exact=True).check()
    staff.get_by_role("button", name="Save", exact=True).click()
    expect(notice(staff)).to_have_text("Profile saved.")

    # 6. The queue shows the case; it opens; the narrative is there, escaped, whole.
    staff_nav.get_by_role("link", name="Queue", exact=True).click()
    expect_path(staff, "/cases")
    expect(staff.get_by_role("heading", level=1)).to_have_text("My cases")
    rows = staff.locator("#queue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(f"#{case_id[:8]}")
    expect(rows).to_contain_text(pseudonym)
    expect(rows.locator("time.countdown")).to_have_text(re.compile(r"^\d+ (d \d+ h|h \d\d min|min) left$"))
    staff.screenshot(path=SCREENSHOTS["queue"], full_page=True)
    rows.get_by_role("link", name=english(app, CATEGORIES[CATEGORY]), exact=True).click()
    expect_path(staff, f"/cases/{case_id}")
    expect(staff.locator("#narrative")).to_have_text(narrative)

    conversation = staff.locator("#conversation")
    reply_box = conversation.get_by_role("textbox", name="Message to the reporter", exact=True)
    reply_box.fill(to_reporter)
    conversation.get_by_role("button", name="Send to the reporter", exact=True).click()
    expect_path(staff, f"/cases/{case_id}")
    expect(notice(staff)).to_have_text("Sent. The reporter will see it when they check with their receipt.")
    sent = conversation.locator(".thread .message.from-staff")
    expect(sent).to_have_count(1)
    expect(sent.locator(".body")).to_have_text(to_reporter)
    expect(sent.locator(".meta")).to_contain_text(pseudonym)

    # 7. The reporter checks in, reads it under the pseudonym (never the email), and answers.
    open_status(page, receipt)
    thread = page.locator("#conversation .thread")
    received = thread.locator(".message.from-staff")
    expect(received).to_have_count(1)
    expect(received.locator(".body")).to_have_text(to_reporter)
    expect(received.locator(".meta")).to_contain_text(f"Peer responder ({pseudonym})")
    expect(page.get_by_text(email)).to_have_count(0)
    page.get_by_role("textbox", name="Your message", exact=True).fill(from_reporter)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(notice(page)).to_have_text("Sent. A peer responder will see it.")
    expect(thread.locator(".message.from-reporter .body")).to_have_text(from_reporter)

    # 8. The responder reloads the case and sees the answer after their own message.
    staff.reload()
    messages = conversation.locator(".thread .message")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_have_class(re.compile(r"\bfrom-staff\b"))
    expect(messages.nth(1)).to_have_class(re.compile(r"\bfrom-reporter\b"))
    expect(messages.nth(1).locator(".body")).to_have_text(from_reporter)
    expect(messages.nth(1).locator(".meta")).to_contain_text("Reporter")
    staff.screenshot(path=SCREENSHOTS["case"], full_page=True)

    # The countdown script loaded from /static under the CSP, and nothing complained.
    loaded = staff.evaluate("performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)")
    assert "/static/countdown.js" in loaded, loaded
    laptop.check()
    live_server.check()
    db.session.rollback()
    handled = db.session.get(Case, case_id)
    assert handled is not None and handled.assigned_to_id == responder.id
    assert handled.acknowledged_at is not None, "a message to the reporter acknowledges it"
