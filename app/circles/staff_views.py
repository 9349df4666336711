"""Staff pages of circles: coordinators publish, change and cancel them; a facilitator sees the
names people chose for their circle. English only, like every staff page."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.access import COORDINATOR, RESPONDER, allow
from app.circles import services
from app.circles.asking import askers
from app.circles.forms import CircleForm
from app.circles.models import Circle
from app.circles.places import rooms
from app.circles.rules import rules_to_edit, rules_to_keep, rules_to_show
from app.circles.sealing import Where
from app.config import current_settings
from app.extensions import db
from app.signals import announce
from app.staff.forms import ActionForm
from app.staff.models import StaffUser
from app.staff.services import staff_directory
from app.staff.sessions import signed_in_staff

blueprint = Blueprint("circle_admin", __name__, url_prefix="/staff/circles")


def _zone() -> ZoneInfo:
    return ZoneInfo(current_settings().display_timezone)


def _circle(circle_id: str, viewer: StaffUser) -> Circle:
    """The circle, if ``viewer`` may see it: any, for a coordinator; their own, for a
    facilitator. Otherwise 404, audited."""
    circle = db.session.get(Circle, circle_id) if len(circle_id) <= 36 else None
    if circle is None or (viewer.role != COORDINATOR and circle.facilitator_id != viewer.id):
        announce("access_denied", actor=viewer.id, role=viewer.role, circle=circle_id[:36], exists=circle is not None)
        abort(404)
    return circle


def _form(circle: Circle | None = None) -> CircleForm:
    people = [(person.id, f"{person.display_name} ({person.role})") for person in services.facilitators()]
    zone = _zone()
    if request.method == "POST":
        return CircleForm(facilitators=people, zone=zone.key)
    if circle is None:
        viewer = signed_in_staff()
        data: dict[str, object] = {"ground_rules": rules_to_edit(""), "facilitator": viewer.id}
    else:
        local = circle.starts_at.astimezone(zone)
        where = services.where(circle)
        data = {
            "title": circle.title,
            "language": circle.language,
            "format": circle.format,
            "link": where.link,
            "place": where.place,
            "day": local.date(),
            "time": local.time(),
            "minutes": circle.minutes,
            "capacity": circle.capacity,
            "facilitator": circle.facilitator_id,
            "ground_rules": rules_to_edit(circle.ground_rules),
        }
    return CircleForm(formdata=None, data=data, facilitators=people, zone=zone.key)


def _fields(form: CircleForm, before: Circle | None) -> services.CircleFields | None:
    """The circle as the form describes it, or None (with the form's errors) if it cannot be."""
    zone = _zone()
    local = datetime.combine(form.day.data, form.time.data.replace(second=0, microsecond=0), tzinfo=zone)
    starts_at = local.astimezone(UTC)
    # A time the clocks skip (the spring change) comes back different from UTC.
    if starts_at.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        form.time.errors = [f"That time does not exist in {zone.key}: the clocks change then."]
        return None
    if starts_at <= datetime.now(UTC) and (before is None or before.starts_at != starts_at):
        form.day.errors = ["The circle must start later than now."]
        return None
    online = form.format.data == "online"
    return services.CircleFields(
        title=form.title.data.strip(),
        language=form.language.data,
        format=form.format.data,
        where=Where(place=(form.place.data or "").strip(), link=(form.link.data or "").strip() if online else ""),
        starts_at=starts_at,
        minutes=form.minutes.data,
        capacity=form.capacity.data,
        facilitator_id=form.facilitator.data or None,
        ground_rules=rules_to_keep(form.ground_rules.data or ""),
    )


@blueprint.get("")
@allow(RESPONDER, COORDINATOR)
def index() -> str:
    viewer = signed_in_staff()
    ahead, past = services.for_staff(viewer)
    people = {staff_id: person.display_name for staff_id, person in staff_directory().items()}
    return render_template(
        "circles/staff/index.html",
        ahead=ahead,
        past=past,
        rooms=rooms([circle.id for circle in ahead + past]),
        people=people,
        coordinator=viewer.role == COORDINATOR,
    )


@blueprint.route("/new", methods=["GET", "POST"])
@allow(COORDINATOR)
def new() -> Response | tuple[str, int]:
    form = _form()
    if form.validate_on_submit():
        fields = _fields(form, None)
        if fields is not None:
            try:
                circle = services.publish(fields, by=signed_in_staff())
            except services.CircleError as error:
                form.facilitator.errors = [str(error)]
            else:
                flash("Published. It is on the list of circles now.", "success")
                return redirect(url_for("circle_admin.circle", circle_id=circle.id), 303)
    status = 400 if request.method == "POST" else 200
    return render_template("circles/staff/edit.html", form=form, circle=None), status


@blueprint.get("/<circle_id>")
@allow(RESPONDER, COORDINATOR)
def circle(circle_id: str) -> str:
    viewer = signed_in_staff()
    found = _circle(circle_id, viewer)
    facilitating = found.facilitator_id == viewer.id
    names = askers(found) if facilitating else None
    if facilitating:
        announce("circle_viewed", actor=viewer.id, role=viewer.role, circle=found.id)
    facilitator = db.session.get(StaffUser, found.facilitator_id) if found.facilitator_id else None
    return render_template(
        "circles/staff/circle.html",
        circle=found,
        where=services.where(found),
        room=rooms([found.id])[found.id],
        names=names,
        facilitator=facilitator,
        rules=rules_to_show(found.ground_rules),
        coordinator=viewer.role == COORDINATOR,
        action=ActionForm(),
    )


@blueprint.route("/<circle_id>/edit", methods=["GET", "POST"])
@allow(COORDINATOR)
def edit(circle_id: str) -> Response | tuple[str, int]:
    viewer = signed_in_staff()
    found = _circle(circle_id, viewer)
    form = _form(found)
    if form.validate_on_submit():
        fields = _fields(form, found)
        if fields is not None:
            try:
                changed = services.change(found, fields, by=viewer)
            except services.CircleError as error:
                form.facilitator.errors = [str(error)]
            else:
                flash("Saved." if changed else "Nothing changed.", "success" if changed else "info")
                return redirect(url_for("circle_admin.circle", circle_id=found.id), 303)
    status = 400 if request.method == "POST" else 200
    return render_template("circles/staff/edit.html", form=form, circle=found), status


@blueprint.post("/<circle_id>/cancel")
@allow(COORDINATOR)
def cancel(circle_id: str) -> Response:
    viewer = signed_in_staff()
    found = _circle(circle_id, viewer)
    if ActionForm().validate_on_submit():
        services.cancel(found, by=viewer)
        flash("Cancelled. It is off the list, and those who asked and gave an email are told.", "success")
    return redirect(url_for("circle_admin.circle", circle_id=found.id), 303)
