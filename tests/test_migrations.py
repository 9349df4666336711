"""The migrations: they build the schema the models describe, go down and up again, and
keep the data the ones that change data change."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app.cases.exclusions import excluded_among
from app.extensions import db
from tests.factories import make_case, make_staff


def differences_from_the_models() -> list[Any]:
    """What `flask db migrate` would write: the newest migration's schema against the models."""
    db.session.rollback()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, db.metadata))


def test_the_newest_migration_builds_what_the_models_describe(app: Flask) -> None:
    assert differences_from_the_models() == [], "a model changed without a migration (flask db migrate)"


def test_every_migration_goes_down_and_up_again(app: Flask) -> None:
    db.session.rollback()
    try:
        downgrade(revision="base")
        db.session.remove()
        left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert not left, f"tables the downgrades leave behind: {sorted(left)}"
    finally:
        upgrade()
    assert differences_from_the_models() == []
    make_case()  # and the schema takes a report again


def test_exclusions_made_before_they_were_keyed_are_kept(app: Flask) -> None:
    case = make_case()
    birch, maple = make_staff("responder"), make_staff("responder")
    db.session.commit()
    # Read before going down: an older schema lacks columns the models have.
    case_id, birch_id, maple_id = case.id, birch.id, maple.id
    db.session.rollback()  # and end the read: its lock would hold up the migration's ALTER TABLE
    try:
        downgrade(revision="0010")
        db.session.execute(
            text("INSERT INTO case_exclusions (case_id, staff_id) VALUES (:case, :staff)"),
            {"case": case_id, "staff": birch_id},
        )
        db.session.commit()
    finally:
        db.session.rollback()
        upgrade()
    assert excluded_among([case_id], [birch_id, maple_id]) == {case_id: {birch_id}}


def test_contact_choices_made_before_they_were_sealed_are_kept(app: Flask) -> None:
    from app.cases.consent import current_consent

    case = make_case(consent={"contact_phone": True, "contact_email": False, "peer_support": True})
    db.session.commit()
    case_id = case.id  # read before going down: an older schema lacks columns the models have
    db.session.rollback()  # and end the read: its lock would hold up the migration's ALTER TABLE
    try:
        downgrade(revision="0012")
        granted = db.session.execute(
            text("SELECT granted FROM consent_records WHERE case_id = :case AND purpose = 'contact_phone'"),
            {"case": case_id},
        ).scalar_one()
        assert granted
    finally:
        db.session.rollback()  # its read lock would hold up the migration's ALTER TABLE
        upgrade()
    db.session.expire_all()
    choices = current_consent(case_id)
    assert choices["contact_phone"] and not choices["contact_email"] and choices["peer_support"]
