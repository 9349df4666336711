"""The library's staff pages (English): counsel and coordinators write drafts and preview them
as the public will see them; coordinators publish, withdraw, and say which reports an article
is offered after. Responders and reporters have no page here."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.access import COORDINATOR, COUNSEL, allow
from app.config import current_settings
from app.i18n import in_language
from app.rights import library, reading
from app.rights.forms import MatchesForm, NewArticleForm, VersionForm
from app.rights.models import Article, ArticleVersion
from app.rights.topics import match_choices
from app.staff.forms import ActionForm
from app.staff.services import staff_directory
from app.staff.sessions import signed_in_staff

blueprint = Blueprint("rights_staff", __name__, url_prefix="/staff/rights")
WRITERS = (COUNSEL, COORDINATOR)


def _draft(form: VersionForm) -> library.Draft:
    return library.Draft(
        language=form.language.data,
        title=form.title.data or "",
        summary=form.summary.data or "",
        body=form.body.data or "",
        reviewed_on=form.reviewed_on.data or date.today(),
    )


def _article_or_404(article_id: str) -> Article:
    article = library.find_article(article_id)
    if article is None:
        abort(404)
    return article


def _version_or_404(version_id: int) -> ArticleVersion:
    version = library.find_version(version_id)
    if version is None:
        abort(404)
    return version


@blueprint.get("")
@allow(*WRITERS)
def index() -> str:
    return _render_index(NewArticleForm(data={"language": "en", "reviewed_on": date.today()}))[0]


def _render_index(form: NewArticleForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "rights/staff_index.html",
        articles=library.all_articles(),
        form=form,
        languages=current_settings().languages,
    ), status


@blueprint.post("/new")
@allow(*WRITERS)
def new_article() -> Response | tuple[str, int]:
    form = NewArticleForm()
    if form.validate_on_submit():
        try:
            version = library.start_article(
                form.slug.data, form.shown_after.data or (), _draft(form), by=signed_in_staff()
            )
        except library.LibraryError as error:
            form.slug.errors = [str(error)]
        else:
            flash("Saved as a draft. Preview it below; a coordinator publishes it.", "success")
            return redirect(url_for("rights_staff.preview", version_id=version.id), 303)
    return _render_index(form, 400)


def _version_form(article: Article) -> VersionForm:
    """The new-version form, filled in from the version asked for (?from=), or else from the
    newest in English, or the newest of all: an edit starts from what is there."""
    versions = article.versions
    start = next((v for v in versions if str(v.id) == request.args.get("from", "")), None)
    start = start or next((v for v in versions if v.language == "en"), None) or (versions[0] if versions else None)
    data: dict[str, object] = {"language": "en", "reviewed_on": date.today()}
    if start is not None:
        data |= {"language": start.language, "title": start.title, "summary": start.summary, "body": start.body}
    return VersionForm(data=data)


def _render_article(
    article: Article, form: VersionForm | None = None, matches: MatchesForm | None = None, status: int = 200
) -> tuple[str, int]:
    labels = dict(match_choices())
    return render_template(
        "rights/staff_article.html",
        article=article,
        form=form or _version_form(article),
        matches_form=matches or MatchesForm(data={"shown_after": article.matches}),
        match_labels=[labels[code] for code in article.matches if code in labels],
        action=ActionForm(),
        names=staff_directory(),
        language_names=current_settings().language_names,
    ), status


@blueprint.get("/<article_id>")
@allow(*WRITERS)
def article(article_id: str) -> tuple[str, int]:
    return _render_article(_article_or_404(article_id))


@blueprint.post("/<article_id>/versions")
@allow(*WRITERS)
def new_version(article_id: str) -> Response | tuple[str, int]:
    article = _article_or_404(article_id)
    form = VersionForm()
    if form.validate_on_submit():
        try:
            version = library.add_version(article, _draft(form), by=signed_in_staff())
        except library.LibraryError as error:
            form.body.errors = [str(error)]
        else:
            flash(f"Saved as version {version.number}, a draft. What the public reads has not changed.", "success")
            return redirect(url_for("rights_staff.preview", version_id=version.id), 303)
    return _render_article(article, form=form, status=400)


@blueprint.post("/<article_id>/matches")
@allow(COORDINATOR)
def matches(article_id: str) -> Response | tuple[str, int]:
    article = _article_or_404(article_id)
    form = MatchesForm()
    if not form.validate_on_submit():
        return _render_article(article, matches=form, status=400)
    changed = library.change_matches(article, form.shown_after.data or (), by=signed_in_staff())
    flash("Saved: reports of these kinds now link it." if changed else "Nothing changed.", "success")
    return redirect(url_for("rights_staff.article", article_id=article.id), 303)


@blueprint.get("/versions/<int:version_id>")
@allow(*WRITERS)
def preview(version_id: int) -> str:
    version = _version_or_404(version_id)
    article = version.article
    # Rendered in the version's own language, exactly as a reader of that language is shown it.
    with in_language(version.language):
        shown = render_template(
            "rights/_article.html", article=reading.as_reading(version, article.slug, version.language)
        )
    return render_template(
        "rights/staff_preview.html",
        version=version,
        article=article,
        shown=Markup(shown),  # noqa: S704  (the template's own output, the body sanitised within)
        action=ActionForm(),
        names=staff_directory(),
        language_names=current_settings().language_names,
    )


@blueprint.post("/versions/<int:version_id>/publish")
@allow(COORDINATOR)
def publish(version_id: int) -> Response:
    version = _version_or_404(version_id)
    if ActionForm().validate_on_submit():
        if library.publish(version, by=signed_in_staff()):
            flash(f"Published: readers now see version {version.number} at /rights/{version.article.slug}.", "success")
        else:
            flash("That version was already published.", "info")
    return redirect(url_for("rights_staff.preview", version_id=version.id), 303)


@blueprint.post("/versions/<int:version_id>/unpublish")
@allow(COORDINATOR)
def unpublish(version_id: int) -> Response:
    version = _version_or_404(version_id)
    if ActionForm().validate_on_submit():
        if library.unpublish(version, by=signed_in_staff()):
            flash("Withdrawn: the public no longer sees it in this language.", "success")
        else:
            flash("That version was not published.", "info")
    return redirect(url_for("rights_staff.preview", version_id=version.id), 303)
