"""Keyed indexes the server can make again from what it holds (consent choices, exclusions,
tallies of sealed answers): read under the root version each row names after a rotation, and
made again under the active version by `flask keys rekey`, so the old version can retire."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.consent import current_consent
from app.cases.exclusions import cases_excluding, exclude, excluded_among, is_excluded
from app.cases.models import CaseExclusion, ConsentRecord, ReportTally
from app.cases.tallies import answer_reader
from app.crypto import load_keyring
from app.crypto.keyring import save_keyring
from app.extensions import db
from tests.crypto.test_retire import cli
from tests.factories import make_case, make_staff


def roots_of(column: object) -> set[str | None]:
    db.session.expire_all()
    return set(db.session.scalars(select(column).distinct()))  # type: ignore[call-overload]


def test_recomputable_indexes_read_under_their_version_and_are_made_again(
    app: Flask, client: FlaskClient, own_keyring: Path
) -> None:
    feared, other = make_staff(), make_staff()
    case = make_case(perpetrator="client", consent={"contact_email": True})
    exclude(case.id, feared.id)
    db.session.commit()
    choices = current_consent(case.id)
    assert choices["contact_email"] and not choices["contact_phone"]
    save_keyring(load_keyring(own_keyring).with_new_root())  # as `flask keys rotate-root`

    def everything_reads_as_before() -> None:
        assert current_consent(case.id) == choices
        assert is_excluded(case.id, feared.id) and not is_excluded(case.id, other.id)
        assert excluded_among([case.id], [feared.id, other.id]) == {case.id: {feared.id}}
        assert cases_excluding(feared.id) == {case.id}
        tally = db.session.scalars(select(ReportTally).where(ReportTally.question == "perpetrator")).one()
        assert answer_reader("report", tally.answer_root)(tally.month, "perpetrator", tally.answer) == "client"

    everything_reads_as_before()
    status = cli(app, "status")
    assert "exclusions" in status and "tallies of sealed answers" in status and "being re-keyed" in status
    assert "Sealed" in cli(app, "rekey")
    assert roots_of(ConsentRecord.seal_root) <= {"root-2", None}
    assert roots_of(CaseExclusion.index_root) == {"root-2"}
    assert roots_of(ReportTally.answer_root) == {"root-2", None}
    save_keyring(load_keyring(own_keyring).without_root("root-1"))
    app.extensions.pop("confide_keyring")
    everything_reads_as_before()
    # A report counted now adds to the same tally as the one counted before the rotation.
    make_case(perpetrator="client")
    db.session.expire_all()
    counts = db.session.scalars(select(ReportTally.count).where(ReportTally.question == "perpetrator")).all()
    assert counts == [2]
