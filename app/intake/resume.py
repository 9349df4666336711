"""A message, or a report, she was still typing when her session ended: kept, not lost.

For her safety a reporter is signed out after some minutes without activity (app.security).
What she sends after that reaches a gate that no longer knows whose case it is for. If the post
carries the form token of this browser's session, it came from her own page, and the gate
answers with the receipt page instead of a bare redirect (app.forms.on_signed_out): everything
she sent rides along in it, her words shown so she can copy them, 911 first if they signal
danger. Once her receipt opens her case again, the form comes back filled in for her to check
and send. Nothing is acted on from the carried post itself.

A post without her session's token (another site's page making her browser post: her cookie is
not even sent with it) is answered as before, with nothing carried: otherwise someone else's
words, contact details or choices could come back to her as her own. The carried fields are
signed with a key of the server's, with the time, so the receipt page carries on only what the
gate itself put in it, for a while, whatever is posted to /status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import g, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from app.access import constant_time_equal
from app.crypto import blind_index
from app.forms import on_expired, on_signed_out
from app.i18n import current_language
from app.intake.forms import ReceiptForm
from app.intake.receiving import Page
from app.intake.tokens import new_submission_token
from app.keystore import current_keyring

# The receipt page's own fields, and those of the moment, never carried back into her form.
SIGNED = ("resume", "resume_at", "resume_mac")
NOT_CARRIED = frozenset({"csrf_token", "receipt", "switch_language", *SIGNED})
PURPOSE = "resume-carried"
KEPT_SECONDS = 2 * 3600  # how long the receipt page keeps what she sent

RESUMED = _l("You are signed in again. What you wrote is below: please check it and send it.")
STALE = _l("For your safety this page expired. Please enter your receipt again.")


@dataclass(frozen=True)
class Resumable:
    """A reporter's form that may arrive after she was signed out."""

    text: str  # the field whose words she is shown while she signs in again
    again: Callable[[MultiDict[str, str]], Page]  # her form given back, once she is signed in
    danger: Callable[[MultiDict[str, str]], bool]  # do her words signal danger now?
    report: bool = False  # the fields are a report form's, which /report takes as they are


_RESUMABLE: dict[str, Resumable] = {}


def resumable(endpoint: str, how: Resumable) -> None:
    """Keep what a post to ``endpoint`` carries when it arrives signed out from her own page."""
    _RESUMABLE[endpoint] = how
    on_signed_out(endpoint)(lambda: sign_in_page(ReceiptForm(formdata=None)))


def carried(formdata: MultiDict[str, str]) -> MultiDict[str, str]:
    return MultiDict([(name, value) for name, value in formdata.items(multi=True) if name not in NOT_CARRIED])


def _mac(endpoint: str, at: str, fields: MultiDict[str, str]) -> str:
    signed = json.dumps([endpoint, at, list(fields.items(multi=True))], ensure_ascii=False)
    return blind_index(current_keyring(), PURPOSE, signed).hex()


def _resuming() -> str | None:
    """The endpoint whose post this request carries: its own, at the gate; or, posted to the
    receipt page, the one the gate signed, if its signature holds and it is recent."""
    if request.endpoint != "intake.status":
        return request.endpoint if request.endpoint in _RESUMABLE else None
    endpoint, at, mac = (request.form.get(name, "") for name in SIGNED)
    if endpoint not in _RESUMABLE or not at.isdigit() or time.time() - int(at) > KEPT_SECONDS:
        return None
    return endpoint if constant_time_equal(mac, _mac(endpoint, at, carried(request.form))) else None


def sign_in_page(form: ReceiptForm, *, notice: str | None = None, status: int = 400) -> tuple[str, int]:
    """The receipt page, carrying the post that came with this request, if it is one to keep."""
    endpoint = _resuming()
    if endpoint is None:
        return render_template("intake/status_login.html", form=form, notice=notice), status
    how = _RESUMABLE[endpoint]
    typed = carried(request.form)
    if "submission" in typed:
        typed["submission"] = new_submission_token()  # a token of this session, for /report
    at = str(int(time.time()))
    words = typed.get(how.text, "")
    page = render_template(
        "intake/status_login.html",
        form=form,
        notice=notice,
        carried=[
            *typed.items(multi=True),
            ("resume", endpoint),
            ("resume_at", at),
            ("resume_mac", _mac(endpoint, at, typed)),
        ],
        words=words,
        danger=how.danger(typed),
        # Words in danger may go as a new report: a report form's fields as they are, or a
        # message as the report's narrative.
        new_report=list(typed.items(multi=True)) if how.report else _as_narrative(words),
    )
    return page, status


def _as_narrative(words: str) -> list[tuple[str, str]]:
    return [("narrative", words), ("language", current_language()), ("submission", new_submission_token())]


def resumed() -> Page | None:
    """Her form given back filled in, once her receipt signed her in again; None if this
    sign-in carried nothing."""
    endpoint = _resuming()
    if endpoint is None:
        return None
    # Signing in began a new session: the form token made for the old one is no good.
    g.pop("csrf_token", None)
    return _RESUMABLE[endpoint].again(carried(request.form))


# The receipt page itself expired (another tab signed in, say): shown again with a fresh token,
# still carrying what the gate signed; nothing is acted on.
on_expired("intake.status")(lambda: sign_in_page(ReceiptForm(formdata=None), notice=str(STALE)))
