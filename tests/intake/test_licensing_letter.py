"""The licensing-complaint helper: a draft the reporter downloads, edits and sends themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask_babel import gettext
from sqlalchemy import func, select

from app.cases.content import ContactDetails
from app.extensions import db
from app.i18n import in_language
from app.notify.models import Notification
from tests.cases.test_case_page import as_reporter
from tests.factories import make_case
from tests.referrals.test_referrals import pdf_text


def test_a_reporter_who_asked_for_licensing_help_downloads_a_prefilled_draft(app: Flask, tmp_path: Path) -> None:
    case = make_case(
        category="practitioner_violation",
        narrative="The owner of the spa touched me without consent during my shift.",
        wants=("licensing", "peer"),
        when="month",
        setting="clinic",
        contact=ContactDetails(name="Dana Whitfield", email="dana@example.org"),
    )
    reporter = as_reporter(app, case)
    page = reporter.get("/status/case").get_data(as_text=True)
    assert "Freedom of Information" in page and "/status/licensing-letter" in page
    download = reporter.get("/status/licensing-letter")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"] == 'attachment; filename="draft-complaint.pdf"'
    text = " ".join(pdf_text(download.data, tmp_path).split())
    assert "Nothing has been sent" in text and "Freedom of Information" in text
    assert "Connecticut Department of Public Health" in text and "Hartford, CT 06134-0308" in text
    assert "touched me without consent during my shift" in text
    assert "Dana Whitfield" in text and "[name of the licensed massage therapist]" in text
    assert "When: in the last month" in text and "Where: a clinic or spa" in text
    # Nothing was sent or queued to be sent.
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_the_draft_speaks_to_a_spanish_speaking_reporter_in_spanish(app: Flask, tmp_path: Path) -> None:
    case = make_case(language="es", narrative="El dueño me tocó sin permiso.", wants=("licensing",))
    reporter = as_reporter(app, case)
    text = " ".join(pdf_text(reporter.get("/status/licensing-letter").data, tmp_path).split())
    assert "Esto es un borrador" in text and "Libertad de Información" in text
    assert "El dueño me tocó sin permiso." in text
    assert "[Your name]" in text  # anonymous: the letter leaves the name for them to write


@pytest.mark.parametrize(
    ("language", "narrative"),
    [
        ("zh-Hans", "店主在我上班的时候摸了我。"),
        ("ko", "업주가 근무 중에 저를 만졌어요."),
        ("pt-BR", "O dono me tocou sem permissão."),
    ],
)
def test_the_draft_explains_itself_in_each_reporters_language(
    app: Flask, tmp_path: Path, language: str, narrative: str
) -> None:
    case = make_case(language=language, narrative=narrative, wants=("licensing",))
    reporter = as_reporter(app, case)
    text = "".join(pdf_text(reporter.get("/status/licensing-letter").data, tmp_path).split())
    with app.test_request_context(), in_language(language):
        draft = gettext("This is a draft. Nothing has been sent, and Confide will never send it for you.")
    assert draft != "This is a draft. Nothing has been sent, and Confide will never send it for you."
    assert "".join(draft.split()) in text  # the note, in her language, legible in the PDF
    assert "".join(narrative.split()) in text and "Re:Complaint" in text  # her words, in a letter in English


def test_no_draft_for_a_reporter_who_did_not_ask_for_one(app: Flask) -> None:
    reporter = as_reporter(app, make_case(wants=("peer",)))
    assert "licensing-letter" not in reporter.get("/status/case").get_data(as_text=True)
    assert reporter.get("/status/licensing-letter").status_code == 404
