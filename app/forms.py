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


# What a form's page answers instead of an error page, by endpoint: the form given back with
# everything typed, when its CSRF token expired or saving it failed (used by app.errors).
Recovery = Callable[[], Any]
_EXPIRED: dict[str, Recovery] = {}
_FAILED: dict[str, Recovery] = {}


def on_expired(endpoint: str) -> Callable[[Recovery], Recovery]:
    """Give ``endpoint``'s form back with this view when its page expired (CSRF)."""

    def register(view: Recovery) -> Recovery:
        _EXPIRED[endpoint] = view
        return view

    return register


def on_failed(endpoint: str) -> Callable[[Recovery], Recovery]:
    """Give ``endpoint``'s form back with this view when saving it failed (an error 500)."""

    def register(view: Recovery) -> Recovery:
        _FAILED[endpoint] = view
        return view

    return register


def expired_recovery(endpoint: str | None) -> Recovery | None:
    return _EXPIRED.get(endpoint or "")


def failed_recovery(endpoint: str | None) -> Recovery | None:
    return _FAILED.get(endpoint or "")


# What a post answers, by endpoint, when it arrives after its sender's session ended (she was
# signed out while typing): the form kept and a way back in, instead of a redirect that loses it
# (used by app.security).
_SIGNED_OUT: dict[str, Recovery] = {}


def on_signed_out(endpoint: str) -> Callable[[Recovery], Recovery]:
    """Answer a post to ``endpoint`` that arrives signed out with this view."""

    def register(view: Recovery) -> Recovery:
        _SIGNED_OUT[endpoint] = view
        return view

    return register


def signed_out_recovery(endpoint: str | None) -> Recovery | None:
    return _SIGNED_OUT.get(endpoint or "")
