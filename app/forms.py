"""The base of every form: typed text arrives without control characters.

A NUL byte from a scanner, or an escape sequence pasted from a terminal, has no place in a
report, a note or a message: PostgreSQL refuses NUL outright, and the others would be sent back
raw to staff and reporters. Every text a form takes (text fields, text areas, and the like) is
cleaned as it is read: C0 and C1 control characters are dropped, except tab and new line, and
Windows line ends become new lines. Nothing a person could see is lost, so nobody is refused.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, SelectMultipleField
from wtforms.fields.simple import StringField
from wtforms.widgets import CheckboxInput, ListWidget

from app.text import without_controls


class Form(FlaskForm):
    class Meta(FlaskForm.Meta):
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Field:
            # StringField covers text areas, search, email, password and hidden fields.
            if issubclass(unbound_field.field_class, StringField):
                # After the field's own filters (a filters= in options would replace them).
                own = unbound_field.kwargs.get("filters", ())
                options = {**options, "filters": (*own, *options.get("filters", ()), without_controls)}
            return super().bind_field(form, unbound_field, options)


class CheckboxList(SelectMultipleField):
    """Several choices as a list of checkboxes, each with its label after it."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
