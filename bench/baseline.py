"""A baseline for bench/intake.py, and nothing else.

``GET /bench/baseline`` shows a one-field form with a CSRF token; ``POST /bench/baseline``
validates it and answers a few bytes. Both pass through everything every request passes
through (session, CSRF, access check, locale, security headers) and nothing else: no
database, no Redis, no rate limit, no encryption. bench/intake.py compares report
submissions with this, in the same run.

The app bench/intake.py serves is ``bench.baseline:app_with_baseline()``: Confide's own,
with this one blueprint added. Nothing of it is in the app's package.
"""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import Length

from app import create_app
from app.access import PUBLIC, allow

blueprint = Blueprint("bench", __name__, url_prefix="/bench")


class BaselineForm(FlaskForm):
    note = StringField("Note", validators=[Length(max=200)])


def _page(form: BaselineForm) -> str:
    return str(
        Markup(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Baseline</title>'
            '</head><body><form method="post" action="/bench/baseline">{}{}{}'
            "<button>Send</button></form></body></html>"
        ).format(form.csrf_token(), form.note.label(), form.note())
    )


@blueprint.get("/baseline")
@allow(PUBLIC)
def baseline_form() -> str:
    return _page(BaselineForm())


@blueprint.post("/baseline")
@allow(PUBLIC)
def baseline_submit() -> tuple[str, int]:
    form = BaselineForm()
    if not form.validate_on_submit():
        return "invalid\n", 400
    return "ok\n", 200


def app_with_baseline() -> Flask:
    app = create_app()
    app.register_blueprint(blueprint)
    return app
