"""Cases whose time is up are crypto-shredded: nothing of them can be read again, with the
keyring and a copy of the database, while the program's figures stay as they were."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import func, select, text

from app.audit.models import AuditEntry
from app.cases.consent import record_consent
from app.cases.models import Case, CaseNote, ConsentRecord, Message
from app.casework import services as casework
from app.extensions import db
from app.intake.finding import find_case_by_receipt
from app.intake.models import ReporterSession
from app.models import utcnow
from app.referrals import services as referrals
from app.retention import shredding
from app.retention.models import CaseStatistic, ShreddedCase
from app.retention.shredding import shred_due
from app.triage.models import RoutingRound
from app.triage.queue import queue_names, redis_connection
from tests.conftest import run_worker
from tests.factories import make_counsel, make_staff, sign_in
from tests.helpers import csrf_token, open_status
from tests.retention.helpers import MARKER, closed_case, figure_tables, later, report_tallies
from tests.test_confidentiality import database_bytes


def stored(secret: bytes, at_rest: bytes) -> bool:
    """Whether ``secret`` is in the database's bytes: as it is in SQLite's file, in hex in
    PostgreSQL's dump."""
    return secret in at_rest or secret.hex().encode() in at_rest


def rows_of(case_id: str) -> dict[str, int]:
    counts = {}
    for model in (Case, Message, CaseNote, ConsentRecord, ReporterSession, RoutingRound):
        column = model.id if model is Case else model.case_id  # type: ignore[attr-defined]
        counts[model.__tablename__] = db.session.scalar(select(func.count()).where(column == case_id)) or 0
    return counts


def test_an_expired_case_is_unrecoverable_while_its_month_still_counts(app: Flask, client: FlaskClient) -> None:
    coordinator = make_staff("coordinator")
    # Six closed cases answered at different speeds, so the times to answer are shown; only the
    # first is due after a year, the others were recorded only, as their reporters asked.
    cases = [
        closed_case(ago=timedelta(hours=3 + n), reason="record_only" if n else "resolved", county="hartford")
        for n in range(6)
    ]
    gone = cases[0]
    # A referral of it once begun and withdrawn: the referral table counts it.
    record_consent(gone.id, {"legal_referral": True}, source="status")
    db.session.commit()
    referral = referrals.create_referral(coordinator.user, gone, make_counsel().id)
    referrals.revoke_referral(coordinator.user, referral)
    receipt = gone.receipt  # type: ignore[attr-defined]
    assert "Received on" in open_status(client, receipt).get_data(as_text=True)
    casework.add_note(coordinator.user, gone, f"{MARKER} note")
    db.session.refresh(gone)
    secrets_at_rest = [gone.dek_wrapped, gone.report_sealed, *(m.body_sealed for m in gone.messages)]
    secrets_at_rest += [note.body_sealed for note in gone.notes]
    assert all(stored(secret, database_bytes(app)) for secret in secrets_at_rest), "the test must see them first"
    tables, tallies = figure_tables(app, coordinator), report_tallies()
    assert "Revoked" in next(table for table in tables if 'id="table-referrals"' in table)
    assert rows_of(gone.id)["messages"] == 2 and rows_of(gone.id)["reporter_sessions"] == 1

    # A year and a day later it is due; shredding it twice is once.
    assert [s.case_id for s in shred_due(now=later(366))] == [gone.id]
    assert shred_due(now=later(366)) == []

    assert rows_of(gone.id) == dict.fromkeys(rows_of(gone.id), 0)
    at_rest = database_bytes(app)
    for secret in secrets_at_rest:
        assert not stored(secret, at_rest), "a ciphertext or the wrapped key is still in the database"
    assert MARKER.encode() not in at_rest
    if db.engine.dialect.name == "sqlite":
        assert db.session.execute(text("PRAGMA secure_delete")).scalar() == 1
    # With the whole keyring, her receipt opens nothing.
    assert find_case_by_receipt(receipt) is None
    client.delete_cookie("confide")
    assert "Received on" not in open_status(client, receipt).get_data(as_text=True)

    # What stays: a statistics row without her case's id, and the id in the shredded list.
    kept = db.session.scalars(select(CaseStatistic)).all()
    assert [(row.kind, row.category, row.county, row.status, row.closed_reason) for row in kept] == [
        ("report", "sexual_harassment", "hartford", "closed", "resolved")
    ]
    assert db.session.get(ShreddedCase, gone.id) is not None
    assert figure_tables(app, coordinator) == tables
    assert report_tallies() == tallies
    result = app.test_cli_runner().invoke(args=["insights", "recount"])
    assert result.exit_code == 0, result.output
    assert "Counted the answers of 5 reports." in result.output
    assert report_tallies() == tallies, "recount counts the shredded report as it did"
    assert figure_tables(app, coordinator) == tables

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "case_shredded")).one()
    assert entry.case_id == gone.id and entry.actor_role == "system"
    assert entry.detail == {"reason": "retention", "messages": 2, "notes": 1, "referrals_revoked": 0}


