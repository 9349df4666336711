"""A coordinator reads the program's figures in a browser with JavaScript off: the charts are
drawn, the CSP lets them be and nothing else, and a small count reads "fewer than 5"."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.e2e.conftest import LAPTOP, TIMEOUT_MS, LiveServer
from tests.e2e.test_accessibility import _signed_in
from tests.factories import make_case, make_staff

SCREENSHOTS = Path(__file__).resolve().parents[2] / "instance" / "screenshots"


def test_the_figures_page_draws_its_charts_without_javascript(
    browser: Browser, live_server: LiveServer, app: Flask
) -> None:
    coordinator = make_staff("coordinator")
    for county, count in (("hartford", 3), ("new_haven", 8), ("fairfield", 6)):
        for _ in range(count):
            make_case(county=county, setting="clinic", perpetrator="client", when="week")
    context = browser.new_context(java_script_enabled=False, viewport=LAPTOP, locale="en-US", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    complaints: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") and not message.location.get("url", "").endswith("/favicon.ico"):
            complaints.append(message.text)

    context.on("console", console)
    try:
        _signed_in(context, app, live_server, coordinator)
        page = context.new_page()
        answer = page.goto("/insights")
        assert answer is not None and answer.status == 200
        charts = page.locator("figure.chart img")
        assert charts.count() == 8
        for n in range(charts.count()):
            chart = charts.nth(n)
            expect(chart).to_be_visible()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 150  # drawn, not a broken icon
        county = page.locator("#table-county tr", has_text="Hartford")
        expect(county.locator("td.suppressed").first).to_have_text("fewer than 5")
        expect(page.locator("#table-county tr", has_text="New Haven").locator("td").nth(-4)).to_have_text("8")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "insights-top.png"))
        shot = page.screenshot(path=str(SCREENSHOTS / "insights.png"), full_page=True)
        assert len(shot) > 50_000  # charts and tables, not an empty page
        assert not complaints, complaints  # no CSP refusal, no failed image
    finally:
        context.close()
