"""An account's life after enrolment, as coordinators, the operator and the owner meet it:
reset, new recovery codes, unlock, deactivate and reactivate, name/email/role, one's own
password and authenticator app; the last coordinator who keeps access; the emails that tell
the owner; and a form that keeps what was typed while its sender confirms it is them."""

from __future__ import annotations

import json
import re
import threading
import time
from email.message import Message
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.extensions import db
from app.notify.sending import send_pending
from app.program import accounts
from app.staff import credentials
from app.staff.models import LoginFailures, RecoveryCode, StaffUser
from app.staff.services import StaffError
from tests import totp
from tests.factories import Staff, make_staff, sign_in
from tests.helpers import hidden_fields
from tests.smtp import Inbox
from tests.staff.test_accounts import (
    ENROL_PATH,
    INVITE_URL,
    NEW_PASSWORD,
    RECOVERY,
    SECRET,
    WRONG_CODE,
    WRONG_LOGIN,
    age_session,
    code_for,
    enrol,
    enrol_form,
    log_in,
    password_step,
    signed_in,
    text,
    user_by_email,
)

OTHER_PASSWORD = "harbor pebble saffron glacier"
IF_NOT_YOU = "If this was not you, or you did not expect it, tell a coordinator at once."


# --- helpers -----------------------------------------------------------------------------


def person_page(client: FlaskClient, staff_id: str) -> str:
    page = client.get(f"/staff/people/{staff_id}")
    assert page.status_code == 200
    return text(page)


def press(client: FlaskClient, staff_id: str, action: str) -> tuple[int, str]:
    """Press a button on the person's page; the page that answers (redirects followed)."""
    fields = hidden_fields(person_page(client, staff_id))
    response = client.post(f"/staff/people/{staff_id}/{action}", data=fields, follow_redirects=True)
    return response.status_code, text(response)


def enrolment_path(page: str) -> str:
    match = INVITE_URL.search(page)
    assert match, "no enrolment link on the page"
    path = urlsplit(match.group(1)).path
    assert ENROL_PATH.match(path)
    return path


def mails(inbox: Inbox, address: str) -> list[Message]:
    send_pending()
    return inbox.to(address)


def body(message: Message) -> str:
    return f"{message['Subject']}\n{message.get_payload()}"


def next_code(secret: str, email: str) -> str:
    """A code of ``secret`` that ``email``'s account has not used (tests/totp.py)."""
    return totp.unused_code(secret, user_by_email(email).totp_last_step)


def content_free(message: Message, *secrets: str) -> None:
    """An account notice says what changed, and nothing that opens anything."""
    said = body(message)
    assert IF_NOT_YOU in said
    for secret in ("/staff/enrol", "http", *secrets):
        assert secret not in said, secret


def coordinator_and_responder(client: FlaskClient, app: Flask) -> tuple[Staff, StaffUser, str, FlaskClient]:
    """A coordinator signed in on ``client``; a responder enrolled through the real pages and
    signed in on a browser of their own (returned with their TOTP secret)."""
    responder, secret, _ = enrol(app.test_client(), app, "rae@example.org", "responder")
    theirs = app.test_client()
    assert log_in(theirs, "rae@example.org", NEW_PASSWORD, next_code(secret, "rae@example.org")).status_code == 303
    assert signed_in(theirs)
    coordinator = make_staff("coordinator", email="cora@example.org")
    sign_in(client, coordinator)
    return coordinator, user_by_email("rae@example.org"), secret, theirs


def audit_details(action: str) -> list[dict[str, object]]:
    return [e.detail for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == action))]


# --- reset -------------------------------------------------------------------------------


