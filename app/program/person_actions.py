"""What a coordinator does to a person's account, after confirming it is them: change who
they are (name, email, role), reset their sign-in, make new recovery codes, unlock,
deactivate and reactivate. Links and codes are on the answer to the button press only."""

from __future__ import annotations

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response

from app.access import COORDINATOR, allow
from app.program import accounts
from app.program.people import blueprint, person_or_404, render_person
from app.staff.forms import ActionForm, IdentityForm
from app.staff.services import StaffError
from app.staff.sessions import fresh_auth, signed_in_staff

FIELD_NAMES = {"name": "name", "email": "email address", "role": "role"}


def _back(staff_id: str) -> Response:
    return redirect(url_for("people.edit", staff_id=staff_id), 303)


@blueprint.post("/<staff_id>/identity")
@allow(COORDINATOR)
@fresh_auth("people.edit", keep=("who-name", "who-email", "who-role"))
def identity(staff_id: str) -> Response | tuple[str, int]:
    person = person_or_404(staff_id)
    form = IdentityForm(prefix="who")
    if form.validate_on_submit():
        by = signed_in_staff()
        try:
            changed = accounts.edit_identity(
                person, by=by, name=form.name.data or "", email=form.email.data, role=form.role.data
            )
        except StaffError as error:
            form.email.errors = [str(error)]
        else:
            if changed:
                said = " and ".join(FIELD_NAMES[field] for field in changed)
                flash(f"Saved the new {said}. {person.display_name} is told by email.", "success")
            else:
                flash("Nothing changed.", "info")
            if by.role != COORDINATOR:
                return redirect(url_for("staff.profile"), 303)  # a coordinator no more
            return _back(person.id)
    return render_person(person, identity_form=form, status=400)


@blueprint.post("/<staff_id>/reset")
@allow(COORDINATOR)
@fresh_auth("people.edit")
def reset(staff_id: str) -> Response | tuple[str, int]:
    person = person_or_404(staff_id)
    if not ActionForm().validate_on_submit():
        return _back(person.id)
    try:
        url = accounts.reset_sign_in(person, by=signed_in_staff())
    except StaffError as error:
        flash(str(error), "error")
        return _back(person.id)
    return render_person(person, link=url, link_for="reset")


@blueprint.post("/<staff_id>/recovery-codes")
@allow(COORDINATOR)
@fresh_auth("people.edit")
def recovery_codes(staff_id: str) -> Response | tuple[str, int]:
    person = person_or_404(staff_id)
    if not ActionForm().validate_on_submit():
        return _back(person.id)
    try:
        codes = accounts.issue_recovery_codes(person, by=signed_in_staff())
    except StaffError as error:
        flash(str(error), "error")
        return _back(person.id)
    return render_person(person, codes=codes)


@blueprint.post("/<staff_id>/unlock")
@allow(COORDINATOR)
@fresh_auth("people.edit")
def unlock(staff_id: str) -> Response:
    person = person_or_404(staff_id)
    if ActionForm().validate_on_submit():
        accounts.unlock(person, by=signed_in_staff())
        flash(f"{person.display_name} can sign in again without waiting.", "success")
    return _back(person.id)


@blueprint.post("/<staff_id>/deactivate")
@allow(COORDINATOR)
@fresh_auth("people.index")
def deactivate(staff_id: str) -> Response:
    person = person_or_404(staff_id)
    if ActionForm().validate_on_submit():
        try:
            accounts.deactivate(person, by=signed_in_staff())
            flash(f"{person.display_name} is deactivated and signed out everywhere.", "success")
        except StaffError as error:
            flash(str(error), "error")
    return redirect(url_for("people.index"), 303)


@blueprint.post("/<staff_id>/reactivate")
@allow(COORDINATOR)
@fresh_auth("people.edit")
def reactivate(staff_id: str) -> Response | tuple[str, int]:
    person = person_or_404(staff_id)
    if not ActionForm().validate_on_submit():
        return _back(person.id)
    try:
        url = accounts.reactivate(person, by=signed_in_staff())
    except StaffError as error:
        flash(str(error), "error")
        return _back(person.id)
    if url is not None:
        return render_person(person, link=url, link_for="reactivate")
    flash(f"{person.display_name} is active again and can sign in with their password and app.", "success")
    return _back(person.id)
