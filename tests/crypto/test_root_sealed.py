"""Values sealed under a key derived from the root secret, across a rotation of the root:
each row names its root version, opens under it until `flask keys rekey` seals it again under
the active one, and the circles' codes are re-keyed when used."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.circles.models import CircleRequest
from app.crypto import load_keyring
from app.crypto.keyring import save_keyring
from app.extensions import db
from app.staff.paging import paging_url, set_paging_url
from tests.circles.factories import LINK, ask, code_from, make_circle, open_code
from tests.crypto.test_retire import cli
from tests.factories import Staff, make_staff, sign_in

PAGING = "ntfys://ntfy.example.org/confide-oncall"


def signs_in(app: Flask, staff: Staff) -> bool:
    answer = sign_in(app.test_client(), staff)
    return answer.status_code == 303 and "/login" not in answer.headers["Location"]


def test_sealed_values_open_under_their_version_until_sealed_again(
    app: Flask, client: FlaskClient, own_keyring: Path
) -> None:
    coordinator = make_staff("coordinator")
    set_paging_url(coordinator.user, PAGING)
    circle = make_circle(by=coordinator)
    code = code_from(ask(client, circle.id, name="Rosa", email="rosa@example.org"))
    save_keyring(load_keyring(own_keyring).with_new_root())  # as `flask keys rotate-root`

    status = cli(app, "status")
    assert "1 staff TOTP secrets, 1 paging addresses, 1 circle places" in status
    # Everything opens under the version its row names.
    assert signs_in(app, coordinator)
    assert paging_url(coordinator.user) == PAGING
    assert LINK in open_code(app.test_client(), code).get_data(as_text=True)
    request = db.session.scalars(select(CircleRequest)).one()
    assert (request.code_root, request.seal_root) == ("root-2", "root-1"), "her code re-keyed on use"

    out = cli(app, "rekey")  # the audit chain's links too
    assert "again under root-2." in out and "Sealed 0 row(s)" not in out
    assert "Sealed 0 row(s)" in cli(app, "rekey"), "a second run finds nothing"
    assert "root-1 (superseded" in cli(app, "status") and "protects nothing" in cli(app, "status")
    db.session.expire_all()
    assert (coordinator.user.totp_root, coordinator.user.paging_root) == ("root-2", "root-2")
    ring = load_keyring(own_keyring)
    save_keyring(ring.without_root("root-1"))
    app.extensions.pop("confide_keyring")
    assert signs_in(app, coordinator)
    assert paging_url(coordinator.user) == PAGING
    assert LINK in open_code(app.test_client(), code).get_data(as_text=True)
