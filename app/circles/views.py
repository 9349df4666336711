"""Peer circles for therapists, without an account: the upcoming list, a circle's page and
its calendar file, asking for the place or link, and coming back with the code.

No page shows where a circle meets but the one answering a request or its code. Nothing she
types goes in a URL or a log; the code is posted, never put in a link."""

from __future__ import annotations

import flask
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter import RequestLimit
from werkzeug.wrappers import Response

from app.access import PUBLIC, allow
from app.circles import asking, services
from app.circles.calendar import circle_event
from app.circles.display import length, when
from app.circles.forms import AskForm, CodeForm, LeaveForm
from app.circles.models import Circle
from app.circles.places import rooms
from app.circles.rules import rules_to_show
from app.config import current_settings
from app.extensions import db, limiter
from app.forms import on_expired
from app.i18n import current_language
from app.intake.tokens import new_submission_token, own_submission_token

blueprint = Blueprint("circles", __name__, url_prefix="/circles")
Page = str | tuple[str, int]


@blueprint.context_processor
def _helpers() -> dict[str, object]:
    names = current_settings().language_names
    return {"when": when, "length": length, "language_name": lambda code: names.get(code, code)}


def _circle_or_404(circle_id: str) -> Circle:
    circle = db.session.get(Circle, circle_id) if len(circle_id) <= 36 else None
    if circle is None:
        abort(404)
    return circle


@blueprint.get("")
@allow(PUBLIC)
def index() -> str:
    circles = services.upcoming()
    return render_template("circles/index.html", circles=circles, rooms=rooms([c.id for c in circles]))


@blueprint.get("/<circle_id>")
@allow(PUBLIC)
def circle(circle_id: str) -> str:
    found = _circle_or_404(circle_id)
    return render_template(
        "circles/circle.html",
        circle=found,
        room=rooms([found.id])[found.id],
        rules=rules_to_show(found.ground_rules),
        open=services.is_open(found),
    )


@blueprint.get("/<circle_id>/calendar.ics")
@allow(PUBLIC)
def calendar(circle_id: str) -> Response:
    response = Response(circle_event(_circle_or_404(circle_id)), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'attachment; filename="circle.ics"'
    return response


def _ask_limit() -> str:
    return current_settings().rate_limits.report


def _ask_limit_all() -> str:
    return current_settings().rate_limits.report_all


def _render_ask(circle: Circle, form: AskForm, notice: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("circles/ask.html", circle=circle, form=form, notice=notice), status


def _give_back(circle_id: str, notice: str, status: int) -> tuple[str, int]:
    """The form again, with what was typed and a fresh submission token."""
    form = AskForm(formdata=request.form)
    form.submission.data = new_submission_token()
    return _render_ask(_circle_or_404(circle_id), form, notice, status)


def _ask_rate_limited(limit: RequestLimit) -> flask.Response:
    notice = _("Too many requests have come from this connection. Please wait a few minutes and send again.")
    page = _give_back((request.view_args or {}).get("circle_id", ""), notice, 429)
    return current_app.make_response(page)


@blueprint.route("/<circle_id>/ask", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_ask_limit, methods=["POST"], on_breach=_ask_rate_limited)
@limiter.limit(_ask_limit_all, methods=["POST"], key_func=lambda: "everyone", on_breach=_ask_rate_limited)
def ask(circle_id: str) -> Response | Page:
    found = _circle_or_404(circle_id)
    if not services.is_open(found):
        return redirect(url_for("circles.circle", circle_id=found.id), 303)
    form = AskForm()
    if request.method != "POST":
        return _render_ask(found, form)
    if not form.validate_on_submit():
        form.submission.data = new_submission_token()
        return _render_ask(found, form, _("Please check what you wrote."), 400)
    try:
        asked = asking.ask(
            found.id,
            name=form.name.data.strip(),
            email=(form.email.data or "").strip(),
            language=current_language(),
            # A token this browser was not given is no token: the request is a new one.
            token=own_submission_token(form.submission.data) or new_submission_token(),
        )
    except asking.CircleClosed:
        return redirect(url_for("circles.circle", circle_id=found.id), 303)
    return _render_request(asked)


def _render_request(asked: asking.Asked, status: int = 200) -> tuple[str, int]:
    return render_template(
        "circles/request.html",
        asked=asked,
        circle=asked.circle,
        where=asked.where,
        open=services.is_open(asked.circle),
        leave_form=LeaveForm(code=str(asked.code)),
    ), status


def _code_limit() -> str:
    return current_settings().rate_limits.status


def _code_rate_limited(limit: RequestLimit) -> flask.Response:
    notice = _("Too many tries from this connection. Please wait a few minutes and try again.")
    return current_app.make_response((render_template("circles/code.html", form=CodeForm(), notice=notice), 429))


@blueprint.route("/code", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(_code_limit, methods=["POST"], on_breach=_code_rate_limited)
def code() -> Page:
    form = CodeForm()
    if request.method != "POST":
        return render_template("circles/code.html", form=form)
    if form.validate_on_submit():
        asked = asking.find(form.code.data)
        if asked is not None:
            return _render_request(asked)
        form.code.errors = [_("We could not find a request with that code. Check the digits and try again.")]
    return render_template("circles/code.html", form=form), 400


@blueprint.post("/code/leave")
@allow(PUBLIC)
@limiter.limit(_code_limit, on_breach=_code_rate_limited)
def leave() -> Page:
    form = LeaveForm()
    asked = asking.find(form.code.data or "") if form.validate_on_submit() else None
    if asked is None:
        return render_template("circles/code.html", form=CodeForm()), 400
    asking.leave(asked)
    return _render_request(asking.find(str(asked.code)) or asked)


def _ask_expired() -> tuple[str, int]:
    notice = _("For your safety this page expired. What you wrote is still below: please send it again.")
    return _give_back((request.view_args or {}).get("circle_id", ""), notice, 400)


# A request whose page expired is given back with what was typed (app.errors).
on_expired("circles.ask")(_ask_expired)
