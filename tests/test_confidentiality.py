"""Nothing a reporter writes is readable at rest: not in the database files, not in
Redis, not in the logs. The test writes unique markers and then searches for them."""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import make_url

from tests.conftest import run_worker
from tests.helpers import form_values, hidden_fields, open_status, receipt_from, submit_report, submit_support


def redis_values(client: Redis) -> list[bytes]:
    """Every value in the test's Redis database, with RQ's compressed job data unpacked."""
    values: list[bytes] = []
    for key in client.scan_iter(count=500):
        values.append(key)
        kind = client.type(key)
        if kind == b"string":
            values.append(client.get(key) or b"")
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                values.extend([field, value])
                try:
                    values.append(zlib.decompress(value))
                except zlib.error:
                    pass
        elif kind == b"list":
            values.extend(client.lrange(key, 0, -1))
        elif kind == b"set":
            values.extend(client.smembers(key))
        elif kind == b"zset":
            values.extend(client.zrange(key, 0, -1))
        elif kind == b"stream":
            values.append(repr(client.xrange(key)).encode())
    return values


def database_bytes(app: Flask) -> bytes:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        files = [path, path.with_name(path.name + "-wal")]
        assert files[1].exists(), "expected a WAL file next to the SQLite database"
        # Read by another process. Closing a descriptor of the database file here would drop
        # every SQLite lock this process holds on it (POSIX locks belong to the process), so
        # the next worker to close its last connection would think itself the last user,
        # checkpoint and delete the WAL, and this process's pooled connections would write
        # on into the deleted file, unseen by every later worker (sqlite.org/howtocorrupt.html).
        return b"".join(
            subprocess.run(["cat", str(f)], capture_output=True, check=True, timeout=60).stdout
            for f in files
            if f.exists()
        )
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is needed to check the PostgreSQL tables")
    dumped = subprocess.run(
        [
            pg_dump,
            "--data-only",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            str(url.database),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert b"COPY public.cases" in dumped.stdout
    return dumped.stdout


def test_markers_never_appear_at_rest(
    app: Flask, client: FlaskClient, redis_client: Redis, log_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = f"MARKER{secrets.token_hex(8)}"
    response = submit_report(
        client,
        identity="named",
        name=f"{marker}-name",
        email=f"{marker.lower()}@example.org",
        phone="860-555-0199",
        code_word=f"{marker}-codeword",
        safe_times=f"{marker}-times",
        contact_email="y",
        narrative=f"What happened: {marker}-narrative. Él está aquí.",
        category="rape",
        when="72h",
    )
    receipt = receipt_from(response)
    page = open_status(client, receipt).get_data(as_text=True)
    assert f"{marker}-narrative" in page, "the reporter must be able to read it back"
    client.post(
        "/status/message",
        data={**hidden_fields(page), "body": f"{marker}-message", "kind": "information"},
    )
    run_worker(app)
    nowhere_at_rest(app, redis_client, log_file, caplog, marker, receipt)


def nowhere_at_rest(
    app: Flask, redis_client: Redis, log_file: Path, caplog: pytest.LogCaptureFixture, marker: str, receipt: str
) -> None:
    """Neither ``marker`` nor ``receipt`` is in the database files, Redis or the logs."""
    needles = [marker.encode(), marker.lower().encode(), receipt.encode(), receipt.replace("-", "").encode()]
    stored = database_bytes(app)
    assert b"coordinators" in stored, "the search must cover the rows themselves"
    for needle in needles:
        assert needle not in stored
    in_redis = redis_values(redis_client)
    assert any(b"workers.jobs.route_case" in value for value in in_redis), "the job must be searched"
    for value in in_redis:
        for needle in needles:
            assert needle not in value, f"found in Redis: {value[:80]!r}"
    logged = log_file.read_text(encoding="utf-8") + "\n".join(r.getMessage() for r in caplog.records)
    assert "received at level L" in logged, "the app should have logged the intake"
    for needle in needles:
        assert needle.decode() not in logged
    # No client address either: the test client connects from 127.0.0.1.
    assert "127.0.0.1" not in logged


def test_a_support_request_and_the_report_it_becomes_are_never_in_clear_at_rest(
    app: Flask, client: FlaskClient, redis_client: Redis, log_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = f"MARKER{secrets.token_hex(8)}"
    response = submit_support(
        client,
        narrative=f"On my mind: {marker}-support. Mi jefe me grita.",
        identity="named",
        name=f"{marker}-name",
        email=f"{marker.lower()}@example.org",
        code_word=f"{marker}-codeword",
        contact_email="y",
    )
    receipt = receipt_from(response)
    page = open_status(client, receipt).get_data(as_text=True)
    assert f"{marker}-support" in page, "the reporter must be able to read it back"
    client.post("/status/message", data={**hidden_fields(page), "body": f"{marker}-message"})
    typed = form_values(client.get("/status/report").get_data(as_text=True), "/status/report")
    assert typed["narrative"] == [f"On my mind: {marker}-support. Mi jefe me grita."]
    turned = client.post(
        "/status/report",
        data={**typed, "narrative": f"{typed['narrative'][0]} And {marker}-report.", "category": "threats"},
    )
    assert turned.status_code == 303
    run_worker(app)
    nowhere_at_rest(app, redis_client, log_file, caplog, marker, receipt)


def test_what_a_reporter_does_is_timed_to_the_minute_only(app: Flask, client: FlaskClient) -> None:
    from sqlalchemy import select

    from app.audit.models import AuditEntry
    from app.cases.models import Case, ConsentRecord, Message
    from app.extensions import db
    from app.notify.models import Notification
    from app.triage.models import RoutingRound
    from app.triage.routing import route_case
    from tests.triage.test_routing import responder

    responder(pseudonym="Maple")
    receipt = receipt_from(submit_report(client, narrative="He waits by my car after work."))
    case = db.session.scalars(select(Case)).one()
    route_case(case.id)
    page = open_status(client, receipt).get_data(as_text=True)
    for body in ("First, this.", "Then this.", "And this."):
        sent = client.post("/status/message", data={**hidden_fields(page), "body": body, "kind": "message"})
        assert sent.status_code == 303
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert case is not None
    times = [case.created_at, case.updated_at, case.ack_due_at, case.queued_at]
    times += [m.created_at for m in db.session.scalars(select(Message))]
    times += [r.recorded_at for r in db.session.scalars(select(ConsentRecord))]
    times += [n.created_at for n in db.session.scalars(select(Notification))]
    times += [r.started_at for r in db.session.scalars(select(RoutingRound))]
    times += [e.at for e in db.session.scalars(select(AuditEntry).where(AuditEntry.actor_role == "reporter"))]
    assert times and all(t is not None and t.second == 0 and t.microsecond == 0 for t in times), times
    # Messages in the same minute keep the order they were written in.
    shown = client.get("/status/case").get_data(as_text=True)
    assert shown.index("First, this.") < shown.index("Then this.") < shown.index("And this.")


def test_the_consent_table_does_not_tell_which_ways_to_reach_her_exist(app: Flask, client: FlaskClient) -> None:
    from sqlalchemy import select

    from app.cases.consent import CONTACT_PURPOSES, current_consent
    from app.cases.models import ConsentRecord
    from app.extensions import db

    receipt = receipt_from(
        submit_report(
            client, identity="named", name="Dana", phone="860-555-0100", contact_phone="y", contact_email=None
        )
    )
    rows = list(db.session.scalars(select(ConsentRecord).where(ConsentRecord.purpose.in_(CONTACT_PURPOSES))))
    assert rows and not any(row.granted for row in rows)
    assert len({row.sealed_choice for row in rows}) == len(rows)
    choices = current_consent(rows[0].case_id)
    assert choices["contact_phone"] and not choices["contact_email"]
    # The reporter changes her mind at /status; the choice is read back right.
    page = open_status(client, receipt).get_data(as_text=True)
    fields = {k: v for k, v in hidden_fields(page).items() if k == "csrf_token"}
    assert client.post("/status/consent", data={**fields, "peer_support": "y", "contact_email": "y"}).status_code == 303
    db.session.expire_all()
    choices = current_consent(rows[0].case_id)
    assert choices["contact_email"] and not choices["contact_phone"]
    assert not any(
        row.granted
        for row in db.session.scalars(select(ConsentRecord).where(ConsentRecord.purpose.in_(CONTACT_PURPOSES)))
    )
