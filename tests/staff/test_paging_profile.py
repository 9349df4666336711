"""A coordinator sets their own paging address on their profile, after confirming it is them;
it is never shown again in full, and a test page reaches them."""

from __future__ import annotations

import dataclasses
import socket
from urllib.parse import unquote, urlsplit

import pytest
from apprise.manager_plugins import NotificationManager
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.keystore import current_keyring
from app.staff.models import StaffUser
from app.staff.paging import PAGING_SCHEMES, PLAIN_SCHEMES, _seal, paging_problem
from tests.factories import Staff, make_staff, sign_in
from tests.helpers import hidden_fields
from tests.notify import test_paging
from tests.notify.test_paging import Pager, closed_port
from tests.staff.test_accounts import age_session, fresh_code, text

# The recording HTTP endpoint of the paging tests, as a fixture here too.
pager = test_paging.pager
PAGING = "/staff/profile/paging"


def signed_in_coordinator(client: FlaskClient) -> Staff:
    cora = make_staff("coordinator", name="Cora")
    sign_in(client, cora)
    return cora


def save(client: FlaskClient, url: str) -> object:
    page = client.get(PAGING)
    return client.post(PAGING, data={**hidden_fields(text(page)), "url": url})


def press(client: FlaskClient, action: str) -> str:
    page = client.get(PAGING)
    done = client.post(f"{PAGING}/{action}", data=hidden_fields(text(page)), follow_redirects=True)
    assert done.status_code == 200
    return text(done)


def test_the_paging_page_asks_for_password_and_code_again(client: FlaskClient) -> None:
    cora = signed_in_coordinator(client)
    age_session(client, reauth=6 * 60)
    asked = client.get(PAGING)
    assert asked.status_code == 303
    location = urlsplit(asked.headers["Location"])
    assert location.path == "/staff/reauth" and unquote(location.query) == f"next={PAGING}"
    refused = client.post(f"{PAGING}/test", data=hidden_fields(text(client.get("/staff/profile"))))
    assert urlsplit(refused.headers["Location"]).path == "/staff/reauth"

    reauth = client.get(asked.headers["Location"])
    confirmed = client.post(
        asked.headers["Location"],
        data={**hidden_fields(text(reauth)), "password": cora.password, "code": fresh_code(cora)},
    )
    assert urlsplit(confirmed.headers["Location"]).path == PAGING
    page = client.get(PAGING)
    assert page.status_code == 200 and "No paging address set" in text(page)


def test_a_coordinator_sets_a_paging_address_sees_only_its_kind_and_gets_a_test_page(
    client: FlaskClient, pager: Pager
) -> None:
    cora = signed_in_coordinator(client)
    profile = client.get("/staff/profile")
    assert "No paging address: urgent pages reach you by email only." in text(profile)
    assert f'href="{PAGING}"' in text(profile)

    secret = pager.url("/cora/Yh4TopicToken")
    saved = save(client, secret)
    assert saved.status_code == 303  # type: ignore[attr-defined]
    page = text(client.get(PAGING))
    assert "<strong>json://…</strong> set" in page
    assert "Yh4TopicToken" not in page and f"127.0.0.1:{pager.port}" not in page
    assert "A paging address is set" in text(client.get("/staff/profile"))

    done = press(client, "test")
    assert "Test page sent." in done
    [test_page] = pager.to("/cora/Yh4TopicToken")
    assert test_page["title"] == "Confide: test page"
    assert "https://confide.example/staff/login" in test_page["message"]

    # Replaced by one that cannot be reached: the test says so.
    assert save(client, f"json://127.0.0.1:{closed_port()}/cora").status_code == 303  # type: ignore[attr-defined]
    assert "The test page did not get through" in press(client, "test")

    removed = press(client, "remove")
    assert "Paging address removed." in removed and "No paging address set" in removed
    assert db.session.get(StaffUser, cora.id).paging_sealed is None  # type: ignore[union-attr]


UNRECOGNISED = "Apprise does not recognise that address."


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("nonsense://somewhere", UNRECOGNISED),
        ("https://example.org/hook", UNRECOGNISED),
        ("json://one.example, json://two.example", UNRECOGNISED),
        ("json://" + "x" * 2100, "cannot be longer than 2000"),
    ],
)
def test_an_address_apprise_cannot_use_is_refused(client: FlaskClient, address: str, problem: str) -> None:
    cora = signed_in_coordinator(client)
    refused = save(client, address)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    page = text(refused)  # type: ignore[arg-type]
    assert problem in page and "has-error" in page
    assert address[:20] not in page, "what was typed is not sent back"
    assert db.session.get(StaffUser, cora.id).paging_sealed is None  # type: ignore[union-attr]


ALLOWED_ONLY = "Paging addresses may use only these kinds of Apprise address: ntfys://, pover://"


@pytest.mark.parametrize(
    "address",
    ["rsyslog://127.0.0.1:514", "RSysLog://10.0.0.5", "syslog://", "form://127.0.0.1/hook", "xml://10.0.0.5/hook"],
)
def test_an_address_that_pages_nobody_is_refused_naming_what_is_allowed(client: FlaskClient, address: str) -> None:
    cora = signed_in_coordinator(client)
    refused = save(client, address)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    page = text(refused)  # type: ignore[arg-type]
    assert ALLOWED_ONLY in page and "signals://" in page and "where this site allows plain HTTP" in page
    assert db.session.get(StaffUser, cora.id).paging_sealed is None  # type: ignore[union-attr]


def test_an_address_kept_from_before_the_rule_is_not_paged(client: FlaskClient) -> None:
    cora = signed_in_coordinator(client)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(1)
        user = db.session.get(StaffUser, cora.id)
        assert user is not None
        # Sealed as it would have been before only paging services were allowed.
        user.paging_sealed = _seal(user.id, f"rsyslog://127.0.0.1:{listener.getsockname()[1]}")
        user.paging_root = current_keyring().active_root_id
        db.session.commit()
        assert "The test page did not get through" in press(client, "test")
        with pytest.raises(TimeoutError):
            listener.recvfrom(4096)


def test_every_allowed_kind_of_address_is_an_apprise_service_in_the_form_named() -> None:
    plugins = NotificationManager()
    for scheme in PAGING_SCHEMES:
        assert scheme in plugins, scheme
        secure = plugins[scheme].secure_protocol
        assert scheme in ((secure,) if isinstance(secure, str) else tuple(secure)), scheme
    for scheme in PLAIN_SCHEMES:
        assert scheme in plugins and plugins[scheme].protocol == scheme, scheme
        assert plugins[scheme].secure_protocol in PAGING_SCHEMES, "the secure form is allowed too"


def test_in_production_plain_http_is_refused_unless_allowed(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = app.config["CONFIDE"]
    monkeypatch.setitem(app.config, "CONFIDE", dataclasses.replace(settings, env="production"))
    assert "plain HTTP" in (paging_problem("json://pager.example/hook") or "")
    assert "plain HTTP" in (paging_problem("ntfy://ntfy.example.org/topic") or "")
    assert "plain HTTP" in (paging_problem("jsons://pager.example/hook?verify=no") or "")
    assert paging_problem("jsons://pager.example/hook") is None
    assert paging_problem("ntfy://topic") is None, "ntfy.sh itself is reached over HTTPS"
    assert paging_problem("pover://user@token") is None
    allowed = dataclasses.replace(settings.paging, allow_plain_http=True)
    monkeypatch.setitem(app.config, "CONFIDE", dataclasses.replace(settings, env="production", paging=allowed))
    assert paging_problem("json://127.0.0.1:9000/hook") is None
