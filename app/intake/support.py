"""A support request: "I'd like to talk with someone", a short way in beside the report form;
and later, from /status, the same case turned into an incident report without retyping.

The request files through the same door machinery as a report (app.intake.receiving): scored by
the same triage, never refused when it signals danger, sealed, with a receipt. Turning it into a
report changes her case, so it is done only by a form from her own page, in her own receipt's
session, with its CSRF token: a post someone else's page makes her browser send is refused
whatever it says, and a page that expired is given back, never acted on.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.access import PUBLIC, REPORTER, allow
from app.cases.consent import current_consent
from app.cases.content import ReportContent
from app.cases.models import Case
from app.extensions import db
from app.forms import on_expired, on_failed
from app.i18n import current_language
from app.intake import receiving, resume, services
from app.intake.becoming import NotASupportRequest, make_report
from app.intake.forms import ReportForm, SupportForm
from app.intake.receiving import Door, Page
from app.intake.sessions import reporter_case_id
from app.intake.status import message_again
from app.intake.views import NOTICES, blueprint, report_submission
from app.vocabulary import REPORT, SUPPORT

# Why a support request was given back rather than sent, in the words the reporter reads.
SUPPORT_NOTICES = {
    **receiving.GIVEN_BACK,
    "over_limit": _l(
        "Too many requests have come from this connection in a short time. Nothing you wrote is "
        "lost: it is all below. Please wait a few minutes and send again."
    ),
    "over_limit_everyone": _l(
        "Very many requests are arriving just now. Nothing you wrote is lost: it is all below. "
        "Please wait a few minutes and send again."
    ),
    "not_saved": _l(
        "We could not save your request just now. Nothing you wrote is lost: it is all below. "
        "Please try again in a few minutes."
    ),
    "not_saved_danger": _l(
        "If you are in danger, call 911 now. We could not save your request just now. Nothing "
        "you wrote is lost: it is all below. Please send it again in a minute."
    ),
}


def support_submission(form: SupportForm) -> services.Submission:
    """The request as typed: what is on her mind is read, sealed and kept as a report's
    narrative is."""
    content = ReportContent(narrative=form.narrative.data or "")
    return receiving.submission_of(form, kind=SUPPORT, category=SUPPORT, content=content)


SUPPORT_DOOR = Door(
    kind=SUPPORT,
    form=SupportForm,
    template="intake/talk.html",
    notices=SUPPORT_NOTICES,
    submission=support_submission,
    context={"action": "intake.talk", "language_action": "intake.talk_language"},
)
# The report form, opened on her support request with what she wrote already in.
BECOMING_DOOR = Door(
    kind=REPORT,
    form=ReportForm,
    template="intake/report.html",
    notices=NOTICES,
    submission=report_submission,
    context={"action": "intake.status_report", "language_action": "intake.status_report_language", "becoming": True},
)


@blueprint.route("/talk", methods=["GET", "POST"])
@allow(PUBLIC)
def talk() -> Page:
    if request.method != "POST":  # GET, and HEAD as uptime checks send
        form = SupportForm()
        form.language.data = current_language()
        return SUPPORT_DOOR.render(form)
    form = SupportForm()
    return receiving.receive(SUPPORT_DOOR, form, valid=form.validate_on_submit())


@blueprint.post("/talk/language")
@allow(PUBLIC)
def talk_language() -> tuple[str, int]:
    """The request form again in another language, with every answer as it was typed."""
    return receiving.switch_language(SUPPORT_DOOR)


def _support_request() -> str | None:
    """The case this browser's receipt opened, if it is (still) a support request."""
    case_id = reporter_case_id()
    kind = db.session.scalar(select(Case.kind).where(Case.id == case_id)) if case_id else None
    return case_id if kind == SUPPORT else None


def _prefilled(case_id: str) -> ReportForm:
    """The report form with her request's words, contact details and choices already in."""
    case, content, contact, _dek = services.reporter_report(case_id)
    data: dict[str, object] = {"narrative": content.narrative, "language": case.language, **current_consent(case_id)}
    if contact is not None:
        data.update(identity="named", **{k: v for k, v in asdict(contact).items() if v})
    return ReportForm(data=data)


@blueprint.route("/status/report", methods=["GET", "POST"])
@allow(REPORTER)
def status_report() -> Page | Response:
    """Her support request, turned into an incident report: the report form, filled in."""
    case_id = _support_request()
    if case_id is None:  # a report already: her case's page says so
        return redirect(url_for("intake.status_case"), 303)
    if request.method != "POST":
        return BECOMING_DOOR.render(_prefilled(case_id))
    form = ReportForm()
    valid = form.validate_on_submit()
    submission = report_submission(form)
    danger = services.assess(submission).level == 0
    # A report in danger is taken with what can be used, as at /report.
    if not valid and not danger:
        return BECOMING_DOOR.give_back(form, str(NOTICES["form_errors"]), 400)
    try:
        make_report(case_id, submission, despite=() if valid else ("form_errors",))
    except NotASupportRequest:
        return redirect(url_for("intake.status_case"), 303)
    except DBAPIError:
        return BECOMING_DOOR.not_saved(form, danger=danger)
    flash(_("Your request is now a report. Your receipt and your messages stay the same."), "success")
    return redirect(url_for("intake.status_case", _anchor="report"), 303)


@blueprint.post("/status/report/language")
@allow(REPORTER)
def status_report_language() -> tuple[str, int]:
    """The filled-in report form again in another language, as typed. Changes nothing."""
    return receiving.switch_language(BECOMING_DOOR)


def _status_report_expired() -> tuple[str, int]:
    """A post to turn her request into a report whose token is missing or stale: given back
    whole with a fresh token, never acted on (it may not come from her page at all)."""
    form = ReportForm(formdata=request.form)
    return BECOMING_DOOR.give_back(form, str(NOTICES["form_expired"]), 400)


def _report_resumed(typed: MultiDict[str, str]) -> Page:
    """The report she was turning her request into, given back once her receipt signed her
    in again; if that receipt opens a report already, her words wait in a message to it."""
    if _support_request() is None:
        return message_again(MultiDict({"body": typed.get("narrative", "")}), str(resume.RESUMED), 200)
    return BECOMING_DOOR.give_back(ReportForm(formdata=typed), str(resume.RESUMED), 200)


def _report_signals_danger(typed: MultiDict[str, str]) -> bool:
    return services.assess(report_submission(ReportForm(formdata=typed, meta={"csrf": False}))).level == 0


def _status_report_failed() -> Page:
    form = ReportForm(formdata=request.form, meta={"csrf": False})
    danger = services.assess(report_submission(form)).level == 0
    return BECOMING_DOOR.not_saved(ReportForm(formdata=request.form), danger=danger)


# Forms given back whole when their page expired (CSRF) or saving them failed (app.errors).
on_expired("intake.talk")(lambda: receiving.expired(SUPPORT_DOOR))
on_expired("intake.talk_language")(talk_language)
on_failed("intake.talk")(lambda: receiving.failed(SUPPORT_DOOR))
on_expired("intake.status_report")(_status_report_expired)
on_expired("intake.status_report_language")(status_report_language)
on_failed("intake.status_report")(_status_report_failed)
# Sent after she was signed out: kept on the receipt page, then given back (app.intake.resume).
for _endpoint in ("intake.status_report", "intake.status_report_language"):
    resume.resumable(
        _endpoint, resume.Resumable(text="narrative", again=_report_resumed, danger=_report_signals_danger, report=True)
    )
