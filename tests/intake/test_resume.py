"""What she sends after she was signed out for being idle is kept: the receipt page carries it,
and once her receipt opens her case again it comes back filled in, for her to check and send.
Nothing is acted on before she sends it again from her own page."""

from __future__ import annotations

from flask import Flask
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


def message_kept(client: FlaskClient, words: str) -> tuple[str, str]:
    """A report filed and opened; ``words`` typed as a message and sent after the idle limit.
    Returns the receipt and the receipt page that keeps them."""
    receipt = receipt_from(submit_report(client))
    typed = form_values(open_status(client, receipt).get_data(as_text=True), "/status/message")
    typed["body"] = [words]
    idle(client)
    return receipt, client.post("/status/message", data=typed).get_data(as_text=True)


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


def test_a_post_another_site_makes_her_browser_send_is_not_carried(client: FlaskClient) -> None:
    """No token of her session (her cookie is not even sent with another site's post): the
    receipt page as before, nothing of the post on it, nothing sent."""
    receipt = receipt_from(submit_report(client))
    open_status(client, receipt)
    idle(client)
    forged = client.post("/status/message", data={"body": "Written by someone else", "kind": "message"})
    assert forged.status_code == 303 and forged.headers["Location"].endswith("/status")
    assert "Written by someone else" not in client.get("/status").get_data(as_text=True)
    assert messages() == 0


def test_the_receipt_page_carries_only_what_the_gate_signed(client: FlaskClient) -> None:
    receipt, page = message_kept(client, WORDS)
    values = form_values(page, "/status")
    # Someone else's words in the gate's place: not carried, not shown as hers.
    values["body"] = ["Written by someone else"]
    values["receipt"] = [receipt]
    answer = client.post("/status", data=values)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/status/case")
    assert "Written by someone else" not in client.get("/status/case").get_data(as_text=True)
    assert messages() == 0


def test_a_stale_receipt_page_still_keeps_her_words(app: Flask, client: FlaskClient) -> None:
    """Another tab signed in meanwhile: the page's token is stale; it comes back, still carrying."""
    receipt, page = message_kept(client, WORDS)
    open_status(app.test_client(), receipt)
    with client.session_transaction() as session:
        session.clear()  # as signing in from another tab of this browser does
    values = form_values(page, "/status")
    values["receipt"] = [receipt]
    again = client.post("/status", data=values)
    body = again.get_data(as_text=True)
    assert again.status_code == 400 and "Please enter your receipt again." in body and str(escape(WORDS)) in body
    status, body = sign_in(client, body, receipt)
    assert status == 200 and form_values(body, "/status/message")["body"] == [WORDS]


def test_a_message_in_danger_can_go_as_a_new_report(client: FlaskClient) -> None:
    _, page = message_kept(client, NARRATIVE)
    assert page.index('href="tel:911"') < page.index("What you wrote is not lost")
    answer = client.post("/report", data=form_values(page, "/report"))
    assert answer.status_code == 200 and 'id="receipt"' in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Case).where(Case.level == 0)) == 1


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

    # The second form sends the same fields to /report.
    answer = client.post("/report", data=form_values(page, "/report"))
    assert answer.status_code == 200 and 'id="receipt"' in answer.get_data(as_text=True)
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
