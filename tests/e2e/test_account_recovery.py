"""A responder loses their phone: a coordinator resets their sign-in on a laptop, and the
responder enrols again on a new phone. The old phone's session and the old authenticator
no longer open anything. Then the coordinator deactivates and reactivates the account."""

from __future__ import annotations

import re

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from app.extensions import db
from app.staff.credentials import TOTP_STEP
from app.staff.models import StaffUser
from tests.e2e.conftest import Laptop, LiveServer, phone_context
from tests.e2e.test_staff_flow import expect_path, notice, on_live_server
from tests.factories import Staff, make_staff
from tests.totp import code_at, step_now
from tests.totp import unused_code as unused_code_after

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "lantern meadow copper violin"
WRONG_SIGN_IN = "Wrong email or password, or too many tries. Wait a few minutes if so."


def sign_in(page: Page, email: str, password: str, code: str) -> None:
    page.goto("/staff/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(email)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect_path(page, "/staff/login/code")
    page.get_by_role("textbox", name="Code from your authenticator app", exact=True).fill(code)
    page.get_by_role("button", name="Sign in", exact=True).click()


def staff_code(staff: Staff) -> str:
    db.session.rollback()
    return staff.code()


def unused_code(secret: str, staff_id: str) -> str:
    """A code of ``secret`` the account has not used yet (tests/totp.py)."""
    db.session.rollback()
    user = db.session.get(StaffUser, staff_id)
    assert user is not None
    return unused_code_after(secret, user.totp_last_step)


def test_a_responder_who_lost_their_phone_is_reset_and_enrols_again(
    page: Page, laptop: Laptop, browser: Browser, live_server: LiveServer, app: Flask
) -> None:
    coordinator = make_staff("coordinator", name="Cora Lead")
    responder = make_staff("responder", name="Rae Responder", email="rae@example.org")
    old_phone, staff = page, laptop.page

    # The responder is signed in on the phone they are about to lose.
    sign_in(old_phone, "rae@example.org", responder.password, staff_code(responder))
    expect_path(old_phone, "/cases")

    # The coordinator resets the sign-in from the person's page.
    sign_in(staff, coordinator.user.email, coordinator.password, staff_code(coordinator))
    expect_path(staff, "/cases")
    staff.get_by_role("navigation", name="Staff").get_by_role("link", name="People", exact=True).click()
    staff.get_by_role("link", name="Rae Responder", exact=True).click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Rae Responder")
    staff.get_by_role("button", name="Reset sign-in (lost phone or password)", exact=True).click()
    expect(notice(staff).first).to_contain_text("The sign-in of Rae Responder is reset")
    link = on_live_server(staff.locator("#invite-url").inner_text().strip(), live_server)
    expect(staff.locator("#account-state")).to_have_text("waiting to set up their sign-in")

    # The lost phone's session is over, and the old password and authenticator open nothing.
    old_phone.goto("/cases")
    expect_path(old_phone, "/staff/login")
    old_phone.get_by_role("textbox", name="Email", exact=True).fill("rae@example.org")
    old_phone.get_by_role("textbox", name="Password", exact=True).fill(responder.password)
    old_phone.get_by_role("button", name="Continue", exact=True).click()
    expect(old_phone.get_by_text(WRONG_SIGN_IN)).to_be_visible()

    # On a new phone, the link sets up a new password and authenticator, and they sign in.
    new_phone = phone_context(browser, live_server).new_page()
    try:
        new_phone.goto(link)
        new_phone.get_by_role("button", name="Show my key").click()
        secret = new_phone.locator("#totp-secret").inner_text().strip()
        assert secret != responder.secret
        totp, step = pyotp.TOTP(secret), step_now()
        new_phone.get_by_role("textbox", name="Choose a password", exact=True).fill(NEW_PASSWORD)
        new_phone.get_by_role("textbox", name="The same password again", exact=True).fill(NEW_PASSWORD)
        new_phone.get_by_role("textbox", name="The six-digit code your app shows now", exact=True).fill(
            totp.at(step * TOTP_STEP)
        )
        new_phone.get_by_role("button", name="Finish setting up", exact=True).click()
        expect(new_phone.get_by_role("heading", level=1)).to_have_text("You are set up")
        sign_in(new_phone, "rae@example.org", NEW_PASSWORD, totp.at((step + 1) * TOTP_STEP))
        expect_path(new_phone, "/cases")

        # The old authenticator's codes do not work with the new password either.
        old_phone.goto("/staff/login")
        old_phone.get_by_role("textbox", name="Email", exact=True).fill("rae@example.org")
        old_phone.get_by_role("textbox", name="Password", exact=True).fill(NEW_PASSWORD)
        old_phone.get_by_role("button", name="Continue", exact=True).click()
        expect_path(old_phone, "/staff/login/code")
        old_phone.get_by_role("textbox", name="Code from your authenticator app", exact=True).fill(
            code_at(responder.secret, step_now())
        )
        old_phone.get_by_role("button", name="Sign in", exact=True).click()
        expect(old_phone.get_by_text("That code did not work. Enter the newest code from your app.")).to_be_visible()

        # Deactivated: the new phone's session ends too. Reactivated: they sign in again.
        staff.goto(f"/staff/people/{responder.id}")
        staff.get_by_role("button", name="Deactivate", exact=True).click()
        expect(notice(staff).first).to_have_text("Rae Responder is deactivated and signed out everywhere.")
        new_phone.goto("/cases")
        expect_path(new_phone, "/staff/login")
        staff.get_by_role("link", name="Rae Responder", exact=True).click()
        expect(staff.locator("#account-state")).to_have_text("deactivated")
        staff.get_by_role("button", name="Reactivate", exact=True).click()
        expect(notice(staff).first).to_contain_text("Rae Responder is active again")
        expect(staff.locator("#account-state")).to_have_text("active")
        new_phone.goto("/cases")
        expect_path(new_phone, "/staff/login")  # the session from before stays over
        sign_in(new_phone, "rae@example.org", NEW_PASSWORD, unused_code(secret, responder.id))
        expect_path(new_phone, "/cases")
    finally:
        new_phone.context.close()

    db.session.rollback()
    user = db.session.get(StaffUser, responder.id)
    assert user is not None and user.active and user.enrolled
    assert re.fullmatch(r"[A-Z2-7]+", secret)
    laptop.check()
    live_server.check()
