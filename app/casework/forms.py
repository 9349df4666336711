"""Forms on the case page. Staff pages are in English."""

from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.forms import Form
from app.vocabulary import CLOSE_REASONS, STATUS_NAMES


class StaffMessageForm(Form):
    body = TextAreaField(
        "Message to the reporter",
        description="The reporter reads this with their receipt. They see your pseudonym, not your name.",
        validators=[DataRequired("Write the message first."), Length(max=10_000)],
    )


class NoteForm(Form):
    note = TextAreaField(
        "Internal note",
        description="Staff only; never shown to the reporter.",
        validators=[DataRequired("Write the note first."), Length(max=10_000)],
    )


class StatusForm(Form):
    status = SelectField(
        "New status",
        choices=[SelectChoice(k, v) for k, v in STATUS_NAMES.items()],
        validators=[DataRequired("Choose the new status.")],
    )
    reason = SelectField(
        "Reason (when closing)",
        choices=[SelectChoice("", "—")] + [SelectChoice(k, v) for k, v in CLOSE_REASONS.items()],
        validators=[Optional()],
    )


class AssignForm(Form):
    staff_id = SelectField("Assign to", choices=[])


class SearchForm(Form):
    # A receipt may be typed here: the form is sent by POST, so it is never in a URL.
    q = StringField(
        "Find a case",
        description="Its reference (#1a2b3c4d) or the receipt a reporter reads out.",
        validators=[DataRequired("Type a reference or a receipt."), Length(max=100)],
    )
