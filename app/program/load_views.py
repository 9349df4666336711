"""The load pages: one's own load and "I need a break" (responders and coordinators who take
cases; each sees only their own figures), and the load across the team (coordinators)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from app.access import COORDINATOR, RESPONDER, allow
from app.config import current_settings
from app.forms import on_expired
from app.models import utcnow
from app.program import people
from app.program.workload import check_in_prompt, loads_of, over_limit, since_words, team_load
from app.staff import breaks
from app.staff.forms import ActionForm, BreakForm
from app.staff.models import StaffUser
from app.staff.services import StaffError
from app.staff.sessions import signed_in_staff
from app.templating import local_time

blueprint = Blueprint("load", __name__, url_prefix="/staff/load")

# A coordinator on a break is off the on-call pages too (app/notify/service.py reads on_duty).
# With nobody on duty, every coordinator is paged, those on a break too (``Coordinators.told``),
# and a failed page falls back to the others (app/notify/paging.py): danger reaches someone.
NOT_PAGED = (
    "You will not be paged for imminent danger while on a break; the other coordinators on duty will be. "
    "If none of them is on duty, or no page to them gets through, you are paged all the same."
)


def _own_page(user: StaffUser, form: BreakForm, status: int = 200) -> tuple[str, int]:
    now = utcnow()
    (load,) = loads_of([user], now=now)
    return render_template(
        "staff/load.html",
        user=user,
        load=load,
        since=since_words(load.severe.last_at, now),
        limit=current_settings().wellbeing.severe_week_limit,
        form=form,
        action=ActionForm(),
        paging_words=NOT_PAGED,
    ), status


@blueprint.get("")
@allow(RESPONDER, COORDINATOR)
def own() -> tuple[str, int]:
    return _own_page(signed_in_staff(), BreakForm())


@blueprint.post("/break")
@allow(RESPONDER, COORDINATOR)
def take_break() -> Response | tuple[str, int]:
    """Off duty at once; back on duty at the time chosen, if one was."""
    user = signed_in_staff()
    form = BreakForm()
    if form.validate_on_submit():
        zone = ZoneInfo(current_settings().display_timezone)
        try:
            until = breaks.return_time(form.until.data, now=utcnow(), zone=zone, typed=form.at.data)
            breaks.take_break(user, until=until)
        except StaffError as error:
            form.at.errors = [str(error)]
        else:
            back = f"until {local_time(until)}: you are back on duty then" if until else "until you turn duty back on"
            paging = f" {NOT_PAGED}" if user.role == COORDINATOR else ""
            flash(
                f"You are on a break {back}. No new case comes to you meanwhile; the cases you hold stay yours."
                + paging,
                "success",
            )
            return redirect(url_for("load.own"), 303)
    return _own_page(user, form, status=400)


@blueprint.post("/back")
@allow(RESPONDER, COORDINATOR)
def back() -> Response | tuple[str, int]:
    """Back from a break (or from being off duty) by one's own hand."""
    user = signed_in_staff()
    if not ActionForm().validate_on_submit():
        return _expired()
    if breaks.end_break(user):
        flash("You are on duty again: new cases may be routed to you.", "success")
    else:
        flash("Your account cannot be on duty until your sign-in is set up again.", "error")
    return redirect(url_for("load.own"), 303)


def _expired() -> tuple[str, int]:
    """A button pressed on a page that had expired (app.errors): nothing changed, and the
    person sees their own page again, as it is now, to press it once more."""
    user = signed_in_staff()
    state = "on duty" if user.on_duty else "on a break" if user.break_until else "off duty"
    flash(f"This page had expired, so nothing changed: you are still {state}. Press the button again.", "info")
    return _own_page(user, BreakForm(), status=400)


# An expired page is answered with the load page rather than the error page (app.errors),
# the break's choice kept as it was made.
on_expired("load.back")(_expired)
on_expired("load.take_break")(_expired)


@people.blueprint.get("/load", endpoint="load")
@allow(COORDINATOR)
def team() -> str:
    """Everyone's load, and who may need a check-in."""
    now = utcnow()
    loads = team_load(now=now)
    return render_template(
        "staff/people_load.html",
        loads=loads,
        since={load.person.id: since_words(load.severe.last_at, now) for load in loads},
        prompts=[(load.person, check_in_prompt(load)) for load in over_limit(loads)],
        settings=current_settings().wellbeing,
    )
