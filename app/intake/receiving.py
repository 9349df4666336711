"""Receiving a posted form that files a case: a report (/report) or a support request (/talk).

Both doors file through :func:`app.intake.services.submit_report` and keep the same promises.
A form that signals imminent danger is never turned away: not by a limit, an expired form, a
resent form or a wrong answer; it is filed with what can be used, marked with what would have
refused it (``app.vocabulary.FILED_DESPITE``). Anything else refused comes back with every word
typed, 911 first, and a fresh submission token.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import g, render_template, request, session
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from sqlalchemy.exc import DBAPIError

from app.cases.consent import CONTACT_PURPOSES, PURPOSES
from app.cases.content import ContactDetails, ReportContent
from app.config import current_settings
from app.extensions import db
from app.i18n import current_language
from app.intake import services
from app.intake.forms import ReachForm
from app.intake.limits import over_limits
from app.intake.tokens import new_submission_token, own_submission_token
from app.rights import reading as rights_reading
from app.rights.topics import case_keys
from app.triage.help import help_topics, resources_for
from app.triage.scoring import Triage
from app.vocabulary import SUPPORT

log = logging.getLogger("confide.intake")

# What a form's views answer: a page, a page with its status, and headers too.
Page = str | tuple[str, int] | tuple[str, int, dict[str, str]]
# How long a reporter is asked to wait after a fault on our side.
RETRY_AFTER = {"Retry-After": "60"}

# Why a form was given back rather than filed, in the words the reporter reads; a door adds
# the notices that name what it files.
GIVEN_BACK = {
    "form_errors": _l("Some answers need another look. Everything you wrote is still here."),
    "form_expired": _l(
        "For your safety this page expired before it was sent. Everything you wrote is still "
        "below: please check it and send again."
    ),
}


@dataclass(frozen=True)
class Door:
    """One way to file a case: its form and page, the notices it gives a form back with
    (``GIVEN_BACK`` and over_limit, over_limit_everyone, not_saved, not_saved_danger), and how
    its answers become a submission."""

    kind: str
    form: type[ReachForm]
    template: str
    notices: Mapping[str, Any]
    submission: Callable[[Any], services.Submission]
    # More for the page: e.g. where the form posts to.
    context: Mapping[str, Any] = field(default_factory=dict)

    def render(self, form: ReachForm, notice: str | None = None, status: int = 200) -> tuple[str, int]:
        return render_template(self.template, form=form, notice=notice, **self.context), status

    def give_back(self, form: ReachForm, notice: str, status: int) -> tuple[str, int]:
        """A form that was not filed, given back with everything typed and a fresh submission
        token: a token that came with the post (perhaps planted by someone else) is not kept."""
        form.submission.data = new_submission_token()
        return self.render(form, notice, status)

    def not_saved(self, form: ReachForm, *, danger: bool) -> tuple[str, int, dict[str, str]]:
        """The form given back after a fault on our side: everything typed, 911 first if it
        signals danger, and when to try again."""
        db.session.rollback()
        page, status = self.give_back(form, str(self.notices["not_saved_danger" if danger else "not_saved"]), 503)
        return page, status, RETRY_AFTER


def receive(door: Door, form: ReachForm, *, valid: bool, expired: bool = False, shown: ReachForm | None = None) -> Page:
    """File a posted form, or give it back with everything typed and 911 first."""
    submission = door.submission(form)
    triage = services.assess(submission)
    danger = triage.level == 0
    refusals = [name for name, refused in (("form_expired", expired), ("form_errors", not valid)) if refused]
    # Only a form that would be filed is held to the limits; one in danger never uses them up.
    limit = over_limits(count=not danger) if danger or not refusals else None
    if limit:
        refusals.append("over_limit")
    if refusals and not danger:
        notice = door.notices["over_limit_everyone" if limit == "everyone" else refusals[0]]
        return door.give_back(shown or form, str(notice), 429 if limit else 400)
    try:
        filed = _file(submission, triage, tuple(refusals))
    except services.DuplicateSubmission:
        return render_template("intake/duplicate.html", support=door.kind == SUPPORT), 409
    except DBAPIError as error:
        # The database refused the write (restarting, read-only, full): nothing was filed.
        log.warning("%s not saved: the database failed (%s)", door.kind, error.__class__.__name__)
        return door.not_saved(shown or form, danger=danger)
    # Should anything fail from here, the case is saved: the receipt must still be shown.
    g.filed = filed
    topics = help_topics(filed.triage.level, submission.category, filed.triage.signals)
    keys = case_keys(submission.category, topics, submission.content.wants)
    return confirmation(filed, door.kind, topics, rights_reading.matching(keys, current_language()))


def confirmation(filed: services.Filed, kind: str, topics: list[str], articles: Any = ()) -> str:
    """The receipt, shown once, with the help (and the rights articles) that match what she wrote."""
    return render_template(
        "intake/confirmation.html",
        receipt=filed.receipt.display(),
        urgent=filed.triage.level == 0,
        help_resources=resources_for(topics, current_settings().resources),
        unmatched=filed.unmatched,
        shown_again=filed.shown_again,
        support=kind == SUPPORT,
        rights_articles=articles,
    )


def _file(submission: services.Submission, triage: Triage, despite: tuple[str, ...]) -> services.Filed:
    """File it; a connection the database dropped (a restart) is tried once more on a new one,
    which the pool gives after checking it."""
    try:
        return services.submit_report(submission, triage=triage, despite=despite)
    except DBAPIError as error:
        db.session.rollback()
        if not error.connection_invalidated:
            raise
    return services.submit_report(submission, triage=triage, despite=despite)


def switch_language(door: Door) -> tuple[str, int]:
    """The form again in another language, with every answer as it was typed. Files nothing;
    also the answer when the form's CSRF token expired (nothing is filed either way)."""
    code = request.form.get("switch_language", "")
    if code in current_settings().languages:
        session["lang"] = code
        refresh()  # this page is already in the new language
    form = door.form(formdata=request.form)  # not validated: no errors, a fresh CSRF token
    if not own_submission_token(form.submission.data):
        form.submission.data = new_submission_token()
    return door.render(form)


