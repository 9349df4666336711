"""The report form and the reporter's receipt forms."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app import vocabulary as v
from app.cases.consent import PURPOSES
from app.config import current_settings
from app.forms import CheckboxList, Form
from app.intake.tokens import new_submission_token

PHONE_RE = re.compile(r"^\+?[0-9 ().\-]{7,25}$")
EMAIL_RE = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,189}\.[^@\s<>.]{2,}$")


def _choices(mapping: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in mapping.items()]


def max_chars(setting: str, explain: Callable[[int, int], str]) -> Callable[[Any, Any], None]:
    """A validator refusing text longer than the setting allows; ``explain(count, limit)``."""

    def check(form: Any, field: Any) -> None:
        limit = getattr(current_settings(), setting)
        if field.data and len(field.data) > limit:
            raise ValidationError(explain(len(field.data), limit))

    return check


_narrative_limit = max_chars(
    "narrative_max_chars",
    lambda count, limit: _l(
        "This is %(count)d characters; the most we can take at once is %(limit)d. "
        "Shorten it here, and send the rest as a message after you get your receipt.",
        count=count,
        limit=limit,
    ),
)


def _yes_no() -> list[SelectChoice]:
    return _choices(v.YES_NO_UNSURE)


class ReachForm(Form):
    """What every form that files a case asks besides its own questions: how to reach her (or
    through the receipt alone), her choices, her language, and who on the team must not see it."""

    identity = RadioField(
        _l("Do you want to give your name?"),
        choices=[
            SelectChoice("anonymous", _l("No, keep me anonymous")),
            SelectChoice("named", _l("Yes, I will give my name and how to reach me")),
        ],
        default="anonymous",
    )
    name = StringField(_l("Your name"), validators=[Optional(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    safe_times = StringField(
        _l("When is it safe to contact you?"),
        description=_l("For example: weekdays after 6 pm."),
        validators=[Optional(), Length(max=300)],
    )
    voicemail_ok = RadioField(
        _l("May we leave a voicemail?"),
        choices=[SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))],
        validators=[Optional()],
    )
    code_word = StringField(
        _l("A code word"),
        description=_l("We will say it when we contact you, so you know it is really us."),
        validators=[Optional(), Length(max=100)],
    )
    contact_phone = BooleanField(PURPOSES["contact_phone"])
    contact_email = BooleanField(PURPOSES["contact_email"])
    contact_text = BooleanField(PURPOSES["contact_text"])
    peer_support = BooleanField(PURPOSES["peer_support"], default=True)
    legal_referral = BooleanField(PURPOSES["legal_referral"])
    identity_to_counsel = BooleanField(PURPOSES["identity_to_counsel"])

    language = SelectField(_l("Which language should we use with you?"), choices=[])
    exclude = StringField(
        _l("Peer responders who must not see your report"),
        description=_l(
            "Optional. If you know someone on the team, write the names they use with us, "
            "separated by commas. They will not be given your report."
        ),
        validators=[Optional(), Length(max=500)],
    )
    submission = HiddenField()
    # Left empty by people; bots that fill every field give themselves away.
    website = StringField(_l("Leave this field empty"))

    # Said when contact details were typed under the choice not to give them, and when the
    # choice to give them came without a name: in the words of this form's own choices.
    details_without_choice = _l(
        "You chose to stay anonymous but wrote contact details. Choose "
        "\u201cYes, I will give my name and how to reach me\u201d to keep them, or clear them."
    )
    choice_without_name = _l("Please write a name, or choose to stay anonymous.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from app.i18n import language_choices

        self.language.choices = [SelectChoice(code, name) for code, name in language_choices()]
        if not self.submission.data:
            self.submission.data = new_submission_token()

    def validate_website(self, field: StringField) -> None:
        if field.data:
            raise ValidationError(_l("Please leave this field empty."))

    def validate_email(self, field: StringField) -> None:
        if field.data and not EMAIL_RE.match(field.data.strip()):
            raise ValidationError(_l("This does not look like an email address."))

    def validate_phone(self, field: StringField) -> None:
        if field.data and not PHONE_RE.match(field.data.strip()):
            raise ValidationError(_l("Please write the number with digits, e.g. 860-555-0100."))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        named = self.identity.data == "named"
        contact_fields = (self.name, self.email, self.phone, self.safe_times, self.code_word)
        if not named and any((f.data or "").strip() for f in contact_fields):
            self.identity.errors = list(self.identity.errors) + [self.details_without_choice]
            valid = False
        if named and not (self.name.data or "").strip():
            self.name.errors = list(self.name.errors) + [self.choice_without_name]
            valid = False
        for consent, detail in (
            (self.contact_phone, self.phone),
            (self.contact_text, self.phone),
            (self.contact_email, self.email),
        ):
            if consent.data and named and not (detail.data or "").strip():
                detail.errors = list(detail.errors) + [
                    _l("You allowed us to use this; please fill it in, or untick the box.")
                ]
                valid = False
        return valid


class ReportForm(ReachForm):
    category = RadioField(
        _l("What happened?"),
        choices=_choices(v.CATEGORIES),
        validators=[DataRequired(_l("Please choose what comes closest. You can explain below."))],
    )
    perpetrator = RadioField(_l("Who did it?"), choices=_choices(v.PERPETRATORS), validators=[Optional()])
    setting = RadioField(_l("Where did it happen?"), choices=_choices(v.SETTINGS), validators=[Optional()])
    when = SelectField(
        _l("When did it happen?"),
        choices=[SelectChoice("", _l("Choose (optional)"))] + _choices(v.WHEN),
        validators=[Optional()],
    )
    county = SelectField(
        _l("In which county?"),
        choices=[SelectChoice("", _l("Choose (optional)"))] + _choices(v.COUNTIES),
        validators=[Optional()],
    )
    narrative = TextAreaField(
        _l("What happened, in your own words"),
        description=_l("Share only what you are comfortable sharing. You can add more later."),
        validators=[Optional(), _narrative_limit],
    )
    danger_now = RadioField(_l("Are you in danger right now?"), choices=_yes_no(), validators=[Optional()])
    injured = RadioField(_l("Were you hurt or injured?"), choices=_yes_no(), validators=[Optional()])
    ongoing = RadioField(_l("Is it still happening?"), choices=_yes_no(), validators=[Optional()])
    wants = CheckboxList(_l("What would help?"), choices=_choices(v.WANTS), validators=[Optional()])


# The choices that speak of "my report", as a support request says them.
SUPPORT_PURPOSES = {
    "peer_support": _l("A trained peer responder may read what I write and reply to me."),
    "legal_referral": _l("What I write may be shared with legal counsel if I ask for a referral."),
}


class SupportForm(ReachForm):
    """A support request: "I'd like to talk with someone". Short: what is on her mind (if she
    wants to say), her language, and how to reach her."""

    narrative = TextAreaField(
        _l("What is on your mind?"),
        description=_l("Optional. A few words are enough, or none: a peer will listen."),
        validators=[Optional(), _narrative_limit],
    )
    identity = RadioField(
        _l("How should we reach you?"),
        choices=[
            SelectChoice("anonymous", _l("Only through my receipt")),
            SelectChoice("named", _l("Contact me too: my name and how to reach me")),
        ],
        default="anonymous",
    )
    details_without_choice = _l(
        "You chose your receipt only but wrote contact details. Choose "
        "\u201cContact me too: my name and how to reach me\u201d to keep them, or clear them."
    )
    choice_without_name = _l("Please write a name (any name you like), or choose your receipt only.")
    peer_support = BooleanField(SUPPORT_PURPOSES["peer_support"], default=True)
    legal_referral = BooleanField(SUPPORT_PURPOSES["legal_referral"])
    exclude = StringField(
        _l("Peer responders who must not see your request"),
        description=_l(
            "Optional. If you know someone on the team, write the names they use with us, "
            "separated by commas. They will not be given your request."
        ),
        validators=[Optional(), Length(max=500)],
    )


class ReceiptForm(Form):
    receipt = StringField(
        _l("Your receipt"),
        description=_l("The 20 digits you were given, e.g. 1234-5678-9012-3456-7890."),
        validators=[DataRequired(_l("Please enter your receipt."))],
    )


class MessageForm(Form):
    body = TextAreaField(
        _l("Your message"),
        validators=[
            DataRequired(_l("Please write something first.")),
            max_chars(
                "message_max_chars",
                lambda count, limit: _l(
                    "This is %(count)d characters; please keep each message under %(limit)d. "
                    "You can send the rest in another message.",
                    count=count,
                    limit=limit,
                ),
            ),
        ],
    )
    kind = RadioField(
        _l("What are you sending?"),
        choices=[
            SelectChoice("message", _l("A message to the peer responder")),
            SelectChoice("information", _l("More information for my report")),
        ],
        default="message",
    )


class ConsentForm(Form):
    peer_support = BooleanField(PURPOSES["peer_support"])
    legal_referral = BooleanField(PURPOSES["legal_referral"])
    identity_to_counsel = BooleanField(PURPOSES["identity_to_counsel"])
    contact_phone = BooleanField(PURPOSES["contact_phone"])
    contact_email = BooleanField(PURPOSES["contact_email"])
    contact_text = BooleanField(PURPOSES["contact_text"])


class LogoutForm(Form):
    pass


class DeleteReportForm(Form):
    understood = BooleanField(
        _l("I understand that what I sent and our messages will be deleted for good."),
        validators=[DataRequired(_l("Tick the box to confirm, or go back to keep your report."))],
    )
