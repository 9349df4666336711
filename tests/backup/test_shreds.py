"""A case shredded after a backup was made stays shredded when that backup is restored."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.backup.shreds import ShredListError, read_shred_list, recorded
from app.cases.conversation import add_message
from app.cases.models import Case, ConsentRecord, Message
from app.extensions import db
from app.retention.shredding import REPORTER, shred_case
from tests.backup.conftest import AgeKey, app_on
from tests.helpers import open_status, receipt_from, submit_report

STORIES = ("Kept late without pay, twice.", "The manager locked the back door.", "A client followed me home.")


def test_a_case_shredded_after_the_backup_is_shredded_again_on_restore(
    backing_up: Flask,
    client: FlaskClient,
    age_key: AgeKey,
    empty_database: str,
    keys_dir: Path,
    log_file: Path,
    tmp_path: Path,
) -> None:
    # The first report is the one to be shredded: a case of its own with a message.
    receipts = [receipt_from(submit_report(client, narrative=STORIES[0]))]
    shredded = db.session.scalars(select(Case)).one()
    shredded_id = shredded.id
    add_message(shredded, "One more thing I remembered.", author="reporter")
    receipts += [receipt_from(submit_report(client, narrative=story)) for story in STORIES[1:]]
    out = tmp_path / "confide.age"
    result = backing_up.test_cli_runner().invoke(args=["backup", "create", "--out", str(out)])
    assert result.exit_code == 0, result.output

    # Later the case is shredded on the live system (she deleted it), and the operator keeps
    # the live shred list with the backups.
    shred_case(shredded_id, reason=REPORTER)
    shred_list = tmp_path / "shredded.txt"
    result = backing_up.test_cli_runner().invoke(args=["backup", "shred-list", "--out", str(shred_list)])
    assert result.exit_code == 0 and "1 shredded case id(s) written" in result.output
    assert shred_list.read_text() == f"{shredded_id}\n"

    with app_on(empty_database, keys_dir, log_file) as restored:
        result = restored.test_cli_runner().invoke(
            args=[
                "backup",
                "restore",
                str(out),
                "--identity",
                str(age_key.identity_file),
                "--shred-list",
                str(shred_list),
            ]
        )
        assert result.exit_code == 0, result.output
        assert "Shredded again: 1 case(s)" in result.output
        assert db.session.get(Case, shredded_id) is None
        for table in (Message, ConsentRecord):
            assert not db.session.scalar(select(func.count()).select_from(table).where(table.case_id == shredded_id))
        assert db.session.scalar(select(func.count()).select_from(Case)) == 2
        assert recorded() == [shredded_id], "its backups will carry it"
        assert STORIES[0] not in open_status(restored.test_client(), receipts[0]).get_data(as_text=True)
        for receipt, story in zip(receipts[1:], STORIES[1:], strict=True):
            assert story in open_status(restored.test_client(), receipt).get_data(as_text=True)


def test_a_shred_list_holds_case_ids_alone(tmp_path: Path) -> None:
    listed = tmp_path / "shredded.txt"
    listed.write_text("# comment\n\n6F1C2F0E-9B7A-4C47-9D0B-0E0C9A4F1B2D\n")
    assert read_shred_list(listed) == ["6f1c2f0e-9b7a-4c47-9d0b-0e0c9a4f1b2d"]
    listed.write_text("6f1c2f0e-9b7a-4c47-9d0b-0e0c9a4f1b2d\nMaria Lopez, 12 Elm St\n")
    with pytest.raises(ShredListError) as refused:
        read_shred_list(listed)
    assert "line 2: not a case id" in str(refused.value) and "Maria" not in str(refused.value)
