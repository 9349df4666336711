"""A coordinator's paging address: set, replace, remove, test. Behind a fresh password and
code, since the address is a secret and decides who is woken."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from app.access import COORDINATOR, allow
from app.extensions import limiter
from app.staff import paging
from app.staff.forms import ActionForm, PagingForm
from app.staff.services import StaffError
from app.staff.sessions import fresh_auth, signed_in_staff

blueprint = Blueprint("paging", __name__, url_prefix="/staff/profile/paging")


def _page(form: PagingForm, status: int = 200) -> tuple[str, int]:
    user = signed_in_staff()
    return render_template(
        "staff/paging.html",
        form=form,
        action=ActionForm(),
        label=paging.paging_label(user),
        title=paging.PAGE_TITLE,
    ), status


@blueprint.route("", methods=["GET", "POST"])
@allow(COORDINATOR)
@fresh_auth("paging.edit")
def edit() -> Response | tuple[str, int]:
    form = PagingForm()
    if form.validate_on_submit():
        try:
            paging.set_paging_url(signed_in_staff(), form.url.data or "")
        except StaffError as error:
            form.url.errors = [str(error)]
            return _page(form, 400)
        flash("Paging address saved. Send a test page to check that it reaches you.", "success")
        return redirect(url_for("paging.edit"), 303)
    return _page(form, 400 if form.errors else 200)


@blueprint.post("/test")
@allow(COORDINATOR)
@limiter.limit("20 per hour")
@fresh_auth("paging.edit")
def test() -> Response:
    user = signed_in_staff()
    if ActionForm().validate_on_submit() and user.paging_sealed is not None:
        outcome = paging.send_test_page(user)
        if outcome.ok:
            flash("Test page sent. Check that it reached you.", "success")
        else:
            flash(f"The test page did not get through ({outcome.error}). Check the address.", "error")
    return redirect(url_for("paging.edit"), 303)


@blueprint.post("/remove")
@allow(COORDINATOR)
@fresh_auth("paging.edit")
def remove() -> Response:
    user = signed_in_staff()
    if ActionForm().validate_on_submit() and user.paging_sealed is not None:
        paging.remove_paging_url(user)
        flash("Paging address removed. Urgent pages reach you by email only.", "success")
    return redirect(url_for("paging.edit"), 303)
