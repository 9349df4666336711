"""The report form, as a reporter on a phone would use it."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.cases.consent import current_consent
from app.cases.models import Case
from app.extensions import db
from tests.helpers import hidden_fields, open_status, receipt_from, report_answers, submit_report

RECEIPT_DIGITS = re.compile(r"\d{4}-\d{4}-\d{4}-\d{4}-\d{4}")


def case_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Case)) or 0


def test_anonymous_report_is_filed_and_receipt_shown_once(client: FlaskClient) -> None:
    response = submit_report(client)
    assert response.status_code == 200
    receipt = receipt_from(response)
    assert len(receipt.replace("-", "")) == 20
    assert "only time it is shown" in response.get_data(as_text=True)
    case = db.session.scalars(select(Case)).one()
    assert case.is_named is False and case.contact_sealed is None
    assert case.category == "sexual_harassment" and case.level == 2
    assert case.routing_state in ("intake", "assigned", "coordinators")
    assert case.ack_due_at > case.created_at
    assert receipt.replace("-", "").encode() not in case.receipt_index


def test_missing_category_keeps_everything_typed(client: FlaskClient) -> None:
    narrative = "Er kam zurück & sagte <nichts>. Ñandú — 続きます"
    response = submit_report(client, category=None, narrative=narrative, name="", county="hartford")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please choose what comes closest" in body
    assert "Er kam zurück &amp; sagte &lt;nichts&gt;. Ñandú — 続きます" in body
    assert '<option selected value="hartford">' in body
    assert case_count() == 0


def test_anonymous_with_contact_details_is_explained_not_dropped(client: FlaskClient) -> None:
    response = submit_report(client, email="me@example.org")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "You chose to stay anonymous but wrote contact details" in body
    assert 'value="me@example.org"' in body
    assert case_count() == 0


def test_named_report_seals_contact_and_records_consent(client: FlaskClient) -> None:
    response = submit_report(
        client,
        identity="named",
        name="Dana Q",
        phone="860-555-0100",
        contact_text="y",
        legal_referral="y",
    )
    assert response.status_code == 200
    case = db.session.scalars(select(Case)).one()
    assert case.is_named and case.contact_sealed is not None
    assert b"Dana" not in case.contact_sealed
    consent = current_consent(case.id)
    assert consent["contact_text"] and consent["legal_referral"] and consent["peer_support"]
    assert not consent["contact_phone"] and not consent["identity_to_counsel"]


def test_contact_consent_without_the_detail_is_an_error(client: FlaskClient) -> None:
    response = submit_report(client, identity="named", name="Dana", contact_email="y")
    assert response.status_code == 400
    assert "please fill it in, or untick the box" in response.get_data(as_text=True)


def test_honeypot_filled_files_nothing(client: FlaskClient) -> None:
    response = submit_report(client, website="http://spam.example")
    assert response.status_code == 400
    assert case_count() == 0


def test_resent_form_files_one_case_and_shows_the_receipt_that_works(client: FlaskClient) -> None:
    # A double tap, or a connection lost after the saving: the browser never shows the first
    # answer, so the second must carry a receipt, and it must be the one that opens the case.
    page = client.get("/report").get_data(as_text=True)
    data = {**hidden_fields(page), **report_answers()}
    first = client.post("/report", data=data)
    again = client.post("/report", data=data)
    assert first.status_code == again.status_code == 200
    assert "sent twice, and we kept it once" in again.get_data(as_text=True)
    # The same receipt both times: nothing was written, so nothing stops working.
    assert receipt_from(again) == receipt_from(first)
    assert case_count() == 1
    assert "Received." in open_status(app_client(client), receipt_from(again)).get_data(as_text=True)
    shown = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "receipt_shown_again")).all()
    assert len(shown) == 1


def app_client(client: FlaskClient) -> FlaskClient:
    """Another browser, to try a receipt in."""
    return client.application.test_client()


def test_a_form_resent_after_its_receipt_was_used_gets_no_new_one(client: FlaskClient) -> None:
    page = client.get("/report").get_data(as_text=True)
    data = {**hidden_fields(page), **report_answers()}
    receipt = receipt_from(client.post("/report", data=data))
    # She opens her case on her phone and signs out, as the safety advice says.
    phone = app_client(client)
    open_status(phone, receipt)
    phone.post("/status/logout", data=hidden_fields(phone.get("/status/case").get_data(as_text=True)))
    again = client.post("/report", data=data)
    assert again.status_code == 409
    assert "already received" in again.get_data(as_text=True)
    assert RECEIPT_DIGITS.search(again.get_data(as_text=True)) is None
    assert "Received." in open_status(app_client(client), receipt).get_data(as_text=True)


def test_a_form_resent_long_after_gets_no_receipt(client: FlaskClient) -> None:
    # Back and send on a shared computer, long after she left: nothing of hers is shown.
    page = client.get("/report").get_data(as_text=True)
    data = {**hidden_fields(page), **report_answers()}
    receipt = receipt_from(client.post("/report", data=data))
    for case in db.session.scalars(select(Case)):
        case.created_at -= timedelta(minutes=16)
    db.session.commit()
    again = client.post("/report", data=data)
    assert again.status_code == 409 and RECEIPT_DIGITS.search(again.get_data(as_text=True)) is None
    assert "Received." in open_status(app_client(client), receipt).get_data(as_text=True)
    assert case_count() == 1


def test_a_form_filed_before_receipts_came_from_tokens_is_not_shown_one(client: FlaskClient) -> None:
    # Its receipt was random: one made from the token now would open nothing.
    page = client.get("/report").get_data(as_text=True)
    data = {**hidden_fields(page), **report_answers()}
    client.post("/report", data=data)
    for case in db.session.scalars(select(Case)):
        case.submission_digest = None
    db.session.commit()
    again = client.post("/report", data=data)
    assert again.status_code == 409 and RECEIPT_DIGITS.search(again.get_data(as_text=True)) is None
    assert case_count() == 1


def test_a_resent_form_with_another_choice_is_filed_too(client: FlaskClient) -> None:
    # Back, then a responder to keep away added: the same form, another report.
    page = client.get("/report").get_data(as_text=True)
    data = {**hidden_fields(page), **report_answers()}
    first = client.post("/report", data=data)
    changed = client.post("/report", data={**data, "exclude": "Birch"})
    assert first.status_code == changed.status_code == 200
    assert receipt_from(first) != receipt_from(changed) and case_count() == 2


def test_a_resent_form_with_more_written_is_filed_too(client: FlaskClient) -> None:
    page = client.get("/report").get_data(as_text=True)
    data = {**hidden_fields(page), **report_answers(narrative="He grabbed my arm.")}
    first = client.post("/report", data=data)
    more = client.post("/report", data={**data, "narrative": "He grabbed my arm. Then he followed me out."})
    assert first.status_code == more.status_code == 200
    assert receipt_from(first) != receipt_from(more)
    assert case_count() == 2
    assert "Received." in open_status(app_client(client), receipt_from(first)).get_data(as_text=True)
    assert sorted("resent" in case.signals for case in db.session.scalars(select(Case))) == [False, True]


def test_a_token_is_good_only_in_the_browser_it_was_given_to(client: FlaskClient, app: Flask) -> None:
    page = hidden_fields(client.get("/report").get_data(as_text=True))
    # Someone who saw her form's token (a shared computer, over her shoulder) files with it
    # first from a browser of his own: his report goes in as a new one...
    other = app.test_client()
    his = {**hidden_fields(other.get("/report").get_data(as_text=True)), "submission": page["submission"]}
    assert other.post("/report", data={**his, **report_answers(narrative="His")}).status_code == 200
    # ... and hers is not taken for a copy of his.
    hers = {**page, **report_answers(narrative="Hers")}
    assert client.post("/report", data=hers).status_code == 200
    # Trying it again tells him nothing of hers; her own resend is still known for one.
    probe = other.post("/report", data={**his, **report_answers(narrative="His")})
    assert probe.status_code == 200 and "already received" not in probe.get_data(as_text=True)
    again = client.post("/report", data=hers)
    assert again.status_code == 200 and "sent twice" in again.get_data(as_text=True)
    assert case_count() == 3


def test_danger_now_shows_emergency_help_first(client: FlaskClient) -> None:
    response = submit_report(client, danger_now="yes")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.index("tel:911") < body.index('id="receipt"')
    assert "on-call coordinator" in body
    assert db.session.scalars(select(Case)).one().level == 0


def test_too_long_narrative_is_refused_kindly(client: FlaskClient, app: Flask) -> None:
    limit = app.config["CONFIDE"].narrative_max_chars
    response = submit_report(client, narrative="a" * (limit + 1))
    assert response.status_code == 400
    assert f"the most we can take at once is {limit:,}" in response.get_data(as_text=True) or (
        f"the most we can take at once is {limit}" in response.get_data(as_text=True)
    )
    assert case_count() == 0


def test_oversized_request_is_413_with_a_kind_page(client: FlaskClient, app: Flask) -> None:
    size = app.config["CONFIDE"].max_request_bytes
    response = submit_report(client, narrative="b" * (size + 10))
    assert response.status_code == 413
    assert "too long to send" in response.get_data(as_text=True)
    assert case_count() == 0


def test_hostile_input_is_rejected_without_a_500(client: FlaskClient) -> None:
    for answers in (
        {"category": "drop table"},
        {"when": "tomorrow"},
        {"wants": ["peer", "bogus"]},
        {"language": "xx"},
        {"phone": "call me maybe"},
    ):
        response = submit_report(client, **answers)
        assert response.status_code == 400, answers
    assert case_count() == 0


def test_control_characters_are_stored_and_shown_safely(client: FlaskClient) -> None:
    response = submit_report(client, narrative="line one\x00\r\nline <two>\u202e")
    assert response.status_code == 200
    assert case_count() == 1


def test_each_form_gets_its_own_tokens_in_each_language(client: FlaskClient, app: Flask) -> None:
    first = hidden_fields(client.get("/report").get_data(as_text=True))
    second_page = client.get("/report").get_data(as_text=True)
    second = hidden_fields(second_page)
    assert first["submission"] != second["submission"]
    assert "\x00" not in second_page
    spanish = client.get("/report", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="es">' in spanish and "\x00" not in spanish
    for tokens in (first, second):
        response = client.post("/report", data={**tokens, **report_answers()})
        assert response.status_code == 200
        receipt_from(response)
    assert case_count() == 2


def test_an_anonymous_report_stays_anonymous_whatever_was_ticked(client: FlaskClient) -> None:
    response = submit_report(client, voicemail_ok="yes", contact_phone="y")
    assert response.status_code == 200
    case = db.session.scalars(select(Case)).one()
    assert case.is_named is False and case.contact_sealed is None
    assert not current_consent(case.id)["contact_phone"]


def test_switching_language_keeps_every_answer_and_files_nothing(client: FlaskClient) -> None:
    page = client.get("/report").get_data(as_text=True)
    assert page.index("Send my report") < page.index('name="switch_language" value="es"'), "Enter must still send"
    typed = report_answers(narrative="Mi jefe guarda mi pasaporte & <todo>", danger_now="unsure", when="week")
    switched = client.post("/report/language", data={**hidden_fields(page), **typed, "switch_language": "es"})
    body = switched.get_data(as_text=True)
    assert switched.status_code == 200 and '<html lang="es">' in body
    assert "Mi jefe guarda mi pasaporte &amp; &lt;todo&gt;" in body
    unsure = re.search(r'<input[^>]*name="danger_now"[^>]*value="unsure"[^>]*>', body)
    assert unsure and " checked" in unsure.group(0)
    assert case_count() == 0
    # Sent from the page in Spanish, the report goes in as typed.
    sent = client.post("/report", data={**hidden_fields(body), **typed})
    assert sent.status_code == 200 and case_count() == 1


def test_an_uptime_check_asking_for_the_form_headers_is_answered_and_files_nothing(client: FlaskClient) -> None:
    for path in ("/report", "/status"):
        answer = client.head(path)
        assert answer.status_code == 200, path
        assert answer.data == b""
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0
