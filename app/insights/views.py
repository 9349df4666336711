"""``/insights``: the dashboard, and the same figures as CSV and as a one-page PDF."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.access import COORDINATOR, allow
from app.cases.tallies import SUPPORT_QUESTIONS
from app.insights import export, figures, page
from app.insights.keeping import figures_of
from app.insights.period import Period, month_choices, period_from
from app.signals import announce
from app.staff.sessions import recently_authenticated, signed_in_staff

blueprint = Blueprint("insights", __name__, url_prefix="/insights")


def _period() -> tuple[Period, str | None]:
    return period_from(request.args.get("from"), request.args.get("to"))


@blueprint.get("")
@allow(COORDINATOR)
def dashboard() -> str:
    period, problem = _period()
    if problem:
        flash(problem, "info")
    view = figures_of(period)
    return render_template(
        "insights/dashboard.html",
        view=view,
        charts=page.chart_urls(view),
        levels=page.level_rows(view),
        support_levels=page.level_rows(view, "support"),
        support_questions=SUPPORT_QUESTIONS,
        support_titles=figures.SUPPORT_TITLES,
        rows=page.rows,
        referral_rows=page.referral_rows,
        month_name=page.month_name,
        duration=page.duration,
        share=page.share,
        months=month_choices(),
        sections=figures.SECTIONS,
        titles=figures.TITLES,
        query={"from": view.period.months[0], "to": view.period.months[-1]},
    )


def _exported(kind: str, period: Period) -> None:
    viewer = signed_in_staff()
    announce(
        "export_made",
        actor=viewer.id,
        role=viewer.role,
        kind=kind,
        first=period.months[0],
        last=period.months[-1],
    )


def _needs_reauth() -> Response | None:
    if recently_authenticated():
        return None
    flash("To download the figures, please confirm it is you.", "info")
    return redirect(url_for("staff.reauth", next=request.full_path), 303)


@blueprint.get("/figures.csv")
@allow(COORDINATOR)
def figures_csv() -> Response:
    """The period is in the URL: months only, nothing secret."""
    period, _ = _period()
    if (answer := _needs_reauth()) is not None:
        return answer
    view = figures_of(period)
    _exported("figures_csv", period)
    response = Response(export.figures_csv(view), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{_name(period)}.csv"'
    return response


@blueprint.get("/summary.pdf")
@allow(COORDINATOR)
def summary_pdf() -> Response:
    period, _ = _period()
    if (answer := _needs_reauth()) is not None:
        return answer
    view = figures_of(period)
    _exported("figures_pdf", period)
    response = Response(export.summary_pdf(view, made=view.made_at), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{_name(period)}.pdf"'
    return response


def _name(period: Period) -> str:
    return f"confide-figures-{period.months[0]}-to-{period.months[-1]}"