def expired(door: Door) -> Page:
    """A form whose page expired (or was not sent from this site): filed if it signals
    danger, otherwise given back with everything typed."""
    typed = door.form(formdata=request.form, meta={"csrf": False})
    # Given back, it carries a fresh token, so sending it again works.
    shown = door.form(formdata=request.form)
    return receive(door, typed, valid=typed.validate(), expired=True, shown=shown)


def failed(door: Door) -> Page:
    """After an error on our side: the receipt if the form was filed, otherwise the form as
    it was sent."""
    filed = g.get("filed")
    if filed is not None:
        return confirmation(filed, door.kind, ["danger"]), 200
    form = door.form(formdata=request.form, meta={"csrf": False})
    danger = services.assess(door.submission(form)).level == 0
    return door.not_saved(door.form(formdata=request.form), danger=danger)


def text(field: object) -> str:
    return (getattr(field, "data", None) or "").strip()


def chosen(field: Any) -> str:
    """The answer, if it is one of the field's choices (a form that did not validate is filed
    only when it signals danger, without an answer it could not have given)."""
    value = text(field)
    return value if value in {choice.value for choice in field.choices} else ""


def submission_of(
    form: ReachForm, *, kind: str, category: str, content: ReportContent, county: str = ""
) -> services.Submission:
    """The case as typed: ``content`` and the rest of the form's own answers, with how to reach
    her, her choices, her language and her exclusions. Contact details typed under "anonymous"
    are kept: losing a way to reach someone in danger is the worse mistake."""
    contact = ContactDetails(
        name=text(form.name),
        email=text(form.email),
        phone=text(form.phone),
        safe_times=text(form.safe_times),
        voicemail_ok=chosen(form.voicemail_ok),
        code_word=text(form.code_word),
    )
    typed = (contact.name, contact.email, contact.phone, contact.safe_times, contact.code_word)
    named = form.identity.data == "named" or any(typed)
    consent = {purpose: bool(getattr(form, purpose).data) for purpose in PURPOSES}
    if not named:
        consent.update(dict.fromkeys(CONTACT_PURPOSES, False))
        consent["identity_to_counsel"] = False
    languages = current_settings().languages
    return services.Submission(
        kind=kind,
        category=category,
        language=form.language.data if form.language.data in languages else current_language(),
        county=county,
        # A token this browser was not given is no token: the case is a new one.
        submission_token=own_submission_token(form.submission.data) or secrets.token_urlsafe(24),
        content=content,
        contact=contact if named else None,
        consent=consent,
        exclude=tuple(text(form.exclude).split(",")),
    )
