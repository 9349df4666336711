"""Who may see a case, decided here once: coordinators see every case but one whose reporter
kept them away, responders the cases assigned to them, counsel none. Anything else is answered
as if the case did not exist (404), and the attempt is audited.
"""

from __future__ import annotations

from flask import abort

from app.access import COORDINATOR, RESPONDER
from app.cases.exclusions import is_excluded
from app.cases.models import Case
from app.extensions import db
from app.signals import announce
from app.staff.models import StaffUser


def visible_case(viewer: StaffUser, case_id: str) -> Case:
    """The case if ``viewer`` may see it; otherwise 404, audited."""
    case = db.session.get(Case, case_id) if len(case_id) <= 36 else None
    allowed = case is not None and (
        # A coordinator the reporter named is kept away too; the other coordinators have it.
        (viewer.role == COORDINATOR and not is_excluded(case.id, viewer.id))
        or (viewer.role == RESPONDER and case.assigned_to_id == viewer.id)
    )
    if case is None or not allowed:
        announce(
            "access_denied",
            actor=viewer.id,
            role=viewer.role,
            case_id=case.id if case else None,
            exists=case is not None,
        )
        abort(404)
    return case
