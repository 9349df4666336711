"""The pages a receipt opens: signing in with it, the case as the reporter sees it, her
messages and consent choices, the draft licensing letter, signing out."""

from __future__ import annotations

import flask
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter import RequestLimit
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.access import PUBLIC, REPORTER, allow
from app.cases.consent import CONTACT_PURPOSES, PURPOSES
from app.cases.content import ReportContent
from app.config import current_settings
from app.extensions import limiter
from app.forms import on_expired
from app.i18n import current_language
from app.intake import resume, services
from app.intake.finding import find_case_by_receipt
from app.intake.forms import SUPPORT_PURPOSES, ConsentForm, LogoutForm, MessageForm, ReceiptForm
from app.intake.letter import complaint_letter, wants_licensing_help
from app.intake.receipts import receipt_problem
from app.intake.receiving import Page
from app.intake.sessions import end_reporter_session, reporter_case_id, start_reporter_session
from app.intake.views import blueprint
from app.models import utcnow
from app.referrals.vocabulary import FOR_REPORTER as REFERRAL_WORDS
from app.rights import reading as rights_reading
from app.rights.topics import case_keys
from app.triage.help import help_topics, resources_for
from app.triage.rules import current_rules
from app.triage.scoring import score
from app.triage.targets import ack_hours
from app.vocabulary import SUPPORT


def _status_limit() -> str:
    return current_settings().rate_limits.status


def _status_rate_limited(limit: RequestLimit) -> flask.Response:
    notice = _("Too many tries from this connection. Please wait a few minutes and try again.")
    return current_app.make_response(resume.sign_in_page(ReceiptForm(), notice=notice, status=429))


@blueprint.route("/status", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_status_limit, methods=["POST"], on_breach=_status_rate_limited)
def status() -> Page | Response:
    if reporter_case_id() is not None and request.method != "POST":
        return redirect(url_for("intake.status_case"), 303)
    form = ReceiptForm()
    if request.method != "POST":  # GET, and HEAD as uptime checks send
        return render_template("intake/status_login.html", form=form)
    if form.validate_on_submit():
        case_id = find_case_by_receipt(form.receipt.data)
        if case_id is not None:
            start_reporter_session(case_id)
            # What she was sending when she was signed out comes back to her filled in.
            return resume.resumed() or redirect(url_for("intake.status_case"), 303)
        form.receipt.errors = [receipt_problem(form.receipt.data)]
    return resume.sign_in_page(form)


def _render_case(message_form: MessageForm | None = None, status: int = 200) -> tuple[str, int]:
    view = services.reporter_view(reporter_case_id() or "")
    consent_form = ConsentForm(data=view.consent)
    settings = current_settings()
    case = view.case
    if case.kind == SUPPORT:
        for purpose, words in SUPPORT_PURPOSES.items():
            getattr(consent_form, purpose).label.text = words
    topics = help_topics(case.level, case.category, case.signals or ())
    keys = case_keys(case.category, topics, view.content.wants)
    return (
        render_template(
            "intake/status_case.html",
            view=view,
            message_form=message_form or MessageForm(),
            consent_form=consent_form,
            logout_form=LogoutForm(),
            contact_purposes=CONTACT_PURPOSES,
            referral_words=REFERRAL_WORDS,
            licensing_help=wants_licensing_help(view.content),
            urgent=case.level == 0,
            help_resources=resources_for(topics, settings.resources),
            rights_articles=rights_reading.matching(keys, current_language()),
            ack_hours=ack_hours(case.level, case.kind),
            support=case.kind == SUPPORT,
        ),
        status,
    )


@blueprint.get("/status/case")
@allow(REPORTER)
def status_case() -> tuple[str, int]:
    return _render_case()


@blueprint.post("/status/message")
@allow(REPORTER)
def status_message() -> Response | tuple[str, int]:
    form = MessageForm()
    if not form.validate_on_submit():
        return _render_case(form, 400)
    services.add_reporter_message(reporter_case_id() or "", form.body.data, kind=form.kind.data)
    flash(_("Sent. A peer responder will see it."), "success")
    return redirect(url_for("intake.status_case", _anchor="conversation"), 303)


@blueprint.post("/status/consent")
@allow(REPORTER)
def status_consent() -> Response:
    form = ConsentForm()
    if form.validate_on_submit():
        services.change_consent(
            reporter_case_id() or "", {purpose: bool(getattr(form, purpose).data) for purpose in PURPOSES}
        )
        flash(_("Your choices are saved."), "success")
    return redirect(url_for("intake.status_case", _anchor="choices"), 303)


@blueprint.get("/status/licensing-letter")
@allow(REPORTER)
def licensing_letter() -> Response:
    """The draft licensing complaint, for a reporter who asked for help with one."""
    case, content, contact, _ = services.reporter_report(reporter_case_id() or "")
    if not wants_licensing_help(content):
        abort(404)
    pdf = complaint_letter(case, content, contact, today=utcnow())
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = 'attachment; filename="draft-complaint.pdf"'
    return response


@blueprint.post("/status/logout")
@allow(PUBLIC)
def status_logout() -> Response:
    form = LogoutForm()
    if form.validate_on_submit():
        end_reporter_session()
        flash(_("You are signed out. Keep your receipt safe to come back."), "success")
    return redirect(url_for("intake.status"), 303)


def message_again(formdata: MultiDict[str, str], notice: str, status: int = 400) -> tuple[str, int]:
    """Her case's page with the message she was sending in the box, and why it is there."""
    typed = MessageForm(formdata=formdata, meta={"csrf": False})
    typed.validate()
    shown = MessageForm(formdata=formdata)  # with a token of this session, to send it again
    shown.body.errors = [*typed.body.errors, notice]
    return _render_case(shown, status)


def _status_message_expired() -> tuple[str, int] | Response:
    if not reporter_case_id():
        return redirect(url_for("intake.status"), 303)
    notice = _("For your safety this page expired. Your message is still below: please send it again.")
    return message_again(request.form, notice)


def _message_signals_danger(typed: MultiDict[str, str]) -> bool:
    return score("other", ReportContent(narrative=typed.get("body", "")), current_rules()).level == 0


# A message whose page expired is given back whole (app.errors); one sent after she was signed
# out waits on the receipt page, then comes back in the box (app.intake.resume).
on_expired("intake.status_message")(_status_message_expired)
resume.resumable(
    "intake.status_message",
    resume.Resumable(
        text="body",
        again=lambda typed: message_again(typed, str(resume.RESUMED), 200),
        danger=_message_signals_danger,
    ),
)
