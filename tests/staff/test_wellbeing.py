"""A responder's own load, and "I need a break": off duty in one press, back on duty when the
return time comes (through the periodic sweep and a real worker), or by hand."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select, text
from werkzeug.test import TestResponse

from app.audit.models import AuditEntry
from app.cases.models import Case
from app.casework.services import assign, change_status
from app.extensions import db
from app.models import utcnow
from app.program import accounts
from app.staff.breaks import end_due_breaks, next_morning
from app.staff.models import StaffUser
from app.templating import local_time
from app.triage.queue import queue_names, redis_connection
from app.triage.routing import route_case
from tests.conftest import run_worker
from tests.factories import Staff, make_case, make_staff, sign_in
from tests.helpers import hidden_fields
from tests.triage.test_routing import fresh, responder, told

LOAD = "/staff/load"
NOT_PAGED = "You will not be paged for imminent danger while on a break; the other coordinators on duty will be."


def page(client: FlaskClient, path: str = LOAD, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status
    return response.get_data(as_text=True)


def figure(html: str, name: str) -> str:
    found = re.search(rf'id="{name}">([^<]*)<', html)
    assert found, f"no {name} on the page"
    return found.group(1).strip()


def given(staff: Staff, *, level: int, at: datetime) -> Case:
    """A case of ``level`` that routing gave ``staff`` at ``at``."""
    case = make_case()
    case.level = level
    db.session.commit()
    assert route_case(case.id, now=at) == "assigned"
    assert fresh(case).assigned_to_id == staff.id
    return fresh(case)


def person(staff: Staff) -> StaffUser:
    db.session.expire_all()
    found = db.session.get(StaffUser, staff.id)
    assert found is not None
    return found


def press_break(client: FlaskClient, **choice: str) -> TestResponse:
    form = hidden_fields(page(client))
    return client.post(f"{LOAD}/break", data={**form, **choice})


def sweep(app: Flask) -> None:
    """The periodic pass, queued as the clock queues it, run by a real worker."""
    Queue(queue_names()[1], connection=redis_connection(), serializer="json").enqueue("workers.jobs.sweep_and_escalate")
    run_worker(app)


def time_passes_until_the_break_ends(staff: Staff) -> None:
    """As if the clock had reached the return time (a minute past)."""
    db.session.execute(
        text("UPDATE staff_users SET break_until = :past WHERE id = :id"),
        {"past": utcnow() - timedelta(minutes=1), "id": staff.id},
    )
    db.session.commit()


def audited(action: str, staff: Staff) -> list[dict[str, object]]:
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
    return [entry.detail for entry in entries if entry.detail.get("staff") == staff.id]


def test_a_responder_sees_their_own_load(app: Flask, client: FlaskClient) -> None:
    dana = responder(name="Dana")
    coordinator = make_staff("coordinator", on_duty=False)
    birch = make_staff("responder", name="Birch")  # untrained: routing never picks him
    now = utcnow()
    given(dana, level=1, at=now - timedelta(days=9))  # before the week: open, not counted as recent
    closed = given(dana, level=1, at=now - timedelta(hours=50))
    change_status(dana.user, closed, "closed", reason="resolved")  # closed, but she read it this week
    reassigned = given(dana, level=0, at=now - timedelta(hours=5))
    given(dana, level=3, at=now - timedelta(hours=1))  # open, not severe
    birchs = make_case(assigned_to=birch)
    birchs.level = 0
    db.session.commit()

    sign_in(client, dana)
    html = page(client)
    assert figure(html, "open-cases") == "3 of your cap of 5"
    assert figure(html, "severe-week") == "2"
    assert figure(html, "since-severe") == "5 hours"
    assert 'id="over-limit"' not in html

    # A coordinator gives her Birch's severe case, and moves one of hers to Birch: what she
    # was given stays given, what she holds now counts too.
    assign(coordinator.user, fresh(birchs), dana.id)
    assign(coordinator.user, fresh(reassigned), birch.id)
    html = page(client)
    assert figure(html, "open-cases") == "3 of your cap of 5"
    assert figure(html, "severe-week") == "3"
    assert figure(html, "since-severe") == "less than an hour"
    # Over the program's limit of 3 (one more), she is told it is fine to step back.
    given(dana, level=0, at=utcnow())
    assert "more than the program's guide of 3" in page(client)

    # Birch sees his own figures, never hers.
    birch_browser = client.application.test_client()
    sign_in(birch_browser, birch)
    html = page(birch_browser)
    assert figure(html, "severe-week") == "1" and figure(html, "open-cases") == "1 of your cap of 5"


def test_i_need_a_break_takes_them_off_duty_and_routing_passes_them_over(app: Flask, client: FlaskClient) -> None:
    make_staff("coordinator", on_duty=False)
    dana = responder(name="Dana")
    sign_in(client, dana)
    assert "You are on duty" in page(client)

    done = press_break(client)  # one press: the first choice, until she turns duty back on
    assert done.status_code == 303
    html = page(client)
    assert "You are on a break until you turn duty back on" in html and "You are off duty" in html
    assert not person(dana).on_duty and person(dana).break_until is None
    assert audited("staff_break_started", dana) == [{"staff": dana.id, "until": None, "was_on_duty": True}]

    case = make_case()
    run_worker(app)
    assert fresh(case).assigned_to_id is None and fresh(case).routing_state == "coordinators"


def test_the_return_time_puts_them_back_on_duty_through_the_sweep(app: Flask, client: FlaskClient) -> None:
    make_staff("coordinator", on_duty=False)
    dana = responder(name="Dana")
    sign_in(client, dana)
    before = utcnow()
    assert press_break(client, until="2h").status_code == 303
    until = person(dana).break_until
    assert until is not None and timedelta(minutes=119) <= until - before <= timedelta(minutes=121)
    assert "You are on a break until" in page(client) and ">On a break<" in page(client)

    case = make_case()
    run_worker(app)
    assert fresh(case).routing_state == "coordinators"
    sweep(app)  # before the time: nothing changes
    assert not person(dana).on_duty and fresh(case).assigned_to_id is None

    time_passes_until_the_break_ends(dana)
    sweep(app)
    assert person(dana).on_duty and person(dana).break_until is None
    assert fresh(case).assigned_to_id == dana.id, "the waiting case is offered to her"
    assert audited("staff_break_ended", dana) == [{"staff": dana.id, "how": "time"}]
    sweep(app)  # a second sweep ends nothing twice
    assert len(audited("staff_break_ended", dana)) == 1
    assert "You are on duty" in page(client)


def test_duty_turned_on_by_hand_ends_the_break(app: Flask, client: FlaskClient) -> None:
    dana = responder(name="Dana")
    sign_in(client, dana)
    assert press_break(client, until="2h").status_code == 303
    profile = page(client, "/staff/profile")
    assert 'id="on-break"' in profile
    fields = {**hidden_fields(profile), "languages": "en"}
    assert client.post("/staff/profile", data={**fields, "on_duty": "y"}).status_code == 303
    assert person(dana).on_duty and person(dana).break_until is None
    assert audited("staff_break_ended", dana) == [{"staff": dana.id, "how": "by_hand"}]
    # Off duty again by hand: the old return time no longer puts her back.
    assert client.post("/staff/profile", data=fields).status_code == 303
    assert end_due_breaks(now=utcnow() + timedelta(hours=3)) == []
    assert not person(dana).on_duty

    # The same through "I'm back" on the load page; what waited meanwhile is offered to her.
    assert press_break(client, until="morning").status_code == 303
    case = make_case()
    run_worker(app)
    assert fresh(case).routing_state == "coordinators"
    back = client.post(f"{LOAD}/back", data=hidden_fields(page(client)))
    assert back.status_code == 303
    assert person(dana).on_duty and person(dana).break_until is None
    assert "You are on duty again" in page(client)
    assert run_worker(app) == 1 and fresh(case).assigned_to_id == dana.id
    assert audited("staff_break_ended", dana)[-1] == {"staff": dana.id, "how": "by_hand"}


def test_a_deactivated_or_reset_person_is_not_put_back_on_duty(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    dana, emil = responder(name="Dana"), responder(name="Emil")
    for staff in (dana, emil):
        browser = client.application.test_client()
        sign_in(browser, staff)
        assert press_break(browser, until="1h").status_code == 303
    accounts.deactivate(person(dana), by=coordinator.user)
    accounts.reset_sign_in(person(emil), by=coordinator.user)
    # Reactivated before her return time, she turns duty on when she is ready: her old break
    # does not do it for her.
    accounts.reactivate(person(dana), by=coordinator.user)
    assert end_due_breaks(now=utcnow() + timedelta(hours=2)) == [] and not person(dana).on_duty
    accounts.deactivate(person(dana), by=coordinator.user)
    for staff in (dana, emil):
        # Even with a return time left over (written before, or by another version).
        time_passes_until_the_break_ends(staff)
    make_case()
    sweep(app)
    assert not person(dana).on_duty and not person(emil).on_duty
    assert person(dana).break_until is None and person(emil).break_until is None
    assert audited("staff_break_ended", dana) == audited("staff_break_ended", emil) == []


def test_a_forged_break_is_refused(app: Flask, client: FlaskClient) -> None:
    dana = responder(name="Dana")
    sign_in(client, dana)
    page(client)
    assert client.post(f"{LOAD}/break", data={"until": "open"}).status_code == 400
    assert client.post(f"{LOAD}/break", data={"until": "open", "csrf_token": "forged"}).status_code == 400
    assert person(dana).on_duty and not audited("staff_break_started", dana)


def test_a_time_of_ones_own_is_in_the_programs_zone_and_still_to_come(app: Flask, client: FlaskClient) -> None:
    dana = responder(name="Dana")
    sign_in(client, dana)
    zone = ZoneInfo(app.config["CONFIDE"].display_timezone)
    past = (utcnow() - timedelta(hours=1)).astimezone(zone)
    refused = press_break(client, until="at", at=past.strftime("%Y-%m-%dT%H:%M"))
    assert refused.status_code == 400 and "That time has passed" in refused.get_data(as_text=True)
    far = (utcnow() + timedelta(days=20)).astimezone(zone)
    refused = press_break(client, until="at", at=far.strftime("%Y-%m-%dT%H:%M"))
    assert refused.status_code == 400 and "14 days at most" in refused.get_data(as_text=True)
    assert press_break(client, until="at").status_code == 400
    assert person(dana).on_duty

    wanted = (utcnow() + timedelta(days=1)).astimezone(zone).replace(hour=18, minute=30, second=0, microsecond=0)
    assert press_break(client, until="at", at=wanted.strftime("%Y-%m-%dT%H:%M")).status_code == 303
    assert person(dana).break_until == wanted.astimezone(UTC)
    assert f"until {wanted:%Y-%m-%d %H:%M %Z}" in page(client)


def test_tomorrow_morning_is_the_next_nine_oclock_in_the_programs_zone() -> None:
    zone = ZoneInfo("America/New_York")
    late = datetime(2026, 3, 7, 23, 10, tzinfo=zone)  # the night before clocks go forward
    assert next_morning(late.astimezone(UTC), zone) == datetime(2026, 3, 8, 9, 0, tzinfo=zone)
    small_hours = datetime(2026, 3, 8, 1, 30, tzinfo=zone)
    assert next_morning(small_hours, zone) == datetime(2026, 3, 8, 9, 0, tzinfo=zone)
    assert next_morning(datetime(2026, 3, 8, 9, 0, tzinfo=zone), zone) == datetime(2026, 3, 9, 9, 0, tzinfo=zone)


def test_duty_turned_off_by_a_coordinator_cancels_the_return_of_a_break(app: Flask, client: FlaskClient) -> None:
    cora = make_staff("coordinator", name="Cora", on_duty=False)
    dana = responder(name="Dana")
    danas_browser = client.application.test_client()
    sign_in(danas_browser, dana)
    assert press_break(danas_browser, until="morning").status_code == 303
    until = person(dana).break_until
    assert until is not None

    # Dana asks to be taken off: Cora sees the break on her page, and saves with duty off.
    sign_in(client, cora)
    edit = page(client, f"/staff/people/{dana.id}")
    assert f"On a break until {local_time(until)}" in edit
    fields = {**hidden_fields(edit), "languages": "en", "caseload_cap": "5"}
    saved = client.post(f"/staff/people/{dana.id}", data=fields, follow_redirects=True)
    assert "Dana stays off duty until duty is turned on again" in saved.get_data(as_text=True)
    assert not person(dana).on_duty and person(dana).break_until is None
    assert 'id="on-break"' not in page(client, f"/staff/people/{dana.id}")
    assert audited("staff_break_return_cancelled", dana) == [{"staff": dana.id, "until": until.isoformat()}]
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "staff_break_return_cancelled"))
    assert entry.actor_id == cora.id

    # At 9 am the sweep leaves her off duty, and the case that comes waits for someone else.
    assert end_due_breaks(now=until + timedelta(minutes=1)) == []
    case = make_case(danger_now="yes")
    run_worker(app)
    assert not person(dana).on_duty and fresh(case).assigned_to_id is None
    assert "You are off duty" in page(danas_browser)


def test_duty_turned_off_on_ones_profile_cancels_the_return_of_a_break(app: Flask, client: FlaskClient) -> None:
    dana = responder(name="Dana")
    sign_in(client, dana)
    assert press_break(client, until="2h").status_code == 303
    until = person(dana).break_until
    assert until is not None
    profile = page(client, "/staff/profile")
    assert "Saving with it unticked keeps you off duty" in profile
    saved = client.post("/staff/profile", data={**hidden_fields(profile), "languages": "en"}, follow_redirects=True)
    assert "You stay off duty until you turn duty back on" in saved.get_data(as_text=True)
    assert not person(dana).on_duty and person(dana).break_until is None
    assert audited("staff_break_return_cancelled", dana) == [{"staff": dana.id, "until": until.isoformat()}]
    assert end_due_breaks(now=until + timedelta(minutes=1)) == []
    assert not person(dana).on_duty
    # Saved again off duty, with no break left: nothing more to cancel.
    client.post("/staff/profile", data={**hidden_fields(page(client, "/staff/profile")), "languages": "en"})
    assert len(audited("staff_break_return_cancelled", dana)) == 1


def test_a_coordinator_is_told_a_break_stops_the_pages_and_danger_still_reaches_someone(
    app: Flask, client: FlaskClient
) -> None:
    cora, ben = make_staff("coordinator", name="Cora"), make_staff("coordinator", name="Ben")
    dana = responder(name="Dana", on_duty=False)
    danas_browser = client.application.test_client()
    sign_in(danas_browser, dana)
    assert NOT_PAGED not in page(danas_browser), "a responder is never paged: nothing to tell her"

    sign_in(client, cora)
    assert NOT_PAGED in page(client)
    taken = client.post(f"{LOAD}/break", data={**hidden_fields(page(client)), "until": "2h"}, follow_redirects=True)
    assert NOT_PAGED in taken.get_data(as_text=True) and NOT_PAGED in page(client)
    danger = make_case(danger_now="yes")
    run_worker(app)
    assert told("urgent", danger) == {ben.id}, "the coordinator on duty is paged, not the one on a break"

    # Ben takes a break too: nobody is on duty, and danger reaches both of them all the same.
    bens_browser = client.application.test_client()
    sign_in(bens_browser, ben)
    assert press_break(bens_browser, until="open").status_code == 303
    more_danger = make_case(danger_now="yes")
    run_worker(app)
    assert told("urgent", more_danger) == {cora.id, ben.id}


def test_an_expired_page_says_so_and_keeps_them_where_they_were(app: Flask, client: FlaskClient) -> None:
    dana = responder(name="Dana")
    sign_in(client, dana)
    assert press_break(client, until="2h").status_code == 303
    until = person(dana).break_until

    stale = client.post(f"{LOAD}/back", data={"csrf_token": "from a page left open overnight"})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 400
    assert "This page had expired, so nothing changed: you are still on a break." in html
    assert figure(html, "duty-state").startswith("You are on a break until")
    assert not person(dana).on_duty and person(dana).break_until == until
    # The page given back works: one more press and she is on duty.
    assert client.post(f"{LOAD}/back", data=hidden_fields(html)).status_code == 303
    assert person(dana).on_duty

    stale = client.post(f"{LOAD}/break", data={"csrf_token": "stale", "until": "1h"})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 400
    assert "This page had expired, so nothing changed: you are still on duty." in html
    assert re.search(r'<input checked[^>]*value="1h"', html), "the return time chosen is kept"
    assert person(dana).on_duty and len(audited("staff_break_started", dana)) == 1
    assert client.post(f"{LOAD}/break", data=hidden_fields(html) | {"until": "1h"}).status_code == 303
    assert not person(dana).on_duty
