"""The base of every form: typed text arrives without control characters.

A NUL byte from a scanner, or an escape sequence pasted from a terminal, has no place in a
report, a note or a message: PostgreSQL refuses NUL outright, and the others would be sent back
raw to staff and reporters. Every text a form takes (text fields, text areas, and the like) is
cleaned as it is read: C0 and C1 control characters are dropped, except tab and new line, and
Windows line ends become new lines. Nothing a person could see is lost, so nobody is refused.
"""

from __future__ import annotations

from collections.abc import Callable
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


Recovery = Callable[[], Any]


class Recoveries:
    """Views that answer for a form's endpoint when something stops it being handled as
    usual, so what was typed is given back rather than lost."""

    def __init__(self) -> None:
        self._views: dict[str, Recovery] = {}

    def on(self, endpoint: str) -> Callable[[Recovery], Recovery]:
        def register(view: Recovery) -> Recovery:
            self._views[endpoint] = view
            return view

        return register

    def get(self, endpoint: str | None) -> Recovery | None:
        return self._views.get(endpoint or "")


# The form given back with everything typed when its CSRF token expired (on_expired) or saving
# it failed with an error 500 (on_failed), instead of an error page (used by app.errors); and a
# post that arrives after its sender's session ended, answered with the form kept and a way
# back in instead of a redirect that loses it (on_signed_out, used by app.security).
_EXPIRED, _FAILED, _SIGNED_OUT = Recoveries(), Recoveries(), Recoveries()
on_expired, expired_recovery = _EXPIRED.on, _EXPIRED.get
on_failed, failed_recovery = _FAILED.on, _FAILED.get
on_signed_out, signed_out_recovery = _SIGNED_OUT.on, _SIGNED_OUT.get
