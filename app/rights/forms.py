"""The library's staff forms (English, as every staff page)."""

from __future__ import annotations

from typing import Any

from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from app.forms import CheckboxList, Form
from app.i18n import language_choices
from app.rights.topics import match_choices

MARKDOWN_HELP = (
    "Markdown: a blank line between paragraphs, ## for a heading, - for a list, **bold**, *italic*, "
    "[words](https://address) for a link. HTML is shown as typed, not run; images are shown as their "
    "description only, and links go only to https, mailto and tel addresses."
)


class VersionForm(Form):
    language = SelectField("Language")
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    summary = StringField(
        "Summary",
        description="One line, shown under the title in lists and after a report.",
        validators=[DataRequired(), Length(max=300)],
    )
    body = TextAreaField("Article", description=MARKDOWN_HELP, validators=[DataRequired(), Length(max=40000)])
    reviewed_on = DateField(
        "Reviewed on", description="When its facts were last checked. Readers see it.", validators=[DataRequired()]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice(code, name) for code, name in language_choices()]


class MatchesForm(Form):
    # Not "matches": a form field of that name would hide the form element's own matches()
    # method from the browser's scripts (assistive tools among them).
    shown_after = CheckboxList("Shown after reports of")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown_after.choices = [SelectChoice(code, label) for code, label in match_choices()]


class NewArticleForm(VersionForm):
    slug = StringField(
        "Address",
        description="The end of its address, /rights/…: lower-case letters, digits and hyphens. It never changes.",
        validators=[
            DataRequired(),
            Length(max=80),
            Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message="Only lower-case letters, digits and single hyphens."),
        ],
    )
    shown_after = CheckboxList("Shown after reports of")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown_after.choices = [SelectChoice(code, label) for code, label in match_choices()]
