"""A staff member's own sign-in, from their profile: a new password, a new authenticator app.
Both need the current password and a code, and both end every other session."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.access import COORDINATOR, COUNSEL, RESPONDER, allow, hashed_client_key
from app.extensions import limiter
from app.models import utcnow
from app.program import accounts
from app.staff import lifecycle, services
from app.staff.credentials import password_problem, provisioning_uri
from app.staff.forms import DeviceCodeForm, PasswordChangeForm, ReauthForm
from app.staff.sessions import follow_epoch, mark_reauthenticated, signed_in_staff
from app.staff.views import PASSWORD_PROBLEMS, qr_svg, sign_in_limit

blueprint = Blueprint("account", __name__, url_prefix="/staff/profile")
# How long a new app's key, once shown, waits for its first code.
DEVICE_SECONDS = 600
WRONG_PROOF = "That password or code did not work."


@blueprint.route("/password", methods=["GET", "POST"])
@allow(RESPONDER, COORDINATOR, COUNSEL)
@limiter.limit(sign_in_limit, methods=["POST"])
def password() -> Response | tuple[str, int] | str:
    user = signed_in_staff()
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return render_template("staff/password.html", form=form), 400 if form.errors else 200
    # The new password is judged first, so that a weak one does not spend a code.
    problem = password_problem(form.new_password.data, user_inputs=[user.email, user.name, "confide"])
    if problem is not None:
        form.new_password.errors = [PASSWORD_PROBLEMS[problem]]
    elif not services.reauthenticate(user, form.current_password.data, form.code.data, hashed_client_key()):
        form.code.errors = [WRONG_PROOF]
    else:
        follow_epoch(accounts.change_password(user, form.new_password.data))
        mark_reauthenticated()
        flash("Your password is changed. Every other session of yours is signed out.", "success")
        return redirect(url_for("staff.profile"), 303)
    return render_template("staff/password.html", form=form), 400


@blueprint.route("/device", methods=["GET", "POST"])
@allow(RESPONDER, COORDINATOR, COUNSEL)
@limiter.limit(sign_in_limit, methods=["POST"])
def device() -> Response | tuple[str, int] | str:
    """First the password and a code from the current app, then the new app's key is shown."""
    user = signed_in_staff()
    form = ReauthForm()
    if form.validate_on_submit():
        if services.reauthenticate(user, form.password.data, form.code.data, hashed_client_key()):
            mark_reauthenticated()
            offer = accounts.offer_new_device(user)
            session["new_device"] = {"key": offer.key, "at": int(utcnow().timestamp())}
            return redirect(url_for("account.new_device"), 303)
        form.code.errors = [WRONG_PROOF]
    status = 400 if form.errors else 200
    return render_template("staff/device.html", form=form), status


def _offered_key() -> str | None:
    pending = session.get("new_device")
    if not isinstance(pending, dict) or utcnow().timestamp() - int(pending.get("at", 0)) > DEVICE_SECONDS:
        return None
    key = pending.get("key")
    return key if isinstance(key, str) else None


@blueprint.route("/device/new", methods=["GET", "POST"])
@allow(RESPONDER, COORDINATOR, COUNSEL)
@limiter.limit(sign_in_limit, methods=["POST"])
def new_device() -> Response | tuple[str, int] | str:
    """The new app's key, to this browser only, until a code from that app confirms it."""
    user = signed_in_staff()
    key = _offered_key()
    secret = lifecycle.offered_device(user, key)
    if secret is None:
        session.pop("new_device", None)
        flash("That key expired or was replaced. Start again.", "info")
        return redirect(url_for("account.device"), 303)
    form = DeviceCodeForm()
    if form.validate_on_submit():
        try:
            epoch = accounts.confirm_new_device(user, key, form.code.data)
        except services.StaffError as error:
            form.code.errors = [PASSWORD_PROBLEMS.get(str(error), str(error))]
        else:
            session.pop("new_device", None)
            follow_epoch(epoch)
            flash("Your codes now come from the new app. Every other session of yours is signed out.", "success")
            return redirect(url_for("staff.profile"), 303)
    status = 400 if form.errors else 200
    qr: Markup = qr_svg(provisioning_uri(secret, user.email))
    return render_template("staff/device_new.html", form=form, secret=secret, qr=qr), status
