"""Reporter pages: home, the report form and help. The pages a receipt opens are in
app.intake.status."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import DBAPIError
from werkzeug.wrappers import Response

from app.access import PUBLIC, allow
from app.cases.consent import CONTACT_PURPOSES, PURPOSES
from app.cases.content import ContactDetails, ReportContent
from app.config import current_settings
from app.extensions import db
from app.forms import on_expired, on_failed
from app.i18n import current_language
from app.intake import services
from app.intake.forms import (
    ReportForm,
)
from app.intake.limits import over_limits
from app.intake.sessions import end_reporter_session
from app.intake.tokens import new_submission_token, own_submission_token
from app.rights import reading as rights_reading
from app.rights.topics import case_keys
from app.triage.help import help_topics, resources_for
from app.triage.scoring import Triage

blueprint = Blueprint("intake", __name__)
# What the report form's views answer: a page, a page with its status, and headers too.
Page = str | tuple[str, int] | tuple[str, int, dict[str, str]]
log = logging.getLogger("confide.intake")


def _render_report(form: ReportForm, notice: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("intake/report.html", form=form, notice=notice), status


# Why a report was given back rather than filed, in the words the reporter reads.
NOTICES = {
    "form_errors": _l("Some answers need another look. Everything you wrote is still here."),
    "form_expired": _l(
        "For your safety this page expired before it was sent. Everything you wrote is still "
        "below: please check it and send again."
    ),
    "over_limit": _l(
        "Too many reports have come from this connection in a short time. Nothing you wrote is "
        "lost: it is all below. Please wait a few minutes and send again."
    ),
    "over_limit_everyone": _l(
        "Very many reports are arriving just now. Nothing you wrote is lost: it is all below. "
        "Please wait a few minutes and send again."
    ),
    "not_saved": _l(
        "We could not save your report just now. Nothing you wrote is lost: it is all below. "
        "Please try again in a few minutes."
    ),
    "not_saved_danger": _l(
        "If you are in danger, call 911 now. We could not save your report just now. Nothing "
        "you wrote is lost: it is all below. Please send it again in a minute."
    ),
}
# How long a reporter is asked to wait after a fault on our side.
RETRY_AFTER = {"Retry-After": "60"}


def _give_back(form: ReportForm, notice: str, status: int) -> tuple[str, int]:
    """A report that was not filed, given back with everything typed and a fresh submission
    token: a token that came with the post (perhaps planted by someone else) is not kept."""
    form.submission.data = new_submission_token()
    return _render_report(form, notice, status)


@blueprint.get("/")
@allow(PUBLIC)
def home() -> str:
    return render_template("intake/home.html")


CSRF_HOLE, SUBMISSION_HOLE = "\x00csrf\x00", "\x00submission\x00"


def _blank_report_page() -> str | None:
    """The empty report form, rendered once per language with holes for its two tokens.

    The form is the same for everyone but for the CSRF and submission tokens, and it is
    the heaviest page to render; only a plain GET with nothing flashed uses the copy."""
    if current_app.debug or request.query_string or session.get("_flashes"):
        return None
    cache: dict[str, str] = current_app.extensions.setdefault("confide_blank_report", {})
    language = current_language()
    page = cache.get(language)
    if page is None:
        form = ReportForm()
        form.language.data = language
        html, _status = _render_report(form)
        csrf_value, submission_value = generate_csrf(), form.submission.data
        if html.count(csrf_value) != 1 or html.count(submission_value) != 1:
            return None
        page = html.replace(csrf_value, CSRF_HOLE).replace(submission_value, SUBMISSION_HOLE)
        cache[language] = page
    return page.replace(CSRF_HOLE, generate_csrf()).replace(SUBMISSION_HOLE, new_submission_token())


@blueprint.route("/report", methods=["GET", "POST"])
@allow(PUBLIC)
def report() -> Page:
    if request.method != "POST":  # GET, and HEAD as uptime checks send
        blank = _blank_report_page()
        if blank is not None:
            return blank
        form = ReportForm()
        form.language.data = current_language()
        return _render_report(form)
    form = ReportForm()
    return _receive(form, valid=form.validate_on_submit())


@blueprint.post("/report/language")
@allow(PUBLIC)
def report_language() -> tuple[str, int]:
    """The report form again in another language, with every answer as it was typed. Files
    nothing; also reached when the form's CSRF token expired (nothing is filed either way)."""
    code = request.form.get("switch_language", "")
    if code in current_settings().languages:
        session["lang"] = code
        refresh()  # this page is already in the new language
    form = ReportForm(formdata=request.form)  # not validated: no errors, a fresh CSRF token
    if not own_submission_token(form.submission.data):
        form.submission.data = new_submission_token()
    return _render_report(form)


