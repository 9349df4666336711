"""Every page passes axe (WCAG 2.1 AA and axe's best practices, every rule, any impact), in
every configured language, on a phone's width.

axe-core (bundled by axe-playwright-python) runs inside Debian's chromium; JavaScript is on in
these contexts for axe alone, the pages themselves have none. Each language walks the same
pages: the reporter's, through the language menu as she would choose it, and the staff's
(English only, whatever the browser asks for). A route added to the app without a page here
fails the coverage test at the end, so no page is left out unseen.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from app.casework import services as cases
from app.extensions import db
from app.rights import library as rights_library
from app.rights.seed import seed as seed_rights
from tests.circles.factories import ask, make_circle
from tests.conftest import BrowserLikeClient
from tests.e2e.conftest import PHONE, LiveServer, phone_context
from tests.factories import make_case, make_counsel, make_referral, make_staff, make_support_request, sign_in

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))["languages"]

# GET endpoints that answer with no page of their own: a redirect, a download, a file.
NOT_PAGES = {
    "static",
    "set_language",  # redirects back where it was asked from
    "intake.quick_exit",  # redirects to the weather site
    "intake.licensing_letter",  # a PDF
    "referrals.packet",  # an encrypted download
    "cases.export",  # a CSV download
    "insights.figures_csv",  # a CSV download
    "insights.summary_pdf",  # a PDF
    "circles.calendar",  # an .ics file for her calendar
    "health.healthz",  # plain text for a supervisor
    "health.readyz",  # JSON for a load balancer
    "health.metrics",  # Prometheus's text format
}


def _axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def _violations(page: Page) -> list[str]:
    """axe's findings on the page as it stands, one line per rule and element."""
    results = _axe().run(page, options={"resultTypes": ["violations"]})
    found = []
    for violation in results.response["violations"]:
        for node in violation["nodes"]:
            found.append(f"{violation['id']} ({violation['impact']}): {node['target']} {node['failureSummary'][:160]}")
    return found


