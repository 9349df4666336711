"""Legal holds on the case page: coordinators only, each a form with its CSRF token."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, url_for
from werkzeug.wrappers import Response
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from app.access import COORDINATOR, allow
from app.cases.models import Case
from app.cases.visibility import visible_case
from app.forms import Form
from app.retention import holds
from app.retention.policy import case_expires_at
from app.staff.forms import ActionForm
from app.staff.sessions import signed_in_staff

blueprint = Blueprint("retention", __name__)


class HoldForm(Form):
    reason = SelectField(
        "Why it must be kept",
        choices=[
            SelectChoice("", "Choose…"),
            *(SelectChoice(code, words) for code, words in holds.HOLD_REASONS.items()),
        ],
        validators=[InputRequired("Choose why the case must be kept.")],
    )


def _back(case_id: str) -> Response:
    return redirect(url_for("cases.case", case_id=case_id, _anchor="retention"), 303)


@blueprint.post("/cases/<case_id>/hold")
@allow(COORDINATOR)
def hold(case_id: str) -> Response:
    case = visible_case(signed_in_staff(), case_id)
    form = HoldForm()
    if not form.validate_on_submit() or form.reason.data not in holds.HOLD_REASONS:
        flash("Choose why the case must be kept, then press Put on legal hold.", "error")
        return _back(case.id)
    try:
        holds.set_hold(signed_in_staff(), case, form.reason.data)
    except holds.HoldError as error:
        flash(str(error), "error")
    else:
        flash("The case is on legal hold: it will not be deleted, by schedule or by its reporter.", "success")
    return _back(case.id)


@blueprint.post("/cases/<case_id>/hold/release")
@allow(COORDINATOR)
def release(case_id: str) -> Response:
    case = visible_case(signed_in_staff(), case_id)
    if ActionForm().validate_on_submit():
        try:
            holds.release_hold(signed_in_staff(), case)
        except holds.HoldError as error:
            flash(str(error), "error")
        else:
            flash("Legal hold released. The retention policy applies to the case again.", "success")
    return _back(case.id)


@blueprint.app_context_processor
def _retention_words() -> dict[str, object]:
    def deleted_after(case: Case) -> datetime | None:
        return case_expires_at(case)

    return {"hold_reasons": holds.HOLD_REASONS, "hold_form": HoldForm, "deleted_after": deleted_after}
