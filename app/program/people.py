"""Coordinators manage people: invite, edit profiles and training. What changes an account
itself (who it is, its sign-in, whether it is open) is in ``person_actions``."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.access import COORDINATOR, COUNSEL, allow
from app.extensions import db
from app.models import utcnow
from app.program.workload import check_in_prompt, over_limit, team_load
from app.referrals import directory
from app.referrals.forms import CounselProfileForm
from app.referrals.models import CounselProfile
from app.referrals.packet import PacketError
from app.staff import profiles, services
from app.staff.forms import ActionForm, IdentityForm, InviteForm, StaffEditForm, TrainingForm
from app.staff.models import StaffUser
from app.staff.sessions import fresh_auth, kept_form, signed_in_staff
from app.templating import local_time

blueprint = Blueprint("people", __name__, url_prefix="/staff/people")


def person_or_404(staff_id: str) -> StaffUser:
    person = db.session.get(StaffUser, staff_id)
    if person is None:
        abort(404)
    return person


@blueprint.get("")
@allow(COORDINATOR)
def index() -> str:
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.email)).all()
    # Back from confirming it is them: the invitation as it was typed, to send again.
    kept = kept_form("people.invite")
    form = InviteForm(formdata=None, data=kept) if kept else InviteForm()
    if kept:
        flash("What you typed is kept below. Check it and make the link again.", "info")
    return render_template(
        "staff/people.html", people=people, form=form, action=ActionForm(), invite_url=None, prompts=_prompts()
    )


def _prompts() -> list[tuple[StaffUser, str]]:
    """Who has had more severe cases this week than the program's limit, and what to say."""
    return [(load.person, check_in_prompt(load)) for load in over_limit(team_load(now=utcnow()))]


@blueprint.post("/invite")
@allow(COORDINATOR)
@fresh_auth("people.index", keep=("email", "name", "role"))
def invite() -> tuple[str, int] | str:
    form = InviteForm()
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.email)).all()
    url = None
    status = 400
    if form.validate_on_submit():
        try:
            by = signed_in_staff()
            url = services.invite_staff(form.email.data, form.role.data, name=form.name.data or "", by=by)
            status = 200
        except services.StaffError as error:
            form.email.errors = [str(error)]
    people = db.session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.email)).all()
    page = render_template(
        "staff/people.html", people=people, form=form, action=ActionForm(), invite_url=url, prompts=_prompts()
    )
    return page, status


@blueprint.route("/<staff_id>", methods=["GET", "POST"])
@allow(COORDINATOR)
def edit(staff_id: str) -> Response | tuple[str, int] | str:
    person = person_or_404(staff_id)
    form = StaffEditForm(obj=person)
    if form.validate_on_submit():
        try:
            cancelled = profiles.update_profile(
                person,
                by=signed_in_staff(),
                pseudonym=form.pseudonym.data,
                languages=form.languages.data,
                on_duty=form.on_duty.data,
                caseload_cap=form.caseload_cap.data,
            )
        except services.StaffError as error:
            form.pseudonym.errors = [str(error)]
        else:
            flash(
                f"Saved. {person.display_name} stays off duty until duty is turned on again: "
                f"their break no longer ends at {local_time(cancelled)}."
                if cancelled
                else "Saved.",
                "success",
            )
            return redirect(url_for("people.edit", staff_id=person.id), 303)
    status = 400 if form.errors else 200
    return render_person(person, form=form, status=status)


def render_person(
    person: StaffUser,
    *,
    form: StaffEditForm | None = None,
    training_form: TrainingForm | None = None,
    counsel_form: CounselProfileForm | None = None,
    identity_form: IdentityForm | None = None,
    status: int = 200,
    **shown_once: object,
) -> tuple[str, int]:
    """The person's page; ``shown_once`` (an enrolment link, recovery codes) is on this
    answer only, never stored."""
    if counsel_form is None and person.role == COUNSEL:
        profile = db.session.get(CounselProfile, person.id)
        counsel_form = CounselProfileForm(
            prefix="counsel",
            data={
                "firm": profile.firm if profile else "",
                "practice_areas": profile.practice_areas if profile else [],
                "languages": ", ".join(profile.languages if profile else ["en"]),
                "age_recipient": profile.age_recipient if profile else "",
            },
        )
    return render_template(
        "staff/person.html",
        person=person,
        form=form or StaffEditForm(obj=person),
        training_form=training_form or TrainingForm(prefix="t"),
        counsel_form=counsel_form,
        identity_form=identity_form or _identity_form(person),
        action=ActionForm(),
        unused_codes=services.unused_recovery_codes(person),
        locked=services.failed_sign_ins(person),
        **shown_once,
    ), status


def _identity_form(person: StaffUser) -> IdentityForm:
    # Back from confirming it is them: the edit as it was typed.
    kept = kept_form("people.identity", staff_id=person.id)
    if kept:
        data = {key.removeprefix("who-"): value for key, value in kept.items()}
        return IdentityForm(prefix="who", formdata=None, data=data)
    return IdentityForm(prefix="who", formdata=None, obj=person)


@blueprint.post("/<staff_id>/counsel")
@allow(COORDINATOR)
def counsel_profile(staff_id: str) -> Response | tuple[str, int]:
    """A counsel's directory entry: firm, practice areas, languages and age key."""
    person = person_or_404(staff_id)
    if person.role != COUNSEL:
        abort(404)
    form = CounselProfileForm(prefix="counsel")
    if form.validate_on_submit():
        try:
            directory.save_counsel_profile(
                person,
                by=signed_in_staff(),
                firm=form.firm.data,
                practice_areas=form.practice_areas.data,
                languages=form.languages.data,
                age_recipient=form.age_recipient.data,
            )
        except directory.DirectoryError as error:
            form.languages.errors = [str(error)]
        except PacketError as error:
            form.age_recipient.errors = [str(error)]
        else:
            flash("Counsel profile saved.", "success")
            return redirect(url_for("people.edit", staff_id=person.id), 303)
    return render_person(person, counsel_form=form, status=400)


@blueprint.post("/<staff_id>/training")
@allow(COORDINATOR)
def add_training(staff_id: str) -> Response | tuple[str, int]:
    person = person_or_404(staff_id)
    form = TrainingForm(prefix="t")
    if form.validate_on_submit():
        profiles.add_training(
            person,
            by=signed_in_staff(),
            course=form.course.data,
            category=form.category.data,
            completed_on=form.completed_on.data,
            expires_on=form.expires_on.data,
        )
        flash("Training record added.", "success")
        return redirect(url_for("people.edit", staff_id=person.id), 303)
    return render_person(person, training_form=form, status=400)


@blueprint.post("/<staff_id>/training/<int:training_id>/remove")
@allow(COORDINATOR)
def remove_training(staff_id: str, training_id: int) -> Response:
    person = person_or_404(staff_id)
    if ActionForm().validate_on_submit():
        try:
            profiles.remove_training(person, training_id, by=signed_in_staff())
        except services.StaffError:
            abort(404)
    return redirect(url_for("people.edit", staff_id=person.id), 303)