def test_a_legal_hold_keeps_an_expired_case_until_it_is_released(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    case = closed_case()
    browser = app.test_client()
    assert sign_in(browser, coordinator).status_code == 303
    page = browser.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "To be deleted for good" in page
    token = csrf_token(browser, f"/cases/{case.id}")
    held = browser.post(f"/cases/{case.id}/hold", data={"csrf_token": token, "reason": "subpoena"})
    assert held.status_code == 303
    assert "On legal hold since" in browser.get(f"/cases/{case.id}").get_data(as_text=True)

    assert shred_due(now=later(4000)) == []
    with pytest.raises(shredding.CaseHeld):
        shredding.shred_case(case.id, reason=shredding.REPORTER)
    assert rows_of(case.id)["cases"] == 1 and rows_of(case.id)["messages"] == 2

    released = browser.post(f"/cases/{case.id}/hold/release", data={"csrf_token": token})
    assert released.status_code == 303
    assert [s.case_id for s in shred_due(now=later(366))] == [case.id]
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id)
    ).all()
    assert [a for a in actions if a.startswith("case_hold") or a == "case_shredded"] == [
        "case_hold_set",
        "case_hold_released",
        "case_shredded",
    ]


def test_a_forged_hold_changes_nothing(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    case = closed_case()
    browser = app.test_client()
    assert sign_in(browser, coordinator).status_code == 303
    browser.post(f"/cases/{case.id}/hold", data={"reason": "subpoena"})
    db.session.expire_all()
    assert db.session.get(Case, case.id).hold_reason is None  # type: ignore[union-attr]


def test_a_shredding_killed_half_way_leaves_the_case_whole_and_the_next_pass_finishes(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = closed_case()

    def killed(*args: object) -> None:
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(shredding, "_statistics", killed)
        with pytest.raises(SystemExit):
            shredding.shred_case(case.id, reason=shredding.RETENTION, now=later(366))
    db.session.rollback()
    assert rows_of(case.id)["cases"] == 1 and rows_of(case.id)["messages"] == 2
    assert db.session.scalar(select(func.count()).select_from(CaseStatistic)) == 0

    assert [s.case_id for s in shred_due(now=later(366))] == [case.id]
    assert db.session.scalar(select(func.count()).select_from(CaseStatistic)) == 1
    assert db.session.scalar(select(func.count()).select_from(ShreddedCase)) == 1


def test_her_coming_back_keeps_her_case_longer(app: Flask, client: FlaskClient) -> None:
    case = closed_case()
    case.closed_at = utcnow() - timedelta(days=400)
    db.session.commit()
    assert "Received on" in open_status(client, case.receipt).get_data(as_text=True)  # type: ignore[attr-defined]

    assert shred_due() == []
    days = app.config["CONFIDE"].retention.activity_days
    assert shred_due(now=later(days - 1)) == []
    assert [s.case_id for s in shred_due(now=later(days + 1))] == [case.id]


def test_the_periodic_job_shreds_what_is_due(app: Flask) -> None:
    case = closed_case()
    case.closed_at = utcnow() - timedelta(days=400)
    open_case = closed_case()
    open_case.status = "in_progress"
    db.session.commit()
    due, kept = case.id, open_case.id
    Queue(queue_names()[1], connection=redis_connection(), serializer="json").enqueue("workers.jobs.retention")
    run_worker(app)
    db.session.expire_all()
    assert db.session.get(Case, due) is None
    assert db.session.get(Case, kept) is not None
