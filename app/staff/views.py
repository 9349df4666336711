"""Signing in and out, enrolment, re-authentication and one's own profile."""

from __future__ import annotations

import segno
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.access import COORDINATOR, COUNSEL, PUBLIC, RESPONDER, STAFF, allow, hashed_client_key
from app.config import current_settings
from app.extensions import limiter
from app.i18n import safe_next
from app.models import utcnow
from app.signals import announce
from app.staff import services
from app.staff.credentials import provisioning_uri
from app.staff.forms import ActionForm, CodeForm, EnrolForm, LoginForm, ProfileForm, ReauthForm
from app.staff.models import StaffUser
from app.staff.sessions import (
    current_staff,
    end_staff_session,
    mark_reauthenticated,
    signed_in_staff,
    start_staff_session,
)
from app.templating import local_time

blueprint = Blueprint("staff", __name__, url_prefix="/staff")
PENDING_SECONDS = 300
PASSWORD_PROBLEMS = {
    "short": "That password is too short: use at least 12 characters.",
    "long": "That password is too long.",
    "common": "That password is too common or too easy to guess. Try a few unrelated words.",
    "code": "That code did not match. Check your phone's clock and enter the newest code.",
}


def sign_in_limit() -> str:
    return current_settings().rate_limits.staff_login


def home_for(user: StaffUser) -> str:
    return url_for("cases.queue") if user.role in (RESPONDER, COORDINATOR) else url_for("referrals.portal")


@blueprint.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(sign_in_limit, methods=["POST"])
def login() -> Response | tuple[str, int] | str:
    if current_staff() is not None:
        return redirect(home_for(current_staff()), 303)  # type: ignore[arg-type]
    form = LoginForm()
    if form.validate_on_submit():
        passed = services.check_password_step(form.email.data, form.password.data, hashed_client_key())
        if passed is not None:
            user, epoch = passed
            # Tied to the account's sign-in as the password was checked: a new password, a
            # reset or a deactivation meanwhile (each moves the epoch) ends it half-finished.
            session["pending_staff"] = {"id": user.id, "epoch": epoch, "at": int(utcnow().timestamp())}
            return redirect(url_for("staff.login_code", next=request.args.get("next")), 303)
        form.password.errors = ["Wrong email or password, or too many tries. Wait a few minutes if so."]
        return render_template("staff/login.html", form=form), 400
    return render_template("staff/login.html", form=form)


