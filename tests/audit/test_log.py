"""The audit log: real actions leave a hash-chained trail without content, and
`flask audit verify` names the first entry where someone edited, deleted or reordered it."""

from __future__ import annotations

import dataclasses
import gc
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, text, update

from app.audit.log import verify
from app.audit.models import AuditEntry, AuditHead
from app.cases.models import Case
from app.extensions import db
from app.signals import announce
from app.staff.models import StaffUser
from tests.factories import Staff, make_staff, sign_in
from tests.helpers import hidden_fields, open_status, receipt_from, submit_report

AUDIT = AuditEntry.__table__
# On PostgreSQL, verify() leaves its server-side cursor open when it stops at a break
# (see test_verify_closes_its_cursor_when_it_stops_at_a_break); psycopg then warns when the
# cursor is collected. Ignored here only, so the tests below check what verify reports.
EXPECTED_ACTIONS = [
    "message_sent",  # the reporter's
    "staff_login",
    "case_viewed",
    "case_assigned",
    "case_viewed",
    "case_acknowledged",
    "message_sent",  # the coordinator's
    "case_viewed",
    "note_added",
    "case_viewed",
    "case_status_changed",
]


@dataclass
class Trail:
    case_id: str
    receipt: str
    coordinator: Staff
    responder: Staff
    secrets: list[str]
    client: FlaskClient


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


def case_page(client: FlaskClient, case_id: str) -> str:
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == 200
    return page(response)


@pytest.fixture
def trail(client: FlaskClient, app: Flask) -> Trail:
    """A reporter files and writes; a coordinator signs in, reads, assigns, writes to the
    reporter, notes and moves the case on — all through the web pages. Every piece of
    content carries a unique marker."""
    marker = uuid.uuid4().hex
    narrative = f"Narrative {marker}-N: the client grabbed my wrist in room four"
    reporter_says = f"Reporter message {marker}-R: he came back the next day"
    staff_says = f"Staff message {marker}-S: you are not alone"
    note = f"Internal note {marker}-I: call the spa owner"

    reporter = app.test_client()
    receipt = receipt_from(submit_report(reporter, narrative=narrative))
    status = page(open_status(reporter, receipt))
    sent = reporter.post("/status/message", data={**hidden_fields(status), "body": reporter_says, "kind": "message"})
    assert sent.status_code == 303
    case_id = db.session.scalar(select(Case.id))
    assert case_id is not None

    coordinator = make_staff("coordinator", pseudonym="Heron")
    responder = make_staff("responder", pseudonym="Wren")
    sign_in(client, coordinator)
    html = case_page(client, case_id)
    assert narrative in html
    fields = hidden_fields(html)
    assert client.post(f"/cases/{case_id}/assign", data={**fields, "assign-staff_id": responder.id}).status_code == 303
    fields = hidden_fields(case_page(client, case_id))
    assert client.post(f"/cases/{case_id}/message", data={**fields, "message-body": staff_says}).status_code == 303
    fields = hidden_fields(case_page(client, case_id))
    assert client.post(f"/cases/{case_id}/note", data={**fields, "note-note": note}).status_code == 303
    fields = hidden_fields(case_page(client, case_id))
    moved = client.post(
        f"/cases/{case_id}/status", data={**fields, "status-status": "in_progress", "status-reason": ""}
    )
    assert moved.status_code == 303
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    assert case is not None and case.status == "in_progress" and case.assigned_to_id == responder.id
    return Trail(
        case_id=case_id,
        receipt=receipt,
        coordinator=coordinator,
        responder=responder,
        secrets=[marker, narrative, reporter_says, staff_says, note, receipt, receipt.replace("-", "")],
        client=client,
    )


def entries() -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def run_verify(app: Flask) -> Result:
    db.session.commit()
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def assert_broken_at(app: Flask, entry_id: int, reason: str) -> None:
    result = run_verify(app)
    assert result.exit_code == 1, result.output
    first_line = result.output.strip().splitlines()[0]
    assert first_line.startswith(f"Audit log BROKEN at entry {entry_id}:"), result.output
    assert reason in first_line, result.output


