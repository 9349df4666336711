"""A reporter's "keep these people away" holds however the name is typed, and against a
coordinator's reassignment too."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.cases.exclusions import excluded_among
from app.cases.models import Case
from app.casework.services import CaseActionError, assign
from app.extensions import db
from app.staff.profiles import update_profile
from app.staff.pseudonyms import pseudonym_key
from app.staff.services import StaffError, staff_directory
from tests.factories import make_staff, sign_in
from tests.helpers import hidden_fields, submit_report


def excluded_ids() -> list[str]:
    case_id = db.session.scalar(select(Case.id))
    assert case_id is not None
    return sorted(excluded_among([case_id], staff_directory().keys()).get(case_id, set()))


@pytest.mark.parametrize(
    "typed",
    [
        "peer b",
        "PeerB",
        "Peer-B",
        "peer\u200bb",  # a zero-width space inside
        "Ｐｅｅｒ Ｂ",  # full width, from a CJK keyboard
        "\u202ePeer B",  # a direction override in front
    ],
)
def test_an_exclusion_matches_the_name_however_it_is_typed(app: Flask, client: FlaskClient, typed: str) -> None:
    peer = make_staff("responder", pseudonym="Peer B")
    assert submit_report(client, exclude=typed).status_code == 200
    assert excluded_ids() == [peer.user.id]


def test_a_lookalike_letter_in_a_pseudonym_does_not_dodge_an_exclusion(app: Flask, client: FlaskClient) -> None:
    # Set up before the check below existed, or by a script: a Cyrillic "а" in "Ana".
    ana = make_staff("responder", pseudonym="An\u0430")
    assert submit_report(client, exclude="Ana").status_code == 200
    assert excluded_ids() == [ana.user.id]
    assert pseudonym_key("An\u0430") == pseudonym_key("ana") == pseudonym_key("Aná")


@pytest.mark.parametrize(
    ("pseudonym", "why"),
    [
        ("Ana\u200b", "invisible"),
        ("\u2066Ana", "invisible"),
        ("An\u0430", "one alphabet"),
        ("Birch", "reads the same"),
        ("b i r c h", "reads the same"),
        ("...", "at least one letter"),
    ],
)
def test_a_pseudonym_that_hides_or_looks_like_another_is_refused(app: Flask, pseudonym: str, why: str) -> None:
    make_staff("responder", pseudonym="birch")
    other = make_staff("responder")
    with pytest.raises(StaffError, match=why):
        update_profile(other.user, by=other.user, pseudonym=pseudonym, languages=["en"], on_duty=True)


def test_pseudonyms_in_other_scripts_are_fine(app: Flask) -> None:
    for name in ("민아", "小梅", "Peer B", "José"):
        person = make_staff("responder")
        update_profile(person.user, by=person.user, pseudonym=name, languages=["en"], on_duty=True)
        assert person.user.pseudonym == name


def test_the_reporter_is_told_which_names_matched_no_one(app: Flask, client: FlaskClient) -> None:
    make_staff("responder", pseudonym="Birch")
    page = submit_report(client, exclude="birch, Rowan").get_data(as_text=True)
    assert 'id="unmatched"' in page and "<bdi>Rowan</bdi>" in page and "<bdi>birch</bdi>" not in page
    assert 'id="unmatched"' not in submit_report(app.test_client(), exclude="Birch").get_data(as_text=True)


def test_a_coordinator_cannot_give_the_case_to_someone_excluded(app: Flask, client: FlaskClient) -> None:
    birch = make_staff("responder", pseudonym="Birch")
    maple = make_staff("responder", pseudonym="Maple")
    submit_report(app.test_client(), exclude="Birch")
    case_id = db.session.scalar(select(Case.id))
    coordinator = make_staff("coordinator", pseudonym="Heron")
    sign_in(client, coordinator)
    html = client.get(f"/cases/{case_id}?reassign=1").get_data(as_text=True)
    assert f'value="{maple.user.id}"' in html and f'value="{birch.user.id}"' not in html
    assert 'id="exclusions"' in html and "asked that 1 person" in html
    # Posted anyway, it is refused.
    forced = client.post(f"/cases/{case_id}/assign", data={**hidden_fields(html), "assign-staff_id": birch.user.id})
    assert forced.status_code == 303
    db.session.expire_all()
    assert db.session.get(Case, case_id).assigned_to_id != birch.user.id
    # Nor can any other way into the service do it.
    with pytest.raises(CaseActionError, match="asked that this person not see the case"):
        assign(coordinator.user, db.session.get(Case, case_id), birch.user.id)


def test_a_coordinator_the_reporter_named_cannot_open_the_case(app: Flask, client: FlaskClient) -> None:
    heron = make_staff("coordinator", pseudonym="Heron")
    wren = make_staff("coordinator", pseudonym="Wren")
    page = submit_report(app.test_client(), exclude="heron").get_data(as_text=True)
    assert 'id="unmatched"' not in page
    case_id = db.session.scalar(select(Case.id))
    sign_in(client, heron)
    assert client.get(f"/cases/{case_id}").status_code == 404
    other = app.test_client()
    sign_in(other, wren)
    assert other.get(f"/cases/{case_id}").status_code == 200
