"""A peer circle, from a coordinator's laptop to a therapist's phone with JavaScript off: it is
published, listed, added to a calendar (the .ics downloaded parses with icalendar and holds no
link), and its link is shown only after she asks for it; her facilitator then sees the name she
chose."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from icalendar import Calendar
from playwright.sync_api import Page, expect

from tests.conftest import BrowserLikeClient
from tests.e2e.conftest import Laptop, LiveServer
from tests.factories import Staff, make_staff, sign_in

pytestmark = pytest.mark.e2e

LINK = "https://meet.example.org/harbor-7781"
CODE_SHAPE = re.compile(r"^\d{4}(-\d{4}){4}$")


def _sign_in_laptop(laptop: Laptop, app: Flask, live_server: LiveServer, who: Staff) -> None:
    """The laptop takes over a session signed in through the real two-step form."""
    app.test_client_class = BrowserLikeClient
    client = app.test_client()
    assert sign_in(client, who).status_code == 303
    cookie = client.get_cookie("confide")
    assert cookie is not None
    laptop.page.context.add_cookies([{"name": "confide", "value": cookie.value, "url": live_server.url}])


def test_a_circle_is_published_listed_added_to_a_calendar_and_its_link_shown_only_on_request(
    page: Page, laptop: Laptop, live_server: LiveServer, app: Flask, tmp_path: Path
) -> None:
    coordinator = make_staff("coordinator", name="Casey Coordinator")
    _sign_in_laptop(laptop, app, live_server, coordinator)
    staff = laptop.page
    starts = (datetime.now(UTC) + timedelta(days=3)).astimezone(ZoneInfo("America/New_York"))

    # 1. The coordinator publishes a circle, online, that she facilitates.
    staff.goto("/staff/circles")
    staff.get_by_role("link", name="Publish a circle", exact=True).click()
    staff.get_by_role("textbox", name="Title", exact=True).fill("Harbor evening circle")
    staff.get_by_role("radio", name="Online", exact=True).check()
    staff.get_by_role("textbox", name="Link to the online meeting", exact=True).fill(LINK)
    staff.get_by_label("Date", exact=True).fill(starts.date().isoformat())
    staff.get_by_label("Start time", exact=True).fill("19:00")
    staff.get_by_role("button", name="Publish", exact=True).click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Harbor evening circle")
    expect(staff.locator("#circle-names-none")).to_have_text("Nobody has asked yet.")

    # 2. A therapist finds it from the home page, on a phone with JavaScript off.
    page.goto("/")
    page.get_by_role("link", name="Peer circles: meet other therapists, online or in person", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Peer circles")
    assert LINK not in page.content()
    page.get_by_role("link", name="Harbor evening circle", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbor evening circle")
    expect(page.locator("#ground-rules li").first).to_contain_text("stays in the circle")
    assert LINK not in page.content() and "meet.example.org" not in page.content()

    # 3. Add to my calendar: a file her calendar reads, with the time and no link.
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to my calendar", exact=True).click()
    saved = tmp_path / "circle.ics"
    download.value.save_as(saved)
    [event] = Calendar.from_ical(saved.read_bytes()).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Harbor evening circle"
    assert event.decoded("DTSTART") == starts.replace(hour=19, minute=0, second=0, microsecond=0)
    assert LINK not in saved.read_text(encoding="utf-8") and "LOCATION" not in event

    # 4. She asks: a name she chooses, nothing else; the link is shown now, with her code.
    page.get_by_role("link", name="Ask for the link or place", exact=True).click()
    assert LINK not in page.content()
    page.get_by_role("textbox", name="A first name or a pseudonym", exact=True).fill("Marisol")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You have a place")
    expect(page.get_by_role("link", name="Join the meeting", exact=True)).to_have_attribute("href", LINK)
    code = page.locator("#circle-code").inner_text().strip()
    assert CODE_SHAPE.match(code), code

    # 5. Coming back with the code shows it again; the list still does not.
    page.goto("/circles/code")
    page.get_by_role("textbox", name="Your code", exact=True).fill(code)
    page.get_by_role("button", name="Show my request", exact=True).click()
    expect(page.get_by_role("link", name="Join the meeting", exact=True)).to_have_attribute("href", LINK)
    page.goto("/circles")
    assert LINK not in page.content()

    # 6. Her facilitator sees the name she chose, and the count.
    staff.reload()
    expect(staff.locator("#circle-names")).to_have_text("Marisol")
    expect(staff.locator("#circle-count")).to_have_text("1 of 12 taken; 0 waiting")
    laptop.check()