def middle(rows: list[AuditEntry]) -> AuditEntry:
    row = rows[len(rows) // 2]
    assert 1 < row.id < rows[-1].id
    return row


def test_real_actions_are_logged_in_order_and_verify_passes(app: Flask, trail: Trail) -> None:
    rows = entries()
    actions = [row.action for row in rows]
    # Everything expected is there, in the order it happened (other entries may come between).
    position = 0
    for action in actions:
        if position < len(EXPECTED_ACTIONS) and action == EXPECTED_ACTIONS[position]:
            position += 1
    assert position == len(EXPECTED_ACTIONS), actions
    assert [row.id for row in rows] == list(range(1, len(rows) + 1))
    by_action = {row.action: row for row in rows}
    assert by_action["staff_login"].actor_id == trail.coordinator.id
    assert by_action["case_assigned"].case_id == trail.case_id
    assert by_action["case_assigned"].detail["to"] == trail.responder.id
    assert by_action["case_status_changed"].detail["old"] == "acknowledged"
    assert by_action["case_status_changed"].detail["new"] == "in_progress"
    reporter_message = next(row for row in rows if row.action == "message_sent")
    assert (reporter_message.actor_id, reporter_message.actor_role) == ("", "reporter")

    result = run_verify(app)
    assert result.exit_code == 0, result.output
    assert result.output == f"Audit log intact: {len(rows)} entries, every link verified.\n"
    assert verify() is None


def test_no_audit_row_holds_any_report_content(trail: Trail) -> None:
    dump = []
    for table in ("audit_log", "audit_head"):
        for row in db.session.execute(text(f"SELECT * FROM {table}")).all():  # noqa: S608 - fixed names
            dump.extend(str(value) for value in row)
    everything = "\n".join(dump)
    assert trail.case_id in everything, "the trail should name the case"
    lowered = everything.lower()
    for secret in trail.secrets:
        assert secret.lower() not in lowered, f"audit log holds content: {secret!r}"
    # Nor any longer run of the narrative's words.
    assert "grabbed my wrist" not in lowered and "spa owner" not in lowered


def test_the_case_page_timeline_lists_what_happened(trail: Trail) -> None:
    html = case_page(trail.client, trail.case_id)
    section = re.search(r'<section id="timeline">(.*?)</section>', html, re.S)
    assert section, "no timeline on the case page"
    items = [
        re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", item))).strip()
        for item in re.findall(r"<li>(.*?)</li>", section.group(1), re.S)
    ]
    # Newest first, each with when, who (staff by their pseudonym, or "reporter") and what.
    assert all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b", item) for item in items), items
    shown = [item.split(" · ", 1)[1] for item in items]
    wren = db.session.scalar(select(StaffUser.name).where(StaffUser.pseudonym == "Wren"))
    who = [("Heron" if "Heron" in line.split(" · ")[0] else line.split(" · ")[0]) for line in shown]
    what = [line.split(" · ")[1].replace(f"{wren} ", "") for line in shown]
    assert list(zip(who, what, strict=True)) == [
        ("Heron", "Status changed to In progress."),
        ("Heron", "Opened the case."),
        ("Heron", "Added an internal note."),
        ("Heron", "Opened the case."),
        ("Heron", "Wrote to the reporter."),
        ("Heron", "Acknowledged the case."),
        ("Heron", "Opened the case."),
        ("Heron", "Assigned the case to (Wren). Notice sent to (Wren)."),
        ("Heron", "Opened the case."),
        ("reporter", "Wrote a message."),  # before any coordinator had an account: nobody to tell
    ], items
    # Events about other things (the sign-in) are not on a case's timeline.
    assert not any("login" in item for item in items)
    for secret in trail.secrets:
        assert secret not in section.group(1)


@pytest.mark.parametrize("column", ["action", "detail", "actor_id", "case_id", "at"])
def test_editing_any_field_of_a_row_is_caught_at_that_row(app: Flask, trail: Trail, column: str) -> None:
    rows = entries()
    target = next(row for row in rows if row.action == "case_status_changed")
    victim = middle(rows) if column != "detail" else target
    if column == "action":
        # Plain SQL, as someone at a database prompt would type it.
        db.session.execute(text("UPDATE audit_log SET action = 'case_flagged' WHERE id = :id"), {"id": victim.id})
    elif column == "detail":
        forged = {**victim.detail, "new": "closed", "reason": "resolved"}
        db.session.execute(update(AUDIT).where(AUDIT.c.id == victim.id).values(detail=forged))
    elif column == "actor_id":
        db.session.execute(
            text("UPDATE audit_log SET actor_id = :who WHERE id = :id"), {"who": trail.responder.id, "id": victim.id}
        )
    elif column == "case_id":
        db.session.execute(text("UPDATE audit_log SET case_id = NULL WHERE id = :id"), {"id": victim.id})
    else:
        db.session.execute(update(AUDIT).where(AUDIT.c.id == victim.id).values(at=victim.at - timedelta(hours=1)))
    assert_broken_at(app, victim.id, f"entry {victim.id} was changed after it was written")


def test_deleting_a_row_in_the_middle_is_caught_at_the_next(app: Flask, trail: Trail) -> None:
    victim = middle(entries())
    db.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": victim.id})
    assert_broken_at(app, victim.id + 1, f"entry {victim.id} is missing before entry {victim.id + 1}")


def test_deleting_the_first_row_is_caught(app: Flask, trail: Trail) -> None:
    db.session.execute(delete(AUDIT).where(AUDIT.c.id == 1))
    assert_broken_at(app, 2, "entry 1 is missing before entry 2")


def test_deleting_the_last_row_is_caught(app: Flask, trail: Trail) -> None:
    last = entries()[-1]
    db.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": last.id})
    assert_broken_at(app, last.id, f"entries after {last.id - 1} are missing")


def test_deleting_several_rows_at_the_end_is_caught(app: Flask, trail: Trail) -> None:
    rows = entries()
    cut = rows[-3].id
    db.session.execute(text("DELETE FROM audit_log WHERE id >= :id"), {"id": cut})
    assert_broken_at(app, cut, f"entries after {cut - 1} are missing")


def _swap_contents(first: int, second: int) -> None:
    columns = [c for c in AUDIT.c if c.name != "id"]
    rows = {r.id: r for r in db.session.execute(select(AUDIT).where(AUDIT.c.id.in_((first, second))))}
    for this, other in ((first, second), (second, first)):
        values = {c.name: getattr(rows[other], c.name) for c in columns}
        db.session.execute(update(AUDIT).where(AUDIT.c.id == this).values(**values))


def _swap_ids(first: int, second: int) -> None:
    for old, new in ((first, -1), (second, first), (-1, second)):
        db.session.execute(text("UPDATE audit_log SET id = :new WHERE id = :old"), {"old": old, "new": new})


@pytest.mark.parametrize("swap", [_swap_contents, _swap_ids], ids=["contents", "ids"])
def test_swapping_two_rows_is_caught_at_the_first(app: Flask, trail: Trail, swap: Any) -> None:
    before = {r.id: (r.action, r.hash) for r in entries()}
    first = middle(entries())
    swap(first.id, first.id + 1)
    db.session.commit()
    after = {r.id: (r.action, r.hash) for r in entries()}
    assert after[first.id] == before[first.id + 1] and after[first.id + 1] == before[first.id]
    assert_broken_at(app, first.id, f"entry {first.id} does not follow entry {first.id - 1}")


def forge(victim: Any, key: bytes) -> None:
    from app.audit.log import entry_hash

    forged_detail = {**victim.detail, "forged": True}
    forged = AuditEntry(
        id=victim.id,
        at=victim.at,
        actor_id=victim.actor_id,
        actor_role=victim.actor_role,
        action=victim.action,
        case_id=victim.case_id,
        detail=forged_detail,
        prev_hash=victim.prev_hash,
    )
    forged_hash = entry_hash(key, forged)
    db.session.execute(update(AUDIT).where(AUDIT.c.id == victim.id).values(detail=forged_detail, hash=forged_hash))


def test_a_row_rehashed_without_the_keyring_is_caught_at_that_row(app: Flask, trail: Trail) -> None:
    victim = middle(entries())
    forge(victim, key=b"a guess at the key" * 2)
    assert_broken_at(app, victim.id, f"entry {victim.id} was changed after it was written")


def test_a_row_rehashed_with_the_keyring_still_breaks_the_next_link(app: Flask, trail: Trail) -> None:
    from app.audit.log import chain_key

    victim = middle(entries())
    forge(victim, key=chain_key())
    assert_broken_at(app, victim.id + 1, f"entry {victim.id + 1} does not follow entry {victim.id}")


def test_verify_closes_its_cursor_when_it_stops_at_a_break(
    app: Flask, trail: Trail, database_url: str, request: pytest.FixtureRequest
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("server-side cursors exist on PostgreSQL only")
    victim = middle(entries()).id
    db.session.execute(delete(AUDIT).where(AUDIT.c.id == victim))
    db.session.commit()
    problem = verify()
    assert problem is not None and problem.entry_id == victim + 1
    gc.collect()
    still_open = db.session.scalars(text("SELECT name FROM pg_cursors")).all()
    assert still_open == [], f"verify() left cursors open: {still_open}"


def test_new_entries_after_verify_keep_the_chain(app: Flask, trail: Trail) -> None:
    before = len(entries())
    responder = app.test_client()
    sign_in(responder, trail.responder)
    assert responder.get(f"/cases/{trail.case_id}").status_code == 200
    rows = entries()
    assert [r.action for r in rows[before:]] == ["staff_login", "case_viewed"]
    result = run_verify(app)
    assert result.exit_code == 0 and f"{len(rows)} entries" in result.output


def test_concurrent_appends_do_not_fork_the_chain(app: Flask, database_url: str) -> None:
    # Writers on many hosts share one database; two threads with their own app contexts
    # (and so their own sessions and connections) stand in for them.
    announce("staff_login", actor="", role="system")
    per_thread = 30
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def write(name: str) -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                for n in range(per_thread):
                    announce("case_flagged", actor=name, role="coordinator", case_id=None, important=n % 2 == 0)
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(f"writer-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures

    rows = entries()
    assert [r.id for r in rows] == list(range(1, 2 * per_thread + 2))
    assert {r.actor_id for r in rows[1:]} == {"writer-0", "writer-1"}
    # The two writers really interleaved; otherwise this test proves nothing.
    switches = sum(1 for a, b in zip(rows[1:], rows[2:], strict=False) if a.actor_id != b.actor_id)
    assert switches >= 1
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    head = db.session.get(AuditHead, 1)
    assert head is not None and (head.last_id, head.last_hash) == (rows[-1].id, rows[-1].hash)
    result = run_verify(app)
    assert result.exit_code == 0 and f"{len(rows)} entries" in result.output
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 2 * per_thread + 1


# --- a log cut short, emptied or rolled back ---------------------------------------------


def cut_after(entry_id: int, *, head_mac: str | None = "keep") -> None:
    """Delete every entry after ``entry_id`` and point the head at it, as someone at a
    database prompt would, without the keyring."""
    kept = db.session.get(AuditEntry, entry_id)
    assert kept is not None
    db.session.execute(delete(AUDIT).where(AUDIT.c.id > entry_id))
    values: dict[str, Any] = {"last_id": entry_id, "last_hash": kept.hash}
    if head_mac != "keep":
        values["mac"] = head_mac
    db.session.execute(update(AuditHead).values(**values))


def test_cutting_the_tail_and_moving_the_head_back_is_caught(app: Flask, trail: Trail) -> None:
    last = entries()[-1].id
    cut_after(last - 3)
    assert_broken_at(app, last - 3, "the chain's head was moved")


def test_a_tail_rolled_back_with_an_old_head_is_caught_by_the_checkpoints(app: Flask, trail: Trail) -> None:
    old_head = db.session.get(AuditHead, 1)
    assert old_head is not None
    kept_id, kept_mac = old_head.last_id, old_head.mac
    assert run_cli(app, "audit", "checkpoint").exit_code == 0
    announce("staff_login", actor="", role="system")
    announce("staff_logout", actor="", role="system")
    assert run_cli(app, "audit", "checkpoint").exit_code == 0
    # The head and rows as a backup taken before the last two entries had them.
    cut_after(kept_id, head_mac=kept_mac)
    assert_broken_at(app, kept_id + 1, f"entries after {kept_id} are missing (the checkpoint of")


def test_an_emptied_log_is_caught_by_the_checkpoints(app: Flask, trail: Trail) -> None:
    assert run_cli(app, "audit", "checkpoint").exit_code == 0
    db.session.execute(delete(AUDIT))
    db.session.execute(delete(AuditHead.__table__))
    assert_broken_at(app, 1, "entries after 0 are missing")


def test_a_forged_checkpoint_is_caught(app: Flask, trail: Trail) -> None:
    from app.audit.checkpoints import checkpoints_path

    assert run_cli(app, "audit", "checkpoint").exit_code == 0
    path = checkpoints_path()
    path.write_text(path.read_text().replace('"last_id":', '"last_id":1'))
    result = run_verify(app)
    assert result.exit_code == 1 and "line 1 of" in result.output and "not a genuine checkpoint" in result.output


def test_the_worker_writes_checkpoints_to_the_file_and_the_log(app: Flask, trail: Trail, log_file: Any) -> None:
    from workers.jobs import audit_checkpoint

    last = entries()[-1]
    assert audit_checkpoint() == f"entry {last.id}"
    assert audit_checkpoint() == "no new entries"
    assert f"audit checkpoint: entry {last.id}, hash {last.hash}" in log_file.read_text()
    assert run_verify(app).exit_code == 0


@pytest.mark.parametrize("left_open", [False, True], ids=["new", "left-open"])
def test_checkpoints_are_readable_by_their_owner_alone(
    app: Flask, trail: Trail, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, left_open: bool
) -> None:
    instance = tmp_path / "instance"
    monkeypatch.setattr("app.config.INSTANCE", instance)
    path = instance / "audit-checkpoints.jsonl"
    if left_open:  # as an older version, or a copy made by hand, may have left them
        instance.mkdir()
        instance.chmod(0o755)
        path.write_text("")
        path.chmod(0o644)
    settings = dataclasses.replace(app.config["CONFIDE"], audit_checkpoints=str(path))
    monkeypatch.setitem(app.config, "CONFIDE", settings)
    assert run_cli(app, "audit", "checkpoint").exit_code == 0
    assert path.read_text().count("\n") == 1
    assert (instance.stat().st_mode & 0o777, path.stat().st_mode & 0o777) == (0o700, 0o600)


def test_a_detail_edited_into_invalid_json_is_named_not_a_crash(app: Flask, trail: Trail, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses invalid JSON in a json column itself")
    victim = middle(entries())
    db.session.execute(text("UPDATE audit_log SET detail = 'trUe' WHERE id = :id"), {"id": victim.id})
    assert_broken_at(app, victim.id, "its detail is not JSON")


def run_cli(app: Flask, *args: str) -> Result:
    db.session.commit()
    return app.test_cli_runner().invoke(args=list(args))
