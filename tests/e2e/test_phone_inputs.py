"""On a phone, every box a person types into is easy to hit and read: the width of its column,
at least 44 px tall (a fingertip), and text of at least 16 px (below that, phones zoom in)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import PHONE, LiveServer, phone_context
from tests.e2e.test_accessibility import _signed_in
from tests.factories import make_case, make_staff

pytestmark = pytest.mark.e2e

TEXT_LIKE = (
    "input:not([type]), input[type=text], input[type=email], input[type=tel], input[type=password], "
    "input[type=number], input[type=date], input[type=datetime-local], input[type=search], input[type=url], textarea"
)
FINGER_PX = 44
SMALLEST_TEXT_PX = 16
# Most of a 390 px phone's width: a box may share its row with its button (Find, Filter).
WIDE_ENOUGH_PX = 0.6 * PHONE["width"]


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = phone_context(browser, live_server)
    try:
        yield context.new_page()
    finally:
        context.close()


def measured(page: Page) -> list[dict[str, object]]:
    return list(
        page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)]
            .filter((box) => box.offsetParent !== null)
            .map((box) => {
                const r = box.getBoundingClientRect();
                return {name: box.name, type: box.type, width: r.width, height: r.height,
                        font: parseFloat(getComputedStyle(box).fontSize)};
            })""",
            TEXT_LIKE,
        )
    )


def test_every_text_box_is_sized_for_a_phone(phone: Page, live_server: LiveServer, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    responder = make_staff("responder")
    case = make_case(assigned_to=responder)
    seen: dict[str, set[str]] = {}
    problems = []

    def check(path: str) -> None:
        response = phone.goto(path)
        assert response is not None and response.status == 200, path
        for box in measured(phone):
            seen.setdefault(str(box["type"]), set()).add(path)
            where = f"{path} {box['name']} ({box['type']})"
            if float(box["height"]) < FINGER_PX - 0.5:  # type: ignore[arg-type]
                problems.append(f"{where}: {box['height']:.0f} px tall")
            if float(box["width"]) < WIDE_ENOUGH_PX:  # type: ignore[arg-type]
                problems.append(f"{where}: {box['width']:.0f} px wide")
            if float(box["font"]) < SMALLEST_TEXT_PX:  # type: ignore[arg-type]
                problems.append(f"{where}: {box['font']:.0f} px text")

    for path in ("/status", "/report", "/staff/login"):
        check(path)
    _signed_in(phone.context, app, live_server, coordinator)
    coordinator_pages = ("/cases", f"/cases/{case.id}", "/staff/reauth", f"/staff/people/{responder.id}")
    for path in (*coordinator_pages, "/staff/audit", "/staff/load"):
        check(path)
    assert not problems, "\n".join(problems)
    # The kinds that were tiny before are among those measured.
    assert {"password", "number", "date", "datetime-local", "email", "search", "text", "textarea"} <= set(seen), seen
