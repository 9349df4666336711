"""`flask backup`: a backup restored into a fresh database serves the same cases, on SQLite and
PostgreSQL alike, and a restore refuses, touching nothing, what it cannot restore."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select

from app.audit.models import AuditEntry
from app.backup.state import last_backup
from app.cases.models import Case
from app.crypto import create_keyring
from app.extensions import db
from tests.backup.conftest import AgeKey, app_on, tool
from tests.helpers import open_status, receipt_from, submit_report

STORIES = ("The owner kept my passport in the office.", "A client grabbed my wrist twice.", "Remarks every shift.")


def file_reports(client: FlaskClient) -> list[str]:
    return [receipt_from(submit_report(client, narrative=story)) for story in STORIES]


def back_up(app: Flask, out: Path, *extra: str) -> str:
    result = app.test_cli_runner().invoke(args=["backup", "create", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_backup_restores_into_a_fresh_database_that_serves_the_same_cases(
    backing_up: Flask,
    client: FlaskClient,
    age_key: AgeKey,
    empty_database: str,
    keys_dir: Path,
    log_file: Path,
    tmp_path: Path,
) -> None:
    receipts = file_reports(client)
    out = tmp_path / "confide.age"
    said = back_up(backing_up, out)
    assert "3 case(s)" in said and "keep its own offline backup" in said
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert STORIES[0].encode() not in out.read_bytes()
    made = last_backup(backing_up.config["CONFIDE"])
    assert made is not None and datetime.now(UTC) - made < timedelta(minutes=1)
    status = backing_up.test_cli_runner().invoke(args=["backup", "status"])
    assert f"Last backup: {made:%Y-%m-%d %H:%M} UTC" in status.output

    with app_on(empty_database, keys_dir, log_file) as restored:
        result = restored.test_cli_runner().invoke(
            args=["backup", "restore", str(out), "--identity", str(age_key.identity_file)]
        )
        assert result.exit_code == 0, result.output
        assert "Sample: 3 of 3 case(s) opened" in result.output and "Verified" in result.output
        if empty_database.startswith("sqlite:///"):
            assert stat.S_IMODE(Path(empty_database.removeprefix("sqlite:///")).stat().st_mode) == 0o600
        for receipt, story in zip(receipts, STORIES, strict=True):
            assert story in open_status(restored.test_client(), receipt).get_data(as_text=True)
        verified = restored.test_cli_runner().invoke(args=["audit", "verify"])
        assert verified.exit_code == 0 and "Audit log intact" in verified.output, verified.output
        last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last is not None and last.action == "backup_restored" and last.detail["cases"] == 3
    created = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "backup_created")).one()
    assert created.detail == {
        "database": created.detail["database"],
        "cases": 3,
        "bytes": out.stat().st_size,
        "recipients": 1,
    }


def test_the_standard_age_tool_opens_a_backup(
    backing_up: Flask, client: FlaskClient, age_key: AgeKey, tmp_path: Path
) -> None:
    file_reports(client)
    out = tmp_path / "confide.age"
    back_up(backing_up, out)
    opened = tmp_path / "opened.zip"
    subprocess.run([tool("age"), "-d", "-i", str(age_key.identity_file), "-o", str(opened), str(out)], check=True)
    with zipfile.ZipFile(opened) as archive:
        text = archive.read("manifest.json").decode()
        manifest = json.loads(text)
        dump = archive.read(manifest["dump"]["name"])
    assert manifest["tables"]["cases"] == 3 and len(dump) == manifest["dump"]["bytes"]
    assert hashlib.sha256(dump).hexdigest() == manifest["dump"]["sha256"]
    # The manifest names the keys the cases need, and holds none of them.
    ring = backing_up.extensions["confide_keyring"]
    assert manifest["keyring"]["keks"][ring.active_kek_id]["wraps"] == 3
    for secret in (ring.root, *ring.keks.values()):
        assert base64.b64encode(secret).decode() not in text and secret.hex() not in text


def test_a_restore_refuses_a_database_that_is_not_empty(
    backing_up: Flask, client: FlaskClient, age_key: AgeKey, tmp_path: Path
) -> None:
    file_reports(client)
    out = tmp_path / "confide.age"
    back_up(backing_up, out)
    result = backing_up.test_cli_runner().invoke(
        args=["backup", "restore", str(out), "--identity", str(age_key.identity_file)]
    )
    assert result.exit_code == 1 and "not empty" in result.output
    assert db.session.scalar(select(func.count()).select_from(Case)) == 3


def test_a_restore_refuses_a_keyring_without_the_backups_keys(
    backing_up: Flask, client: FlaskClient, age_key: AgeKey, empty_database: str, log_file: Path, tmp_path: Path
) -> None:
    file_reports(client)
    out = tmp_path / "confide.age"
    back_up(backing_up, out)
    other_keys = tmp_path / "other-keys"
    create_keyring(other_keys)
    with app_on(empty_database, other_keys, log_file) as restored:
        result = restored.test_cli_runner().invoke(
            args=["backup", "restore", str(out), "--identity", str(age_key.identity_file)]
        )
        assert result.exit_code == 1, result.output
        needed = backing_up.extensions["confide_keyring"].active_kek_id
        assert "not restored" in result.output and f"lacks {needed}" in result.output
        assert not inspect(db.engine).get_table_names(), "nothing was written to the target"


def test_a_restore_refuses_an_identity_the_backup_was_not_made_for(
    backing_up: Flask, client: FlaskClient, empty_database: str, keys_dir: Path, log_file: Path, tmp_path: Path
) -> None:
    file_reports(client)
    out = tmp_path / "confide.age"
    back_up(backing_up, out)
    stranger = tmp_path / "stranger.txt"
    subprocess.run([tool("age-keygen"), "-o", str(stranger)], check=True, capture_output=True)
    with app_on(empty_database, keys_dir, log_file) as restored:
        result = restored.test_cli_runner().invoke(args=["backup", "restore", str(out), "--identity", str(stranger)])
        assert result.exit_code == 1 and "does not open with the identity given" in result.output
        assert not inspect(db.engine).get_table_names()


def test_a_backup_needs_recipients(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["backup", "create", "--out", str(tmp_path / "confide.age")])
    assert result.exit_code == 1 and "no backup recipients" in result.output
    assert not list(tmp_path.iterdir()), "no file, not even a partial one"


def test_restoring_an_older_backup_says_what_the_audit_checkpoints_saw_after_it(
    backing_up: Flask,
    client: FlaskClient,
    age_key: AgeKey,
    empty_database: str,
    keys_dir: Path,
    log_file: Path,
    tmp_path: Path,
) -> None:
    file_reports(client)
    out = tmp_path / "confide.age"
    back_up(backing_up, out)
    submit_report(client, narrative="Filed after the backup.")
    assert backing_up.test_cli_runner().invoke(args=["audit", "checkpoint"]).exit_code == 0
    with app_on(empty_database, keys_dir, log_file) as restored:
        result = restored.test_cli_runner().invoke(
            args=["backup", "restore", str(out), "--identity", str(age_key.identity_file)]
        )
        assert result.exit_code == 0, result.output
        assert "Note: the audit checkpoints file saw entries up to" in result.output
        assert db.session.scalar(select(func.count()).select_from(Case)) == 3


def test_a_backup_is_never_written_over_another_or_where_it_cannot_be(
    backing_up: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    file_reports(client)
    out = tmp_path / "confide.age"
    back_up(backing_up, out)
    before = out.read_bytes()
    again = backing_up.test_cli_runner().invoke(args=["backup", "create", "--out", str(out)])
    assert again.exit_code == 1 and "exists already" in again.output and out.read_bytes() == before
    nowhere = backing_up.test_cli_runner().invoke(args=["backup", "create", "--out", str(tmp_path / "no" / "b.age")])
    assert nowhere.exit_code == 1 and "cannot write" in nowhere.output
