"""Imminent danger pages the on-call coordinator through Apprise, besides email, and falls back
to the next coordinator when a page fails. Pages go to a real HTTP server on loopback through
Apprise's json:// target."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.cases.exclusions import exclude
from app.extensions import db
from app.notify.models import PageAttempt
from app.notify.sending import send_pending
from app.notify.service import Notice, raise_notices
from app.staff.models import StaffUser
from app.staff.paging import set_paging_url
from app.triage.routing import route_case
from tests.conftest import run_worker
from tests.factories import Staff, make_case, make_staff, sign_in
from tests.helpers import submit_report
from tests.smtp import Inbox

NARRATIVE = "He has a knife and he is at the door right now, I am hiding in the treatment room"


class Pager:
    """An HTTP endpoint that records every page posted to it. Paths under /down/ answer 500,
    paths under /slow/ answer after ``slow_seconds``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str]]] = []
        self.slow_seconds = 0.0
        pager = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                pager.received.append((self.path, json.loads(body)))
                if self.path.startswith("/slow/"):
                    time.sleep(pager.slow_seconds)
                self.send_response(500 if self.path.startswith("/down/") else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[dict[str, str]]:
        return [page for at, page in self.received if at == path]


@pytest.fixture
def pager() -> Iterator[Pager]:
    endpoint = Pager()
    thread = threading.Thread(target=endpoint.server.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def coordinator(name: str, *, on_duty: bool, paging: str | None = None) -> Staff:
    person = make_staff("coordinator", name=name, email=f"{name.lower()}@example.org", on_duty=on_duty)
    if paging:
        set_paging_url(person.user, paging)
    return person


def case_page(client: FlaskClient, person: Staff, case_id: str) -> str:
    sign_in(client, person)
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_an_imminent_danger_report_pages_the_on_call_coordinator_once_saying_nothing_of_it(
    app: Flask, client: FlaskClient, pager: Pager
) -> None:
    ana = coordinator("Ana", on_duty=True, paging=pager.url("/ana/topic"))
    coordinator("Ben", on_duty=False, paging=pager.url("/ben/topic"))
    filed = submit_report(client, narrative=NARRATIVE, danger_now="yes", category="physical_assault")
    assert filed.status_code == 200
    run_worker(app)  # routing, then the urgent notices at once

    [page] = pager.to("/ana/topic")
    assert pager.to("/ben/topic") == [], "the off-duty coordinator is not woken when the page got through"
    assert page["title"] == "Confide: urgent — sign in now"
    assert "https://confide.example/staff/login" in page["message"]
    [case_id] = db.session.scalars(select(PageAttempt.case_id)).all()
    said = json.dumps(page).lower()
    for word in ("knife", "door", "hiding", "treatment", "assault", "physical", "l0", "level", case_id, case_id[:8]):
        assert word not in said, word

    send_pending()  # the digest run, then another urgent run: no page again
    send_pending(urgent_only=True)
    assert len(pager.received) == 1, "nothing is paged twice"
    page_text = case_page(client, ana, case_id)
    assert "Paged Ana at" in page_text and "(delivered)" in page_text


@pytest.mark.parametrize("failure", ["server error", "closed port", "too slow"])
def test_a_failed_page_falls_back_to_the_next_coordinator_and_the_case_says_so(
    app: Flask, client: FlaskClient, pager: Pager, smtp: tuple[Inbox, int], failure: str
) -> None:
    inbox, _ = smtp
    settings = app.config["CONFIDE"]
    app.config["CONFIDE"] = dataclasses.replace(
        settings, paging=dataclasses.replace(settings.paging, timeout_seconds=1)
    )
    pager.slow_seconds = 5
    broken = {
        "server error": pager.url("/down/ana"),
        "closed port": f"json://127.0.0.1:{closed_port()}/ana",
        "too slow": pager.url("/slow/ana"),
    }[failure]
    ana = coordinator("Ana", on_duty=True, paging=broken)
    coordinator("Cleo", on_duty=True)  # on duty, no paging address: email only, passed over
    coordinator("Ben", on_duty=False, paging=pager.url("/ben/topic"))
    coordinator("Dee", on_duty=False, paging=pager.url("/dee/topic"))
    case = make_case(narrative=NARRATIVE, danger_now="yes")
    route_case(case.id)

    started = time.monotonic()
    send_pending(urgent_only=True)
    assert time.monotonic() - started < 4, "an endpoint that does not answer holds the worker a few seconds at most"

    [page] = pager.to("/ben/topic")
    assert page["title"] == "Confide: urgent — sign in now"
    assert pager.to("/dee/topic") == [], "one page that got through is enough"
    assert any("urgent" in mail["Subject"] for mail in inbox.to("ben@example.org")), "Ben is emailed too"
    assert inbox.to("cleo@example.org") and inbox.to("ana@example.org")
    assert inbox.to("dee@example.org") == []

    send_pending(urgent_only=True)
    send_pending()
    assert len(pager.to("/ben/topic")) == 1, "nothing is paged twice"
    page_text = case_page(client, ana, case.id)
    assert "Page to Ana failed</strong> at" in page_text
    assert "; paged Ben instead (delivered)." in page_text


def test_when_every_page_fails_the_case_says_nobody_else_could_be_paged(
    app: Flask, client: FlaskClient, pager: Pager
) -> None:
    ana = coordinator("Ana", on_duty=True, paging=pager.url("/down/ana"))
    coordinator("Ben", on_duty=False, paging=pager.url("/down/ben"))
    case = make_case(narrative=NARRATIVE, danger_now="yes")
    route_case(case.id)
    send_pending(urgent_only=True)
    assert [path for path, _ in pager.received] == ["/down/ana", "/down/ben"]
    page_text = case_page(client, ana, case.id)
    assert "; paged Ben instead (failed)." in page_text
    assert "Page to Ben failed</strong>" in page_text and "nobody else could be paged" in page_text


def kept_from(case_id: str, *people: Staff) -> None:
    for person in people:
        exclude(case_id, person.id)
    db.session.commit()


def test_a_fallback_never_pages_a_coordinator_the_reporter_excluded(
    app: Flask, client: FlaskClient, pager: Pager, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    ana = coordinator("Ana", on_duty=True, paging=pager.url("/down/ana"))
    ben = coordinator("Ben", on_duty=False, paging=pager.url("/ben/topic"))
    coordinator("Dee", on_duty=False, paging=pager.url("/dee/topic"))
    case = make_case(narrative=NARRATIVE, danger_now="yes")
    kept_from(case.id, ben)
    route_case(case.id)
    send_pending(urgent_only=True)
    assert pager.to("/ben/topic") == [] and inbox.to("ben@example.org") == [], "Ben cannot open the case"
    assert len(pager.to("/dee/topic")) == 1
    assert "; paged Dee instead (delivered)." in case_page(client, ana, case.id)


def test_a_page_to_a_coordinator_who_cannot_open_the_case_does_not_count_as_delivered(app: Flask, pager: Pager) -> None:
    ana = coordinator("Ana", on_duty=True, paging=pager.url("/ana/topic"))
    coordinator("Ben", on_duty=False, paging=pager.url("/ben/topic"))
    case = make_case(narrative=NARRATIVE, danger_now="yes")
    kept_from(case.id, ana)
    # An urgent notice raised to her all the same (by any path): her page is no answer.
    raise_notices([Notice(ana.id, case.id, "urgent", f"urgent:{case.id}:{ana.id}", urgent=True)])
    db.session.commit()
    send_pending(urgent_only=True)
    assert len(pager.to("/ana/topic")) == 1
    assert len(pager.to("/ben/topic")) == 1, "someone who can open the case is paged"


def test_a_reporter_who_excluded_every_coordinator_still_has_them_paged(app: Flask, pager: Pager) -> None:
    # Nobody else could act on the case: danger is never left unheard (see Coordinators.kept_away).
    ana = coordinator("Ana", on_duty=True, paging=pager.url("/ana/topic"))
    ben = coordinator("Ben", on_duty=False, paging=pager.url("/ben/topic"))
    case = make_case(narrative=NARRATIVE, danger_now="yes")
    kept_from(case.id, ana, ben)
    route_case(case.id)
    send_pending(urgent_only=True)
    assert len(pager.to("/ana/topic")) == 1
    assert pager.to("/ben/topic") == [], "the page that got through is enough"


def test_two_workers_at_once_page_nobody_twice(app: Flask, pager: Pager) -> None:
    coordinator("Ana", on_duty=True, paging=pager.url("/slow/ana"))
    pager.slow_seconds = 0.5
    case = make_case(narrative=NARRATIVE, danger_now="yes")
    route_case(case.id)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                start.wait()
                send_pending(urgent_only=True)
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert not errors
    assert len(pager.to("/slow/ana")) == 1
    assert db.session.scalars(select(PageAttempt.ok)).all() == [True]


def test_a_coordinator_without_a_paging_address_is_emailed_only(
    app: Flask, pager: Pager, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    coordinator("Ana", on_duty=True)
    coordinator("Ben", on_duty=False, paging=pager.url("/ben/topic"))
    route_case(make_case(narrative=NARRATIVE, danger_now="yes").id)
    send_pending(urgent_only=True)
    assert inbox.to("ana@example.org") and pager.received == []
    assert db.session.scalars(select(PageAttempt)).all() == []


def test_the_paging_address_is_never_in_the_clear(
    app: Flask,
    client: FlaskClient,
    pager: Pager,
    redis_client: Redis,
    log_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_path = "/down/Zq7SecretToken"
    ana = coordinator("Ana", on_duty=True, paging=pager.url(secret_path))
    ben = coordinator("Ben", on_duty=False, paging=f"json://127.0.0.1:{closed_port()}/Kx9OtherToken")
    submit_report(client, narrative=NARRATIVE, danger_now="yes")
    run_worker(app)
    assert len(pager.to(secret_path)) == 1
    page_text = case_page(client, ana, db.session.scalars(select(PageAttempt.case_id)).first() or "")
    assert "Page to Ben failed" in page_text

    secrets = ("Zq7SecretToken", "Kx9OtherToken", f"127.0.0.1:{pager.port}")
    for person in (ana, ben):
        raw = db.session.execute(
            text("SELECT paging_sealed FROM staff_users WHERE id = :id"), {"id": person.id}
        ).scalar_one()
        assert raw and not any(secret.encode() in bytes(raw) for secret in secrets)
    for table in ("page_attempts", "notifications", "audit_log"):
        rows = " ".join(str(row) for row in db.session.execute(text(f"SELECT * FROM {table}")))
        assert not any(secret in rows for secret in secrets), table
    for key in redis_client.scan_iter():
        dumped = redis_client.dump(key) or b""
        assert not any(secret.encode() in dumped for secret in secrets), key
    logged = log_file.read_text(encoding="utf-8")
    assert "page to staff" in logged, "the page was logged, by ids"
    assert not any(secret in logged for secret in secrets)
    assert not any(secret in record.getMessage() for record in caplog.records for secret in secrets)
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "case_paged")).all()
    assert db.session.get(StaffUser, ana.id) is not None
