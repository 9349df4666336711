"""The know-your-rights library in two browsers: counsel drafts an article on a laptop, a
coordinator publishes it, and a therapist reads it on a phone with JavaScript off.

The acceptance case: the article's Markdown holds a <script> and a remote image, in HTML and
in Markdown, and neither reaches the reader: no script element, no image element, no request
to the image's host. The laptop (JavaScript on) records every console complaint, so an image
that had slipped into the page would show there as a Content Security Policy violation too.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.rights.models import ArticleVersion
from tests.e2e.conftest import Laptop, LiveServer
from tests.factories import Staff, make_staff

pytestmark = pytest.mark.e2e

REMOTE_HOST = "images.tracker.example"
HOSTILE_MARKDOWN = f"""## Your tips are yours

Nobody may keep the tips a client gives you.

<script>document.title = "taken"</script>

<img src="https://{REMOTE_HOST}/pixel.gif" alt="pixel">

![the spa's front desk](https://{REMOTE_HOST}/desk.jpg)

[Wage complaints](https://portal.ct.gov/dol) · [not a link](javascript:alert(1))
"""


def sign_in(page: Page, staff: Staff) -> None:
    """Through the real two-step form, as a person would."""
    page.context.clear_cookies()
    page.goto("/staff/login")
    page.get_by_role("textbox", name="Email", exact=True).fill(staff.user.email)
    page.get_by_role("textbox", name="Password", exact=True).fill(staff.password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("textbox", name="Code from your authenticator app", exact=True).fill(staff.code())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name=re.compile("^Sign out"))).to_be_visible()


def nothing_hostile(page: Page) -> None:
    """The article as shown: its words, none of the script or images typed into it."""
    article = page.locator("article.rights-article")
    expect(article.get_by_role("heading", level=1)).to_have_text("Your tips are yours")
    expect(article).to_contain_text("Nobody may keep the tips a client gives you.")
    assert page.locator("script").count() == 0
    assert page.locator("img").count() == 0
    assert page.locator("iframe, object, embed, [style], [onerror], [onclick]").count() == 0
    # What was typed as HTML is shown as plain text; the Markdown image as its description.
    expect(article).to_contain_text('<script>document.title = "taken"</script>')
    expect(article).to_contain_text("the spa's front desk")
    hrefs = article.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["https://portal.ct.gov/dol"]
    assert article.locator("a").first.get_attribute("rel") == "noopener noreferrer nofollow"


def test_counsel_drafts_a_coordinator_publishes_and_a_phone_reads_it_safely(
    page: Page, laptop: Laptop, live_server: LiveServer, app: Flask
) -> None:
    counsel, coordinator = make_staff("counsel", name="Dana Counsel"), make_staff("coordinator")
    staff = laptop.page
    requested: list[str] = []
    for context in (page.context, staff.context):
        context.on("request", lambda request: requested.append(request.url))

    # Counsel finds the library from her own pages and writes a draft.
    sign_in(staff, counsel)
    staff.get_by_role("link", name="Rights library").click()
    staff.get_by_role("textbox", name="Address").fill("your-tips")
    staff.get_by_role("checkbox", name=re.compile("^Exploitation or coercion")).check()
    staff.get_by_role("textbox", name="Title").fill("Your tips are yours")
    staff.get_by_role("textbox", name="Summary").fill("Nobody may keep them.")
    staff.get_by_role("textbox", name="Article").fill(HOSTILE_MARKDOWN)
    staff.get_by_role("button", name="Save as a draft").click()
    expect(staff.locator("#preview-state")).to_contain_text("draft")
    nothing_hostile(staff)  # the preview is what the public will read
    expect(staff.get_by_role("button", name="Publish this version")).to_have_count(0)

    # Not public yet.
    assert page.goto("/rights/your-tips").status == 404  # type: ignore[union-attr]

    # The coordinator publishes it.
    version_id = db.session.scalars(select(ArticleVersion.id)).one()
    sign_in(staff, coordinator)
    staff.goto(f"/staff/rights/versions/{version_id}")
    staff.get_by_role("button", name="Publish this version").click()
    expect(staff.get_by_role("status")).to_contain_text("Published")

    # A therapist on her phone, JavaScript off, finds it in the library and reads it.
    page.goto("/rights")
    page.get_by_role("link", name="Your tips are yours").click()
    expect(page).to_have_url(re.compile(r"/rights/your-tips$"))
    nothing_hostile(page)
    expect(page.locator("#not-advice")).to_contain_text("General information, not legal advice.")
    expect(page.locator("#byline")).to_contain_text("Written by a lawyer working with the program.")
    assert page.title() != "taken"

    assert not [url for url in requested if REMOTE_HOST in url], "a remote image was asked for"
    elsewhere = [url for url in requested if not url.startswith(live_server.url)]
    assert not elsewhere, f"the pages asked another site for something: {elsewhere}"
    laptop.check()
