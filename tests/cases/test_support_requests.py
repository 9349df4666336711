"""Support requests in the queue and on the case page: named as such, filtered apart, and read
without an incident's questions."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.cases.test_export import rows_of
from tests.cases.test_queue import listed, queue_page, row_of, signed_in
from tests.factories import make_case, make_staff, make_support_request

ON_HER_MIND = "I keep thinking about a client from last month & can't sleep."


def test_the_queue_names_support_requests_and_filters_them_apart(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    report = make_case(category="threats")
    request = make_support_request(narrative=ON_HER_MIND)
    browser = signed_in(app, coordinator)
    page = queue_page(browser)
    assert set(listed(page)) == {report.id, request.id}
    assert ">Support request</a>" in row_of(page, request)[1]
    assert ">Threats, stalking or psychological abuse</a>" in row_of(page, report)[1]
    assert '<option value="support">Support request</option>' in page
    assert listed(queue_page(browser, "?kind=support")) == [request.id]
    assert listed(queue_page(browser, "?kind=report")) == [report.id]
    assert set(listed(queue_page(browser, "?kind=nonsense"))) == {report.id, request.id}
    # The category filter lists incident categories only: a support request has none.
    assert listed(queue_page(browser, "?category=other")) == []
    assert "a support request 72 h" in page

    exported = browser.get("/cases/export.csv?kind=support")
    assert exported.status_code == 200
    [row] = rows_of(exported.get_data(as_text=True))
    assert row["category"] == "Support request"


def test_the_case_page_reads_as_a_support_request(client: FlaskClient, app: Flask) -> None:
    responder = make_staff("responder", pseudonym="Willow")
    request = make_support_request(narrative=ON_HER_MIND, assigned_to=responder)
    page = signed_in(app, responder).get(f"/cases/{request.id}").get_data(as_text=True)
    assert "</span> Support request</h1>" in page
    assert "Support request: the reporter asked to talk with a trained peer." in page
    assert "<h2>What is on their mind</h2>" in page and "I keep thinking about a client from last month" in page
    for nonsense in ("In danger when reporting?", "Hurt or injured?", "Still happening?", "Anonymous report"):
        assert nonsense not in page
    assert "Receipt only: reply through messages below." in page
    quiet = make_support_request(narrative="", assigned_to=responder)
    assert "(nothing written: they would like to talk)" in signed_in(app, responder).get(f"/cases/{quiet.id}").get_data(
        as_text=True
    )
