"""A responder late at night, on a phone with no JavaScript: "I need a break" until tomorrow
morning, in one form; then back on duty by hand."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page

from app.extensions import db
from app.models import utcnow
from app.staff.breaks import next_morning
from app.staff.models import StaffUser
from tests.e2e.conftest import LiveServer, phone_context
from tests.e2e.test_accessibility import _signed_in
from tests.factories import make_staff

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = phone_context(browser, live_server)
    try:
        yield context.new_page()
    finally:
        context.close()


def on_duty(staff_id: str) -> tuple[bool, object]:
    db.session.expire_all()
    person = db.session.get(StaffUser, staff_id)
    assert person is not None
    return person.on_duty, person.break_until


def test_a_break_until_tomorrow_morning_from_a_phone(phone: Page, live_server: LiveServer, app: Flask) -> None:
    dana = make_staff("responder", name="Dana")
    _signed_in(phone.context, app, live_server, dana)
    phone.goto("/cases")
    phone.get_by_role("link", name="Your load").click()
    assert phone.locator("#duty-state").inner_text().startswith("You are on duty")

    zone = ZoneInfo(app.config["CONFIDE"].display_timezone)
    morning = next_morning(utcnow(), zone)
    phone.get_by_label("Until 9 am").check()
    phone.get_by_role("button", name="Take the break").click()
    assert f"You are on a break until {morning:%Y-%m-%d} 09:00" in phone.locator(".notice").first.inner_text()
    assert on_duty(dana.id) == (False, morning)
    assert phone.get_by_role("link", name="On a break").is_visible()

    phone.get_by_role("button", name="I'm back: put me on duty").click()
    assert "You are on duty again" in phone.locator(".notice").first.inner_text()
    assert on_duty(dana.id) == (True, None)
