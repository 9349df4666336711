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
        db.session.rollback()
        upgrade()
    assert excluded_among([case.id], [birch.id, maple.id]) == {case.id: {birch.id}}


def test_contact_choices_made_before_they_were_sealed_are_kept(app: Flask) -> None:
    from app.referrals.consent import current_consent

    case = make_case(consent={"contact_phone": True, "contact_email": False, "peer_support": True})
    db.session.commit()
    try:
        downgrade(revision="0012")
        granted = db.session.execute(
            text("SELECT granted FROM consent_records WHERE case_id = :case AND purpose = 'contact_phone'"),
            {"case": case.id},
        ).scalar_one()
        assert granted
    finally:
        db.session.rollback()  # its read lock would hold up the migration's ALTER TABLE
        upgrade()
    db.session.expire_all()
    choices = current_consent(case.id)
    assert choices["contact_phone"] and not choices["contact_email"] and choices["peer_support"]
