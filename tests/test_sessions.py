"""Signing out ends a session on the server: a copy of the cookie taken before is worthless."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from app.cases.models import Case
from app.extensions import db
from tests.factories import make_staff, sign_in
from tests.helpers import hidden_fields, open_status, receipt_from, submit_report


def copied_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("confide")
    assert cookie is not None
    return cookie.value


def replay(app: Flask, cookie: str, path: str) -> int:
    """The status of ``path`` for someone else's browser holding ``cookie``."""
    other = app.test_client()
    other.set_cookie("confide", cookie)
    return other.get(path).status_code


def test_a_reporters_cookie_dies_when_she_signs_out_or_leaves(app: Flask, client: FlaskClient) -> None:
    receipt = receipt_from(submit_report(client))
    for leave in ("sign out", "leave quickly"):
        page = open_status(client, receipt).get_data(as_text=True)
        copy = copied_cookie(client)
        assert replay(app, copy, "/status/case") == 200
        if leave == "sign out":
            client.post("/status/logout", data=hidden_fields(page))
        else:
            client.get("/exit")
        assert replay(app, copy, "/status/case") == 303, leave


def test_a_reporters_cookie_is_for_this_browser_session_and_names_no_case(app: Flask, client: FlaskClient) -> None:
    receipt = receipt_from(submit_report(client))
    response = client.post(
        "/status", data={**hidden_fields(client.get("/status").get_data(as_text=True)), "receipt": receipt}
    )
    set_cookie = response.headers["Set-Cookie"]
    assert "Expires=" not in set_cookie and "Max-Age=" not in set_cookie
    # Signed, not sealed: what the cookie says is readable by whoever holds it.
    payload = URLSafeTimedSerializer(
        app.secret_key, salt="cookie-session", signer_kwargs={"key_derivation": "hmac", "digest_method": "sha1"}
    ).loads(copied_cookie(client))
    case_id = db.session.scalar(select(Case.id))
    assert case_id and case_id not in str(payload)


def test_a_staff_cookie_dies_when_its_person_signs_out(app: Flask, client: FlaskClient) -> None:
    sign_in(client, make_staff("responder"))
    page = client.get("/staff/profile").get_data(as_text=True)
    copy = copied_cookie(client)
    assert replay(app, copy, "/staff/profile") == 200
    client.post("/staff/logout", data={"csrf_token": hidden_fields(page)["csrf_token"]})
    assert replay(app, copy, "/staff/profile") == 303


def test_the_periodic_pass_forgets_idle_sessions(app: Flask, client: FlaskClient) -> None:
    from datetime import timedelta

    from app.intake.models import ReporterSession
    from app.models import utcnow
    from workers.jobs import sweep_and_escalate

    open_status(client, receipt_from(submit_report(client)))
    open_status(app.test_client(), receipt_from(submit_report(app.test_client())))
    rows = list(db.session.scalars(select(ReporterSession)))
    assert len(rows) == 2
    rows[0].seen_at = utcnow() - timedelta(minutes=45)
    db.session.commit()
    sweep_and_escalate()
    db.session.expire_all()
    assert len(list(db.session.scalars(select(ReporterSession)))) == 1
