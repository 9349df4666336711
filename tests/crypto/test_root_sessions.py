"""A new root version signs new session cookies, and the cookies signed before it still open:
rotating the root signs no staff member out. A form sent across the rotation is taken
as expired, as any page left open too long."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from app.crypto import load_keyring
from app.crypto.keyring import save_keyring
from app.staff.services import invite_staff
from tests.crypto.conftest import restarted
from tests.crypto.test_retire import reports
from tests.factories import make_staff, sign_in
from tests.helpers import hidden_fields, open_status
from tests.staff.test_accounts import enrol_form


def test_a_staff_member_stays_signed_in_across_a_root_rotation(
    app: Flask, client: FlaskClient, own_keyring: Path, log_file: Path
) -> None:
    staff = make_staff("coordinator")
    home = sign_in(client, staff).headers["Location"]
    assert client.get(home).status_code == 200
    login_form = hidden_fields(client.get("/staff/login").get_data(as_text=True))
    cookie = client.get_cookie("confide")
    assert cookie is not None

    save_keyring(load_keyring(own_keyring).with_new_root())
    with restarted(app, own_keyring, log_file) as fresh:
        assert fresh.config["SECRET_KEY"] != app.config["SECRET_KEY"]
        assert fresh.config["SECRET_KEY_FALLBACKS"] == [app.config["SECRET_KEY"]]
        later = fresh.test_client()
        later.set_cookie("confide", cookie.value)
        assert later.get(home).status_code == 200, "still signed in"
        # A form whose token was signed under the old key is taken as expired: reload and send again.
        again = later.post("/staff/login", data={**login_form, "email": staff.user.email, "password": "x"})
        assert again.status_code == 400
        assert "reload the page and try again" in again.get_data(as_text=True)


def test_a_reporter_stays_signed_in_across_a_root_rotation(app: Flask, client: FlaskClient, own_keyring: Path) -> None:
    ((receipt, words),) = reports(client, 1)
    reader = app.test_client()
    assert words in open_status(reader, receipt).get_data(as_text=True)
    save_keyring(load_keyring(own_keyring).with_new_root())
    assert words in reader.get("/status/case").get_data(as_text=True), "still signed in"
    reader.post("/status/logout", data=hidden_fields(reader.get("/status/case").get_data(as_text=True)))
    assert reader.get("/status/case").status_code != 200, "and signing out still ends it"


def test_an_enrolment_link_sent_before_a_root_rotation_still_opens(
    app: Flask, client: FlaskClient, own_keyring: Path
) -> None:
    url = invite_staff("noor@example.org", "responder")
    path = urlsplit(url).path
    save_keyring(load_keyring(own_keyring).with_new_root())
    _, secret = enrol_form(app.test_client(), path)  # opens, and shows a key to set up
    assert secret
    save_keyring(load_keyring(own_keyring).without_root("root-1"))
    assert app.test_client().get(path).status_code == 404, "until its root version retires"
