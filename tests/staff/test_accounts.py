"""Staff accounts as people meet them: an invitation, enrolment, signing in with password
and code, locks and throttles, sessions that end, and a coordinator closing an account."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import utcnow
from app.staff import credentials, services
from app.staff.models import LoginFailures, RecoveryCode, StaffInvite, StaffUser
from tests.conftest import app_with_limits
from tests.factories import Staff, make_staff, sign_in
from tests.helpers import hidden_fields
from tests.totp import step_now

ENROL_PATH = re.compile(r"^/staff/enrol/[A-Za-z0-9_-]{32,}$")
SECRET = re.compile(r'<code id="totp-secret"[^>]*>([A-Z2-7]+)</code>')
RECOVERY = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")
INVITE_URL = re.compile(r'<code id="invite-url"[^>]*>([^<]+)</code>')
NEW_PASSWORD = "amber kettle violin ninety north"

WRONG_LOGIN = "Wrong email or password, or too many tries. Wait a few minutes if so."
WRONG_CODE = "That code did not work. Enter the newest code from your app."
LINK_DEAD = "This link does not work any more"


# --- helpers -----------------------------------------------------------------------------


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def code_for(secret: str, last_step: int) -> str:
    """An unused code that stays valid for the next 30 seconds whatever the clock does.

    Never the previous step (it could expire before the server checks it), so two fresh
    codes per 30-second window: ample for any single test below."""
    current = step_now()
    step = max(current, last_step + 1)
    assert step <= current + 1, "no unused TOTP code left in this window"
    return pyotp.TOTP(secret).at(step * credentials.TOTP_STEP)


def wrong_code(secret: str) -> str:
    """Six digits that are no valid code for this secret now or in the next minute."""
    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time() + d * credentials.TOTP_STEP) for d in range(-2, 3)}
    return next(code for code in (f"{n:06d}" for n in range(10)) if code not in near)


def fresh_code(staff: Staff) -> str:
    db.session.refresh(staff.user)
    return code_for(staff.secret, staff.user.totp_last_step)


def password_step(client: FlaskClient, email: str, password: str) -> TestResponse:
    page = client.get("/staff/login")
    return client.post("/staff/login", data={**hidden_fields(text(page)), "email": email, "password": password})


def code_step(client: FlaskClient, code: str) -> TestResponse:
    page = client.get("/staff/login/code")
    if page.status_code != 200:
        return page
    return client.post("/staff/login/code", data={**hidden_fields(text(page)), "code": code})


def log_in(client: FlaskClient, email: str, password: str, code: str) -> TestResponse:
    first = password_step(client, email, password)
    if first.status_code != 303:
        return first
    return code_step(client, code)


def log_out(client: FlaskClient) -> None:
    page = client.get("/staff/profile")
    assert page.status_code == 200
    response = client.post("/staff/logout", data=hidden_fields(text(page)))
    assert response.status_code == 303
    assert client.get("/staff/profile").status_code == 303


def signed_in(client: FlaskClient) -> bool:
    """Whether the browser still has a staff session (the profile page is staff-only)."""
    response = client.get("/staff/profile")
    if response.status_code == 200:
        return True
    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/staff/login"
    return False


def invite_by_cli(app: Flask, email: str, role: str = "responder", name: str = "") -> str:
    """`flask staff invite`; returns the path of the URL on its last line."""
    args = ["staff", "invite", "--role", role, "--email", email]
    if name:
        args += ["--name", name]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    last_line = result.output.strip().splitlines()[-1]
    url = urlsplit(last_line)
    assert url.scheme in ("http", "https") and url.netloc, last_line
    assert ENROL_PATH.match(url.path), last_line
    return url.path


def enrol_form(client: FlaskClient, path: str) -> tuple[dict[str, str], str]:
    """Open the link, press "Show my key", and read the key."""
    page = client.get(path)
    assert page.status_code == 200 and not SECRET.search(text(page))
    assert client.post(path, data={**hidden_fields(text(page)), "start": "1"}).status_code == 303
    page = client.get(path)
    assert page.status_code == 200
    match = SECRET.search(text(page))
    assert match, "no TOTP secret on the enrolment page"
    return hidden_fields(text(page)), match.group(1)


def user_by_email(email: str) -> StaffUser:
    db.session.expire_all()
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
    assert user is not None
    return user


def recovery_rows(user: StaffUser) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(RecoveryCode).where(RecoveryCode.staff_id == user.id)) or 0
    )


def enrol(client: FlaskClient, app: Flask, email: str, role: str = "responder") -> tuple[StaffUser, str, list[str]]:
    """Invite by CLI and enrol through the page; returns the account, its TOTP secret and
    the recovery codes shown."""
    path = invite_by_cli(app, email, role)
    fields, secret = enrol_form(client, path)
    done = client.post(
        path,
        data={**fields, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "code": code_for(secret, 0)},
    )
    assert done.status_code == 200, text(done)
    return user_by_email(email), secret, RECOVERY.findall(text(done))


def age_session(client: FlaskClient, **seconds: int) -> None:
    """Move the staff session's clocks back: ``seen`` (idle), ``since`` and ``reauth``."""
    with client.session_transaction() as session:
        if "seen" in seconds:
            session["seen"] -= seconds.pop("seen")
        staff = dict(session["staff"])
        for key, value in seconds.items():
            staff[key] -= value
        session["staff"] = staff


