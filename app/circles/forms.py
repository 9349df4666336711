"""The forms of circles: asking for the place or link, and coming back with the code (in the
reader's language); a coordinator's circle (staff pages, English)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import DateField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.forms import Form
from app.i18n import language_choices
from app.intake.forms import EMAIL_RE
from app.intake.tokens import new_submission_token

NAME_MAX = 40


class AskForm(Form):
    """A name she chooses, an email if she wants a reminder; nothing else."""

    name = StringField(
        _l("A first name or a pseudonym"),
        description=_l("Any name you like. Only the facilitator sees it."),
        validators=[DataRequired(message=_l("Please write a first name or a pseudonym.")), Length(max=NAME_MAX)],
    )
    email = StringField(
        _l("Your email, for a reminder (optional)"),
        description=_l(
            "We send a short reminder the day before, with nothing about the circle in it, and delete "
            "your address after the meeting."
        ),
        validators=[Optional(), Length(max=254)],
    )
    # One per filling-in of the form: a form sent twice keeps one place (app/intake/tokens.py).
    submission = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.submission.data:
            self.submission.data = new_submission_token()

    def validate_email(self, field: StringField) -> None:
        if field.data and not EMAIL_RE.match(field.data.strip()):
            raise ValidationError(_l("This does not look like an email address."))


class CodeForm(Form):
    code = StringField(
        _l("Your code"),
        description=_l("The code you were given when you asked, like 1234-5678-9012-3456-7890."),
        validators=[DataRequired(message=_l("Please enter your code.")), Length(max=200)],
    )


class LeaveForm(Form):
    code = HiddenField(validators=[DataRequired(), Length(max=200)])


class CircleForm(Form):
    """A coordinator's circle. The time is entered in the program's time zone."""

    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    language = SelectField("Language of the circle", validators=[DataRequired()])
    format = RadioField(
        "How it meets",
        choices=[SelectChoice("online", "Online"), SelectChoice("in_person", "In person")],
        validators=[InputRequired()],
    )
    link = StringField(
        "Link to the online meeting",
        description="For an online circle: its https:// address. Shown only to those who ask for it.",
        validators=[Optional(), Length(max=500)],
    )
    place = TextAreaField(
        "Place, or what else is needed to join",
        description=(
            "In person: the address and how to find the room. Online: a passcode or anything else needed. "
            "Shown only to those who ask for it."
        ),
        validators=[Optional(), Length(max=1000)],
    )
    day = DateField("Date", validators=[InputRequired(message="Enter the date.")])
    time = TimeField("Start time", validators=[InputRequired(message="Enter the time it starts.")])
    minutes = IntegerField("Length, in minutes", default=90, validators=[InputRequired(), NumberRange(15, 480)])
    capacity = IntegerField("Places", default=12, validators=[InputRequired(), NumberRange(1, 200)])
    facilitator = SelectField("Facilitator", validators=[DataRequired()])
    ground_rules = TextAreaField(
        "Ground rules",
        description=(
            "One rule a line. Left as they are, the standard rules are shown to each reader in her own "
            "language; once changed, they are shown as you write them."
        ),
        validators=[Optional(), Length(max=4000)],
    )

    def __init__(self, *args: Any, facilitators: list[tuple[str, str]], zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice(code, name) for code, name in language_choices()]
        self.facilitator.choices = [SelectChoice(value, label) for value, label in facilitators]
        self.time.description = f"In the program's time zone, {zone}."

    def validate(self, extra_validators: Any = None) -> bool:
        # Across fields, and whether the field is left empty or not (Optional() would stop a
        # field's own validators at an empty value).
        valid = bool(super().validate(extra_validators))
        link, place = (self.link.data or "").strip(), (self.place.data or "").strip()
        if self.format.data == "online" and not link and not self.link.errors:
            self.link.errors = [*self.link.errors, "An online circle needs the link to its meeting."]
            valid = False
        elif link and (not link.lower().startswith("https://") or len(link) < 12 or any(c.isspace() for c in link)):
            self.link.errors = [*self.link.errors, "Give the whole address of the meeting, starting with https://."]
            valid = False
        if self.format.data == "in_person" and not place:
            self.place.errors = [*self.place.errors, "A circle in person needs its address."]
            valid = False
        return valid
