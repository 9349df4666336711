"""The licensing-complaint helper: a draft letter to the licensing board, pre-filled from the
report, that a reporter downloads from /status, edits, and sends themselves if they choose.
Nothing is ever sent from here.

The first page speaks to the reporter in their language (what this is, that complaints may
be disclosable under Freedom of Information laws, what to fill in). The letter itself is in
English, the language the board works in; the reporter's own words are kept as written.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _

from app import vocabulary as words
from app.cases.content import ContactDetails, ReportContent
from app.cases.models import Case
from app.config import current_settings
from app.i18n import in_language
from app.pdf.typeset import GREY, start


def wants_licensing_help(content: ReportContent) -> bool:
    return "licensing" in content.wants


def _label(table: dict[str, object], code: str) -> str:
    return str(table[code]) if code in table else ""


def complaint_letter(case: Case, content: ReportContent, contact: ContactDetails | None, *, today: datetime) -> bytes:
    """The draft letter as a PDF."""
    board = current_settings().licensing_board
    name = contact.name.strip() if contact and contact.name.strip() else "[Your name]"
    with in_language(case.language):
        notes = {
            "title": _("Draft complaint to the licensing board"),
            "draft": _("This is a draft. Nothing has been sent, and Confide will never send it for you."),
            "foi": _(
                "Before you send it: complaints to the Department of Public Health may be disclosable under "
                "Connecticut's Freedom of Information laws. The person you complain about may be told about the "
                "complaint, and parts of it may be given to others who ask for them. Include only what you are "
                "comfortable with. A peer responder or a lawyer can talk it through with you first."
            ),
            "fill": _(
                "Fill in the parts in [square brackets], take out anything you do not want to share, then sign it "
                "and send it yourself by mail, or through the Department's own complaint form."
            ),
            "english": _(
                "The letter is in English, the language the Department works in. "
                "Your own words are kept as you wrote them."
            ),
            "footer": _("Draft, not sent"),
        }
    with in_language("en"):
        category = _label(words.CATEGORIES, case.category)
        when = _label(words.WHEN, content.when)
        setting = _label(words.SETTINGS, content.setting)
    out = start("Draft complaint", notes["footer"], created=today, language=case.language, lang=case.language)
    out.block(notes["title"], size=16, bold=True, leading=1.3)
    out.y += 6
    out.notice(notes["draft"], f"{notes['foi']}\n\n{notes['fill']}\n\n{notes['english']}")
    out.new_page()  # the letter starts on a page of its own, ready to print and sign
    day = today.astimezone(UTC)
    for line in (name, "[Your address]", "[Your phone or email]", "", f"{day:%B} {day.day}, {day.year}", ""):
        out.block(line or " ")
    for line in board:
        out.block(line)
    out.y += 10
    out.block("Re: Complaint concerning a licensed massage therapist", bold=True)
    out.y += 6
    paragraphs = [
        "Dear Sir or Madam,",
        "I am writing to file a complaint about [name of the licensed massage therapist], license number "
        "[license number, if known], who works at [name and address of the business].",
        f"What happened: {category}."
        + (f" When: {when.lower()}." if when else "")
        + (f" Where: {setting.lower()}." if setting else ""),
        "In my own words:",
    ]
    for paragraph in paragraphs:
        out.block(paragraph)
        out.y += 6
    out.block(content.narrative or "[Describe what happened, when and where.]", size=10, leading=1.45)
    out.y += 6
    for paragraph in (
        "I am willing to provide further information. Please contact me at the address above.",
        "Sincerely,",
        "",
        "[Signature]",
        name,
    ):
        out.block(paragraph or " ")
    out.y += 12
    out.block(notes["draft"], size=8.5, color=GREY)
    return out.finish()