# --- invitation and enrolment ------------------------------------------------------------


def test_cli_invite_prints_a_one_time_link_to_an_enrolment_page(client: FlaskClient, app: Flask) -> None:
    path = invite_by_cli(app, "Lena.Ortiz@Example.org", "responder", name="Lena Ortiz")
    user = user_by_email("lena.ortiz@example.org")
    assert (user.role, user.name, user.enrolled, user.active) == ("responder", "Lena Ortiz", False, True)
    assert db.session.scalars(select(StaffInvite).where(StaffInvite.staff_id == user.id)).one().used_at is None

    fields, _ = enrol_form(client, path)
    page = client.get(path)
    body = text(page)
    assert page.status_code == 200
    assert "Set up your account" in body and "lena.ortiz@example.org" in body and "responder" in body
    # The QR code is drawn on the server as inline SVG, with nothing loaded from elsewhere.
    qr = re.search(r'<div class="qr">\s*(<svg.*?</svg>)', body, re.S)
    assert qr and "<path" in qr.group(1)
    assert "<img" not in body and "http" not in qr.group(1).replace("http://www.w3.org/2000/svg", "")
    secret = SECRET.search(body)
    assert secret and len(secret.group(1)) >= 16
    # Reloading shows the same key: a person who scanned it first is not locked out.
    assert SECRET.search(text(client.get(path))).group(1) == secret.group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("password", "confirm", "code", "message"),
    [
        ("short words", "short words", "good", "That password is too short: use at least 12 characters."),
        ("password1234", "password1234", "good", "That password is too common or too easy to guess."),
        ("qwertyuiop123", "qwertyuiop123", "good", "That password is too common or too easy to guess."),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "good", "The two passwords differ."),
        (NEW_PASSWORD, NEW_PASSWORD, "wrong", "That code did not match."),
        (NEW_PASSWORD, NEW_PASSWORD, "stale", "That code did not match."),
    ],
    ids=["too-short", "common", "keyboard-walk", "mismatch", "wrong-code", "old-code"],
)
def test_enrolment_refuses_bad_choices_and_enrols_nothing(
    client: FlaskClient, app: Flask, password: str, confirm: str, code: str, message: str
) -> None:
    path = invite_by_cli(app, "new.person@example.org")
    fields, secret = enrol_form(client, path)
    totp = pyotp.TOTP(secret)
    codes = {
        "good": code_for(secret, 0),
        "wrong": wrong_code(secret),
        "stale": totp.at(time.time() - 5 * credentials.TOTP_STEP),
    }
    if code == "stale":
        # Five steps back is far outside the drift allowed; make sure it is no valid code by chance.
        assert codes[code] not in {totp.at(time.time() + d * credentials.TOTP_STEP) for d in (-1, 0, 1, 2)}
    response = client.post(path, data={**fields, "password": password, "confirm": confirm, "code": codes[code]})
    body = text(response)
    assert response.status_code == 400
    assert message in body
    assert "recovery-codes" not in body
    # The same key is still offered, and nothing about the account changed.
    assert SECRET.search(body).group(1) == secret  # type: ignore[union-attr]
    user = user_by_email("new.person@example.org")
    assert user.password_hash is None and user.totp_sealed is None and user.enrolled_at is None
    assert recovery_rows(user) == 0
    assert password_step(client, "new.person@example.org", password).status_code == 400
    # The link still works for a second try.
    assert client.get(path).status_code == 200


