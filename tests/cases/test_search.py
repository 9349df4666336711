"""Finding a case from the queue page: by its reference, or by the receipt a reporter reads out."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from werkzeug.test import TestResponse

from app.audit.models import AuditEntry
from app.cases.exclusions import exclude
from app.cases.models import Case
from app.cases.references import reference_range
from app.extensions import db
from app.intake import services as intake_services
from tests.cases.test_queue import queue_page, signed_in
from tests.conftest import app_with_limits
from tests.factories import make_case, make_staff
from tests.helpers import hidden_fields


def find(browser: FlaskClient, typed: str) -> TestResponse:
    """Type ``typed`` into the queue page's search box and press Find."""
    page = queue_page(browser)
    assert 'action="/cases/search"' in page and 'method="post"' in page
    return browser.post("/cases/search", data={**hidden_fields(page), "search-q": typed})


def searches() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "case_searched")))


def spoken(receipt: str) -> str:
    """A receipt as someone types it while it is read out: in pairs, spaces, a stray dash."""
    digits = receipt.replace("-", "")
    return " ".join(digits[i : i + 2] for i in range(0, 20, 2)).replace(" ", " - ", 1)


def test_a_reference_opens_its_case(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    case = make_case()
    make_case()
    browser = signed_in(app, coordinator)
    for typed in (f"#{case.id[:8]}", case.id[:8].upper(), case.id, case.id.replace("-", "")[:14]):
        answer = find(browser, typed)
        assert answer.status_code == 303, typed
        assert answer.headers["Location"] == f"/cases/{case.id}"
    assert [(e.detail["kind"], e.detail["found"], e.case_id) for e in searches()][-1] == ("reference", 1, case.id)


def test_a_short_reference_lists_every_match(client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    coordinator = make_staff("coordinator")
    # Three ids sharing their first four characters, and one that does not.
    ids = iter(f"abcd{n}" + str(uuid.uuid4())[5:] for n in range(3))
    monkeypatch.setattr(intake_services, "new_id", lambda: next(ids, "abce" + str(uuid.uuid4())[4:]))
    for _ in range(4):
        make_case()
    answer = find(signed_in(app, coordinator), "#abcd")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "3 cases match" in page
    assert page.count('<a href="/cases/abcd') == 3 and "/cases/abce" not in page


def test_a_receipt_read_out_on_the_phone_opens_its_case(client: FlaskClient, app: Flask, log_file: Path) -> None:
    coordinator = make_staff("coordinator")
    case = make_case(narrative="narrative-marker-search only staff read this")
    make_case()
    receipt = case.receipt  # type: ignore[attr-defined]
    answer = find(signed_in(app, coordinator), spoken(receipt))
    assert answer.status_code == 303 and answer.headers["Location"] == f"/cases/{case.id}"
    [entry] = searches()
    assert (entry.actor_id, entry.case_id, entry.detail["kind"], entry.detail["found"]) == (
        coordinator.id,
        case.id,
        "receipt",
        1,
    )
    # The receipt is in no log, URL or audit entry; nor is its keyed index.
    digits = receipt.replace("-", "")
    stored = db.session.get(Case, case.id)
    assert stored is not None
    recorded = json.dumps(entry.detail)
    for secret in (digits, receipt, spoken(receipt), stored.receipt_index.hex()):
        assert secret not in recorded and secret not in answer.headers["Location"]
    assert digits not in "".join(ch for ch in recorded if ch.isdigit())
    assert digits not in log_file.read_text() if log_file.exists() else True


def test_a_receipt_nobody_has_finds_nothing_and_is_not_shown_back(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    make_case()
    answer = find(signed_in(app, coordinator), "1111 2222 3333 4444 5555")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "No case has that receipt" in page
    assert "1111 2222" not in page
    assert [(e.detail["kind"], e.detail["found"], e.case_id) for e in searches()] == [("receipt", 0, None)]


def test_a_responder_finds_only_their_own_cases(client: FlaskClient, app: Flask) -> None:
    mine, theirs = make_staff("responder"), make_staff("responder")
    own = make_case(assigned_to=mine)
    other = make_case(assigned_to=theirs)
    browser = signed_in(app, mine)
    assert find(browser, own.receipt).headers["Location"] == f"/cases/{own.id}"  # type: ignore[attr-defined]
    for typed in (other.receipt, f"#{other.id[:8]}"):  # type: ignore[attr-defined]
        answer = find(browser, typed)
        assert answer.status_code == 200
        assert "No case" in answer.get_data(as_text=True) and other.id not in answer.get_data(as_text=True)


def test_a_coordinator_the_reporter_kept_away_does_not_find_the_case(client: FlaskClient, app: Flask) -> None:
    kept_away, other = make_staff("coordinator"), make_staff("coordinator")
    case = make_case()
    exclude(case.id, kept_away.id)
    db.session.commit()
    assert find(signed_in(app, kept_away), case.receipt).status_code == 200  # type: ignore[attr-defined]
    assert find(signed_in(app, other), case.receipt).status_code == 303  # type: ignore[attr-defined]


def test_what_is_neither_is_explained(client: FlaskClient, app: Flask) -> None:
    browser = signed_in(app, make_staff("coordinator"))
    answer = find(browser, "Maria from Hartford")
    assert answer.status_code == 400
    assert "neither a case reference" in answer.get_data(as_text=True)
    # A receipt with a digit missing is not shown back either.
    answer = find(browser, "1234 5678 9012 3456 789")
    assert answer.status_code == 400 and "1234 5678" not in answer.get_data(as_text=True)


def test_a_forged_search_is_refused(client: FlaskClient, app: Flask) -> None:
    case = make_case()
    browser = signed_in(app, make_staff("coordinator"))
    answer = browser.post("/cases/search", data={"search-q": case.receipt})  # type: ignore[attr-defined]
    assert answer.status_code == 400 and not searches()


@pytest.mark.parametrize("typed", ["0000", "ffff", "abcd12", "abcd1234-5", "abcd12345", "ffffffff-ffff-f", "9f"])
def test_a_reference_range_holds_exactly_the_ids_with_that_start(typed: str) -> None:
    ids = sorted(
        [str(uuid.uuid4()) for _ in range(2000)]
        + [
            "0000" + str(uuid.uuid4())[4:],
            "ffffffff-ffff-f" + str(uuid.uuid4())[15:],
            "abcd1234-5" + str(uuid.uuid4())[10:],
        ]
        + ["abcd1235-0000-4000-8000-000000000000", "abcd1233-ffff-4fff-bfff-ffffffffffff"]
    )
    bounds = reference_range(typed)
    if len(typed.replace("-", "")) < 4:
        assert bounds is None
        return
    assert bounds is not None
    start, upper = bounds
    in_range = [i for i in ids if i >= start and (upper is None or i < upper)]
    prefix = start
    assert in_range == [i for i in ids if i.startswith(prefix)]
    assert reference_range("#" + typed.upper()) == bounds


def test_a_reference_is_looked_up_through_the_primary_key(app: Flask, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the plan is PostgreSQL's")
    start, upper = reference_range("#abcd1234") or ("", None)
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        row[0]
        for row in db.session.execute(
            text("EXPLAIN SELECT id FROM cases WHERE id >= :start AND id < :upper ORDER BY id LIMIT 21"),
            {"start": start, "upper": upper},
        )
    )
    db.session.rollback()
    assert "cases_pkey" in plan and "Index Cond" in plan, plan


def test_searches_are_limited_per_client(base_app: Flask, app: Flask, keys_dir: Path, log_file: Path) -> None:
    """A person searches a few times a minute; a script trying receipts meets a wall, told in
    the staff frame."""
    with (
        app_with_limits(base_app, keys_dir, log_file, "search-limited", staff_search="3 per minute") as limited,
        limited.app_context(),
    ):
        coordinator = make_staff("coordinator")
        browser = signed_in(limited, coordinator)
        for _ in range(3):
            assert find(browser, "#0000").status_code == 200
        stopped = find(browser, "#0000")
        assert stopped.status_code == 429
        said = stopped.get_data(as_text=True)
        assert "Please wait a little" in said and "Back to the queue" in said
