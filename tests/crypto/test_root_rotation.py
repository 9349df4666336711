"""The acceptance of root versions (issue 18): on a populated database, `flask keys rotate` and
`flask keys rotate-root`; then every case decrypts, every receipt opens /status (re-keying it),
every staff member signs in with password and TOTP, `flask audit verify` passes, and `flask keys
retire` removes the old KEK and the old root version; and all of it still holds in a fresh app
whose keyring never had them. The audit chain is linked again only when it verifies whole."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.audit.checkpoints import checkpoints_path, read_checkpoints, write_checkpoint
from app.audit.models import AuditEntry
from app.cases.consent import current_consent
from app.cases.exclusions import exclude, is_excluded
from app.cases.models import Case
from app.crypto import load_keyring
from app.extensions import db
from app.staff.paging import paging_url, set_paging_url
from tests.circles.factories import LINK, ask, code_from, make_circle, open_code
from tests.conftest import run_worker
from tests.crypto.conftest import restarted
from tests.crypto.test_retire import cli, reports
from tests.crypto.test_root_sealed import PAGING, signs_in
from tests.factories import make_staff
from tests.helpers import open_status

PAGE = "ntfys://ntfy.example.org/rotation"


def audit(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", *args])
    return result.exit_code, result.output


def test_rotating_the_kek_and_the_root_then_retiring_them(
    app: Flask, client: FlaskClient, own_keyring: Path, log_file: Path
) -> None:
    filed = reports(client, 3)
    run_worker(app)  # their routing, audited
    coordinator, responder = make_staff("coordinator"), make_staff()
    set_paging_url(coordinator.user, PAGING)
    case = db.session.scalars(select(Case).order_by(Case.id)).first()
    assert case is not None
    exclude(case.id, responder.id)
    db.session.commit()
    consent = current_consent(case.id)
    code = code_from(ask(client, make_circle(by=coordinator).id, name="Rosa", email="rosa@example.org"))
    assert write_checkpoint() is not None
    before = load_keyring(own_keyring)

    cli(app, "rotate", "--here")
    out = cli(app, "rotate-root")
    assert "New active root version root-2." in out and "Sealed" in out
    assert audit(app, "verify")[0] == 0
    assert all(point.root == "root-2" for point in read_checkpoints()[0]), "the checkpoints too"
    status = cli(app, "status")
    assert "protects 3 receipt indexes, 1 circle request codes, being re-keyed" in status

    for receipt, words in filed:  # every receipt opens, and is re-keyed
        assert words in open_status(app.test_client(), receipt).get_data(as_text=True)
    assert LINK in open_code(app.test_client(), code).get_data(as_text=True)
    assert signs_in(app, coordinator) and signs_in(app, responder)

    app.config["CONFIDE"] = dataclasses.replace(app.config["CONFIDE"], kek_retire_after_days=0)
    out = cli(app, "retire")
    assert f"{before.active_kek_id}: retired" in out and "root-1: retired" in out
    document = json.loads((own_keyring / "keyring.json").read_text())
    assert before.active_kek_id not in document["keks"] and list(document["roots"]) == ["root-2"]

    with restarted(app, own_keyring, log_file) as fresh:
        assert fresh.config["SECRET_KEY_FALLBACKS"] == []
        for receipt, words in filed:
            assert words in open_status(fresh.test_client(), receipt).get_data(as_text=True)
        assert LINK in open_code(fresh.test_client(), code).get_data(as_text=True)
        assert signs_in(fresh, coordinator) and signs_in(fresh, responder)
        code_, output = audit(fresh, "verify")
        assert code_ == 0, output
    app.extensions.pop("confide_keyring")  # this process, too, without the old keys
    db.session.expire_all()
    assert paging_url(coordinator.user) == PAGING
    assert current_consent(case.id) == consent and is_excluded(case.id, responder.id)


def test_a_broken_chain_is_not_linked_again(app: Flask, client: FlaskClient, own_keyring: Path) -> None:
    reports(client, 2)
    run_worker(app)  # their routing, audited
    first = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
    assert first is not None
    db.session.execute(update(AuditEntry).where(AuditEntry.id == first.id).values(actor_role="coordinator"))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["keys", "rotate-root"])
    assert result.exit_code != 0 and "the audit chain does not verify" in result.output
    db.session.expire_all()
    assert db.session.get_one(AuditEntry, first.id).key_root == "root-1", "left as it was, under root-1"
    assert "audit log links" in cli(app, "status")


@pytest.mark.parametrize("checkpoints", [True, False])
def test_the_relinked_chain_is_pinned_by_its_checkpoints(
    app: Flask, client: FlaskClient, own_keyring: Path, checkpoints: bool
) -> None:
    reports(client, 2)
    run_worker(app)
    if checkpoints:
        write_checkpoint()
    cli(app, "rotate-root")
    points, forged = read_checkpoints()
    assert not forged and points and points[-1].root == "root-2"
    # Whoever holds the database alone cannot put the chain back as it was before.
    last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last is not None
    db.session.execute(update(AuditEntry).where(AuditEntry.id == last.id).values(hash="0" * 64))
    db.session.commit()
    assert audit(app, "verify")[0] == 1
    assert checkpoints_path().exists()
