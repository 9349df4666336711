"""The audit viewer, for coordinators: who did what, to which case, when; and the chain check.

The filters are in the URL (a staff id, an action's code, the start of a case's id, dates):
nothing secret. Opening the log is itself recorded (``audit_viewed``, one entry per page
shown, with the filters), and so is every chain check (``audit_verified``).

The chain check runs in the request: it is `flask audit verify`, which reads every entry and
recomputes its HMAC link, about 28,000 entries a second on PostgreSQL (50,000 entries took
1.8 s). A log larger than ``CHECK_IN_PAGE_MOST`` entries (some 11 seconds) would keep the
page waiting near gunicorn's 30-second limit, so the page then runs nothing, says so, and
points to `flask audit verify` on the server, which has no such limit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from app.access import COORDINATOR, allow
from app.audit.browse import AuditFilters, AuditPage, action_label, audit_page, check_chain, describe
from app.audit.models import AuditEntry
from app.cases.exclusions import cases_excluding
from app.cases.references import reference_range
from app.config import current_settings
from app.extensions import db, limiter
from app.signals import NAMES, announce
from app.staff.forms import ActionForm
from app.staff.services import staff_directory
from app.staff.sessions import signed_in_staff

blueprint = Blueprint("audit_log", __name__, url_prefix="/staff/audit")

# Who acts without an account.
ROLES_WITHOUT_ACCOUNT = {"reporter": "the reporter (with a receipt)", "system": "the system", "operator": "an operator"}
CHECK_IN_PAGE_MOST = 300_000


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filters() -> tuple[AuditFilters, dict[str, str], list[str]]:
    """The filters in the URL, what the form shows back, and what could not be understood."""
    args = request.args
    shown = {name: args.get(name, "").strip()[:40] for name in ("person", "action", "case", "since", "until")}
    problems = []
    person = shown["person"]
    actor_id = person if person in staff_directory() else None
    actor_role = person.removeprefix("role:") if person.removeprefix("role:") in ROLES_WITHOUT_ACCOUNT else None
    case_range = reference_range(shown["case"]) if shown["case"] else None
    if shown["case"] and case_range is None:
        problems.append("The case is its reference: at least 4 of its letters and digits, like #1a2b3c4d.")
    zone = ZoneInfo(current_settings().display_timezone)
    since, until = _day(shown["since"]), _day(shown["until"])
    for name, day in (("since", since), ("until", until)):
        if shown[name] and day is None:
            problems.append(f"The date “{shown[name]}” is not a date (YYYY-MM-DD).")
    filters = AuditFilters(
        actor_id=actor_id,
        actor_role=actor_role,
        action=shown["action"] if shown["action"] in NAMES else None,
        case_range=case_range,
        since=datetime.combine(since, time.min, tzinfo=zone).astimezone(UTC) if since else None,
        # Through the end of the day named.
        until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC) if until else None,
    )
    return filters, shown, problems


@blueprint.get("")
@allow(COORDINATOR)
def index() -> tuple[str, int]:
    viewer = signed_in_staff()
    filters, shown, problems = _filters()
    before = request.args.get("before", "")
    # A filter that could not be read shows nothing, rather than the whole log under it.
    page = (
        AuditPage([], None)
        if problems
        else audit_page(
            filters,
            int(before) if before.isdigit() and len(before) < 12 else None,
            hidden_cases=cases_excluding(viewer.id),
        )
    )
    announce("audit_viewed", actor=viewer.id, role=viewer.role, **filters.as_detail(), before=before or None)
    directory = staff_directory()
    names = {staff_id: person.label for staff_id, person in directory.items()}
    people = sorted(directory.values(), key=lambda p: (p.role, p.display_name.lower()))
    chosen: dict[str, Any] = {name: value for name, value in shown.items() if value}
    return render_template(
        "staff/audit.html",
        page=page,
        shown=shown,
        problems=problems,
        people=people,
        roles_without_account=ROLES_WITHOUT_ACCOUNT,
        actions=sorted(NAMES),
        action_label=action_label,
        describe=lambda entry: describe(entry.detail, names),
        who=lambda entry: (
            names.get(entry.actor_id, "a former account")
            if entry.actor_id
            else ROLES_WITHOUT_ACCOUNT.get(entry.actor_role, entry.actor_role)
        ),
        older_url=url_for("audit_log.index", **chosen, before=page.older) if page.older else None,
        newest_url=url_for("audit_log.index", **chosen) if before else None,
        action=ActionForm(),
    ), 400 if problems else 200


@blueprint.post("/verify")
@allow(COORDINATOR)
@limiter.limit("10 per hour")  # each check reads the whole log
def verify_chain() -> Response:
    viewer = signed_in_staff()
    if not ActionForm().validate_on_submit():
        return redirect(url_for("audit_log.index"), 303)
    size = db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    if size > CHECK_IN_PAGE_MOST:
        flash(
            f"The log has {size:,} entries, too many to check while the page waits. "
            "Run `flask audit verify` on the server; it checks the same and says the same.",
            "error",
        )
        return redirect(url_for("audit_log.index"), 303)
    check = check_chain()
    problem = check.problem
    announce(
        "audit_verified",
        actor=viewer.id,
        role=viewer.role,
        intact=problem is None,
        checked=check.entries,
        broken_at=problem.entry_id if problem else None,
    )
    if problem is None:
        flash(f"Audit log intact: {check.entries:,} entries, every link verified ({check.seconds:.1f} s).", "success")
    else:
        where = f" at entry {problem.entry_id}" if problem.entry_id is not None else ""
        flash(f"Audit log BROKEN{where}: {problem.reason}.", "error")
    return redirect(url_for("audit_log.index"), 303)