def test_enrolment_shows_ten_recovery_codes_once_and_the_link_dies(client: FlaskClient, app: Flask) -> None:
    path = invite_by_cli(app, "kai@example.org", "coordinator")
    fields, secret = enrol_form(client, path)
    done = client.post(
        path, data={**fields, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "code": code_for(secret, 0)}
    )
    body = text(done)
    assert done.status_code == 200
    codes = RECOVERY.findall(body)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "shown only now" in body
    user = user_by_email("kai@example.org")
    assert user.enrolled and user.active
    assert recovery_rows(user) == 10

    for method in (client.get, client.post):
        again = method(path, data={**fields, "password": "another password entirely", "confirm": "x", "code": "1"})
        assert again.status_code == 404
        assert LINK_DEAD in text(again)
        assert not RECOVERY.search(text(again)) and not SECRET.search(text(again))
    assert recovery_rows(user_by_email("kai@example.org")) == 10


def test_the_key_is_shown_only_to_the_browser_that_asked_for_it(client: FlaskClient, app: Flask) -> None:
    path = invite_by_cli(app, "noor@example.org")
    # A link scanner, or anyone who opens the link, sees no key, and makes none.
    scanner = app.test_client()
    for _ in range(2):
        assert not SECRET.search(text(scanner.get(path)))
    assert db.session.scalars(select(StaffInvite)).one().pending_totp_sealed is None
    fields, first = enrol_form(client, path)
    # Someone else who gets the link and asks for a key gets a new one; the first is void.
    other_fields, second = enrol_form(scanner, path)
    assert second != first
    stale = client.post(
        path, data={**fields, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "code": code_for(first, 0)}
    )
    assert stale.status_code == 400 and "started again in another browser" in text(stale)
    assert not SECRET.search(text(stale)) and user_by_email("noor@example.org").enrolled_at is None
    # Asking again gives the first browser a key of its own once more.
    fields, third = enrol_form(client, path)
    assert third not in (first, second)


def test_of_two_enrolments_at_once_only_one_lands(client: FlaskClient, app: Flask) -> None:
    path = invite_by_cli(app, "ravi@example.org")
    _, secret = enrol_form(client, path)
    invite = db.session.scalars(select(StaffInvite)).one()
    # The other post spends the invite between this one's checks and its write.
    with db.engine.begin() as other:
        other.execute(update(StaffInvite).values(used_at=utcnow()))
    with pytest.raises(services.StaffError, match="used"):
        services.enrol(invite, secret, "another long passphrase here", code_for(secret, 0))
    user = user_by_email("ravi@example.org")
    assert user.password_hash is None and user.enrolled_at is None and recovery_rows(user) == 0


def test_unknown_or_mangled_enrolment_links_show_the_dead_link_page(client: FlaskClient, app: Flask) -> None:
    path = invite_by_cli(app, "mira@example.org")
    for wrong in (path[:-1], path + "x", "/staff/enrol/" + "a" * 300):
        response = client.get(wrong)
        assert response.status_code == 404 and LINK_DEAD in text(response)


def test_enrolled_person_signs_in_with_password_and_code(client: FlaskClient, app: Flask) -> None:
    user, secret, _ = enrol(client, app, "ana@example.org", "responder")
    first = password_step(client, "ANA@example.org ", NEW_PASSWORD)
    assert first.status_code == 303 and urlsplit(first.headers["Location"]).path == "/staff/login/code"
    # The password alone opens nothing.
    assert client.get("/cases").status_code == 303
    landing = code_step(client, code_for(secret, user_by_email("ana@example.org").totp_last_step))
    assert landing.status_code == 303 and urlsplit(landing.headers["Location"]).path == "/cases"
    assert client.get("/cases").status_code == 200
    assert user_by_email("ana@example.org").last_login_at is not None


def test_the_code_used_to_enrol_cannot_sign_in(client: FlaskClient, app: Flask) -> None:
    path = invite_by_cli(app, "ben@example.org")
    fields, secret = enrol_form(client, path)
    enrol_code = code_for(secret, 0)
    done = client.post(path, data={**fields, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "code": enrol_code})
    assert done.status_code == 200
    refused = log_in(client, "ben@example.org", NEW_PASSWORD, enrol_code)
    assert refused.status_code == 400 and WRONG_CODE in text(refused)
    assert not signed_in(client)


def test_a_code_cannot_be_used_twice(client: FlaskClient) -> None:
    responder = make_staff("responder")
    code = fresh_code(responder)
    assert log_in(client, responder.user.email, responder.password, code).status_code == 303
    log_out(client)
    again = log_in(client, responder.user.email, responder.password, code)
    assert again.status_code == 400 and WRONG_CODE in text(again)
    assert not signed_in(client)
    # The next code works (from the same pending sign-in: no new password needed).
    assert code_step(client, fresh_code(responder)).status_code == 303
    assert signed_in(client)


