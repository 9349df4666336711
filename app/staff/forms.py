"""Staff forms. Staff pages are in English; only reporter pages are translated."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, ValidationError

from app.config import current_settings
from app.forms import CheckboxList, Form
from app.i18n import language_choices
from app.models import utcnow
from app.staff.breaks import OPEN, break_choices
from app.staff.models import ROLES
from app.staff.services import is_email_address
from app.vocabulary import CATEGORIES


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class CodeForm(Form):
    code = StringField(
        "Code from your authenticator app",
        description="Six digits. Lost your phone? Enter one of your recovery codes instead.",
        validators=[DataRequired(), Length(max=40)],
    )


class EnrolForm(Form):
    password = PasswordField(
        "Choose a password",
        description="At least 12 characters. A few unrelated words make a strong one.",
        validators=[DataRequired(), Length(max=1024)],
    )
    confirm = PasswordField(
        "The same password again", validators=[DataRequired(), EqualTo("password", "The two passwords differ.")]
    )
    code = StringField("The six-digit code your app shows now", validators=[DataRequired(), Length(max=12)])


class ReauthForm(Form):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("Code from your authenticator app", validators=[DataRequired(), Length(max=40)])


class InviteForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=[SelectChoice(r, r.capitalize()) for r in ROLES])

    def validate_email(self, field: EmailField) -> None:
        if not is_email_address(field.data or ""):
            raise ValidationError("That is not an email address.")


class IdentityForm(Form):
    """A coordinator's edit of who a person is: name, email and role."""

    name = StringField("Name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=[SelectChoice(r, r.capitalize()) for r in ROLES])

    def validate_email(self, field: EmailField) -> None:
        if not is_email_address(field.data or ""):
            raise ValidationError("That is not an email address.")


class PasswordChangeForm(Form):
    current_password = PasswordField("Your current password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("Code from your authenticator app", validators=[DataRequired(), Length(max=40)])
    new_password = PasswordField(
        "New password",
        description="At least 12 characters. A few unrelated words make a strong one.",
        validators=[DataRequired(), Length(max=1024)],
    )
    confirm = PasswordField(
        "The new password again", validators=[DataRequired(), EqualTo("new_password", "The two passwords differ.")]
    )


class DeviceCodeForm(Form):
    code = StringField("The six-digit code your new app shows now", validators=[DataRequired(), Length(max=12)])


class ProfileForm(Form):
    pseudonym = StringField(
        "Pseudonym reporters see",
        description="Never your real name. Reporters may ask that a pseudonym not see their case.",
        validators=[Optional(), Length(min=2, max=64)],
    )
    languages = CheckboxList("Languages you can work in")
    on_duty = BooleanField("On duty: new cases may be routed to me")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every configured language, named in its own script.
        self.languages.choices = [SelectChoice(code, name) for code, name in language_choices()]


class StaffEditForm(ProfileForm):
    caseload_cap = IntegerField("Caseload cap (open cases at once)", validators=[NumberRange(min=0, max=200)])


class TrainingForm(Form):
    course = StringField("Course", validators=[DataRequired(), Length(max=200)])
    category = SelectField(
        "Qualifies for",
        choices=[SelectChoice("all", "All categories")] + [SelectChoice(k, v) for k, v in CATEGORIES.items()],
    )
    completed_on = DateField("Completed on", validators=[DataRequired()])
    expires_on = DateField("Expires on", validators=[DataRequired()])

    def validate_expires_on(self, field: DateField) -> None:
        if self.completed_on.data and field.data and field.data <= self.completed_on.data:
            raise ValidationError("A record must expire after it was completed.")


class ActionForm(Form):
    """A button with nothing but its CSRF token."""


class PagingForm(Form):
    # A password field: the address is a secret, and is never sent back to the browser.
    url = PasswordField(
        "Apprise address",
        description=(
            "One address in Apprise's form, for example ntfys://ntfy.example.org/your-topic, "
            "pover://user@token or signals://host/+15551234567. Your service's page in the Apprise "
            "documentation shows its form."
        ),
        validators=[DataRequired(), Length(max=2000)],
    )


class BreakForm(Form):
    """ "I need a break": one press with the first choice; a time of one's own needs no script
    (the phone's own date and time picker)."""

    until = RadioField("When you come back on duty", default=OPEN)
    at = DateTimeLocalField(
        "The time I choose",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = ZoneInfo(current_settings().display_timezone)
        self.until.choices = [SelectChoice(code, words) for code, words in break_choices(utcnow(), zone)]
        self.at.description = f"In the program's time zone ({zone.key})."
