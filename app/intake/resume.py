"""A message, or a report, she was still typing when her session ended: kept, not lost.

For her safety a reporter is signed out after some minutes without activity (app.security).
What she sends after that reaches a gate that no longer knows whose it is. Instead of a bare
redirect, the gate answers with the receipt page (app.forms.on_signed_out), and everything she
sent rides along in it: her words shown so she can copy them, 911 first if they signal danger.
Once her receipt opens her case again, the form comes back filled in for her to check and send.
Nothing is acted on from the carried post itself, which may not have come from her page at all.
Words that signal danger can also be sent from that page as a new report, for her who cannot
find her receipt just then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import g, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from app.forms import on_signed_out
from app.intake.forms import ReceiptForm
from app.intake.receiving import Page
from app.intake.tokens import new_submission_token

# Fields of the receipt page itself, or of the moment, never carried back into her form.
NOT_CARRIED = frozenset({"csrf_token", "receipt", "resume", "switch_language"})

RESUMED = _l("You are signed in again. What you wrote is below: please check it and send it.")


@dataclass(frozen=True)
class Resumable:
    """A reporter's form that may arrive after she was signed out."""

    text: str  # the field whose words she is shown while she signs in again
    again: Callable[[MultiDict[str, str]], Page]  # her form given back, once she is signed in
    danger: Callable[[MultiDict[str, str]], bool]  # do her words signal danger now?
    report: bool = False  # the fields are a report form's, which /report takes as they are


_RESUMABLE: dict[str, Resumable] = {}


def resumable(endpoint: str, how: Resumable) -> None:
    """Keep what a post to ``endpoint`` carries when it arrives signed out."""
    _RESUMABLE[endpoint] = how
    on_signed_out(endpoint)(lambda: sign_in_page(ReceiptForm(formdata=None)))


def carried(formdata: MultiDict[str, str]) -> MultiDict[str, str]:
    return MultiDict([(name, value) for name, value in formdata.items(multi=True) if name not in NOT_CARRIED])


def _resuming() -> str | None:
    """The endpoint whose post this request carries: its own, or the one the receipt page
    was asked to resume."""
    endpoint = request.form.get("resume") if request.endpoint == "intake.status" else request.endpoint
    return endpoint if endpoint in _RESUMABLE else None


def sign_in_page(form: ReceiptForm, *, notice: str | None = None, status: int = 400) -> tuple[str, int]:
    """The receipt page, carrying the post that came with this request, if it is one to keep."""
    endpoint = _resuming()
    if endpoint is None:
        return render_template("intake/status_login.html", form=form, notice=notice), status
    how = _RESUMABLE[endpoint]
    typed = carried(request.form)
    if "submission" in typed:
        typed["submission"] = new_submission_token()  # a token of this session, for /report
    page = render_template(
        "intake/status_login.html",
        form=form,
        notice=notice,
        resume=endpoint,
        carried=list(typed.items(multi=True)),
        words=typed.get(how.text, ""),
        danger=how.danger(typed),
        as_report=how.report,
    )
    return page, status


def resumed() -> Page | None:
    """Her form given back filled in, once her receipt signed her in again; None if this
    sign-in carried nothing."""
    endpoint = _resuming()
    if endpoint is None:
        return None
    # Signing in began a new session: the form token made for the old one is no good.
    g.pop("csrf_token", None)
    return _RESUMABLE[endpoint].again(carried(request.form))