def test_one_code_cannot_finish_two_sign_ins_racing_each_other(app: Flask) -> None:
    responder = make_staff("responder")
    code = fresh_code(responder)
    # Two requests in two processes: both have loaded the account before either checks the code.
    with app.app_context():
        second = db.session.get(StaffUser, responder.id)
        assert second is not None and second.totp_last_step == 0
        with app.app_context():
            first = db.session.get(StaffUser, responder.id)
            assert first is not None
            assert services.check_second_factor(first, code, "test-source")
        accepted_twice = services.check_second_factor(second, code, "test-source")
    assert not accepted_twice, "the same code signed in twice"


def test_totp_codes_allow_one_step_of_drift_and_never_repeat() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    now = 1_800_000_015.0  # the middle of step 60_000_000
    step = int(now // credentials.TOTP_STEP)

    def at(offset: int) -> str:
        return totp.at((step + offset) * credentials.TOTP_STEP)

    assert credentials.matching_step(secret, at(0), after_step=0, now=now) == step
    assert credentials.matching_step(secret, at(-1), after_step=0, now=now) == step - 1
    assert credentials.matching_step(secret, at(1), after_step=0, now=now) == step + 1
    assert credentials.matching_step(secret, at(-2), after_step=0, now=now) is None
    assert credentials.matching_step(secret, at(2), after_step=0, now=now) is None
    # Spaces as authenticator apps show them are fine; anything else is not a code.
    spaced = f"{at(0)[:3]} {at(0)[3:]}"
    assert credentials.matching_step(secret, spaced, after_step=0, now=now) == step
    for junk in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert credentials.matching_step(secret, junk, after_step=0, now=now) is None
    # Once a step is used, neither it nor an earlier one is accepted again, even a minute on.
    assert credentials.matching_step(secret, at(0), after_step=step, now=now) is None
    assert credentials.matching_step(secret, at(-1), after_step=step, now=now) is None
    assert credentials.matching_step(secret, at(0), after_step=step, now=now + 30) is None
    assert credentials.matching_step(secret, at(1), after_step=step, now=now) == step + 1


def test_a_recovery_code_signs_in_once(client: FlaskClient, app: Flask) -> None:
    _, _, codes = enrol(client, app, "cleo@example.org", "responder")
    # Typed carelessly: upper case, no dash, spaces around.
    sloppy = f"  {codes[3].replace('-', '').upper()} "
    landing = log_in(client, "cleo@example.org", NEW_PASSWORD, sloppy)
    assert landing.status_code == 303 and urlsplit(landing.headers["Location"]).path == "/cases"
    log_out(client)
    again = log_in(client, "cleo@example.org", NEW_PASSWORD, codes[3])
    assert again.status_code == 400 and WRONG_CODE in text(again)
    assert not signed_in(client)
    # Another one still works.
    assert code_step(client, codes[4]).status_code == 303
    assert signed_in(client)


def test_recovery_codes_belong_to_their_own_account(client: FlaskClient, app: Flask) -> None:
    _, _, codes = enrol(client, app, "dee@example.org", "responder")
    other = make_staff("responder")
    refused = log_in(client, other.user.email, other.password, codes[0])
    assert refused.status_code == 400 and WRONG_CODE in text(refused)
    assert not signed_in(client)


# --- locks and throttles -----------------------------------------------------------------


def scrub(body: str, *values: str) -> str:
    """A page without what legitimately differs between two attempts."""
    body = re.sub(r'name="csrf_token"[^>]*value="[^"]*"|value="[^"]*"[^>]*name="csrf_token"', "csrf", body)
    for value in values:
        body = body.replace(value, "EMAIL")
    return body


def test_five_wrong_passwords_lock_the_account_without_telling_anyone_it_exists(client: FlaskClient) -> None:
    responder = make_staff("responder")
    email = responder.user.email
    unknown = password_step(client, "nobody-here@example.org", "some password or other")
    assert unknown.status_code == 400 and WRONG_LOGIN in text(unknown)

    for attempt in range(credentials.LOCK_AFTER):
        wrong = password_step(client, email, f"not the password {attempt}")
        assert wrong.status_code == 400 and WRONG_LOGIN in text(wrong)
        assert scrub(text(wrong), email) == scrub(text(unknown), "nobody-here@example.org")

    # Now even the right password (and so the right code) gets nowhere, with the same answer.
    locked = password_step(client, email, responder.password)
    assert locked.status_code == 400
    assert scrub(text(locked), email) == scrub(text(unknown), "nobody-here@example.org")
    after = code_step(client, fresh_code(responder))
    assert after.status_code == 303 and urlsplit(after.headers["Location"]).path == "/staff/login"
    assert not signed_in(client)

    # When the wait runs out (moved into the past here), the right password and code work,
    # and she is told of the failed tries.
    wait_is_over()
    assert log_in(client, email, responder.password, fresh_code(responder)).status_code == 303
    assert "There were 5 failed sign-in attempt(s)" in text(client.get("/staff/profile"))
    assert signed_in(client)
    assert user_by_email(email).failed_logins == 0
    assert db.session.scalars(select(LoginFailures)).all() == []


def wait_is_over() -> None:
    """Move every failure back past the longest wait."""
    db.session.execute(update(LoginFailures).values(last_at=utcnow() - credentials.LOCK_FOR))
    db.session.commit()


# How long one place waits after its 5th wrong password, then after each one more: a minute,
# doubling, never more than a quarter of an hour.
BACKOFF_MINUTES = [1, 2, 4, 8, 15, 15]


def last_failure_ago(delta: timedelta) -> None:
    """Move the last failure back, as time passing would."""
    db.session.execute(update(LoginFailures).values(last_at=utcnow() - delta))
    db.session.commit()


def test_the_wait_after_wrong_passwords_starts_at_a_minute_and_grows_to_a_quarter_hour(client: FlaskClient) -> None:
    responder = make_staff("responder")
    email = responder.user.email
    for attempt in range(credentials.LOCK_AFTER):
        assert password_step(client, email, f"a typo {attempt}").status_code == 400
    for number, minutes in enumerate(BACKOFF_MINUTES, start=credentials.LOCK_AFTER):
        wait = timedelta(minutes=minutes)
        # Moments before the wait is over, even the right password is turned away (uncounted)...
        last_failure_ago(wait - timedelta(seconds=20))
        assert password_step(client, email, responder.password).status_code == 400, f"{number} failures"
        # ...and moments after it, it gets through.
        last_failure_ago(wait + timedelta(seconds=5))
        assert password_step(client, email, responder.password).status_code == 303, f"{number} failures"
        if number < credentials.LOCK_AFTER + len(BACKOFF_MINUTES) - 1:
            # One more slip, and the next wait is longer.
            assert password_step(client, email, f"another typo {number}").status_code == 400
    # With the right code as well she is in, and told how many tries failed.
    assert code_step(client, fresh_code(responder)).status_code == 303
    failed = credentials.LOCK_AFTER + len(BACKOFF_MINUTES) - 1
    assert f"There were {failed} failed sign-in attempt(s)" in text(client.get("/staff/profile"))


def test_guesses_from_elsewhere_do_not_keep_the_owner_out(client: FlaskClient, app: Flask) -> None:
    responder = make_staff("responder")
    email = responder.user.email
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for attempt in range(credentials.LOCK_AFTER + 3):
        assert password_step(attacker, email, f"guess {attempt}").status_code == 400
    # Tries while waiting are not counted: guessing cannot stretch the wait.
    failures = db.session.scalars(select(LoginFailures)).one()
    assert failures.failures == credentials.LOCK_AFTER
    # Even the right password waits, from there; from her own connection she signs in now.
    assert password_step(attacker, email, responder.password).status_code == 400
    assert log_in(client, email, responder.password, fresh_code(responder)).status_code == 303


def test_passwords_guessed_from_many_addresses_lock_nobody_out(client: FlaskClient, app: Flask) -> None:
    responder = make_staff("responder")
    email = responder.user.email
    for n in range(60):
        guesser = app.test_client()
        guesser.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        assert password_step(guesser, email, f"guess {n}").status_code == 400
    assert log_in(client, email, responder.password, fresh_code(responder)).status_code == 303
    assert "There were 60 failed sign-in attempt(s)" in text(client.get("/staff/profile"))


def test_codes_guessed_from_many_addresses_make_everyone_wait_a_while(client: FlaskClient, app: Flask) -> None:
    # Only someone with the password reaches the code: then the account itself is at risk.
    responder = make_staff("responder")
    email = responder.user.email
    for n in range(credentials.ACCOUNT_LOCK_AFTER):
        guesser = app.test_client()
        guesser.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        assert password_step(guesser, email, responder.password).status_code == 303
        assert code_step(guesser, wrong_code(responder.secret)).status_code == 400
    assert password_step(client, email, responder.password).status_code == 400
    wait_is_over()
    assert log_in(client, email, responder.password, fresh_code(responder)).status_code == 303


def test_an_ipv6_household_counts_as_one_source(client: FlaskClient, app: Flask) -> None:
    responder = make_staff("responder")
    for n in range(credentials.LOCK_AFTER):
        guesser = app.test_client()
        guesser.environ_base["REMOTE_ADDR"] = f"2001:db8:1:2::{n + 1:x}"
        assert password_step(guesser, responder.user.email, f"guess {n}").status_code == 400
    same_household = app.test_client()
    same_household.environ_base["REMOTE_ADDR"] = "2001:db8:1:2::abcd"
    assert password_step(same_household, responder.user.email, responder.password).status_code == 400
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "2001:db8:1:3::1"
    assert password_step(elsewhere, responder.user.email, responder.password).status_code == 303


def test_a_sign_in_half_done_before_the_lock_cannot_finish(client: FlaskClient, app: Flask) -> None:
    responder = make_staff("responder")
    assert password_step(client, responder.user.email, responder.password).status_code == 303
    attacker = app.test_client()
    for attempt in range(credentials.LOCK_AFTER):
        assert password_step(attacker, responder.user.email, f"guess {attempt}").status_code == 400
    refused = code_step(client, fresh_code(responder))
    assert refused.status_code == 400 and WRONG_CODE in text(refused)
    assert not signed_in(client)


def test_wrong_codes_lock_the_account_too(client: FlaskClient) -> None:
    responder = make_staff("responder")
    assert password_step(client, responder.user.email, responder.password).status_code == 303
    good = fresh_code(responder)
    for _ in range(credentials.LOCK_AFTER):
        assert code_step(client, wrong_code(responder.secret)).status_code == 400
    # The sixth try, with the right code, is refused: the account is locked.
    refused = code_step(client, good)
    assert refused.status_code == 400 and WRONG_CODE in text(refused)
    assert not signed_in(client)
    locked = password_step(client, responder.user.email, responder.password)
    assert locked.status_code == 400 and WRONG_LOGIN in text(locked)


@pytest.fixture
def strict_app(base_app: Flask, app: Flask, keys_dir: Path, log_file: Path) -> Iterator[Flask]:
    """The same database, with a staff_login limit of 3 a minute per client."""
    with app_with_limits(base_app, keys_dir, log_file, "login-limited", staff_login="3 per minute") as limited:
        yield limited


def test_sign_in_attempts_are_throttled_per_client(strict_app: Flask, redis_client: Redis) -> None:
    responder = make_staff("responder")
    guesser = strict_app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    # Different made-up addresses each time: no account lock is involved, only the client.
    for attempt in range(3):
        assert password_step(guesser, f"guess{attempt}@example.org", "a guessed password").status_code == 400
    throttled = password_step(guesser, responder.user.email, responder.password)
    assert throttled.status_code == 429
    assert "Please wait a little" in text(throttled)
    assert not signed_in(guesser)
    assert user_by_email(responder.user.email).failed_logins == 0

    # Another client is not affected, and the account itself was never locked.
    colleague = strict_app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert log_in(colleague, responder.user.email, responder.password, fresh_code(responder)).status_code == 303
    assert signed_in(colleague)
    # The counters live in Redis, keyed by a hash of the client, never by its address.
    keys = [key.decode() for key in redis_client.scan_iter("*staff.login*")]
    assert keys and not any("203.0.113.7" in key or "198.51.100.20" in key for key in keys)


# --- sessions ----------------------------------------------------------------------------


def test_idle_staff_session_ends_after_30_minutes(client: FlaskClient) -> None:
    sign_in(client, make_staff("responder"))
    assert client.get("/cases").status_code == 200
    age_session(client, seen=29 * 60)
    assert client.get("/cases").status_code == 200
    age_session(client, seen=31 * 60)
    ended = client.get("/cases")
    assert ended.status_code == 303 and urlsplit(ended.headers["Location"]).path == "/staff/login"
    login_page = client.get(ended.headers["Location"])
    assert "signed out after a while without activity" in text(login_page)
    assert client.get("/cases").status_code == 303


def test_staff_session_ends_after_12_hours_however_busy(client: FlaskClient) -> None:
    sign_in(client, make_staff("responder"))
    age_session(client, since=12 * 3600 - 60)
    assert client.get("/cases").status_code == 200
    age_session(client, since=2 * 60)
    ended = client.get("/cases")
    assert ended.status_code == 303 and urlsplit(ended.headers["Location"]).path == "/staff/login"
    assert client.get("/cases").status_code == 303


def test_the_12_hour_limit_is_explained(client: FlaskClient) -> None:
    sign_in(client, make_staff("responder"))
    age_session(client, since=12 * 3600 + 60)
    page = client.get("/cases", follow_redirects=True)
    assert "Your session reached its 12-hour limit. Please sign in again." in text(page)


def test_sign_out_ends_the_session(client: FlaskClient) -> None:
    sign_in(client, make_staff("coordinator"))
    log_out(client)
    page = client.get("/staff/login")
    assert "You are signed out." in text(page)
    assert client.get("/cases").status_code == 303


# --- coordinators managing people --------------------------------------------------------


def test_coordinator_deactivates_a_responder_after_confirming_it_is_them(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    responder = make_staff("responder", name="Rae Responder")
    theirs = app.test_client()
    sign_in(theirs, responder)
    assert theirs.get("/cases").status_code == 200

    sign_in(client, coordinator)
    # The last proof of identity is older than the re-authentication window.
    age_session(client, reauth=6 * 60)
    people = client.get("/staff/people")
    action = f"/staff/people/{responder.id}/deactivate"
    assert people.status_code == 200 and f'action="{action}"' in text(people)
    asked = client.post(action, data=hidden_fields(text(people)))
    assert asked.status_code == 303
    location = urlsplit(asked.headers["Location"])
    assert location.path == "/staff/reauth" and unquote(location.query) == "next=/staff/people"
    assert user_by_email(responder.user.email).active

    reauth_page = client.get(asked.headers["Location"])
    assert "Confirm it is you" in text(reauth_page)
    wrong = client.post(
        asked.headers["Location"],
        data={**hidden_fields(text(reauth_page)), "password": "not my password", "code": fresh_code(coordinator)},
    )
    assert wrong.status_code == 400 and "That password or code did not work." in text(wrong)
    confirmed = client.post(
        asked.headers["Location"],
        data={**hidden_fields(text(reauth_page)), "password": coordinator.password, "code": fresh_code(coordinator)},
    )
    assert confirmed.status_code == 303 and urlsplit(confirmed.headers["Location"]).path == "/staff/people"

    people = client.get("/staff/people")
    done = client.post(action, data=hidden_fields(text(people)), follow_redirects=True)
    assert done.status_code == 200
    assert "Rae Responder is deactivated and signed out everywhere." in text(done)
    row = re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(responder.user.email)}.*?</tr>", text(done), re.S)
    assert row and "deactivated" in row.group(0) and action not in row.group(0)
    assert not user_by_email(responder.user.email).active

    # The responder's open session ends at their very next request, and they cannot come back.
    cut_off = theirs.get("/cases")
    assert cut_off.status_code == 303 and urlsplit(cut_off.headers["Location"]).path == "/staff/login"
    assert not signed_in(theirs)
    refused = log_in(theirs, responder.user.email, responder.password, fresh_code(responder))
    assert refused.status_code == 400 and WRONG_LOGIN in text(refused)


def test_a_reauth_code_cannot_be_the_sign_in_code(client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    code = fresh_code(coordinator)
    assert log_in(client, coordinator.user.email, coordinator.password, code).status_code == 303
    age_session(client, reauth=6 * 60)
    page = client.get("/staff/reauth?next=/staff/people")
    refused = client.post(
        "/staff/reauth?next=/staff/people",
        data={**hidden_fields(text(page)), "password": coordinator.password, "code": code},
    )
    assert refused.status_code == 400 and "That password or code did not work." in text(refused)
    asked = client.post(
        f"/staff/people/{coordinator.id}/deactivate", data=hidden_fields(text(client.get("/staff/people")))
    )
    assert urlsplit(asked.headers["Location"]).path == "/staff/reauth"


def test_web_invite_shows_a_working_link(client: FlaskClient) -> None:
    sign_in(client, make_staff("coordinator"))
    people = client.get("/staff/people")
    response = client.post(
        "/staff/people/invite",
        data={**hidden_fields(text(people)), "email": "Noor@Example.org", "name": "Noor", "role": "counsel"},
    )
    assert response.status_code == 200
    match = INVITE_URL.search(text(response))
    assert match, "no enrolment link on the page"
    path = urlsplit(match.group(1)).path
    assert ENROL_PATH.match(path)
    assert "noor@example.org" in text(response) and "invited" in text(response)
    visitor = client.application.test_client()
    assert "counsel" in text(visitor.get(path))
    enrol_form(visitor, path)


def test_an_invite_to_something_that_is_not_an_address_is_refused_and_kept(client: FlaskClient) -> None:
    sign_in(client, make_staff("coordinator"))
    for email in ("@", "not an address @ <b>x</b>", "noor@example.org\nbcc: someone@example.net", "noor@localhost"):
        people = client.get("/staff/people")
        response = client.post(
            "/staff/people/invite",
            data={**hidden_fields(text(people)), "email": email, "name": "Noor", "role": "responder"},
        )
        assert "That is not an email address." in text(response), email
        assert not INVITE_URL.search(text(response))
    assert db.session.scalar(select(func.count()).select_from(StaffUser).where(StaffUser.name == "Noor")) == 0
    with pytest.raises(services.StaffError):
        services.invite_staff("noor@example.org\nbcc: someone@example.net", "responder")


def test_web_invite_needs_a_recent_proof_of_identity(client: FlaskClient) -> None:
    sign_in(client, make_staff("coordinator"))
    age_session(client, reauth=6 * 60)
    people = client.get("/staff/people")
    asked = client.post(
        "/staff/people/invite", data={**hidden_fields(text(people)), "email": "late@example.org", "role": "responder"}
    )
    assert asked.status_code == 303 and urlsplit(asked.headers["Location"]).path == "/staff/reauth"
    assert db.session.scalar(select(StaffUser).where(StaffUser.email == "late@example.org")) is None


def test_reinviting_an_enrolled_person_is_refused(client: FlaskClient, app: Flask) -> None:
    user, secret, _ = enrol(client, app, "eli@example.org", "responder")
    result = app.test_cli_runner().invoke(
        args=["staff", "invite", "--role", "coordinator", "--email", "ELI@example.org"]
    )
    assert result.exit_code != 0
    assert "eli@example.org already has an account" in result.output
    assert "/staff/enrol/" not in result.output

    coordinator = make_staff("coordinator")
    web = app.test_client()
    sign_in(web, coordinator)
    people = web.get("/staff/people")
    response = web.post(
        "/staff/people/invite", data={**hidden_fields(text(people)), "email": "eli@example.org", "role": "coordinator"}
    )
    assert response.status_code == 400
    assert "eli@example.org already has an account" in text(response)
    assert not INVITE_URL.search(text(response))

    # Nothing about the account changed: same role, same password and code, one used invite.
    again = user_by_email("eli@example.org")
    assert again.role == "responder" and again.password_hash == user.password_hash
    invites = db.session.scalars(select(StaffInvite).where(StaffInvite.staff_id == again.id)).all()
    assert len(invites) == 1 and invites[0].used_at is not None
    assert log_in(client, "eli@example.org", NEW_PASSWORD, code_for(secret, again.totp_last_step)).status_code == 303


def test_deactivating_an_invited_person_kills_their_link(client: FlaskClient, app: Flask) -> None:
    path = invite_by_cli(app, "gone@example.org", "responder")
    sign_in(client, make_staff("coordinator"))
    people = client.get("/staff/people")
    invited = user_by_email("gone@example.org")
    action = f"/staff/people/{invited.id}/deactivate"
    assert f'action="{action}"' in text(people)
    assert client.post(action, data=hidden_fields(text(people))).status_code == 303
    assert not user_by_email("gone@example.org").active

    visitor = app.test_client()
    page = visitor.get(path)
    if page.status_code == 200:
        fields, secret = enrol_form(visitor, path)
        visitor.post(
            path, data={**fields, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "code": code_for(secret, 0)}
        )
    assert not user_by_email("gone@example.org").active, "the deactivated invitee enrolled and is active again"
    assert page.status_code == 404 and LINK_DEAD in text(page)


def test_a_new_invitation_replaces_an_unused_link(client: FlaskClient, app: Flask) -> None:
    first = invite_by_cli(app, "fay@example.org", "coordinator")
    second = invite_by_cli(app, "fay@example.org", "coordinator")
    assert first != second
    dead = client.get(first)
    assert dead.status_code == 404 and LINK_DEAD in text(dead)
    page = client.get(second)
    assert page.status_code == 200 and "coordinator" in text(page)
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 1
