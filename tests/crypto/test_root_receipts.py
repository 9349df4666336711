"""Receipts across a rotation of the root secret: each case names the root version of its
receipt's keyed index; the receipt still opens /status after the rotation, and re-keys the
index to the active version then; the old version retires when no receipt needs it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.cases.models import Case
from app.crypto import load_keyring
from app.crypto.keyring import save_keyring
from app.extensions import db
from tests.crypto.test_retire import cli, reports
from tests.helpers import open_status
from tests.test_doctor import doctor


def receipt_roots() -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(select(Case.receipt_root, func.count()).group_by(Case.receipt_root)).all())


def test_a_receipt_made_before_a_root_rotation_opens_and_is_re_keyed(
    app: Flask, client: FlaskClient, own_keyring: Path
) -> None:
    (first, first_words), (second, second_words) = reports(client, 2)
    assert receipt_roots() == {"root-1": 2}
    save_keyring(load_keyring(own_keyring).with_new_root())  # as `flask keys rotate-root`
    cli(app, "rekey")  # all but what only the reporter's receipt can re-key
    status = cli(app, "status")
    assert "active root: root-2" in status
    assert "root-2 (active): protects 6 consent choices, 3 tallies of sealed answers" in status
    assert "protects 2 receipt indexes, being re-keyed" in status

    assert first_words in open_status(app.test_client(), first).get_data(as_text=True)
    assert receipt_roots() == {"root-1": 1, "root-2": 1}
    reports(client, 1)  # a new report is keyed under the active version
    assert receipt_roots() == {"root-1": 1, "root-2": 2}

    app.config["CONFIDE"] = dataclasses.replace(app.config["CONFIDE"], kek_retire_after_days=0)
    assert "root-1: still protects 1 receipt indexes; kept" in cli(app, "retire")
    assert second_words in open_status(app.test_client(), second).get_data(as_text=True)
    assert "root-1: retired; it is gone from the keyring." in cli(app, "retire")
    assert list(load_keyring(own_keyring).roots) == ["root-2"]
    # Both open under the keyring as it is now.
    app.extensions.pop("confide_keyring")
    for receipt, words in ((first, first_words), (second, second_words)):
        assert words in open_status(app.test_client(), receipt).get_data(as_text=True)
    wrong = open_status(app.test_client(), "1234-5678-9012-3456-7890")
    assert "could not find a report" in wrong.get_data(as_text=True)


def test_the_doctor_names_a_root_version_missing_from_the_keyring(
    app: Flask, client: FlaskClient, own_keyring: Path
) -> None:
    reports(client, 1)
    rotated = load_keyring(own_keyring).with_new_root()
    save_keyring(rotated.without_root("root-1"))  # retired by hand, before anything was re-keyed
    _, found = doctor(app)
    assert any(
        line.startswith("FAIL 1 receipt indexes") and "made under root-1, which is not in the keyring" in line
        for line in found["root versions"]
    ), found["root versions"]
