"""What she sends after she was signed out for being idle is kept: the receipt page carries it,
and once her receipt opens her case again it comes back filled in, for her to check and send.
Nothing is acted on before she sends it again from her own page."""

from __future__ import annotations

from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import func, select

from app.cases.models import Case, Message
from app.extensions import db
from tests.helpers import form_values, open_status, receipt_from, submit_report
from tests.intake.test_becoming import WORDS, fresh, support_request, the_form
from tests.notify.test_paging import NARRATIVE


def idle(client: FlaskClient) -> None:
    """Her browser left alone past the idle limit."""
    with client.session_transaction() as session:
        session["seen"] -= 31 * 60


def sign_in(client: FlaskClient, page: str, receipt: str) -> tuple[int, str]:
    """Her receipt typed into ``page``'s receipt form, the rest sent as the page holds it."""
    values = form_values(page, "/status")
    values["receipt"] = [receipt]
    answer = client.post("/status", data=values)
    return answer.status_code, answer.get_data(as_text=True)


def messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message)) or 0


def test_a_message_sent_after_she_was_signed_out_comes_back_to_send(client: FlaskClient) -> None:
    receipt = receipt_from(submit_report(client))
    typed = form_values(open_status(client, receipt).get_data(as_text=True), "/status/message")
    typed["body"] = [WORDS]
    idle(client)

    kept = client.post("/status/message", data=typed)
    page = kept.get_data(as_text=True)
    assert kept.status_code == 400
    assert "signed out after a while without activity" in page and "What you wrote is not lost" in page
    assert str(escape(WORDS)) in page, "shown, so she can copy it"
    assert 'href="tel:911"' not in page and "Send as a new report" not in page
    assert messages() == 0

    # A receipt mistyped: asked again, her words still there.
    status, page = sign_in(client, page, "0000-0000-0000-0000-0000")
    assert status == 400 and "could not find a report with that receipt" in page
    assert str(escape(WORDS)) in page

    status, page = sign_in(client, page, receipt)
    assert status == 200 and "You are signed in again." in page
    box = form_values(page, "/status/message")
    assert box["body"] == [WORDS]
    assert messages() == 0, "not sent until she sends it"
    sent = client.post("/status/message", data=box, follow_redirects=True)
    assert "Sent. A peer responder will see it." in sent.get_data(as_text=True)
    assert messages() == 1


def test_a_post_without_her_session_sends_nothing(client: FlaskClient) -> None:
    """Posted by another page, with no session at all: shown back, never sent."""
    receipt_from(submit_report(client))
    kept = client.post("/status/message", data={"body": "Written by someone else", "kind": "message"})
    assert kept.status_code == 400 and "Written by someone else" in kept.get_data(as_text=True)
    assert messages() == 0


def test_the_report_she_was_turning_her_request_into_is_kept(client: FlaskClient) -> None:
    receipt, case_id = support_request(client, narrative=WORDS)
    typed = the_form(client)
    typed.update(narrative=[NARRATIVE], category=["threats"])
    idle(client)

    kept = client.post("/status/report", data=typed)
    page = kept.get_data(as_text=True)
    assert kept.status_code == 400
    assert page.index('href="tel:911"') < page.index("What you wrote is not lost"), "911 first: she is in danger"
    assert "Send as a new report" in page and NARRATIVE in page
    assert fresh(case_id).kind == "support"

    status, page = sign_in(client, page, receipt)
    assert status == 200 and "<h1>Turn it into a report</h1>" in page and "You are signed in again." in page
    again = form_values(page, "/status/report")
    assert again["narrative"] == [NARRATIVE] and again["category"] == ["threats"]
    assert fresh(case_id).kind == "support", "not acted on until she sends it"
    assert client.post("/status/report", data=again).status_code == 303
    case = fresh(case_id)
    assert (case.kind, case.category, case.level) == ("report", "threats", 0)


def test_words_in_danger_can_go_as_a_new_report_without_the_receipt(client: FlaskClient) -> None:
    _, case_id = support_request(client)
    typed = the_form(client)
    typed.update(narrative=[NARRATIVE], category=["threats"])
    idle(client)
    page = client.post("/status/report", data=typed).get_data(as_text=True)

    # The second button sends the same fields to /report.
    answer = client.post("/report", data=form_values(page, "/status"))
    assert answer.status_code == 200 and "Your receipt" in answer.get_data(as_text=True)
    new = db.session.scalars(select(Case).where(Case.id != case_id)).one()
    assert (new.kind, new.level) == ("report", 0)
    assert fresh(case_id).kind == "support"


def test_without_danger_she_is_not_offered_a_new_report(client: FlaskClient) -> None:
    receipt, case_id = support_request(client, narrative=WORDS)
    typed = the_form(client)
    typed.update(category=["other"])
    idle(client)
    page = client.post("/status/report/language", data={**typed, "switch_language": "es"}).get_data(as_text=True)
    assert "Send as a new report" not in page and 'href="tel:911"' not in page
    status, page = sign_in(client, page, receipt)
    assert status == 200 and form_values(page, "/status/report")["narrative"] == [WORDS]
