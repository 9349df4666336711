"""Staff pages are in English, errors included, whatever the browser prefers; reporters keep
their own frame in their own language."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from app.casework import services
from app.extensions import db
from tests.cases.test_queue import signed_in
from tests.factories import make_case, make_staff

SPANISH = {"Accept-Language": "es-MX,es;q=0.9"}
HARASSMENT_EN = "Sexual harassment without contact"
HARASSMENT_ES = "Acoso sexual sin contacto"


def text(browser: FlaskClient, path: str, status: int = 200) -> str:
    answer = browser.get(path, headers=SPANISH)
    assert answer.status_code == status, (path, answer.status_code)
    return answer.get_data(as_text=True)


def in_staff_frame(html: str) -> bool:
    return '<html lang="en">' in html and "Confide · staff" in html and 'id="quick-exit"' not in html


def test_a_spanish_browser_sees_english_category_names_on_staff_pages(client: FlaskClient, app: Flask) -> None:
    responder = make_staff("responder", languages=("en", "es"))
    case = make_case(category="sexual_harassment", assigned_to=responder, language="es")
    browser = signed_in(app, responder)
    for path in ("/cases", f"/cases/{case.id}"):
        html = text(browser, path)
        assert HARASSMENT_EN in html and HARASSMENT_ES not in html, path
        assert '<html lang="en">' in html
    # The same browser on the reporter's side is answered in Spanish.
    assert HARASSMENT_ES in text(client, "/report")


def test_a_missing_staff_page_is_shown_in_the_staff_frame_in_english(client: FlaskClient, app: Flask) -> None:
    responder = make_staff("responder")
    browser = signed_in(app, responder)
    for path in ("/staff/no-such-page", f"/cases/{uuid.uuid4()}", "/no-such-page"):
        html = text(browser, path, 404)
        assert in_staff_frame(html), path
        assert "Page not found" in html and "Back to the queue" in html
    # Nobody signed in, on a staff address: the staff frame, with the way to sign in.
    html = text(client, "/staff/no-such-page", 404)
    assert in_staff_frame(html) and "Sign in" in html


def test_a_reporter_keeps_her_frame_and_language(client: FlaskClient, app: Flask) -> None:
    html = text(client, "/no-such-page", 404)
    assert '<html lang="es">' in html and 'id="quick-exit"' in html and "Confide · staff" not in html
    assert "No encontramos esta página" in html


def test_an_expired_staff_form_is_explained_in_the_staff_frame(client: FlaskClient, app: Flask) -> None:
    browser = signed_in(app, make_staff("coordinator"))
    answer = browser.post("/cases/search", data={"search-q": "#abcd"}, headers=SPANISH)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and in_staff_frame(html) and "This page expired" in html


def test_a_failure_on_a_staff_page_is_shown_in_the_staff_frame(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = signed_in(app, make_staff("responder"))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the queue broke")

    monkeypatch.setattr(services, "queue_page", broken)
    html = text(browser, "/cases", 500)
    assert in_staff_frame(html) and "Something went wrong on our side" in html
    assert "the queue broke" not in html


def test_a_database_failing_under_a_signed_in_person_still_gives_the_staff_page(
    client: FlaskClient, app: Flask
) -> None:
    """The database fails while the page asks who is signed in: the error page must not ask
    again (it would fail again, and leave the server's bare page)."""
    browser = signed_in(app, make_staff("coordinator"))

    def failing(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM staff_users" in statement:
            raise OperationalError(statement, {}, Exception("the database went away"))

    event.listen(db.engine, "before_cursor_execute", failing)
    try:
        html = text(browser, "/cases", 500)
    finally:
        event.remove(db.engine, "before_cursor_execute", failing)
    assert in_staff_frame(html) and "Something went wrong on our side" in html
