"""Referral steps for coordinators, and the counsel portal.

Counsel see only the referrals addressed to them; anything else is answered 404, exactly as
if it did not exist. Coordinators download a packet only after confirming it is them.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.access import COORDINATOR, COUNSEL, allow
from app.cases.visibility import visible_case
from app.extensions import db
from app.referrals import services
from app.referrals.directory import counsel_directory
from app.referrals.forms import DecideForm, ReferForm
from app.referrals.models import Referral
from app.referrals.packet import PacketError
from app.referrals.pdf import FontMissing
from app.referrals.vocabulary import DECLINE_REASONS, OPEN_TO_COUNSEL, PRACTICE_AREAS, STATUS_NAMES
from app.signals import announce
from app.staff.forms import ActionForm
from app.staff.sessions import recently_authenticated, signed_in_staff

blueprint = Blueprint("referrals", __name__)


def _case_page(case_id: str) -> Response:
    return redirect(url_for("cases.case", case_id=case_id, _anchor="referrals"), 303)


def _referral(referral_id: str) -> Referral:
    """A referral the viewer may act on: any, for coordinators; their own, for counsel."""
    viewer = signed_in_staff()
    if viewer.role == COUNSEL:
        try:
            return services.counsel_referral(viewer, referral_id)
        except LookupError:
            # Answered as if it did not exist, and kept in the audit log like any refusal.
            announce("access_denied", actor=viewer.id, role=viewer.role, case_id=None, referral=referral_id[:36])
            abort(404)
    referral = db.session.get(Referral, referral_id) if len(referral_id) <= 36 else None
    if referral is None:
        abort(404)
    return referral


@blueprint.post("/cases/<case_id>/referrals")
@allow(COORDINATOR)
def create(case_id: str) -> Response:
    viewer = signed_in_staff()
    case = visible_case(viewer, case_id)
    form = ReferForm(prefix="refer")
    form.counsel_id.choices = [c.user.id for c in counsel_directory()]
    if not form.validate_on_submit():
        flash("Choose counsel from the directory.", "error")
        return _case_page(case.id)
    try:
        services.create_referral(viewer, case, form.counsel_id.data)
    except services.ReferralError as error:
        flash(str(error), "error")
    else:
        flash("Draft referral made. Check the scope, then send it.", "success")
    return _case_page(case.id)


@blueprint.post("/referrals/<referral_id>/send")
@allow(COORDINATOR)
def send(referral_id: str) -> Response:
    referral = _referral(referral_id)
    if ActionForm().validate_on_submit():
        try:
            services.send_referral(signed_in_staff(), referral)
        except (services.ReferralError, PacketError) as error:
            flash(str(error), "error")
        except FontMissing as error:
            flash(f"The packet could not be made: {error}", "error")
        else:
            flash("Referral sent. Counsel have been told a packet is waiting for them.", "success")
    return _case_page(referral.case_id)


@blueprint.post("/referrals/<referral_id>/revoke")
@allow(COORDINATOR)
def revoke(referral_id: str) -> Response:
    referral = _referral(referral_id)
    if ActionForm().validate_on_submit():
        try:
            services.revoke_referral(signed_in_staff(), referral)
        except services.ReferralError as error:
            flash(str(error), "error")
        else:
            flash("Referral withdrawn; its packet is deleted.", "success")
    return _case_page(referral.case_id)


@blueprint.post("/referrals/<referral_id>/close")
@allow(COORDINATOR, COUNSEL)
def close(referral_id: str) -> Response:
    referral = _referral(referral_id)
    viewer = signed_in_staff()
    if ActionForm().validate_on_submit():
        try:
            services.close_referral(viewer, referral)
        except services.ReferralError as error:
            flash(str(error), "error")
        else:
            flash("Referral closed.", "success")
    if viewer.role == COUNSEL:
        return redirect(url_for("referrals.counsel_referral", referral_id=referral.id), 303)
    return _case_page(referral.case_id)


@blueprint.get("/referrals/<referral_id>/packet")
@allow(COORDINATOR, COUNSEL)
def packet(referral_id: str) -> Response:
    referral = _referral(referral_id)
    viewer = signed_in_staff()
    if viewer.role == COORDINATOR and not recently_authenticated():
        flash("To download a packet, please confirm it is you.", "info")
        return redirect(url_for("staff.reauth", next=request.path), 303)
    try:
        data = services.packet_for(viewer, referral)
    except services.ReferralError as error:
        flash(str(error), "error")
        if viewer.role == COUNSEL:
            return redirect(url_for("referrals.counsel_referral", referral_id=referral.id), 303)
        return _case_page(referral.case_id)
    response = Response(data, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="referral-{referral.id[:8]}.zip.age"'
    return response


@blueprint.get("/counsel")
@allow(COUNSEL)
def portal() -> str:
    return render_template(
        "referrals/portal.html",
        referrals=services.counsel_referrals(signed_in_staff()),
        status_names=STATUS_NAMES,
        open_states=OPEN_TO_COUNSEL,
    )


def _render_counsel_referral(referral: Referral, form: DecideForm | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "referrals/counsel_referral.html",
        referral=referral,
        form=form or DecideForm(),
        action=ActionForm(),
        status_names=STATUS_NAMES,
        decline_reasons=DECLINE_REASONS,
        open_states=OPEN_TO_COUNSEL,
    ), status


@blueprint.get("/counsel/referrals/<referral_id>")
@allow(COUNSEL)
def counsel_referral(referral_id: str) -> tuple[str, int]:
    return _render_counsel_referral(_referral(referral_id))


@blueprint.post("/counsel/referrals/<referral_id>/acknowledge")
@allow(COUNSEL)
def acknowledge(referral_id: str) -> Response:
    referral = _referral(referral_id)
    if ActionForm().validate_on_submit() and services.acknowledge_referral(signed_in_staff(), referral):
        flash("Thank you: the program knows you have the referral.", "success")
    return redirect(url_for("referrals.counsel_referral", referral_id=referral.id), 303)


@blueprint.post("/counsel/referrals/<referral_id>/decide")
@allow(COUNSEL)
def decide(referral_id: str) -> Response | tuple[str, int]:
    referral = _referral(referral_id)
    form = DecideForm()
    if form.validate_on_submit():
        try:
            services.decide_referral(
                signed_in_staff(), referral, accept=form.decision.data == "accept", reason=form.reason.data or ""
            )
        except services.ReferralError as error:
            form.reason.errors = [str(error)]
        else:
            flash("Your decision is recorded and the coordinators are told.", "success")
            return redirect(url_for("referrals.counsel_referral", referral_id=referral.id), 303)
    return _render_counsel_referral(referral, form, 400)


@blueprint.get("/staff/counsel")
@allow(COORDINATOR)
def directory() -> str:
    return render_template("referrals/directory.html", directory=counsel_directory(), areas=PRACTICE_AREAS)
