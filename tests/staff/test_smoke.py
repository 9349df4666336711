"""A first walk through the staff workspace, to keep the factories honest."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import make_case, make_staff, sign_in


def test_responder_signs_in_and_opens_an_assigned_case(client: FlaskClient) -> None:
    responder = make_staff("responder", pseudonym="Maple")
    case = make_case(assigned_to=responder, narrative="the narrative only staff should read")
    landing = sign_in(client, responder)
    assert landing.status_code == 303 and landing.headers["Location"].endswith("/cases")
    queue = client.get("/cases").get_data(as_text=True)
    assert case.id in queue
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert "the narrative only staff should read" in page.get_data(as_text=True)