@blueprint.route("/login/code", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(sign_in_limit, methods=["POST"])
def login_code() -> Response | tuple[str, int] | str:
    pending = session.get("pending_staff") or {}
    user = None
    if pending and utcnow().timestamp() - int(pending.get("at", 0)) <= PENDING_SECONDS:
        from app.extensions import db

        user = db.session.get(StaffUser, str(pending.get("id")))
    if user is None or not user.active or user.session_epoch != pending.get("epoch"):
        session.pop("pending_staff", None)
        flash("Please sign in again.", "info")
        return redirect(url_for("staff.login"), 303)
    form = CodeForm()
    if form.validate_on_submit():
        failed_before = user.failed_logins
        if services.check_second_factor(user, form.code.data, hashed_client_key()):
            start_staff_session(user, epoch=pending["epoch"])
            if failed_before:
                # The owner hears of guesses at her account, at the latest when she signs in.
                flash(
                    f"There were {failed_before} failed sign-in attempt(s) on your account since you last "
                    "signed in. If they were not yours, tell a coordinator and change your password.",
                    "error",
                )
            left = services.unused_recovery_codes(user)
            if left <= 3:
                flash(f"You have {left} recovery code(s) left. Ask a coordinator for new ones.", "info")
            return redirect(safe_next(request.args.get("next")) if request.args.get("next") else home_for(user), 303)
        form.code.errors = ["That code did not work. Enter the newest code from your app."]
        return render_template("staff/login_code.html", form=form), 400
    return render_template("staff/login_code.html", form=form)


@blueprint.post("/logout")
@allow(*STAFF)
def logout() -> Response:
    user = current_staff()
    if ActionForm().validate_on_submit() and user is not None:
        services.sign_out_everywhere(user)
        end_staff_session()
        announce("staff_logout", actor=user.id, role=user.role)
        flash("You are signed out.", "success")
    return redirect(url_for("staff.login"), 303)


def qr_svg(uri: str) -> Markup:
    # Rendered here as SVG markup: no image request, no script, nothing third-party. segno
    # draws the SVG from the URI's bits alone, so no text of the URI is in the markup.
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#1d2330", light="#ffffff")
    return Markup(svg)  # noqa: S704


@blueprint.route("/enrol/<token>", methods=["GET", "POST"])
@allow(PUBLIC)
@limiter.limit(sign_in_limit, methods=["POST"])
def enrol(token: str) -> Response | str | tuple[str, int]:
    """The enrolment page. Its key (the TOTP secret) is shown only to a browser that asked for
    it with a press of a button, so a link scanner or a glance at the link sees none; each
    press makes a new one, and only the browser that pressed last can finish."""
    invite = services.open_invite(token)
    if invite is None:
        return render_template("staff/enrol_invalid.html"), 404
    if request.method == "POST" and "start" in request.form:
        if ActionForm().validate_on_submit():
            session["enrol"] = services.start_enrolment(invite)
        return redirect(url_for("staff.enrol", token=token), 303)
    secret = services.enrolment_secret(invite, session.get("enrol"))
    if secret is None:
        restarted = request.method == "POST"
        return render_template("staff/enrol_start.html", form=ActionForm(), user=invite.staff, restarted=restarted), (
            400 if restarted else 200
        )
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = services.enrol(invite, secret, form.password.data, form.code.data)
        except services.StaffError as error:
            if str(error) == "used":
                return render_template("staff/enrol_invalid.html"), 404
            problem = PASSWORD_PROBLEMS.get(str(error), str(error))
            (form.code if str(error) == "code" else form.password).errors = [problem]
        else:
            session.pop("enrol", None)
            return render_template("staff/recovery_codes.html", codes=codes, user=invite.staff)
    status = 400 if request.method == "POST" else 200
    uri = provisioning_uri(secret, invite.staff.email)
    return render_template("staff/enrol.html", form=form, secret=secret, qr=qr_svg(uri), user=invite.staff), status


@blueprint.route("/reauth", methods=["GET", "POST"])
@allow(*STAFF)
@limiter.limit(sign_in_limit, methods=["POST"])
def reauth() -> Response | tuple[str, int] | str:
    user = current_staff()
    form = ReauthForm()
    if form.validate_on_submit() and user is not None:
        if services.reauthenticate(user, form.password.data, form.code.data, hashed_client_key()):
            mark_reauthenticated()
            return redirect(safe_next(request.args.get("next")), 303)
        form.code.errors = ["That password or code did not work."]
        return render_template("staff/reauth.html", form=form), 400
    return render_template("staff/reauth.html", form=form)


@blueprint.route("/profile", methods=["GET", "POST"])
@allow(RESPONDER, COORDINATOR, COUNSEL)
def profile() -> Response | tuple[str, int] | str:
    from app.staff.profiles import update_profile

    user = signed_in_staff()
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        try:
            cancelled = update_profile(
                user, by=user, pseudonym=form.pseudonym.data, languages=form.languages.data, on_duty=form.on_duty.data
            )
        except services.StaffError as error:
            form.pseudonym.errors = [str(error)]
            return render_template("staff/profile.html", form=form, user=user), 400
        flash(
            "Profile saved. You stay off duty until you turn duty back on: "
            f"your break no longer ends at {local_time(cancelled)}."
            if cancelled
            else "Profile saved.",
            "success",
        )
        return redirect(url_for("staff.profile"), 303)
    return render_template("staff/profile.html", form=form, user=user)


@blueprint.app_context_processor
def _staff_context() -> dict[str, object]:
    return {
        "staff_user": current_staff() if session.get("staff") is not None else None,
        "today": utcnow().date(),
    }
