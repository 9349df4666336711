"""`flask keys`: the operator's view of the keyring, and rotation without re-encryption."""

from __future__ import annotations

import stat
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.models import Case
from app.crypto import load_keyring
from app.extensions import db
from tests.helpers import open_status, receipt_from, submit_report


def test_init_refuses_to_replace_a_keyring(app: Flask, keys_dir: Path) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "init"])
    assert result.exit_code != 0 and "already exists" in result.output
    result = app.test_cli_runner().invoke(args=["keys", "init", "--if-missing"])
    assert result.exit_code == 0 and "already present" in result.output


def test_status_counts_cases_per_key_and_prints_no_secret(app: Flask, client: FlaskClient, keys_dir: Path) -> None:
    submit_report(client)
    result = app.test_cli_runner().invoke(args=["keys", "status"])
    ring = load_keyring(keys_dir)
    assert result.exit_code == 0
    assert "(mode 0600)" in result.output
    assert f"{ring.active_kek_id} (active): wraps 1 case key(s)" in result.output
    assert "active root: root-1" in result.output
    assert ring.root.hex() not in result.output


def test_rotate_rewraps_and_reports_still_open(app: Flask, client: FlaskClient, keys_dir: Path, tmp_path: Path) -> None:
    receipt = receipt_from(submit_report(client, narrative="still readable after rotation"))
    case = db.session.scalars(select(Case)).one()
    sealed_before, old_key = case.report_sealed, case.dek_key_id
    original = (keys_dir / "keyring.json").read_bytes()
    stale = app.extensions["confide_keyring"]
    try:
        result = app.test_cli_runner().invoke(args=["keys", "rotate", "--here"])
        assert result.exit_code == 0 and "Re-wrapped 1 case key(s)" in result.output
        db.session.expire_all()
        case = db.session.scalars(select(Case)).one()
        assert case.dek_key_id != old_key
        assert case.report_sealed == sealed_before, "content is never re-encrypted"
        assert stat.S_IMODE((keys_dir / "keyring.json").stat().st_mode) == 0o600
        # A web process started before the rotation still opens the re-wrapped case.
        app.extensions["confide_keyring"] = stale
        assert "still readable after rotation" in open_status(client, receipt).get_data(as_text=True)
    finally:
        # Other tests share this keyring: put the original back.
        (keys_dir / "keyring.json").write_bytes(original)
        app.extensions["confide_keyring"] = load_keyring(keys_dir)
