""" "Delete my report": the reporter deletes her report (or support request) and the conversation
now, from /status, after a page that says plainly what goes and what stays.

The deletion is the retention policy's own crypto-shredding (``retention.shredding``): open
referrals are revoked first and counsel told to destroy their copies; a count in the program's
statistics stays, no words. A case on legal hold is not deleted: she is told why, in plain
words. Once it is done she is signed out (her receipt opens nothing any more) and thanked.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.access import REPORTER, allow
from app.cases.models import Case
from app.extensions import db
from app.intake.forms import DeleteReportForm
from app.intake.sessions import end_reporter_session, reporter_case_id
from app.intake.views import blueprint
from app.retention.shredding import REPORTER as BY_REPORTER
from app.retention.shredding import CaseHeld, shred_case
from app.vocabulary import SUPPORT

HELD = _l(
    "We cannot delete your report right now, because the law requires us to keep it for the time "
    "being (for example, because of a court case). Nothing has been deleted, and nobody sees it "
    "who could not see it before. Once we no longer have to keep it, you can delete it here."
)


def _page(case: Case, form: DeleteReportForm, status: int = 200) -> tuple[str, int]:
    return (
        render_template(
            "intake/status_delete.html",
            form=form,
            support=case.kind == SUPPORT,
            held=case.hold_reason is not None,
            held_words=HELD,
        ),
        status,
    )


@blueprint.route("/status/delete", methods=["GET", "POST"])
@allow(REPORTER)
def status_delete() -> tuple[str, int] | Response:
    case = db.get_or_404(Case, reporter_case_id() or "")
    form = DeleteReportForm()
    if not form.is_submitted() or case.hold_reason is not None:
        return _page(case, form, 409 if form.is_submitted() else 200)
    if not form.validate_on_submit():
        return _page(case, form, 400)
    support = case.kind == SUPPORT
    try:
        shred_case(case.id, reason=BY_REPORTER)
    except CaseHeld:  # a coordinator put it on hold while she read the page
        db.session.expire_all()
        return _page(case, form, 409)
    end_reporter_session()
    return render_template("intake/status_deleted.html", support=support), 200
