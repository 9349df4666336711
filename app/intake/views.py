"""Reporter pages: home, the report form and help. The pages a receipt opens are in
app.intake.status; the support request ("I'd like to talk with someone") in app.intake.support."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, redirect, render_template, request, session
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from app.access import PUBLIC, allow
from app.cases.content import ReportContent
from app.config import current_settings
from app.forms import on_expired, on_failed
from app.i18n import current_language
from app.intake import receiving
from app.intake.forms import ReportForm
from app.intake.receiving import Door, Page, chosen
from app.intake.services import Submission
from app.intake.sessions import end_reporter_session
from app.intake.tokens import new_submission_token
from app.vocabulary import REPORT

blueprint = Blueprint("intake", __name__)
log = logging.getLogger("confide.intake")

# Why a report was given back rather than filed, in the words the reporter reads.
NOTICES = {
    **receiving.GIVEN_BACK,
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


def report_submission(form: ReportForm) -> Submission:
    """The report as typed; an answer that is not one of the choices is dropped."""
    wants = {choice.value for choice in form.wants.choices}
    return receiving.submission_of(
        form,
        kind=REPORT,
        category=chosen(form.category) or "other",
        county=chosen(form.county),
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
    )


REPORT_DOOR = Door(
    kind=REPORT,
    form=ReportForm,
    template="intake/report.html",
    notices=NOTICES,
    submission=report_submission,
    context={"action": "intake.report", "language_action": "intake.report_language"},
)


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
        html, _status = REPORT_DOOR.render(form)
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
        return REPORT_DOOR.render(form)
    form = ReportForm()
    return receiving.receive(REPORT_DOOR, form, valid=form.validate_on_submit())


@blueprint.post("/report/language")
@allow(PUBLIC)
def report_language() -> tuple[str, int]:
    """The report form again in another language, with every answer as it was typed."""
    return receiving.switch_language(REPORT_DOOR)


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


# Forms given back whole when their page expired (CSRF) or saving them failed (app.errors).
on_expired("intake.report")(lambda: receiving.expired(REPORT_DOOR))
on_expired("intake.report_language")(report_language)
on_failed("intake.report")(lambda: receiving.failed(REPORT_DOOR))