def test_a_reset_ends_every_session_kills_the_old_sign_in_and_gives_a_link_once(
    client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    coordinator, responder, old_secret, theirs = coordinator_and_responder(client, app)
    status, page = press(client, responder.id, "reset")
    assert status == 200 and "no longer work" in page
    path = enrolment_path(page)
    # Shown once: the person's page does not show it again, and no clear token is stored.
    assert not INVITE_URL.search(person_page(client, responder.id))

    # Every session ends at once; the old password and app sign nobody in, codes neither.
    assert not signed_in(theirs)
    assert password_step(theirs, "rae@example.org", NEW_PASSWORD).status_code == 400
    user = user_by_email("rae@example.org")
    assert (user.password_hash, user.totp_sealed, user.on_duty) == (None, None, False)
    assert db.session.scalars(select(RecoveryCode).where(RecoveryCode.staff_id == user.id)).all() == []

    # The link enrols them again with a new password and app, and they sign in.
    visitor = app.test_client()
    fields, new_secret = enrol_form(visitor, path)
    assert new_secret != old_secret
    done = visitor.post(
        path, data={**fields, "password": OTHER_PASSWORD, "confirm": OTHER_PASSWORD, "code": code_for(new_secret, 0)}
    )
    assert done.status_code == 200 and len(RECOVERY.findall(text(done))) == 10
    user = user_by_email("rae@example.org")
    assert log_in(visitor, "rae@example.org", OTHER_PASSWORD, next_code(new_secret, user.email)).status_code == 303
    assert signed_in(visitor)
    # A code of the old app, even with the new password, does not.
    late = app.test_client()
    refused = log_in(late, "rae@example.org", OTHER_PASSWORD, totp.code_at(old_secret, totp.step_now()))
    assert refused.status_code == 400 and WRONG_CODE in text(refused)

    [notice] = mails(inbox, "rae@example.org")
    assert notice["Subject"] == "Confide: your sign-in was reset"
    assert "Your Confide sign-in was reset by a coordinator." in body(notice)
    content_free(notice, path.rsplit("/", 1)[1], "cora@example.org")
    assert audit_details("staff_reset") == [{"staff": responder.id}]
    assert coordinator.user.active


def test_nobody_resets_their_own_sign_in_and_a_deactivated_account_is_reactivated_first(
    client: FlaskClient, app: Flask
) -> None:
    coordinator, responder, _, _ = coordinator_and_responder(client, app)
    assert f"/staff/people/{coordinator.id}/reset" not in person_page(client, coordinator.id)
    status, page = press(client, coordinator.id, "reset")
    assert "You cannot reset your own sign-in" in page and not INVITE_URL.search(page)
    assert user_by_email("cora@example.org").enrolled
    press(client, responder.id, "deactivate")
    with pytest.raises(StaffError, match="is already deactivated."):
        accounts.deactivate(user_by_email("rae@example.org"), by=coordinator.user)
    status, page = press(client, responder.id, "reset")
    assert "is deactivated. Reactivate the account first." in page and not INVITE_URL.search(page)


def test_the_operator_resets_from_the_shell_even_the_last_coordinator(
    client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    only = make_staff("coordinator", email="only@example.org")
    sign_in(client, only)
    result = app.test_cli_runner().invoke(args=["staff", "reset", "--email", "ONLY@example.org"])
    assert result.exit_code == 0, result.output
    url = urlsplit(result.output.strip().splitlines()[-1])
    assert url.scheme == "https" and ENROL_PATH.match(url.path)
    assert not signed_in(client) and not user_by_email("only@example.org").enrolled
    fields, secret = enrol_form(app.test_client(), url.path)
    assert secret
    [notice] = mails(inbox, "only@example.org")
    assert "reset" in notice["Subject"]
    content_free(notice, url.path.rsplit("/", 1)[1])
    unknown = app.test_cli_runner().invoke(args=["staff", "reset", "--email", "nobody@example.org"])
    assert unknown.exit_code != 0 and "no account has the address nobody@example.org" in unknown.output
    assert [d for d in audit_details("staff_reset")] == [{"staff": only.id}]


# --- recovery codes, unlock --------------------------------------------------------------


def test_new_recovery_codes_are_shown_once_and_the_old_ones_stop_working(
    client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    _, old_codes_owner, _, _ = coordinator_and_responder(client, app)
    responder = old_codes_owner
    status, page = press(client, responder.id, "recovery-codes")
    first = RECOVERY.findall(page)
    assert status == 200 and len(first) == 10
    assert not RECOVERY.findall(person_page(client, responder.id)), "codes are shown once"
    status, page = press(client, responder.id, "recovery-codes")
    second = RECOVERY.findall(page)
    assert len(second) == 10 and not set(first) & set(second)
    stored = db.session.scalars(select(RecoveryCode.code_index).where(RecoveryCode.staff_id == responder.id)).all()
    assert len(stored) == 10 and not any(code.encode() in index for code in second for index in stored)

    old = log_in(app.test_client(), "rae@example.org", NEW_PASSWORD, first[0])
    assert old.status_code == 400 and WRONG_CODE in text(old)
    assert log_in(app.test_client(), "rae@example.org", NEW_PASSWORD, second[0]).status_code == 303

    # Both notices waited in the outbox: one email tells of them.
    [notice] = mails(inbox, "rae@example.org")
    assert notice["Subject"] == "Confide: new recovery codes"
    content_free(notice, *first, *second)
    assert audit_details("staff_recovery_codes_issued") == [{"staff": responder.id, "count": 10}] * 2


def test_unlock_ends_the_wait_after_wrong_passwords(client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    _, responder, secret, _ = coordinator_and_responder(client, app)
    theirs = app.test_client()
    for _ in range(credentials.LOCK_AFTER):
        password_step(theirs, "rae@example.org", "not my password at all")
    waiting = log_in(theirs, "rae@example.org", NEW_PASSWORD, "000000")
    assert waiting.status_code == 400 and WRONG_LOGIN in text(waiting)
    assert f"Failed sign-ins in the last day: {credentials.LOCK_AFTER}." in person_page(client, responder.id)

    status, page = press(client, responder.id, "unlock")
    assert "can sign in again without waiting" in page
    assert db.session.scalars(select(LoginFailures).where(LoginFailures.staff_id == responder.id)).all() == []
    user = user_by_email("rae@example.org")
    assert log_in(theirs, "rae@example.org", NEW_PASSWORD, next_code(secret, user.email)).status_code == 303
    [notice] = mails(inbox, "rae@example.org")
    assert notice["Subject"] == "Confide: your sign-in was unlocked"
    content_free(notice)


# --- deactivate, reactivate, invite again ------------------------------------------------


def test_deactivate_then_reactivate_brings_back_the_person_but_no_old_session(
    client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    _, responder, secret, theirs = coordinator_and_responder(client, app)
    cookie = theirs.get_cookie("confide")
    assert cookie is not None
    press(client, responder.id, "deactivate")
    assert not signed_in(theirs)
    page = person_page(client, responder.id)
    assert "This account is deactivated." in page and "/reactivate" in page

    # The deactivation notice reaches the person, although their account is closed now.
    [notice] = mails(inbox, "rae@example.org")
    assert notice["Subject"] == "Confide: your account was deactivated"
    content_free(notice)

    status, page = press(client, responder.id, "reactivate")
    assert "is active again and can sign in with their password and app" in page
    assert not INVITE_URL.search(page), "credentials intact: no new link is needed"
    # The cookie from before the deactivation stays dead.
    old = app.test_client()
    old.set_cookie("confide", cookie.value)
    assert not signed_in(old)
    user = user_by_email("rae@example.org")
    assert log_in(app.test_client(), "rae@example.org", NEW_PASSWORD, next_code(secret, user.email)).status_code == 303
    assert [n["Subject"] for n in mails(inbox, "rae@example.org")][1:] == ["Confide: your account was reactivated"]
    assert audit_details("staff_reactivated") == [{"staff": responder.id, "link": False}]


def test_reactivating_someone_who_never_enrolled_gives_a_new_link(client: FlaskClient, app: Flask) -> None:
    sign_in(client, make_staff("coordinator"))
    app.test_cli_runner().invoke(args=["staff", "invite", "--role", "responder", "--email", "new@example.org"])
    invited = user_by_email("new@example.org")
    press(client, invited.id, "deactivate")
    status, page = press(client, invited.id, "reactivate")
    path = enrolment_path(page)
    assert enrol_form(app.test_client(), path)[1]
    assert user_by_email("new@example.org").active


def test_inviting_a_deactivated_person_again_starts_them_afresh(client: FlaskClient, app: Flask) -> None:
    responder, secret, _ = enrol(app.test_client(), app, "back@example.org", "responder")
    coordinator = make_staff("coordinator")
    accounts.deactivate(responder, by=coordinator.user)
    result = app.test_cli_runner().invoke(
        args=["staff", "invite", "--role", "coordinator", "--email", "back@example.org", "--name", "Back Again"]
    )
    assert result.exit_code == 0, result.output
    path = urlsplit(result.output.strip().splitlines()[-1]).path
    user = user_by_email("back@example.org")
    assert (user.active, user.role, user.name, user.enrolled) == (True, "coordinator", "Back Again", False)
    refused = log_in(app.test_client(), "back@example.org", NEW_PASSWORD, next_code(secret, user.email))
    assert refused.status_code == 400 and WRONG_LOGIN in text(refused)
    fields, new_secret = enrol_form(client, path)
    done = client.post(
        path, data={**fields, "password": OTHER_PASSWORD, "confirm": OTHER_PASSWORD, "code": code_for(new_secret, 0)}
    )
    assert done.status_code == 200
    user = user_by_email("back@example.org")
    assert log_in(client, "back@example.org", OTHER_PASSWORD, next_code(new_secret, user.email)).status_code == 303
    assert client.get("/staff/people").status_code == 200


# --- name, email, role -------------------------------------------------------------------


def edit(client: FlaskClient, staff_id: str, **values: str) -> tuple[int, str]:
    fields = hidden_fields(person_page(client, staff_id))
    data = {**fields, **{f"who-{k}": v for k, v in values.items()}}
    response = client.post(f"/staff/people/{staff_id}/identity", data=data, follow_redirects=True)
    return response.status_code, text(response)


def test_a_coordinator_changes_name_email_and_role_and_both_addresses_hear_of_it(
    client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    _, responder, secret, _ = coordinator_and_responder(client, app)
    make_staff("responder", email="taken@example.org")
    for wrong, message in (
        ("not an address", "That is not an email address."),
        ("TAKEN@example.org", "Another account already uses that email address."),
    ):
        status, page = edit(client, responder.id, name="Rae", email=wrong, role="responder")
        assert status == 400 and message in page
    status, page = edit(client, responder.id, name="Rae Moreno", email="Rae.M@Example.org", role="coordinator")
    assert status == 200 and "Saved the new name and email address and role." in page
    user = user_by_email("rae.m@example.org")
    assert (user.name, user.role) == ("Rae Moreno", "coordinator")
    assert (
        log_in(app.test_client(), "rae.m@example.org", NEW_PASSWORD, next_code(secret, user.email)).status_code == 303
    )

    [old] = mails(inbox, "rae@example.org")
    assert old["Subject"] == "Confide: your email address was changed"
    content_free(old, "rae.m@example.org")
    [new] = inbox.to("rae.m@example.org")
    assert new["Subject"] == "Confide: changes to your account"
    for said in ("changed the name", "changed the email address", "changed your role"):
        assert said in body(new)
    content_free(new, "rae@example.org", "Rae Moreno")
    # The audit log names the fields, never their values.
    [detail] = audit_details("staff_profile_changed")
    assert detail == {"staff": responder.id, "fields": ["name", "email", "role"]}


def test_counsel_keep_their_role(client: FlaskClient, app: Flask) -> None:
    sign_in(client, make_staff("coordinator"))
    counsel = make_staff("counsel", email="lex@example.org")
    status, page = edit(client, counsel.id, name="Lex", email="lex@example.org", role="responder")
    assert status == 400 and "Counsel accounts keep their role." in page
    assert user_by_email("lex@example.org").role == "counsel"


# --- the last coordinator ----------------------------------------------------------------


def test_the_last_coordinator_who_can_sign_in_keeps_access(client: FlaskClient, app: Flask) -> None:
    cora = make_staff("coordinator", email="cora@example.org", name="Cora")
    sign_in(client, cora)
    # Someone invited as coordinator but not yet enrolled does not count.
    app.test_cli_runner().invoke(args=["staff", "invite", "--role", "coordinator", "--email", "soon@example.org"])
    status, page = edit(client, cora.id, name="Cora", email="cora@example.org", role="responder")
    assert status == 400 and "Cora is the last coordinator who can sign in." in page
    assert user_by_email("cora@example.org").role == "coordinator"

    dana = make_staff("coordinator", email="dana@example.org", name="Dana")
    status, page = edit(client, cora.id, name="Cora", email="cora@example.org", role="responder")
    assert status == 200 and "Your profile" in page, "no longer a coordinator, Cora is sent to her profile"
    assert user_by_email("cora@example.org").role == "responder"
    # Now Dana is the last one: Cora (a responder) cannot take her role or account from her.
    with pytest.raises(StaffError, match="Dana is the last coordinator"):
        accounts.deactivate(dana.user, by=cora.user)
    with pytest.raises(StaffError, match="Dana is the last coordinator"):
        accounts.edit_identity(dana.user, by=cora.user, name="Dana", email="dana@example.org", role="responder")
    assert user_by_email("dana@example.org").active


def test_two_coordinators_closing_each_other_at_once_leave_one(app: Flask) -> None:
    """Each request in its own thread and session, as two web processes would: the second
    waits for the first's locks, then finds a single coordinator left and is refused."""
    ada = make_staff("coordinator", email="ada@example.org")
    bo = make_staff("coordinator", email="bo@example.org")
    outcome: list[str] = []

    def bo_closes_ada() -> None:
        with app.app_context():
            by, person = db.session.get(StaffUser, bo.id), db.session.get(StaffUser, ada.id)
            assert by is not None and person is not None
            try:
                accounts.deactivate(person, by=by)
                outcome.append("deactivated")
            except StaffError as error:
                outcome.append(str(error))
            finally:
                db.session.remove()

    with app.app_context():
        by, person = db.session.get(StaffUser, ada.id), db.session.get(StaffUser, bo.id)
        assert by is not None and person is not None
        from app.staff import lifecycle

        lifecycle.close_account(person, by=by)  # Ada's change, not yet committed
        other = threading.Thread(target=bo_closes_ada)
        other.start()
        time.sleep(1.0)
        assert other.is_alive(), "Bo's request did not wait for Ada's"
        db.session.commit()
        db.session.remove()
    other.join(timeout=30)
    assert not other.is_alive()
    db.session.expire_all()
    assert outcome and "the last coordinator" in outcome[0], outcome
    active = db.session.scalars(select(StaffUser.email).where(StaffUser.active.is_(True))).all()
    assert active == ["ada@example.org"]


# --- one's own password and app ----------------------------------------------------------


def test_staff_change_their_own_password_and_other_sessions_end(
    client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    counsel = make_staff("counsel", email="lex@example.org")
    other_browser = app.test_client()
    sign_in(other_browser, counsel)
    sign_in(client, counsel)
    page = client.get("/staff/profile/password")
    assert page.status_code == 200
    fields = hidden_fields(text(page))
    wrong = client.post(
        "/staff/profile/password",
        data={
            **fields,
            "current_password": "not it at all",
            "code": counsel.code(),
            "new_password": OTHER_PASSWORD,
            "confirm": OTHER_PASSWORD,
        },
    )
    assert wrong.status_code == 400 and "That password or code did not work." in text(wrong)
    weak = client.post(
        "/staff/profile/password",
        data={
            **fields,
            "current_password": counsel.password,
            "code": counsel.code(),
            "new_password": "password1234",
            "confirm": "password1234",
        },
    )
    assert weak.status_code == 400 and "too common" in text(weak)
    done = client.post(
        "/staff/profile/password",
        data={
            **fields,
            "current_password": counsel.password,
            "code": counsel.code(),
            "new_password": OTHER_PASSWORD,
            "confirm": OTHER_PASSWORD,
        },
        follow_redirects=True,
    )
    assert done.status_code == 200 and "Your password is changed." in text(done)
    assert signed_in(client) and not signed_in(other_browser)
    assert password_step(app.test_client(), "lex@example.org", counsel.password).status_code == 400
    assert log_in(app.test_client(), "lex@example.org", OTHER_PASSWORD, counsel.code()).status_code == 303
    [notice] = mails(inbox, "lex@example.org")
    assert notice["Subject"] == "Confide: your password was changed"
    content_free(notice, OTHER_PASSWORD, counsel.password)
    assert audit_details("staff_password_changed") == [{}]


def test_staff_move_their_codes_to_a_new_app(client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    responder = make_staff("responder", email="rae@example.org")
    other_browser = app.test_client()
    sign_in(other_browser, responder)
    sign_in(client, responder)
    page = client.get("/staff/profile/device")
    started = client.post(
        "/staff/profile/device",
        data={**hidden_fields(text(page)), "password": responder.password, "code": responder.code()},
    )
    assert started.status_code == 303 and urlsplit(started.headers["Location"]).path == "/staff/profile/device/new"
    page = client.get("/staff/profile/device/new")
    match = SECRET.search(text(page))
    assert page.status_code == 200 and match
    new_secret = match.group(1)
    # Another browser of the same person sees no key.
    assert urlsplit(other_browser.get("/staff/profile/device/new").headers["Location"]).path == "/staff/profile/device"
    # Until confirmed, the old app still signs in.
    assert log_in(app.test_client(), "rae@example.org", responder.password, responder.code()).status_code == 303
    db.session.expire_all()
    done = client.post(
        "/staff/profile/device/new",
        data={**hidden_fields(text(page)), "code": totp.code_at(new_secret, totp.step_now())},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "Your codes now come from the new app." in text(done)
    assert signed_in(client) and not signed_in(other_browser)
    old = log_in(app.test_client(), "rae@example.org", responder.password, responder.code())
    assert old.status_code == 400 and WRONG_CODE in text(old)
    user = user_by_email("rae@example.org")
    assert (
        log_in(app.test_client(), "rae@example.org", responder.password, next_code(new_secret, user.email)).status_code
        == 303
    )
    [notice] = mails(inbox, "rae@example.org")
    assert notice["Subject"] == "Confide: your authenticator app was changed"
    content_free(notice, new_secret)
    assert audit_details("staff_totp_changed") == [{}]


# --- the operator's list and first coordinator -------------------------------------------


def test_flask_staff_list_shows_people_and_no_secrets(app: Flask) -> None:
    make_staff("coordinator", email="cora@example.org", name="Cora Lee")
    app.test_cli_runner().invoke(args=["staff", "invite", "--role", "responder", "--email", "new@example.org"])
    result = app.test_cli_runner().invoke(args=["staff", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["EMAIL", "NAME", "ROLE", "ACTIVE", "ENROLLED", "ON", "DUTY", "LAST", "SIGN-IN"]
    assert re.search(r"^cora@example\.org\s+Cora Lee\s+coordinator\s+yes\s+yes\s+yes\s+never$", result.output, re.M)
    assert re.search(r"^new@example\.org\s+-\s+responder\s+yes\s+no\s+no\s+never$", result.output, re.M)
    user = user_by_email("cora@example.org")
    assert user.password_hash and user.password_hash not in result.output and "$argon2" not in result.output


def test_first_coordinator_takes_an_address_and_only_while_no_coordinator_can_sign_in(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "first-coordinator", "--email", "Head@Example.org"])
    assert result.exit_code == 0 and "/staff/enrol/" in result.output
    assert user_by_email("head@example.org").role == "coordinator"
    make_staff("coordinator")
    again = runner.invoke(args=["staff", "first-coordinator", "--email", "other@example.org"])
    assert "/staff/enrol/" not in again.output and "A coordinator can already sign in" in again.output


# --- a form kept across confirming it is you ---------------------------------------------


def test_the_invite_form_keeps_what_was_typed_while_its_sender_confirms_it_is_them(client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    sign_in(client, coordinator)
    age_session(client, reauth=6 * 60)
    people = client.get("/staff/people")
    asked = client.post(
        "/staff/people/invite",
        data={**hidden_fields(text(people)), "email": "noor@example.org", "name": "Noor Haddad", "role": "counsel"},
    )
    assert asked.status_code == 303
    reauth = client.get(asked.headers["Location"])
    back = client.post(
        asked.headers["Location"],
        data={**hidden_fields(text(reauth)), "password": coordinator.password, "code": coordinator.code()},
    )
    assert back.status_code == 303 and urlsplit(back.headers["Location"]).path == "/staff/people"
    page = text(client.get("/staff/people"))
    assert re.search(r'<input[^>]*name="email"[^>]*value="noor@example.org"', page)
    assert re.search(r'<input[^>]*name="name"[^>]*value="Noor Haddad"', page)
    assert re.search(r'<option selected value="counsel">|<option value="counsel" selected', page)
    # Kept once: the next visit shows an empty form.
    assert 'value="noor@example.org"' not in text(client.get("/staff/people"))


def test_a_kept_form_never_holds_a_password_or_code(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    person = make_staff("responder", email="rae@example.org", name="Rae")
    sign_in(client, coordinator)
    age_session(client, reauth=6 * 60)
    fields = hidden_fields(person_page(client, person.id))
    client.post(
        f"/staff/people/{person.id}/identity",
        data={
            **fields,
            "who-name": "Rae Moreno",
            "who-email": "rae@example.org",
            "who-role": "responder",
            "password": "a secret typed by mistake",
            "code": "123456",
        },
    )
    with client.session_transaction() as session:
        kept = session["kept_form"]
    assert kept["fields"] == {"who-name": "Rae Moreno", "who-email": "rae@example.org", "who-role": "responder"}
    reauth = client.get(f"/staff/reauth?next=/staff/people/{person.id}")
    client.post(
        f"/staff/reauth?next=/staff/people/{person.id}",
        data={**hidden_fields(text(reauth)), "password": coordinator.password, "code": coordinator.code()},
    )
    assert 'value="Rae Moreno"' in person_page(client, person.id)


def cookie_session(client: FlaskClient) -> dict[str, object]:
    """The session as anyone holding the browser's cookie reads it: signed, not encrypted."""
    app = client.application
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None
    data = serializer.loads(cookie.value)
    assert isinstance(data, dict)
    return data


def test_a_paging_address_sent_while_confirming_it_is_you_is_not_kept_in_the_cookie(
    client: FlaskClient,
) -> None:
    coordinator = make_staff("coordinator")
    sign_in(client, coordinator)
    people = client.get("/staff/people")
    paging = client.get("/staff/profile/paging")
    assert paging.status_code == 200
    age_session(client, reauth=6 * 60)
    # An invitation kept from before is replaced: nothing of it stays either.
    client.post(
        "/staff/people/invite",
        data={**hidden_fields(text(people)), "email": "noor@example.org", "name": "Noor", "role": "responder"},
    )
    assert "kept_form" in cookie_session(client)
    asked = client.post(
        "/staff/profile/paging",
        data={**hidden_fields(text(paging)), "url": "ntfys://ntfy.example.org/Yh4SecretTopicToken"},
    )
    assert asked.status_code == 303 and urlsplit(asked.headers["Location"]).path == "/staff/reauth"
    held = json.dumps(cookie_session(client))
    assert "Yh4SecretTopicToken" not in held and "ntfy" not in held
    assert "kept_form" not in held and "noor@example.org" not in held


def test_only_the_fields_an_invitation_names_are_kept_and_only_for_ten_minutes(client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    sign_in(client, coordinator)
    age_session(client, reauth=6 * 60)
    people = client.get("/staff/people")
    client.post(
        "/staff/people/invite",
        data={
            **hidden_fields(text(people)),
            "email": "noor@example.org",
            "name": "Noor Haddad",
            "role": "counsel",
            "url": "pover://user@Yh4SecretToken",
        },
    )
    kept = cookie_session(client)["kept_form"]
    assert isinstance(kept, dict)
    assert kept["fields"] == {"email": "noor@example.org", "name": "Noor Haddad", "role": "counsel"}
    # Not taken up within ten minutes: gone from the cookie on the next page, whichever it is.
    with client.session_transaction() as session:
        session["kept_form"] = {**session["kept_form"], "at": session["kept_form"]["at"] - 601}
    assert client.get("/staff/profile").status_code == 200
    assert "kept_form" not in cookie_session(client)


def test_a_kept_identity_edit_fills_in_only_that_persons_page(client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    rae = make_staff("responder", email="rae@example.org", name="Rae")
    bo = make_staff("responder", email="bo@example.org", name="Bo")
    sign_in(client, coordinator)
    fields = hidden_fields(person_page(client, rae.id))
    age_session(client, reauth=6 * 60)
    asked = client.post(
        f"/staff/people/{rae.id}/identity",
        data={**fields, "who-name": "Rae Moreno", "who-email": "rae.m@example.org", "who-role": "coordinator"},
    )
    assert urlsplit(asked.headers["Location"]).path == "/staff/reauth"
    # The coordinator gives up on confirming and opens someone else's page.
    reauth = client.get(asked.headers["Location"])
    client.post(
        f"/staff/reauth?next=/staff/people/{bo.id}",
        data={**hidden_fields(text(reauth)), "password": coordinator.password, "code": coordinator.code()},
    )
    page = person_page(client, bo.id)
    assert "Rae Moreno" not in page and "rae.m@example.org" not in page
    assert re.search(r'<input[^>]*name="who-email"[^>]*value="bo@example.org"', page)
    # Rae's own page still gets what was typed for her.
    page = person_page(client, rae.id)
    assert re.search(r'<input[^>]*name="who-name"[^>]*value="Rae Moreno"', page)
    assert re.search(r'<input[^>]*name="who-email"[^>]*value="rae.m@example.org"', page)


# --- a sign-in that a change of password or a reset overtakes ----------------------------


def test_a_sign_in_half_done_with_the_old_password_cannot_be_finished_after_a_change(
    client: FlaskClient, app: Flask
) -> None:
    counsel = make_staff("counsel", email="lex@example.org")
    thief = app.test_client()
    assert password_step(thief, "lex@example.org", counsel.password).status_code == 303
    accounts.change_password(counsel.user, OTHER_PASSWORD)
    code = thief.get("/staff/login/code")
    assert code.status_code == 303 and urlsplit(code.headers["Location"]).path == "/staff/login"
    assert "Please sign in again." in text(thief.get("/staff/login"))
    assert not signed_in(thief)
    # A code page opened before the change does not take the code either.
    assert password_step(thief, "lex@example.org", OTHER_PASSWORD).status_code == 303
    page = thief.get("/staff/login/code")
    assert page.status_code == 200
    accounts.change_password(db.session.get(StaffUser, counsel.id), "pepper lantern orchard meadow")  # type: ignore[arg-type]
    late = thief.post("/staff/login/code", data={**hidden_fields(text(page)), "code": counsel.code()})
    assert late.status_code == 303 and urlsplit(late.headers["Location"]).path == "/staff/login"
    assert not signed_in(thief)


def test_a_reset_committed_just_after_a_password_change_ends_that_session_too(client: FlaskClient, app: Flask) -> None:
    counsel = make_staff("counsel", email="lex@example.org")
    sign_in(client, counsel)
    page = client.get("/staff/profile/password")
    new_password: list[bool] = []

    def spot_the_new_password(session: Session, _: object) -> None:
        for changed in session.dirty:
            if isinstance(changed, StaffUser) and any(inspect(changed).attrs.password_hash.history.added):
                new_password.append(True)

    def reset_meanwhile(session: Session) -> None:
        # A coordinator's reset, in a request of its own, commits just after the new password
        # did, before the session in hand takes up the password change's epoch.
        if new_password == [True]:
            new_password.append(False)
            with app.app_context():
                accounts.reset_sign_in(db.session.get(StaffUser, counsel.id), by=None)  # type: ignore[arg-type]

    event.listen(Session, "after_flush", spot_the_new_password)
    event.listen(Session, "after_commit", reset_meanwhile)
    try:
        done = client.post(
            "/staff/profile/password",
            data={
                **hidden_fields(text(page)),
                "current_password": counsel.password,
                "code": counsel.code(),
                "new_password": OTHER_PASSWORD,
                "confirm": OTHER_PASSWORD,
            },
        )
    finally:
        event.remove(Session, "after_flush", spot_the_new_password)
        event.remove(Session, "after_commit", reset_meanwhile)
    assert done.status_code == 303 and new_password == [True, False]
    assert not user_by_email("lex@example.org").enrolled
    assert not signed_in(client)


# --- inviting someone again --------------------------------------------------------------


def invite_on_the_web(client: FlaskClient, email: str, role: str, name: str = "") -> tuple[int, str]:
    people = client.get("/staff/people")
    response = client.post(
        "/staff/people/invite", data={**hidden_fields(text(people)), "email": email, "name": name, "role": role}
    )
    return response.status_code, text(response)


def test_inviting_an_open_account_again_sends_a_link_and_changes_nobody(
    client: FlaskClient, app: Flask, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    coordinator, responder, _, _ = coordinator_and_responder(client, app)
    press(client, responder.id, "reset")
    send_pending()
    before = len(inbox.to("rae@example.org"))
    for role in ("counsel", "coordinator"):
        status, page = invite_on_the_web(client, "rae@example.org", role, name="Someone Else")
        assert status == 400 and "already has an account as responder" in page, role
        assert not INVITE_URL.search(page)
    status, page = invite_on_the_web(client, "rae@example.org", "responder", name="Someone Else")
    assert status == 200
    fields, _ = enrol_form(app.test_client(), enrolment_path(page))
    user = user_by_email("rae@example.org")
    assert (user.role, user.name, user.active) == ("responder", "", True)
    assert len(mails(inbox, "rae@example.org")) == before
    # Not as counsel through the back door, nor from the command line.
    result = app.test_cli_runner().invoke(args=["staff", "invite", "--role", "counsel", "--email", "rae@example.org"])
    assert result.exit_code != 0 and "already has an account as responder" in result.output
    assert user_by_email("rae@example.org").role == "responder"
