"""`flask doctor`: an operator's checks, each OK, WARN or FAIL with what to do, and a failing
exit status when something is wrong."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.backup.state import record_backup
from app.extensions import db
from tests.cases.test_queue import signed_in
from tests.factories import make_staff
from tests.helpers import submit_report


def doctor(app: Flask) -> tuple[int, dict[str, list[str]]]:
    """The exit status, and each check's lines as "STATE said" (with "→ fix" after them)."""
    result = app.test_cli_runner().invoke(args=["doctor"])
    found: dict[str, list[str]] = {}
    for line in result.output.splitlines():
        if line[:4] in ("OK  ", "WARN", "FAIL"):
            state, what, said = re.split(r"\s{2,}", line.replace("OK ", "OK  ", 1), maxsplit=2)
            found.setdefault(what, []).append(f"{state} {said}")
    return result.exit_code, found


def test_a_sound_installation_passes(app: Flask, client: FlaskClient) -> None:
    make_staff("coordinator")
    submit_report(client)
    status, found = doctor(app)
    assert found["keyring"][0].startswith("OK ") and "(mode 0600)" in found["keyring"][0]
    assert found["database"] == [found["database"][0]] and found["database"][0].startswith("OK answers, at revision")
    assert found["audit chain"] == ["OK every link holds"]
    assert found["retired keys"] == ["OK every case key opens with a KEK in the keyring"]
    assert found["root versions"] == ["OK everything opens with a root version in the keyring (root-1 active)"]
    # No worker runs in the tests: that is a failure, with what to do.
    assert found["workers"] == ["FAIL 0 worker(s) alive"]
    assert status == 1
    assert "WARN no coordinator has a paging address: danger is told by email only" in found["paging"]
    assert found["backups"] == ["WARN no backup made here yet"]


def test_the_last_backup_is_dated(app: Flask, tmp_path: Path) -> None:
    settings = app.config["CONFIDE"]
    settings = dataclasses.replace(
        settings, backup=dataclasses.replace(settings.backup, state_file=str(tmp_path / "last.json"))
    )
    app.config["CONFIDE"] = settings
    record_backup(settings, datetime.now(UTC) - timedelta(hours=2), 1000)
    assert doctor(app)[1]["backups"][0].startswith("OK the last one was made")
    record_backup(settings, datetime.now(UTC) - timedelta(days=3), 1000)
    assert doctor(app)[1]["backups"][0].startswith("WARN the last one was made")


def test_a_tampered_audit_log_and_a_loose_keyring_folder_are_named(
    app: Flask, client: FlaskClient, keys_dir: Path
) -> None:
    signed_in(app, make_staff("coordinator"))
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
    assert entry is not None
    db.session.execute(text("UPDATE audit_log SET action = 'case_flagged' WHERE id = :id"), {"id": entry.id})
    db.session.commit()
    mode = os.stat(keys_dir).st_mode
    os.chmod(keys_dir, 0o755)  # noqa: S103 - the loose folder the check must name
    try:
        status, found = doctor(app)
    finally:
        os.chmod(keys_dir, mode)
    assert status == 1
    assert found["audit chain"] == [f"FAIL broken: entry {entry.id} was changed after it was written"]
    assert f"WARN {keys_dir} has mode 0755" in found["keyring"]


def test_production_without_smtp_fails(app: Flask) -> None:
    settings = app.config["CONFIDE"]
    app.config["CONFIDE"] = dataclasses.replace(settings, env="production", secure_cookies=True)
    _, found = doctor(app)
    assert found["mail"] == ["FAIL emails are only printed to the log (backend console)"]
    assert found["production"] == ["OK secure cookies, public_url https://confide.example"]
