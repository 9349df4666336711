"""Migrations that change data, tried on data."""

from __future__ import annotations

from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from app.triage.exclusions import excluded_among
from tests.factories import make_case, make_staff


def test_exclusions_made_before_they_were_keyed_are_kept(app: Flask) -> None:
    case = make_case()
    birch, maple = make_staff("responder"), make_staff("responder")
    db.session.commit()
    try:
        downgrade(revision="0010")
        db.session.execute(
            text("INSERT INTO case_exclusions (case_id, staff_id) VALUES (:case, :staff)"),
            {"case": case.id, "staff": birch.id},
        )
        db.session.commit()
    finally:
        upgrade()
    assert excluded_among([case.id], [birch.id, maple.id]) == {case.id: {birch.id}}