def _receive(form: ReportForm, *, valid: bool, expired: bool = False, shown: ReportForm | None = None) -> Page:
    """File a posted report, or give it back with everything typed and 911 first.

    A report whose answers or words signal imminent danger is never turned away: not by a
    limit, an expired form, a resent form or a wrong answer. It is filed with what can be
    used, marked with what would have refused it (``app.vocabulary.FILED_DESPITE``)."""
    submission = _submission_from(form)
    triage = services.assess(submission)
    danger = triage.level == 0
    refusals = [name for name, refused in (("form_expired", expired), ("form_errors", not valid)) if refused]
    # Only a report that would be filed is held to the limits; one in danger never uses them up.
    limit = over_limits(count=not danger) if danger or not refusals else None
    if limit:
        refusals.append("over_limit")
    if refusals and not danger:
        notice = NOTICES["over_limit_everyone" if limit == "everyone" else refusals[0]]
        return _give_back(shown or form, str(notice), 429 if limit else 400)
    try:
        filed = _file(submission, triage, tuple(refusals))
    except services.DuplicateSubmission:
        return render_template("intake/duplicate.html"), 409
    except DBAPIError as error:
        # The database refused the write (restarting, read-only, full): nothing was filed.
        log.warning("report not saved: the database failed (%s)", error.__class__.__name__)
        return _not_saved(shown or form, danger=danger)
    # Should anything fail from here, the report is saved: the receipt must still be shown.
    g.filed = filed
    topics = help_topics(filed.triage.level, submission.category, filed.triage.signals)
    keys = case_keys(submission.category, topics, submission.content.wants)
    return render_template(
        "intake/confirmation.html",
        receipt=filed.receipt.display(),
        urgent=filed.triage.level == 0,
        help_resources=resources_for(topics, current_settings().resources),
        unmatched=filed.unmatched,
        shown_again=filed.shown_again,
        rights_articles=rights_reading.matching(keys, current_language()),
    )


def _file(submission: services.Submission, triage: Triage, despite: tuple[str, ...]) -> services.Filed:
    """File the report; a connection the database dropped (a restart) is tried once more on
    a new one, which the pool gives after checking it."""
    try:
        return services.submit_report(submission, triage=triage, despite=despite)
    except DBAPIError as error:
        db.session.rollback()
        if not error.connection_invalidated:
            raise
    return services.submit_report(submission, triage=triage, despite=despite)


def _not_saved(form: ReportForm, *, danger: bool) -> tuple[str, int, dict[str, str]]:
    """The form given back after a fault on our side: everything typed, 911 first if the
    report signals danger, and when to try again."""
    db.session.rollback()
    page, status = _give_back(form, str(NOTICES["not_saved_danger" if danger else "not_saved"]), 503)
    return page, status, RETRY_AFTER


def _submission_from(form: ReportForm) -> services.Submission:
    """The report as typed. For a form that did not validate (filed only when it signals
    danger), an answer that is not one of the choices is dropped, and contact details typed
    under "anonymous" are kept: losing a way to reach someone in danger is the worse mistake."""

    def text(field: object) -> str:
        return (getattr(field, "data", None) or "").strip()

    def chosen(field: Any) -> str:
        value = text(field)
        return value if value in {choice.value for choice in field.choices} else ""

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
    wants = {choice.value for choice in form.wants.choices}
    return services.Submission(
        category=chosen(form.category) or "other",
        language=form.language.data if form.language.data in languages else current_language(),
        county=chosen(form.county),
        # A token this browser was not given is no token: the report is a new one.
        submission_token=own_submission_token(form.submission.data) or secrets.token_urlsafe(24),
        content=ReportContent(
            narrative=form.narrative.data or "",
            perpetrator=chosen(form.perpetrator),
            setting=chosen(form.setting),
            when=chosen(form.when),
            danger_now=chosen(form.danger_now),
            injured=chosen(form.injured),
            ongoing=chosen(form.ongoing),
            wants=tuple(w for w in form.wants.data or () if w in wants),
        ),
        contact=contact if named else None,
        consent=consent,
        exclude=tuple(text(form.exclude).split(",")),
    )


@blueprint.get("/resources")
@allow(PUBLIC)
def resources() -> str:
    return render_template("intake/resources.html", resources=current_settings().resources)


@blueprint.get("/exit")
@allow(PUBLIC)
def quick_exit() -> Response:
    """Leave at once: end any session and go to an ordinary site."""
    end_reporter_session()
    return redirect(current_settings().quick_exit_url, 303)


def _report_expired() -> Page:
    """A report whose form expired (or was not sent from this site): filed if it signals
    danger, otherwise given back with everything typed."""
    typed = ReportForm(formdata=request.form, meta={"csrf": False})
    # Given back, it carries a fresh token, so sending it again works.
    shown = ReportForm(formdata=request.form)
    return _receive(typed, valid=typed.validate(), expired=True, shown=shown)


def _report_failed() -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    """After an error on our side: the receipt if the report was saved, otherwise the form as
    it was sent."""
    filed = g.get("filed")
    if filed is not None:
        page = render_template(
            "intake/confirmation.html",
            receipt=filed.receipt.display(),
            urgent=filed.triage.level == 0,
            help_resources=resources_for(["danger"], current_settings().resources),
            unmatched=filed.unmatched,
            shown_again=filed.shown_again,
        )
        return page, 200
    form = ReportForm(formdata=request.form, meta={"csrf": False})
    danger = services.assess(_submission_from(form)).level == 0
    return _not_saved(ReportForm(formdata=request.form), danger=danger)


# Forms given back whole when their page expired (CSRF) or saving them failed (app.errors).
on_expired("intake.report")(_report_expired)
on_expired("intake.report_language")(report_language)
on_failed("intake.report")(_report_failed)
