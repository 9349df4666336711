"""Keys that retire: `flask keys rotate` wraps every case key again under a new KEK in the
background, resumably; `flask keys retire` then removes the old KEK from the keyring, and
everything still opens: every case, every receipt, the audit chain."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import keys_cli
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.cases.rekeying import rewrap_batch
from app.crypto import load_keyring
from app.crypto.keyring import save_keyring
from app.extensions import db
from tests.conftest import run_worker
from tests.helpers import open_status, receipt_from, submit_report


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["keys", *args])
    assert result.exit_code == 0, result.output
    return result.output


def key_ids() -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(select(Case.dek_key_id, func.count()).group_by(Case.dek_key_id)).all())


def reports(client: FlaskClient, count: int) -> list[tuple[str, str]]:
    """``count`` reports filed: (receipt, its words)."""
    words = [f"Report number {n} still reads the same." for n in range(count)]
    return [(receipt_from(submit_report(client, narrative=text)), text) for text in words]


def test_rotation_in_the_background_then_retirement(app: Flask, client: FlaskClient, own_keyring: Path) -> None:
    filed = reports(client, 5)
    run_worker(app)  # their routing
    old = load_keyring(own_keyring).active_kek_id

    out = cli(app, "rotate", "--no-wait")
    new = load_keyring(own_keyring).active_kek_id
    assert f"New active key {new}; 5 case key(s) to re-wrap under it." in out
    assert "The workers are re-wrapping them" in out
    assert key_ids() == {old: 5}, "nothing is done in the command"
    assert "wraps 5 case key(s), being re-wrapped" in cli(app, "status")
    # Until the old key wraps nothing, it stays.
    assert "still wraps 5 case key(s); kept" in cli(app, "retire")

    assert run_worker(app) == 1
    assert key_ids() == {new: 5}
    assert f"{old} (superseded" in cli(app, "status") and "wraps nothing; `flask keys retire` removes it from" in cli(
        app, "status"
    )
    assert "kept until" in cli(app, "retire"), "not before kek_retire_after_days"

    app.config["CONFIDE"] = dataclasses.replace(app.config["CONFIDE"], kek_retire_after_days=0)
    out = cli(app, "retire")
    assert f"{old}: retired; it is gone from the keyring." in out
    document = json.loads((own_keyring / "keyring.json").read_text())
    assert list(document["keks"]) == [new]
    # Everything opens with the keyring as it is now, in a process that never saw the old key.
    app.extensions.pop("confide_keyring")
    for receipt, text in filed:
        reader = app.test_client()
        assert text in open_status(reader, receipt).get_data(as_text=True)
    actions = [entry.action for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("key_rotated") == 1 and actions.count("key_retired") == 1
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_a_rewrap_stopped_half_way_is_finished(app: Flask, client: FlaskClient, own_keyring: Path) -> None:
    filed = reports(client, 5)
    ring = load_keyring(own_keyring).with_new_kek()
    save_keyring(ring)
    # A run that stopped after two: those stay done, the rest is what is left.
    assert rewrap_batch(ring, limit=2)[0] == 2
    assert key_ids() == {ring.active_kek_id: 2, next(iter(set(ring.keks) - {ring.active_kek_id})): 3}
    assert "Re-wrapped 3 case key(s)." in cli(app, "rewrap")
    assert key_ids() == {ring.active_kek_id: 5}
    assert rewrap_batch(ring) == (0, None), "a second run finds nothing to do"
    receipt, text = filed[0]
    assert text in open_status(client, receipt).get_data(as_text=True)


def test_running_processes_take_up_a_rotation_made_elsewhere(
    app: Flask, client: FlaskClient, own_keyring: Path
) -> None:
    submit_report(client)  # this process has the keyring in memory
    ring = load_keyring(own_keyring).with_new_kek(now=datetime.now(UTC) - timedelta(days=30))
    save_keyring(ring)  # as `flask keys rotate` in another process
    submit_report(app.test_client())
    newest = db.session.scalars(select(Case).order_by(Case.created_at.desc(), Case.id)).all()
    assert ring.active_kek_id in {case.dek_key_id for case in newest}, "a new case is wrapped by the new key"


def test_the_active_key_is_never_retired(app: Flask, client: FlaskClient, own_keyring: Path) -> None:
    app.config["CONFIDE"] = dataclasses.replace(app.config["CONFIDE"], kek_retire_after_days=0)
    active = load_keyring(own_keyring).active_kek_id
    assert "Nothing retired." in cli(app, "retire")
    assert load_keyring(own_keyring).active_kek_id == active


def test_with_no_worker_the_command_does_the_rewrap_itself(
    app: Flask, client: FlaskClient, own_keyring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports(client, 3)
    monkeypatch.setattr(keys_cli, "NO_WORKER_SECONDS", 0.2)
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "No worker is re-wrapping: doing the rest here." in result.output
    assert "Re-wrapped 3 case key(s)." in result.output
    assert key_ids() == {load_keyring(own_keyring).active_kek_id: 3}