def _scrolls_sideways(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"))


def _skip_link_leads_to_main(page: Page) -> bool:
    """The first Tab lands on a link to <main>, shown on screen while it has the focus."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    return bool(
        page.evaluate("""() => {
        const link = document.activeElement;
        const main = document.querySelector("main");
        if (!link || link.tagName !== "A" || !main || link.getAttribute("href") !== "#" + main.id) return false;
        const box = link.getBoundingClientRect();
        return box.right > 0 && box.left < window.innerWidth && link.innerText.trim().length > 0;
    }""")
    )


class Walk:
    """Visits pages, runs axe on each, and notes which endpoint each page belongs to."""

    def __init__(self, app: Flask, live_server: LiveServer, language: str) -> None:
        self.adapter = app.url_map.bind("localhost")
        self.live_server, self.language = live_server, language
        self.problems: dict[str, list[str]] = {}
        self.seen: set[str] = set()

    def endpoint(self, url: str) -> str:
        path = url.removeprefix(self.live_server.url).split("?")[0]
        try:
            endpoint, _ = self.adapter.match(path, method="GET")
        except (NotFound, MethodNotAllowed, RequestRedirect):
            return f"(no route: {path})"
        return str(endpoint)

    def check(self, page: Page, name: str, *, status: int = 200, lang: str | None = None) -> None:
        """The page as it stands: its status, its language, axe, and no sideways scrolling."""
        self.seen.add(self.endpoint(page.url))
        where = f"{name} [{self.language}] {page.url.removeprefix(self.live_server.url)}"
        problems = _violations(page)
        shown_lang = page.evaluate("document.documentElement.lang")
        if shown_lang != (lang or self.language):
            problems.append(f"<html lang> is {shown_lang!r}, not {lang or self.language!r}")
        if _scrolls_sideways(page):
            problems.append(f"scrolls sideways at {PHONE['width']} px")
        if not _skip_link_leads_to_main(page):
            problems.append("the first thing a keyboard reaches is not a link to the main content")
        if problems:
            self.problems[where] = problems
        self.last_status = status

    def go(self, page: Page, path: str, name: str, *, status: int = 200, lang: str | None = None) -> None:
        response = page.goto(path)
        assert response is not None and response.status == status, f"{path}: HTTP {response and response.status}"
        self.check(page, name, status=status, lang=lang)


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = phone_context(browser, live_server, javascript=True)  # for axe only
    try:
        yield context.new_page()
    finally:
        context.close()


def _send_form(page: Page) -> None:
    """Press the form's main button (the first submit button of the main form)."""
    page.locator("main form button[type=submit]:not([name])").first.click()


def _reporter_pages(page: Page, walk: Walk, app: Flask) -> None:
    seed_rights()  # the library Confide ships: English and Spanish, linked after some reports
    walk.go(page, f"/language/{walk.language}?next=/", "home (chosen from the menu)")
    walk.go(page, "/report", "report form")

    _send_form(page)  # nothing filled in: every error shown at once
    walk.check(page, "report form with errors", status=400)

    page.locator("input[name=category]").first.check()
    page.locator("textarea[name=narrative]").fill("He waits outside the spa every night. 他在门外。")
    page.locator("input[name=danger_now][value=yes]").check()
    _send_form(page)
    page.wait_for_selector("#receipt")
    walk.check(page, "confirmation, in danger")
    receipt = page.locator("#receipt").inner_text().strip()

    walk.go(page, "/resources", "help, any time")
    # The library: in her language, or in English and labelled so.
    walk.go(page, "/rights", "know your rights")
    walk.go(page, "/rights/wages-debts-and-documents", "an article")
    walk.go(page, "/status", "receipt form")
    page.locator("input[name=receipt]").fill("1234")
    _send_form(page)
    walk.check(page, "receipt form with an error", status=400)

    # A case with a reply from its responder, to see the conversation as she does.
    responder = make_staff("responder", pseudonym="Willow")
    case = make_case(
        category="exploitation", narrative="A client kept touching me.", assigned_to=responder, wants=("licensing",)
    )
    cases.message_reporter(responder.user, case, "We read your report. Are you safe tonight?")
    db.session.commit()
    own_receipt = case.receipt  # type: ignore[attr-defined]
    assert receipt
    walk.go(page, "/status", "receipt form, again")
    page.locator("input[name=receipt]").fill(own_receipt)
    _send_form(page)
    page.wait_for_selector("#conversation")
    page.wait_for_selector("#rights")  # with the articles that match it
    walk.check(page, "my report, with a reply")

    # A support request: its form (with an error), its receipt, its page, and the report it becomes.
    walk.go(page, "/talk", "support request form")
    page.locator("textarea[name=narrative]").fill("Long shifts, and I feel alone. 我很累。")
    page.locator("input[name=identity][value=named]").check()
    _send_form(page)  # to be contacted, but no name
    walk.check(page, "support request form with an error", status=400)
    page.locator("input[name=identity][value=anonymous]").check()
    _send_form(page)
    page.wait_for_selector("#receipt")
    walk.check(page, "support request received")
    support_receipt = page.locator("#receipt").inner_text().strip()
    page.goto("/status/case")  # still signed in to the report: signed out first, as she would
    page.locator("form[action='/status/logout'] button").click()
    page.locator("input[name=receipt]").fill(support_receipt)
    _send_form(page)
    page.wait_for_selector("#make-report")
    walk.check(page, "my request")
    walk.go(page, "/status/report", "turning the request into a report")
    # Deleting it: the page that says what goes, its error, and the kind goodbye.
    walk.go(page, "/status/delete", "deleting my request")
    page.locator("form[action='/status/delete'] button").click()
    walk.check(page, "deleting my request, not confirmed", status=400)
    page.locator("input[name=understood]").check()
    page.locator("form[action='/status/delete'] button").click()
    page.wait_for_selector("#deleted")
    walk.check(page, "my request, deleted")

    _circle_pages(page, walk)

    walk.go(page, "/no-such-page", "page not found", status=404)


def _circle_pages(page: Page, walk: Walk) -> None:
    """Peer circles as a therapist finds them: the list, a circle, asking, her code."""
    circle = make_circle(title="Harbor evening circle", capacity=1)
    walk.go(page, "/circles", "peer circles")
    walk.go(page, f"/circles/{circle.id}", "a peer circle")
    walk.go(page, f"/circles/{circle.id}/ask", "asking for the link")
    _send_form(page)  # no name: the error shown
    walk.check(page, "asking for the link, with an error", status=400)
    page.locator("input[name=name]").fill("Marisol")
    _send_form(page)
    page.wait_for_selector("#circle-code")
    walk.check(page, "the link, shown after asking")
    code = page.locator("#circle-code").inner_text().strip()
    walk.go(page, "/circles/code", "entering a code")
    page.locator("input[name=code]").fill("1234")
    _send_form(page)
    walk.check(page, "entering a code, with an error", status=400)
    walk.go(page, f"/circles/{circle.id}/ask", "asking for a full circle")
    page.locator("input[name=name]").fill("Lupe")
    _send_form(page)
    page.wait_for_selector("#circle-code")
    walk.check(page, "a place in the queue")
    walk.go(page, "/circles/code", "entering a code, again")
    page.locator("input[name=code]").fill(code)
    _send_form(page)
    page.wait_for_selector("#circle-code")
    walk.check(page, "the request, shown again with its code")


def _signed_in(context: BrowserContext, app: Flask, live_server: LiveServer, who: Any) -> None:
    """The browser takes over a session signed in through the real two-step form."""
    app.test_client_class = BrowserLikeClient
    client = app.test_client()
    signed = sign_in(client, who)
    assert signed.status_code == 303, signed.get_data(as_text=True)[-3000:]
    cookie = client.get_cookie("confide")
    assert cookie is not None
    context.clear_cookies()
    context.add_cookies([{"name": "confide", "value": cookie.value, "url": live_server.url}])


def _staff_pages(page: Page, walk: Walk, app: Flask, live_server: LiveServer) -> None:
    context = page.context
    context.clear_cookies()
    walk.go(page, "/staff/login", "staff sign-in", lang="en")
    coordinator = make_staff("coordinator", name="Casey Coordinator")
    responder = make_staff("responder", name="Riley Responder", pseudonym="Alder", languages=("en", "es"))
    counsel = make_counsel(name="Dana Counsel")
    case = make_case(narrative="My manager keeps my passport.", assigned_to=responder, language="es")
    referral = make_referral(case, counsel, coordinator)
    invite = app.test_cli_runner().invoke(args=["staff", "invite", "--role", "responder", "--email", "new@example.org"])
    assert invite.exit_code == 0, invite.output
    enrol_path = "/staff/enrol/" + invite.output.strip().splitlines()[-1].rsplit("/", 1)[1]
    request = make_support_request(narrative="Quisiera hablar con alguien.", assigned_to=responder, language="es")
    case_id, referral_id, person_id, request_id = case.id, referral.id, responder.id, request.id
    article = rights_library.find_by_slug("after-a-sexual-assault")
    assert article is not None
    spanish = next(version for version in article.versions if version.language == "es")
    circle_id = make_circle(by=coordinator, title="Harbor evening circle").id
    ask(app.test_client(), circle_id, name="Marisol")

    # Signing in: the password, then the code page.
    page.locator("input[name=email]").fill(coordinator.user.email)
    page.locator("input[name=password]").fill(coordinator.password)
    _send_form(page)
    page.wait_for_selector("input[name=code]")
    walk.check(page, "staff sign-in, code", lang="en")
    context.clear_cookies()
    walk.go(page, enrol_path, "enrolment", lang="en")

    _signed_in(context, app, live_server, coordinator)
    for path, name in (
        ("/cases", "queue"),
        (f"/cases/{case_id}", "case"),
        (f"/cases/{case_id}?reassign=1", "case, with its reassign list"),
        (f"/cases/{request_id}", "case, a support request"),
        ("/staff/people", "people"),
        (f"/staff/people/{person_id}", "person"),
        ("/staff/counsel", "counsel directory"),
        ("/staff/profile", "profile"),
        ("/staff/profile/paging", "paging"),
        ("/staff/profile/password", "change password"),
        ("/staff/reauth", "confirm it's you"),
        ("/staff/audit", "audit log"),
        ("/insights", "program figures"),
        ("/staff/load", "your load"),
        ("/staff/people/load", "load across the team"),
        ("/staff/rights", "rights library"),
        (f"/staff/rights/{article.id}", "a library article, every version"),
        (f"/staff/rights/versions/{spanish.id}", "a version's preview (in Spanish)"),
        ("/staff/circles", "peer circles, for staff"),
        ("/staff/circles/new", "publishing a circle"),
        (f"/staff/circles/{circle_id}", "a circle, with the names people chose"),
        (f"/staff/circles/{circle_id}/edit", "editing a circle"),
    ):
        walk.go(page, path, name, lang="en")
    walk.go(page, "/cases", "queue, to search from", lang="en")
    page.locator("input[name='search-q']").fill("#0000")
    page.locator("form.search button[type=submit]").click()
    page.wait_for_selector("h1")
    walk.check(page, "search with no match", lang="en")
    walk.go(page, "/staff/no-such-page", "staff page not found", status=404, lang="en")
    walk.go(page, "/staff/profile/device", "new authenticator app", lang="en")
    page.locator("input[name=password]").fill(coordinator.password)
    page.locator("input[name=code]").fill(coordinator.code())
    _send_form(page)
    page.wait_for_selector("#totp-secret")
    walk.check(page, "new authenticator app, its key", lang="en")

    _signed_in(context, app, live_server, counsel.staff)
    walk.go(page, "/counsel", "counsel referrals", lang="en")
    walk.go(page, "/staff/rights", "rights library, for counsel", lang="en")
    walk.go(page, f"/counsel/referrals/{referral_id}", "a referral, for counsel", lang="en")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_passes_axe(phone: Page, live_server: LiveServer, app: Flask, language: str) -> None:
    walk = Walk(app, live_server, language)
    _reporter_pages(phone, walk, app)
    _staff_pages(phone, walk, app, live_server)

    report = "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in walk.problems.items())
    assert not walk.problems, f"accessibility problems:\n{report}"

    # Every page of the app was seen (a new route needs a line above).
    pages = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())}
    unseen = sorted(pages - NOT_PAGES - walk.seen)
    assert not unseen, f"pages axe never saw: {unseen}"
