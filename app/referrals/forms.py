"""Forms for referrals and the counsel directory. Staff and counsel pages are in English."""

from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.forms import CheckboxList, Form
from app.referrals.vocabulary import DECLINE_REASONS, PRACTICE_AREAS


class ReferForm(Form):
    counsel_id = SelectField("Refer to", choices=[], validators=[DataRequired("Choose counsel.")])


class DecideForm(Form):
    decision = SelectField(
        "Your decision",
        choices=[
            SelectChoice("", "Choose…"),
            SelectChoice("accept", "Accept the referral"),
            SelectChoice("decline", "Decline"),
        ],
        validators=[DataRequired("Choose accept or decline.")],
    )
    reason = SelectField(
        "If declining, why",
        choices=[SelectChoice("", "—")] + [SelectChoice(k, v) for k, v in DECLINE_REASONS.items()],
        validators=[Optional()],
    )


class CounselProfileForm(Form):
    firm = StringField("Firm or organisation", validators=[DataRequired("Give the firm's name."), Length(max=200)])
    practice_areas = CheckboxList("Practice areas", choices=[SelectChoice(k, v) for k, v in PRACTICE_AREAS.items()])
    languages = StringField(
        "Languages",
        description="Language codes, separated by commas: en, es, zh, ko, pt…",
        validators=[DataRequired("Give at least one language."), Length(max=200)],
    )
    age_recipient = TextAreaField(
        "age public key",
        description="Counsel make it with age-keygen and send the line starting age1. Never the secret key.",
        filters=[lambda value: value.strip() if value else value],
        validators=[DataRequired("Paste counsel's age public key."), Length(max=200)],
    )
