"""The queue and the case page, for responders and coordinators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, stream_with_context, url_for
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.access import COORDINATOR, RESPONDER, allow
from app.cases.consent import current_consent
from app.cases.exclusions import exclusion_count
from app.cases.models import Case
from app.cases.visibility import visible_case
from app.casework import export as case_export
from app.casework import search, services
from app.casework.forms import AssignForm, NoteForm, SearchForm, StaffMessageForm, StatusForm
from app.config import current_settings
from app.extensions import limiter
from app.models import utcnow
from app.notify.paging import page_history
from app.referrals import services as referrals
from app.referrals.directory import counsel_directory
from app.referrals.forms import ReferForm
from app.referrals.vocabulary import OPEN_TO_COUNSEL
from app.referrals.vocabulary import STATUS_NAMES as REFERRAL_STATUS_NAMES
from app.staff.forms import ActionForm
from app.staff.models import StaffUser
from app.staff.services import staff_directory
from app.staff.sessions import recently_authenticated, signed_in_staff
from app.triage.targets import ack_hours
from app.vocabulary import CATEGORIES, KINDS, STATUS_NAMES, SUPPORT, TRANSITIONS

blueprint = Blueprint("cases", __name__, url_prefix="/cases")


def _filters() -> services.QueueFilters:
    args = request.args
    level = args.get("level", "")
    return services.QueueFilters(
        level=int(level) if level in ("0", "1", "2", "3") else None,
        status=args.get("status") if args.get("status") in STATUS_NAMES else None,
        category=args.get("category") if args.get("category") in CATEGORIES else None,
        language=args.get("language") if args.get("language") in current_settings().languages else None,
        mine=args.get("mine") == "1",
        kind=args.get("kind") if args.get("kind") in KINDS else None,
    )


@blueprint.get("")
@allow(RESPONDER, COORDINATOR)
def queue() -> str:
    filters = _filters()
    page = request.args.get("page", "1")
    result = services.queue_page(signed_in_staff(), filters, int(page) if page.isdigit() and len(page) < 7 else 1)
    return render_template(
        "cases/queue.html", result=result, filters=filters, now=utcnow(), search_form=SearchForm(prefix="search")
    )


@blueprint.post("/search", endpoint="search")
@allow(RESPONDER, COORDINATOR)
@limiter.limit(lambda: current_settings().rate_limits.staff_search)
def find() -> Response | tuple[str, int]:
    """By POST, so that a receipt typed here is in no URL, history or access log."""
    form = SearchForm(prefix="search")
    if not form.validate_on_submit():
        return render_template("cases/search.html", form=form, result=None), 400
    result = search.find_cases(signed_in_staff(), form.q.data)
    if len(result.rows) == 1:
        return redirect(url_for("cases.case", case_id=result.rows[0].id), 303)
    if result.kind != search.REFERENCE:
        form.q.data = ""  # a receipt, or a mistyped one, is not shown back on the page
    return render_template("cases/search.html", form=form, result=result), 200 if result.kind else 400


@blueprint.get("/export.csv")
@allow(COORDINATOR)
def export() -> Response:
    """The filters are in the URL (codes only, nothing secret), as on the queue page."""
    if not recently_authenticated():
        flash("To download the case list, please confirm it is you.", "info")
        return redirect(url_for("staff.reauth", next=request.full_path), 303)
    lines = case_export.case_list_csv(signed_in_staff(), _filters())
    response = Response(stream_with_context(lines), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="cases-{utcnow():%Y-%m-%d}.csv"'
    return response


def _assignee_choices(case: Case, *, peer_support: bool) -> list[SelectChoice]:
    # Nobody is chosen until the coordinator chooses: a tired click on "Reassign" moves nothing.
    return [SelectChoice("", "Choose who should have it…")] + [
        SelectChoice(option.staff.id, option.label)
        for option in services.assignable_staff(case, peer_support=peer_support)
    ]


def _referral_context(viewer: StaffUser, case_id: str) -> dict[str, object]:
    if viewer.role != COORDINATOR:
        return {"referral_status_names": REFERRAL_STATUS_NAMES}
    directory = counsel_directory()
    refer_form = ReferForm(prefix="refer")
    refer_form.counsel_id.choices = [SelectChoice(c.user.id, c.label) for c in directory]
    names = {c.user.id: c.label for c in directory}
    cases_referrals = referrals.referrals_for_case(case_id)
    for referral in cases_referrals:
        if referral.counsel_id not in names:
            person = staff_directory().get(referral.counsel_id)
            names[referral.counsel_id] = person.label if person else "former counsel"
    return {
        "referrals": cases_referrals,
        "refer_form": refer_form,
        "counsel_names": names,
        "referral_status_names": REFERRAL_STATUS_NAMES,
        "referral_open_states": OPEN_TO_COUNSEL,
        "referral_reason": referrals.reason_label,
    }


def _render_case(case_id: str, status: int = 200, **forms: object) -> tuple[str, int]:
    viewer = signed_in_staff()
    case = visible_case(viewer, case_id)
    view = services.view_case(viewer, case)
    assign_form = AssignForm(prefix="assign")
    # Only coordinators reassign, and the list (who fits, and why the others do not, read from
    # every responder's caseload) is looked up only when they ask for it: most views are to read.
    reassigning = viewer.role == COORDINATOR and request.args.get("reassign") == "1"
    assign_form.staff_id.choices = (
        _assignee_choices(case, peer_support=view.consent["peer_support"]) if reassigning else []
    )
    status_form = StatusForm(prefix="status")
    next_statuses = [s for s in TRANSITIONS.get(case.status, ()) if s != "referred" or view.can_refer]
    status_form.status.choices = [SelectChoice("", "Choose…")] + [
        SelectChoice(s, STATUS_NAMES[s]) for s in next_statuses
    ]
    if not next_statuses:
        status_form.status.choices = []
    context = {
        **_referral_context(viewer, case.id),
        "message_form": StaffMessageForm(prefix="message"),
        "note_form": NoteForm(prefix="note"),
        "status_form": status_form,
        "assign_form": assign_form,
        "excluded_count": exclusion_count(case.id) if viewer.role == COORDINATOR else 0,
        # Only imminent danger (L0) is paged.
        "pages": page_history(case.id) if viewer.role == COORDINATOR and case.level == 0 else [],
        "action": ActionForm(),
        **forms,
    }
    return render_template("cases/case.html", view=view, viewer=viewer, now=utcnow(), **context), status


@blueprint.get("/<case_id>")
@allow(RESPONDER, COORDINATOR)
def case(case_id: str) -> tuple[str, int]:
    return _render_case(case_id)


def _back(case_id: str, anchor: str = "") -> Response:
    return redirect(url_for("cases.case", case_id=case_id, _anchor=anchor or None), 303)


@blueprint.post("/<case_id>/acknowledge")
@allow(RESPONDER, COORDINATOR)
def acknowledge(case_id: str) -> Response:
    case = visible_case(signed_in_staff(), case_id)
    if ActionForm().validate_on_submit():
        try:
            services.acknowledge(signed_in_staff(), case)
        except services.CaseActionError as error:
            flash(str(error), "error")
            return redirect(url_for("cases.queue"), 303)  # the case may no longer be theirs
        flash("Acknowledged. The reporter sees that someone has read their report.", "success")
    return _back(case_id)


@blueprint.post("/<case_id>/claim")
@allow(COORDINATOR)
def claim(case_id: str) -> Response:
    case = visible_case(signed_in_staff(), case_id)
    if ActionForm().validate_on_submit():
        services.assign(signed_in_staff(), case, signed_in_staff().id)
        flash("The case is yours.", "success")
    return _back(case_id)


@blueprint.post("/<case_id>/assign")
@allow(COORDINATOR)
def assign(case_id: str) -> Response:
    case = visible_case(signed_in_staff(), case_id)
    form = AssignForm(prefix="assign")
    form.staff_id.choices = _assignee_choices(case, peer_support=current_consent(case.id)["peer_support"])
    if form.validate_on_submit() and not form.staff_id.data:
        flash("Choose who should have the case, then press Reassign.", "error")
    elif form.validate_on_submit():
        try:
            services.assign(signed_in_staff(), case, form.staff_id.data)
            flash("Reassigned.", "success")
        except services.CaseActionError as error:
            flash(str(error), "error")
    return _back(case_id)


@blueprint.post("/<case_id>/status")
@allow(RESPONDER, COORDINATOR)
def change_status(case_id: str) -> Response:
    case = visible_case(signed_in_staff(), case_id)
    form = StatusForm(prefix="status")
    if form.validate_on_submit():
        try:
            services.change_status(signed_in_staff(), case, form.status.data, reason=form.reason.data or "")
            flash(f"Status: {STATUS_NAMES[form.status.data]}.", "success")
        except services.CaseActionError as error:
            flash(str(error), "error")
    else:
        flash("Choose the new status first.", "error")
    return _back(case_id)


@blueprint.post("/<case_id>/important")
@allow(RESPONDER, COORDINATOR)
def important(case_id: str) -> Response:
    case = visible_case(signed_in_staff(), case_id)
    if ActionForm().validate_on_submit():
        services.set_important(signed_in_staff(), case, not case.important)
    return _back(case_id)


@blueprint.post("/<case_id>/note")
@allow(RESPONDER, COORDINATOR)
def note(case_id: str) -> Response | tuple[str, int]:
    case = visible_case(signed_in_staff(), case_id)
    form = NoteForm(prefix="note")
    if not form.validate_on_submit():
        return _render_case(case_id, 400, note_form=form)
    services.add_note(signed_in_staff(), case, form.note.data)
    flash("Note added.", "success")
    return _back(case_id, "notes")


@blueprint.post("/<case_id>/message")
@allow(RESPONDER, COORDINATOR)
def message(case_id: str) -> Response | tuple[str, int]:
    case = visible_case(signed_in_staff(), case_id)
    form = StaffMessageForm(prefix="message")
    if not form.validate_on_submit():
        return _render_case(case_id, 400, message_form=form)
    try:
        services.message_reporter(signed_in_staff(), case, form.body.data)
    except services.CaseActionError as error:
        flash(str(error), "error")
        return _back(case_id)
    flash("Sent. The reporter will see it when they check with their receipt.", "success")
    return _back(case_id, "conversation")


@blueprint.app_context_processor
def _case_labels() -> dict[str, object]:
    from app import vocabulary as v
    from app.cases.consent import PURPOSES

    return {
        "status_names": v.STATUS_NAMES,
        "close_reasons": v.CLOSE_REASONS,
        "filed_despite": v.FILED_DESPITE,
        "categories": v.CATEGORIES,
        "kinds": v.KINDS,
        "county_label": lambda code: v.COUNTIES.get(code, code),
        "perpetrator_label": lambda code: v.PERPETRATORS.get(code, code),
        "setting_label": lambda code: v.SETTINGS.get(code, code),
        "when_label": lambda code: v.WHEN.get(code, code),
        "purpose_label": lambda code: PURPOSES.get(code, code),
        "answer_label": lambda code: {"yes": "Yes", "no": "No", "unsure": "Not sure"}.get(code, "Not answered"),
        "level_legend": _level_legend(),
    }


def _level_legend() -> list[str]:
    hours = current_settings().triage.ack_hours
    meanings = ("danger now", "recent assault, injury or coercion", "serious", "routine or record only")
    legend = [f"{meaning} ({h} h" for meaning, h in zip(meanings, hours, strict=True)]
    # A support request that triage leaves routine has a target of its own.
    legend[-1] += f"; a support request {ack_hours(3, SUPPORT)} h"
    return [f"{text})" for text in legend]
