"""The public library: /rights and /rights/<slug>, for anyone, with no account and no script.

Nothing about a reader is kept: no audit entry, no log line, no count (the access gate and the
security headers are the site's own: strict CSP, no-store, no referrer)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from app.access import PUBLIC, allow
from app.i18n import current_language
from app.rights import reading
from app.rights.library import SLUG_RE

blueprint = Blueprint("rights", __name__)


@blueprint.get("/rights")
@allow(PUBLIC)
def index() -> str:
    return render_template("rights/index.html", articles=reading.library(current_language()))


@blueprint.get("/rights/<slug>")
@allow(PUBLIC)
def article(slug: str) -> str:
    found = reading.article(slug, current_language()) if SLUG_RE.match(slug) else None
    if found is None:
        abort(404)
    return render_template("rights/article.html", article=found)
